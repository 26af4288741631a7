// Hand-computed cases for the ROC and precision-recall curves, AUROC, AP, one-vs-rest and the
// threshold table.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "labbook/metrics.hpp"

namespace labbook::metrics {
namespace {

using ::testing::DoubleEq;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::IsNan;

TEST(MetricsRocTest, MatchesSklearnDocs) {
  const std::vector<int32_t> labels = {1, 1, 2, 2};
  const std::vector<double> scores = {0.1, 0.4, 0.35, 0.8};
  auto roc = ComputeRocCurve(labels, scores, /*positive_label=*/2);
  ASSERT_TRUE(roc.ok()) << roc.status().ToString();
  EXPECT_THAT(roc->fpr, ElementsAre(0, 0, 0.5, 0.5, 1));
  EXPECT_THAT(roc->tpr, ElementsAre(0, 0.5, 0.5, 1, 1));
  EXPECT_THAT(roc->thresholds, ElementsAre(1.8, 0.8, 0.4, 0.35, 0.1));
  EXPECT_EQ(roc->issue, RankingIssue::kNone);
  auto auc = RocAuc(labels, scores, 2);
  ASSERT_TRUE(auc.ok());
  EXPECT_DOUBLE_EQ(auc->value, 0.75);
}

TEST(MetricsRocTest, DropsCollinearPointsUnlessAsked) {
  // Scores 0.9, 0.8, 0.7 are all positives: the middle point lies on a straight segment.
  const std::vector<int32_t> labels = {1, 1, 1, 0};
  const std::vector<double> scores = {0.9, 0.8, 0.7, 0.1};
  auto dropped = ComputeRocCurve(labels, scores);
  ASSERT_TRUE(dropped.ok());
  EXPECT_THAT(dropped->thresholds, ElementsAre(1.9, 0.9, 0.7, 0.1));
  auto all = ComputeRocCurve(labels, scores, 1, /*drop_intermediate=*/false);
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(all->thresholds, ElementsAre(1.9, 0.9, 0.8, 0.7, 0.1));
}

TEST(MetricsRocTest, TiesAreOnePointAndNegativeZeroEqualsZero) {
  const std::vector<int32_t> labels = {0, 1, 0, 1};
  const std::vector<double> scores = {0.0, -0.0, 0.0, 0.0};
  auto roc = ComputeRocCurve(labels, scores);
  ASSERT_TRUE(roc.ok());
  EXPECT_THAT(roc->fpr, ElementsAre(0, 1));
  EXPECT_THAT(roc->tpr, ElementsAre(0, 1));
  EXPECT_THAT(roc->thresholds, ElementsAre(1.0, 0.0));
  EXPECT_DOUBLE_EQ(RocAuc(labels, scores)->value, 0.5);
  EXPECT_DOUBLE_EQ(AveragePrecision(labels, scores)->value, 0.5);
}

TEST(MetricsRocTest, OneClassPresentGivesNanAndSaysWhy) {
  const std::vector<int32_t> all_negative = {0, 0, 0};
  const std::vector<double> scores = {0.3, 0.1, 0.3};
  auto roc = ComputeRocCurve(all_negative, scores);
  ASSERT_TRUE(roc.ok());
  EXPECT_EQ(roc->issue, RankingIssue::kNoPositives);
  EXPECT_THAT(roc->tpr, Each(IsNan()));
  EXPECT_THAT(roc->fpr, ElementsAre(0, DoubleEq(2.0 / 3.0), 1));
  auto auc = RocAuc(all_negative, scores);
  ASSERT_TRUE(auc.ok());
  EXPECT_TRUE(std::isnan(auc->value));
  EXPECT_EQ(auc->issue, RankingIssue::kNoPositives);

  const std::vector<int32_t> all_positive = {1, 1, 1};
  auto roc_positive = ComputeRocCurve(all_positive, scores);
  ASSERT_TRUE(roc_positive.ok());
  EXPECT_EQ(roc_positive->issue, RankingIssue::kNoNegatives);
  EXPECT_THAT(roc_positive->fpr, Each(IsNan()));
  EXPECT_EQ(RocAuc(all_positive, scores)->issue, RankingIssue::kNoNegatives);
  // AP is defined without negatives: every threshold has precision 1.
  auto ap = AveragePrecision(all_positive, scores);
  ASSERT_TRUE(ap.ok());
  EXPECT_EQ(ap->value, 1.0);
  EXPECT_EQ(ap->issue, RankingIssue::kNone);
}

TEST(MetricsPrecisionRecallTest, MatchesSklearnDocs) {
  const std::vector<int32_t> labels = {0, 0, 1, 1};
  const std::vector<double> scores = {0.1, 0.4, 0.35, 0.8};
  auto pr = ComputePrecisionRecallCurve(labels, scores);
  ASSERT_TRUE(pr.ok());
  EXPECT_THAT(pr->precision, ElementsAre(0.5, DoubleEq(2.0 / 3.0), 0.5, 1, 1));
  EXPECT_THAT(pr->recall, ElementsAre(1, 1, 0.5, 0.5, 0));
  EXPECT_THAT(pr->thresholds, ElementsAre(0.1, 0.35, 0.4, 0.8));
  auto ap = AveragePrecision(labels, scores);
  ASSERT_TRUE(ap.ok());
  EXPECT_DOUBLE_EQ(ap->value, 0.5 * 1.0 + 0.5 * (2.0 / 3.0));
}

TEST(MetricsPrecisionRecallTest, NoPositivesSetsRecallToOneAndApToZero) {
  const std::vector<int32_t> labels = {0, 0};
  const std::vector<double> scores = {0.2, 0.7};
  auto pr = ComputePrecisionRecallCurve(labels, scores);
  ASSERT_TRUE(pr.ok());
  EXPECT_EQ(pr->issue, RankingIssue::kNoPositives);
  EXPECT_THAT(pr->recall, ElementsAre(1, 1, 0));
  EXPECT_THAT(pr->precision, ElementsAre(0, 0, 1));
  auto ap = AveragePrecision(labels, scores);
  ASSERT_TRUE(ap.ok());
  EXPECT_EQ(ap->value, 0.0);
  EXPECT_EQ(ap->issue, RankingIssue::kNoPositives);
}

TEST(MetricsRankingErrorsTest, NameTheProblem) {
  const double inf = std::numeric_limits<double>::infinity();
  auto not_finite = RocAuc(std::vector<int32_t>{0, 1, 0}, std::vector<double>{0.1, 0.2, -inf});
  ASSERT_FALSE(not_finite.ok());
  EXPECT_EQ(not_finite.status().message(), "scores[2] = -inf is not finite");
  auto mismatch = ComputeRocCurve(std::vector<int32_t>{0, 1}, std::vector<double>{0.1});
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.status().message(), "scores has 1 entries but labels has 2");
  EXPECT_FALSE(ComputePrecisionRecallCurve({}, {}).ok());
  EXPECT_FALSE(AveragePrecision({}, {}).ok());
}

TEST(MetricsOneVsRestTest, AbsentClassIsNanAndLeftOutOfTheMeans) {
  // Class 2 never occurs. Class 0 ranks perfectly, class 1 upside down.
  const std::vector<int32_t> labels = {0, 0, 1, 1};
  const std::vector<double> probabilities = {0.6,  0.3,  0.1,  //
                                             0.55, 0.35, 0.1,  //
                                             0.5,  0.1,  0.4,  //
                                             0.4,  0.2,  0.4};
  auto ovr = ComputeOneVsRest(labels, probabilities, 3);
  ASSERT_TRUE(ovr.ok()) << ovr.status().ToString();
  EXPECT_THAT(ovr->auroc, ElementsAre(1.0, 0.0, IsNan()));
  // Class 1 from the top: two negatives, then a positive at precision 1/3, then one at 1/2.
  EXPECT_THAT(ovr->average_precision, ElementsAre(1.0, DoubleEq(5.0 / 12.0), IsNan()));
  EXPECT_THAT(ovr->support, ElementsAre(2, 2, 0));
  EXPECT_THAT(ovr->issues,
              ElementsAre(RankingIssue::kNone, RankingIssue::kNone, RankingIssue::kNoPositives));
  EXPECT_DOUBLE_EQ(ovr->auroc_macro, 0.5);
  EXPECT_DOUBLE_EQ(ovr->auroc_weighted, 0.5);
  EXPECT_DOUBLE_EQ(ovr->average_precision_macro, 17.0 / 24.0);
  EXPECT_DOUBLE_EQ(ovr->average_precision_weighted, 17.0 / 24.0);
}

TEST(MetricsOneVsRestTest, SingleClassHasNoDefinedAuroc) {
  auto ovr = ComputeOneVsRest(std::vector<int32_t>{0, 0}, std::vector<double>{1.0, 1.0}, 1);
  ASSERT_TRUE(ovr.ok());
  EXPECT_TRUE(std::isnan(ovr->auroc_macro));
  EXPECT_EQ(ovr->issues[0], RankingIssue::kNoNegatives);
  EXPECT_EQ(ovr->average_precision_macro, 1.0);
}

TEST(MetricsOneVsRestTest, ThreadCountDoesNotChangeAnyBit) {
  constexpr int32_t kClasses = 7;
  constexpr size_t kRows = 30000;
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int32_t> label(0, kClasses - 2);  // the last class is absent
  std::uniform_int_distribution<int> level(0, 40);                // coarse scores: many ties
  std::vector<int32_t> labels(kRows);
  std::vector<double> probabilities(kRows * kClasses);
  for (size_t i = 0; i < kRows; ++i) {
    labels[i] = label(rng);
    for (int32_t c = 0; c < kClasses; ++c) {
      probabilities[i * kClasses + c] = level(rng) / 40.0 + (c == labels[i] ? 0.2 : 0.0);
    }
  }
  auto one = ComputeOneVsRest(labels, probabilities, kClasses, 1);
  ASSERT_TRUE(one.ok());
  for (int threads : {2, 3, 16}) {
    auto many = ComputeOneVsRest(labels, probabilities, kClasses, threads);
    ASSERT_TRUE(many.ok());
    for (int32_t c = 0; c < kClasses - 1; ++c) {
      EXPECT_EQ(many->auroc[c], one->auroc[c]) << "threads " << threads << " class " << c;
      EXPECT_EQ(many->average_precision[c], one->average_precision[c]);
      // And each class equals the binary functions on its column.
      std::vector<double> column(kRows);
      for (size_t i = 0; i < kRows; ++i) column[i] = probabilities[i * kClasses + c];
      EXPECT_EQ(RocAuc(labels, column, c)->value, one->auroc[c]);
      EXPECT_EQ(AveragePrecision(labels, column, c)->value, one->average_precision[c]);
    }
    EXPECT_TRUE(std::isnan(many->auroc[kClasses - 1]));
    EXPECT_EQ(many->auroc_macro, one->auroc_macro);
    EXPECT_EQ(many->average_precision_weighted, one->average_precision_weighted);
  }
}

TEST(MetricsOneVsRestTest, NonFiniteProbabilityIsNamedByRowAndClass) {
  std::vector<int32_t> labels(5000, 1);
  labels[0] = 0;
  std::vector<double> probabilities(5000 * 2, 0.5);
  probabilities[2 * 4321 + 1] = std::numeric_limits<double>::quiet_NaN();
  auto ovr = ComputeOneVsRest(labels, probabilities, 2, 2);
  ASSERT_FALSE(ovr.ok());
  EXPECT_EQ(ovr.status().message(), "probabilities[8643] (row 4321, class 1) = nan is not finite");
}

TEST(MetricsThresholdTableTest, CountsScoresAtOrAboveEachThreshold) {
  const std::vector<int32_t> labels = {1, 0, 1, 0, 1};
  // Column 1 holds the scores of class 1: 0.9, 0.5, 0.5, 0.2, 0.1.
  const std::vector<double> probabilities = {0.1, 0.9, 0.5, 0.5, 0.5, 0.5, 0.8, 0.2, 0.9, 0.1};
  const std::vector<double> thresholds = {0.5, 0.0, 0.95, 0.2};
  auto rows = PrecisionRecallAtThresholds(labels, probabilities, 2, 1, thresholds);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 4u);
  const ThresholdRow& half = (*rows)[0];
  EXPECT_EQ(half.threshold, 0.5);
  EXPECT_EQ(half.true_positives, 2);
  EXPECT_EQ(half.false_positives, 1);
  EXPECT_EQ(half.false_negatives, 1);
  EXPECT_EQ(half.true_negatives, 1);
  EXPECT_DOUBLE_EQ(half.precision, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(half.recall, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(half.f1, 2.0 / 3.0);
  EXPECT_EQ((*rows)[1].true_positives + (*rows)[1].false_positives, 5);
  const ThresholdRow& none = (*rows)[2];
  EXPECT_EQ(none.true_positives + none.false_positives, 0);
  EXPECT_EQ(none.precision, 0.0);
  EXPECT_EQ(none.f1, 0.0);
  EXPECT_EQ((*rows)[3].false_positives, 2);

  auto bad_class = PrecisionRecallAtThresholds(labels, probabilities, 2, 2, thresholds);
  ASSERT_FALSE(bad_class.ok());
  EXPECT_EQ(bad_class.status().message(), "class_id = 2 is outside 0..1");
  const std::vector<double> nan_threshold = {0.5, std::nan("")};
  auto bad_threshold = PrecisionRecallAtThresholds(labels, probabilities, 2, 1, nan_threshold);
  ASSERT_FALSE(bad_threshold.ok());
  EXPECT_EQ(bad_threshold.status().message(), "thresholds[1] is nan");
}

}  // namespace
}  // namespace labbook::metrics
