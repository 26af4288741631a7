// Parameter importance: the share of the metric's variance a parameter explains, and Spearman's
// correlation beside it.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "parameters.hpp"
#include "sweep/importance.hpp"
#include "sweep/search.hpp"
#include "sweep/spec.hpp"

namespace labbook::sweep {
namespace {

using testing::Choice;
using testing::Range;

TrialRecord Finished(Params params, double metric) {
  TrialRecord trial;
  trial.params = std::move(params);
  trial.done = true;
  trial.metric = metric;
  return trial;
}

const ParameterImportance* Find(const std::vector<ParameterImportance>& result,
                                const std::string& path) {
  for (const ParameterImportance& entry : result) {
    if (entry.path == path) return &entry;
  }
  return nullptr;
}

// lr drives the metric, optimizer shifts it by less, the metric ignores seed_offset, and epochs
// is a constant.
SweepSpec SyntheticSpec() {
  SweepSpec spec;
  spec.goal = Goal::kMaximize;
  Parameter epochs;
  epochs.path = "epochs";
  epochs.distribution = Distribution::kConstant;
  epochs.values = {10};
  spec.parameters = {epochs, Range("lr", Distribution::kLogUniformValues, 1e-4, 1e-1),
                     Choice("optimizer", {"adam", "sgd"}),
                     Range("seed_offset", Distribution::kUniform, 0, 1)};
  return spec;
}

std::vector<TrialRecord> SyntheticTrials(const SweepSpec& spec, int count) {
  std::mt19937_64 rng(17);
  std::normal_distribution<double> noise(0, 0.02);
  std::vector<TrialRecord> trials;
  for (int i = 0; i < count; ++i) {
    Params p = SampleParams(spec, rng);
    const double metric =
        -std::log10(p["lr"].get<double>()) + (p["optimizer"] == "adam" ? 1.0 : 0.0) + noise(rng);
    trials.push_back(Finished(p, metric));
  }
  return trials;
}

TEST(ImportanceTest, RanksTheDrivingParameterFirstAndNoiseLast) {
  const SweepSpec spec = SyntheticSpec();
  const std::vector<ParameterImportance> result = Importance(spec, SyntheticTrials(spec, 200));
  ASSERT_EQ(result.size(), 3u);  // epochs, a constant, is left out
  EXPECT_EQ(result[0].path, "lr");
  EXPECT_EQ(result[1].path, "optimizer");
  EXPECT_EQ(result[2].path, "seed_offset");
  // Of the metric's variance, lr's term holds 3/4 and optimizer's 1/4; quantile bins of lr
  // catch most of its share. Over other draws of the trials: lr 0.65 to 0.75, optimizer 0.19 to
  // 0.31, seed_offset at most 0.03.
  EXPECT_GT(result[0].importance, 0.6);
  EXPECT_GT(result[1].importance, 0.1);
  EXPECT_LT(result[1].importance, 0.45);
  EXPECT_LT(result[2].importance, 0.05);
  EXPECT_LT(result[0].correlation, -0.8);  // the smaller the rate, the larger the metric
  EXPECT_TRUE(std::isnan(result[1].correlation));
  EXPECT_LT(std::abs(result[2].correlation), 0.25);
  for (const ParameterImportance& entry : result) {
    EXPECT_GE(entry.importance, 0);
    EXPECT_LE(entry.importance, 1);
  }
}

TEST(ImportanceTest, SpearmanOfAMonotoneRelationIsOne) {
  SweepSpec spec;
  spec.parameters = {Range("x", Distribution::kUniform, 0, 10),
                     Range("y", Distribution::kUniform, 0, 10)};
  std::vector<TrialRecord> trials;
  for (int i = 0; i < 12; ++i) {
    const double x = 0.7 * i;
    // Increasing in x and decreasing in y, neither linearly.
    trials.push_back(Finished({{"x", x}, {"y", 10 - x}}, std::exp(x)));
  }
  const std::vector<ParameterImportance> result = Importance(spec, trials);
  ASSERT_EQ(result.size(), 2u);
  EXPECT_DOUBLE_EQ(Find(result, "x")->correlation, 1.0);
  EXPECT_DOUBLE_EQ(Find(result, "y")->correlation, -1.0);
}

TEST(ImportanceTest, EqualImportancesGoByPath) {
  SweepSpec spec;
  spec.parameters = {Range("b", Distribution::kUniform, 0, 1),
                     Range("a", Distribution::kUniform, 0, 1)};
  std::vector<TrialRecord> trials;
  for (int i = 0; i < 10; ++i) {
    trials.push_back(Finished({{"a", 0.1 * i}, {"b", 0.1 * i}}, 0.1 * i + 0.05 * (i % 2)));
  }
  const std::vector<ParameterImportance> result = Importance(spec, trials);
  ASSERT_EQ(result.size(), 2u);
  EXPECT_EQ(result[0].importance, result[1].importance);
  EXPECT_GT(result[0].importance, 0);
  EXPECT_EQ(result[0].path, "a");
  EXPECT_EQ(result[1].path, "b");
}

TEST(ImportanceTest, TiesTakeTheirAverageRank) {
  SweepSpec spec;
  spec.parameters = {Range("depth", Distribution::kIntUniform, 1, 3)};
  // Ranks of depth: 1.5 1.5 3.5 3.5 5; of the metric: 1 2 3 4 5. Their Pearson correlation:
  // 9 / sqrt(9 * 10).
  const std::vector<TrialRecord> trials = {Finished({{"depth", 1}}, 1), Finished({{"depth", 1}}, 2),
                                           Finished({{"depth", 2}}, 3), Finished({{"depth", 2}}, 4),
                                           Finished({{"depth", 3}}, 5)};
  const std::vector<ParameterImportance> result = Importance(spec, trials);
  ASSERT_EQ(result.size(), 1u);
  EXPECT_NEAR(result[0].correlation, 3.0 / std::sqrt(10.0), 1e-12);
}

TEST(ImportanceTest, CategoricalGroupsExplainTheirShare) {
  SweepSpec spec;
  spec.parameters = {Choice("optimizer", {"adam", "sgd"})};
  // Group means 1 and 3, grand mean 2: sums of squares within 4 (on 4 degrees of freedom) and
  // total 10 (on 5), so epsilon^2 = 1 - (4 / 4) / (10 / 5) = 0.5 (eta^2 would be 0.6).
  const std::vector<TrialRecord> trials = {
      Finished({{"optimizer", "adam"}}, 0), Finished({{"optimizer", "adam"}}, 1),
      Finished({{"optimizer", "adam"}}, 2), Finished({{"optimizer", "sgd"}}, 2),
      Finished({{"optimizer", "sgd"}}, 3),  Finished({{"optimizer", "sgd"}}, 4)};
  const std::vector<ParameterImportance> result = Importance(spec, trials);
  ASSERT_EQ(result.size(), 1u);
  EXPECT_NEAR(result[0].importance, 0.5, 1e-12);
  EXPECT_TRUE(std::isnan(result[0].correlation));
}

TEST(ImportanceTest, LeavesOutParametersWithOneValue) {
  SweepSpec spec;
  Parameter constant;
  constant.path = "epochs";
  constant.distribution = Distribution::kConstant;
  constant.values = {3};
  spec.parameters = {constant, Choice("only", {"adam"}), Range("x", Distribution::kUniform, 0, 1)};
  std::vector<TrialRecord> trials;
  for (int i = 0; i < 6; ++i) {
    trials.push_back(Finished({{"epochs", 3}, {"only", "adam"}, {"x", 0.1 * i}}, i));
  }
  const std::vector<ParameterImportance> result = Importance(spec, trials);
  ASSERT_EQ(result.size(), 1u);
  EXPECT_EQ(result[0].path, "x");
}

TEST(ImportanceTest, FewerThanThreeTrialsTellNothing) {
  SweepSpec spec;
  spec.parameters = {Choice("optimizer", {"adam", "sgd"}),
                     Range("x", Distribution::kUniform, 0, 1)};
  std::vector<TrialRecord> trials = {Finished({{"optimizer", "adam"}, {"x", 0.1}}, 1),
                                     Finished({{"optimizer", "sgd"}, {"x", 0.9}}, 5)};
  // Trials without a metric, or not finished, do not count.
  TrialRecord running;
  running.params = {{"optimizer", "adam"}, {"x", 0.5}};
  running.metric = 3;
  trials.push_back(running);
  TrialRecord failed;
  failed.params = {{"optimizer", "sgd"}, {"x", 0.7}};
  failed.done = true;
  trials.push_back(failed);
  const std::vector<ParameterImportance> result = Importance(spec, trials);
  ASSERT_EQ(result.size(), 2u);
  for (const ParameterImportance& entry : result) {
    EXPECT_EQ(entry.importance, 0) << entry.path;
    EXPECT_TRUE(std::isnan(entry.correlation)) << entry.path;
  }
  EXPECT_EQ(result[0].path, "optimizer");
}

}  // namespace
}  // namespace labbook::sweep
