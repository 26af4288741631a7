// Loss values on cases worked out by hand (Keras' numbers), every loss's gradient against central
// finite differences, and the L2 regulariser.
#include "nn/loss.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "nn/random.hpp"

namespace labbook::nn {
namespace {

using ::testing::HasSubstr;

std::vector<float> Softmax(const std::vector<float>& z, int k) {
  std::vector<float> p(z.size());
  for (size_t row = 0; row < z.size() / k; ++row) {
    double max = z[row * k], sum = 0;
    for (int j = 1; j < k; ++j) max = std::max(max, static_cast<double>(z[row * k + j]));
    for (int j = 0; j < k; ++j) sum += std::exp(z[row * k + j] - max);
    for (int j = 0; j < k; ++j)
      p[row * k + j] = static_cast<float>(std::exp(z[row * k + j] - max) / sum);
  }
  return p;
}

double Value(const Loss& loss, const std::vector<float>& output, const std::vector<float>& logits,
             const LossTargets& targets, int n, int k) {
  std::vector<float> grad(output.size());
  auto value = loss.Compute(output.data(), logits.empty() ? nullptr : logits.data(), targets, n, k,
                            grad.data());
  EXPECT_TRUE(value.ok()) << value.status().ToString();
  return value.ok() ? *value : NAN;
}

TEST(NnLossTest, KnownValues) {
  const std::vector<float> p = {0.7f, 0.2f, 0.1f, 0.1f, 0.1f, 0.8f};
  const std::vector<int32_t> classes = {0, 2};
  const std::vector<float> one_hot = {1, 0, 0, 0, 0, 1};
  const double expected = -(std::log(0.7) + std::log(0.8)) / 2;
  // Probability path (a sigmoid output stands for "not a softmax").
  const Loss categorical(LossKind::kCategoricalCrossentropy, Activation::kSigmoid);
  EXPECT_NEAR(Value(categorical, p, {}, {.values = one_hot.data()}, 2, 3), expected, 1e-6);
  EXPECT_NEAR(Value(categorical, p, {}, {.classes = classes.data()}, 2, 3), expected, 1e-6);
  const Loss sparse(LossKind::kSparseCategoricalCrossentropy, Activation::kLinear);
  EXPECT_NEAR(Value(sparse, p, {}, {.classes = classes.data()}, 2, 3), expected, 1e-6);

  // Keras clips a zero probability to 1e-7: -log(1e-7) = 16.118.
  const std::vector<float> zero = {0.0f, 1.0f};
  const std::vector<int32_t> first = {0};
  EXPECT_NEAR(Value(categorical, zero, {}, {.classes = first.data()}, 1, 2), -std::log(1e-7), 1e-6);

  const Loss mse(LossKind::kMeanSquaredError, Activation::kLinear);
  const std::vector<float> prediction = {1, 2, 3, 4};
  const std::vector<float> target = {1, 0, 3, 0};
  EXPECT_NEAR(Value(mse, prediction, {}, {.values = target.data()}, 2, 2), (4.0 / 2 + 16.0 / 2) / 2,
              1e-12);

  const Loss cosine(LossKind::kCosineSimilarity, Activation::kLinear);
  const std::vector<float> a = {1, 2, -3, 1, 2, -3};
  const std::vector<float> b = {2, 4, -6, -1, -2, 3};
  // Keras' loss is the negated similarity: -1 for the same direction, +1 for the opposite.
  EXPECT_NEAR(Value(cosine, a, {}, {.values = b.data()}, 1, 3), -1.0, 1e-7);
  EXPECT_NEAR(Value(cosine, a, {}, {.values = b.data() + 3}, 1, 3), 1.0, 1e-7);
  EXPECT_NEAR(Value(cosine, a, {}, {.values = b.data()}, 2, 3), 0.0, 1e-7);
}

TEST(NnLossTest, FusedSoftmaxUsesTheLogits) {
  const std::vector<float> logits = {2.0f, -1.0f, 0.5f, 30.0f, -30.0f, 0.0f};
  const std::vector<float> p = Softmax(logits, 3);
  const std::vector<int32_t> classes = {2, 1};
  const Loss fused(LossKind::kSparseCategoricalCrossentropy, Activation::kSoftmax);
  EXPECT_TRUE(fused.fused_softmax());
  EXPECT_EQ(fused.gradient_of(), GradientOf::kPreActivation);
  // log_softmax directly: no clipping, so the second sample's tiny probability (e^-60) counts.
  const double lse0 = std::log(std::exp(2.0) + std::exp(-1.0) + std::exp(0.5));
  const double lse1 = 30.0 + std::log(1 + std::exp(-60.0) + std::exp(-30.0));
  const double expected = ((lse0 - 0.5) + (lse1 + 30.0)) / 2;
  EXPECT_NEAR(Value(fused, p, logits, {.classes = classes.data()}, 2, 3), expected, 1e-9);

  std::vector<float> grad(6);
  ASSERT_TRUE(
      fused.Compute(p.data(), logits.data(), {.classes = classes.data()}, 2, 3, grad.data()).ok());
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      EXPECT_NEAR(grad[i * 3 + j], (p[i * 3 + j] - (j == classes[i] ? 1.0 : 0.0)) / 2, 1e-7);
    }
  }
  EXPECT_FALSE(Loss(LossKind::kMeanSquaredError, Activation::kSoftmax).fused_softmax());
  EXPECT_FALSE(Loss(LossKind::kCategoricalCrossentropy, Activation::kSigmoid).fused_softmax());
}

