/*
 * nn_host.c - writing and reading checkpoint files on POSIX hosts. The
 * atomic write is the classic temporary file + fsync + rename + fsync of
 * the folder; it does not handle file systems without rename atomicity.
 */
#define _POSIX_C_SOURCE 200809L
#include "nn_host.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_all(int fd, const unsigned char *p, size_t len)
{
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static void sync_folder_of(const char *path)
{
  char dir[4096];
  const char *slash = strrchr(path, '/');
  size_t n = slash ? (size_t)(slash - path) : 0;
  if (n >= sizeof dir)
    return;
  memcpy(dir, slash ? path : ".", slash ? n : 1);
  dir[slash ? (n ? n : 1) : 1] = 0;
  int fd = open(dir, O_RDONLY);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

int nn_write_file_atomic(const char *path, const void *data, size_t len)
{
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 5);
  if (!tmp)
    return -1;
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp", 5);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int rc = -1;
  if (fd >= 0) {
    if (write_all(fd, data, len) == 0 && fsync(fd) == 0) {
      if (close(fd) == 0 && rename(tmp, path) == 0) {
        sync_folder_of(path);
        rc = 0;
      }
    } else {
      int saved = errno;
      close(fd);
      errno = saved;
    }
    if (rc != 0) {
      int saved = errno;
      unlink(tmp);
      errno = saved;
    }
  }
  free(tmp);
  return rc;
}

long nn_read_file(const char *path, void *buf, size_t cap)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return -1;
  size_t n = fread(buf, 1, cap, f);
  int err = ferror(f);
  fclose(f);
  if (err) {
    errno = EIO;
    return -1;
  }
  return (long)n;
}
