// Which hyperparameters mattered, for `labbook sweep show` (docs/sweeps.md): for each parameter
// that varies, over the finished trials with a metric, an importance in [0, 1] and the
// correlation of its value with the metric.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "sweep/search.hpp"

namespace labbook::sweep {

struct ParameterImportance {
  std::string path;
  // The share of the metric's variance the parameter explains (see importance.cpp's comment and
  // docs/sweeps.md for the measure); 0 when it cannot be told (fewer than 3 trials, one value).
  double importance = 0;
  // Spearman's rank correlation of the value with the metric, for numeric parameters (a
  // categorical one whose choices are all numbers included); NaN for the others, and when it
  // cannot be told (fewer than 3 trials, a value or a metric that never changes).
  double correlation = 0;
};

// Most important first; parameters with a single value (constants) are left out.
std::vector<ParameterImportance> Importance(const SweepSpec& spec,
                                            std::span<const TrialRecord> trials);

}  // namespace labbook::sweep
