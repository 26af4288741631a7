// Sweep files as W&B writes them, the overrides a trial gets, the grid's order, hyperband's
// brackets and judgement.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "core/config.hpp"
#include "sweep/hyperband.hpp"
#include "sweep/search.hpp"
#include "sweep/spec.hpp"

namespace labbook::sweep {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

Result<SweepSpec> Parse(const std::string& yaml) {
  Result<config::Node> root = config::ParseYaml(yaml, "sweep.yaml");
  if (!root.ok()) return root.status();
  return ParseSweepSpec(*root);
}

const Parameter* Find(const SweepSpec& spec, const std::string& path) {
  for (const Parameter& p : spec.parameters) {
    if (p.path == path) return &p;
  }
  return nullptr;
}

TEST(SweepSpecTest, ReadsWandbsFormsDottedAndNestedNamesAndInfersDistributions) {
  Result<SweepSpec> spec = Parse(R"(name: lr search
program: train.py
method: bayes
metric:
  name: epoch/val_accuracy
  goal: maximize
parameters:
  optimizer.learning_rate:
    distribution: log_uniform_values
    min: 0.0001
    max: 0.1
  optimizer:
    parameters:
      name:
        values: [adam, sgd, nadam]
  layers:
    parameters:
      5.rate:
        min: 0.1
        max: 0.5
  batch_size:
    min: 16
    max: 128
  epochs:
    value: 3
  layers.0.filters:
    distribution: q_uniform
    min: 8
    max: 64
    q: 8
early_terminate:
  type: hyperband
  min_iter: 2
  eta: 2
run_cap: 30
)");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->name, "lr search");
  EXPECT_EQ(spec->method, Method::kBayes);
  EXPECT_EQ(spec->metric, "epoch/val_accuracy");
  EXPECT_EQ(spec->goal, Goal::kMaximize);
  EXPECT_EQ(spec->run_cap, 30);
  EXPECT_EQ(spec->ignored, std::vector<std::string>{"program"});
  ASSERT_EQ(spec->parameters.size(), 6u);
  // Sorted by path.
  EXPECT_EQ(spec->parameters.front().path, "batch_size");
  EXPECT_EQ(Find(*spec, "batch_size")->distribution, Distribution::kIntUniform);
  EXPECT_EQ(Find(*spec, "layers.5.rate")->distribution, Distribution::kUniform);
  EXPECT_EQ(Find(*spec, "optimizer.name")->distribution, Distribution::kCategorical);
  EXPECT_EQ(Find(*spec, "epochs")->distribution, Distribution::kConstant);
  EXPECT_EQ(Find(*spec, "layers.0.filters")->q, 8);
  EXPECT_EQ(Find(*spec, "optimizer.learning_rate")->distribution,
            Distribution::kLogUniformValues);
  EXPECT_EQ(Find(*spec, "optimizer.learning_rate")->origin, "sweep.yaml:8");
  ASSERT_TRUE(spec->early_terminate.has_value());
  EXPECT_EQ(spec->early_terminate->min_iter, 2);
  EXPECT_EQ(spec->early_terminate->eta, 2);
  EXPECT_EQ(spec->early_terminate->brackets, 3);

  // What the store keeps reads back as the same spec.
  Result<SweepSpec> again = SweepSpecFromJson(spec->ToJson(), "stored");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->ToJson(), spec->ToJson());
}