// d loss / d input against central differences of the float API. The loss is computed in double
// from the float inputs, so the only error is the O(h^2) truncation.
void CheckLossGradient(const std::string& name, const Loss& loss, std::vector<float> output,
                       std::vector<float> logits, const LossTargets& targets, int n, int k) {
  SCOPED_TRACE(name);
  std::vector<float> grad(output.size());
  const bool fused = loss.fused_softmax();
  ASSERT_TRUE(
      loss.Compute(output.data(), fused ? logits.data() : nullptr, targets, n, k, grad.data())
          .ok());
  std::vector<float>& variable = fused ? logits : output;
  for (size_t i = 0; i < variable.size(); ++i) {
    const float saved = variable[i];
    const float h = 1e-3f * std::max(1.0f, std::fabs(saved));
    variable[i] = saved + h;
    const float up = variable[i];
    const double plus = Value(loss, output, fused ? logits : std::vector<float>{}, targets, n, k);
    variable[i] = saved - h;
    const float down = variable[i];
    const double minus = Value(loss, output, fused ? logits : std::vector<float>{}, targets, n, k);
    variable[i] = saved;
    const double numeric = (plus - minus) / (static_cast<double>(up) - down);
    EXPECT_NEAR(grad[i], numeric, 2e-4 * std::max(1.0, std::fabs(numeric))) << "element " << i;
  }
}

TEST(NnLossTest, GradientsMatchFiniteDifferences) {
  const int n = 3, k = 4;
  Xoshiro256 rng(17);
  std::vector<float> logits(n * k), values(n * k), soft_targets(n * k), positive(n * k);
  for (float& v : logits) v = static_cast<float>(4 * rng.Uniform() - 2);
  for (float& v : values) v = static_cast<float>(2 * rng.Uniform() - 1);
  for (float& v : positive) v = static_cast<float>(0.05 + 0.9 * rng.Uniform());
  for (int i = 0; i < n; ++i) {
    double sum = 0;
    for (int j = 0; j < k; ++j) sum += soft_targets[i * k + j] = static_cast<float>(rng.Uniform());
    for (int j = 0; j < k; ++j) soft_targets[i * k + j] /= static_cast<float>(sum);
  }
  const std::vector<float> p = Softmax(logits, k);
  const std::vector<int32_t> classes = {3, 0, 1};
  using K = LossKind;

  CheckLossGradient("categorical fused, soft targets",
                    Loss(K::kCategoricalCrossentropy, Activation::kSoftmax), p, logits,
                    {.values = soft_targets.data()}, n, k);
  CheckLossGradient("sparse fused", Loss(K::kSparseCategoricalCrossentropy, Activation::kSoftmax),
                    p, logits, {.classes = classes.data()}, n, k);
  // Probability paths on outputs that do not sum to one (sigmoids), through the renormalisation.
  CheckLossGradient("categorical probabilities",
                    Loss(K::kCategoricalCrossentropy, Activation::kSigmoid), positive, {},
                    {.values = soft_targets.data()}, n, k);
  CheckLossGradient("sparse probabilities",
                    Loss(K::kSparseCategoricalCrossentropy, Activation::kSigmoid), positive, {},
                    {.classes = classes.data()}, n, k);
  CheckLossGradient("mse", Loss(K::kMeanSquaredError, Activation::kLinear), values, {},
                    {.values = soft_targets.data()}, n, k);
  CheckLossGradient("mse one-hot", Loss(K::kMeanSquaredError, Activation::kSoftmax), p, {},
                    {.classes = classes.data()}, n, k);
  CheckLossGradient("cosine", Loss(K::kCosineSimilarity, Activation::kLinear), values, {},
                    {.values = soft_targets.data()}, n, k);
}

