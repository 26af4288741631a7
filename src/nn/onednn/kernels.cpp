#include "nn/onednn/kernels.hpp"

#include <algorithm>
#include <bit>
#include <type_traits>

namespace labbook::nn::onednn {
namespace {

// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kParallelThreshold = 1 << 15;
constexpr int64_t kChunk = 1 << 14;

inline uint32_t RoundBits(uint32_t bits) {
  const uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) & 0xFFFF0000u;
  const uint32_t quiet_nan = (bits | 0x00400000u) & 0xFFFF0000u;
  return (bits & 0x7FFFFFFFu) > 0x7F800000u ? quiet_nan : rounded;
}

inline uint16_t FloatToBf16Bits(float value) {
  return static_cast<uint16_t>(RoundBits(std::bit_cast<uint32_t>(value)) >> 16);
}

inline float Bf16BitsToFloat(uint16_t bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

// Runs body(begin, end) over [0, count) in fixed chunks, in parallel when it pays.
template <typename Body>
void ForChunks(int64_t count, Body body) {
  if (count < kParallelThreshold) {
    body(int64_t{0}, count);
    return;
  }
  const int64_t chunks = (count + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    body(c * kChunk, std::min(count, (c + 1) * kChunk));
  }
}

template <typename T>
inline float ToFloat(T value) {
  if constexpr (std::is_same_v<T, float>) {
    return value;
  } else {
    return Bf16BitsToFloat(value);
  }
}

template <typename T>
inline T FromFloat(float value) {
  if constexpr (std::is_same_v<T, float>) {
    return value;
  } else {
    return FloatToBf16Bits(value);
  }
}

template <typename T>
void DropoutAcross(int batch, int channels, int64_t pixels, const uint8_t* keep, float scale,
                   const T* in, const ChannelLayout& il, T* out, const ChannelLayout& ol) {
  const int padded = (channels + ol.block - 1) / ol.block * ol.block;
  const bool parallel = int64_t{batch} * channels * pixels >= kParallelThreshold;
#pragma omp parallel for schedule(static) if (parallel)
  for (int n = 0; n < batch; ++n) {
    for (int c = 0; c < padded; ++c) {
      T* dst = out + n * ol.batch_stride + (c / ol.block) * ol.block_stride + c % ol.block;
      if (c >= channels) {
        for (int64_t x = 0; x < pixels; ++x) dst[x * ol.pixel_stride] = T{0};
        continue;
      }
      const uint8_t* k = keep + (int64_t{n} * channels + c) * pixels;
      const T* src = in + n * il.batch_stride + (c / il.block) * il.block_stride + c % il.block;
      for (int64_t x = 0; x < pixels; ++x) {
        dst[x * ol.pixel_stride] =
            k[x] ? FromFloat<T>(ToFloat(src[x * il.pixel_stride]) * scale) : T{0};
      }
    }
  }
}

// The number of batch chunks SmallConvBackwardWeights sums separately: fixed, so that the
// order of the additions does not depend on the thread count.
int SmallConvChunks(const SmallConvShape& g) { return std::min(g.batch, 8); }

int64_t SmallConvChunkSize(const SmallConvShape& g) {
  const int64_t blocks = (g.filters + g.block - 1) / g.block;
  return blocks * g.block * (int64_t{g.channels} * g.kernel_h * g.kernel_w + 1);
}

// One chunk of samples into `acc`: [block][c][r][s][B] kernel sums, then [block][B] bias sums.
template <int B>
[[gnu::always_inline]] inline void SmallConvChunk(const SmallConvShape& g, const float* src,
                                                  const float* diff_dst, int n_begin, int n_end,
                                                  float* acc) {
  const int blocks = (g.filters + B - 1) / B;
  const int rs = g.kernel_h * g.kernel_w;
  const int64_t plane = int64_t{g.out_h} * g.out_w * B;
  float* bias_acc = acc + int64_t{blocks} * g.channels * rs * B;
  for (int n = n_begin; n < n_end; ++n) {
    for (int kb = 0; kb < blocks; ++kb) {
      const float* dy = diff_dst + (int64_t{n} * blocks + kb) * plane;
      float bias[B] = {};
      for (int64_t i = 0; i < plane; i += B) {
        for (int b = 0; b < B; ++b) bias[b] += dy[i + b];
      }
      for (int b = 0; b < B; ++b) bias_acc[kb * B + b] += bias[b];
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
              float a[B];
              float* target = kernel_acc + (r * g.kernel_w + s) * B;
              for (int b = 0; b < B; ++b) a[b] = target[b];
              for (int q = q_begin; q < q_end; ++q) {
                const float xv = x_row[q * g.stride_w + shift];
                const float* d = dy_row + int64_t{q} * B;
                for (int b = 0; b < B; ++b) a[b] += xv * d[b];
              }
              for (int b = 0; b < B; ++b) target[b] = a[b];
            }
          }
        }
      }
    }
  }
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

void DropoutAcrossLayouts(int batch, int channels, int64_t pixels, const uint8_t* keep, float scale,
                          const float* in, const ChannelLayout& in_layout, float* out,
                          const ChannelLayout& out_layout) {
  DropoutAcross(batch, channels, pixels, keep, scale, in, in_layout, out, out_layout);
}

void DropoutAcrossLayouts(int batch, int channels, int64_t pixels, const uint8_t* keep, float scale,
                          const uint16_t* in, const ChannelLayout& in_layout, uint16_t* out,
                          const ChannelLayout& out_layout) {
  DropoutAcross(batch, channels, pixels, keep, scale, in, in_layout, out, out_layout);
}

int64_t SmallConvPartialsSize(const SmallConvShape& shape) {
  return SmallConvChunks(shape) * SmallConvChunkSize(shape);
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
    if (g.block == 16) {
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

void ApplyKeepMask(int64_t count, const uint8_t* keep, float scale, const float* in, float* out) {
  ForChunks(count, [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = keep[i] ? in[i] * scale : 0.0f;
  });
}

void ApplyKeepMask(int64_t count, const uint8_t* keep, float scale, const uint16_t* in,
                   uint16_t* out) {
  ForChunks(count, [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      out[i] = keep[i] ? FloatToBf16Bits(Bf16BitsToFloat(in[i]) * scale) : uint16_t{0};
    }
  });
}

void RoundToBFloat16(int64_t count, const float* in, float* out) {
  ForChunks(count, [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      out[i] = std::bit_cast<float>(RoundBits(std::bit_cast<uint32_t>(in[i])));
    }
  });
}

float RoundToBFloat16(float value) {
  return std::bit_cast<float>(RoundBits(std::bit_cast<uint32_t>(value)));
}

}  // namespace labbook::nn::onednn