TEST(SweepSpecTest, SamplesStayInsideTheirRangesAndOnTheirGrids) {
  Result<SweepSpec> spec = Parse(R"(method: random
parameters:
  a: {distribution: log_uniform_values, min: 0.001, max: 0.1}
  b: {distribution: int_uniform, min: -2, max: 3}
  c: {distribution: q_uniform, min: 0.04, max: 1, q: 0.1}
  d: {distribution: q_log_uniform_values, min: 0.01, max: 100, q: 1}
  e: {values: [x, y], probabilities: [0.9, 0.1]}
  f: {distribution: log_uniform, min: 0, max: 1}
)");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  std::mt19937_64 rng(7);
  int xs = 0;
  for (int i = 0; i < 2000; ++i) {
    const Params p = SampleParams(*spec, rng);
    const double a = p["a"].get<double>();
    EXPECT_TRUE(a >= 0.001 && a <= 0.1) << a;
    ASSERT_TRUE(p["b"].is_number_integer()) << p.dump();
    EXPECT_TRUE(p["b"] >= -2 && p["b"] <= 3);
    const double c = p["c"].get<double>();
    EXPECT_TRUE(c >= 0.1 - 1e-12 && c <= 1 + 1e-12) << c;
    EXPECT_NEAR(std::round(c * 10), c * 10, 1e-9);
    ASSERT_TRUE(p["d"].is_number_integer()) << "a whole q gives integers: " << p.dump();
    EXPECT_TRUE(p["d"] >= 1 && p["d"] <= 100) << p.dump();
    const double f = p["f"].get<double>();
    EXPECT_TRUE(f >= 1 && f <= std::exp(1.0)) << f;
    xs += p["e"] == "x";
  }
  EXPECT_NEAR(xs / 2000.0, 0.9, 0.03);
}

TEST(SweepSpecTest, OverridesAreJsonThatTheConfigsYamlReadsBack) {
  const Params params = {{"optimizer.name", "adam"},
                         {"optimizer.learning_rate", 0.00123},
                         {"layers.0.kernel_size", json::array({3, 3})},
                         {"epochs", 4}};
  const std::vector<std::string> overrides = Overrides(params);
  EXPECT_EQ(overrides, (std::vector<std::string>{"epochs=4", "layers.0.kernel_size=[3,3]",
                                                 "optimizer.learning_rate=0.00123",
                                                 "optimizer.name=\"adam\""}));
  config::Node root;
  root.kind = config::Node::Kind::kMap;
  for (const std::string& o : overrides) ASSERT_TRUE(config::ApplyOverride(root, o).ok()) << o;
  const json back = root.ToJson();
  EXPECT_EQ(back["optimizer"]["name"], "adam");
  EXPECT_EQ(back["optimizer"]["learning_rate"], 0.00123);
  EXPECT_EQ(back["layers"]["0"]["kernel_size"], json::array({3, 3}));
  EXPECT_EQ(back["epochs"], 4);
}

TEST(SweepSpecTest, MistakesNameTheLineAndTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"parameters: {a: {values: [1]}}\n", "sweep.yaml:1: method: missing"},
      {"method: grid\nparameters:\n  a: {min: 0.5, max: 1.5}\n",
       "sweep.yaml:3: parameters.a: a grid needs values"},
      {"method: random\nparameters:\n  a: {min: 3, max: 1}\n",
       "parameters.a.max: expected an integer >= 3"},
      {"method: random\nparameters:\n  a: {values: []}\n",
       "sweep.yaml:3: parameters.a.values: expected a non-empty list"},
      {"method: random\nparameters:\n  a: {values: [1, 2], probabilities: [0.5, 0.6]}\n",
       "parameters.a.probabilities: expected numbers summing to 1"},
      {"method: random\nparameters:\n  a: {distribution: gamma, min: 1, max: 2}\n",
       "parameters.a.distribution: expected one of constant, categorical"},
      {"method: random\nparameters:\n  a: {mu: 0}\n",
       "parameters.a: expected values, value, or min and max"},
      {"method: random\nparameters:\n  a: 3\n", "sweep.yaml:3: parameters.a: expected a map"},
      {"method: random\nparameters:\n  a: {values: [1]}\n  a.b: {values: [1]}\n"
       "  a:\n    parameters: {b: {values: [2]}}\n",
       "sweep.yaml"},
      {"method: random\nmetric: {name: loss}\nearly_terminate: {type: hyperband}\n"
       "parameters: {a: {values: [1]}}\n",
       "early_terminate: expected min_iter (or max_iter)"},
      {"method: random\nearly_terminate: {type: hyperband, min_iter: 1}\n"
       "parameters: {a: {values: [1]}}\n",
       "early_terminate: needs a metric"},
      {"method: random\nrun_cap: -1\nparameters: {a: {values: [1]}}\n",
       "sweep.yaml:2: run_cap: expected an integer >= 0"},
  };
  for (const auto& [yaml, expected] : cases) {
    Result<SweepSpec> spec = Parse(yaml);
    ASSERT_FALSE(spec.ok()) << yaml;
    EXPECT_EQ(spec.status().code(), ErrorCode::kInvalidArgument) << yaml;
    EXPECT_THAT(spec.status().message(), HasSubstr(expected)) << yaml;
  }
}

