#include "sweep/search.hpp"

#include <cmath>
#include <set>

#include "sweep/tpe.hpp"

namespace labbook::sweep {
namespace {

constexpr int64_t kMaxGridPoints = 1'000'000'000;

// The values a grid takes for `p`, in order; empty for a continuous distribution.
std::vector<nlohmann::json> GridValues(const Parameter& p) {
  switch (p.distribution) {
    case Distribution::kConstant:
    case Distribution::kCategorical:
      return p.values;
    case Distribution::kIntUniform: {
      std::vector<nlohmann::json> out;
      for (int64_t v = static_cast<int64_t>(p.min); v <= static_cast<int64_t>(p.max); ++v) {
        out.emplace_back(v);
      }
      return out;
    }
    case Distribution::kQUniform: {
      std::vector<nlohmann::json> out;
      const bool integral = p.q == std::floor(p.q) && p.min == std::floor(p.min);
      const int64_t steps = static_cast<int64_t>(std::floor((p.max - p.min) / p.q + 1e-9));
      for (int64_t k = 0; k <= steps; ++k) {
        const double v = p.min + static_cast<double>(k) * p.q;
        if (integral) {
          out.emplace_back(static_cast<int64_t>(std::llround(v)));
        } else {
          out.emplace_back(v);
        }
      }
      return out;
    }
    default:
      return {};
  }
}

int64_t GridCount(const Parameter& p) {
  switch (p.distribution) {
    case Distribution::kConstant:
      return 1;
    case Distribution::kCategorical:
      return static_cast<int64_t>(p.values.size());
    case Distribution::kIntUniform:
      return static_cast<int64_t>(p.max) - static_cast<int64_t>(p.min) + 1;
    case Distribution::kQUniform:
      return static_cast<int64_t>(std::floor((p.max - p.min) / p.q + 1e-9)) + 1;
    default:
      return 0;
  }
}

}  // namespace

Result<int64_t> GridSize(const SweepSpec& spec) {
  int64_t size = 1;
  for (const Parameter& p : spec.parameters) {
    const int64_t count = GridCount(p);
    if (count <= 0) {
      return InvalidArgument(p.origin + ": parameters." + p.path + ": a grid needs values; " +
                             "distribution " + std::string(DistributionName(p.distribution)) +
                             " is continuous");
    }
    if (count > kMaxGridPoints / size) {
      return InvalidArgument(p.origin + ": parameters." + p.path +
                             ": the grid would hold more than a billion points");
    }
    size *= count;
  }
  return size;
}

Params GridPoint(const SweepSpec& spec, int64_t index) {
  Params params = nlohmann::json::object();
  for (auto it = spec.parameters.rbegin(); it != spec.parameters.rend(); ++it) {
    const int64_t count = GridCount(*it);
    const int64_t k = index % count;
    index /= count;
    if (it->distribution == Distribution::kConstant ||
        it->distribution == Distribution::kCategorical) {
      params[it->path] = it->values[static_cast<size_t>(k)];
    } else {
      params[it->path] = GridValues(*it)[static_cast<size_t>(k)];
    }
  }
  return params;
}

Result<std::optional<Suggestion>> Suggest(const SweepSpec& spec,
                                          std::span<const TrialRecord> trials,
                                          std::mt19937_64& rng) {
  switch (spec.method) {
    case Method::kGrid: {
      auto size = GridSize(spec);
      if (!size.ok()) return size.status();
      std::set<int64_t> taken;
      for (const TrialRecord& t : trials) {
        if (t.grid_index) taken.insert(*t.grid_index);
      }
      for (int64_t i = 0; i < *size; ++i) {
        if (!taken.contains(i)) return std::optional<Suggestion>(Suggestion{GridPoint(spec, i), i});
      }
      return std::optional<Suggestion>();
    }
    case Method::kRandom:
      return std::optional<Suggestion>(Suggestion{SampleParams(spec, rng), std::nullopt});
    case Method::kBayes:
      return std::optional<Suggestion>(Suggestion{SuggestTpe(spec, trials, rng), std::nullopt});
  }
  return std::optional<Suggestion>();
}

}  // namespace labbook::sweep
