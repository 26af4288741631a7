// The element-wise loops of kernels.hpp: bf16 rounding and dropout masking.
#include "nn/onednn/kernels.hpp"

#include <algorithm>
#include <bit>
#include <type_traits>

#include "nn/onednn/simd.hpp"

namespace labbook::nn::onednn {
namespace {

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

// keep ? value : +0, without a branch: the keep decisions are random, so a branch would be
// mispredicted half the time.
inline float Masked(uint8_t keep, float value) {
  return std::bit_cast<float>(std::bit_cast<uint32_t>(value) & (0u - uint32_t{keep != 0}));
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
            FromFloat<T>(Masked(k[x], ToFloat(src[x * il.pixel_stride]) * scale));
      }
    }
  }
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

void ApplyKeepMask(int64_t count, const uint8_t* keep, float scale, const float* in, float* out) {
  ForChunks(count, [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = Masked(keep[i], in[i] * scale);
  });
}

void ApplyKeepMask(int64_t count, const uint8_t* keep, float scale, const uint16_t* in,
                   uint16_t* out) {
  ForChunks(count, [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      out[i] = FloatToBf16Bits(Masked(keep[i], Bf16BitsToFloat(in[i]) * scale));
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
