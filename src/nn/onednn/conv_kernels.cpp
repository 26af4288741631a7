// SmallConvBackwardWeights (kernels.hpp): the weight gradient of a first convolution with few
// input channels, where oneDNN pads the channels to its block of 8 or 16.
#include <algorithm>
#include <cstring>

#include "nn/onednn/kernels.hpp"
#include "nn/onednn/simd.hpp"

// Vectors pass by value only into always-inlined functions (see simd.hpp).
#pragma GCC diagnostic ignored "-Wpsabi"

namespace labbook::nn::onednn {
namespace {

// The number of batch chunks SmallConvBackwardWeights sums separately: fixed, so that the
// order of the additions does not depend on the thread count.
int SmallConvChunks(const SmallConvShape& g) { return std::min(g.batch, 8); }

int64_t SmallConvChunkSize(const SmallConvShape& g) {
  const int64_t blocks = (g.filters + g.block - 1) / g.block;
  return blocks * g.block * (int64_t{g.channels} * g.kernel_h * g.kernel_w + 1);
}

// One chunk of samples into `acc`: [block][c][r][s][B] kernel sums, then [block][B] bias sums.
// The loops over output columns keep four independent sums, so that the additions do not wait
// for each other; they are added in a fixed order.
template <int B>
[[gnu::always_inline]] inline void SmallConvChunk(const SmallConvShape& g, const float* src,
                                                  const float* diff_dst, int n_begin, int n_end,
                                                  float* acc) {
  static_assert(B % 8 == 0);
  constexpr int kVectors = B / 8;
  const int blocks = (g.filters + B - 1) / B;
  const int rs = g.kernel_h * g.kernel_w;
  const int64_t pixels = int64_t{g.out_h} * g.out_w;
  float* bias_acc = acc + int64_t{blocks} * g.channels * rs * B;
  for (int n = n_begin; n < n_end; ++n) {
    for (int kb = 0; kb < blocks; ++kb) {
      const float* dy = diff_dst + (int64_t{n} * blocks + kb) * pixels * B;
      for (int v = 0; v < kVectors; ++v) {
        Float8 sum[4] = {};
        int64_t i = 0;
        for (; i + 4 <= pixels; i += 4) {
          for (int u = 0; u < 4; ++u) sum[u] += Load8(dy + (i + u) * B + v * 8);
        }
        for (; i < pixels; ++i) sum[0] += Load8(dy + i * B + v * 8);
        float* target = bias_acc + kb * B + v * 8;
        Store8(target, Load8(target) + ((sum[0] + sum[1]) + (sum[2] + sum[3])));
      }
      for (int c = 0; c < g.channels; ++c) {
        const float* x = src + (int64_t{n} * g.channels + c) * g.in_h * g.in_w;
        float* kernel_acc = acc + (int64_t{kb} * g.channels + c) * rs * B;
        for (int p = 0; p < g.out_h; ++p) {
          const float* dy_row = dy + int64_t{p} * g.out_w * B;
          for (int r = 0; r < g.kernel_h; ++r) {
            const int ih = p * g.stride_h - g.pad_top + r;
            if (ih < 0 || ih >= g.in_h) continue;
            const float* x_row = x + int64_t{ih} * g.in_w;
            for (int s = 0; s < g.kernel_w; ++s) {
              // The output columns whose input column q * stride - pad + s is inside the image.
              const int shift = s - g.pad_left;
              const int q_begin = shift >= 0 ? 0 : (-shift + g.stride_w - 1) / g.stride_w;
              const int q_end = std::min(g.out_w, (g.in_w - 1 - shift) / g.stride_w + 1);
              for (int v = 0; v < kVectors; ++v) {
                Float8 sum[4] = {};
                int q = q_begin;
                for (; q + 4 <= q_end; q += 4) {
                  for (int u = 0; u < 4; ++u) {
                    sum[u] += x_row[(q + u) * g.stride_w + shift] *
                              Load8(dy_row + int64_t{q + u} * B + v * 8);
                  }
                }
                for (; q < q_end; ++q) {
                  sum[0] += x_row[q * g.stride_w + shift] * Load8(dy_row + int64_t{q} * B + v * 8);
                }
                float* target = kernel_acc + (r * g.kernel_w + s) * B + v * 8;
                Store8(target, Load8(target) + ((sum[0] + sum[1]) + (sum[2] + sum[3])));
              }
            }
          }
        }
      }
    }
  }
}

// The padded input planes of the fixed-size kernel: tall and wide enough that every window is
// inside, so its inner loops need no bounds checks.
int SmallConvPaddedHeight(const SmallConvShape& g) {
  return std::max((g.out_h - 1) * g.stride_h + g.kernel_h, g.in_h + g.pad_top);
}
int SmallConvPaddedWidth(const SmallConvShape& g) {
  return std::max((g.out_w - 1) * g.stride_w + g.kernel_w, g.in_w + g.pad_left);
}
int64_t SmallConvPaddedSize(const SmallConvShape& g) {
  return int64_t{g.channels} * SmallConvPaddedHeight(g) * SmallConvPaddedWidth(g);
}

// SmallConvChunk for blocks of 8 filters and an R x S kernel known at compile time: the R * S
// sums of a filter block stay in registers over the whole image, each output pixel adding its
// gradient times the R * S input values under its window (no dependency between the sums).
// `padded` is scratch of SmallConvPaddedSize floats.
template <int R, int S>
[[gnu::always_inline]] inline void SmallConvChunkFixed(const SmallConvShape& g, const float* src,
                                                       const float* diff_dst, int n_begin,
                                                       int n_end, float* acc, float* padded) {
  constexpr int B = 8;
  const int blocks = (g.filters + B - 1) / B;
  const int64_t pixels = int64_t{g.out_h} * g.out_w;
  const int hp = SmallConvPaddedHeight(g), wp = SmallConvPaddedWidth(g);
  float* bias_acc = acc + int64_t{blocks} * g.channels * R * S * B;
  std::fill(padded, padded + SmallConvPaddedSize(g), 0.0f);
  for (int n = n_begin; n < n_end; ++n) {
    for (int c = 0; c < g.channels; ++c) {
      const float* x = src + (int64_t{n} * g.channels + c) * g.in_h * g.in_w;
      for (int h = 0; h < g.in_h; ++h) {
        std::copy(x + int64_t{h} * g.in_w, x + int64_t{h + 1} * g.in_w,
                  padded + (int64_t{c} * hp + h + g.pad_top) * wp + g.pad_left);
      }
    }
    for (int kb = 0; kb < blocks; ++kb) {
      const float* dy = diff_dst + (int64_t{n} * blocks + kb) * pixels * B;
      Float8 sum[4] = {};
      int64_t i = 0;
      for (; i + 4 <= pixels; i += 4) {
        for (int u = 0; u < 4; ++u) sum[u] += Load8(dy + (i + u) * B);
      }
      for (; i < pixels; ++i) sum[0] += Load8(dy + i * B);
      Store8(bias_acc + kb * B, Load8(bias_acc + kb * B) + ((sum[0] + sum[1]) + (sum[2] + sum[3])));
      for (int c = 0; c < g.channels; ++c) {
        const float* xp = padded + int64_t{c} * hp * wp;
        float* target = acc + (int64_t{kb} * g.channels + c) * R * S * B;
        Float8 a[R * S];
        for (int k = 0; k < R * S; ++k) a[k] = Load8(target + k * B);
        for (int p = 0; p < g.out_h; ++p) {
          const float* row = xp + int64_t{p} * g.stride_h * wp;
          const float* d_row = dy + int64_t{p} * g.out_w * B;
          for (int q = 0; q < g.out_w; ++q) {
            const Float8 d = Load8(d_row + int64_t{q} * B);
            const float* window = row + q * g.stride_w;
            for (int r = 0; r < R; ++r) {
              for (int s = 0; s < S; ++s) a[r * S + s] += window[r * wp + s] * d;
            }
          }
        }
        for (int k = 0; k < R * S; ++k) Store8(target + k * B, a[k]);
      }
    }
  }
}

[[gnu::target_clones("arch=x86-64-v3", "default")]] void SmallConvChunk3x3(
    const SmallConvShape& g, const float* src, const float* diff_dst, int n_begin, int n_end,
    float* acc, float* padded) {
  SmallConvChunkFixed<3, 3>(g, src, diff_dst, n_begin, n_end, acc, padded);
}

[[gnu::target_clones("arch=x86-64-v3", "default")]] void SmallConvChunk8(const SmallConvShape& g,
                                                                         const float* src,
                                                                         const float* diff_dst,
                                                                         int n_begin, int n_end,
                                                                         float* acc) {
  SmallConvChunk<8>(g, src, diff_dst, n_begin, n_end, acc);
}

[[gnu::target_clones("arch=x86-64-v3", "default")]] void SmallConvChunk16(const SmallConvShape& g,
                                                                          const float* src,
                                                                          const float* diff_dst,
                                                                          int n_begin, int n_end,
                                                                          float* acc) {
  SmallConvChunk<16>(g, src, diff_dst, n_begin, n_end, acc);
}
}  // namespace

int64_t SmallConvPartialsSize(const SmallConvShape& shape) {
  return SmallConvChunks(shape) * (SmallConvChunkSize(shape) + SmallConvPaddedSize(shape));
}

void SmallConvBackwardWeights(const SmallConvShape& g, const float* src, const float* diff_dst,
                              float* partials, float* diff_weights, float* diff_bias) {
  const int chunks = SmallConvChunks(g);
  const int64_t chunk_size = SmallConvChunkSize(g);
  std::fill(partials, partials + chunks * chunk_size, 0.0f);
#pragma omp parallel for schedule(static)
  for (int chunk = 0; chunk < chunks; ++chunk) {
    const int n_begin = static_cast<int>(int64_t{g.batch} * chunk / chunks);
    const int n_end = static_cast<int>(int64_t{g.batch} * (chunk + 1) / chunks);
    float* acc = partials + chunk * chunk_size;
    if (g.block == 8 && g.kernel_h == 3 && g.kernel_w == 3) {
      float* padded = partials + chunks * chunk_size + chunk * SmallConvPaddedSize(g);
      SmallConvChunk3x3(g, src, diff_dst, n_begin, n_end, acc, padded);
    } else if (g.block == 16) {
      SmallConvChunk16(g, src, diff_dst, n_begin, n_end, acc);
    } else {
      SmallConvChunk8(g, src, diff_dst, n_begin, n_end, acc);
    }
  }
  // Chunks added in order; kernel sums from [block][c][r][s][B] to (K, C, R, S).
  const int rs = g.kernel_h * g.kernel_w;
  const int64_t kernel_sums = chunk_size - (chunk_size / (int64_t{g.channels} * rs + 1));
  for (int k = 0; k < g.filters; ++k) {
    const int kb = k / g.block, b = k % g.block;
    for (int c = 0; c < g.channels; ++c) {
      for (int i = 0; i < rs; ++i) {
        const int64_t at = ((int64_t{kb} * g.channels + c) * rs + i) * g.block + b;
        float sum = 0;
        for (int chunk = 0; chunk < chunks; ++chunk) sum += partials[chunk * chunk_size + at];
        diff_weights[(int64_t{k} * g.channels + c) * rs + i] = sum;
      }
    }
    if (diff_bias != nullptr) {
      float sum = 0;
      for (int chunk = 0; chunk < chunks; ++chunk) {
        sum += partials[chunk * chunk_size + kernel_sums + k];
      }
      diff_bias[k] = sum;
    }
  }
}

}  // namespace labbook::nn::onednn
