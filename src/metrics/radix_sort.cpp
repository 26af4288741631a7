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
constexpr size_t kMsdBuckets = 256;
constexpr int kMsdHistogramBits = 16;
// Runs of keys that agree on every radix-sorted bit and are at most this long are finished by
// insertion sort, longer ones by std::sort.
constexpr size_t kInsertionSortRun = 32;

// LSD radix sort on bits [low, low + kDigits * kDigitBits) of the keys. Digits that are the same
// in every key are skipped. Returns from or to, whichever holds the result.
template <int kDigits>
uint64_t* LsdSortDigits(uint64_t* from, uint64_t* to, size_t n, int low) {
  std::array<std::array<uint32_t, kBuckets>, kDigits> counts{};
  for (size_t i = 0; i < n; ++i) {
    const uint64_t key = from[i] >> low;
    for (int d = 0; d < kDigits; ++d) ++counts[d][(key >> (d * kDigitBits)) & kDigitMask];
  }
  for (int d = 0; d < kDigits; ++d) {
    const int shift = low + d * kDigitBits;
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

uint64_t* LsdSort(uint64_t* from, uint64_t* to, size_t n, int low, int digits) {
  switch (digits) {
    case 1:
      return LsdSortDigits<1>(from, to, n, low);
    case 2:
      return LsdSortDigits<2>(from, to, n, low);
    case 3:
      return LsdSortDigits<3>(from, to, n, low);
    case 4:
      return LsdSortDigits<4>(from, to, n, low);
    case 5:
      return LsdSortDigits<5>(from, to, n, low);
    default:
      return LsdSortDigits<6>(from, to, n, low);
  }
}

// Finishes keys sorted on their bits at and above `low`: each run that agrees on those bits is
// sorted on the rest. Scores rarely differ only below `low`, so runs are short or ties.
void SortRunsBelow(uint64_t* keys, size_t n, int low) {
  for (size_t i = 0; i < n;) {
    const uint64_t prefix = keys[i] >> low;
    size_t j = i + 1;
    while (j < n && keys[j] >> low == prefix) ++j;
    if (j - i > 1) {
      if (j - i <= kInsertionSortRun) {
        for (size_t a = i + 1; a < j; ++a) {
          const uint64_t key = keys[a];
          size_t b = a;
          for (; b > i && keys[b - 1] > key; --b) keys[b] = keys[b - 1];
          keys[b] = key;
        }
      } else if (!std::is_sorted(keys + i, keys + j)) {
        std::sort(keys + i, keys + j);
      }
    }
    i = j;
  }
}

// Sorts keys[0..n) that fit in cache and agree on every bit at or above `bits`: LSD passes over
// at most `max_digits` digits of the top varying bits, then SortRunsBelow for the bits left.
uint64_t* SortInCache(uint64_t* keys, uint64_t* scratch, size_t n, int bits, int max_digits) {
  const int digits = std::min((bits + kDigitBits - 1) / kDigitBits, max_digits);
  const int low = std::max(bits - digits * kDigitBits, 0);
  uint64_t* sorted = LsdSort(keys, scratch, n, low, digits);
  if (low > 0) SortRunsBelow(sorted, n, low);
  return sorted;
}

// The digits an in-cache sort takes before finishing runs by comparison: two (22 bits) for the
// buckets of the MSD pass, which leave few keys to tell apart, three for larger arrays.
int MaxDigitsFor(size_t n) { return n <= kInCacheKeys / 8 ? 2 : 3; }

// One most-significant-digit pass moves the keys into about kMsdBuckets buckets of similar size,
// which are then sorted one by one while they sit in cache (few buckets keep the scatter's write
// streams few; each bucket's own sort is cheap whatever its size, as it stops after two digits). Scores are far from uniform (most
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
    if (size <= 1) continue;
    uint64_t* bucket = scratch + start[b];
    const uint64_t* sorted = RadixSortKeys(bucket, keys + start[b], size);
    if (sorted != bucket) std::memcpy(bucket, sorted, size * sizeof(uint64_t));
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
  if (n <= kInCacheKeys) return SortInCache(keys, scratch, n, bits, MaxDigitsFor(n));
  return MsdSort(keys, scratch, n, bits);
}

}  // namespace labbook::metrics::internal
