/*
 * test_host.c - the host file helpers: an atomic write replaces the file
 * whole and leaves no temporary behind; a failed one leaves the old file.
 */
#include "test.h"

#include <string.h>
#include <sys/stat.h>

#include "nn_host.h"

#define PATH "build/tests/runtime/host_ckpt.bin"

static void test_write_file_atomic_replaces_whole_file(void **state)
{
  (void)state;
  char buf[64];
  assert_int_equal(nn_write_file_atomic(PATH, "first version", 13), 0);
  assert_int_equal(nn_write_file_atomic(PATH, "second", 6), 0);
  assert_int_equal(nn_read_file(PATH, buf, sizeof buf), 6);
  assert_memory_equal(buf, "second", 6);
  struct stat st;
  assert_int_not_equal(stat(PATH ".tmp", &st), 0); // no temporary left
}

static void test_write_file_atomic_failure_keeps_old_file(void **state)
{
  (void)state;
  char buf[64];
  assert_int_equal(nn_write_file_atomic(PATH, "kept", 4), 0);
  assert_int_equal(nn_write_file_atomic("build/no/such/folder/ckpt.bin", "x", 1), -1);
  assert_int_equal(nn_read_file(PATH, buf, sizeof buf), 4);
  assert_memory_equal(buf, "kept", 4);
  assert_int_equal(nn_read_file("build/no/such/file", buf, sizeof buf), -1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_write_file_atomic_replaces_whole_file),
      cmocka_unit_test(test_write_file_atomic_failure_keeps_old_file),
  };
  return cmocka_run_group_tests_name("host", tests, NULL, NULL);
}
