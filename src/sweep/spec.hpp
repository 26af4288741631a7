// A sweep: the search over training configs that `labbook sweep create` registers, read from
// the W&B sweep YAML format (docs/sweeps.md). The spec is plain data, parsed once and checked
// at the door: every error names the file, the line and the field ("sweep.yaml:7:
// parameters.lr.min: expected a number below max (0.1), got 0.5").
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "labbook/status.hpp"

namespace labbook::sweep {

enum class Method { kGrid, kRandom, kBayes };
enum class Goal { kMinimize, kMaximize };

// W&B's parameter distributions. "_values" ones take min/max as the values themselves;
// log_uniform takes them as natural-log exponents (e^min .. e^max), as W&B does.
enum class Distribution {
  kConstant,           // value
  kCategorical,        // values (with optional probabilities)
  kIntUniform,         // integers min..max, both included
  kUniform,            // reals in [min, max)
  kQUniform,           // round(uniform / q) * q
  kLogUniform,         // exp(uniform(min, max))
  kLogUniformValues,   // exp(uniform(log min, log max))
  kQLogUniformValues,  // round(log_uniform_values / q) * q
  kNormal,             // mu, sigma
  kQNormal,            // round(normal / q) * q
  kLogNormal,          // exp(normal(mu, sigma))
  kQLogNormal,         // round(log_normal / q) * q
};
std::string_view DistributionName(Distribution distribution);

struct Parameter {
  std::string path;  // the training config field it sets: "optimizer.name", "layers.5.rate"
  Distribution distribution = Distribution::kConstant;
  std::vector<nlohmann::json> values;  // constant: one value; categorical: the choices
  std::vector<double> probabilities;   // categorical, optional: one per value, summing to 1
  double min = 0;
  double max = 0;
  double mu = 0;
  double sigma = 1;
  double q = 1;
  std::string origin;  // "sweep.yaml:12", for later messages

  // Whether the values are numbers (every distribution but constant and categorical, and those
  // whose values all are numbers).
  bool numeric() const;
};

// Hyperband (Li et al. 2017) as W&B's early_terminate: brackets at min_iter * eta^k iterations
// (k = 0 .. brackets-1), an iteration being one logged value of the metric.
struct Hyperband {
  int64_t min_iter = 1;
  double eta = 3;
  int brackets = 3;  // W&B's `s`
};

struct SweepSpec {
  std::string name;  // optional
  std::string description;
  std::string project;  // the project of its trials' runs, unless `sweep create --project` says
  // W&B keys labbook reads but does not use (program, command, entity), for a warning.
  std::vector<std::string> ignored;
  Method method = Method::kRandom;
  std::string metric;  // a key the trial's run logs or has in its summary: "epoch/val_accuracy"
  Goal goal = Goal::kMaximize;
  std::vector<Parameter> parameters;  // sorted by path
  std::optional<Hyperband> early_terminate;
  int64_t run_cap = 0;  // most trials; 0: no cap (a grid stops when every point is done)
  uint64_t seed = 0;    // of random and bayes suggestions; 0: drawn at create

  // The spec as W&B's YAML would hold it (flattened dotted parameter names), stored with the
  // sweep and read back by SweepSpecFromJson.
  nlohmann::json ToJson() const;
};

// Parses the tree of a sweep file. InvalidArgument "<file>:<line>: <field>: <expectation>" for
// an unknown key, a missing metric, a parameter without values or range, a range with min above
// max, a grid over a continuous distribution, early_terminate without a metric logged per
// iteration, and so on.
[[nodiscard]] Result<SweepSpec> ParseSweepSpec(const config::Node& root);
// LoadYamlFile + ParseSweepSpec.
[[nodiscard]] Result<SweepSpec> LoadSweepFile(const std::string& path);
// The inverse of SweepSpec::ToJson; `where` names the document in errors.
[[nodiscard]] Result<SweepSpec> SweepSpecFromJson(const nlohmann::json& json,
                                                  const std::string& where);

// One trial's parameters: a JSON object from parameter path to value.
using Params = nlohmann::json;

// The `--set` overrides that apply `params` to a training config: "optimizer.name=\"adam\"",
// "layers.5.rate=0.25" (values written as JSON, which the YAML of --set reads back exactly).
std::vector<std::string> Overrides(const Params& params);

// Draws one value of `parameter` (any distribution) / every parameter of `spec`.
nlohmann::json SampleValue(const Parameter& parameter, std::mt19937_64& rng);
Params SampleParams(const SweepSpec& spec, std::mt19937_64& rng);

}  // namespace labbook::sweep
