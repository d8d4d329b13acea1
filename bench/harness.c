/*
 * harness.c - times one model compiled by onnxcc with `--name net`, for bench/run.py.
 *
 * One source, three builds:
 *   (default)        net_run() on one input;
 *   -DBENCH_TRAIN    net_train_step() (SGD, the header's default config) on one
 *                    batch with labels i % classes;
 *   -DBENCH_PROFILE  (with or without BENCH_TRAIN) a generated file into which
 *                    bench/run.py has inserted bench_mark(K) before region K of
 *                    the function (a node, the loss, a backward, the update) and
 *                    bench_mark(-1) before its return: the time between two
 *                    marks is region K's.
 * The process is a small server on stdin/stdout, so that bench/run.py can
 * alternate the contenders round by round without restarting any of them:
 *   "N"   run N iterations; answer one line, the nanoseconds per iteration
 *         (profile build: then one line "K ns" per region, then "end");
 *   "o"   (inference) run once and answer the output, one line of floats;
 *   "p"   answer "ok" (ready);
 *   "q"   exit.
 * Inputs are fixed pseudo-random values in [-1, 1). The benchmarked models have
 * one input and one output. bench/run.py reads the peak memory from
 * /proc/PID/status (VmHWM) before it sends "q".
 */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "net.h"

#if NET_NUM_INPUTS != 1 || NET_NUM_OUTPUTS != 1
#error "bench/harness.c expects a model with one input and one output"
#endif

static float input[NET_INPUT_0_SIZE];
#ifndef BENCH_TRAIN
static float output[NET_OUTPUT_0_SIZE];
#endif

static double now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#ifdef BENCH_PROFILE
#define MAX_NODES 4096
void bench_mark(int node);
static double node_ns[MAX_NODES];
static int last_node = -1;
static double last_ns;

// Charges the time since the previous mark to the node that mark opened.
void bench_mark(int node)
{
  double t = now_ns();
  if (last_node >= 0)
    node_ns[last_node] += t - last_ns;
  last_node = node < MAX_NODES ? node : -1;
  last_ns = now_ns(); // the clock read itself is not charged to the next node
}
#endif

#ifdef BENCH_TRAIN
static int32_t labels[NET_TRAIN_BATCH];
static const net_train_config cfg = NET_TRAIN_DEFAULTS;
#endif

static int step(void)
{
#ifdef BENCH_TRAIN
  const float *const ins[1] = {input};
  float loss;
  int rc = net_train_step(&cfg, ins, labels, &loss);
  return rc == NET_TRAIN_OK ? 0 : rc;
#else
  const float *const ins[1] = {input};
  float *const outs[1] = {output};
  return net_run(ins, outs);
#endif
}

int main(void)
{
  uint32_t s = 12345;
  for (long i = 0; i < NET_INPUT_0_SIZE; i++) {
    s = s * 1664525u + 1013904223u;
    input[i] = (float)(s >> 8) / 8388608.0f - 1.0f;
  }
#ifdef BENCH_TRAIN
  for (int i = 0; i < NET_TRAIN_BATCH; i++)
    labels[i] = i % NET_TRAIN_CLASSES;
#endif
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    if (line[0] == 'q')
      break;
    if (line[0] == 'p') {
      printf("ok\n");
      fflush(stdout);
      continue;
    }
#ifndef BENCH_TRAIN
    if (line[0] == 'o') {
      if (step() != 0)
        return 1;
      for (long i = 0; i < NET_OUTPUT_0_SIZE; i++)
        printf("%s%.9g", i ? " " : "", (double)output[i]);
      printf("\n");
      fflush(stdout);
      continue;
    }
#endif
    long n = atol(line);
    if (n < 1)
      n = 1;
#ifdef BENCH_PROFILE
    for (int k = 0; k < MAX_NODES; k++)
      node_ns[k] = 0;
#endif
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
      if (step() != 0) {
        fprintf(stderr, "harness: step failed\n");
        return 1;
      }
    double t1 = now_ns();
    printf("%.1f\n", (t1 - t0) / (double)n);
#ifdef BENCH_PROFILE
    for (int k = 0; k < MAX_NODES; k++)
      if (node_ns[k] > 0)
        printf("%d %.1f\n", k, node_ns[k] / (double)n);
    printf("end\n");
#endif
    fflush(stdout);
  }
  return 0;
}
