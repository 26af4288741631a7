// Binary ROC and precision-recall curves, AUROC and average precision.
#include <limits>

#include "core/status_macros.hpp"
#include "labbook/metrics.hpp"
#include "metrics/ranking_core.hpp"
#include "metrics/validation.hpp"

namespace labbook::metrics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Result<internal::SortedBinaryScores> SortScores(std::span<const int32_t> labels,
                                                std::span<const double> scores,
                                                int32_t positive_label) {
  LABBOOK_RETURN_IF_ERROR(internal::CheckSameLength("scores", scores.size(), labels.size()));
  LABBOOK_RETURN_IF_ERROR(internal::CheckNotEmpty(labels.size()));
  return internal::SortedBinaryScores::Build(labels, scores, /*offset=*/0, /*stride=*/1,
                                             positive_label, "scores", /*row_width=*/0);
}

RankingIssue IssueOf(const internal::SortedBinaryScores& sorted) {
  if (sorted.positives().empty()) return RankingIssue::kNoPositives;
  if (sorted.negatives().empty()) return RankingIssue::kNoNegatives;
  return RankingIssue::kNone;
}

}  // namespace

Result<RocCurve> ComputeRocCurve(std::span<const int32_t> labels, std::span<const double> scores,
                                 int32_t positive_label, bool drop_intermediate) {
  LABBOOK_ASSIGN_OR_RETURN(auto sorted, SortScores(labels, scores, positive_label));
  internal::ThresholdCounts c =
      internal::CountAtDistinctScores(sorted.positives(), sorted.negatives());
  const size_t m = c.tps.size();
  // Drop points collinear with their neighbours: where neither count has a second difference.
  std::vector<size_t> kept;
  kept.reserve(m);
  for (size_t i = 0; i < m; ++i) {
    bool keep = !drop_intermediate || m <= 2 || i == 0 || i + 1 == m;
    if (!keep) {
      keep = c.fps[i + 1] - 2 * c.fps[i] + c.fps[i - 1] != 0 ||
             c.tps[i + 1] - 2 * c.tps[i] + c.tps[i - 1] != 0;
    }
    if (keep) kept.push_back(i);
  }
  RocCurve roc;
  roc.issue = IssueOf(sorted);
  const auto total_pos = static_cast<double>(sorted.positives().size());
  const auto total_neg = static_cast<double>(sorted.negatives().size());
  roc.fpr.reserve(kept.size() + 1);
  roc.tpr.reserve(kept.size() + 1);
  roc.thresholds.reserve(kept.size() + 1);
  roc.fpr.push_back(total_neg > 0 ? 0.0 : kNaN);
  roc.tpr.push_back(total_pos > 0 ? 0.0 : kNaN);
  roc.thresholds.push_back(c.thresholds.front() + 1.0);
  for (size_t i : kept) {
    roc.fpr.push_back(total_neg > 0 ? static_cast<double>(c.fps[i]) / total_neg : kNaN);
    roc.tpr.push_back(total_pos > 0 ? static_cast<double>(c.tps[i]) / total_pos : kNaN);
    roc.thresholds.push_back(c.thresholds[i]);
  }
  return roc;
}

Result<PrecisionRecallCurve> ComputePrecisionRecallCurve(std::span<const int32_t> labels,
                                                         std::span<const double> scores,
                                                         int32_t positive_label) {
  LABBOOK_ASSIGN_OR_RETURN(auto sorted, SortScores(labels, scores, positive_label));
  const internal::ThresholdCounts c =
      internal::CountAtDistinctScores(sorted.positives(), sorted.negatives());
  const size_t m = c.tps.size();
  const auto total_pos = static_cast<double>(sorted.positives().size());
  PrecisionRecallCurve pr;
  pr.issue = sorted.positives().empty() ? RankingIssue::kNoPositives : RankingIssue::kNone;
  pr.precision.reserve(m + 1);
  pr.recall.reserve(m + 1);
  pr.thresholds.reserve(m);
  // sklearn reverses the curve so that thresholds increase and recall decreases.
  for (size_t r = 0; r < m; ++r) {
    const size_t i = m - 1 - r;
    const auto tps = static_cast<double>(c.tps[i]);
    pr.precision.push_back(tps / static_cast<double>(c.tps[i] + c.fps[i]));
    pr.recall.push_back(total_pos > 0 ? tps / total_pos : 1.0);
    pr.thresholds.push_back(c.thresholds[i]);
  }
  pr.precision.push_back(1.0);
  pr.recall.push_back(0.0);
  return pr;
}

Result<RankingScore> RocAuc(std::span<const int32_t> labels, std::span<const double> scores,
                            int32_t positive_label) {
  LABBOOK_ASSIGN_OR_RETURN(auto sorted, SortScores(labels, scores, positive_label));
  const RankingScore score{
      internal::AurocAndAveragePrecision(sorted.positives(), sorted.negatives()).auroc,
      IssueOf(sorted)};
  return score;
}

Result<RankingScore> AveragePrecision(std::span<const int32_t> labels,
                                      std::span<const double> scores, int32_t positive_label) {
  LABBOOK_ASSIGN_OR_RETURN(auto sorted, SortScores(labels, scores, positive_label));
  if (sorted.positives().empty()) {
    // sklearn 1.2.1 sets recall to 1 everywhere and precision is 0 everywhere: the sum is 0.
    return RankingScore{0.0, RankingIssue::kNoPositives};
  }
  // With no negatives AP is well defined (1): only missing positives make it an issue.
  const RankingScore score{
      internal::AurocAndAveragePrecision(sorted.positives(), sorted.negatives()).average_precision,
      RankingIssue::kNone};
  return score;
}

}  // namespace labbook::metrics
