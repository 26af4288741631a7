// Sweep parameters built in code, for the tests of the search methods and of importance.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "sweep/spec.hpp"

namespace labbook::sweep::testing {

// A distribution over [min, max] (quantized by q where it takes one).
inline Parameter Range(std::string path, Distribution distribution, double min, double max,
                       double q = 1) {
  Parameter p;
  p.path = std::move(path);
  p.distribution = distribution;
  p.min = min;
  p.max = max;
  p.q = q;
  return p;
}

// A normal-family distribution.
inline Parameter Normal(std::string path, Distribution distribution, double mu, double sigma,
                        double q = 1) {
  Parameter p;
  p.path = std::move(path);
  p.distribution = distribution;
  p.mu = mu;
  p.sigma = sigma;
  p.q = q;
  return p;
}

inline Parameter Choice(std::string path, std::vector<nlohmann::json> values) {
  Parameter p;
  p.path = std::move(path);
  p.distribution = Distribution::kCategorical;
  p.values = std::move(values);
  return p;
}

}  // namespace labbook::sweep::testing
