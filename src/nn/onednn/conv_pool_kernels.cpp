// ConvPoolForward and ConvPoolBackwardWeights (kernels.hpp): a first convolution, its ReLU and a
// non-overlapping max pooling in one pass.
//
// Filters go in groups of eight (one vector); a group's R * S weights per input channel stay in
// registers while the loops walk the pooled pixels, computing each window's convolution outputs
// on the fly. The input is copied into a zero-padded plane first, so no loop checks bounds.
#include <algorithm>
#include <cstring>
#include <limits>

#include <omp.h>

#include "nn/onednn/kernels.hpp"
#include "nn/onednn/simd.hpp"

// Vectors pass by value only into always-inlined functions (see simd.hpp).
#pragma GCC diagnostic ignored "-Wpsabi"

namespace labbook::nn::onednn {
namespace {

// Fixed chunks of the batch, each with its own scratch, so that the weight gradient's sums do not
// depend on the thread count.
int Chunks(const ConvPoolShape& g) { return std::min(g.batch, 8); }

int PaddedHeight(const ConvPoolShape& g) {
  return std::max((g.conv_h - 1) * g.stride_h + g.kernel_h, g.in_h + g.pad_top);
}
int PaddedWidth(const ConvPoolShape& g) {
  return std::max((g.conv_w - 1) * g.stride_w + g.kernel_w, g.in_w + g.pad_left);
}
int64_t PaddedSize(const ConvPoolShape& g) {
  return int64_t{g.channels} * PaddedHeight(g) * PaddedWidth(g);
}
// Filter groups of 8 up to the destination's block, so that padding lanes are written (as 0).
int Groups(const ConvPoolShape& g) {
  const int block = g.dst.block;
  return (g.filters + block - 1) / block * block / 8;
}
int64_t WeightsSize(const ConvPoolShape& g) {
  return int64_t{Groups(g)} * g.channels * g.kernel_h * g.kernel_w * 8;
}
// Per chunk: the padded plane, then the gradient sums [group][c][r][s][8] and [group][8].
int64_t ChunkSize(const ConvPoolShape& g) {
  return PaddedSize(g) + WeightsSize(g) + int64_t{Groups(g)} * 8;
}

void PadSample(const ConvPoolShape& g, const float* src, int n, float* padded) {
  const int hp = PaddedHeight(g), wp = PaddedWidth(g);
  for (int c = 0; c < g.channels; ++c) {
    const float* x = src + (int64_t{n} * g.channels + c) * g.in_h * g.in_w;
    for (int h = 0; h < g.in_h; ++h) {
      std::copy(x + int64_t{h} * g.in_w, x + int64_t{h + 1} * g.in_w,
                padded + (int64_t{c} * hp + h + g.pad_top) * wp + g.pad_left);
    }
  }
}

// Offset of filter group `group`'s eight lanes at pooled pixel `pixel` of sample n.
int64_t DstOffset(const ConvPoolShape& g, int n, int group, int64_t pixel) {
  const int per_block = g.dst.block / 8;
  return n * g.dst.batch_stride + (group / per_block) * g.dst.block_stride +
         pixel * g.dst.pixel_stride + (group % per_block) * 8;
}

// One pooled pixel: each window position's convolution output in turn (the edges, and windows
// other than 2 x 2).
template <int R, int S>
[[gnu::always_inline]] inline void ForwardPixel(const ConvPoolShape& g, const float* padded,
                                                const float* weights, const Float8& bias, int p,
                                                int q, Float8* best, Float8* index) {
  const int wp = PaddedWidth(g);
  const int64_t plane = int64_t{PaddedHeight(g)} * wp;
  *best = Float8{} - std::numeric_limits<float>::infinity();
  *index = Float8{};
  for (int i = 0; i < g.window_h; ++i) {
    const int h = p * g.window_h + i;
    if (h >= g.conv_h) break;
    for (int j = 0; j < g.window_w; ++j) {
      const int x = q * g.window_w + j;
      if (x >= g.conv_w) break;
      Float8 acc = bias;
      for (int c = 0; c < g.channels; ++c) {
        const float* window =
            padded + c * plane + int64_t{h} * g.stride_h * wp + int64_t{x} * g.stride_w;
        for (int r = 0; r < R; ++r) {
          for (int s = 0; s < S; ++s) {
            acc += window[r * wp + s] * Load8(weights + ((c * R + r) * S + s) * 8);
          }
        }
      }
      if (g.relu) acc = acc > Float8{} ? acc : Float8{};
      const auto larger = acc > *best;
      *best = larger ? acc : *best;
      *index = larger ? Float8{} + static_cast<float>(i * g.window_w + j) : *index;
    }
  }
}

// Two neighbouring pooled pixels of complete 2 x 2 windows: their eight convolution outputs are
// independent sums, computed side by side so that the multiply-adds do not wait for each other.
template <int R, int S>
[[gnu::always_inline]] inline void ForwardPair2x2(const ConvPoolShape& g, const float* padded,
                                                  const float* weights, const Float8& bias, int p,
                                                  int q, Float8* best, Float8* index) {
  const int wp = PaddedWidth(g);
  const int64_t plane = int64_t{PaddedHeight(g)} * wp;
  // Output k: pixel k / 4, window position k % 4 (row-major: i = (k / 2) % 2, j = k % 2).
  int64_t offset[8];
  for (int k = 0; k < 8; ++k) {
    const int h = p * 2 + (k / 2) % 2, x = (q + k / 4) * 2 + k % 2;
    offset[k] = int64_t{h} * g.stride_h * wp + int64_t{x} * g.stride_w;
  }
  Float8 acc[8];
  for (int k = 0; k < 8; ++k) acc[k] = bias;
  for (int c = 0; c < g.channels; ++c) {
    const float* base = padded + c * plane;
    for (int r = 0; r < R; ++r) {
      for (int s = 0; s < S; ++s) {
        const Float8 w = Load8(weights + ((c * R + r) * S + s) * 8);
        for (int k = 0; k < 8; ++k) acc[k] += base[offset[k] + r * wp + s] * w;
      }
    }
  }
  for (int pixel = 0; pixel < 2; ++pixel) {
    Float8 b = Float8{} - std::numeric_limits<float>::infinity();
    Float8 at = Float8{};
    for (int position = 0; position < 4; ++position) {
      Float8 v = acc[pixel * 4 + position];
      if (g.relu) v = v > Float8{} ? v : Float8{};
      const auto larger = v > b;
      b = larger ? v : b;
      at = larger ? Float8{} + static_cast<float>(position) : at;
    }
    best[pixel] = b;
    index[pixel] = at;
  }
}

// Writes one pooled pixel's maximum and argmax position.
[[gnu::always_inline]] inline void StorePooled(const ConvPoolShape& g, int n, int group, int p,
                                               int q, const Float8& best, const Float8& index,
                                               float* dst, uint8_t* argmax) {
  const int64_t at = DstOffset(g, n, group, int64_t{p} * g.out_w + q);
  Store8(dst + at, best);
  if (argmax != nullptr) {
    const Byte8 bytes = __builtin_convertvector(__builtin_convertvector(index, Int8), Byte8);
    std::memcpy(argmax + at, &bytes, sizeof bytes);
  }
}

template <int R, int S>
[[gnu::always_inline]] inline void ForwardSamples(const ConvPoolShape& g, const float* src,
                                                  const float* packed, const float* bias_packed,
                                                  float* dst, uint8_t* argmax, int n_begin,
                                                  int n_end, float* padded) {
  const bool two_by_two = g.window_h == 2 && g.window_w == 2;
  std::fill(padded, padded + PaddedSize(g), 0.0f);
  for (int n = n_begin; n < n_end; ++n) {
    PadSample(g, src, n, padded);
    for (int group = 0; group < Groups(g); ++group) {
      const float* weights = packed + int64_t{group} * g.channels * R * S * 8;
      const Float8 bias = Load8(bias_packed + group * 8);
      for (int p = 0; p < g.out_h; ++p) {
        int q = 0;
        if (two_by_two && p * 2 + 1 < g.conv_h) {
          for (; q + 1 < g.out_w && (q + 1) * 2 + 1 < g.conv_w; q += 2) {
            Float8 best[2], index[2];
            ForwardPair2x2<R, S>(g, padded, weights, bias, p, q, best, index);
            StorePooled(g, n, group, p, q, best[0], index[0], dst, argmax);
            StorePooled(g, n, group, p, q + 1, best[1], index[1], dst, argmax);
          }
        }
        for (; q < g.out_w; ++q) {
          Float8 best, index;
          ForwardPixel<R, S>(g, padded, weights, bias, p, q, &best, &index);
          StorePooled(g, n, group, p, q, best, index, dst, argmax);
        }
      }
    }
  }
}

// The R * S sums of one input channel stay in registers over the whole image; the routing of
// each window (argmax, ReLU) is recomputed per channel, which is cheap for at most four.
template <int R, int S>
[[gnu::always_inline]] inline void BackwardSamples(const ConvPoolShape& g, const float* src,
                                                   const uint8_t* argmax, const float* dst,
                                                   const float* diff_dst, int n_begin, int n_end,
                                                   float* padded, float* sums) {
  const int wp = PaddedWidth(g);
  const int64_t plane = int64_t{PaddedHeight(g)} * wp;
  float* bias_sums = sums + WeightsSize(g);
  std::fill(padded, padded + PaddedSize(g), 0.0f);
  for (int n = n_begin; n < n_end; ++n) {
    PadSample(g, src, n, padded);
    for (int group = 0; group < Groups(g); ++group) {
      Float8 bias = Load8(bias_sums + group * 8);
      for (int c = 0; c < g.channels; ++c) {
        float* target = sums + (int64_t{group} * g.channels + c) * R * S * 8;
        Float8 a[R * S];
        for (int k = 0; k < R * S; ++k) a[k] = Load8(target + k * 8);
        const float* base = padded + c * plane;
        for (int p = 0; p < g.out_h; ++p) {
          for (int q = 0; q < g.out_w; ++q) {
            const int64_t at = DstOffset(g, n, group, int64_t{p} * g.out_w + q);
            Float8 d = Load8(diff_dst + at);
            if (g.relu) d = Load8(dst + at) > Float8{} ? d : Float8{};
            Byte8 bytes;
            std::memcpy(&bytes, argmax + at, sizeof bytes);
            const Float8 index =
                __builtin_convertvector(__builtin_convertvector(bytes, Int8), Float8);
            for (int i = 0; i < g.window_h; ++i) {
              const int h = p * g.window_h + i;
              if (h >= g.conv_h) break;
              for (int j = 0; j < g.window_w; ++j) {
                const int x = q * g.window_w + j;
                if (x >= g.conv_w) break;
                const Float8 routed =
                    index == static_cast<float>(i * g.window_w + j) ? d : Float8{};
                if (c == 0) bias += routed;
                const float* window = base + int64_t{h} * g.stride_h * wp + int64_t{x} * g.stride_w;
                for (int r = 0; r < R; ++r) {
                  for (int s = 0; s < S; ++s) a[r * S + s] += window[r * wp + s] * routed;
                }
              }
            }
          }
        }
        for (int k = 0; k < R * S; ++k) Store8(target + k * 8, a[k]);
      }
      Store8(bias_sums + group * 8, bias);
    }
  }
}

#define LABBOOK_CONV_POOL_SIZES(X) X(3, 3) X(5, 5) X(2, 2) X(1, 1)

[[gnu::target_clones("arch=x86-64-v3", "default")]] void ForwardChunk(
    const ConvPoolShape& g, const float* src, const float* packed, const float* bias_packed,
    float* dst, uint8_t* argmax, int n_begin, int n_end, float* padded) {
#define LABBOOK_FORWARD(R, S)                                                               \
  if (g.kernel_h == R && g.kernel_w == S) {                                                 \
    ForwardSamples<R, S>(g, src, packed, bias_packed, dst, argmax, n_begin, n_end, padded); \
    return;                                                                                 \
  }
  LABBOOK_CONV_POOL_SIZES(LABBOOK_FORWARD)
#undef LABBOOK_FORWARD
}

[[gnu::target_clones("arch=x86-64-v3", "default")]] void BackwardChunk(
    const ConvPoolShape& g, const float* src, const uint8_t* argmax, const float* dst,
    const float* diff_dst, int n_begin, int n_end, float* padded, float* sums) {
#define LABBOOK_BACKWARD(R, S)                                                          \
  if (g.kernel_h == R && g.kernel_w == S) {                                             \
    BackwardSamples<R, S>(g, src, argmax, dst, diff_dst, n_begin, n_end, padded, sums); \
    return;                                                                             \
  }
  LABBOOK_CONV_POOL_SIZES(LABBOOK_BACKWARD)
#undef LABBOOK_BACKWARD
}

// Runs body(chunk, n_begin, n_end) over the fixed chunks of the batch, in parallel.
template <typename Body>
void ForChunksOfBatch(const ConvPoolShape& g, Body body) {
  const int chunks = Chunks(g);
#pragma omp parallel for schedule(static)
  for (int chunk = 0; chunk < chunks; ++chunk) {
    body(chunk, static_cast<int>(int64_t{g.batch} * chunk / chunks),
         static_cast<int>(int64_t{g.batch} * (chunk + 1) / chunks));
  }
}

}  // namespace

bool ConvPoolSupported(int kernel_h, int kernel_w) {
  return (kernel_h == 3 && kernel_w == 3) || (kernel_h == 5 && kernel_w == 5) ||
         (kernel_h == 2 && kernel_w == 2) || (kernel_h == 1 && kernel_w == 1);
}

int64_t ConvPoolScratchSize(const ConvPoolShape& g) {
  return WeightsSize(g) + int64_t{Groups(g)} * 8 + Chunks(g) * ChunkSize(g);
}

void ConvPoolForward(const ConvPoolShape& g, const float* src, const float* weights,
                     const float* bias, float* dst, uint8_t* argmax, float* scratch) {
  // Weights regrouped as [group][c][r][s][8 filters], zero past the last filter.
  const int rs = g.kernel_h * g.kernel_w;
  float* packed = scratch;
  float* bias_packed = packed + WeightsSize(g);
  std::fill(packed, bias_packed + Groups(g) * 8, 0.0f);
  for (int k = 0; k < g.filters; ++k) {
    for (int c = 0; c < g.channels; ++c) {
      for (int i = 0; i < rs; ++i) {
        packed[((int64_t{k / 8} * g.channels + c) * rs + i) * 8 + k % 8] =
            weights[(int64_t{k} * g.channels + c) * rs + i];
      }
    }
    if (bias != nullptr) bias_packed[k] = bias[k];
  }
  float* chunks = bias_packed + Groups(g) * 8;
  ForChunksOfBatch(g, [&](int chunk, int n_begin, int n_end) {
    ForwardChunk(g, src, packed, bias_packed, dst, argmax, n_begin, n_end,
                 chunks + chunk * ChunkSize(g));
  });
}

void ConvPoolBackwardWeights(const ConvPoolShape& g, const float* src, const uint8_t* argmax,
                             const float* dst, const float* diff_dst, float* scratch,
                             float* diff_weights, float* diff_bias) {
  float* chunks = scratch + WeightsSize(g) + int64_t{Groups(g)} * 8;
  const int64_t chunk_size = ChunkSize(g);
  ForChunksOfBatch(g, [&](int chunk, int n_begin, int n_end) {
    float* padded = chunks + chunk * chunk_size;
    float* sums = padded + PaddedSize(g);
    std::fill(sums, sums + WeightsSize(g) + int64_t{Groups(g)} * 8, 0.0f);
    BackwardChunk(g, src, argmax, dst, diff_dst, n_begin, n_end, padded, sums);
  });
  const int rs = g.kernel_h * g.kernel_w;
  for (int k = 0; k < g.filters; ++k) {
    for (int c = 0; c < g.channels; ++c) {
      for (int i = 0; i < rs; ++i) {
        float sum = 0;
        for (int chunk = 0; chunk < Chunks(g); ++chunk) {
          sum += chunks[chunk * chunk_size + PaddedSize(g) +
                        ((int64_t{k / 8} * g.channels + c) * rs + i) * 8 + k % 8];
        }
        diff_weights[(int64_t{k} * g.channels + c) * rs + i] = sum;
      }
    }
    if (diff_bias != nullptr) {
      float sum = 0;
      for (int chunk = 0; chunk < Chunks(g); ++chunk) {
        sum += chunks[chunk * chunk_size + PaddedSize(g) + WeightsSize(g) + k];
      }
      diff_bias[k] = sum;
    }
  }
}

}  // namespace labbook::nn::onednn
