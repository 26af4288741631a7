// Every reference layer's backward pass against central finite differences, in double: the
// reference kernels are templated on the scalar, so Network<double> runs the very loops the float
// backend runs, and the differences are precise to about 1e-9.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "nn/random.hpp"
#include "nn/reference/network.hpp"

namespace labbook::nn {
namespace {

using reference::Network;

struct GradientCase {
  std::string name;
  SampleShape input;
  std::vector<LayerSpec> layers;
  bool training = true;
  GradientOf of = GradientOf::kOutput;
  int batch = 3;
};

SampleShape Image(int c, int h, int w) { return {c, h, w, false}; }

// Fills parameters with values away from their identity-like defaults, so that every term of
// every gradient matters: kernels and biases in [-0.5, 0.5], scales and variances in [0.5, 1.5].
void Randomise(Network<double>& net, Xoshiro256& rng) {
  for (auto& p : net.parameters()) {
    const bool positive = p.name.ends_with("/gamma") || p.name.ends_with("/moving_variance");
    for (double& v : p.value) v = positive ? 0.5 + rng.Uniform() : rng.Uniform() - 0.5;
  }
}

// Checks d f / d (every trainable parameter and the input), f = sum(r * y) with y the output (or
// the last pre-activation) and r random, against (f(v + h) - f(v - h)) / 2h.
void CheckGradients(const GradientCase& c) {
  SCOPED_TRACE(c.name);
  auto created = Network<double>::Create({c.input, c.layers}, c.batch);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  Network<double>& net = **created;
  net.set_compute_input_gradient(true);
  Xoshiro256 rng(11);
  Randomise(net, rng);
  std::vector<double> x(static_cast<size_t>(c.batch * net.input_size()));
  for (double& v : x) v = 2 * rng.Uniform() - 1;
  std::vector<double> r(static_cast<size_t>(c.batch * net.output_size()));
  for (double& v : r) v = 2 * rng.Uniform() - 1;

  auto objective = [&] {
    net.SetSeed(5);  // the same dropout mask in every pass
    const double* out = net.Forward(x.data(), c.batch, c.training);
    const double* y = c.of == GradientOf::kPreActivation ? net.LastPreActivation() : out;
    double f = 0;
    for (size_t i = 0; i < r.size(); ++i) f += r[i] * y[i];
    return f;
  };
  objective();
  net.Backward(r.data(), c.of);

  int checked = 0;
  double largest = 0;
  auto check = [&](const std::string& what, double& variable, double analytic) {
    const double saved = variable;
    const double h = 1e-6;
    variable = saved + h;
    const double plus = objective();
    variable = saved - h;
    const double minus = objective();
    variable = saved;
    const double numeric = (plus - minus) / (2 * h);
    EXPECT_NEAR(analytic, numeric, 1e-6 * std::max(1.0, std::fabs(numeric))) << what;
    largest = std::max(largest, std::fabs(analytic));
    ++checked;
  };
  // Up to 40 elements per tensor, spread over it.
  auto each = [](size_t size, auto&& f) {
    const size_t step = std::max<size_t>(1, size / 40);
    for (size_t i = 0; i < size; i += step) f(i);
  };

  for (auto& p : net.parameters()) {
    if (!p.trainable) continue;
    const std::vector<double> grad = p.grad;  // the checks run Forward, not Backward
    each(p.value.size(),
         [&](size_t i) { check(p.name + "[" + std::to_string(i) + "]", p.value[i], grad[i]); });
  }
  const std::vector<double> input_grad(net.InputGradient(), net.InputGradient() + x.size());
  each(x.size(), [&](size_t i) { check("input[" + std::to_string(i) + "]", x[i], input_grad[i]); });
  EXPECT_GT(checked, 0);
  EXPECT_GT(largest, 1e-3) << "all gradients vanish: the check proves nothing";
}

TEST(NnGradientTest, Conv2DValidWithBias) {
  CheckGradients({"conv valid", Image(2, 6, 5), {Conv2DSpec{.filters = 3}}});
}

TEST(NnGradientTest, Conv2DSameStridedEvenKernelTanhNoBias) {
  CheckGradients({"conv same strided",
                  Image(2, 7, 6),
                  {Conv2DSpec{.filters = 3,
                              .kernel_h = 2,
                              .kernel_w = 3,
                              .stride_h = 2,
                              .stride_w = 2,
                              .padding = Padding::kSame,
                              .activation = Activation::kTanh,
                              .use_bias = false}}});
}

TEST(NnGradientTest, Conv2DSameAsymmetricRelu) {
  // A 4x4 kernel pads 1 before and 2 after.
  CheckGradients({"conv same 4x4",
                  Image(1, 5, 5),
                  {Conv2DSpec{.filters = 2,
                              .kernel_h = 4,
                              .kernel_w = 4,
                              .padding = Padding::kSame,
                              .activation = Activation::kRelu}}});
}

TEST(NnGradientTest, Conv2DValidStridedElu) {
  CheckGradients({"conv stride 3x2",
                  Image(2, 8, 7),
                  {Conv2DSpec{.filters = 2,
                              .kernel_h = 3,
                              .kernel_w = 2,
                              .stride_h = 3,
                              .stride_w = 2,
                              .activation = Activation::kElu}}});
}

TEST(NnGradientTest, Conv2DSigmoidAndSoftmaxOverChannels) {
  CheckGradients(
      {"conv sigmoid",
       Image(2, 4, 4),
       {Conv2DSpec{
           .filters = 2, .kernel_h = 2, .kernel_w = 2, .activation = Activation::kSigmoid}}});
  CheckGradients(
      {"conv softmax",
       Image(2, 4, 4),
       {Conv2DSpec{
           .filters = 3, .kernel_h = 2, .kernel_w = 2, .activation = Activation::kSoftmax}}});
}

TEST(NnGradientTest, MaxPooling) {
  CheckGradients({"max valid 2x2", Image(2, 6, 6), {Pool2DSpec{}}});
  CheckGradients({"max valid overlapping",
                  Image(2, 5, 5),
                  {Pool2DSpec{.pool_h = 3, .pool_w = 3, .stride_h = 1, .stride_w = 1}}});
  CheckGradients({"max same 3x3 s2",
                  Image(2, 7, 6),
                  {Pool2DSpec{.pool_h = 3, .pool_w = 3, .padding = Padding::kSame}}});
}

TEST(NnGradientTest, AveragePooling) {
  CheckGradients(
      {"avg valid", Image(2, 5, 4), {Pool2DSpec{.max = false, .stride_h = 1, .stride_w = 1}}});
  CheckGradients({"avg same excludes padding",
                  Image(2, 7, 6),
                  {Pool2DSpec{.max = false, .pool_h = 3, .pool_w = 3, .padding = Padding::kSame}}});
}

TEST(NnGradientTest, FlattenAndDense) {
  CheckGradients({"dense sigmoid",
                  Image(2, 3, 3),
                  {FlattenSpec{}, DenseSpec{.units = 4, .activation = Activation::kSigmoid}}});
  CheckGradients(
      {"dense relu no bias",
       Image(2, 3, 3),
       {FlattenSpec{}, DenseSpec{.units = 4, .activation = Activation::kRelu, .use_bias = false}}});
  CheckGradients(
      {"dense elu", {5, 1, 1, true}, {DenseSpec{.units = 4, .activation = Activation::kElu}}});
  CheckGradients(
      {"dense tanh", {5, 1, 1, true}, {DenseSpec{.units = 4, .activation = Activation::kTanh}}});
  CheckGradients({"dense softmax",
                  {5, 1, 1, true},
                  {DenseSpec{.units = 4, .activation = Activation::kSoftmax}}});
}

TEST(NnGradientTest, Dropout) {
  const std::vector<LayerSpec> layers = {FlattenSpec{}, DenseSpec{.units = 6},
                                         DropoutSpec{.rate = 0.4}};
  CheckGradients({"dropout training", Image(1, 3, 3), layers, /*training=*/true});
  CheckGradients({"dropout inference", Image(1, 3, 3), layers, /*training=*/false});
}

TEST(NnGradientTest, BatchNormalization) {
  CheckGradients({"batch norm image training",
                  Image(3, 4, 3),
                  {BatchNormSpec{}},
                  /*training=*/true,
                  GradientOf::kOutput,
                  /*batch=*/4});
  CheckGradients({"batch norm image inference",
                  Image(3, 4, 3),
                  {BatchNormSpec{}},
                  /*training=*/false,
                  GradientOf::kOutput,
                  /*batch=*/4});
  CheckGradients({"batch norm flat training",
                  Image(2, 2, 2),
                  {FlattenSpec{}, DenseSpec{.units = 5}, BatchNormSpec{.epsilon = 0.01}},
                  /*training=*/true,
                  GradientOf::kOutput,
                  /*batch=*/5});
}

TEST(NnGradientTest, ActivationLayers) {
  for (Activation a : {Activation::kLinear, Activation::kRelu, Activation::kTanh,
                       Activation::kSigmoid, Activation::kSoftmax, Activation::kElu}) {
    CheckGradients({"activation " + std::string(ActivationName(a)),
                    Image(3, 2, 2),
                    {Conv2DSpec{.filters = 3, .kernel_h = 1, .kernel_w = 1},
                     ActivationSpec{.activation = a}}});
  }
}

// Backward(kPreActivation) starts below the last activation: the gradient is then taken with
// respect to LastPreActivation(), whichever layer holds it.
TEST(NnGradientTest, FromPreActivation) {
  const GradientOf pre = GradientOf::kPreActivation;
  CheckGradients({"dense softmax from logits",
                  {5, 1, 1, true},
                  {DenseSpec{.units = 4, .activation = Activation::kSoftmax}},
                  true,
                  pre});
  CheckGradients({"activation layer from logits",
                  {5, 1, 1, true},
                  {DenseSpec{.units = 4}, ActivationSpec{.activation = Activation::kSoftmax}},
                  true,
                  pre});
  CheckGradients(
      {"conv softmax from logits",
       Image(2, 4, 4),
       {Conv2DSpec{.filters = 3, .kernel_h = 2, .kernel_w = 2, .activation = Activation::kSoftmax}},
       true,
       pre});
  CheckGradients({"no activation: same as the output",
                  Image(2, 4, 4),
                  {Conv2DSpec{.filters = 2, .kernel_h = 2, .kernel_w = 2}, Pool2DSpec{}},
                  true,
                  pre});
}

TEST(NnGradientTest, WholeNetworks) {
  const std::vector<LayerSpec> cnn = {
      Conv2DSpec{.filters = 4, .activation = Activation::kRelu},
      Pool2DSpec{},
      Conv2DSpec{.filters = 5, .padding = Padding::kSame, .activation = Activation::kRelu},
      Pool2DSpec{.max = false},
      FlattenSpec{},
      DropoutSpec{.rate = 0.5},
      DenseSpec{.units = 6, .activation = Activation::kSoftmax},
  };
  CheckGradients({"small cnn", Image(1, 10, 10), cnn});
  CheckGradients(
      {"small cnn from logits", Image(1, 10, 10), cnn, true, GradientOf::kPreActivation});
  const std::vector<LayerSpec> normalised = {
      Conv2DSpec{.filters = 4, .stride_h = 2, .stride_w = 2, .padding = Padding::kSame},
      BatchNormSpec{},
      ActivationSpec{.activation = Activation::kElu},
      Pool2DSpec{.pool_h = 3, .pool_w = 3, .padding = Padding::kSame},
      FlattenSpec{},
      DenseSpec{.units = 5, .activation = Activation::kTanh},
      BatchNormSpec{},
      DenseSpec{.units = 3},
      ActivationSpec{.activation = Activation::kSoftmax},
  };
  CheckGradients({"batch-normalised", Image(2, 9, 8), normalised, true, GradientOf::kOutput, 4});
  CheckGradients(
      {"batch-normalised inference", Image(2, 9, 8), normalised, false, GradientOf::kOutput, 4});
}

// The float network is the same code; its gradients agree with the double ones to float
// precision, so the reference backend is as good an oracle as float allows.
TEST(NnGradientTest, FloatMatchesDouble) {
  const ModelSpec spec{
      Image(1, 12, 12),
      {Conv2DSpec{.filters = 4, .activation = Activation::kRelu}, Pool2DSpec{}, FlattenSpec{},
       BatchNormSpec{}, DenseSpec{.units = 5, .activation = Activation::kSoftmax}}};
  const int n = 6;
  auto in_double = Network<double>::Create(spec, n);
  auto in_float = Network<float>::Create(spec, n);
  ASSERT_TRUE(in_double.ok() && in_float.ok());
  Xoshiro256 rng(3);
  Randomise(**in_double, rng);
  ASSERT_TRUE((*in_float)->ImportWeights((*in_double)->ExportWeights()).ok());
  // Round the double weights to the float ones, so both start from identical values.
  ASSERT_TRUE((*in_double)->ImportWeights((*in_float)->ExportWeights()).ok());
  std::vector<float> x(static_cast<size_t>(n * spec.input.size()));
  for (float& v : x) v = static_cast<float>(rng.Uniform());
  const std::vector<double> x_double(x.begin(), x.end());
  std::vector<float> r(static_cast<size_t>(n * 5));
  for (float& v : r) v = static_cast<float>(rng.Uniform() - 0.5);
  const std::vector<double> r_double(r.begin(), r.end());

  (*in_float)->Forward(x.data(), n, true);
  (*in_float)->Backward(r.data(), GradientOf::kOutput);
  (*in_double)->Forward(x_double.data(), n, true);
  (*in_double)->Backward(r_double.data(), GradientOf::kOutput);
  for (size_t p = 0; p < (*in_float)->parameters().size(); ++p) {
    const auto& f = (*in_float)->parameters()[p];
    const auto& d = (*in_double)->parameters()[p];
    double scale = 0;
    for (double v : d.trainable ? d.grad : d.value) scale = std::max(scale, std::fabs(v));
    for (size_t i = 0; i < f.value.size(); ++i) {
      const double a = f.trainable ? f.grad[i] : f.value[i];
      const double b = d.trainable ? d.grad[i] : d.value[i];
      ASSERT_NEAR(a, b, 2e-5 * scale) << f.name << "[" << i << "]";
    }
  }
}

}  // namespace
}  // namespace labbook::nn
