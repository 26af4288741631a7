// The order-preserving key and the radix sort against std::sort.
#include "metrics/radix_sort.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace labbook::metrics::internal {
namespace {

TEST(MetricsOrderedKeyTest, PreservesTheOrderOfDoubles) {
  const double max = std::numeric_limits<double>::max();
  const double tiny = std::numeric_limits<double>::denorm_min();
  const std::vector<double> ascending = {-max, -1e300, -2.5, -1.0, -tiny, 0.0,
                                         tiny, 1e-300, 0.5,  1.0,  3.0,   max};
  for (size_t i = 0; i + 1 < ascending.size(); ++i) {
    EXPECT_LT(OrderedKey(ascending[i]), OrderedKey(ascending[i + 1])) << ascending[i];
    EXPECT_EQ(ValueOfKey(OrderedKey(ascending[i])), ascending[i]);
  }
  EXPECT_EQ(OrderedKey(-0.0), OrderedKey(0.0));
  EXPECT_FALSE(std::signbit(ValueOfKey(OrderedKey(-0.0))));
  EXPECT_LT(OrderedKey(-std::numeric_limits<double>::infinity()), OrderedKey(-max));
  EXPECT_GT(OrderedKey(std::numeric_limits<double>::infinity()), OrderedKey(max));
}

TEST(MetricsRadixSortTest, SortsLikeStdSortAtEverySize) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0.0, 10.0);
  for (size_t n : {0, 1, 2, 511, 512, 513, 4000, 100000}) {
    for (int granularity : {0, 1, 100}) {  // 0: full precision, else rounded: many ties
      std::vector<uint64_t> keys(n);
      for (uint64_t& key : keys) {
        double v = normal(rng);
        if (granularity > 0) v = std::round(v * granularity) / granularity;
        key = OrderedKey(v);
      }
      std::vector<uint64_t> expected = keys;
      std::sort(expected.begin(), expected.end());
      std::vector<uint64_t> scratch(n);
      const uint64_t* sorted = RadixSortKeys(keys.data(), scratch.data(), n);
      EXPECT_TRUE(std::equal(expected.begin(), expected.end(), sorted))
          << "n=" << n << " granularity=" << granularity;
    }
  }
}

TEST(MetricsRadixSortTest, SkipsDigitsThatNeverChange) {
  // Keys that differ only in their lowest byte take a single pass.
  std::vector<uint64_t> keys(1000);
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = 0xabcdef0000000000ULL | ((i * 37) % 251);
  std::vector<uint64_t> expected = keys;
  std::sort(expected.begin(), expected.end());
  std::vector<uint64_t> scratch(keys.size());
  const uint64_t* sorted = RadixSortKeys(keys.data(), scratch.data(), keys.size());
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), sorted));
}

TEST(MetricsRadixSortTest, SortsSkewedInputsWithHugeTieGroups) {
  // Most keys in one value, the rest spread over a few exponents: the MSD pass must cut uneven
  // buckets and recurse into the one that holds the tie group.
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<uint64_t> keys(300000);
  for (size_t i = 0; i < keys.size(); ++i) {
    const double v = i % 4 != 0 ? 0.25 : std::pow(2.0, -8 * uniform(rng));
    keys[i] = OrderedKey(i % 7 == 0 ? 0.25 + 1e-16 * static_cast<double>(i % 5) : v);
  }
  std::vector<uint64_t> expected = keys;
  std::sort(expected.begin(), expected.end());
  std::vector<uint64_t> scratch(keys.size());
  const uint64_t* sorted = RadixSortKeys(keys.data(), scratch.data(), keys.size());
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), sorted));
}

TEST(MetricsRadixSortTest, FinishesKeysThatDifferOnlyInTheirLowBits) {
  // The radix passes stop after the top two or three varying digits; keys that agree on those and
  // differ further down (runs short enough for insertion sort, and long ones for std::sort) must
  // still come out sorted, in arrays that fit in cache and in ones that take the MSD pass.
  std::mt19937_64 rng(13);
  for (size_t n : {3000, 60000, 400000}) {
    for (uint64_t run_spread : {uint64_t{8}, uint64_t{1000}}) {
      std::vector<uint64_t> keys(n);
      for (uint64_t& key : keys) {
        const uint64_t high = rng() % (n / run_spread + 1);
        key = (uint64_t{1} << 63) | (high << 36) | (rng() & ((uint64_t{1} << 20) - 1));
      }
      std::vector<uint64_t> expected = keys;
      std::sort(expected.begin(), expected.end());
      std::vector<uint64_t> scratch(n);
      const uint64_t* sorted = RadixSortKeys(keys.data(), scratch.data(), n);
      EXPECT_TRUE(std::equal(expected.begin(), expected.end(), sorted))
          << "n=" << n << " spread=" << run_spread;
    }
  }
}

}  // namespace
}  // namespace labbook::metrics::internal
