// The tree-structured Parzen estimator: better than random search on Branin, drawn to the good
// category, on the grid of every distribution, and repeatable.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numbers>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "parameters.hpp"
#include "sweep/search.hpp"
#include "sweep/spec.hpp"
#include "sweep/tpe.hpp"

namespace labbook::sweep {
namespace {

using testing::Choice;
using testing::Range;
using testing::Normal;

// The Branin-Hoo function; its global minimum 0.397887 is reached at three points.
double Branin(double x1, double x2) {
  constexpr double kPi = std::numbers::pi;
  const double b = 5.1 / (4 * kPi * kPi);
  const double c = 5 / kPi;
  const double t = 1 / (8 * kPi);
  const double d = x2 - b * x1 * x1 + c * x1 - 6;
  return d * d + 10 * (1 - t) * std::cos(x1) + 10;
}

SweepSpec BraninSpec() {
  SweepSpec spec;
  spec.method = Method::kBayes;
  spec.metric = "loss";
  spec.goal = Goal::kMinimize;
  spec.parameters = {Range("x1", Distribution::kUniform, -5, 10),
                     Range("x2", Distribution::kUniform, 0, 15)};
  return spec;
}

using Objective = std::function<double(const Params&)>;
using Searcher = std::function<Params(std::span<const TrialRecord>, std::mt19937_64&)>;

// Runs `count` trials one after another, each finished before the next is suggested.
std::vector<TrialRecord> RunSweep(const Searcher& search, const Objective& objective, int count,
                                  uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<TrialRecord> trials;
  for (int i = 0; i < count; ++i) {
    TrialRecord trial;
    trial.params = search(trials, rng);
    trial.done = true;
    trial.metric = objective(trial.params);
    trials.push_back(std::move(trial));
  }
  return trials;
}

double BestOf(const std::vector<TrialRecord>& trials) {
  double best = std::numeric_limits<double>::infinity();
  for (const TrialRecord& t : trials) best = std::min(best, *t.metric);
  return best;
}

double Median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  const size_t n = xs.size();
  return n % 2 == 1 ? xs[n / 2] : 0.5 * (xs[n / 2 - 1] + xs[n / 2]);
}

// Each seed runs both searches; the first startup_trials trials of the two are the same draws,
// so the comparison is of what each makes of the remaining 30.
TEST(TpeTest, BeatsRandomSearchOnBranin) {
  constexpr int kSeeds = 100;
  constexpr int kTrials = 40;
  const SweepSpec spec = BraninSpec();
  const Objective branin = [](const Params& p) {
    return Branin(p["x1"].get<double>(), p["x2"].get<double>());
  };
  const Searcher tpe = [&spec](std::span<const TrialRecord> trials, std::mt19937_64& rng) {
    return SuggestTpe(spec, trials, rng);
  };
  const Searcher random = [&spec](std::span<const TrialRecord>, std::mt19937_64& rng) {
    return SampleParams(spec, rng);
  };
  std::vector<double> tpe_best;
  std::vector<double> random_best;
  int tpe_wins = 0;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    tpe_best.push_back(BestOf(RunSweep(tpe, branin, kTrials, seed)));
    random_best.push_back(BestOf(RunSweep(random, branin, kTrials, seed)));
    if (tpe_best.back() < random_best.back()) ++tpe_wins;
  }
  const double tpe_median = Median(tpe_best);
  const double random_median = Median(random_best);
  RecordProperty("tpe_median_best", std::to_string(tpe_median));
  RecordProperty("random_median_best", std::to_string(random_median));
  RecordProperty("tpe_wins", tpe_wins);
  // Measured (libstdc++'s generators under SampleParams): medians 0.736 against 1.315, and TPE
  // better on 68 of the 100 seeds. A search no better than random would win 50 +- 5 and match
  // random's median, so these bounds fail it while leaving room for other generators.
  EXPECT_LT(tpe_median, 0.75 * random_median)
      << "TPE median " << tpe_median << ", random median " << random_median;
  EXPECT_GE(tpe_wins, 60) << "of " << kSeeds << " seeds";
}

