// The tree-structured Parzen estimator of tpe.hpp. Each parameter is modelled on its own: a
// numeric one by two mixtures of Gaussian kernels (one over the good trials' values, one over the
// bad trials'), a categorical one by two smoothed frequency tables. Both densities include the
// parameter's prior as one component, so a handful of trials never makes a region impossible.
#include "sweep/tpe.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <optional>
#include <vector>

namespace labbook::sweep {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// A trial's weight in a density is 1 and so is the prior's, as in Bergstra et al.
constexpr double kPriorWeight = 1.0;
// The narrowest kernel is the prior's width over min(kMaxBandwidthDivisor, 1 + observations):
// close neighbours then cannot shrink a kernel to a spike that l(x) / g(x) would chase.
constexpr double kMaxBandwidthDivisor = 100;
// A kernel's mean lies inside its bounds and its width is at most the bounds' span, so a draw
// falls inside with probability above 1/3; this many misses in a row do not happen.
constexpr int kMaxRejections = 64;

// Our own uniform and normal draws rather than <random>'s distributions, whose algorithms each
// standard library chooses: a generator state then gives the same suggestion on every platform.
double Uniform01(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;  // [0, 1)
}

double StandardNormal(std::mt19937_64& rng) {
  const double u = 1.0 - Uniform01(rng);  // (0, 1], so the log is finite
  const double v = Uniform01(rng);
  return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * std::numbers::pi * v);
}

// P(a < Z < b) for a standard normal Z, from the tail that keeps its digits.
double StandardNormalMass(double a, double b) {
  constexpr double kSqrt1_2 = 0.70710678118654752440;
  if (a >= 0) return 0.5 * (std::erfc(a * kSqrt1_2) - std::erfc(b * kSqrt1_2));
  if (b <= 0) return 0.5 * (std::erfc(-b * kSqrt1_2) - std::erfc(-a * kSqrt1_2));
  return 1.0 - 0.5 * (std::erfc(b * kSqrt1_2) + std::erfc(-a * kSqrt1_2));
}

double LogSumExp(const std::vector<double>& terms) {
  double top = -kInf;
  for (double t : terms) top = std::max(top, t);
  if (top == -kInf) return -kInf;
  double sum = 0;
  for (double t : terms) sum += std::exp(t - top);
  return top + std::log(sum);
}

// Where a numeric parameter's kernels live: the value itself or its natural log, between bounds
// that are infinite for the normal distributions; and how a point there becomes a value.
struct NumericSpace {
  bool log = false;
  double low = -kInf;
  double high = kInf;
  double prior_mu = 0;
  double prior_sigma = 1;
  double q = 0;              // the values' grid step; 0 for continuous values
  double value_min = -kInf;  // the values' own bounds, which rounding must respect
  double value_max = kInf;
};

NumericSpace BoundedSpace(bool log, double low, double high) {
  NumericSpace space;
  space.log = log;
  space.low = low;
  space.high = high;
  space.prior_mu = 0.5 * (low + high);
  space.prior_sigma = high - low;
  return space;
}

NumericSpace UnboundedSpace(bool log, double mu, double sigma) {
  NumericSpace space;
  space.log = log;
  space.prior_mu = mu;
  space.prior_sigma = sigma;
  return space;
}

NumericSpace SpaceOf(const Parameter& p) {
  NumericSpace space;
  switch (p.distribution) {
    case Distribution::kIntUniform:
      // Half a step beyond each end gives every integer, the two ends included, equal room.
      space = BoundedSpace(false, p.min - 0.5, p.max + 0.5);
      space.q = 1;
      break;
    case Distribution::kUniform:
      space = BoundedSpace(false, p.min, p.max);
      space.value_min = p.min;
      space.value_max = std::nextafter(p.max, -kInf);  // [min, max)
      break;
    case Distribution::kQUniform:
      space = BoundedSpace(false, p.min, p.max);
      space.q = p.q;
      break;
    case Distribution::kLogUniform:
      space = BoundedSpace(true, p.min, p.max);
      // exp(log(x)) can land an ulp outside; the bounds put it back.
      space.value_min = std::exp(p.min);
      space.value_max = std::exp(p.max);
      return space;
    case Distribution::kLogUniformValues:
      space = BoundedSpace(true, std::log(p.min), std::log(p.max));
      break;
    case Distribution::kQLogUniformValues:
      space = BoundedSpace(true, std::log(p.min), std::log(p.max));
      space.q = p.q;
      break;
    case Distribution::kNormal:
    case Distribution::kQNormal:
      space = UnboundedSpace(false, p.mu, p.sigma);
      if (p.distribution == Distribution::kQNormal) space.q = p.q;
      return space;
    case Distribution::kLogNormal:
    case Distribution::kQLogNormal:
      space = UnboundedSpace(true, p.mu, p.sigma);
      if (p.distribution == Distribution::kQLogNormal) space.q = p.q;
      space.value_min = 0;
      return space;
    case Distribution::kConstant:
    case Distribution::kCategorical:
      return space;
  }
  if (space.value_max == kInf) {
    space.value_min = p.min;
    space.value_max = p.max;
  }
  return space;
}

