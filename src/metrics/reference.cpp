#include "metrics/reference.hpp"

#include <algorithm>
#include <limits>
#include <numeric>
#include <vector>

namespace labbook::metrics::reference {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct ClfCurve {
  std::vector<double> fps;
  std::vector<double> tps;
  std::vector<double> thresholds;
};

// _binary_clf_curve without sample weights.
ClfCurve BinaryClfCurve(std::span<const int32_t> labels, std::span<const double> scores,
                        int32_t positive_label) {
  const size_t n = scores.size();
  // argsort(kind="mergesort")[::-1]: a stable ascending sort, then reversed.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  std::reverse(order.begin(), order.end());
  std::vector<double> sorted_scores(n);
  std::vector<double> is_positive(n);
  for (size_t i = 0; i < n; ++i) {
    sorted_scores[i] = scores[order[i]];
    is_positive[i] = labels[order[i]] == positive_label ? 1.0 : 0.0;
  }
  // threshold_idxs = where(diff(y_score))[0] followed by n - 1.
  std::vector<size_t> threshold_idxs;
  for (size_t i = 0; i + 1 < n; ++i) {
    if (sorted_scores[i + 1] - sorted_scores[i] != 0.0) threshold_idxs.push_back(i);
  }
  threshold_idxs.push_back(n - 1);
  std::vector<double> cumulative(n);
  std::partial_sum(is_positive.begin(), is_positive.end(), cumulative.begin());
  ClfCurve curve;
  for (size_t idx : threshold_idxs) {
    const double tps = cumulative[idx];
    curve.tps.push_back(tps);
    curve.fps.push_back(1.0 + static_cast<double>(idx) - tps);
    curve.thresholds.push_back(sorted_scores[idx]);
  }
  return curve;
}

}  // namespace

RocCurve RocCurveOf(std::span<const int32_t> labels, std::span<const double> scores,
                    int32_t positive_label, bool drop_intermediate) {
  ClfCurve c = BinaryClfCurve(labels, scores, positive_label);
  if (drop_intermediate && c.fps.size() > 2) {
    ClfCurve kept;
    const size_t m = c.fps.size();
    for (size_t i = 0; i < m; ++i) {
      bool keep = i == 0 || i + 1 == m;
      if (!keep) {
        const double d2_fps = (c.fps[i + 1] - c.fps[i]) - (c.fps[i] - c.fps[i - 1]);
        const double d2_tps = (c.tps[i + 1] - c.tps[i]) - (c.tps[i] - c.tps[i - 1]);
        keep = d2_fps != 0.0 || d2_tps != 0.0;
      }
      if (keep) {
        kept.fps.push_back(c.fps[i]);
        kept.tps.push_back(c.tps[i]);
        kept.thresholds.push_back(c.thresholds[i]);
      }
    }
    c = std::move(kept);
  }
  c.tps.insert(c.tps.begin(), 0.0);
  c.fps.insert(c.fps.begin(), 0.0);
  c.thresholds.insert(c.thresholds.begin(), c.thresholds.front() + 1.0);
  RocCurve roc;
  roc.thresholds = c.thresholds;
  const double total_fps = c.fps.back();
  const double total_tps = c.tps.back();
  for (size_t i = 0; i < c.fps.size(); ++i) {
    roc.fpr.push_back(total_fps <= 0 ? kNaN : c.fps[i] / total_fps);
    roc.tpr.push_back(total_tps <= 0 ? kNaN : c.tps[i] / total_tps);
  }
  if (total_tps <= 0) roc.issue = RankingIssue::kNoPositives;
  if (total_fps <= 0) roc.issue = RankingIssue::kNoNegatives;
  return roc;
}

PrecisionRecallCurve PrecisionRecallCurveOf(std::span<const int32_t> labels,
                                            std::span<const double> scores,
                                            int32_t positive_label) {
  const ClfCurve c = BinaryClfCurve(labels, scores, positive_label);
  const size_t m = c.tps.size();
  PrecisionRecallCurve pr;
  const double total_tps = c.tps.back();
  for (size_t r = 0; r < m; ++r) {
    const size_t i = m - 1 - r;
    const double ps = c.tps[i] + c.fps[i];
    pr.precision.push_back(ps != 0 ? c.tps[i] / ps : 0.0);
    pr.recall.push_back(total_tps == 0 ? 1.0 : c.tps[i] / total_tps);
    pr.thresholds.push_back(c.thresholds[i]);
  }
  pr.precision.push_back(1.0);
  pr.recall.push_back(0.0);
  if (total_tps == 0) pr.issue = RankingIssue::kNoPositives;
  return pr;
}

double RocAucOf(std::span<const int32_t> labels, std::span<const double> scores,
                int32_t positive_label) {
  const RocCurve roc = RocCurveOf(labels, scores, positive_label, /*drop_intermediate=*/true);
  if (roc.issue != RankingIssue::kNone) return kNaN;
  // np.trapz(tpr, fpr): sum of dx * (y[i] + y[i-1]) / 2.
  double area = 0.0;
  for (size_t i = 1; i < roc.fpr.size(); ++i) {
    area += (roc.fpr[i] - roc.fpr[i - 1]) * (roc.tpr[i] + roc.tpr[i - 1]) / 2.0;
  }
  return area;
}

double AveragePrecisionOf(std::span<const int32_t> labels, std::span<const double> scores,
                          int32_t positive_label) {
  const PrecisionRecallCurve pr = PrecisionRecallCurveOf(labels, scores, positive_label);
  double sum = 0.0;
  for (size_t i = 0; i + 1 < pr.recall.size(); ++i) {
    sum += (pr.recall[i + 1] - pr.recall[i]) * pr.precision[i];
  }
  return -sum;
}

}  // namespace labbook::metrics::reference
