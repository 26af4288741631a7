// The curves `labbook eval` draws: from the one-vs-rest pass's own sorts, identical to
// ComputeRocCurve and ComputePrecisionRecallCurve when short, thinned within a stated tolerance
// when long.
#include "metrics/curves.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "labbook/metrics.hpp"
#include "metrics/curve_thinning.hpp"

namespace labbook::metrics {
namespace {

struct Data {
  std::vector<int32_t> labels;
  std::vector<int32_t> predicted;
  std::vector<double> probabilities;  // n x k
  int32_t k = 0;
};

// Softmax-like rows rounded to `granularity` (many ties, as a "%.6f" file has).
Data RandomData(size_t n, int32_t k, double granularity, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Data d;
  d.k = k;
  for (size_t i = 0; i < n; ++i) {
    const auto label = static_cast<int32_t>(rng() % static_cast<uint64_t>(k));
    d.labels.push_back(label);
    std::vector<double> row(static_cast<size_t>(k));
    double sum = 0;
    for (int32_t c = 0; c < k; ++c) {
      row[c] = std::exp(normal(rng) + (c == label ? 1.0 : 0.0));
      sum += row[c];
    }
    for (double& p : row) p = std::round(p / sum / granularity) * granularity;
    d.predicted.push_back(
        static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin()));
    d.probabilities.insert(d.probabilities.end(), row.begin(), row.end());
  }
  return d;
}

std::vector<double> Column(const Data& d, int32_t c) {
  std::vector<double> column;
  for (size_t i = 0; i < d.labels.size(); ++i) column.push_back(d.probabilities[i * d.k + c]);
  return column;
}

struct Xy {
  double x;
  double y;
};

// The polyline the chart draws: straight, or holding y until the next x (steps-post).
std::vector<Xy> Drawn(const std::vector<double>& x, const std::vector<double>& y, bool step) {
  std::vector<Xy> line;
  for (size_t i = 0; i < x.size(); ++i) {
    if (step && i > 0) line.push_back({x[i], y[i - 1]});
    line.push_back({x[i], y[i]});
  }
  return line;
}

double DistanceToSegment(Xy p, Xy a, Xy b) {
  const double dx = b.x - a.x;
  const double dy = b.y - a.y;
  const double length2 = dx * dx + dy * dy;
  double t = length2 > 0 ? ((p.x - a.x) * dx + (p.y - a.y) * dy) / length2 : 0;
  t = std::clamp(t, 0.0, 1.0);
  return std::hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}

// The largest distance from a vertex of `from` to the polyline `to`.
double FarthestVertex(const std::vector<Xy>& from, const std::vector<Xy>& to) {
  double worst = 0;
  for (const Xy& p : from) {
    double best = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i + 1 < to.size(); ++i)
      best = std::min(best, DistanceToSegment(p, to[i], to[i + 1]));
    if (to.size() == 1) best = std::hypot(p.x - to[0].x, p.y - to[0].y);
    worst = std::max(worst, best);
  }
  return worst;
}

// Whether every point of the thinned curve is the full curve's point, in the same order.
bool IsSubsequence(const std::vector<double>& thin_x, const std::vector<double>& thin_y,
                   const std::vector<double>& full_x, const std::vector<double>& full_y) {
  size_t j = 0;
  for (size_t i = 0; i < thin_x.size(); ++i) {
    while (j < full_x.size() && !(full_x[j] == thin_x[i] && full_y[j] == thin_y[i])) ++j;
    if (j == full_x.size()) return false;
    ++j;
  }
  return true;
}

