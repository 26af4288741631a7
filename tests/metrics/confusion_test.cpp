// Hand-computed cases for the confusion matrix and the scores derived from it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "labbook/metrics.hpp"

namespace labbook::metrics {
namespace {

using ::testing::DoubleEq;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(MetricsConfusionTest, CountsTrueClassByRowAndPredictedByColumn) {
  const std::vector<int32_t> labels = {0, 1, 2, 2, 1, 0, 2};
  const std::vector<int32_t> predicted = {0, 2, 2, 2, 1, 1, 0};
  auto confusion = ComputeConfusionMatrix(labels, predicted, 4);
  ASSERT_TRUE(confusion.ok()) << confusion.status().ToString();
  EXPECT_EQ(confusion->num_classes, 4);
  // Class 3 appears nowhere: its row and column are zero.
  EXPECT_THAT(confusion->counts, ElementsAre(1, 1, 0, 0,  //
                                             0, 1, 1, 0,  //
                                             1, 0, 2, 0,  //
                                             0, 0, 0, 0));
  EXPECT_EQ(confusion->at(2, 0), 1);
  EXPECT_EQ(confusion->total(), 7);
}

TEST(MetricsConfusionTest, NormalizationTurnsZeroRowsAndColumnsIntoZeros) {
  const std::vector<int32_t> labels = {0, 0, 0, 1};
  const std::vector<int32_t> predicted = {0, 0, 1, 1};
  auto confusion = ComputeConfusionMatrix(labels, predicted, 3);
  ASSERT_TRUE(confusion.ok());
  EXPECT_THAT(confusion->Normalized(ConfusionNormalization::kNone),
              ElementsAre(2, 1, 0, 0, 1, 0, 0, 0, 0));
  EXPECT_THAT(confusion->Normalized(ConfusionNormalization::kByTrue),
              ElementsAre(DoubleEq(2.0 / 3), DoubleEq(1.0 / 3), 0, 0, 1, 0, 0, 0, 0));
  EXPECT_THAT(confusion->Normalized(ConfusionNormalization::kByPredicted),
              ElementsAre(1, 0.5, 0, 0, 0.5, 0, 0, 0, 0));
  EXPECT_THAT(confusion->Normalized(ConfusionNormalization::kOverAll),
              ElementsAre(0.5, 0.25, 0, 0, 0.25, 0, 0, 0, 0));
}

TEST(MetricsConfusionTest, EmptyInputGivesAZeroMatrixAndNanAccuracy) {
  auto confusion = ComputeConfusionMatrix({}, {}, 2);
  ASSERT_TRUE(confusion.ok());
  EXPECT_THAT(confusion->counts, ElementsAre(0, 0, 0, 0));
  EXPECT_TRUE(std::isnan(Accuracy(*confusion)));
  EXPECT_TRUE(std::isnan(ComputeBalancedAccuracy(*confusion).value));
  const ClassificationReport report = ComputeClassificationReport(*confusion);
  EXPECT_EQ(report.weighted.precision, 0.0);
  EXPECT_EQ(report.weighted.f1, 0.0);
}

TEST(MetricsConfusionTest, ErrorsNameTheArgumentAndIndex) {
  const std::vector<int32_t> labels = {0, 1, 5};
  const std::vector<int32_t> predicted = {0, 1, 2};
  auto bad_label = ComputeConfusionMatrix(labels, predicted, 3);
  ASSERT_FALSE(bad_label.ok());
  EXPECT_EQ(bad_label.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad_label.status().message(), "labels[2] = 5 is outside 0..2");

  const std::vector<int32_t> negative = {0, -1, 1};
  auto bad_prediction = ComputeConfusionMatrix(predicted, negative, 3);
  ASSERT_FALSE(bad_prediction.ok());
  EXPECT_EQ(bad_prediction.status().message(), "predicted[1] = -1 is outside 0..2");

  auto short_predictions = ComputeConfusionMatrix(labels, std::vector<int32_t>{0, 1}, 6);
  ASSERT_FALSE(short_predictions.ok());
  EXPECT_EQ(short_predictions.status().message(), "predicted has 2 entries but labels has 3");

  auto no_classes = ComputeConfusionMatrix(labels, predicted, 0);
  ASSERT_FALSE(no_classes.ok());
  EXPECT_THAT(no_classes.status().message(), HasSubstr("num_classes = 0"));
}

TEST(MetricsConfusionTest, AccuracyAndBalancedAccuracyMatchSklearnDocs) {
  // sklearn balanced_accuracy_score docstring: 0.625.
  const std::vector<int32_t> labels = {0, 1, 0, 0, 1, 0};
  const std::vector<int32_t> predicted = {0, 1, 0, 0, 0, 1};
  auto confusion = ComputeConfusionMatrix(labels, predicted, 2);
  ASSERT_TRUE(confusion.ok());
  EXPECT_DOUBLE_EQ(Accuracy(*confusion), 4.0 / 6.0);
  const BalancedAccuracy balanced = ComputeBalancedAccuracy(*confusion);
  EXPECT_DOUBLE_EQ(balanced.value, 0.625);
  EXPECT_TRUE(balanced.ignored_classes.empty());
}

TEST(MetricsConfusionTest, BalancedAccuracyListsPredictedClassesAbsentFromLabels) {
  // Class 2 is predicted but never true (sklearn warns and drops it); class 3 is nowhere.
  const std::vector<int32_t> labels = {0, 0, 1, 1};
  const std::vector<int32_t> predicted = {0, 2, 1, 1};
  auto confusion = ComputeConfusionMatrix(labels, predicted, 4);
  ASSERT_TRUE(confusion.ok());
  const BalancedAccuracy balanced = ComputeBalancedAccuracy(*confusion);
  EXPECT_DOUBLE_EQ(balanced.value, (0.5 + 1.0) / 2);
  EXPECT_THAT(balanced.ignored_classes, ElementsAre(2));
}

TEST(MetricsConfusionTest, ClassificationReportMatchesSklearnDocs) {
  // sklearn precision_recall_fscore_support docstring, with cat=0, dog=1, pig=2.
  const std::vector<int32_t> labels = {0, 1, 2, 0, 1, 2};
  const std::vector<int32_t> predicted = {0, 2, 1, 0, 0, 1};
  auto confusion = ComputeConfusionMatrix(labels, predicted, 3);
  ASSERT_TRUE(confusion.ok());
  const ClassificationReport report = ComputeClassificationReport(*confusion);
  ASSERT_EQ(report.per_class.size(), 3u);
  EXPECT_DOUBLE_EQ(report.per_class[0].precision, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(report.per_class[0].recall, 1.0);
  EXPECT_DOUBLE_EQ(report.per_class[0].f1, 0.8);
  EXPECT_EQ(report.per_class[1].f1, 0.0);
  EXPECT_EQ(report.per_class[2].support, 2);
  EXPECT_DOUBLE_EQ(report.macro.precision, 2.0 / 9.0);
  EXPECT_DOUBLE_EQ(report.macro.recall, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(report.macro.f1, 0.8 / 3.0);
  EXPECT_DOUBLE_EQ(report.micro.precision, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(report.micro.recall, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(report.weighted.precision, 2.0 / 9.0);
  EXPECT_EQ(report.total_support, 6);
  for (const ClassScores& s : report.per_class) {
    EXPECT_FALSE(s.precision_undefined);
    EXPECT_FALSE(s.recall_undefined);
  }
}

TEST(MetricsConfusionTest, ClassesWithoutPredictionsOrLabelsScoreZeroAndAreFlagged) {
  const std::vector<int32_t> labels = {0, 0, 1};
  const std::vector<int32_t> predicted = {0, 0, 0};
  auto confusion = ComputeConfusionMatrix(labels, predicted, 3);
  ASSERT_TRUE(confusion.ok());
  const ClassificationReport report = ComputeClassificationReport(*confusion);
  // Class 1 is never predicted; class 2 is neither true nor predicted but still counts in macro.
  EXPECT_TRUE(report.per_class[1].precision_undefined);
  EXPECT_FALSE(report.per_class[1].recall_undefined);
  EXPECT_EQ(report.per_class[1].precision, 0.0);
  EXPECT_TRUE(report.per_class[2].precision_undefined);
  EXPECT_TRUE(report.per_class[2].recall_undefined);
  EXPECT_DOUBLE_EQ(report.macro.precision, (2.0 / 3.0) / 3.0);
  EXPECT_DOUBLE_EQ(report.macro.recall, 1.0 / 3.0);
}

}  // namespace
}  // namespace labbook::metrics
