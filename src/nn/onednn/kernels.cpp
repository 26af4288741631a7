#include "nn/onednn/kernels.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <type_traits>

#include <omp.h>

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

// Eight floats: one AVX register (two SSE ones in the default build), so that the sums below
// stay in registers. The helpers are always inlined, so the ABI of passing such vectors, which
// GCC warns differs with and without AVX, never comes into play.
using Float8 = float __attribute__((vector_size(32)));
using Int8 = int32_t __attribute__((vector_size(32)));
using Byte8 = uint8_t __attribute__((vector_size(8)));

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
[[gnu::always_inline]] inline Float8 Load8(const float* p) {
  Float8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

[[gnu::always_inline]] inline void Store8(float* p, Float8 v) { std::memcpy(p, &v, sizeof v); }

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

// The pooling kernels hold B channel lanes as B / 8 vectors of eight floats (B = 8 or 16), or one
// scalar (B = 1, plain NCHW); argmax positions travel as floats so that compares and selects
// stay in one vector width, and are stored as bytes. Everything that passes these vectors by
// value is always inlined into the target_clones functions: a call between an AVX2 clone and a
// default-target function would disagree on how such vectors are passed.
template <int B>
struct Lanes {
  static constexpr int kVectors = B / 8;
  Float8 v[kVectors];
  [[gnu::always_inline]] static Lanes Load(const float* p) {
    Lanes l;
    for (int i = 0; i < kVectors; ++i) l.v[i] = Load8(p + 8 * i);
    return l;
  }
  [[gnu::always_inline]] static Lanes Fill(float x) {
    Lanes l;
    for (int i = 0; i < kVectors; ++i) l.v[i] = Float8{} + x;
    return l;
  }
  [[gnu::always_inline]] static Lanes LoadBytes(const uint8_t* p) {
    Lanes l;
    for (int i = 0; i < kVectors; ++i) {
      Byte8 bytes;
      std::memcpy(&bytes, p + 8 * i, sizeof bytes);
      l.v[i] = __builtin_convertvector(__builtin_convertvector(bytes, Int8), Float8);
    }
    return l;
  }
  [[gnu::always_inline]] void Store(float* p) const {
    for (int i = 0; i < kVectors; ++i) Store8(p + 8 * i, v[i]);
  }
  [[gnu::always_inline]] void StoreBytes(uint8_t* p) const {
    for (int i = 0; i < kVectors; ++i) {
      const Byte8 bytes = __builtin_convertvector(__builtin_convertvector(v[i], Int8), Byte8);
      std::memcpy(p + 8 * i, &bytes, sizeof bytes);
    }
  }
};

template <>
struct Lanes<1> {
  float v;
  [[gnu::always_inline]] static Lanes Load(const float* p) { return {*p}; }
  [[gnu::always_inline]] static Lanes Fill(float x) { return {x}; }
  [[gnu::always_inline]] static Lanes LoadBytes(const uint8_t* p) {
    return {static_cast<float>(*p)};
  }
  [[gnu::always_inline]] void Store(float* p) const { *p = v; }
  [[gnu::always_inline]] void StoreBytes(uint8_t* p) const { *p = static_cast<uint8_t>(v); }
};

// best, index = (x > best) ? (x, position) : (best, index), lane by lane.
template <int B>
[[gnu::always_inline]] inline void KeepLarger(const Lanes<B>& x, float position, Lanes<B>* best,
                                              Lanes<B>* index) {
  if constexpr (B == 1) {
    const bool larger = x.v > best->v;
    best->v = larger ? x.v : best->v;
    index->v = larger ? position : index->v;
  } else {
    for (int i = 0; i < Lanes<B>::kVectors; ++i) {
      const auto larger = x.v[i] > best->v[i];
      best->v[i] = larger ? x.v[i] : best->v[i];
      index->v[i] = larger ? Float8{} + position : index->v[i];
    }
  }
}

// d where index == position, else 0, lane by lane.
template <int B>
[[gnu::always_inline]] inline Lanes<B> RouteTo(const Lanes<B>& d, const Lanes<B>& index,
                                               float position) {
  Lanes<B> out;
  if constexpr (B == 1) {
    out.v = index.v == position ? d.v : 0.0f;
  } else {
    for (int i = 0; i < Lanes<B>::kVectors; ++i) {
      out.v[i] = index.v[i] == position ? d.v[i] : Float8{};
    }
  }
  return out;
}

// d where relu_dst > 0, else 0.
template <int B>
[[gnu::always_inline]] inline Lanes<B> WherePositive(const Lanes<B>& d, const Lanes<B>& relu_dst) {
  Lanes<B> out;
  if constexpr (B == 1) {
    out.v = relu_dst.v > 0 ? d.v : 0.0f;
  } else {
    for (int i = 0; i < Lanes<B>::kVectors; ++i) {
      out.v[i] = relu_dst.v[i] > 0 ? d.v[i] : Float8{};
    }
  }
  return out;
}

// Planes [begin, end) of (sample, channel block), one after the other. The parallel loop that
// hands out the planes lives outside the target_clones functions: OpenMP outlines a parallel
// region's body into a function of its own, which would lose the AVX2 target.
template <int B>
[[gnu::always_inline]] inline void MaxPoolForwardBlocks(const PoolShape& g, const float* src,
                                                        float* dst, uint8_t* argmax, int64_t begin,
                                                        int64_t end) {
  const int blocks = (g.channels + B - 1) / B;
  const int64_t in_plane = int64_t{g.in_h} * g.in_w * B;
  const int64_t out_plane = int64_t{g.out_h} * g.out_w * B;
  for (int64_t plane = begin; plane < end; ++plane) {
    const int64_t n = plane / blocks, cb = plane % blocks;
    {
      const float* in = src + n * g.src_batch_stride + cb * in_plane;
      const int64_t out_base = n * g.dst_batch_stride + cb * out_plane;
      for (int p = 0; p < g.out_h; ++p) {
        for (int q = 0; q < g.out_w; ++q) {
          Lanes<B> best = Lanes<B>::Fill(-std::numeric_limits<float>::infinity());
          Lanes<B> index = Lanes<B>::Fill(0);
          for (int r = 0; r < g.window_h; ++r) {
            const int ih = p * g.stride_h - g.pad_top + r;
            if (ih < 0 || ih >= g.in_h) continue;
            for (int s = 0; s < g.window_w; ++s) {
              const int iw = q * g.stride_w - g.pad_left + s;
              if (iw < 0 || iw >= g.in_w) continue;
              KeepLarger(Lanes<B>::Load(in + (int64_t{ih} * g.in_w + iw) * B),
                         static_cast<float>(r * g.window_w + s), &best, &index);
            }
          }
          const int64_t at = out_base + (int64_t{p} * g.out_w + q) * B;
          best.Store(dst + at);
          if (argmax != nullptr) index.StoreBytes(argmax + at);
        }
      }
    }
  }
}

template <int B>
[[gnu::always_inline]] inline void MaxPoolBackwardBlocks(const PoolShape& g, const uint8_t* argmax,
                                                         const float* diff_dst,
                                                         const float* relu_dst, float* diff_src,
                                                         int64_t begin, int64_t end) {
  const int blocks = (g.channels + B - 1) / B;
  const int64_t in_plane = int64_t{g.in_h} * g.in_w * B;
  const int64_t out_plane = int64_t{g.out_h} * g.out_w * B;
  // Windows that tile the image exactly write every element once; others need zeros first and
  // sums where they overlap.
  const bool tiles = g.stride_h == g.window_h && g.stride_w == g.window_w && g.pad_top == 0 &&
                     g.pad_left == 0 && g.out_h * g.stride_h == g.in_h &&
                     g.out_w * g.stride_w == g.in_w;
  for (int64_t plane = begin; plane < end; ++plane) {
    const int64_t n = plane / blocks, cb = plane % blocks;
    {
      float* out = diff_src + n * g.src_batch_stride + cb * in_plane;
      const int64_t base = n * g.dst_batch_stride + cb * out_plane;
      if (!tiles) std::fill(out, out + in_plane, 0.0f);
      for (int p = 0; p < g.out_h; ++p) {
        for (int q = 0; q < g.out_w; ++q) {
          const int64_t at = base + (int64_t{p} * g.out_w + q) * B;
          Lanes<B> d = Lanes<B>::Load(diff_dst + at);
          if (relu_dst != nullptr) d = WherePositive(d, Lanes<B>::Load(relu_dst + at));
          if (tiles) {
            const Lanes<B> index = Lanes<B>::LoadBytes(argmax + at);
            for (int r = 0; r < g.window_h; ++r) {
              for (int s = 0; s < g.window_w; ++s) {
                float* v = out + (int64_t{p * g.stride_h + r} * g.in_w + q * g.stride_w + s) * B;
                RouteTo(d, index, static_cast<float>(r * g.window_w + s)).Store(v);
              }
            }
            continue;
          }
          float lanes[B];
          d.Store(lanes);
          for (int b = 0; b < B; ++b) {
            const int r = argmax[at + b] / g.window_w, s = argmax[at + b] % g.window_w;
            const int ih = p * g.stride_h - g.pad_top + r;
            const int iw = q * g.stride_w - g.pad_left + s;
            out[(int64_t{ih} * g.in_w + iw) * B + b] += lanes[b];
          }
        }
      }
    }
  }
}

[[gnu::target_clones("arch=x86-64-v3", "default")]] void MaxPoolForwardPlanes(
    const PoolShape& g, const float* src, float* dst, uint8_t* argmax, int64_t begin, int64_t end) {
  if (g.block == 16) {
    MaxPoolForwardBlocks<16>(g, src, dst, argmax, begin, end);
  } else if (g.block == 8) {
    MaxPoolForwardBlocks<8>(g, src, dst, argmax, begin, end);
  } else {
    MaxPoolForwardBlocks<1>(g, src, dst, argmax, begin, end);
  }
}

[[gnu::target_clones("arch=x86-64-v3", "default")]] void MaxPoolBackwardPlanes(
    const PoolShape& g, const uint8_t* argmax, const float* diff_dst, const float* relu_dst,
    float* diff_src, int64_t begin, int64_t end) {
  if (g.block == 16) {
    MaxPoolBackwardBlocks<16>(g, argmax, diff_dst, relu_dst, diff_src, begin, end);
  } else if (g.block == 8) {
    MaxPoolBackwardBlocks<8>(g, argmax, diff_dst, relu_dst, diff_src, begin, end);
  } else {
    MaxPoolBackwardBlocks<1>(g, argmax, diff_dst, relu_dst, diff_src, begin, end);
  }
}

// Runs body(begin, end) over the (sample, channel block) planes of `g`, in parallel when the
// planes hold enough elements.
template <typename Body>
void ForPlanes(const PoolShape& g, int64_t plane_elements, Body body) {
  const int64_t planes = int64_t{g.batch} * ((g.channels + g.block - 1) / g.block);
  if (planes * plane_elements < kParallelThreshold) {
    body(int64_t{0}, planes);
    return;
  }
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
    body(planes * thread / threads, planes * (thread + 1) / threads);
  }
}

#pragma GCC diagnostic pop

}  // namespace

void MaxPoolForward(const PoolShape& shape, const float* src, float* dst, uint8_t* argmax) {
  ForPlanes(shape, int64_t{shape.in_h} * shape.in_w * shape.block, [&](int64_t begin, int64_t end) {
    MaxPoolForwardPlanes(shape, src, dst, argmax, begin, end);
  });
}

void MaxPoolBackward(const PoolShape& shape, const uint8_t* argmax, const float* diff_dst,
                     const float* relu_dst, float* diff_src) {
  ForPlanes(shape, int64_t{shape.in_h} * shape.in_w * shape.block, [&](int64_t begin, int64_t end) {
    MaxPoolBackwardPlanes(shape, argmax, diff_dst, relu_dst, diff_src, begin, end);
  });
}

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