TEST(NnLossTest, ClippedProbabilitiesPassNoGradient) {
  // Keras clips to [1e-7, 1 - 1e-7]; tf.clip_by_value's gradient is 0 outside.
  const Loss sparse(LossKind::kSparseCategoricalCrossentropy, Activation::kSigmoid);
  const std::vector<float> output = {0.0f, 0.5f};
  const std::vector<int32_t> label = {0};
  std::vector<float> grad(2);
  ASSERT_TRUE(
      sparse.Compute(output.data(), nullptr, {.classes = label.data()}, 1, 2, grad.data()).ok());
  EXPECT_EQ(grad[0], 0.0f);
  EXPECT_NE(grad[1], 0.0f);
}

TEST(NnLossTest, RejectsBadTargets) {
  const std::vector<float> p = {0.5f, 0.5f};
  std::vector<float> grad(2);
  const std::vector<int32_t> outside = {2};
  const Loss sparse(LossKind::kSparseCategoricalCrossentropy, Activation::kLinear);
  auto result = sparse.Compute(p.data(), nullptr, {.classes = outside.data()}, 1, 2, grad.data());
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(), HasSubstr("label 2 of sample 0 is outside [0, 2)"));
  result = sparse.Compute(p.data(), nullptr, {.values = p.data()}, 1, 2, grad.data());
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(), HasSubstr("needs integer class labels"));
  result = sparse.Compute(p.data(), nullptr, {}, 1, 2, grad.data());
  EXPECT_FALSE(result.ok());
  const Loss fused(LossKind::kCategoricalCrossentropy, Activation::kSoftmax);
  result = fused.Compute(p.data(), nullptr, {.values = p.data()}, 1, 2, grad.data());
  EXPECT_FALSE(result.ok());
  result = fused.Compute(p.data(), p.data(), {.values = p.data()}, 0, 2, grad.data());
  EXPECT_FALSE(result.ok());
}

TEST(NnLossTest, Names) {
  for (LossKind kind :
       {LossKind::kCategoricalCrossentropy, LossKind::kSparseCategoricalCrossentropy,
        LossKind::kMeanSquaredError, LossKind::kCosineSimilarity}) {
    auto parsed = ParseLossName(LossName(kind));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, kind);
  }
  auto unknown = ParseLossName("hinge");
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(), HasSubstr("unknown loss 'hinge'"));
}

TEST(NnLossTest, L2PenaltyAndGradient) {
  std::vector<float> kernel = {1, -2, 3};
  std::vector<float> kernel_grad = {0.5f, 0.5f, 0.5f};
  std::vector<float> bias = {4};
  std::vector<float> bias_grad = {0.25f};
  const std::vector<ParamView> params = {
      {"dense/kernel", kernel.data(), kernel_grad.data(), 3, true, 0.01},
      {"dense/bias", bias.data(), bias_grad.data(), 1, true, 0.0},
  };
  EXPECT_NEAR(L2Penalty(params), 0.01 * 14, 1e-12);
  AddL2Gradients(params);
  EXPECT_FLOAT_EQ(kernel_grad[0], 0.5f + 0.02f);
  EXPECT_FLOAT_EQ(kernel_grad[1], 0.5f - 0.04f);
  EXPECT_FLOAT_EQ(kernel_grad[2], 0.5f + 0.06f);
  EXPECT_EQ(bias_grad[0], 0.25f);
}

}  // namespace
}  // namespace labbook::nn