TEST(TpeTest, ProposesTheGoodCategoryAfterStartup) {
  SweepSpec spec;
  spec.goal = Goal::kMaximize;
  spec.parameters = {Choice("optimizer", {"sgd", "adam", "rmsprop", "adagrad"}),
                     Range("lr", Distribution::kLogUniformValues, 1e-4, 1e-1)};
  std::mt19937_64 noise_rng(7);
  std::normal_distribution<double> noise(0, 0.05);
  const Objective objective = [&](const Params& p) {
    return (p["optimizer"] == "adam" ? 1.0 : 0.0) + noise(noise_rng);
  };
  const TpeOptions options;
  const Searcher tpe = [&](std::span<const TrialRecord> trials, std::mt19937_64& rng) {
    return SuggestTpe(spec, trials, rng, options);
  };
  constexpr int kTrials = 40;
  int adam_after_startup = 0;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const std::vector<TrialRecord> trials = RunSweep(tpe, objective, kTrials, seed);
    for (int i = options.startup_trials; i < kTrials; ++i) {
      if (trials[i].params["optimizer"] == "adam") ++adam_after_startup;
    }
  }
  const int proposals = 5 * (kTrials - options.startup_trials);
  RecordProperty("adam_share", std::to_string(1.0 * adam_after_startup / proposals));
  // Random search proposes adam a quarter of the time; TPE was measured at 99%.
  EXPECT_GE(adam_after_startup, proposals * 3 / 4) << adam_after_startup << " of " << proposals;
}

// Whether `value` is a whole multiple of `q`, up to the rounding of the multiplication.
bool OnGrid(double value, double q) {
  const double steps = value / q;
  return std::abs(steps - std::round(steps)) < 1e-9 * std::max(1.0, std::abs(steps));
}

TEST(TpeTest, StaysInBoundsAndOnTheGrid) {
  SweepSpec spec;
  spec.goal = Goal::kMinimize;
  spec.parameters = {
      Range("batch", Distribution::kQLogUniformValues, 16, 512, 16),
      Range("depth", Distribution::kIntUniform, 2, 9),
      Range("dropout", Distribution::kQUniform, 0, 0.75, 0.25),
      Range("lr", Distribution::kLogUniformValues, 1e-5, 1e-1),
      Range("scale", Distribution::kLogUniform, -3, 1),
      Normal("shift", Distribution::kNormal, 0, 1),
      Normal("shift_q", Distribution::kQNormal, 0, 1, 0.5),
      Normal("width", Distribution::kLogNormal, 1, 0.5),
      Normal("width_q", Distribution::kQLogNormal, 3, 1, 8),
  };
  // Pulls every parameter towards one end of its range (the unbounded ones towards small
  // values), each term between 0 and 1, so that the good kernels sit at the bounds.
  const Objective objective = [](const Params& p) {
    return p["batch"].get<double>() / 512 + (9 - p["depth"].get<double>()) / 7 +
           p["dropout"].get<double>() / 0.75 + std::log(p["lr"].get<double>() / 1e-5) / 9.3 +
           p["scale"].get<double>() / 2.8 + 0.5 * (1 + std::tanh(p["shift"].get<double>())) +
           0.5 * (1 + std::tanh(p["shift_q"].get<double>())) +
           (1 - std::exp(-p["width"].get<double>())) +
           (1 - std::exp(-p["width_q"].get<double>() / 8));
  };
  const Searcher tpe = [&spec](std::span<const TrialRecord> trials, std::mt19937_64& rng) {
    return SuggestTpe(spec, trials, rng);
  };
  const std::vector<TrialRecord> trials = RunSweep(tpe, objective, 60, 3);
  for (size_t i = 10; i < trials.size(); ++i) {
    const Params& p = trials[i].params;
    SCOPED_TRACE("trial " + std::to_string(i) + ": " + p.dump());
    ASSERT_TRUE(p["batch"].is_number_integer());
    EXPECT_GE(p["batch"].get<int64_t>(), 16);
    EXPECT_LE(p["batch"].get<int64_t>(), 512);
    EXPECT_EQ(p["batch"].get<int64_t>() % 16, 0);
    ASSERT_TRUE(p["depth"].is_number_integer());
    EXPECT_GE(p["depth"].get<int64_t>(), 2);
    EXPECT_LE(p["depth"].get<int64_t>(), 9);
    const double dropout = p["dropout"].get<double>();
    EXPECT_GE(dropout, 0);
    EXPECT_LE(dropout, 0.75);
    EXPECT_TRUE(OnGrid(dropout, 0.25)) << dropout;
    const double lr = p["lr"].get<double>();
    EXPECT_GE(lr, 1e-5);
    EXPECT_LE(lr, 1e-1);
    const double scale = p["scale"].get<double>();
    EXPECT_GE(scale, std::exp(-3.0));
    EXPECT_LE(scale, std::exp(1.0));
    EXPECT_TRUE(std::isfinite(p["shift"].get<double>()));
    EXPECT_TRUE(OnGrid(p["shift_q"].get<double>(), 0.5)) << p["shift_q"];
    EXPECT_GT(p["width"].get<double>(), 0);
    ASSERT_TRUE(p["width_q"].is_number_integer());
    EXPECT_GE(p["width_q"].get<int64_t>(), 0);
    EXPECT_EQ(p["width_q"].get<int64_t>() % 8, 0);
  }
  // The pull shows: the late trials sit at dropout's lower bound.
  int lowest_dropout = 0;
  for (size_t i = 40; i < trials.size(); ++i) lowest_dropout += trials[i].params["dropout"] == 0.0;
  EXPECT_GE(lowest_dropout, 10);
}

