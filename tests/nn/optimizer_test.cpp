// Optimizer defaults, first steps worked out from Keras' formulas, clipping, weight decay,
// validation, resuming from exported state, and the learning-rate schedules. The full update
// rules over several steps are checked against numpy and PyTorch in torch_parity_test.cpp.
#include "nn/optimizer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "nn/lr_schedule.hpp"
#include "nn/random.hpp"

namespace labbook::nn {
namespace {

using ::testing::HasSubstr;

// A stand-in model: one trainable tensor, one trainable vector and one frozen one.
struct Params {
  std::vector<float> kernel = {0.5f, -0.25f, 1.0f, 2.0f};
  std::vector<float> kernel_grad = {0.1f, -0.2f, 0.3f, 0.0f};
  std::vector<float> bias = {0.1f, -0.1f};
  std::vector<float> bias_grad = {-1.0f, 2.0f};
  std::vector<float> frozen = {3.0f, 4.0f};

  std::vector<ParamView> Views() {
    return {{"dense/kernel", kernel.data(), kernel_grad.data(), 4, true, 0.0},
            {"dense/bias", bias.data(), bias_grad.data(), 2, true, 0.0},
            {"bn/moving_mean", frozen.data(), nullptr, 2, false, 0.0}};
  }
};

std::unique_ptr<Optimizer> Make(const OptimizerOptions& options, Params& params) {
  auto optimizer = Optimizer::Create(options, params.Views());
  EXPECT_TRUE(optimizer.ok()) << optimizer.status().ToString();
  return std::move(optimizer).value();
}

TEST(NnOptimizerTest, KerasDefaults) {
  const auto sgd = OptimizerOptions::KerasDefaults(OptimizerKind::kSgd);
  EXPECT_EQ(sgd.learning_rate, 0.01);
  EXPECT_EQ(sgd.momentum, 0.0);
  EXPECT_FALSE(sgd.nesterov);
  const auto adam = OptimizerOptions::KerasDefaults(OptimizerKind::kAdam);
  EXPECT_EQ(adam.learning_rate, 0.001);
  EXPECT_EQ(adam.beta_1, 0.9);
  EXPECT_EQ(adam.beta_2, 0.999);
  EXPECT_EQ(adam.epsilon, 1e-7);
  EXPECT_FALSE(adam.amsgrad);
  EXPECT_EQ(adam.weight_decay, 0.0);
  EXPECT_EQ(OptimizerOptions::KerasDefaults(OptimizerKind::kAdamW).weight_decay, 0.004);
  const auto rmsprop = OptimizerOptions::KerasDefaults(OptimizerKind::kRmsprop);
  EXPECT_EQ(rmsprop.learning_rate, 0.001);
  EXPECT_EQ(rmsprop.rho, 0.9);
  EXPECT_EQ(rmsprop.momentum, 0.0);
  EXPECT_FALSE(rmsprop.centered);
  const auto adagrad = OptimizerOptions::KerasDefaults(OptimizerKind::kAdagrad);
  EXPECT_EQ(adagrad.learning_rate, 0.001);
  EXPECT_EQ(adagrad.initial_accumulator_value, 0.1);
  EXPECT_EQ(adagrad.epsilon, 1e-7);
  EXPECT_EQ(OptimizerOptions::KerasDefaults(OptimizerKind::kNadam).schedule_decay, 1.0);
}

TEST(NnOptimizerTest, SgdPlainAndWithMomentum) {
  Params p;
  const std::vector<float> w0 = p.kernel, g = p.kernel_grad;
  Make(OptimizerOptions::KerasDefaults(OptimizerKind::kSgd), p)->Step(0.01);
  for (size_t i = 0; i < w0.size(); ++i) EXPECT_EQ(p.kernel[i], w0[i] - 0.01f * g[i]);
  EXPECT_EQ(p.frozen, (std::vector<float>{3.0f, 4.0f}));

  for (bool nesterov : {false, true}) {
    Params q;
    auto options = OptimizerOptions::KerasDefaults(OptimizerKind::kSgd);
    options.momentum = 0.9;
    options.nesterov = nesterov;
    auto sgd = Make(options, q);
    sgd->Step(0.1);
    sgd->Step(0.1);  // the same gradient twice
    for (size_t i = 0; i < w0.size(); ++i) {
      const double m1 = -0.1 * g[i];
      const double m2 = 0.9 * m1 - 0.1 * g[i];
      const double w =
          nesterov ? w0[i] + (0.9 * m1 - 0.1 * g[i]) + (0.9 * m2 - 0.1 * g[i]) : w0[i] + m1 + m2;
      EXPECT_NEAR(q.kernel[i], w, 1e-6) << nesterov;
    }
  }
}

TEST(NnOptimizerTest, FirstStepsFromKerasFormulas) {
  using K = OptimizerKind;
  const double lr = 0.01;
  for (K kind : {K::kAdam, K::kNadam, K::kRmsprop, K::kAdagrad}) {
    SCOPED_TRACE(OptimizerName(kind));
    Params p;
    const std::vector<float> w0 = p.bias, g = p.bias_grad;
    Make(OptimizerOptions::KerasDefaults(kind), p)->Step(lr);
    for (size_t i = 0; i < w0.size(); ++i) {
      const double gi = g[i], eps = 1e-7;
      double expected = 0;
      switch (kind) {
        case K::kAdam:  // m = 0.1 g, v = 0.001 g^2, lr_t = lr sqrt(0.001) / 0.1
          expected =
              w0[i] - lr * std::sqrt(0.001) / 0.1 * (0.1 * gi) / (std::sqrt(0.001 * gi * gi) + eps);
          break;
        case K::kNadam: {
          const double u1 = 0.9 * (1 - 0.5 * 0.96), u2 = 0.9 * (1 - 0.5 * 0.96 * 0.96);
          const double m_hat = u2 * 0.1 * gi / (1 - u1 * u2) + (1 - u1) * gi / (1 - u1);
          expected = w0[i] - lr * m_hat / (std::sqrt(0.001 * gi * gi / 0.001) + eps);
          break;
        }
        case K::kRmsprop:  // velocity = 0.1 g^2, eps inside the square root
          expected = w0[i] - lr * gi / std::sqrt(0.1 * gi * gi + eps);
          break;
        case K::kAdagrad:  // the accumulator starts at 0.1
          expected = w0[i] - lr * gi / std::sqrt(0.1 + gi * gi + eps);
          break;
        default:
          break;
      }
      EXPECT_NEAR(p.bias[i], expected, 1e-7);
    }
    EXPECT_EQ(p.frozen, (std::vector<float>{3.0f, 4.0f}));
  }
}

TEST(NnOptimizerTest, AdamStepIsAboutTheLearningRate) {
  Params p;
  const std::vector<float> w0 = p.bias;
  Make(OptimizerOptions::KerasDefaults(OptimizerKind::kAdam), p)->Step(0.001);
  EXPECT_NEAR(p.bias[0] - w0[0], 0.001, 5e-8);  // gradient -1
  EXPECT_NEAR(p.bias[1] - w0[1], -0.001, 5e-8);
}

TEST(NnOptimizerTest, AdamWDecaysWeightsBeforeTheUpdate) {
  Params p;
  std::fill(p.kernel_grad.begin(), p.kernel_grad.end(), 0.0f);  // Adam's own step is then 0
  const std::vector<float> w0 = p.kernel;
  auto adamw = Make(OptimizerOptions::KerasDefaults(OptimizerKind::kAdamW), p);
  adamw->Step(0.01);
  adamw->Step(0.01);
  for (size_t i = 0; i < w0.size(); ++i) {
    EXPECT_NEAR(p.kernel[i], w0[i] * (1 - 0.01 * 0.004) * (1 - 0.01 * 0.004), 1e-7);
  }
  EXPECT_EQ(p.frozen, (std::vector<float>{3.0f, 4.0f}));
}

TEST(NnOptimizerTest, Clipping) {
  auto sgd = OptimizerOptions::KerasDefaults(OptimizerKind::kSgd);
  {
    Params p;  // kernel gradient norm sqrt(0.14) = 0.374, bias gradient norm sqrt(5) = 2.236
    auto options = sgd;
    options.clipnorm = 1.0;
    Make(options, p)->Step(1.0);
    EXPECT_NEAR(p.kernel_grad[2], 0.3f, 1e-7);  // under the norm: untouched
    EXPECT_NEAR(p.bias_grad[0], -1.0 / std::sqrt(5.0), 1e-7);
    EXPECT_NEAR(p.bias[0], 0.1 + 1.0 / std::sqrt(5.0), 1e-6);
  }
  {
    Params p;
    auto options = sgd;
    options.global_clipnorm = 1.0;
    Make(options, p)->Step(1.0);
    const double global = std::sqrt(0.14 + 5.0);
    EXPECT_NEAR(p.kernel_grad[2], 0.3 / global, 1e-7);
    EXPECT_NEAR(p.bias_grad[1], 2.0 / global, 1e-7);
  }
  {
    Params p;
    auto options = sgd;
    options.clipvalue = 0.25;
    Make(options, p)->Step(1.0);
    EXPECT_EQ(p.kernel_grad, (std::vector<float>{0.1f, -0.2f, 0.25f, 0.0f}));
    EXPECT_EQ(p.bias_grad, (std::vector<float>{-0.25f, 0.25f}));
  }
}

TEST(NnOptimizerTest, RejectsOutOfRangeHyperparameters) {
  struct Case {
    void (*change)(OptimizerOptions&);
    const char* message;
  };
  const Case cases[] = {
      {[](OptimizerOptions& o) { o.beta_1 = 1.5; }, "optimizer.beta_1 must be in [0, 1), got 1.5"},
      {[](OptimizerOptions& o) { o.beta_2 = 1.0; }, "optimizer.beta_2"},
      {[](OptimizerOptions& o) { o.learning_rate = -1; }, "optimizer.learning_rate"},
      {[](OptimizerOptions& o) { o.momentum = 2; }, "optimizer.momentum"},
      {[](OptimizerOptions& o) { o.epsilon = -1; }, "optimizer.epsilon"},
      {[](OptimizerOptions& o) { o.weight_decay = -0.1; }, "optimizer.weight_decay"},
      {[](OptimizerOptions& o) { o.clipnorm = 1, o.clipvalue = 1; }, "at most one of clipnorm"},
  };
  for (const Case& c : cases) {
    Params p;
    OptimizerOptions options;
    c.change(options);
    auto optimizer = Optimizer::Create(options, p.Views());
    ASSERT_FALSE(optimizer.ok()) << c.message;
    EXPECT_THAT(optimizer.status().message(), HasSubstr(c.message));
  }
}

TEST(NnOptimizerTest, Names) {
  for (OptimizerKind kind :
       {OptimizerKind::kSgd, OptimizerKind::kAdam, OptimizerKind::kAdamW, OptimizerKind::kNadam,
        OptimizerKind::kRmsprop, OptimizerKind::kAdagrad}) {
    auto parsed = ParseOptimizerName(OptimizerName(kind));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, kind);
  }
  EXPECT_FALSE(ParseOptimizerName("lion").ok());
}

// Exporting the state after 2 steps and importing it into a fresh optimizer continues the run
// bit for bit, Nadam's momentum product included.
TEST(NnOptimizerTest, ResumesBitIdenticallyFromExportedState) {
  using K = OptimizerKind;
  for (K kind : {K::kSgd, K::kAdam, K::kAdamW, K::kNadam, K::kRmsprop, K::kAdagrad}) {
    SCOPED_TRACE(OptimizerName(kind));
    auto options = OptimizerOptions::KerasDefaults(kind);
    options.momentum = kind == K::kSgd || kind == K::kRmsprop ? 0.9 : 0.0;
    options.amsgrad = kind == K::kAdam;
    options.centered = kind == K::kRmsprop;
    auto step_gradients = [](Params& p, int step) {
      for (size_t i = 0; i < p.kernel_grad.size(); ++i) {
        p.kernel_grad[i] = std::sin(static_cast<float>(step * 4 + i));
      }
      p.bias_grad = {std::cos(static_cast<float>(step)), 0.5f};
    };
    Params straight;
    auto uninterrupted = Make(options, straight);
    for (int step = 0; step < 5; ++step) {
      step_gradients(straight, step);
      uninterrupted->Step(0.01);
    }
    Params resumed;
    auto first = Make(options, resumed);
    for (int step = 0; step < 2; ++step) {
      step_gradients(resumed, step);
      first->Step(0.01);
    }
    const std::vector<NamedTensor> state = first->ExportState();
    auto second = Make(options, resumed);
    ASSERT_TRUE(second->ImportState(state).ok());
    EXPECT_EQ(second->iterations(), 2);
    for (int step = 2; step < 5; ++step) {
      step_gradients(resumed, step);
      second->Step(0.01);
    }
    EXPECT_EQ(resumed.kernel, straight.kernel);
    EXPECT_EQ(resumed.bias, straight.bias);
  }
}

TEST(NnOptimizerTest, ImportStateNamesAMissingSlot) {
  Params p;
  auto adam = Make(OptimizerOptions::KerasDefaults(OptimizerKind::kAdam), p);
  std::vector<NamedTensor> state = adam->ExportState();
  std::erase_if(state, [](const NamedTensor& t) { return t.name == "dense/bias/v"; });
  const Status status = adam->ImportState(state);
  EXPECT_THAT(status.message(), HasSubstr("missing tensor 'dense/bias/v'"));
}

TEST(NnScheduleTest, ConstantStepAndCosine) {
  EXPECT_EQ(ConstantLearningRate(0.01).Rate(1000, 7), 0.01);

  auto step = StepDecay::Create(0.1, 3, 0.5);
  ASSERT_TRUE(step.ok());
  EXPECT_DOUBLE_EQ((*step)->Rate(0, 0), 0.1);
  EXPECT_DOUBLE_EQ((*step)->Rate(99, 2), 0.1);
  EXPECT_DOUBLE_EQ((*step)->Rate(100, 3), 0.05);
  EXPECT_DOUBLE_EQ((*step)->Rate(500, 7), 0.025);

  auto cosine = CosineDecay::Create(0.1, 100, 0.1);
  ASSERT_TRUE(cosine.ok());
  EXPECT_DOUBLE_EQ((*cosine)->Rate(0, 0), 0.1);
  EXPECT_NEAR((*cosine)->Rate(50, 0), 0.1 * (0.9 * 0.5 + 0.1), 1e-15);
  EXPECT_NEAR((*cosine)->Rate(25, 0),
              0.1 * (0.9 * 0.5 * (1 + std::cos(std::numbers::pi / 4)) + 0.1), 1e-15);
  EXPECT_NEAR((*cosine)->Rate(100, 0), 0.01, 1e-15);
  EXPECT_NEAR((*cosine)->Rate(1000, 0), 0.01, 1e-15);

  EXPECT_FALSE(StepDecay::Create(0.1, 0, 0.5).ok());
  EXPECT_FALSE(StepDecay::Create(0.1, 2, 0).ok());
  EXPECT_FALSE(CosineDecay::Create(0.1, 0, 0).ok());
  EXPECT_FALSE(CosineDecay::Create(0.1, 10, 1.5).ok());
}

}  // namespace
}  // namespace labbook::nn