TEST(SearchTest, TheGridWalksEveryPointOnceLastParameterFastest) {
  Result<SweepSpec> spec = Parse(R"(method: grid
parameters:
  a: {values: [x, y]}
  b: {distribution: int_uniform, min: 1, max: 3}
  c: {distribution: q_uniform, min: 0, max: 10, q: 5}
  d: {value: 7}
)");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  Result<int64_t> size = GridSize(*spec);
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 2 * 3 * 3);
  EXPECT_EQ(GridPoint(*spec, 0), json({{"a", "x"}, {"b", 1}, {"c", 0}, {"d", 7}}));
  EXPECT_EQ(GridPoint(*spec, 1), json({{"a", "x"}, {"b", 1}, {"c", 5}, {"d", 7}}));
  EXPECT_EQ(GridPoint(*spec, 17), json({{"a", "y"}, {"b", 3}, {"c", 10}, {"d", 7}}));

  std::vector<TrialRecord> trials;
  std::set<std::string> seen;
  std::mt19937_64 rng(1);
  for (int i = 0; i < 18; ++i) {
    Result<std::optional<Suggestion>> next = Suggest(*spec, trials, rng);
    ASSERT_TRUE(next.ok() && next->has_value());
    EXPECT_EQ((*next)->grid_index, i);
    seen.insert((*next)->params.dump());
    trials.push_back({(*next)->params, (*next)->grid_index, false, std::nullopt});
  }
  EXPECT_EQ(seen.size(), 18u);
  Result<std::optional<Suggestion>> none = Suggest(*spec, trials, rng);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value()) << "every point is taken";
}

TEST(HyperbandTest, BracketsAndWhoGoesOn) {
  EXPECT_EQ(HyperbandBrackets({1, 3, 3}), (std::vector<int64_t>{1, 3, 9}));
  EXPECT_EQ(HyperbandBrackets({2, 2, 4}), (std::vector<int64_t>{2, 4, 8, 16}));
  EXPECT_EQ(HyperbandBrackets({1, 1.5, 3}), (std::vector<int64_t>{1, 2}));

  // Alone at a bracket: goes on.
  EXPECT_FALSE(JudgeAtBracket(Goal::kMinimize, 3, 0.5, {}).stop);
  // Second of two with eta 3: only ceil(2 / 3) = 1 goes on.
  BracketDecision d = JudgeAtBracket(Goal::kMinimize, 3, 0.9, std::vector<double>{0.5});
  EXPECT_TRUE(d.stop);
  EXPECT_EQ(d.rank, 2);
  EXPECT_EQ(d.compared, 2);
  EXPECT_EQ(d.kept, 1);
  EXPECT_FALSE(JudgeAtBracket(Goal::kMinimize, 3, 0.4, std::vector<double>{0.5}).stop);
  EXPECT_FALSE(JudgeAtBracket(Goal::kMaximize, 3, 0.9, std::vector<double>{0.5}).stop);
  // Ties go to the trial judged; of four with eta 2, the best two go on.
  EXPECT_FALSE(
      JudgeAtBracket(Goal::kMaximize, 2, 0.7, std::vector<double>{0.9, 0.7, 0.1}).stop);
  EXPECT_TRUE(
      JudgeAtBracket(Goal::kMaximize, 2, 0.2, std::vector<double>{0.9, 0.7, 0.1}).stop);
  // NaN is worst, for the judged and among the others.
  EXPECT_TRUE(JudgeAtBracket(Goal::kMaximize, 3, std::nan(""), {}).stop);
  EXPECT_FALSE(
      JudgeAtBracket(Goal::kMaximize, 2, 0.1, std::vector<double>{std::nan("")}).stop);
}

}  // namespace
}  // namespace labbook::sweep
