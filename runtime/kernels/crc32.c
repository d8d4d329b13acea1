/*
 * crc32.c - CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the
 * checksum of zlib and PNG, for checkpoints. Bitwise, without a table:
 * checkpoints are written rarely and a table would cost 1 KiB of flash.
 */
#include "nn.h"

uint32_t nn_crc32(uint32_t crc, const void *data, size_t len)
{
  const unsigned char *p = data;
  crc = ~crc;
  for (size_t i = 0; i < len; i++) {
    crc ^= p[i];
    for (int bit = 0; bit < 8; bit++)
      crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}
