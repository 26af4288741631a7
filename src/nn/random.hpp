// The one random source of nn: initial weights and dropout masks. std:: distributions are
// implementation-defined, so the transforms from bits to numbers are written here and the same
// seed gives the same numbers with any compiler and standard library.
#pragma once

#include <cstdint>

namespace labbook::nn {

// xoshiro256** (Blackman and Vigna), its state filled from the seed by splitmix64. Not
// thread-safe; one stream per consumer.
class Xoshiro256 {
 public:
  explicit Xoshiro256(uint64_t seed);

  uint64_t Next();
  // Uniform in [0, 1) with 53 random bits: exact, no rounding up to 1.
  double Uniform();
  // Standard normal by Box-Muller, one value per two uniforms (the sine partner is dropped so
  // that every value costs the same draws).
  double Normal();
  // Standard normal redrawn until |z| <= 2, as TensorFlow's truncated_normal.
  double TruncatedNormal();

 private:
  uint64_t s_[4];
};

// An independent stream number `stream` of `seed` (splitmix64 of both), so that e.g. each layer's
// initial weights do not depend on how many numbers the layers before it drew.
uint64_t MixSeed(uint64_t seed, uint64_t stream);

// Dropout's keep decisions for `count` units, in order, two from each Next(): unit 2j is kept
// when the low 32 bits of the j-th draw, as a fraction of 2^32, are >= rate, unit 2j+1 by the
// high 32 bits (a last odd unit takes the low half of a draw of its own). rate 0 keeps all, 1
// none.
// Every backend draws its masks with this, one call per Dropout layer per training Forward, in
// layer order, from one stream seeded by CompiledModel::SetSeed, so masks match across backends.
void DrawDropoutKeep(Xoshiro256& rng, double rate, int64_t count, uint8_t* keep);

}  // namespace labbook::nn