TEST(MetricsCurvesTest, ShortCurvesAreExactlyTheFullOnes) {
  const Data d = RandomData(3000, 4, 0.01, 1);
  OneVsRestCurves curves;
  Result<EvaluationReport> report =
      EvaluateWithCurves(d.labels, d.predicted, d.probabilities, d.k, CurveThinning{}, &curves);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  Result<EvaluationReport> plain = Evaluate(d.labels, d.predicted, d.probabilities, d.k);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(report->one_vs_rest->auroc, plain->one_vs_rest->auroc);
  EXPECT_EQ(report->one_vs_rest->average_precision, plain->one_vs_rest->average_precision);
  EXPECT_EQ(*report->log_loss, *plain->log_loss);
  ASSERT_EQ(curves.roc.size(), 4u);
  ASSERT_EQ(curves.pr.size(), 4u);
  for (int32_t c = 0; c < d.k; ++c) {
    const std::vector<double> scores = Column(d, c);
    Result<RocCurve> roc = ComputeRocCurve(d.labels, scores, c);
    Result<PrecisionRecallCurve> pr = ComputePrecisionRecallCurve(d.labels, scores, c);
    ASSERT_TRUE(roc.ok() && pr.ok());
    EXPECT_EQ(curves.roc[c].fpr, roc->fpr) << c;
    EXPECT_EQ(curves.roc[c].tpr, roc->tpr) << c;
    EXPECT_EQ(curves.roc[c].thresholds, roc->thresholds) << c;
    EXPECT_EQ(curves.pr[c].precision, pr->precision) << c;
    EXPECT_EQ(curves.pr[c].recall, pr->recall) << c;
    EXPECT_EQ(curves.pr[c].thresholds, pr->thresholds) << c;
  }
}

TEST(MetricsCurvesTest, AbsentClassesGiveTheSameNanCurves) {
  // Class 2 never occurs: its tpr is NaN throughout, which the thinning keeps as one break.
  Data d = RandomData(5000, 3, 1e-3, 2);
  for (int32_t& label : d.labels) label = label == 2 ? 1 : label;
  OneVsRestCurves curves;
  ASSERT_TRUE(EvaluateWithCurves(d.labels, d.predicted, d.probabilities, d.k, CurveThinning{16, 32},
                                 &curves)
                  .ok());
  const RocCurve& roc = curves.roc[2];
  EXPECT_EQ(roc.issue, RankingIssue::kNoPositives);
  ASSERT_EQ(roc.tpr.size(), 2u);  // the first and last point of the break
  EXPECT_TRUE(std::isnan(roc.tpr[0]) && std::isnan(roc.tpr[1]));
  Result<RocCurve> full = ComputeRocCurve(d.labels, Column(d, 2), 2);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(roc.fpr.front(), full->fpr.front());
  EXPECT_EQ(roc.fpr.back(), full->fpr.back());
  EXPECT_EQ(curves.pr[2].issue, RankingIssue::kNoPositives);
}

