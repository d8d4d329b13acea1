/*
 * peak.c - one core's clock, peak float32 FMA rate and read bandwidth, for
 * bench/run.py.
 *
 * Usage: peak [BYTES...]. Prints two lines, then one per argument:
 *   clock_ghz G        cycles per second, timed on a chain of dependent integer
 *                      adds (one cycle each on every x86 core since the P6); the
 *                      VM's "cpu MHz" is only the nominal TSC rate
 *   fma_gflops F W     the float32 rate of 16 independent FMA chains on W-float
 *                      vectors (W = 16 with AVX-512, 8 with AVX2/FMA), 2 flops
 *                      per lane: what one core does at best
 *   read_gbs B G       GB/s of summing a warm buffer of B bytes, again and
 *                      again, in 8 chains of W-float vector adds: the rate of
 *                      the cache level that holds B bytes, which bounds a
 *                      matrix-vector product reading B bytes of weights (2
 *                      flops per 4 bytes read) at G / 2 GFLOP/s
 * The peak bench/run.py states is W floats x FMA units x 2 flops x clock; this
 * measurement is the check that the FMA units really are there.
 * Build: cc -O2 -march=native bench/peak.c (FMA intrinsics: -std=c99 alone
 * turns off the contraction of a*b+c into an FMA).
 */
#define _POSIX_C_SOURCE 200112L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double clock_ghz(void)
{
  double best = 0;
  for (int rep = 0; rep < 5; rep++) {
    unsigned long x = 0, iters = 20000000;
    double t0 = now_s();
    for (unsigned long i = 0; i < iters; i++)
      __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                       "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                       "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                       "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
                       : "+r"(x));
    double ghz = 16.0 * (double)iters / (now_s() - t0) / 1e9;
    if (ghz > best)
      best = ghz;
  }
  return best;
}

#include <immintrin.h>
#if defined(__AVX512F__)
#define W 16
typedef __m512 vec;
#define SET1(x) _mm512_set1_ps(x)
#define FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define ADD(a, b) _mm512_add_ps(a, b)
#define LOAD(p) _mm512_load_ps(p)
#define LANE0(v) _mm512_cvtss_f32(v)
#elif defined(__FMA__)
#define W 8
typedef __m256 vec;
#define SET1(x) _mm256_set1_ps(x)
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define ADD(a, b) _mm256_add_ps(a, b)
#define LOAD(p) _mm256_load_ps(p)
#define LANE0(v) _mm256_cvtss_f32(v)
#else
#error "bench/peak.c needs FMA (build with -march=native on an FMA machine)"
#endif

static double fma_gflops(void)
{
  double best = 0;
  for (int rep = 0; rep < 5; rep++) {
    const vec a = SET1(0.999999f), b = SET1(1e-7f);
    vec c0 = SET1(0), c1 = SET1(1), c2 = SET1(2), c3 = SET1(3), c4 = SET1(4), c5 = SET1(5),
        c6 = SET1(6), c7 = SET1(7), c8 = SET1(8), c9 = SET1(9), c10 = SET1(10), c11 = SET1(11),
        c12 = SET1(12), c13 = SET1(13), c14 = SET1(14), c15 = SET1(15);
    long iters = 20000000;
    double t0 = now_s();
    for (long i = 0; i < iters; i++) {
      c0 = FMA(c0, a, b), c1 = FMA(c1, a, b), c2 = FMA(c2, a, b), c3 = FMA(c3, a, b);
      c4 = FMA(c4, a, b), c5 = FMA(c5, a, b), c6 = FMA(c6, a, b), c7 = FMA(c7, a, b);
      c8 = FMA(c8, a, b), c9 = FMA(c9, a, b), c10 = FMA(c10, a, b), c11 = FMA(c11, a, b);
      c12 = FMA(c12, a, b), c13 = FMA(c13, a, b), c14 = FMA(c14, a, b), c15 = FMA(c15, a, b);
    }
    double t = now_s() - t0;
    volatile float sink = LANE0(c0) + LANE0(c1) + LANE0(c2) + LANE0(c3) + LANE0(c4) +
                          LANE0(c5) + LANE0(c6) + LANE0(c7) + LANE0(c8) + LANE0(c9) +
                          LANE0(c10) + LANE0(c11) + LANE0(c12) + LANE0(c13) + LANE0(c14) +
                          LANE0(c15);
    (void)sink;
    double g = 16.0 * W * 2.0 * (double)iters / t / 1e9;
    if (g > best)
      best = g;
  }
  return best;
}

// Best of 5 samples, each summing the buffer enough times to read 512 MB.
static double read_gbs(long bytes)
{
  long floats = (bytes / 4 + 8 * W - 1) / (8 * W) * (8 * W);
  void *mem = NULL;
  if (posix_memalign(&mem, 64, (size_t)floats * 4) != 0)
    return 0;
  float *buf = mem;
  for (long i = 0; i < floats; i++)
    buf[i] = (float)(i & 255) * 1e-3f;
  long passes = (512L << 20) / (floats * 4) + 1;
  double best = 0;
  for (int rep = 0; rep < 5; rep++) {
    vec s0 = SET1(0), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
    double t0 = now_s();
    for (long pass = 0; pass < passes; pass++)
      for (const float *p = buf; p < buf + floats; p += 8 * W) {
        s0 = ADD(s0, LOAD(p)), s1 = ADD(s1, LOAD(p + W));
        s2 = ADD(s2, LOAD(p + 2 * W)), s3 = ADD(s3, LOAD(p + 3 * W));
        s4 = ADD(s4, LOAD(p + 4 * W)), s5 = ADD(s5, LOAD(p + 5 * W));
        s6 = ADD(s6, LOAD(p + 6 * W)), s7 = ADD(s7, LOAD(p + 7 * W));
      }
    double t = now_s() - t0;
    volatile float sink = LANE0(s0) + LANE0(s1) + LANE0(s2) + LANE0(s3) + LANE0(s4) +
                          LANE0(s5) + LANE0(s6) + LANE0(s7);
    (void)sink;
    double g = 4.0 * (double)floats * (double)passes / t / 1e9;
    if (g > best)
      best = g;
  }
  free(buf);
  return best;
}

int main(int argc, char **argv)
{
  printf("clock_ghz %.3f\n", clock_ghz());
  printf("fma_gflops %.1f %d\n", fma_gflops(), W);
  for (int i = 1; i < argc; i++)
    printf("read_gbs %s %.1f\n", argv[i], read_gbs(atol(argv[i])));
  return 0;
}
