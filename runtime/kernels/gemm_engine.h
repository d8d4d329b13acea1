/*
 * gemm_engine.h - the blocked, packed matrix product that Gemm, MatMul and
 * Conv (forward and backward) share (internal to the runtime, not installed).
 *
 * y(m, n) += alpha * A(m, k) * B(k, n), where A is a strided matrix and B is
 * whatever a packing function can deliver one panel at a time: a strided
 * matrix (nn_pack_strided) or, for convolution, the columns of an image
 * gathered on the fly ("implicit im2col", conv.c), so that no im2col buffer
 * is ever materialised. The result goes into a dense y, or, through an
 * unpacking function, anywhere (the col2im scatter of the convolution's
 * input gradient).
 *
 * Tile sizes come from the target: the micro-kernel of gemm_engine.c keeps
 * an NN_MR x NN_NR block of y in vector registers. Packing buffers live on
 * the stack while the engine runs: NN_KC * NN_NR + NN_MR * NN_NR floats
 * and a few columns of NN_KC (42 KB on AVX-512), and NN_PACK_MC * NN_KC
 * more when A must be copied (a transposed A: some backward products).
 * Small targets lower them: Cortex-M builds take -DNN_GEMM_KC=64
 * -DNN_GEMM_NR=8 -DNN_GEMM_PACK_MC=8 (2.5 KB, and 2 KB more for a copied
 * A).
 */
#ifndef NN_GEMM_ENGINE_H
#define NN_GEMM_ENGINE_H

#include "nn.h"

// The micro-kernel's vector instruction set: AVX-512F, AVX2 with FMA, SSE
// (every x86-64), else portable C. -DNN_NO_SIMD forces portable C, which
// the test suite builds and runs too.
#if !defined(NN_NO_SIMD) && defined(__AVX512F__)
#define NN_GEMM_AVX512 1
#define NN_MR 8
#define NN_NR 32
#elif !defined(NN_NO_SIMD) && defined(__AVX2__) && defined(__FMA__)
#define NN_GEMM_AVX2 1
#define NN_MR 6
#define NN_NR 16
#elif !defined(NN_NO_SIMD) && (defined(__SSE2__))
#define NN_GEMM_SSE 1
#define NN_MR 6
#define NN_NR 8
#else
#define NN_GEMM_PORTABLE 1
#ifndef NN_GEMM_MR
#define NN_GEMM_MR 4
#endif
#ifndef NN_GEMM_NR
#define NN_GEMM_NR 16
#endif
#define NN_MR NN_GEMM_MR
#define NN_NR NN_GEMM_NR
#endif

// Products summed per packed panel: 288 = 32 input channels of a 3x3
// kernel, so that a 3x3 convolution's blocks hold whole channels (its 576,
// 1152, ... products split evenly, with no short last block).
#ifndef NN_GEMM_KC
#define NN_GEMM_KC 288
#endif
// Rows of A per pass over B: each packed panel of B serves this many rows
// before the next is packed (a 3x3 convolution's panel is a gather), while
// the block of A they read, NN_MC * NN_KC floats (256 KB on AVX-512), stays
// in a 512 KB or larger L2 cache.
#ifndef NN_GEMM_MC
#define NN_GEMM_MC (32 * NN_MR)
#endif
#ifndef NN_GEMM_PACK_MC
#define NN_GEMM_PACK_MC (4 * NN_MR) // rows of a transposed A copied at once
#endif
#define NN_KC NN_GEMM_KC
#define NN_MC NN_GEMM_MC
#define NN_PACK_MC NN_GEMM_PACK_MC

// Writes the panel bp(kc, NN_NR): bp[p*NN_NR + c] = B(k0 + p, j0 + c) for
// c < nr, and 0 for nr <= c < NN_NR.
typedef void nn_pack_fn(float *bp, const void *b_src, int k0, int kc, int j0, int nr);

// Receives tile(mr, nr), rows NN_NR apart: the part of alpha * A * B for
// rows i0.. and columns j0.. summed over one panel of k. Called once per
// panel, so it must accumulate.
typedef void nn_unpack_fn(void *y_dst, const float *tile, int i0, int mr, int j0, int nr);

// B(p, j) = b[p*rs + j*cs]: the b_src of nn_pack_strided.
typedef struct {
  const float *b;
  int rs, cs;
} nn_strided;

void nn_pack_strided(float *bp, const void *b_src, int k0, int kc, int j0, int nr);

// y(m, n) += alpha * A(m, k) * B(k, n) with A(i, p) = a[i*a_rs + p*a_cs]
// and B delivered by pack_b(.., b_src). y is dense with rows ldy apart,
// unless unpack != NULL, which then receives every tile (y is y_dst).
void nn_gemm_engine(void *y, int ldy, nn_unpack_fn *unpack, const float *a, int a_rs,
                    int a_cs, float alpha, nn_pack_fn *pack_b, const void *b_src, int m,
                    int n, int k);

// What the engine does to y besides adding A * B: y starts at bias[i]
// for row i (0 when bias is NULL) instead of its old value, which is not
// read, and act is applied to each tile once it is final, while it is
// still in cache. Saves the separate passes over y of a bias fill and an
// activation.
// With accumulate, y keeps its old value instead and the products are
// added to it (bias must then be NULL; act sees the sum).
typedef struct {
  const float *bias;
  nn_act act;
  float act_alpha, act_beta;
  int accumulate;
} nn_gemm_epilogue;

// y(m, n) = act(bias + A(m, k) * B(k, n)) with A(i, p) = a[i*a_rs + p], y
// dense with rows ldy apart.
void nn_gemm_engine_into(float *y, int ldy, const nn_gemm_epilogue *ep, const float *a,
                         int a_rs, nn_pack_fn *pack_b, const void *b_src, int m, int n, int k);

// nn_gemm_engine with A(i, p) = a_rows[i][p]: rows anywhere, each
// contiguous.
void nn_gemm_engine_rows(void *y, int ldy, nn_unpack_fn *unpack, const float *const *a_rows,
                         nn_pack_fn *pack_b, const void *b_src, int m, int n, int k);

// nn_gemm_engine for B(p, j) = b[b_off[p] + j] (rows anywhere, each
// contiguous, all readable up to column n - 1): whole panels are read in
// place, without packing. A(i, p) = a[i*a_rs + p]; y goes to unpack.
void nn_gemm_engine_offsets(void *y, nn_unpack_fn *unpack, const float *a, int a_rs,
                           const float *b, const int *b_off, int m, int n, int k);

// The same into a dense y with rows ldy apart, finished as
// nn_gemm_engine_into's ep says.
void nn_gemm_engine_offsets_into(float *y, int ldy, const nn_gemm_epilogue *ep, const float *a,
                                 int a_rs, const float *b, const int *b_off, int m, int n,
                                 int k);

#endif
