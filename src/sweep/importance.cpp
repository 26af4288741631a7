// Parameter importance as `labbook sweep show` prints it.
//
// The measure: how much of the metric's spread across trials the parameter explains on its own.
// The trials are grouped by the parameter's value (a categorical parameter: one group per
// choice; a numeric one: up to kMaxBins bins holding about equally many trials, split at the
// value's quantiles), and the importance is the share of the metric's variance that lies between
// the groups' means, the correlation ratio eta^2, adjusted for the share that grouping alone
// would explain in noise (epsilon^2: 1 - within-group variance / total variance, each divided by
// its degrees of freedom), clipped to [0, 1]. A parameter the metric does not depend on scores
// about 0 rather than the (groups - 1) / (trials - 1) that plain eta^2 gives noise.
//
// Why this one: it costs a sort per parameter and fits no model, so it answers at once for any
// sweep and gives the same number every time; and "the share of the metric's variance explained
// by this parameter" reads without a manual. Its blind spot is interactions (a parameter that
// matters only together with another), which a per-parameter measure cannot see; a model-based
// measure (a random forest's permutation importance, fANOVA) would, at the price of fitting and
// of being noisy with the tens of trials a sweep has.
//
// The correlation beside it is Spearman's rank correlation, so it tells the direction of any
// monotone relation, whatever the scale (a learning rate on a log scale reads as well as a
// linear one).
#include "sweep/importance.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

namespace labbook::sweep {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr size_t kMaxBins = 5;
constexpr size_t kMinTrials = 3;

// Whether the spec lets the parameter take one value only, so that it explains nothing.
bool HasOneValue(const Parameter& parameter) {
  switch (parameter.distribution) {
    case Distribution::kConstant:
      return true;
    case Distribution::kCategorical:
      return parameter.values.size() <= 1;
    case Distribution::kNormal:
    case Distribution::kQNormal:
    case Distribution::kLogNormal:
    case Distribution::kQLogNormal:
      return parameter.sigma == 0;
    default:
      return parameter.min == parameter.max;
  }
}

// Ranks 1..n of `xs`, tied values sharing the average of the ranks they span.
std::vector<double> AverageRanks(const std::vector<double>& xs) {
  std::vector<size_t> order(xs.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&xs](size_t a, size_t b) { return xs[a] < xs[b]; });
  std::vector<double> ranks(xs.size());
  for (size_t start = 0; start < order.size();) {
    size_t end = start + 1;
    while (end < order.size() && xs[order[end]] == xs[order[start]]) ++end;
    const double rank = 0.5 * static_cast<double>(start + 1 + end);  // mean of start+1 .. end
    for (size_t i = start; i < end; ++i) ranks[order[i]] = rank;
    start = end;
  }
  return ranks;
}

// Pearson's correlation; NaN when either side does not vary.
double Pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const auto n = static_cast<double>(x.size());
  const double mean_x = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double mean_y = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0;
  double sxx = 0;
  double syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mean_x) * (y[i] - mean_y);
    sxx += (x[i] - mean_x) * (x[i] - mean_x);
    syy += (y[i] - mean_y) * (y[i] - mean_y);
  }
  if (sxx == 0 || syy == 0) return kNaN;
  return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

// epsilon^2 of `metrics` split into `groups` (each trial's group index, 0 .. group_count - 1).
double ExplainedShare(const std::vector<double>& metrics, const std::vector<size_t>& groups,
                      size_t group_count) {
  const size_t n = metrics.size();
  if (group_count < 2 || n <= group_count) return 0;
  std::vector<double> sums(group_count, 0.0);
  std::vector<double> counts(group_count, 0.0);
  for (size_t i = 0; i < n; ++i) {
    sums[groups[i]] += metrics[i];
    counts[groups[i]] += 1;
  }
  const double mean = std::accumulate(metrics.begin(), metrics.end(), 0.0) / static_cast<double>(n);
  double total = 0;
  double within = 0;
  for (size_t i = 0; i < n; ++i) {
    const double group_mean = sums[groups[i]] / counts[groups[i]];
    total += (metrics[i] - mean) * (metrics[i] - mean);
    within += (metrics[i] - group_mean) * (metrics[i] - group_mean);
  }
  if (total == 0) return 0;
  const double share =
      1.0 - (within / static_cast<double>(n - group_count)) / (total / static_cast<double>(n - 1));
  return std::clamp(share, 0.0, 1.0);
}

