/*
 * test_checkpoint.c - checkpoint save/load: a round trip restores every
 * tensor and the step count; a checkpoint of another model, a truncated,
 * a corrupted or a foreign one is refused with its code and leaves the
 * tensors untouched. CRC-32 against the standard check value.
 */
#include "test.h"

#include <string.h>

#include "nn.h"

static float w[5] = {1, 2, 3, 4, 5}, m[5] = {0.5f, 0.25f, -1, -2, 8}, bias[2] = {-7, 7};

static const nn_ckpt_tensor tensors[3] = {
    {"fc.weight", 0, w, 5}, {"m_fc.weight", 1, m, 5}, {"fc.bias", 0, bias, 2}};

static void test_crc32_matches_check_value(void **state)
{
  (void)state;
  assert_int_equal(nn_crc32(0, "123456789", 9), 0xCBF43926u);
  assert_int_equal(nn_crc32(nn_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
  assert_int_equal(nn_crc32(0, "", 0), 0);
}

static void test_checkpoint_round_trip(void **state)
{
  (void)state;
  unsigned char buf[512];
  long size = nn_ckpt_save(buf, sizeof buf, 0x1234u, 17, tensors, 3);
  assert_int_equal(size, (long)nn_ckpt_size(tensors, 3));
  // 8 magic + 16 header + 3 x 12 + names (9 + 11 + 7) + 12 floats x 4 + 4 CRC
  assert_int_equal(size, 8 + 16 + 36 + 27 + 48 + 4);
  float w0[5], m0[5], b0[2];
  memcpy(w0, w, sizeof w);
  memcpy(m0, m, sizeof m);
  memcpy(b0, bias, sizeof bias);
  memset(w, 0, sizeof w);
  memset(m, 0, sizeof m);
  memset(bias, 0, sizeof bias);
  uint32_t steps = 0;
  assert_int_equal(nn_ckpt_load(buf, (size_t)size, 0x1234u, &steps, tensors, 3), 0);
  assert_int_equal(steps, 17);
  assert_memory_equal(w, w0, sizeof w);
  assert_memory_equal(m, m0, sizeof m);
  assert_memory_equal(bias, b0, sizeof bias);
}

// Every refusal keeps the tensors as they were.
static void expect_refused(const unsigned char *buf, size_t len, uint32_t fingerprint, int code)
{
  float w0[5];
  memcpy(w0, w, sizeof w);
  uint32_t steps = 99;
  assert_int_equal(nn_ckpt_load(buf, len, fingerprint, &steps, tensors, 3), code);
  assert_memory_equal(w, w0, sizeof w);
  assert_int_equal(steps, 99);
}

static void test_checkpoint_refusals(void **state)
{
  (void)state;
  unsigned char buf[512], copy[512];
  long size = nn_ckpt_save(buf, sizeof buf, 0x1234u, 3, tensors, 3);
  assert_int_equal(nn_ckpt_save(buf, (size_t)size - 1, 0x1234u, 3, tensors, 3), NN_CKPT_ETOOSMALL);
  size = nn_ckpt_save(buf, sizeof buf, 0x1234u, 3, tensors, 3);
  for (int i = 0; i < 5; i++) // the weights differ from what buf holds
    w[i] = 100.0f + (float)i;
  expect_refused(buf, (size_t)size, 0x9999u, NN_CKPT_EMODEL);
  expect_refused(buf, (size_t)size - 10, 0x1234u, NN_CKPT_ETRUNCATED);
  expect_refused(buf, 12, 0x1234u, NN_CKPT_ETRUNCATED);
  memcpy(copy, buf, (size_t)size);
  copy[50] ^= 0x10; // one bit inside the first tensor's floats
  expect_refused(copy, (size_t)size, 0x1234u, NN_CKPT_ECORRUPT);
  memcpy(copy, buf, (size_t)size);
  copy[0] = 'X';
  expect_refused(copy, (size_t)size, 0x1234u, NN_CKPT_EMAGIC);
  memcpy(copy, buf, (size_t)size);
  copy[8] = 2; // version 2
  expect_refused(copy, (size_t)size, 0x1234u, NN_CKPT_EVERSION);
  // Same fingerprint but a tensor of another size: still another model.
  nn_ckpt_tensor other[3] = {tensors[0], tensors[1], {"fc.bias", 0, bias, 1}};
  uint32_t steps;
  assert_int_equal(nn_ckpt_load(buf, (size_t)size, 0x1234u, &steps, other, 3), NN_CKPT_EMODEL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_crc32_matches_check_value),
      cmocka_unit_test(test_checkpoint_round_trip),
      cmocka_unit_test(test_checkpoint_refusals),
  };
  return cmocka_run_group_tests_name("checkpoint", tests, NULL, NULL);
}
