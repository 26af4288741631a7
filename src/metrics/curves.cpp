#include "metrics/curves.hpp"

#include <algorithm>
#include <limits>

#include "metrics/radix_sort.hpp"
#include "metrics/ranking_core.hpp"

namespace labbook::metrics::internal {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

void BuildThinnedCurves(std::span<const uint64_t> pos, std::span<const uint64_t> neg,
                        const CurveThinning& thinning, RocCurve* roc, PrecisionRecallCurve* pr) {
  const auto total_pos = static_cast<double>(pos.size());
  const auto total_neg = static_cast<double>(neg.size());
  roc->issue = pos.empty()   ? RankingIssue::kNoPositives
               : neg.empty() ? RankingIssue::kNoNegatives
                             : RankingIssue::kNone;
  pr->issue = pos.empty() ? RankingIssue::kNoPositives : RankingIssue::kNone;

  CurveThinner roc_points(thinning);
  CurveThinner pr_points(thinning);
  auto add_roc = [&](double threshold, int64_t tp, int64_t fp) {
    roc_points.Add({total_neg > 0 ? static_cast<double>(fp) / total_neg : kNaN,
                    total_pos > 0 ? static_cast<double>(tp) / total_pos : kNaN, threshold});
  };
  // The PR curve is built from the highest score down and reversed at the end into sklearn's
  // order, so its final point (recall 0, precision 1) comes first here.
  pr_points.Add({0.0, 1.0, kNaN});

  // ComputeRocCurve's drop_intermediate, one point behind: the previous distinct score is kept
  // when it is the first, or when a count bends there (a second difference is not zero).
  struct Counts {
    double threshold;
    int64_t tp;
    int64_t fp;
  };
  Counts before{};  // the score two back
  Counts previous{};
  size_t seen = 0;
  ForEachDistinctScore(pos, neg, [&](uint64_t key, int64_t tp, int64_t fp) {
    const double threshold = ValueOfKey(key);
    if (seen == 0) add_roc(threshold + 1.0, 0, 0);
    const auto tps = static_cast<double>(tp);
    pr_points.Add(
        {total_pos > 0 ? tps / total_pos : 1.0, tps / static_cast<double>(tp + fp), threshold});
    if (seen == 1 || (seen > 1 && (fp - 2 * previous.fp + before.fp != 0 ||
                                   tp - 2 * previous.tp + before.tp != 0))) {
      add_roc(previous.threshold, previous.tp, previous.fp);
    }
    before = previous;
    previous = {threshold, tp, fp};
    ++seen;
  });
  if (seen > 0) add_roc(previous.threshold, previous.tp, previous.fp);

  const std::vector<CurvePoint> roc_kept = roc_points.Finish();
  roc->fpr.resize(roc_kept.size());
  roc->tpr.resize(roc_kept.size());
  roc->thresholds.resize(roc_kept.size());
  for (size_t i = 0; i < roc_kept.size(); ++i) {
    roc->fpr[i] = roc_kept[i].x;
    roc->tpr[i] = roc_kept[i].y;
    roc->thresholds[i] = roc_kept[i].threshold;
  }
  std::vector<CurvePoint> pr_kept = pr_points.Finish();
  std::reverse(pr_kept.begin(), pr_kept.end());
  pr->recall.resize(pr_kept.size());
  pr->precision.resize(pr_kept.size());
  pr->thresholds.resize(pr_kept.size() - 1);
  for (size_t i = 0; i < pr_kept.size(); ++i) {
    pr->recall[i] = pr_kept[i].x;
    pr->precision[i] = pr_kept[i].y;
    if (i + 1 < pr_kept.size()) pr->thresholds[i] = pr_kept[i].threshold;
  }
}

}  // namespace labbook::metrics::internal
