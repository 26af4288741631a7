// Sorting doubles by their bits: the hot spot of every ranking metric.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace labbook::metrics::internal {

// Order-preserving map of finite doubles onto uint64: a < b exactly when OrderedKey(a) <
// OrderedKey(b), and OrderedKey(-0.0) == OrderedKey(0.0) because sklearn's np.diff sees one score.
inline uint64_t OrderedKey(double value) {
  value += 0.0;  // -0.0 + 0.0 is +0.0 under round-to-nearest
  const auto bits = std::bit_cast<uint64_t>(value);
  const auto flip = static_cast<uint64_t>(static_cast<int64_t>(bits) >> 63) | (uint64_t{1} << 63);
  return bits ^ flip;
}

// The double whose OrderedKey is `key` (for -0.0, the key of +0.0 gives +0.0).
inline double ValueOfKey(uint64_t key) {
  const uint64_t bits = (key >> 63) != 0 ? key ^ (uint64_t{1} << 63) : ~key;
  return std::bit_cast<double>(bits);
}

// Sorts keys[0..n) ascending. Only the bits that vary between keys are sorted on: arrays that fit
// in cache take LSD radix passes of 11-bit digits over their top two or three varying digits, then
// each run of keys that agree on those is finished by comparison (scores that differ only further
// down are rare, and ties need nothing); large arrays first take one MSD pass into about 256
// buckets of similar size, each then sorted that way while it is in cache. scratch must hold n
// keys. Returns the array that holds the sorted keys: keys or scratch.
uint64_t* RadixSortKeys(uint64_t* keys, uint64_t* scratch, size_t n);

}  // namespace labbook::metrics::internal