// Rounds to the grid of `space`, staying on a grid point inside the values' bounds when there is
// one (round(min / q) * q can fall below min when min is not a multiple of q).
double RoundToGrid(const NumericSpace& space, double value) {
  if (space.q <= 0) return std::clamp(value, space.value_min, space.value_max);
  const double q = space.q;
  double rounded = std::round(value / q) * q;
  if (rounded < space.value_min) rounded = std::ceil(space.value_min / q - 1e-9) * q;
  if (rounded > space.value_max) rounded = std::floor(space.value_max / q + 1e-9) * q;
  if (rounded < space.value_min || rounded > space.value_max) {
    rounded = std::clamp(value, space.value_min, space.value_max);  // no grid point inside
  }
  return rounded;
}

// Where a trial's value sits in the kernels' space; none for a value that has no place there
// (not a number, not positive on a log scale).
std::optional<double> ToSpace(const NumericSpace& space, const nlohmann::json& value) {
  if (!value.is_number()) return std::nullopt;
  double x = value.get<double>();
  if (!std::isfinite(x)) return std::nullopt;
  if (space.log) {
    // A q_log_normal draw can round to 0; its bin's upper edge stands for it.
    if (x <= 0 && space.q > 0) x = 0.5 * space.q;
    if (x <= 0) return std::nullopt;
    x = std::log(x);
  }
  return std::clamp(x, space.low, space.high);
}

double FromSpace(const NumericSpace& space, double x) {
  return RoundToGrid(space, space.log ? std::exp(x) : x);
}

// A mixture of Gaussian kernels truncated to the space's bounds; the prior is kernel 0.
struct Parzen {
  std::vector<double> mus;
  std::vector<double> sigmas;
  std::vector<double> weights;
  std::vector<double> log_masses;  // log of each kernel's mass inside the bounds
  double total_weight = 0;
};

Parzen FitParzen(const NumericSpace& space, std::vector<double> observations) {
  std::sort(observations.begin(), observations.end());
  const size_t n = observations.size();
  const double min_sigma =
      space.prior_sigma / std::min(kMaxBandwidthDivisor, 1.0 + static_cast<double>(n));
  // The prior's mean takes its place among the observations, so that a lone observation's width
  // is its distance to the middle rather than undefined.
  std::vector<double> points = observations;
  const auto prior_at = static_cast<size_t>(
      std::upper_bound(points.begin(), points.end(), space.prior_mu) - points.begin());
  points.insert(points.begin() + static_cast<std::ptrdiff_t>(prior_at), space.prior_mu);

  Parzen parzen;
  parzen.mus.push_back(space.prior_mu);
  parzen.sigmas.push_back(space.prior_sigma);
  parzen.weights.push_back(kPriorWeight);
  for (size_t i = 0; i < points.size(); ++i) {
    if (i == prior_at) continue;
    // A kernel reaches as far as its farther neighbour: wide where trials are sparse.
    double gap = 0;
    if (i > 0) gap = std::max(gap, points[i] - points[i - 1]);
    if (i + 1 < points.size()) gap = std::max(gap, points[i + 1] - points[i]);
    parzen.mus.push_back(points[i]);
    parzen.sigmas.push_back(std::clamp(gap, min_sigma, space.prior_sigma));
    parzen.weights.push_back(1.0);
  }
  for (size_t k = 0; k < parzen.mus.size(); ++k) {
    const double mass = StandardNormalMass((space.low - parzen.mus[k]) / parzen.sigmas[k],
                                           (space.high - parzen.mus[k]) / parzen.sigmas[k]);
    parzen.log_masses.push_back(std::log(mass));
    parzen.total_weight += parzen.weights[k];
  }
  return parzen;
}