TEST(TpeTest, SameSeedAndTrialsGiveTheSameSuggestion) {
  const SweepSpec spec = BraninSpec();
  const Objective branin = [](const Params& p) {
    return Branin(p["x1"].get<double>(), p["x2"].get<double>());
  };
  const Searcher random = [&spec](std::span<const TrialRecord>, std::mt19937_64& rng) {
    return SampleParams(spec, rng);
  };
  const std::vector<TrialRecord> trials = RunSweep(random, branin, 20, 11);
  std::mt19937_64 first(42);
  std::mt19937_64 second(42);
  const Params a = SuggestTpe(spec, trials, first);
  const Params b = SuggestTpe(spec, trials, second);
  EXPECT_EQ(a, b);
  EXPECT_EQ(first, second);  // and both generators moved alike
  std::mt19937_64 other(43);
  EXPECT_NE(SuggestTpe(spec, trials, other), a);
}

TEST(TpeTest, DrawsAtRandomUntilStartupTrialsHaveAMetric) {
  const SweepSpec spec = BraninSpec();
  std::vector<TrialRecord> trials;
  // Running trials and finished ones without a metric do not count.
  for (int i = 0; i < 12; ++i) {
    TrialRecord trial;
    trial.params = {{"x1", 1.0 * i - 5}, {"x2", 1.0 * i}};
    trial.done = i % 2 == 0;
    if (i % 2 == 1) trial.metric = 1.0;  // a running trial's partial metric
    trials.push_back(trial);
  }
  for (int i = 0; i < 9; ++i) {
    TrialRecord trial;
    trial.params = {{"x1", 0.5 * i}, {"x2", 0.5 * i}};
    trial.done = true;
    trial.metric = Branin(0.5 * i, 0.5 * i);
    trials.push_back(trial);
  }
  std::mt19937_64 tpe_rng(5);
  std::mt19937_64 random_rng(5);
  EXPECT_EQ(SuggestTpe(spec, trials, tpe_rng), SampleParams(spec, random_rng));

  trials.push_back(trials.back());  // the tenth trial with a metric
  std::mt19937_64 after_rng(5);
  std::mt19937_64 random_again(5);
  EXPECT_NE(SuggestTpe(spec, trials, after_rng), SampleParams(spec, random_again));
}

TEST(TpeTest, ConstantsPassThrough) {
  SweepSpec spec = BraninSpec();
  Parameter epochs;
  epochs.path = "epochs";
  epochs.distribution = Distribution::kConstant;
  epochs.values = {5};
  spec.parameters.push_back(epochs);
  const Objective branin = [](const Params& p) {
    return Branin(p["x1"].get<double>(), p["x2"].get<double>());
  };
  const Searcher tpe = [&spec](std::span<const TrialRecord> trials, std::mt19937_64& rng) {
    return SuggestTpe(spec, trials, rng);
  };
  for (const TrialRecord& t : RunSweep(tpe, branin, 15, 2)) EXPECT_EQ(t.params["epochs"], 5);
}

TEST(TpeTest, MaximizeAndMinimizeSeekOppositeEnds) {
  for (Goal goal : {Goal::kMinimize, Goal::kMaximize}) {
    SweepSpec spec;
    spec.goal = goal;
    spec.parameters = {Range("x", Distribution::kUniform, 0, 1)};
    const Objective identity = [](const Params& p) { return p["x"].get<double>(); };
    const Searcher tpe = [&spec](std::span<const TrialRecord> trials, std::mt19937_64& rng) {
      return SuggestTpe(spec, trials, rng);
    };
    const std::vector<TrialRecord> trials = RunSweep(tpe, identity, 30, 9);
    double late_mean = 0;
    for (size_t i = 20; i < trials.size(); ++i) late_mean += *trials[i].metric / 10;
    if (goal == Goal::kMinimize) {
      EXPECT_LT(late_mean, 0.25);
    } else {
      EXPECT_GT(late_mean, 0.75);
    }
  }
}

}  // namespace
}  // namespace labbook::sweep
