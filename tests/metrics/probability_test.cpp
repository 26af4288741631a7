// Hand-computed cases for log loss, top-k accuracy and Evaluate.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "labbook/metrics.hpp"

namespace labbook::metrics {
namespace {

using ::testing::HasSubstr;

TEST(MetricsLogLossTest, MatchesSklearnDocs) {
  // sklearn log_loss docstring: ham = 0, spam = 1.
  const std::vector<int32_t> labels = {1, 0, 0, 1};
  const std::vector<double> probabilities = {.1, .9, .9, .1, .8, .2, .35, .65};
  auto loss = LogLoss(labels, probabilities, 2);
  ASSERT_TRUE(loss.ok()) << loss.status().ToString();
  EXPECT_NEAR(*loss, -(std::log(.9) + std::log(.9) + std::log(.8) + std::log(.65)) / 4, 1e-15);
  EXPECT_NEAR(*loss, 0.21616, 1e-5);
}

TEST(MetricsLogLossTest, ClipsToMachineEpsilonAndRenormalisesRows) {
  const double eps = std::numeric_limits<double>::epsilon();
  auto certain_and_wrong = LogLoss(std::vector<int32_t>{0}, std::vector<double>{0.0, 1.0}, 2);
  ASSERT_TRUE(certain_and_wrong.ok());
  EXPECT_DOUBLE_EQ(*certain_and_wrong, -std::log(eps));
  // Rows that do not sum to one are divided by their sum.
  auto unnormalised = LogLoss(std::vector<int32_t>{2}, std::vector<double>{0.5, 0.5, 1.0}, 3);
  ASSERT_TRUE(unnormalised.ok());
  EXPECT_DOUBLE_EQ(*unnormalised, -std::log(0.5));
}

TEST(MetricsLogLossTest, RejectsOneClassBadShapesAndNonFiniteValues) {
  const std::vector<int32_t> labels = {0, 1};
  auto one_class = LogLoss(std::vector<int32_t>{0}, std::vector<double>{1.0}, 1);
  ASSERT_FALSE(one_class.ok());
  EXPECT_THAT(one_class.status().message(), HasSubstr("at least 2"));

  auto short_rows = LogLoss(labels, std::vector<double>{0.5, 0.5, 0.5, 0.2, 0.3}, 3);
  ASSERT_FALSE(short_rows.ok());
  EXPECT_EQ(short_rows.status().message(),
            "probabilities has 5 values but 2 rows x 3 classes need 6");

  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto not_finite = LogLoss(labels, std::vector<double>{0.5, 0.5, 0.1, nan}, 2);
  ASSERT_FALSE(not_finite.ok());
  EXPECT_EQ(not_finite.status().message(), "probabilities[3] (row 1, class 1) = nan is not finite");

  auto empty = LogLoss({}, {}, 2);
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.status().message(), HasSubstr("empty"));
}

TEST(MetricsTopKTest, MatchesSklearnDocs) {
  const std::vector<int32_t> labels = {0, 1, 2, 2};
  const std::vector<double> scores = {0.5, 0.2, 0.2,  //
                                      0.3, 0.4, 0.2,  //
                                      0.2, 0.4, 0.3,  //
                                      0.7, 0.2, 0.1};
  auto top2 = TopKAccuracy(labels, scores, 3, 2);
  ASSERT_TRUE(top2.ok());
  EXPECT_DOUBLE_EQ(*top2, 0.75);
  auto top3 = TopKAccuracy(labels, scores, 3, 3);
  ASSERT_TRUE(top3.ok());
  EXPECT_DOUBLE_EQ(*top3, 1.0);
}

TEST(MetricsTopKTest, TiesRankTheHigherClassFirst) {
  // Classes 1 and 2 tie: sklearn's reversed stable argsort puts class 2 ahead.
  const std::vector<double> scores = {0.2, 0.4, 0.4};
  auto label1 = TopKAccuracy(std::vector<int32_t>{1}, scores, 3, 1);
  auto label2 = TopKAccuracy(std::vector<int32_t>{2}, scores, 3, 1);
  ASSERT_TRUE(label1.ok() && label2.ok());
  EXPECT_EQ(*label1, 0.0);
  EXPECT_EQ(*label2, 1.0);
}

TEST(MetricsTopKTest, TwoClassesFollowSklearnsBinaryBranch) {
  // Only the class-1 scores count: > 0.5 predicts class 1, so an exact 0.5 predicts class 0.
  const std::vector<double> scores = {0.5, 0.5, 0.5, 0.5};
  auto top1 = TopKAccuracy(std::vector<int32_t>{0, 1}, scores, 2, 1);
  ASSERT_TRUE(top1.ok());
  EXPECT_EQ(*top1, 0.5);
  // Scores outside [0, 1] threshold at 0 instead.
  const std::vector<double> margins = {9.0, 0.3, 9.0, -0.2};
  auto top1_margins = TopKAccuracy(std::vector<int32_t>{1, 0}, margins, 2, 1);
  ASSERT_TRUE(top1_margins.ok());
  EXPECT_EQ(*top1_margins, 1.0);
  auto top2 = TopKAccuracy(std::vector<int32_t>{0, 1}, scores, 2, 2);
  ASSERT_TRUE(top2.ok());
  EXPECT_EQ(*top2, 1.0);
}

TEST(MetricsTopKTest, RejectsBadK) {
  auto zero = TopKAccuracy(std::vector<int32_t>{0}, std::vector<double>{0.5, 0.5}, 2, 0);
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.status().message(), "k = 0 must be at least 1");
}

