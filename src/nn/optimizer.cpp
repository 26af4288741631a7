#include "nn/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <utility>

namespace labbook::nn {
namespace {

constexpr OptimizerKind kAllKinds[] = {OptimizerKind::kSgd,     OptimizerKind::kAdam,
                                       OptimizerKind::kAdamW,   OptimizerKind::kNadam,
                                       OptimizerKind::kRmsprop, OptimizerKind::kAdagrad};

// The names of the three slots (Optimizer::Slots) a configuration uses; empty when unused.
struct SlotNames {
  std::string first, second, extra;
};

SlotNames SlotNamesOf(const OptimizerOptions& o) {
  switch (o.kind) {
    case OptimizerKind::kSgd:
      return {o.momentum > 0 ? "momentum" : "", "", ""};
    case OptimizerKind::kAdam:
    case OptimizerKind::kAdamW:
      return {"m", "v", o.amsgrad ? "vhat" : ""};
    case OptimizerKind::kNadam:
      return {"m", "v", ""};
    case OptimizerKind::kRmsprop:
      return {o.momentum > 0 ? "momentum" : "", "velocity", o.centered ? "average_gradient" : ""};
    case OptimizerKind::kAdagrad:
      return {"", "accumulator", ""};
  }
  return {};
}

std::string Number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

Status CheckRange(const std::string& field, double value, double low, double high,
                  bool high_inclusive) {
  const bool ok = value >= low && (high_inclusive ? value <= high : value < high);
  if (ok) return Status::Ok();
  return InvalidArgument("optimizer." + field + " must be in [" + Number(low) + ", " +
                         Number(high) + (high_inclusive ? "]" : ")") + ", got " + Number(value));
}

Status CheckNonNegative(const std::string& field, double value) {
  if (value >= 0 && std::isfinite(value)) return Status::Ok();
  return InvalidArgument("optimizer." + field + " must be a non-negative number, got " +
                         Number(value));
}

// u_t of Nadam's momentum schedule at 1-based step t.
double NadamMomentum(const OptimizerOptions& o, double t) {
  return o.beta_1 * (1.0 - 0.5 * std::pow(0.96, o.schedule_decay * t));
}

}  // namespace

std::string_view OptimizerName(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::kSgd:
      return "sgd";
    case OptimizerKind::kAdam:
      return "adam";
    case OptimizerKind::kAdamW:
      return "adamw";
    case OptimizerKind::kNadam:
      return "nadam";
    case OptimizerKind::kRmsprop:
      return "rmsprop";
    case OptimizerKind::kAdagrad:
      return "adagrad";
  }
  return "unknown";
}

Result<OptimizerKind> ParseOptimizerName(std::string_view name) {
  for (OptimizerKind kind : kAllKinds) {
    if (name == OptimizerName(kind)) return kind;
  }
  return InvalidArgument("unknown optimizer '" + std::string(name) +
                         "'; expected sgd, adam, adamw, nadam, rmsprop or adagrad");
}

OptimizerOptions OptimizerOptions::KerasDefaults(OptimizerKind kind) {
  OptimizerOptions o;
  o.kind = kind;
  if (kind == OptimizerKind::kSgd) o.learning_rate = 0.01;
  if (kind == OptimizerKind::kAdamW) o.weight_decay = 0.004;
  return o;
}

Optimizer::Optimizer(const OptimizerOptions& options, std::vector<ParamView> params)
    : options_(options), params_(std::move(params)) {
  const SlotNames names = SlotNamesOf(options_);
  for (const ParamView& p : params_) {
    const auto size = static_cast<size_t>(p.size);
    Slots slots;
    if (!names.first.empty()) slots.first.assign(size, 0.0f);
    if (!names.second.empty()) {
      const bool adagrad = options_.kind == OptimizerKind::kAdagrad;
      slots.second.assign(size,
                          adagrad ? static_cast<float>(options_.initial_accumulator_value) : 0.0f);
    }
    if (!names.extra.empty()) slots.extra.assign(size, 0.0f);
    slots_.push_back(std::move(slots));
  }
}

Result<std::unique_ptr<Optimizer>> Optimizer::Create(const OptimizerOptions& options,
                                                     std::vector<ParamView> params) {
  const OptimizerOptions& o = options;
  for (const Status& status : {
           CheckNonNegative("learning_rate", o.learning_rate),
           CheckRange("momentum", o.momentum, 0, 1, true),
           CheckRange("beta_1", o.beta_1, 0, 1, false),
           CheckRange("beta_2", o.beta_2, 0, 1, false),
           CheckNonNegative("epsilon", o.epsilon),
           CheckNonNegative("weight_decay", o.weight_decay),
           CheckRange("rho", o.rho, 0, 1, true),
           CheckNonNegative("initial_accumulator_value", o.initial_accumulator_value),
           CheckNonNegative("schedule_decay", o.schedule_decay),
           CheckNonNegative("clipnorm", o.clipnorm),
           CheckNonNegative("global_clipnorm", o.global_clipnorm),
           CheckNonNegative("clipvalue", o.clipvalue),
       }) {
    if (!status.ok()) return status;
  }
  const int clippers = (o.clipnorm > 0) + (o.global_clipnorm > 0) + (o.clipvalue > 0);
  if (clippers > 1) {
    return InvalidArgument(
        "optimizer: set at most one of clipnorm, global_clipnorm and clipvalue (Keras applies "
        "only the first)");
  }
  // The optimizer only ever touches trainable parameters.
  std::erase_if(params, [](const ParamView& p) { return !p.trainable || p.grad == nullptr; });
  return std::unique_ptr<Optimizer>(new Optimizer(options, std::move(params)));
}

