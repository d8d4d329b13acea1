/*
 * window.c - the sliding-window geometry Conv, MaxPool and AveragePool
 * share: strides, dilations, explicit pads or auto_pad (SAME_UPPER,
 * SAME_LOWER, VALID), and the output size, with ceil_mode for the pools.
 *
 *   effective kernel  e = (k - 1) * dilation + 1
 *   NOTSET            out = floor_or_ceil((in + pads - e) / stride) + 1
 *   SAME_*            out = ceil(in / stride), total pad = max(0, (out-1)*stride + e - in),
 *                     the odd pixel at the end (UPPER) or the beginning (LOWER)
 *   VALID             out = floor((in - e) / stride) + 1, no pads
 * With ceil_mode, a last window that would start in the end padding is
 * dropped (as PyTorch and ONNX Runtime do).
 */
#include "compiler.h"

#include <string.h>

int window_check(Diag *d, const Node *n, const int64_t *in, int rank, const int64_t *kernel,
                 int ceil_mode, Window *w)
{
  memset(w, 0, sizeof *w);
  w->rank = rank;
  int64_t strides[4], dilations[4], pads[8];
  int ns, nd, np;
  if (attr_ints(d, n, "strides", strides, 4, &ns) != 0 ||
      attr_ints(d, n, "dilations", dilations, 4, &nd) != 0 ||
      attr_ints(d, n, "pads", pads, 8, &np) != 0)
    return -1;
  CHECK(d, n, ns < 0 || ns == rank, "strides has %d values, expected %d", ns, rank);
  CHECK(d, n, nd < 0 || nd == rank, "dilations has %d values, expected %d", nd, rank);
  CHECK(d, n, np < 0 || np == 2 * rank, "pads has %d values, expected %d", np, 2 * rank);
  const char *auto_pad = attr_string(n, "auto_pad", "NOTSET");
  int same_upper = !strcmp(auto_pad, "SAME_UPPER"), same_lower = !strcmp(auto_pad, "SAME_LOWER");
  int valid = !strcmp(auto_pad, "VALID");
  CHECK(d, n, same_upper || same_lower || valid || !strcmp(auto_pad, "NOTSET"),
        "auto_pad '%s' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID", auto_pad);
  for (int i = 0; i < rank; i++) {
    w->kernel[i] = kernel[i];
    w->stride[i] = ns < 0 ? 1 : strides[i];
    w->dilation[i] = nd < 0 ? 1 : dilations[i];
    CHECK(d, n, w->kernel[i] >= 1 && w->stride[i] >= 1 && w->dilation[i] >= 1,
          "kernel, strides and dilations must be positive");
    // The kernels compute window positions in int.
    CHECK(d, n, w->kernel[i] <= INT32_MAX && w->stride[i] <= INT32_MAX &&
                    w->dilation[i] <= INT32_MAX,
          "kernel, strides and dilations must be less than 2^31");
    int64_t e = (w->kernel[i] - 1) * w->dilation[i] + 1;
    if (same_upper || same_lower) {
      w->out[i] = (in[i] + w->stride[i] - 1) / w->stride[i];
      int64_t total = (w->out[i] - 1) * w->stride[i] + e - in[i];
      if (total < 0)
        total = 0;
      CHECK(d, n, in[i] + total <= INT32_MAX, "the padded input has 2^31 elements or more "
            "along an axis");
      w->pad_begin[i] = same_upper ? total / 2 : total - total / 2;
      w->pad_end[i] = total - w->pad_begin[i];
      continue;
    }
    if (!valid && np > 0) {
      w->pad_begin[i] = pads[i];
      w->pad_end[i] = pads[i + rank];
      CHECK(d, n, pads[i] >= 0 && pads[i + rank] >= 0, "pads must not be negative");
      CHECK(d, n, pads[i] <= INT32_MAX && pads[i + rank] <= INT32_MAX &&
                      in[i] + pads[i] + pads[i + rank] <= INT32_MAX,
            "the padded input has 2^31 elements or more along an axis");
    }
    int64_t span = in[i] + w->pad_begin[i] + w->pad_end[i] - e;
    CHECK(d, n, span >= 0, "the window (%lld with dilation) is larger than the padded input (%lld)",
          (long long)e, (long long)(in[i] + w->pad_begin[i] + w->pad_end[i]));
    w->out[i] = (ceil_mode ? (span + w->stride[i] - 1) / w->stride[i] : span / w->stride[i]) + 1;
    if (ceil_mode && (w->out[i] - 1) * w->stride[i] >= in[i] + w->pad_begin[i])
      w->out[i]--;
  }
  return 0;
}
