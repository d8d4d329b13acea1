/*
 * conv_direct.c - convolution without matrix products, for cores without
 * vector units (Cortex-M): conv.c calls it when the runtime is built with
 * -DNN_CONV_DIRECT. On such cores the packed engine's copying costs more
 * than it saves (LeNet-5 on a Cortex-M4F: 3.7M instructions here, 5.1M
 * through the engine).
 *
 * Key idea: one output plane at a time. The plane is set to the bias, then
 * for every (input channel, kernel row u, kernel column v) the single
 * weight is multiplied into a shifted view of the input and added to the
 * output, row by row. The columns j whose input column falls inside x are
 * computed once per v, so the inner loop has no bounds tests and, at
 * stride 1, is a contiguous axpy. A 1x1, stride-1, unpadded convolution is
 * a plain matrix product per (image, group) and goes to nn_gemm_forward.
 *
 * The backward walks the forward's loops: dw as dot products of dY rows
 * with shifted x rows, dx as axpys of dY rows into shifted dx rows.
 *
 * Deliberately not here: anything for vector units (conv.c), and auto_pad
 * or shape arithmetic (the compiler turns them into pad_t/pad_l and oh/ow).
 */
#include "conv_direct.h"
#include "ranges.h"

// A 1x1 stride-1 unpadded convolution: per image and group,
// y(mg, h*w) = w(mg, cg) * x(cg, h*w) + b(mg) broadcast along rows.
static void conv_1x1(float *y, const float *x, const float *w, const float *b,
                     const nn_conv_params *p)
{
  int cg = p->c / p->group, mg = p->m / p->group;
  int plane = p->h * p->w;
  nn_gemm_params gp = {0};
  gp.m = mg;
  gp.n = plane;
  gp.k = cg;
  gp.alpha = 1.0f;
  gp.beta = 1.0f;
  gp.c_row_stride = 1;
  gp.c_col_stride = 0;
  gp.act = p->act;
  gp.act_alpha = p->act_alpha;
  gp.act_beta = p->act_beta;
  for (int img = 0; img < p->n; img++) {
    for (int g = 0; g < p->group; g++) {
      float *yg = y + ((ptrdiff_t)img * p->m + (ptrdiff_t)g * mg) * plane;
      const float *xg = x + ((ptrdiff_t)img * p->c + (ptrdiff_t)g * cg) * plane;
      const float *wg = w + (ptrdiff_t)g * mg * cg;
      nn_gemm_forward(yg, wg, xg, b != NULL ? b + g * mg : NULL, &gp);
    }
  }
}

void nn_conv_direct_forward(float *restrict y, const float *restrict x, const float *w,
                            const float *b, const nn_conv_params *p)
{
  int cg = p->c / p->group, mg = p->m / p->group;
  int in_plane = p->h * p->w, out_plane = p->oh * p->ow;

  if (p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1 &&
      p->pad_t == 0 && p->pad_l == 0 && p->oh == p->h && p->ow == p->w) {
    conv_1x1(y, x, w, b, p);
    return;
  }

  for (int img = 0; img < p->n; img++) {
    for (int o = 0; o < p->m; o++) {
      int g = o / mg;
      float *yo = y + ((ptrdiff_t)img * p->m + o) * out_plane;
      nn_fill(yo, b != NULL ? b[o] : 0.0f, out_plane);

      for (int ci = 0; ci < cg; ci++) {
        const float *xc = x + ((ptrdiff_t)img * p->c + (ptrdiff_t)g * cg + ci) * in_plane;
        const float *wc = w + ((ptrdiff_t)o * cg + ci) * p->kh * p->kw;
        for (int u = 0; u < p->kh; u++) {
          // Output rows i whose input row i*stride_h + u*dil_h - pad_t is in x.
          int row_off = u * p->dil_h - p->pad_t;
          int i0, i1;
          index_range(&i0, &i1, row_off, p->stride_h, 0, p->h, p->oh);
          for (int v = 0; v < p->kw; v++) {
            float wv = wc[u * p->kw + v];
            int col_off = v * p->dil_w - p->pad_l;
            int j0, j1;
            index_range(&j0, &j1, col_off, p->stride_w, 0, p->w, p->ow);
            int cols = j1 - j0;
            if (cols <= 0)
              continue;
            for (int i = i0; i < i1; i++) {
              // yr[t] is y[i, j0 + t]; xr[t*stride_w] is the x it reads.
              float *yr = yo + (ptrdiff_t)i * p->ow + j0;
              const float *xr = xc + (ptrdiff_t)(i * p->stride_h + row_off) * p->w +
                                j0 * p->stride_w + col_off;
              if (p->stride_w == 1) {
                for (int t = 0; t < cols; t++)
                  yr[t] += wv * xr[t];
              } else {
                for (int t = 0; t < cols; t++)
                  yr[t] += wv * xr[(ptrdiff_t)t * p->stride_w];
              }
            }
          }
        }
      }
      nn_act_forward(yo, yo, out_plane, p->act, p->act_alpha, p->act_beta);
    }
  }
}