void Optimizer::ClipGradients() {
  auto squared_norm = [](const ParamView& p) {
    double sum = 0;
    for (int64_t i = 0; i < p.size; ++i) sum += static_cast<double>(p.grad[i]) * p.grad[i];
    return sum;
  };
  auto scale = [](const ParamView& p, double factor) {
    for (int64_t i = 0; i < p.size; ++i) p.grad[i] = static_cast<float>(p.grad[i] * factor);
  };
  if (options_.clipnorm > 0) {
    for (const ParamView& p : params_) {
      const double norm = std::sqrt(squared_norm(p));
      if (norm > options_.clipnorm) scale(p, options_.clipnorm / norm);
    }
  } else if (options_.global_clipnorm > 0) {
    double total = 0;
    for (const ParamView& p : params_) total += squared_norm(p);
    const double norm = std::sqrt(total);
    if (norm > options_.global_clipnorm) {
      for (const ParamView& p : params_) scale(p, options_.global_clipnorm / norm);
    }
  } else if (options_.clipvalue > 0) {
    const auto limit = static_cast<float>(options_.clipvalue);
    for (const ParamView& p : params_) {
      for (int64_t i = 0; i < p.size; ++i) p.grad[i] = std::clamp(p.grad[i], -limit, limit);
    }
  }
}

void Optimizer::Step(double learning_rate) {
  ClipGradients();
  ++iterations_;
  if (options_.kind == OptimizerKind::kNadam) {
    nadam_u_product_ *= NadamMomentum(options_, static_cast<double>(iterations_));
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    const ParamView& p = params_[i];
    if (options_.weight_decay > 0) {
      const auto decay = static_cast<float>(options_.weight_decay * learning_rate);
      for (int64_t j = 0; j < p.size; ++j) p.value[j] -= p.value[j] * decay;
    }
    Update(p, slots_[i], learning_rate);
  }
}

void Optimizer::Update(const ParamView& p, Slots& slots, double lr) {
  const OptimizerOptions& o = options_;
  const double t = static_cast<double>(iterations_);
  float* w = p.value;
  const float* g = p.grad;
  const auto eps = static_cast<float>(o.epsilon);

  // Scalars are computed in double once per step, the element-wise arithmetic runs in float as
  // Keras' float32 variables do.
  switch (o.kind) {
    case OptimizerKind::kSgd: {
      const auto rate = static_cast<float>(lr);
      if (o.momentum == 0) {
        for (int64_t i = 0; i < p.size; ++i) w[i] -= rate * g[i];
        return;
      }
      const auto momentum = static_cast<float>(o.momentum);
      float* m = slots.first.data();
      for (int64_t i = 0; i < p.size; ++i) {
        m[i] = momentum * m[i] - rate * g[i];
        w[i] += o.nesterov ? momentum * m[i] - rate * g[i] : m[i];
      }
      return;
    }
    case OptimizerKind::kAdam:
    case OptimizerKind::kAdamW: {
      const auto alpha = static_cast<float>(lr * std::sqrt(1.0 - std::pow(o.beta_2, t)) /
                                            (1.0 - std::pow(o.beta_1, t)));
      const auto one_minus_b1 = static_cast<float>(1.0 - o.beta_1);
      const auto one_minus_b2 = static_cast<float>(1.0 - o.beta_2);
      float* m = slots.first.data();
      float* v = slots.second.data();
      float* v_max = slots.extra.data();
      for (int64_t i = 0; i < p.size; ++i) {
        m[i] += (g[i] - m[i]) * one_minus_b1;
        v[i] += (g[i] * g[i] - v[i]) * one_minus_b2;
        float denominator_v = v[i];
        if (o.amsgrad) denominator_v = v_max[i] = std::max(v_max[i], v[i]);
        w[i] -= alpha * m[i] / (std::sqrt(denominator_v) + eps);
      }
      return;
    }
    case OptimizerKind::kNadam: {
      const double u_t = NadamMomentum(o, t);
      const double u_next = NadamMomentum(o, t + 1);
      const double u_product = nadam_u_product_;  // u_1 ... u_t
      const auto m_scale = static_cast<float>(u_next / (1.0 - u_product * u_next));
      const auto g_scale = static_cast<float>((1.0 - u_t) / (1.0 - u_product));
      const auto v_correction = static_cast<float>(1.0 - std::pow(o.beta_2, t));
      const auto rate = static_cast<float>(lr);
      const auto one_minus_b1 = static_cast<float>(1.0 - o.beta_1);
      const auto one_minus_b2 = static_cast<float>(1.0 - o.beta_2);
      float* m = slots.first.data();
      float* v = slots.second.data();
      for (int64_t i = 0; i < p.size; ++i) {
        m[i] += (g[i] - m[i]) * one_minus_b1;
        v[i] += (g[i] * g[i] - v[i]) * one_minus_b2;
        const float m_hat = m_scale * m[i] + g_scale * g[i];
        w[i] -= rate * m_hat / (std::sqrt(v[i] / v_correction) + eps);
      }
      return;
    }
    case OptimizerKind::kRmsprop: {
      const auto rho = static_cast<float>(o.rho);
      const auto one_minus_rho = static_cast<float>(1.0 - o.rho);
      const auto rate = static_cast<float>(lr);
      const auto momentum = static_cast<float>(o.momentum);
      float* velocity = slots.second.data();
      float* average = slots.extra.data();
      float* m = slots.first.data();
      for (int64_t i = 0; i < p.size; ++i) {
        velocity[i] = rho * velocity[i] + one_minus_rho * g[i] * g[i];
        float denominator = velocity[i] + eps;
        if (o.centered) {
          average[i] = rho * average[i] + one_minus_rho * g[i];
          denominator = velocity[i] - average[i] * average[i] + eps;
        }
        const float increment = rate * g[i] / std::sqrt(denominator);
        if (o.momentum > 0) {
          m[i] = momentum * m[i] + increment;
          w[i] -= m[i];
        } else {
          w[i] -= increment;
        }
      }
      return;
    }
    case OptimizerKind::kAdagrad: {
      const auto rate = static_cast<float>(lr);
      float* accumulator = slots.second.data();
      for (int64_t i = 0; i < p.size; ++i) {
        accumulator[i] += g[i] * g[i];
        w[i] -= rate * g[i] / std::sqrt(accumulator[i] + eps);
      }
      return;
    }
  }
}

