#include "metrics/ranking_core.hpp"

#include <bit>
#include <cmath>
#include <limits>

#include "metrics/radix_sort.hpp"
#include "metrics/validation.hpp"

namespace labbook::metrics::internal {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr uint64_t kExponentMask = 0x7ff0000000000000ULL;

// Neumaier's compensated sum: the AP sum then depends on the terms only, not on their order.
class CompensatedSum {
 public:
  void Add(double x) {
    const double t = sum_ + x;
    if (std::fabs(sum_) >= std::fabs(x)) {
      compensation_ += (sum_ - t) + x;
    } else {
      compensation_ += (x - t) + sum_;
    }
    sum_ = t;
  }
  double Total() const { return sum_ + compensation_; }

 private:
  double sum_ = 0.0;
  double compensation_ = 0.0;
};

}  // namespace

RankingPair AurocAndAveragePrecision(std::span<const uint64_t> pos, std::span<const uint64_t> neg) {
  RankingPair result{kNaN, kNaN};
  if (pos.empty()) return result;
  const auto num_pos = static_cast<uint64_t>(pos.size());
  const auto num_neg = static_cast<uint64_t>(neg.size());
  // Only the thresholds where tp changes matter: elsewhere the AP term is 0 and the ROC curve
  // runs horizontally. So walk the distinct positive scores from the top, counting the negatives
  // scored above each and tied with it. The trapezoids of the ROC curve, scaled by
  // 2 * num_pos * num_neg, are integers: the area is exact until the final division.
  uint64_t twice_area = 0;
  uint64_t tp = 0;
  uint64_t fp = 0;
  // AP terms are formed exactly as sklearn forms them: recall = tp / P, then the recall step
  // times the precision.
  CompensatedSum ap;
  double prev_recall = 0.0;
  const double positives = static_cast<double>(num_pos);
  size_t i = pos.size();
  size_t j = neg.size();
  while (i > 0) {
    const uint64_t key = pos[i - 1];
    uint64_t group = 0;
    while (i > 0 && pos[i - 1] == key) --i, ++group;
    while (j > 0 && neg[j - 1] > key) --j;
    const uint64_t above = num_neg - j;  // negatives scored higher: a horizontal stretch
    twice_area += (above - fp) * 2 * tp;
    while (j > 0 && neg[j - 1] == key) --j;
    const uint64_t tied = num_neg - j - above;  // a diagonal stretch
    twice_area += tied * (2 * tp + group);
    tp += group;
    fp = above + tied;
    const double recall = static_cast<double>(tp) / positives;
    const double precision = static_cast<double>(tp) / static_cast<double>(tp + fp);
    ap.Add((recall - prev_recall) * precision);
    prev_recall = recall;
  }
  twice_area += (num_neg - fp) * 2 * tp;
  result.average_precision = ap.Total();
  if (num_neg > 0) {
    result.auroc = static_cast<double>(twice_area) / static_cast<double>(2 * num_pos * num_neg);
  }
  return result;
}

ThresholdCounts CountAtDistinctScores(std::span<const uint64_t> pos,
                                      std::span<const uint64_t> neg) {
  ThresholdCounts counts;
  ForEachDistinctScore(pos, neg, [&](uint64_t key, int64_t tp, int64_t fp) {
    counts.thresholds.push_back(ValueOfKey(key));
    counts.tps.push_back(tp);
    counts.fps.push_back(fp);
  });
  return counts;
}

Result<SortedBinaryScores> SortedBinaryScores::Build(std::span<const int32_t> labels,
                                                     std::span<const double> values, size_t offset,
                                                     size_t stride, int32_t positive_label,
                                                     std::string_view values_name,
                                                     int32_t row_width) {
  const size_t n = labels.size();
  size_t num_pos = 0;
  for (int32_t label : labels) num_pos += label == positive_label;

  SortedBinaryScores sorted;
  sorted.keys_ = std::make_unique_for_overwrite<uint64_t[]>(n);
  sorted.scratch_ = std::make_unique_for_overwrite<uint64_t[]>(n);
  uint64_t* pos = sorted.keys_.get();
  uint64_t* neg = pos + num_pos;
  const double* scores = values.data() + offset;
  bool not_finite = false;
  for (size_t i = 0; i < n; ++i) {
    const double score = scores[i * stride];
    not_finite |= (std::bit_cast<uint64_t>(score) & kExponentMask) == kExponentMask;
    const uint64_t key = OrderedKey(score);
    if (labels[i] == positive_label) {
      *pos++ = key;
    } else {
      *neg++ = key;
    }
  }
  if (not_finite) {
    for (size_t i = 0; i < n; ++i) {
      if (!std::isfinite(scores[i * stride])) {
        return NotFiniteError(values_name, values, offset + i * stride, row_width);
      }
    }
  }
  uint64_t* keys = sorted.keys_.get();
  uint64_t* scratch = sorted.scratch_.get();
  sorted.pos_ = RadixSortKeys(keys, scratch, num_pos);
  sorted.num_pos_ = num_pos;
  sorted.neg_ = RadixSortKeys(keys + num_pos, scratch + num_pos, n - num_pos);
  sorted.num_neg_ = n - num_pos;
  return sorted;
}

}  // namespace labbook::metrics::internal
