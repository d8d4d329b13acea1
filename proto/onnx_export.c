/*
 * onnx_export.c - `onnxcc export MODEL.onnx CHECKPOINT -o TUNED.onnx`.
 *
 * Writes the weights of a checkpoint (saved by NAME_save() of a model
 * compiled with --train) back into the ONNX model, by initializer name,
 * so the fine-tuned model runs in PyTorch or ONNX Runtime again. Training
 * never folds BatchNormalization into the weights, so every trainable
 * tensor is an initializer of the original model and nothing needs
 * unfolding. Optimizer state in the checkpoint is ignored. The checkpoint
 * is validated (magic, version, CRC, each tensor's size against its
 * initializer) before anything is written; the output is written to a
 * temporary file and renamed into place.
 */
#include "onnx_read.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"

static unsigned char *slurp(Diag *d, const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    diag_error(d, "cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  unsigned char *buf = xmalloc(cap);
  for (size_t got; (got = fread(buf + n, 1, cap - n, f)) > 0;) {
    n += got;
    if (n == cap)
      buf = xrealloc(buf, cap *= 2);
  }
  fclose(f);
  *len = n;
  return buf;
}

static uint32_t le32(const unsigned char *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static Onnx__TensorProto *find_initializer(Onnx__GraphProto *g, const char *name, size_t len)
{
  for (size_t i = 0; i < g->n_initializer; i++) {
    const char *n = g->initializer[i]->name;
    if (n && strlen(n) == len && !memcmp(n, name, len))
      return g->initializer[i];
  }
  return NULL;
}

// Replaces t's data with count little-endian floats from p.
static void set_float_data(Onnx__TensorProto *t, const unsigned char *p, uint32_t count)
{
  t->n_float_data = 0; // the data moves to raw_data; the unpacked arrays are freed with the message
  t->n_external_data = 0;
  t->has_data_location = 0;
  t->has_raw_data = 1;
  t->raw_data.len = 4 * (size_t)count;
  t->raw_data.data = (uint8_t *)p; // points into the checkpoint, alive until packing
}

int onnx_export_checkpoint(Diag *d, const char *model, const char *checkpoint,
                           const char *out_path)
{
  size_t mlen, clen;
  unsigned char *mbytes = slurp(d, model, &mlen);
  if (!mbytes)
    return -1;
  unsigned char *c = slurp(d, checkpoint, &clen);
  if (!c) {
    free(mbytes);
    return -1;
  }
  Onnx__ModelProto *mp = onnx_model_nesting_ok(mbytes, mlen)
                             ? onnx__model_proto__unpack(NULL, mlen, mbytes)
                             : NULL;
  int rc = -1;
  // Remember each initializer's own data to restore before freeing the message.
  Onnx__TensorProto **touched = NULL;
  ProtobufCBinaryData *saved = NULL;
  size_t *saved_floats = NULL;
  int ntouched = 0;
  if (!mp || !mp->graph) {
    diag_error(d, "%s: not an ONNX model", model);
    goto out;
  }
  if (clen < 28 || memcmp(c, "ONXCCKPT", 8) != 0) {
    diag_error(d, "%s: not an onnxcc checkpoint", checkpoint);
    goto out;
  }
  if (le32(c + 8) != (uint32_t)NN_CKPT_VERSION) {
    diag_error(d, "%s: checkpoint version %u, this onnxcc reads version %u", checkpoint,
               le32(c + 8), NN_CKPT_VERSION);
    goto out;
  }
  if (nn_crc32(0, c, clen - 4) != le32(c + clen - 4)) {
    diag_error(d, "%s: checkpoint is corrupted or truncated (CRC mismatch)", checkpoint);
    goto out;
  }
  uint32_t count = le32(c + 20);
  touched = xcalloc(count + 1, sizeof *touched);
  saved = xcalloc(count + 1, sizeof *saved);
  saved_floats = xcalloc(count + 1, sizeof *saved_floats);
  const unsigned char *p = c + 24, *end = c + clen - 4;
  for (uint32_t i = 0; i < count; i++) {
    if (end - p < 8 || (size_t)(end - p) < 12 + (size_t)le32(p + 4)) {
      diag_error(d, "%s: checkpoint tensor table is malformed", checkpoint);
      goto out;
    }
    uint32_t kind = le32(p), name_len = le32(p + 4);
    const char *name = (const char *)p + 8;
    uint32_t elems = le32(p + 8 + name_len);
    p += 12 + name_len;
    if ((size_t)(end - p) / 4 < elems) {
      diag_error(d, "%s: checkpoint tensor '%.*s' is truncated", checkpoint, (int)name_len, name);
      goto out;
    }
    if (kind == 0) {
      Onnx__TensorProto *t = find_initializer(mp->graph, name, name_len);
      if (!t) {
        diag_error(d, "%s: checkpoint weight '%.*s' is not an initializer of %s", checkpoint,
                   (int)name_len, name, model);
        goto out;
      }
      uint64_t want = 1;
      for (size_t k = 0; k < t->n_dims; k++)
        want *= (uint64_t)t->dims[k];
      if (t->data_type != 1 /* FLOAT */ || want != elems) {
        diag_error(d, "%s: checkpoint weight '%.*s' has %u floats, the initializer %llu %s",
                   checkpoint, (int)name_len, name, elems, (unsigned long long)want,
                   t->data_type == 1 ? "elements" : "non-float elements");
        goto out;
      }
      touched[ntouched] = t;
      saved[ntouched] = t->raw_data;
      saved_floats[ntouched++] = t->n_float_data;
      set_float_data(t, p, elems);
    }
    p += 4 * (size_t)elems;
  }
  if (p != end) {
    diag_error(d, "%s: checkpoint has trailing bytes", checkpoint);
    goto out;
  }
  size_t size = onnx__model_proto__get_packed_size(mp);
  unsigned char *packed = xmalloc(size);
  onnx__model_proto__pack(mp, packed);
  size_t tlen = strlen(out_path) + 8;
  char *tmp = xmalloc(tlen);
  snprintf(tmp, tlen, "%s.tmp", out_path);
  FILE *f = fopen(tmp, "wb");
  if (!f || fwrite(packed, 1, size, f) != size || fclose(f) != 0) {
    diag_error(d, "cannot write %s: %s", out_path, strerror(errno));
    if (f)
      fclose(f);
    remove(tmp);
  } else if (rename(tmp, out_path) != 0) {
    diag_error(d, "cannot rename %s to %s: %s", tmp, out_path, strerror(errno));
    remove(tmp);
  } else {
    rc = 0;
  }
  free(tmp);
  free(packed);
out:
  for (int i = 0; i < ntouched; i++) { // give the message back its own buffers
    touched[i]->raw_data = saved[i];
    touched[i]->n_float_data = saved_floats[i];
  }
  free(touched);
  free(saved);
  free(saved_floats);
  if (mp)
    onnx__model_proto__free_unpacked(mp, NULL);
  free(mbytes);
  free(c);
  return rc;
}
