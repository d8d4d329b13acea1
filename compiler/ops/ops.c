/*
 * ops.c - the operator registry: ops.def, expanded into one table.
 *
 * Adding an operator adds its line to ops.def; nothing here changes.
 * Only the default ONNX domain ("" or "ai.onnx") is supported.
 */
#include "compiler.h"

#include <string.h>

#define OP(NAME) extern const OpDef op_##NAME;
#include "ops.def"
#undef OP

static const OpDef *const all_ops[] = {
#define OP(NAME) &op_##NAME,
#include "ops.def"
#undef OP
};

const OpDef *ops_find(const char *domain, const char *op_type)
{
  if (domain && *domain && strcmp(domain, "ai.onnx"))
    return NULL;
  for (size_t i = 0; i < sizeof all_ops / sizeof all_ops[0]; i++)
    if (!strcmp(all_ops[i]->name, op_type))
      return all_ops[i];
  return NULL;
}
