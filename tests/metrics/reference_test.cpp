// The radix-sort engine against the plain reference (a line-by-line reading of sklearn), on
// random problems with many ties, both signs of zero, and one-class cases.
#include "metrics/reference.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "labbook/metrics.hpp"

namespace labbook::metrics {
namespace {

bool SameValue(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void ExpectSameCurve(const std::vector<double>& actual, const std::vector<double>& expected,
                     const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i) {
    ASSERT_TRUE(SameValue(actual[i], expected[i]))
        << what << "[" << i << "]: " << actual[i] << " vs " << expected[i];
  }
}

void ExpectNearOrBothNan(double actual, double expected, const std::string& what) {
  if (std::isnan(expected)) {
    EXPECT_TRUE(std::isnan(actual)) << what << ": " << actual;
  } else {
    EXPECT_NEAR(actual, expected, 1e-12 * std::max(1.0, std::fabs(expected))) << what;
  }
}

TEST(MetricsReferenceTest, FastEngineEqualsReference) {
  std::mt19937_64 rng(2024);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  int problems = 0;
  for (size_t n : {1, 2, 3, 17, 600, 5000, 20000, 100000}) {
    for (double positive_rate : {0.0, 0.03, 0.5, 1.0}) {
      for (int granularity : {0, 2, 10, 1000}) {
        std::vector<int32_t> labels(n);
        std::vector<double> scores(n);
        for (size_t i = 0; i < n; ++i) {
          labels[i] = uniform(rng) < positive_rate ? 7 : (uniform(rng) < 0.5 ? 0 : 3);
          double v = normal(rng) + (labels[i] == 7 ? 0.7 : 0.0);
          if (granularity > 0) v = std::round(v * granularity) / granularity;
          if (uniform(rng) < 0.05) v = uniform(rng) < 0.5 ? -0.0 : 0.0;
          scores[i] = v;
        }
        const std::string what = "n=" + std::to_string(n) +
                                 " rate=" + std::to_string(positive_rate) +
                                 " granularity=" + std::to_string(granularity);
        SCOPED_TRACE(what);
        for (bool drop : {true, false}) {
          auto roc = ComputeRocCurve(labels, scores, 7, drop);
          ASSERT_TRUE(roc.ok());
          const RocCurve expected = reference::RocCurveOf(labels, scores, 7, drop);
          ExpectSameCurve(roc->fpr, expected.fpr, "fpr");
          ExpectSameCurve(roc->tpr, expected.tpr, "tpr");
          ExpectSameCurve(roc->thresholds, expected.thresholds, "roc thresholds");
          EXPECT_EQ(roc->issue, expected.issue);
        }
        auto pr = ComputePrecisionRecallCurve(labels, scores, 7);
        ASSERT_TRUE(pr.ok());
        const PrecisionRecallCurve expected_pr =
            reference::PrecisionRecallCurveOf(labels, scores, 7);
        ExpectSameCurve(pr->precision, expected_pr.precision, "precision");
        ExpectSameCurve(pr->recall, expected_pr.recall, "recall");
        ExpectSameCurve(pr->thresholds, expected_pr.thresholds, "pr thresholds");
        ExpectNearOrBothNan(RocAuc(labels, scores, 7)->value,
                            reference::RocAucOf(labels, scores, 7), "auroc");
        ExpectNearOrBothNan(AveragePrecision(labels, scores, 7)->value,
                            reference::AveragePrecisionOf(labels, scores, 7), "ap");
        ++problems;
      }
    }
  }
  EXPECT_EQ(problems, 8 * 4 * 4);
}

}  // namespace
}  // namespace labbook::metrics
