/*
 * nn_host.h - helpers for hosted (POSIX) systems, apart from the pure-math
 * runtime: libonnxcc_host.a. Firmware does not link it.
 */
#ifndef NN_HOST_H
#define NN_HOST_H

#include <stddef.h>

/*
 * Writes len bytes to path atomically: into "path.tmp" first, fsync, then
 * rename over path and fsync the folder, so a crash leaves either the old
 * file or the new one, never half of one. Returns 0, or -1 with errno set.
 */
int nn_write_file_atomic(const char *path, const void *data, size_t len);

/* Reads at most cap bytes of path into buf; returns the size, or -1 (errno). */
long nn_read_file(const char *path, void *buf, size_t cap);

#endif /* NN_HOST_H */
