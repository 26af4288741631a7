// Eight floats as one AVX register (two SSE ones in the default build), for the loops of the
// oneDNN backend that are vectorised by hand: GCC keeps such vectors in registers where it would
// leave arrays in memory. Functions that pass them by value must be always inlined into their
// target_clones callers: a call between an AVX2 clone and a default-target function would
// disagree on how such vectors are passed (the ABI change GCC's -Wpsabi warns about, which the
// users of this header silence).
#pragma once

#include <cstdint>
#include <cstring>

namespace labbook::nn::onednn {

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
#pragma GCC diagnostic pop

// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kParallelThreshold = 1 << 15;

}  // namespace labbook::nn::onednn