// sum_t a[t] * b[t*bs], t < n; 8 partial sums let the contiguous case
// vectorise without reassociating one long sum.
static float dot_strided(const float *a, const float *b, int bs, int n)
{
  float acc[8] = {0.0f};
  int t = 0;
  if (bs == 1)
    for (; t + 8 <= n; t += 8)
      for (int l = 0; l < 8; l++)
        acc[l] += a[t + l] * b[t + l];
  float s = 0.0f;
  for (; t < n; t++)
    s += a[t] * b[(ptrdiff_t)t * bs];
  for (int l = 0; l < 8; l++)
    s += acc[l];
  return s;
}

// Backward of the convolution above (p->act must be NONE). With
// X(img, g*cg + ci, i*sh + u*dh - pt, j*sw + v*dw - pl) the input position
// that output (i, j) reads through tap (u, v):
//   term 1  db[o]           += sum_{img,i,j} dY[img, o, i, j]   (conv.c does it)
//   term 2  dw[o, ci, u, v] += sum_{img,i,j} dY[img, o, i, j] * X(...)
//   term 3  dX(...)         += sum_{o in group, u, v} w[o, ci, u, v] * dY[img, o, i, j]
// Terms 2 and 3 walk exactly the forward's loops (same valid ranges, so
// padding positions are never touched): term 2 is a dot product of a dY row
// with a shifted X row, term 3 an axpy of a dY row into a shifted dX row,
// both contiguous at stride 1. A 1x1 stride-1 unpadded convolution is a
// matrix product per (image, group), so it goes to nn_matmul_backward.
void nn_conv_direct_backward(float *dx, float *dw, const float *dy, const float *x,
                             const float *w, const nn_conv_params *p)
{
  int cg = p->c / p->group, mg = p->m / p->group;
  int in_plane = p->h * p->w, out_plane = p->oh * p->ow;

  if (dx == NULL && dw == NULL)
    return;

  if (p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1 &&
      p->pad_t == 0 && p->pad_l == 0 && p->oh == p->h && p->ow == p->w) {
    // y_g(mg, plane) = w_g(mg, cg) * x_g(cg, plane): dw_g and dx_g.
    static const int zero[1] = {0};
    for (int img = 0; img < p->n; img++)
      for (int g = 0; g < p->group; g++) {
        ptrdiff_t xo = ((ptrdiff_t)img * p->c + (ptrdiff_t)g * cg) * in_plane;
        ptrdiff_t wo = (ptrdiff_t)g * mg * cg;
        nn_matmul_backward(dw != NULL ? dw + wo : NULL, dx != NULL ? dx + xo : NULL,
                           dy + ((ptrdiff_t)img * p->m + (ptrdiff_t)g * mg) * out_plane,
                           dx != NULL ? w + wo : NULL, dw != NULL ? x + xo : NULL, 1, zero,
                           zero, mg, in_plane, cg);
      }
    return;
  }

  for (int img = 0; img < p->n; img++) {
    for (int o = 0; o < p->m; o++) {
      int g = o / mg;
      const float *dyo = dy + ((ptrdiff_t)img * p->m + o) * out_plane;
      for (int ci = 0; ci < cg; ci++) {
        ptrdiff_t xc = ((ptrdiff_t)img * p->c + (ptrdiff_t)g * cg + ci) * in_plane;
        ptrdiff_t wc = ((ptrdiff_t)o * cg + ci) * p->kh * p->kw;
        for (int u = 0; u < p->kh; u++) {
          int row_off = u * p->dil_h - p->pad_t;
          int i0, i1;
          index_range(&i0, &i1, row_off, p->stride_h, 0, p->h, p->oh);
          for (int v = 0; v < p->kw; v++) {
            int col_off = v * p->dil_w - p->pad_l;
            int j0, j1;
            index_range(&j0, &j1, col_off, p->stride_w, 0, p->w, p->ow);
            int cols = j1 - j0;
            if (cols <= 0)
              continue;
            float wv = w != NULL ? w[wc + u * p->kw + v] : 0.0f;
            float dwv = 0.0f;
            for (int i = i0; i < i1; i++) {
              // dyr[t] is dY[i, j0 + t]; the X (and dX) it pairs with is at
              // xr + t*stride_w.
              const float *dyr = dyo + (ptrdiff_t)i * p->ow + j0;
              ptrdiff_t xr = xc + (ptrdiff_t)(i * p->stride_h + row_off) * p->w +
                             j0 * p->stride_w + col_off;
              if (dw != NULL)
                dwv += dot_strided(dyr, x + xr, p->stride_w, cols);
              if (dx != NULL) {
                float *dxr = dx + xr;
                if (p->stride_w == 1) {
                  for (int t = 0; t < cols; t++)
                    dxr[t] += wv * dyr[t];
                } else {
                  for (int t = 0; t < cols; t++)
                    dxr[(ptrdiff_t)t * p->stride_w] += wv * dyr[t];
                }
              }
            }
            if (dw != NULL)
              dw[wc + u * p->kw + v] += dwv;
          }
        }
      }
    }
  }
}
