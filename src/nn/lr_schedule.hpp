// Learning-rate schedules: the learning rate of each optimizer step, given the step and epoch.
#pragma once

#include <cstdint>
#include <memory>

#include "labbook/status.hpp"

namespace labbook::nn {

// A learning rate as a function of the step (batches so far, from 0) and the epoch (from 0).
class LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule() = default;
  virtual double Rate(int64_t step, int epoch) const = 0;
};

class ConstantLearningRate final : public LearningRateSchedule {
 public:
  explicit ConstantLearningRate(double rate) : rate_(rate) {}
  double Rate(int64_t, int) const override { return rate_; }

 private:
  double rate_;
};

// initial * factor^floor(epoch / every_epochs): the usual Keras LearningRateScheduler recipe.
class StepDecay final : public LearningRateSchedule {
 public:
  // InvalidArgument unless every_epochs >= 1 and factor > 0.
  [[nodiscard]] static Result<std::unique_ptr<StepDecay>> Create(double initial, int every_epochs,
                                                                 double factor);
  double Rate(int64_t step, int epoch) const override;

 private:
  StepDecay(double initial, int every_epochs, double factor)
      : initial_(initial), every_epochs_(every_epochs), factor_(factor) {}
  double initial_;
  int every_epochs_;
  double factor_;
};

// Keras' CosineDecay: initial * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) /
// decay_steps)) + alpha), reaching alpha * initial at decay_steps and staying there.
class CosineDecay final : public LearningRateSchedule {
 public:
  // InvalidArgument unless decay_steps >= 1 and alpha is in [0, 1].
  [[nodiscard]] static Result<std::unique_ptr<CosineDecay>> Create(double initial,
                                                                   int64_t decay_steps,
                                                                   double alpha);
  double Rate(int64_t step, int epoch) const override;

 private:
  CosineDecay(double initial, int64_t decay_steps, double alpha)
      : initial_(initial), decay_steps_(decay_steps), alpha_(alpha) {}
  double initial_;
  int64_t decay_steps_;
  double alpha_;
};

}  // namespace labbook::nn