TEST(MetricsCurvesTest, LongCurvesKeepEndpointsAndStayWithinAColumnOfTheFullOnes) {
  const Data d = RandomData(60000, 3, 1e-5, 3);
  const CurveThinning thinning{128, 1024};
  const double tolerance = 1.0 / 128 + 1e-12;
  OneVsRestCurves curves;
  ASSERT_TRUE(
      EvaluateWithCurves(d.labels, d.predicted, d.probabilities, d.k, thinning, &curves).ok());
  for (int32_t c = 0; c < d.k; ++c) {
    const std::vector<double> scores = Column(d, c);
    Result<RocCurve> roc = ComputeRocCurve(d.labels, scores, c);
    Result<PrecisionRecallCurve> pr = ComputePrecisionRecallCurve(d.labels, scores, c);
    ASSERT_TRUE(roc.ok() && pr.ok());
    const RocCurve& thin_roc = curves.roc[c];
    const PrecisionRecallCurve& thin_pr = curves.pr[c];
    // The full curves are long enough to be thinned, and were.
    ASSERT_GT(roc->fpr.size(), thinning.max_points);
    ASSERT_GT(pr->recall.size(), thinning.max_points);
    EXPECT_LE(thin_roc.fpr.size(), 4 * (thinning.columns + 1));
    EXPECT_LE(thin_pr.recall.size(), 4 * (thinning.columns + 1));
    EXPECT_LT(thin_roc.fpr.size(), roc->fpr.size() / 4);

    EXPECT_EQ(thin_roc.fpr.front(), roc->fpr.front());
    EXPECT_EQ(thin_roc.tpr.front(), roc->tpr.front());
    EXPECT_EQ(thin_roc.fpr.back(), roc->fpr.back());
    EXPECT_EQ(thin_roc.tpr.back(), roc->tpr.back());
    EXPECT_EQ(thin_roc.thresholds.front(), roc->thresholds.front());
    EXPECT_EQ(thin_pr.recall.front(), pr->recall.front());
    EXPECT_EQ(thin_pr.precision.front(), pr->precision.front());
    EXPECT_EQ(thin_pr.recall.back(), 0.0);
    EXPECT_EQ(thin_pr.precision.back(), 1.0);
    EXPECT_EQ(thin_pr.thresholds.size() + 1, thin_pr.recall.size());
    EXPECT_EQ(thin_pr.thresholds.front(), pr->thresholds.front());

    EXPECT_TRUE(IsSubsequence(thin_roc.fpr, thin_roc.tpr, roc->fpr, roc->tpr)) << c;
    EXPECT_TRUE(IsSubsequence(thin_pr.recall, thin_pr.precision, pr->recall, pr->precision)) << c;

    const std::vector<Xy> full_roc = Drawn(roc->fpr, roc->tpr, false);
    const std::vector<Xy> kept_roc = Drawn(thin_roc.fpr, thin_roc.tpr, false);
    EXPECT_LE(FarthestVertex(full_roc, kept_roc), tolerance) << "ROC of class " << c;
    EXPECT_LE(FarthestVertex(kept_roc, full_roc), tolerance) << "ROC of class " << c;
    const std::vector<Xy> full_pr = Drawn(pr->recall, pr->precision, true);
    const std::vector<Xy> kept_pr = Drawn(thin_pr.recall, thin_pr.precision, true);
    EXPECT_LE(FarthestVertex(full_pr, kept_pr), tolerance) << "PR of class " << c;
    EXPECT_LE(FarthestVertex(kept_pr, full_pr), tolerance) << "PR of class " << c;
  }
}

TEST(MetricsCurveThinnerTest, KeepsEachColumnsFirstLowestHighestAndLast) {
  CurveThinner thinner(CurveThinning{2, 3});
  // Column 0 (x < 0.5): first, lowest, highest, last among five; column 1: two points.
  const std::vector<CurvePoint> points = {{0.0, 0.5, 1},       {0.1, 0.2, 2}, {0.2, 0.9, 3},
                                          {0.3, 0.6, 4},       {0.4, 0.7, 5}, {0.6, 0.1, 6},
                                          {1.0 - 1e-9, 0.3, 7}};
  for (const CurvePoint& p : points) thinner.Add(p);
  const std::vector<CurvePoint> kept = thinner.Finish();
  std::vector<double> thresholds;
  for (const CurvePoint& p : kept) thresholds.push_back(p.threshold);
  EXPECT_EQ(thresholds, (std::vector<double>{1, 2, 3, 5, 6, 7}));
}

TEST(MetricsCurveThinnerTest, ShortCurvesAndBreaksStay) {
  CurveThinner short_curve(CurveThinning{1, 4});
  for (double x : {0.1, 0.2, 0.3, 0.4}) short_curve.Add({x, x, x});
  EXPECT_EQ(short_curve.Finish().size(), 4u);

  CurveThinner with_break(CurveThinning{1, 2});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const CurvePoint& p : std::vector<CurvePoint>{
           {0.1, 0.1, 1}, {0.2, 0.2, 2}, {nan, 0, 3}, {nan, 0, 4}, {nan, 0, 5}, {0.3, 0.3, 6}}) {
    with_break.Add(p);
  }
  std::vector<double> thresholds;
  for (const CurvePoint& p : with_break.Finish()) thresholds.push_back(p.threshold);
  EXPECT_EQ(thresholds, (std::vector<double>{1, 2, 3, 5, 6}));
}

}  // namespace
}  // namespace labbook::metrics
