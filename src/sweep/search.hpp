// The search methods: which parameters the next trial of a sweep runs with, given the trials so
// far. Grid walks the cartesian product of the parameters' values in a fixed order; random draws
// each parameter from its distribution; bayes is the tree-structured Parzen estimator of
// tpe.hpp. All are pure functions of the spec, the trials and the random generator, so the store
// can call them inside the transaction that records the claim.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>

#include "sweep/spec.hpp"

namespace labbook::sweep {

// What a search method knows of one trial.
struct TrialRecord {
  Params params;
  std::optional<int64_t> grid_index;  // grid sweeps: the point it runs
  bool done = false;                  // finished, failed or stopped (not claimed or running)
  std::optional<double> metric;       // the metric's final value, when done and logged
};

struct Suggestion {
  Params params;
  std::optional<int64_t> grid_index;
};

// The number of grid points (the product of each parameter's value count). InvalidArgument for
// a parameter a grid cannot enumerate (a continuous distribution), naming it.
[[nodiscard]] Result<int64_t> GridSize(const SweepSpec& spec);
// Point `index` of the grid, 0 <= index < GridSize: the last parameter (by path) varies fastest.
Params GridPoint(const SweepSpec& spec, int64_t index);

// The next trial's parameters, or none when a grid has every point taken by `trials`.
// `trials` are every trial of the sweep so far, running ones included.
[[nodiscard]] Result<std::optional<Suggestion>> Suggest(const SweepSpec& spec,
                                                       std::span<const TrialRecord> trials,
                                                       std::mt19937_64& rng);

}  // namespace labbook::sweep
