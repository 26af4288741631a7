// Early termination by hyperband, run asynchronously as W&B does (each trial is judged alone when
// it reaches a bracket, against the trials that reached the same bracket before it; see
// docs/sweeps.md). An iteration is one epoch of the trial's training.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "sweep/spec.hpp"

namespace labbook::sweep {

// The iterations at which trials are judged: min_iter * eta^k for k = 0 .. brackets - 1, rounded
// to integers, increasing and distinct.
std::vector<int64_t> HyperbandBrackets(const Hyperband& hyperband);

struct BracketDecision {
  bool stop = false;
  int64_t rank = 0;      // 1-based rank of the trial's value among all values at the bracket
  int64_t compared = 0;  // values at the bracket, the trial's own included
  int64_t kept = 0;      // how many of the best go on: ceil(compared / eta)
};

// Whether a trial whose metric is `value` at a bracket goes on: only the best ceil(n / eta) of
// the n values the bracket has seen (`earlier`, from trials judged before it, and `value`) do.
// A NaN value always stops; NaN among `earlier` counts as worst.
BracketDecision JudgeAtBracket(Goal goal, double eta, double value, std::span<const double> earlier);

}  // namespace labbook::sweep
