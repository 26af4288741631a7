#include "metrics/radix_sort.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <vector>

namespace labbook::metrics::internal {
namespace {

constexpr int kDigitBits = 11;
constexpr size_t kBuckets = size_t{1} << kDigitBits;
constexpr uint64_t kDigitMask = kBuckets - 1;
// Below this size a comparison sort beats the histogram passes.
constexpr size_t kComparisonSortBelow = 256;
// Buckets up to this many keys (two 256 KiB arrays) are sorted while they sit in the L2 cache.
constexpr size_t kInCacheKeys = size_t{1} << 16;
// The most-significant-digit pass spreads the keys over this many buckets, cut from a histogram
// of this many top bits.
constexpr size_t kMsdBuckets = 2048;
constexpr int kMsdHistogramBits = 16;

// LSD radix sort of keys that agree on every bit at or above kDigits * kDigitBits. Digits that
// are the same in every key are skipped. Returns from or to, whichever holds the result.
template <int kDigits>
uint64_t* LsdSortDigits(uint64_t* from, uint64_t* to, size_t n) {
  std::array<std::array<uint32_t, kBuckets>, kDigits> counts{};
  for (size_t i = 0; i < n; ++i) {
    const uint64_t key = from[i];
    for (int d = 0; d < kDigits; ++d) ++counts[d][(key >> (d * kDigitBits)) & kDigitMask];
  }
  for (int d = 0; d < kDigits; ++d) {
    const int shift = d * kDigitBits;
    auto& count = counts[d];
    if (count[(from[0] >> shift) & kDigitMask] == n) continue;
    uint32_t sum = 0;
    for (uint32_t& c : count) {
      const uint32_t bucket_size = c;
      c = sum;
      sum += bucket_size;
    }
    for (size_t i = 0; i < n; ++i) {
      const uint64_t key = from[i];
      to[count[(key >> shift) & kDigitMask]++] = key;
    }
    std::swap(from, to);
  }
  return from;
}

// LSD radix sort of keys that agree on every bit at or above `bits`.
uint64_t* LsdSort(uint64_t* from, uint64_t* to, size_t n, int bits) {
  switch ((bits + kDigitBits - 1) / kDigitBits) {
    case 1:
      return LsdSortDigits<1>(from, to, n);
    case 2:
      return LsdSortDigits<2>(from, to, n);
    case 3:
      return LsdSortDigits<3>(from, to, n);
    case 4:
      return LsdSortDigits<4>(from, to, n);
    case 5:
      return LsdSortDigits<5>(from, to, n);
    default:
      return LsdSortDigits<6>(from, to, n);
  }
}

// Sorts keys[0..n) in place, using scratch[0..n).
void SortInPlace(uint64_t* keys, uint64_t* scratch, size_t n) {
  const uint64_t* sorted = RadixSortKeys(keys, scratch, n);
  if (sorted != keys) std::memcpy(keys, sorted, n * sizeof(uint64_t));
}

// One most-significant-digit pass moves the keys into about kMsdBuckets buckets of similar size,
// which are then sorted one by one while they sit in cache. Scores are far from uniform (most
// probabilities share a few exponents), so buckets are not single digit values: a histogram of
// the top 16 varying bits is cut into runs of digits that hold about n / kMsdBuckets keys each.
uint64_t* MsdSort(uint64_t* keys, uint64_t* scratch, size_t n, int bits) {
  const int digit_bits = std::min(bits, kMsdHistogramBits);
  const int shift = bits - digit_bits;
  const size_t digits = size_t{1} << digit_bits;
  const uint64_t mask = digits - 1;
  std::vector<uint32_t> histogram(digits, 0);
  for (size_t i = 0; i < n; ++i) ++histogram[(keys[i] >> shift) & mask];

  std::vector<uint16_t> bucket_of(digits);
  std::vector<size_t> start;  // start[b]: first key of bucket b; ends with n
  start.reserve(kMsdBuckets + 1);
  const size_t target = std::max<size_t>(n / kMsdBuckets, 1);
  size_t filled = 0;
  size_t total = 0;
  start.push_back(0);
  for (size_t d = 0; d < digits; ++d) {
    if (filled > 0 && filled + histogram[d] > target && start.size() < kMsdBuckets) {
      start.push_back(total);
      filled = 0;
    }
    bucket_of[d] = static_cast<uint16_t>(start.size() - 1);
    filled += histogram[d];
    total += histogram[d];
  }
  start.push_back(n);

  std::vector<size_t> offset(start.begin(), start.end() - 1);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t key = keys[i];
    scratch[offset[bucket_of[(key >> shift) & mask]]++] = key;
  }
  for (size_t b = 0; b + 1 < start.size(); ++b) {
    const size_t size = start[b + 1] - start[b];
    if (size > 1) SortInPlace(scratch + start[b], keys + start[b], size);
  }
  return scratch;
}

}  // namespace

uint64_t* RadixSortKeys(uint64_t* keys, uint64_t* scratch, size_t n) {
  if (n < kComparisonSortBelow) {
    std::sort(keys, keys + n);
    return keys;
  }
  // Only the bits that differ somewhere need sorting.
  uint64_t varying = 0;
  const uint64_t first = keys[0];
  for (size_t i = 0; i < n; ++i) varying |= keys[i] ^ first;
  if (varying == 0) return keys;
  const int bits = 64 - std::countl_zero(varying);
  if (n <= kInCacheKeys) return LsdSort(keys, scratch, n, bits);
  return MsdSort(keys, scratch, n, bits);
}

}  // namespace labbook::metrics::internal
