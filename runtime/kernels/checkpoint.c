/*
 * checkpoint.c - serialising trained weights and optimizer state.
 *
 * A checkpoint is little-endian whatever the host, so it moves between
 * a device and a workstation (onnxcc export reads it):
 *   "ONXCCKPT"          8 bytes magic
 *   u32 version         1
 *   u32 fingerprint     of the model's trainable layout (names, sizes, optimizer)
 *   u32 steps           optimizer updates taken so far
 *   u32 count           tensors that follow
 *   per tensor:         u32 kind (0 weight, 1 optimizer state), u32 name length,
 *                       the name's bytes, u32 elements, the floats' IEEE-754 bits
 *   u32 crc32           of every byte before it
 * Loading validates all of it (size, magic, version, fingerprint, every
 * tensor's name and size, the CRC) before it writes a single weight, so a
 * refused checkpoint leaves the model untouched.
 */
#include "nn.h"

#include <string.h>

static const unsigned char magic[8] = {'O', 'N', 'X', 'C', 'C', 'K', 'P', 'T'};

static void put_u32(unsigned char *p, uint32_t v)
{
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16);
  p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

size_t nn_ckpt_size(const nn_ckpt_tensor *tensors, int count)
{
  size_t size = sizeof magic + 4 * 4 + 4; // header and CRC
  for (int i = 0; i < count; i++)
    size += 3 * 4 + strlen(tensors[i].name) + 4 * (size_t)tensors[i].count;
  return size;
}

long nn_ckpt_save(void *buf, size_t cap, uint32_t fingerprint, uint32_t steps,
                  const nn_ckpt_tensor *tensors, int count)
{
  size_t size = nn_ckpt_size(tensors, count);
  if (cap < size)
    return NN_CKPT_ETOOSMALL;
  unsigned char *p = buf;
  memcpy(p, magic, sizeof magic);
  p += sizeof magic;
  put_u32(p, NN_CKPT_VERSION);
  put_u32(p + 4, fingerprint);
  put_u32(p + 8, steps);
  put_u32(p + 12, (uint32_t)count);
  p += 16;
  for (int i = 0; i < count; i++) {
    size_t len = strlen(tensors[i].name);
    put_u32(p, (uint32_t)tensors[i].kind);
    put_u32(p + 4, (uint32_t)len);
    memcpy(p + 8, tensors[i].name, len);
    p += 8 + len;
    put_u32(p, (uint32_t)tensors[i].count);
    p += 4;
    for (int k = 0; k < tensors[i].count; k++, p += 4) {
      uint32_t bits;
      memcpy(&bits, &tensors[i].data[k], 4);
      put_u32(p, bits);
    }
  }
  put_u32(p, nn_crc32(0, buf, (size_t)(p - (unsigned char *)buf)));
  return (long)size;
}

int nn_ckpt_load(const void *buf, size_t len, uint32_t fingerprint, uint32_t *steps,
                 const nn_ckpt_tensor *tensors, int count)
{
  const unsigned char *p = buf, *end = p + len;
  size_t size = nn_ckpt_size(tensors, count);
  if (len < sizeof magic + 4)
    return NN_CKPT_ETRUNCATED;
  if (memcmp(p, magic, sizeof magic) != 0)
    return NN_CKPT_EMAGIC;
  if (get_u32(p + 8) != NN_CKPT_VERSION)
    return NN_CKPT_EVERSION;
  if (len < sizeof magic + 16)
    return NN_CKPT_ETRUNCATED;
  if (get_u32(p + 12) != fingerprint || get_u32(p + 20) != (uint32_t)count)
    return NN_CKPT_EMODEL;
  // The layout must be this model's, tensor by tensor, read within bounds.
  const unsigned char *q = p + sizeof magic + 16;
  for (int i = 0; i < count; i++) {
    size_t name_len = strlen(tensors[i].name);
    if ((size_t)(end - q) < 12 + name_len)
      return NN_CKPT_ETRUNCATED;
    if (get_u32(q) != (uint32_t)tensors[i].kind || get_u32(q + 4) != name_len ||
        memcmp(q + 8, tensors[i].name, name_len) != 0 ||
        get_u32(q + 8 + name_len) != (uint32_t)tensors[i].count)
      return NN_CKPT_EMODEL;
    q += 12 + name_len;
    if ((size_t)(end - q) / 4 < (size_t)tensors[i].count)
      return NN_CKPT_ETRUNCATED;
    q += 4 * (size_t)tensors[i].count;
  }
  if (len < size)
    return NN_CKPT_ETRUNCATED;
  if (len > size || nn_crc32(0, p, size - 4) != get_u32(p + size - 4))
    return NN_CKPT_ECORRUPT;
  // Valid: now copy.
  q = p + sizeof magic + 16;
  for (int i = 0; i < count; i++) {
    q += 12 + strlen(tensors[i].name);
    for (int k = 0; k < tensors[i].count; k++, q += 4) {
      uint32_t bits = get_u32(q);
      memcpy(&tensors[i].data[k], &bits, 4);
    }
  }
  *steps = get_u32(p + 16);
  return 0;
}