std::vector<NamedTensor> Optimizer::ExportState() const {
  const SlotNames names = SlotNamesOf(options_);
  std::vector<NamedTensor> state;
  state.push_back({"iterations", {1}, {static_cast<float>(iterations_)}});
  for (size_t i = 0; i < params_.size(); ++i) {
    const ParamView& p = params_[i];
    const std::pair<const std::string*, const std::vector<float>*> slots[] = {
        {&names.first, &slots_[i].first},
        {&names.second, &slots_[i].second},
        {&names.extra, &slots_[i].extra}};
    for (const auto& [name, values] : slots) {
      if (!name->empty()) state.push_back({p.name + "/" + *name, {p.size}, *values});
    }
  }
  return state;
}

Status Optimizer::ImportState(const std::vector<NamedTensor>& state) {
  std::map<std::string, const NamedTensor*> by_name;
  for (const NamedTensor& tensor : state) by_name[tensor.name] = &tensor;
  auto find = [&](const std::string& name, int64_t size) -> Result<const NamedTensor*> {
    const auto it = by_name.find(name);
    if (it == by_name.end())
      return InvalidArgument("optimizer state: missing tensor '" + name + "'");
    if (static_cast<int64_t>(it->second->values.size()) != size) {
      return InvalidArgument("optimizer state: tensor '" + name + "' has " +
                             std::to_string(it->second->values.size()) + " values, expected " +
                             std::to_string(size));
    }
    return it->second;
  };

  // Validate everything before changing anything.
  const SlotNames names = SlotNamesOf(options_);
  auto iterations = find("iterations", 1);
  if (!iterations.ok()) return iterations.status();
  for (const ParamView& p : params_) {
    for (const std::string* name : {&names.first, &names.second, &names.extra}) {
      if (name->empty()) continue;
      auto tensor = find(p.name + "/" + *name, p.size);
      if (!tensor.ok()) return tensor.status();
    }
  }
  iterations_ = static_cast<int64_t>((*iterations)->values[0]);
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string& param = params_[i].name;
    if (!names.first.empty()) slots_[i].first = by_name.at(param + "/" + names.first)->values;
    if (!names.second.empty()) slots_[i].second = by_name.at(param + "/" + names.second)->values;
    if (!names.extra.empty()) slots_[i].extra = by_name.at(param + "/" + names.extra)->values;
  }
  // Nadam's product of momenta is a function of the step count; recomputing it in the order Step
  // multiplies keeps a resumed run bit-identical to an uninterrupted one.
  nadam_u_product_ = 1.0;
  if (options_.kind == OptimizerKind::kNadam) {
    for (int64_t t = 1; t <= iterations_; ++t) {
      nadam_u_product_ *= NadamMomentum(options_, static_cast<double>(t));
    }
  }
  return Status::Ok();
}

}  // namespace labbook::nn
