// MaxPoolForward and MaxPoolBackward (kernels.hpp): max pooling of channel-blocked activations.
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
}  // namespace labbook::nn::onednn
