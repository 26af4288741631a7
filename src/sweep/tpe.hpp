// Bayesian search: the tree-structured Parzen estimator (Bergstra, Bardenet, Bengio and Kegl,
// "Algorithms for Hyper-Parameter Optimization", NeurIPS 2011), as docs/sweeps.md explains.
// The finished trials are split at the gamma-quantile of their metric into good and bad ones;
// each parameter gets a Parzen (kernel) density over the good values, l(x), and one over the
// bad values, g(x); candidates are drawn from l and the one with the largest l(x) / g(x) wins.
// Numeric parameters use truncated Gaussian kernels (in log space for the log distributions,
// rounded for the quantized and integer ones); categorical ones smoothed frequencies.
#pragma once

#include <random>
#include <span>

#include "sweep/search.hpp"

namespace labbook::sweep {

struct TpeOptions {
  int startup_trials = 10;  // random draws until this many trials have a metric
  double gamma = 0.25;      // the fraction of finished trials counted as good
  int candidates = 24;      // draws from l(x) scored per suggestion
};

// The next parameters for `spec` (its goal says which metric values are good). Trials without
// a metric (running, failed) are left out of the densities. Before `startup_trials` trials have
// a metric, a random draw (SampleParams).
Params SuggestTpe(const SweepSpec& spec, std::span<const TrialRecord> trials,
                  std::mt19937_64& rng, const TpeOptions& options = {});

}  // namespace labbook::sweep