// A point of the space drawn from the mixture.
double DrawFrom(const Parzen& parzen, const NumericSpace& space, std::mt19937_64& rng) {
  double pick = Uniform01(rng) * parzen.total_weight;
  size_t k = 0;
  while (k + 1 < parzen.weights.size() && pick >= parzen.weights[k]) pick -= parzen.weights[k++];
  for (int attempt = 0; attempt < kMaxRejections; ++attempt) {
    const double x = parzen.mus[k] + parzen.sigmas[k] * StandardNormal(rng);
    if (x >= space.low && x <= space.high) return x;
  }
  return std::clamp(parzen.mus[k], space.low, space.high);
}

// log of the mixture's density at `x` (continuous values) or of its mass over the interval of
// the space that rounds to `value` (values on a grid).
double LogLikelihood(const Parzen& parzen, const NumericSpace& space, double x, double value) {
  constexpr double kLogSqrt2Pi = 0.91893853320467274178;
  std::vector<double> terms(parzen.mus.size());
  const double log_total = std::log(parzen.total_weight);
  if (space.q <= 0) {
    for (size_t k = 0; k < terms.size(); ++k) {
      const double z = (x - parzen.mus[k]) / parzen.sigmas[k];
      terms[k] = std::log(parzen.weights[k]) - log_total - 0.5 * z * z -
                 std::log(parzen.sigmas[k]) - kLogSqrt2Pi - parzen.log_masses[k];
    }
    return LogSumExp(terms);
  }
  double lo = value - 0.5 * space.q;
  double hi = value + 0.5 * space.q;
  if (space.log) {
    lo = lo > 0 ? std::log(lo) : -kInf;
    hi = std::log(hi);
  }
  lo = std::max(lo, space.low);
  hi = std::min(hi, space.high);
  for (size_t k = 0; k < terms.size(); ++k) {
    const double mass = StandardNormalMass((lo - parzen.mus[k]) / parzen.sigmas[k],
                                           (hi - parzen.mus[k]) / parzen.sigmas[k]);
    terms[k] = std::log(parzen.weights[k]) - log_total + std::log(std::max(mass, 0.0)) -
               parzen.log_masses[k];
  }
  return LogSumExp(terms);
}

// log l - log g, with the cases a floating-point division would turn into NaN settled: a point
// that neither density reaches is no better than any other.
double Score(double log_good, double log_bad) {
  if (log_good == -kInf) return -kInf;
  if (log_bad == -kInf) return kInf;
  return log_good - log_bad;
}

nlohmann::json SuggestNumeric(const Parameter& parameter, const std::vector<nlohmann::json>& good,
                              const std::vector<nlohmann::json>& bad, int candidates,
                              std::mt19937_64& rng) {
  const NumericSpace space = SpaceOf(parameter);
  // Integers and the multiples of a whole q are JSON integers, as SampleValue writes them.
  const bool whole_q = space.q > 0 && space.q == std::floor(space.q);
  auto as_json = [whole_q](double value) {
    if (whole_q && std::abs(value) < 9e15 && value == std::floor(value)) {
      return nlohmann::json(static_cast<int64_t>(value));
    }
    return nlohmann::json(value);
  };
  if (!(space.prior_sigma > 0)) return as_json(FromSpace(space, space.prior_mu));  // one value
  auto fit = [&space](const std::vector<nlohmann::json>& values) {
    std::vector<double> observations;
    for (const nlohmann::json& value : values) {
      if (std::optional<double> x = ToSpace(space, value)) observations.push_back(*x);
    }
    return FitParzen(space, std::move(observations));
  };
  const Parzen l = fit(good);
  const Parzen g = fit(bad);
  double best_value = 0;
  double best_score = -kInf;
  for (int c = 0; c < candidates; ++c) {
    const double x = DrawFrom(l, space, rng);
    const double value = FromSpace(space, x);
    const double score =
        Score(LogLikelihood(l, space, x, value), LogLikelihood(g, space, x, value));
    if (c == 0 || score > best_score) {
      best_value = value;
      best_score = score;
    }
  }
  return as_json(best_value);
}

