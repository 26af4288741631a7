// The shared engine of the ranking metrics: the scores of one binary problem split into positives
// and negatives, each radix-sorted, then walked from the highest score down, one step per distinct
// score. Ties are grouped by exact equality of the doubles, as sklearn's _binary_clf_curve does.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "labbook/status.hpp"

namespace labbook::metrics::internal {

// Calls visit(key, tp, fp) for each distinct score key from the highest down, with tp and fp the
// numbers of positives and negatives scored >= that score. pos and neg are sorted ascending.
template <typename Visit>
void ForEachDistinctScore(std::span<const uint64_t> pos, std::span<const uint64_t> neg,
                          Visit&& visit) {
  size_t i = pos.size();
  size_t j = neg.size();
  int64_t tp = 0;
  int64_t fp = 0;
  while (i > 0 && j > 0) {
    const uint64_t p = pos[i - 1];
    const uint64_t n = neg[j - 1];
    const uint64_t key = p > n ? p : n;
    while (i > 0 && pos[i - 1] == key) --i, ++tp;
    while (j > 0 && neg[j - 1] == key) --j, ++fp;
    visit(key, tp, fp);
  }
  while (i > 0) {
    const uint64_t key = pos[i - 1];
    while (i > 0 && pos[i - 1] == key) --i, ++tp;
    visit(key, tp, fp);
  }
  while (j > 0) {
    const uint64_t key = neg[j - 1];
    while (j > 0 && neg[j - 1] == key) --j, ++fp;
    visit(key, tp, fp);
  }
}

// AUROC and AP of one class from its sorted scores; NaN where undefined (no positives for both,
// no negatives for AUROC).
struct RankingPair {
  double auroc;
  double average_precision;
};
RankingPair AurocAndAveragePrecision(std::span<const uint64_t> pos, std::span<const uint64_t> neg);

// sklearn _binary_clf_curve: cumulative counts at each distinct score, highest score first.
struct ThresholdCounts {
  std::vector<double> thresholds;
  std::vector<int64_t> tps;
  std::vector<int64_t> fps;
};
ThresholdCounts CountAtDistinctScores(std::span<const uint64_t> pos, std::span<const uint64_t> neg);

// The scores of a binary problem (sample i is positive when labels[i] == positive_label), split
// and sorted. Owns its buffers; movable, not copyable.
class SortedBinaryScores {
 public:
  // scores[i * stride] is the score of sample i. values_name and row_width only shape the error
  // for a non-finite score, which names its index in `values`.
  static Result<SortedBinaryScores> Build(std::span<const int32_t> labels,
                                          std::span<const double> values, size_t offset,
                                          size_t stride, int32_t positive_label,
                                          std::string_view values_name, int32_t row_width);

  std::span<const uint64_t> positives() const { return {pos_, num_pos_}; }
  std::span<const uint64_t> negatives() const { return {neg_, num_neg_}; }

 private:
  SortedBinaryScores() = default;
  std::unique_ptr<uint64_t[]> keys_;
  std::unique_ptr<uint64_t[]> scratch_;
  const uint64_t* pos_ = nullptr;
  size_t num_pos_ = 0;
  const uint64_t* neg_ = nullptr;
  size_t num_neg_ = 0;
};

}  // namespace labbook::metrics::internal
