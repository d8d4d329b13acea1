/*
 * diag.c - diagnostics with model and node context.
 *
 * Messages are collected in one buffer, one per line, in a fixed shape:
 *   model.onnx: node 3 'conv1' (Conv): input 'W' has rank 3, expected 4
 * Nothing here prints or exits: main.c decides how to report, and tests
 * read the text back.
 */
#include "compiler.h"

#include <stdlib.h>
#include <string.h>

void diag_init(Diag *d, const char *file)
{
  memset(d, 0, sizeof *d);
  d->file = file;
}

void diag_free(Diag *d)
{
  free(d->text);
  d->text = NULL;
  d->len = d->cap = 0;
}

static void append(Diag *d, const char *fmt, va_list ap)
{
  for (;;) {
    va_list copy;
    va_copy(copy, ap);
    size_t room = d->cap - d->len;
    int n = vsnprintf(d->text ? d->text + d->len : NULL, room, fmt, copy);
    va_end(copy);
    if (n < 0)
      return;
    if ((size_t)n < room) {
      d->len += (size_t)n;
      return;
    }
    d->cap = (d->cap + (size_t)n + 1) * 2;
    d->text = xrealloc(d->text, d->cap);
  }
}

static void appendf(Diag *d, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  append(d, fmt, ap);
  va_end(ap);
}

void diag_error(Diag *d, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  appendf(d, "%s: ", d->file ? d->file : "onnxcc");
  append(d, fmt, ap);
  appendf(d, "\n");
  va_end(ap);
  d->errors++;
}

void diag_node(Diag *d, const Node *n, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  appendf(d, "%s: node %d '%s' (%s): ", d->file ? d->file : "onnxcc", n->index, n->name,
          n->op_type);
  append(d, fmt, ap);
  appendf(d, "\n");
  va_end(ap);
  d->errors++;
}

void diag_note(Diag *d, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  appendf(d, "  hint: ");
  append(d, fmt, ap);
  appendf(d, "\n");
  va_end(ap);
}
