#include "nn/random.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace labbook::nn {
namespace {

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t RotateLeft(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Xoshiro256::Xoshiro256(uint64_t seed) {
  uint64_t state = seed;
  for (uint64_t& word : s_) word = SplitMix64(state);
}

uint64_t Xoshiro256::Next() {
  const uint64_t result = RotateLeft(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = RotateLeft(s_[3], 45);
  return result;
}

double Xoshiro256::Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

double Xoshiro256::Normal() {
  // 1 - Uniform() lies in (0, 1], so the logarithm is finite.
  const double radius = std::sqrt(-2.0 * std::log(1.0 - Uniform()));
  return radius * std::cos(2.0 * std::numbers::pi * Uniform());
}

double Xoshiro256::TruncatedNormal() {
  for (;;) {
    const double z = Normal();
    if (std::fabs(z) <= 2.0) return z;
  }
}

uint64_t MixSeed(uint64_t seed, uint64_t stream) {
  uint64_t state = seed;
  const uint64_t a = SplitMix64(state);
  state = a ^ (stream * 0xd1b54a32d192ed03ULL);
  return SplitMix64(state);
}

void DrawDropoutKeep(Xoshiro256& rng, double rate, int64_t count, uint8_t* keep) {
  // A unit is kept when its 32 bits u satisfy u / 2^32 >= rate, that is u >= ceil(rate * 2^32):
  // two units a draw, so a batch's mask costs half the generator's steps of one draw a unit.
  const double scaled = std::ceil(std::clamp(rate, 0.0, 1.0) * 0x1.0p32);
  const uint64_t threshold = static_cast<uint64_t>(scaled);
  int64_t i = 0;
  for (; i + 1 < count; i += 2) {
    const uint64_t bits = rng.Next();
    keep[i] = (bits & 0xffffffffu) >= threshold ? 1 : 0;
    keep[i + 1] = (bits >> 32) >= threshold ? 1 : 0;
  }
  if (i < count) keep[i] = (rng.Next() & 0xffffffffu) >= threshold ? 1 : 0;
}

}  // namespace labbook::nn
