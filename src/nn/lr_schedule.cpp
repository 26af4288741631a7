#include "nn/lr_schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

namespace labbook::nn {

Result<std::unique_ptr<StepDecay>> StepDecay::Create(double initial, int every_epochs,
                                                     double factor) {
  if (every_epochs < 1) {
    return InvalidArgument("step decay: every_epochs must be at least 1, got " +
                           std::to_string(every_epochs));
  }
  if (!(factor > 0)) {
    return InvalidArgument("step decay: factor must be positive, got " + std::to_string(factor));
  }
  return std::unique_ptr<StepDecay>(new StepDecay(initial, every_epochs, factor));
}

double StepDecay::Rate(int64_t, int epoch) const {
  return initial_ * std::pow(factor_, epoch / every_epochs_);
}

Result<std::unique_ptr<CosineDecay>> CosineDecay::Create(double initial, int64_t decay_steps,
                                                         double alpha) {
  if (decay_steps < 1) {
    return InvalidArgument("cosine decay: decay_steps must be at least 1, got " +
                           std::to_string(decay_steps));
  }
  if (!(alpha >= 0 && alpha <= 1)) {
    return InvalidArgument("cosine decay: alpha must be in [0, 1], got " + std::to_string(alpha));
  }
  return std::unique_ptr<CosineDecay>(new CosineDecay(initial, decay_steps, alpha));
}

double CosineDecay::Rate(int64_t step, int) const {
  const double progress =
      static_cast<double>(std::min(step, decay_steps_)) / static_cast<double>(decay_steps_);
  const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  return initial_ * ((1.0 - alpha_) * cosine + alpha_);
}

}  // namespace labbook::nn
