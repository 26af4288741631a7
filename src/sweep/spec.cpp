#include "sweep/spec.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <utility>

#include "core/status_macros.hpp"

namespace labbook::sweep {
namespace {

using config::MapReader;
using config::Node;
using config::NumberRange;
using nlohmann::json;

struct DistributionInfo {
  Distribution distribution;
  std::string_view name;
  // The keys it takes, all required but `probabilities` and `q` (q defaults to 1).
  std::array<std::string_view, 3> keys;
};

constexpr std::array<DistributionInfo, 12> kDistributions = {{
    {Distribution::kConstant, "constant", {"value", "", ""}},
    {Distribution::kCategorical, "categorical", {"values", "probabilities", ""}},
    {Distribution::kIntUniform, "int_uniform", {"min", "max", ""}},
    {Distribution::kUniform, "uniform", {"min", "max", ""}},
    {Distribution::kQUniform, "q_uniform", {"min", "max", "q"}},
    {Distribution::kLogUniform, "log_uniform", {"min", "max", ""}},
    {Distribution::kLogUniformValues, "log_uniform_values", {"min", "max", ""}},
    {Distribution::kQLogUniformValues, "q_log_uniform_values", {"min", "max", "q"}},
    {Distribution::kNormal, "normal", {"mu", "sigma", ""}},
    {Distribution::kQNormal, "q_normal", {"mu", "sigma", "q"}},
    {Distribution::kLogNormal, "log_normal", {"mu", "sigma", ""}},
    {Distribution::kQLogNormal, "q_log_normal", {"mu", "sigma", "q"}},
}};

constexpr std::array<std::string_view, 8> kParameterKeys = {
    "value", "values", "probabilities", "min", "max", "mu", "sigma", "q"};

const DistributionInfo& InfoOf(Distribution distribution) {
  for (const DistributionInfo& info : kDistributions) {
    if (info.distribution == distribution) return info;
  }
  return kDistributions[0];
}

bool Takes(const DistributionInfo& info, std::string_view key) {
  return std::find(info.keys.begin(), info.keys.end(), key) != info.keys.end();
}

bool IsIntegerScalar(const Node* node) {
  if (node == nullptr || node->kind != Node::Kind::kScalar || node->quoted) return false;
  const json value = node->ToJson();
  return value.is_number_integer();
}

// The distribution a parameter names, or the one W&B infers from its keys: values ->
// categorical, value -> constant, integer min and max -> int_uniform, other min and max ->
// uniform.
Result<Distribution> DistributionOf(MapReader& reader, const Node& node) {
  if (reader.Has("distribution")) {
    std::vector<std::string_view> names;
    for (const DistributionInfo& info : kDistributions) names.push_back(info.name);
    LABBOOK_ASSIGN_OR_RETURN(std::string name, reader.Choice("distribution", names, std::nullopt));
    for (const DistributionInfo& info : kDistributions) {
      if (info.name == name) return info.distribution;
    }
  }
  reader.Value("distribution");
  if (node.Find("values") != nullptr) return Distribution::kCategorical;
  if (node.Find("value") != nullptr) return Distribution::kConstant;
  if (node.Find("min") != nullptr && node.Find("max") != nullptr) {
    return IsIntegerScalar(node.Find("min")) && IsIntegerScalar(node.Find("max"))
               ? Distribution::kIntUniform
               : Distribution::kUniform;
  }
  return reader.Error("", "expected values, value, or min and max (or a distribution)");
}

Status ReadValues(MapReader& reader, Parameter* parameter) {
  const Node* values = reader.Value("values");
  if (values == nullptr) return reader.Error("values", "missing (expected a list of values)");
  if (values->kind != Node::Kind::kList || values->children.empty()) {
    return reader.Error("values", "expected a non-empty list, got " + config::Describe(*values));
  }
  for (const Node& value : values->children) parameter->values.push_back(value.ToJson());
  const Node* probabilities = reader.Value("probabilities");
  if (probabilities == nullptr) return Status::Ok();
  if (probabilities->kind != Node::Kind::kList ||
      probabilities->children.size() != values->children.size()) {
    return reader.Error("probabilities", "expected a list of " +
                                             std::to_string(values->children.size()) +
                                             " numbers, one per value");
  }
  double sum = 0;
  for (const Node& p : probabilities->children) {
    const json number = p.ToJson();
    if (!number.is_number() || number.get<double>() < 0) {
      return reader.Error("probabilities", "expected numbers >= 0, got " + config::Describe(p));
    }
    parameter->probabilities.push_back(number.get<double>());
    sum += number.get<double>();
  }
  if (std::abs(sum - 1) > 1e-6) {
    return reader.Error("probabilities", "expected numbers summing to 1, they sum to " +
                                             json(sum).dump());
  }
  return Status::Ok();
}

Result<Parameter> ReadParameter(MapReader& reader, const Node& node, std::string path) {
  Parameter parameter;
  parameter.path = std::move(path);
  parameter.origin = node.origin.ToString();
  LABBOOK_ASSIGN_OR_RETURN(parameter.distribution, DistributionOf(reader, node));
  const DistributionInfo& info = InfoOf(parameter.distribution);
  for (std::string_view key : kParameterKeys) {
    if (!Takes(info, key) && node.Find(key) != nullptr) {
      return reader.Error(key, "not used by distribution " + std::string(info.name) +
                                   " (it takes " + std::string(info.keys[0]) +
                                   (info.keys[1].empty() ? "" : ", " + std::string(info.keys[1])) +
                                   (info.keys[2].empty() ? "" : ", " + std::string(info.keys[2])) +
                                   ")");
    }
  }
  switch (parameter.distribution) {
    case Distribution::kConstant: {
      const Node* value = reader.Value("value");
      if (value == nullptr) return reader.Error("value", "missing (expected the constant)");
      parameter.values.push_back(value->ToJson());
      break;
    }
    case Distribution::kCategorical:
      LABBOOK_RETURN_IF_ERROR(ReadValues(reader, &parameter));
      break;
    case Distribution::kIntUniform: {
      LABBOOK_ASSIGN_OR_RETURN(int64_t min, reader.Integer("min", INT64_MIN, INT64_MAX, std::nullopt));
      LABBOOK_ASSIGN_OR_RETURN(int64_t max, reader.Integer("max", min, INT64_MAX, std::nullopt));
      parameter.min = static_cast<double>(min);
      parameter.max = static_cast<double>(max);
      break;
    }
    case Distribution::kUniform:
    case Distribution::kQUniform:
    case Distribution::kLogUniform:
    case Distribution::kLogUniformValues:
    case Distribution::kQLogUniformValues: {
      const bool values_scale = parameter.distribution == Distribution::kLogUniformValues ||
                                parameter.distribution == Distribution::kQLogUniformValues;
      const NumberRange range = values_scale ? NumberRange::Positive() : NumberRange::Any();
      LABBOOK_ASSIGN_OR_RETURN(parameter.min, reader.Number("min", range, std::nullopt));
      LABBOOK_ASSIGN_OR_RETURN(parameter.max, reader.Number("max", range, std::nullopt));
      if (!(parameter.min < parameter.max)) {
        return reader.Error("max", "expected a number above min (" + json(parameter.min).dump() +
                                       "), got " + json(parameter.max).dump());
      }
      break;
    }
    case Distribution::kNormal:
    case Distribution::kQNormal:
    case Distribution::kLogNormal:
    case Distribution::kQLogNormal:
      LABBOOK_ASSIGN_OR_RETURN(parameter.mu, reader.Number("mu", NumberRange::Any(), std::nullopt));
      LABBOOK_ASSIGN_OR_RETURN(parameter.sigma,
                               reader.Number("sigma", NumberRange::Positive(), std::nullopt));
      break;
  }
  if (Takes(info, "q")) {
    LABBOOK_ASSIGN_OR_RETURN(parameter.q, reader.Number("q", NumberRange::Positive(), 1.0));
  }
  LABBOOK_RETURN_IF_ERROR(reader.Finish("a sweep parameter"));
  return parameter;
}

// `node` holds parameters by name; a name's value is a parameter, or a map with a `parameters`
// map of its own (W&B's nested form), whose names are joined to it with dots.
Status ReadParameters(const Node& node, const std::string& field, const std::string& prefix,
                      std::vector<Parameter>* out) {
  for (size_t i = 0; i < node.keys.size(); ++i) {
    const Node::Key& key = node.keys[i];
    const Node& value = node.children[i];
    const std::string field_path = config::JoinPath(field, key.name);
    const std::string path = prefix.empty() ? key.name : prefix + "." + key.name;
    if (value.kind != Node::Kind::kMap) {
      return InvalidArgument(value.origin.ToString() + ": " + field_path +
                             ": expected a map (values, value, or min and max), got " +
                             config::Describe(value));
    }
    if (const Node* nested = value.Find("parameters")) {
      if (value.keys.size() != 1 || nested->kind != Node::Kind::kMap) {
        return InvalidArgument(value.origin.ToString() + ": " + field_path +
                               ": a nested group holds only a map named parameters");
      }
      LABBOOK_RETURN_IF_ERROR(
          ReadParameters(*nested, config::JoinPath(field_path, "parameters"), path, out));
      continue;
    }
    json resolved;
    MapReader reader(&value, field_path, value.origin, &resolved);
    LABBOOK_ASSIGN_OR_RETURN(Parameter parameter, ReadParameter(reader, value, path));
    parameter.origin = key.origin.ToString();  // the line that names it
    out->push_back(std::move(parameter));
  }
  return Status::Ok();
}

bool Continuous(Distribution d) {
  return d != Distribution::kConstant && d != Distribution::kCategorical &&
         d != Distribution::kIntUniform && d != Distribution::kQUniform;
}

// A number as JSON: an integer when it is one and the distribution is quantized by an integer.
json NumberValue(double value, bool integral) {
  if (integral && std::abs(value) < 9e15 && value == std::floor(value)) {
    return static_cast<int64_t>(value);
  }
  return value;
}

double Quantize(double value, double q) { return std::round(value / q) * q; }

// A quantized draw kept on the multiples of q inside [lo, hi] (when there are any): rounding a
// value near an end may step outside, e.g. to 0 from a min below q / 2.
double QuantizeWithin(double value, double q, double lo, double hi) {
  const double first = std::ceil(lo / q - 1e-9) * q;
  const double last = std::floor(hi / q + 1e-9) * q;
  const double rounded = Quantize(value, q);
  if (first > last) return rounded;
  return std::clamp(rounded, first, last);
}

}  // namespace

std::string_view DistributionName(Distribution distribution) { return InfoOf(distribution).name; }

bool Parameter::numeric() const {
  if (distribution != Distribution::kConstant && distribution != Distribution::kCategorical) {
    return true;
  }
  return std::all_of(values.begin(), values.end(),
                     [](const json& v) { return v.is_number(); });
}

json SweepSpec::ToJson() const {
  json parameters_json = json::object();
  for (const Parameter& p : parameters) {
    json entry = {{"distribution", std::string(DistributionName(p.distribution))}};
    switch (p.distribution) {
      case Distribution::kConstant:
        entry["value"] = p.values.front();
        break;
      case Distribution::kCategorical:
        entry["values"] = p.values;
        if (!p.probabilities.empty()) entry["probabilities"] = p.probabilities;
        break;
      case Distribution::kIntUniform:
        entry["min"] = static_cast<int64_t>(p.min);
        entry["max"] = static_cast<int64_t>(p.max);
        break;
      case Distribution::kNormal:
      case Distribution::kQNormal:
      case Distribution::kLogNormal:
      case Distribution::kQLogNormal:
        entry["mu"] = p.mu;
        entry["sigma"] = p.sigma;
        break;
      default:
        entry["min"] = p.min;
        entry["max"] = p.max;
        break;
    }
    if (Takes(InfoOf(p.distribution), "q")) entry["q"] = p.q;
    parameters_json[p.path] = std::move(entry);
  }
  json out = {{"method", method == Method::kGrid     ? "grid"
                         : method == Method::kRandom ? "random"
                                                     : "bayes"},
              {"parameters", std::move(parameters_json)},
              {"run_cap", run_cap},
              {"seed", seed}};
  if (!name.empty()) out["name"] = name;
  if (!description.empty()) out["description"] = description;
  if (!project.empty()) out["project"] = project;
  if (!metric.empty()) {
    out["metric"] = {{"name", metric}, {"goal", goal == Goal::kMaximize ? "maximize" : "minimize"}};
  }
  if (early_terminate) {
    out["early_terminate"] = {{"type", "hyperband"},
                              {"min_iter", early_terminate->min_iter},
                              {"eta", early_terminate->eta},
                              {"s", early_terminate->brackets}};
  }
  return out;
}

Result<SweepSpec> ParseSweepSpec(const Node& root) {
  SweepSpec spec;
  json resolved;
  MapReader top(&root, "", root.origin, &resolved);
  LABBOOK_RETURN_IF_ERROR(top.ExpectMap("a sweep: method, metric, parameters"));
  LABBOOK_ASSIGN_OR_RETURN(spec.name, top.String("name", ""));
  LABBOOK_ASSIGN_OR_RETURN(spec.description, top.String("description", ""));
  LABBOOK_ASSIGN_OR_RETURN(spec.project, top.String("project", ""));
  for (std::string_view key : {"program", "command", "entity"}) {
    if (top.Value(key) != nullptr) spec.ignored.emplace_back(key);
  }
  static constexpr std::array<std::string_view, 3> kMethods = {"grid", "random", "bayes"};
  LABBOOK_ASSIGN_OR_RETURN(std::string method, top.Choice("method", kMethods, std::nullopt));
  spec.method = method == "grid"     ? Method::kGrid
                : method == "random" ? Method::kRandom
                                     : Method::kBayes;

  // Every key is looked at before any is checked, so a misspelt one is reported as such
  // rather than as the key it should have been, missing.
  for (std::string_view key : {"metric", "parameters", "early_terminate"}) top.Value(key);
  LABBOOK_ASSIGN_OR_RETURN(spec.run_cap, top.Integer("run_cap", 0, INT32_MAX, 0));
  LABBOOK_ASSIGN_OR_RETURN(int64_t seed, top.Integer("seed", 0, INT64_MAX, 0));
  spec.seed = static_cast<uint64_t>(seed);
  LABBOOK_RETURN_IF_ERROR(top.Finish("a sweep"));

  if (top.Has("metric")) {
    LABBOOK_ASSIGN_OR_RETURN(MapReader metric, top.Map("metric", "the metric: name and goal"));
    LABBOOK_ASSIGN_OR_RETURN(spec.metric, metric.String("name"));
    if (spec.metric.empty()) return metric.Error("name", "expected a metric key, got ''");
    static constexpr std::array<std::string_view, 2> kGoals = {"minimize", "maximize"};
    LABBOOK_ASSIGN_OR_RETURN(std::string goal, metric.Choice("goal", kGoals, "minimize"));
    spec.goal = goal == "maximize" ? Goal::kMaximize : Goal::kMinimize;
    LABBOOK_RETURN_IF_ERROR(metric.Finish("metric"));
  }

  const Node* parameters = top.Value("parameters");
  if (parameters == nullptr) {
    return top.Error("parameters", "missing (expected a map of config fields to search)");
  }
  if (parameters->kind != Node::Kind::kMap || parameters->keys.empty()) {
    return top.Error("parameters", "expected a non-empty map of config fields, got " +
                                       config::Describe(*parameters));
  }
  LABBOOK_RETURN_IF_ERROR(ReadParameters(*parameters, "parameters", "", &spec.parameters));
  std::sort(spec.parameters.begin(), spec.parameters.end(),
            [](const Parameter& a, const Parameter& b) { return a.path < b.path; });
  for (size_t i = 1; i < spec.parameters.size(); ++i) {
    if (spec.parameters[i].path == spec.parameters[i - 1].path) {
      return InvalidArgument(spec.parameters[i].origin + ": parameters." + spec.parameters[i].path +
                             ": named twice (also at " + spec.parameters[i - 1].origin + ")");
    }
  }
  if (spec.method == Method::kGrid) {
    for (const Parameter& p : spec.parameters) {
      if (Continuous(p.distribution)) {
        return InvalidArgument(p.origin + ": parameters." + p.path + ": a grid needs values " +
                               "(or int_uniform, q_uniform); distribution " +
                               std::string(DistributionName(p.distribution)) + " is continuous");
      }
    }
  }

  if (top.Has("early_terminate")) {
    LABBOOK_ASSIGN_OR_RETURN(MapReader et, top.Map("early_terminate", "hyperband's settings"));
    static constexpr std::array<std::string_view, 1> kTypes = {"hyperband"};
    LABBOOK_ASSIGN_OR_RETURN(std::string type, et.Choice("type", kTypes, std::nullopt));
    Hyperband hyperband;
    LABBOOK_ASSIGN_OR_RETURN(hyperband.eta,
                             et.Number("eta", NumberRange::Between(1, 1e308, false), 3.0));
    LABBOOK_ASSIGN_OR_RETURN(int64_t brackets, et.Integer("s", 1, 20, 3));
    hyperband.brackets = static_cast<int>(brackets);
    if (et.Has("min_iter")) {
      LABBOOK_ASSIGN_OR_RETURN(hyperband.min_iter, et.Integer("min_iter", 1, INT32_MAX, 1));
      et.Value("max_iter");
      if (et.Has("max_iter")) {
        return et.Error("max_iter", "give min_iter or max_iter, not both");
      }
    } else if (et.Has("max_iter")) {
      // W&B's other form: the brackets count down from max_iter.
      LABBOOK_ASSIGN_OR_RETURN(int64_t max_iter, et.Integer("max_iter", 1, INT32_MAX, 1));
      hyperband.min_iter = std::max<int64_t>(
          1, std::llround(static_cast<double>(max_iter) /
                          std::pow(hyperband.eta, hyperband.brackets - 1)));
    } else {
      return et.Error("", "expected min_iter (or max_iter): the first bracket's iteration");
    }
    LABBOOK_RETURN_IF_ERROR(et.Finish("early_terminate"));
    if (spec.metric.empty()) {
      return top.Error("early_terminate", "needs a metric to compare trials by");
    }
    spec.early_terminate = hyperband;
  }
  if (spec.method == Method::kBayes && spec.metric.empty()) {
    return top.Error("method", "bayes needs a metric (metric.name and metric.goal) to model");
  }
  return spec;
}

Result<SweepSpec> LoadSweepFile(const std::string& path) {
  LABBOOK_ASSIGN_OR_RETURN(Node root, config::LoadYamlFile(path));
  return ParseSweepSpec(root);
}

Result<SweepSpec> SweepSpecFromJson(const json& value, const std::string& where) {
  if (!value.is_object()) return InvalidArgument(where + ": expected a sweep object");
  return ParseSweepSpec(config::FromJson(value, config::Origin{where, 0}));
}

std::vector<std::string> Overrides(const Params& params) {
  std::vector<std::string> out;
  for (const auto& [path, value] : params.items()) out.push_back(path + "=" + value.dump());
  return out;
}

json SampleValue(const Parameter& p, std::mt19937_64& rng) {
  const bool integral_q = p.q == std::floor(p.q);
  auto uniform = [&](double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
  };
  auto normal = [&] { return std::normal_distribution<double>(p.mu, p.sigma)(rng); };
  switch (p.distribution) {
    case Distribution::kConstant:
      return p.values.front();
    case Distribution::kCategorical: {
      if (!p.probabilities.empty()) {
        std::discrete_distribution<size_t> pick(p.probabilities.begin(), p.probabilities.end());
        return p.values[pick(rng)];
      }
      return p.values[std::uniform_int_distribution<size_t>(0, p.values.size() - 1)(rng)];
    }
    case Distribution::kIntUniform:
      return std::uniform_int_distribution<int64_t>(static_cast<int64_t>(p.min),
                                                    static_cast<int64_t>(p.max))(rng);
    case Distribution::kUniform:
      return uniform(p.min, p.max);
    case Distribution::kQUniform:
      return NumberValue(QuantizeWithin(uniform(p.min, p.max), p.q, p.min, p.max), integral_q);
    case Distribution::kLogUniform:
      return std::exp(uniform(p.min, p.max));
    case Distribution::kLogUniformValues:
      return std::exp(uniform(std::log(p.min), std::log(p.max)));
    case Distribution::kQLogUniformValues:
      return NumberValue(QuantizeWithin(std::exp(uniform(std::log(p.min), std::log(p.max))), p.q,
                                        p.min, p.max),
                         integral_q);
    case Distribution::kNormal:
      return normal();
    case Distribution::kQNormal:
      return NumberValue(Quantize(normal(), p.q), integral_q);
    case Distribution::kLogNormal:
      return std::exp(normal());
    case Distribution::kQLogNormal:
      return NumberValue(Quantize(std::exp(normal()), p.q), integral_q);
  }
  return nullptr;
}

Params SampleParams(const SweepSpec& spec, std::mt19937_64& rng) {
  Params params = json::object();
  for (const Parameter& p : spec.parameters) params[p.path] = SampleValue(p, rng);
  return params;
}

}  // namespace labbook::sweep