TEST(MetricsEvaluateTest, GathersEveryMetricOfOneSetOfPredictions) {
  const std::vector<int32_t> labels = {0, 1, 2, 0, 1, 2};
  const std::vector<int32_t> predicted = {0, 2, 1, 0, 0, 1};
  const std::vector<double> probabilities = {0.7, 0.2, 0.1,  //
                                             0.2, 0.3, 0.5,  //
                                             0.1, 0.6, 0.3,  //
                                             0.8, 0.1, 0.1,  //
                                             0.5, 0.4, 0.1,  //
                                             0.3, 0.4, 0.3};
  auto report = Evaluate(labels, predicted, probabilities, 3);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->num_samples, 6);
  EXPECT_EQ(report->num_classes, 3);
  EXPECT_DOUBLE_EQ(report->accuracy, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(report->classification.macro.f1, 0.8 / 3.0);
  ASSERT_TRUE(report->log_loss.has_value());
  EXPECT_DOUBLE_EQ(*report->log_loss, *LogLoss(labels, probabilities, 3));
  ASSERT_EQ(report->top_k.size(), 1u);  // k = 3 and 5 are not below K = 3
  EXPECT_EQ(report->top_k[0].k, 1);
  ASSERT_TRUE(report->one_vs_rest.has_value());
  EXPECT_EQ(report->one_vs_rest->auroc.size(), 3u);
  EXPECT_DOUBLE_EQ(report->one_vs_rest->auroc[0], 1.0);

  auto without_probabilities = Evaluate(labels, predicted, {}, 3);
  ASSERT_TRUE(without_probabilities.ok());
  EXPECT_FALSE(without_probabilities->log_loss.has_value());
  EXPECT_FALSE(without_probabilities->one_vs_rest.has_value());
  EXPECT_TRUE(without_probabilities->top_k.empty());
}

TEST(MetricsEvaluateTest, TopKListForTenClassesAndErrors) {
  std::vector<int32_t> labels(20);
  std::vector<double> probabilities(20 * 10, 0.1);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int32_t>(i % 10);
  auto report = Evaluate(labels, labels, probabilities, 10);
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->top_k.size(), 3u);
  EXPECT_EQ(report->top_k[2].k, 5);
  // All scores tie: the top 5 are classes 9..5.
  EXPECT_DOUBLE_EQ(report->top_k[2].accuracy, 0.5);

  auto empty = Evaluate({}, {}, {}, 10);
  EXPECT_FALSE(empty.ok());
  probabilities.pop_back();
  auto short_probabilities = Evaluate(labels, labels, probabilities, 10);
  ASSERT_FALSE(short_probabilities.ok());
  EXPECT_EQ(short_probabilities.status().message(),
            "probabilities has 199 values but 20 rows x 10 classes need 200");
}

}  // namespace
}  // namespace labbook::metrics