// Groups trials by equal value (ids in order of first appearance).
std::vector<size_t> GroupByValue(const std::vector<nlohmann::json>& values, size_t* group_count) {
  std::map<std::string, size_t> ids;
  std::vector<size_t> groups;
  groups.reserve(values.size());
  for (const nlohmann::json& value : values) {
    groups.push_back(ids.emplace(value.dump(), ids.size()).first->second);
  }
  *group_count = ids.size();
  return groups;
}

// Up to kMaxBins quantile bins of `xs`, at least two trials a bin on average so that the
// within-bin variance has something to stand on; equal values always share a bin.
std::vector<size_t> GroupByQuantile(const std::vector<double>& xs, size_t* group_count) {
  const size_t n = xs.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&xs](size_t a, size_t b) { return xs[a] < xs[b]; });
  size_t distinct = 0;
  for (size_t i = 0; i < n; ++i) distinct += (i == 0 || xs[order[i]] != xs[order[i - 1]]) ? 1 : 0;
  const size_t bins = std::min({kMaxBins, distinct, n / 2});
  std::vector<size_t> groups(n, 0);
  size_t run_start = 0;  // where the current run of equal values begins in `order`
  size_t last_bin = 0;
  size_t used = 0;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0 && xs[order[i]] != xs[order[i - 1]]) run_start = i;
    const size_t bin = bins == 0 ? 0 : run_start * bins / n;
    if (i == 0 || bin != last_bin) ++used;
    last_bin = bin;
    groups[order[i]] = used - 1;
  }
  *group_count = used;
  return groups;
}

}  // namespace

std::vector<ParameterImportance> Importance(const SweepSpec& spec,
                                            std::span<const TrialRecord> trials) {
  std::vector<ParameterImportance> result;
  for (const Parameter& parameter : spec.parameters) {
    if (HasOneValue(parameter)) continue;
    const bool categorical = parameter.distribution == Distribution::kCategorical;
    const bool numeric = parameter.numeric();
    std::vector<nlohmann::json> values;
    std::vector<double> numbers;
    std::vector<double> metrics;
    for (const TrialRecord& trial : trials) {
      // A metric that is not a number (a diverged run) has no place in a variance.
      if (!trial.done || !trial.metric.has_value() || !std::isfinite(*trial.metric)) continue;
      if (!trial.params.is_object()) continue;
      const auto it = trial.params.find(parameter.path);
      if (it == trial.params.end()) continue;
      if (numeric && !it->is_number()) continue;
      values.push_back(*it);
      if (numeric) numbers.push_back(it->get<double>());
      metrics.push_back(*trial.metric);
    }
    ParameterImportance entry;
    entry.path = parameter.path;
    entry.correlation = kNaN;
    if (metrics.size() >= kMinTrials) {
      size_t group_count = 0;
      const std::vector<size_t> groups = categorical || !numeric
                                             ? GroupByValue(values, &group_count)
                                             : GroupByQuantile(numbers, &group_count);
      entry.importance = ExplainedShare(metrics, groups, group_count);
      if (numeric) entry.correlation = Pearson(AverageRanks(numbers), AverageRanks(metrics));
    }
    result.push_back(std::move(entry));
  }
  std::sort(result.begin(), result.end(), [](const auto& a, const auto& b) {
    if (a.importance != b.importance) return a.importance > b.importance;
    return a.path < b.path;
  });
  return result;
}

}  // namespace labbook::sweep