// Smoothed frequencies: (count of the choice + its prior probability) / (trials + 1).
std::vector<double> CategoricalProbabilities(const Parameter& parameter,
                                             const std::vector<double>& prior,
                                             const std::vector<nlohmann::json>& values) {
  std::vector<double> counts(prior.size(), 0.0);
  double total = 0;
  for (const nlohmann::json& value : values) {
    const auto it = std::find(parameter.values.begin(), parameter.values.end(), value);
    if (it == parameter.values.end()) continue;
    counts[static_cast<size_t>(it - parameter.values.begin())] += 1;
    total += 1;
  }
  for (size_t i = 0; i < counts.size(); ++i) {
    counts[i] = (counts[i] + kPriorWeight * prior[i]) / (total + kPriorWeight);
  }
  return counts;
}

nlohmann::json SuggestCategorical(const Parameter& parameter,
                                  const std::vector<nlohmann::json>& good,
                                  const std::vector<nlohmann::json>& bad, int candidates,
                                  std::mt19937_64& rng) {
  if (parameter.values.empty()) return nullptr;
  const size_t n = parameter.values.size();
  std::vector<double> prior = parameter.probabilities;
  if (prior.size() != n) prior.assign(n, 1.0 / static_cast<double>(n));
  const std::vector<double> l = CategoricalProbabilities(parameter, prior, good);
  const std::vector<double> g = CategoricalProbabilities(parameter, prior, bad);
  double l_total = 0;
  for (double p : l) l_total += p;
  size_t best = 0;
  double best_score = -kInf;
  for (int c = 0; c < candidates; ++c) {
    double pick = Uniform01(rng) * l_total;
    size_t i = 0;
    while (i + 1 < n && (pick >= l[i] || l[i] == 0)) pick -= l[i++];
    const double score = Score(std::log(l[i]), std::log(g[i]));
    if (c == 0 || score > best_score) {
      best = i;
      best_score = score;
    }
  }
  return parameter.values[best];
}

// Whether trial a's metric is better than b's under `goal`; a NaN metric (a diverged run) is
// worse than any number.
bool Better(double a, double b, Goal goal) {
  if (std::isnan(b)) return !std::isnan(a);
  if (std::isnan(a)) return false;
  return goal == Goal::kMaximize ? a > b : a < b;
}

}  // namespace

Params SuggestTpe(const SweepSpec& spec, std::span<const TrialRecord> trials, std::mt19937_64& rng,
                  const TpeOptions& options) {
  std::vector<const TrialRecord*> scored;
  for (const TrialRecord& trial : trials) {
    if (trial.done && trial.metric.has_value()) scored.push_back(&trial);
  }
  if (scored.empty() || scored.size() < static_cast<size_t>(std::max(options.startup_trials, 0))) {
    return SampleParams(spec, rng);
  }
  // Stable, so that equal metrics keep the order the trials ran in and the split is repeatable.
  std::stable_sort(scored.begin(), scored.end(), [&spec](const auto* a, const auto* b) {
    return Better(*a->metric, *b->metric, spec.goal);
  });
  const double gamma = std::clamp(options.gamma, 0.0, 1.0);
  const size_t good_count = std::clamp<size_t>(
      static_cast<size_t>(std::ceil(gamma * static_cast<double>(scored.size()))), 1, scored.size());
  const int candidates = std::max(options.candidates, 1);

  Params params = nlohmann::json::object();
  for (const Parameter& parameter : spec.parameters) {
    if (parameter.distribution == Distribution::kConstant) {
      params[parameter.path] = parameter.values.empty() ? nlohmann::json() : parameter.values[0];
      continue;
    }
    std::vector<nlohmann::json> good;
    std::vector<nlohmann::json> bad;
    for (size_t i = 0; i < scored.size(); ++i) {
      const Params& trial_params = scored[i]->params;
      if (!trial_params.is_object()) continue;
      const auto it = trial_params.find(parameter.path);
      if (it == trial_params.end()) continue;
      (i < good_count ? good : bad).push_back(*it);
    }
    params[parameter.path] = parameter.distribution == Distribution::kCategorical
                                 ? SuggestCategorical(parameter, good, bad, candidates, rng)
                                 : SuggestNumeric(parameter, good, bad, candidates, rng);
  }
  return params;
}

}  // namespace labbook::sweep
