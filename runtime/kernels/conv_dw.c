/*
 * conv_dw.c - the weight gradient of an unpadded stride-1 convolution by
 * dot products along output rows. See conv_dw.h.
 *
 * Key idea: dw is small (LeNet-5's first layer: 6 x 25) and each entry is
 * a long sum over images and output pixels, where in an output row the
 * tap's inputs x[off_k + i*w + j] and the gradient dy[o](i, j) are both
 * contiguous in j. So a block of 4 taps x 4 output channels is held in 16
 * vector accumulators (block_sums(), where they stay in registers) while
 * the rows of a few images stream through: per 16 columns, 8 (masked)
 * loads and 16 multiply-adds, and no packing at all, where the packed
 * engine would pack dY^T per image and compute 16 columns for the 6 or 8
 * output channels of a small layer. The block is summed across lanes once
 * per group of images that fits the L1 cache. Rows shorter than a vector
 * leave lanes idle; conv_dw.h keeps them for the engine.
 *
 * Deliberately not here: padding and strides (conv.c pads small images
 * into a copy first), and a portable version (other builds keep the
 * packed engine).
 */
#include "conv_dw.h"

#if NN_CONV_DW_ROWS
#include <immintrin.h>

#if defined(__GNUC__)
#define NN_UNROLL _Pragma("GCC unroll 8") // constant indices: the accumulators stay in registers
#else
#define NN_UNROLL
#endif

enum {
  LANES = 16,
  TAPS = 4, // a block of dw: TAPS x OUTS accumulators
  OUTS = 4,
  CHUNK_BYTES = 40 * 1024, // x and dy of the images summed before a lane sum
};

int nn_conv_dw_rows_fits(const nn_conv_params *p)
{
  return p->ow >= LANES && p->stride_h == 1 && p->stride_w == 1 && p->pad_t == 0 &&
         p->pad_l == 0 &&
         p->oh + (p->kh - 1) * p->dil_h <= p->h && p->ow + (p->kw - 1) * p->dil_w <= p->w &&
         p->c / p->group * p->kh * p->kw <= NN_CONV_DW_MAX_K;
}

// dw[o[s]][k[r]] += the sum over the images and rows of the block of
// x[x_off[r] + j] * dy[dy_off[s] + j], j < ow: one block of dw, its
// accumulators local to this function so that they stay in registers.
static void block_sums(float *dw, int k, const int *kr, const int *os, const float *x,
                       ptrdiff_t x_image, const int *x_off, const float *dy, ptrdiff_t dy_image,
                       const int *dy_off, int n0, int n1, const nn_conv_params *p)
{
  __m512 acc[TAPS][OUTS];
  NN_UNROLL for (int r = 0; r < TAPS; r++)
    NN_UNROLL for (int s = 0; s < OUTS; s++)
      acc[r][s] = _mm512_setzero_ps();
  int ow = p->ow;
  for (int n = n0; n < n1; n++)
    for (int i = 0; i < p->oh; i++) {
      const float *xr = x + n * x_image + (ptrdiff_t)i * p->w;
      const float *dr = dy + n * dy_image + (ptrdiff_t)i * ow;
      for (int j = 0; j < ow; j += LANES) {
        __mmask16 m = ow - j >= LANES ? (__mmask16)0xffff : (__mmask16)((1u << (ow - j)) - 1u);
        __m512 xv[TAPS], dv[OUTS];
        NN_UNROLL for (int r = 0; r < TAPS; r++)
          xv[r] = _mm512_maskz_loadu_ps(m, xr + x_off[r] + j);
        NN_UNROLL for (int s = 0; s < OUTS; s++)
          dv[s] = _mm512_maskz_loadu_ps(m, dr + dy_off[s] + j);
        NN_UNROLL for (int r = 0; r < TAPS; r++)
          NN_UNROLL for (int s = 0; s < OUTS; s++)
            acc[r][s] = _mm512_fmadd_ps(xv[r], dv[s], acc[r][s]);
      }
    }
  NN_UNROLL for (int s = 0; s < OUTS; s++)
    NN_UNROLL for (int r = 0; r < TAPS; r++)
      if (os[s] >= 0 && kr[r] >= 0)
        dw[(ptrdiff_t)os[s] * k + kr[r]] += _mm512_reduce_add_ps(acc[r][s]);
}

void nn_conv_dw_rows(float *dw, const float *dy, ptrdiff_t dy_image, const float *x,
                     ptrdiff_t x_image, int count, const nn_conv_params *p)
{
  int taps = p->kh * p->kw, k = p->c / p->group * taps, mg = p->m / p->group;
  int plane = p->oh * p->ow;
  int off[NN_CONV_DW_MAX_K];
  for (int q = 0; q < k; q++) {
    int t = q % taps;
    off[q] = q / taps * p->h * p->w + t / p->kw * p->dil_h * p->w + t % p->kw * p->dil_w;
  }
  long image_bytes = (long)sizeof(float) * (p->c / p->group * p->h * p->w + mg * plane);
  int chunk = image_bytes < CHUNK_BYTES ? (int)(CHUNK_BYTES / image_bytes) : 1;
  for (int n0 = 0; n0 < count; n0 += chunk) {
    int n1 = n0 + chunk < count ? n0 + chunk : count;
    for (int k0 = 0; k0 < k; k0 += TAPS)
      for (int o0 = 0; o0 < mg; o0 += OUTS) {
        // Rows past dw's edge repeat its last tap or channel; their sums
        // are dropped (kr, os -1).
        int x_off[TAPS], dy_off[OUTS], kr[TAPS], os[OUTS];
        for (int r = 0; r < TAPS; r++) {
          x_off[r] = off[k0 + r < k ? k0 + r : k - 1];
          kr[r] = k0 + r < k ? k0 + r : -1;
        }
        for (int s = 0; s < OUTS; s++) {
          dy_off[s] = (o0 + s < mg ? o0 + s : mg - 1) * plane;
          os[s] = o0 + s < mg ? o0 + s : -1;
        }
        block_sums(dw, k, kr, os, x, x_image, x_off, dy, dy_image, dy_off, n0, n1, p);
      }
  }
}
#endif
