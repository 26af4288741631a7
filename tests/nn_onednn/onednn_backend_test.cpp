// The oneDNN backend against the reference backend: every layer's forward and backward on small
// random shapes (odd sizes, strides, same padding, partial batches), weights round trips, the
// bf16 path against fp32, and determinism.
#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "nn/backend.hpp"
#include "nn/onednn/kernels.hpp"
#include "nn/onednn/model.hpp"
#include "nn/onednn/net.hpp"
#include "nn/random.hpp"
#include "nn/spec.hpp"

namespace labbook::nn {
namespace {

constexpr double kFp32Tolerance = 1e-4;

Conv2DSpec Conv(int filters, int kernel, Activation activation = Activation::kLinear,
                int stride = 1, Padding padding = Padding::kValid) {
  Conv2DSpec c;
  c.filters = filters;
  c.kernel_h = c.kernel_w = kernel;
  c.stride_h = c.stride_w = stride;
  c.padding = padding;
  c.activation = activation;
  return c;
}

Pool2DSpec Pool(bool max, int size, int stride, Padding padding = Padding::kValid) {
  Pool2DSpec p;
  p.max = max;
  p.pool_h = p.pool_w = size;
  p.stride_h = p.stride_w = stride;
  p.padding = padding;
  return p;
}

DenseSpec Dense(int units, Activation activation = Activation::kLinear) {
  DenseSpec d;
  d.units = units;
  d.activation = activation;
  return d;
}

DropoutSpec Dropout(double rate) { return DropoutSpec{rate}; }
ActivationSpec Act(Activation activation) { return ActivationSpec{activation}; }

ModelSpec Image(int channels, int height, int width, std::vector<LayerSpec> layers) {
  return {{channels, height, width, false}, std::move(layers)};
}

// The CNN of issue 3 (the Keras "simple MNIST convnet").
ModelSpec ReferenceCnn() {
  return Image(1, 28, 28,
               {Conv(32, 3, Activation::kRelu), Pool(true, 2, 2), Conv(64, 3, Activation::kRelu),
                Pool(true, 2, 2), FlattenSpec{}, Dropout(0.5), Dense(10, Activation::kSoftmax)});
}

std::vector<float> RandomValues(int64_t count, uint64_t seed, double scale = 1.0) {
  Xoshiro256 rng(seed);
  std::vector<float> values(count);
  for (float& v : values) v = static_cast<float>((2 * rng.Uniform() - 1) * scale);
  return values;
}

// |got - want| <= rtol * (|want| + max|want|) element-wise: relative to each value and to the
// tensor's scale, since sums of many terms cancel to values far below their terms.
void ExpectClose(std::span<const float> got, std::span<const float> want, double rtol,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 0;
  for (float w : want) scale = std::max(scale, std::fabs(static_cast<double>(w)));
  int64_t bad = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double tolerance = rtol * (std::fabs(want[i]) + scale) + 1e-30;
    if (!(std::fabs(static_cast<double>(got[i]) - want[i]) <= tolerance)) {
      if (++bad <= 5) {
        ADD_FAILURE() << what << "[" << i << "]: got " << got[i] << ", want " << want[i]
                      << " (scale " << scale << ")";
      }
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << want.size() << " values differ";
}

std::unique_ptr<CompiledModel> MustCompile(Backend& backend, const ModelSpec& spec, int max_batch,
                                           Precision precision, uint64_t seed) {
  auto model = backend.Compile(spec, max_batch, precision, seed);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  if (!model.ok()) return nullptr;
  return std::move(model).value();
}

onednn::OneDnnModel& AsOneDnn(CompiledModel& model) {
  return dynamic_cast<onednn::OneDnnModel&>(model);
}

// The gradients of a reference model's trainable parameters, canonical like its values.
std::vector<NamedTensor> ReferenceGradients(CompiledModel& model) {
  std::vector<NamedTensor> grads;
  for (const ParamView& p : model.Parameters()) {
    if (!p.trainable) continue;
    grads.push_back({p.name, {}, std::vector<float>(p.grad, p.grad + p.size)});
  }
  return grads;
}

void ExpectTensorsClose(const std::vector<NamedTensor>& got, const std::vector<NamedTensor>& want,
                        double rtol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].name, want[i].name) << what;
    ExpectClose(got[i].values, want[i].values, rtol, what + " " + want[i].name);
  }
}

// One model compiled on both backends from the same seed, driven with the same data.
class BackendPair {
 public:
  BackendPair(const ModelSpec& spec, int max_batch, uint64_t seed = 7) {
    auto fast_backend = MakeOneDnnBackend(2);
    auto reference_backend = MakeReferenceBackend();
    fast_ = MustCompile(*fast_backend, spec, max_batch, Precision::kFloat32, seed);
    reference_ = MustCompile(*reference_backend, spec, max_batch, Precision::kFloat32, seed);
    input_size_ = spec.input.size();
    if (fast_) output_size_ = fast_->layers().back().output.size();
  }

  bool ok() const { return fast_ && reference_; }

  // Forward (training or not) and, when training, Backward with a random upstream gradient;
  // compares outputs, pre-activations, gradients and the weights (moving statistics).
  void Check(int n, bool training, GradientOf of, uint64_t data_seed, const std::string& what) {
    SCOPED_TRACE(what + " n=" + std::to_string(n) + (training ? " training" : " inference") +
                 (of == GradientOf::kOutput ? " d/output" : " d/pre-activation"));
    const std::vector<float> input = RandomValues(n * input_size_, data_seed);
    const float* fast_out = fast_->Forward(input.data(), n, training);
    const float* ref_out = reference_->Forward(input.data(), n, training);
    const int64_t count = n * output_size_;
    ExpectClose({fast_out, static_cast<size_t>(count)}, {ref_out, static_cast<size_t>(count)},
                kFp32Tolerance, "output");
    ExpectClose({fast_->LastPreActivation(), static_cast<size_t>(count)},
                {reference_->LastPreActivation(), static_cast<size_t>(count)}, kFp32Tolerance,
                "pre-activation");
    ExpectTensorsClose(fast_->ExportWeights(), reference_->ExportWeights(), kFp32Tolerance,
                       "weights");
    if (!training) return;
    const std::vector<float> grad = RandomValues(count, data_seed + 1);
    fast_->Backward(grad.data(), of);
    reference_->Backward(grad.data(), of);
    ExpectTensorsClose(AsOneDnn(*fast_).ExportGradients(), ReferenceGradients(*reference_),
                       kFp32Tolerance, "gradient");
  }

  // The usual sequence: full batch, a partial batch, both gradient kinds, then inference.
  void CheckAll(int max_batch, const std::string& what) {
    ASSERT_TRUE(ok());
    Check(max_batch, true, GradientOf::kOutput, 1, what);
    Check(max_batch > 1 ? max_batch - 1 : 1, true, GradientOf::kPreActivation, 3, what);
    Check(1, true, GradientOf::kOutput, 5, what);
    Check(max_batch, true, GradientOf::kPreActivation, 7, what);
    Check(max_batch, false, GradientOf::kOutput, 9, what);
  }

  CompiledModel& fast() { return *fast_; }
  CompiledModel& reference() { return *reference_; }

 private:
  std::unique_ptr<CompiledModel> fast_;
  std::unique_ptr<CompiledModel> reference_;
  int64_t input_size_ = 0;
  int64_t output_size_ = 0;
};

TEST(NnOneDnnTest, ConvolutionsMatchReference) {
  struct Case {
    int channels, height, width;
    Conv2DSpec conv;
  };
  Conv2DSpec rect = Conv(4, 2, Activation::kSigmoid, 1, Padding::kSame);
  rect.kernel_w = 3;
  rect.stride_w = 2;
  rect.use_bias = false;
  const std::vector<Case> cases = {
      {1, 12, 12, Conv(8, 3, Activation::kRelu)},
      {3, 7, 9, Conv(5, 3, Activation::kTanh, 2, Padding::kSame)},
      {2, 6, 5, rect},
      {4, 5, 5, Conv(3, 1, Activation::kElu)},
      {3, 8, 8, Conv(16, 5, Activation::kLinear, 1, Padding::kSame)},
      {8, 9, 7, Conv(9, 3, Activation::kRelu, 3)},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    // The second, last Conv2D keeps its activation unfused and exposes its pre-activation.
    BackendPair pair(Image(c.channels, c.height, c.width, {c.conv, Conv(3, 1, Activation::kTanh)}),
                     4);
    pair.CheckAll(4, "conv case " + std::to_string(i));
  }
}

TEST(NnOneDnnTest, PoolingMatchesReference) {
  struct Case {
    int height, width;
    Pool2DSpec pool;
  };
  const std::vector<Case> cases = {
      {8, 8, Pool(true, 2, 2)},
      {7, 9, Pool(true, 2, 2, Padding::kSame)},
      {7, 8, Pool(true, 3, 2, Padding::kSame)},
      {6, 6, Pool(true, 2, 1)},
      {8, 7, Pool(true, 3, 3, Padding::kSame)},
      {8, 8, Pool(false, 2, 2)},
      {7, 9, Pool(false, 2, 2, Padding::kSame)},
      {7, 8, Pool(false, 3, 2, Padding::kSame)},
      {6, 6, Pool(false, 2, 1)},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    BackendPair pair(Image(2, c.height, c.width,
                           {Conv(5, 3, Activation::kRelu, 1, Padding::kSame), c.pool, Conv(3, 1)}),
                     3);
    pair.CheckAll(3, "pool case " + std::to_string(i));
  }
}

TEST(NnOneDnnTest, DenseMatchesReference) {
  {
    BackendPair pair(
        Image(2, 5, 3,
              {FlattenSpec{}, Dense(6, Activation::kRelu), Dense(5, Activation::kSoftmax)}),
        4);
    pair.CheckAll(4, "flatten dense softmax");
  }
  {
    // Flatten stays 4-D (blocked) in front of the Dense.
    BackendPair pair(
        Image(3, 6, 6, {Conv(9, 3), FlattenSpec{}, Dense(7, Activation::kSigmoid), Dense(3)}), 4);
    pair.CheckAll(4, "conv flatten dense");
  }
  {
    ModelSpec flat{{10, 1, 1, true}, {Dense(6, Activation::kTanh), Dense(4, Activation::kElu)}};
    BackendPair pair(flat, 5);
    pair.CheckAll(5, "flat input");
  }
  {
    DenseSpec no_bias = Dense(4, Activation::kSoftmax);
    no_bias.use_bias = false;
    BackendPair pair(Image(1, 4, 4, {FlattenSpec{}, no_bias}), 3);
    pair.CheckAll(3, "dense without bias");
  }
}

TEST(NnOneDnnTest, FusedFirstConvolutionAndPoolingMatchReference) {
  // A first Conv2D with few channels and the max pooling behind it run as one op; cover its
  // kernel sizes, strides, padding, cut windows, filters past a block, and no activation.
  Conv2DSpec strided = Conv(10, 3, Activation::kLinear, 2, Padding::kSame);
  strided.use_bias = false;
  const std::vector<std::pair<std::string, ModelSpec>> models = {
      {"3x3 relu", Image(1, 12, 12, {Conv(8, 3, Activation::kRelu), Pool(true, 2, 2), Conv(3, 1)})},
      {"strided same linear", Image(3, 9, 7, {strided, Pool(true, 2, 2), Conv(4, 1)})},
      {"5x5 cut windows", Image(2, 11, 13,
                                {Conv(20, 5, Activation::kRelu, 1, Padding::kSame),
                                 Pool(true, 2, 2, Padding::kSame), FlattenSpec{}, Dense(3)})},
      {"1x1 3x3 windows", Image(4, 9, 9,
                                {Conv(16, 1, Activation::kRelu), Pool(true, 3, 3), FlattenSpec{},
                                 Dense(3, Activation::kSoftmax)})},
      {"pooling last", Image(1, 6, 6, {Conv(9, 2, Activation::kRelu), Pool(true, 2, 2)})},
  };
  for (const auto& [what, spec] : models) {
    BackendPair pair(spec, 5);
    pair.CheckAll(5, what);
  }
}

TEST(NnOneDnnTest, BatchNormalizationMatchesReference) {
  // The layers in front of BatchNormalization have no bias: its gradient is zero up to rounding
  // noise, which no relative tolerance can compare.
  Conv2DSpec conv = Conv(6, 3);
  conv.use_bias = false;
  DenseSpec dense = Dense(8);
  dense.use_bias = false;
  {
    BackendPair pair(Image(3, 7, 6, {conv, BatchNormSpec{}, Act(Activation::kRelu), Conv(2, 1)}),
                     4);
    pair.CheckAll(4, "4-D batch norm");
  }
  {
    BatchNormSpec fast_momentum;
    fast_momentum.momentum = 0.5;
    fast_momentum.epsilon = 1e-2;
    BackendPair pair(
        Image(2, 4, 4, {FlattenSpec{}, dense, fast_momentum, Dense(3, Activation::kSoftmax)}), 6);
    pair.CheckAll(6, "flat batch norm");
  }
  {
    // A Flatten in front of BatchNormalization materialises the plain (n, features) tensor.
    BackendPair pair(Image(2, 5, 5, {conv, FlattenSpec{}, BatchNormSpec{}, Dense(4)}), 4);
    pair.CheckAll(4, "flatten batch norm");
  }
}

TEST(NnOneDnnTest, DropoutMatchesReferenceMasks) {
  const std::vector<std::pair<std::string, ModelSpec>> models = {
      {"flatten dropout dense",
       Image(1, 8, 8,
             {Conv(4, 3, Activation::kRelu), Pool(true, 2, 2), FlattenSpec{}, Dropout(0.5),
              Dense(5, Activation::kSoftmax)})},
      {"blocked dropout", Image(2, 6, 6, {Conv(8, 3), Dropout(0.3), Conv(3, 1)})},
      {"odd channels dropout", Image(2, 6, 6, {Conv(5, 3), Dropout(0.25), Conv(3, 1)})},
      {"flat dropout", Image(2, 3, 3, {FlattenSpec{}, Dropout(0.4), Dense(4)})},
  };
  for (const auto& [what, spec] : models) {
    BackendPair pair(spec, 4);
    pair.CheckAll(4, what);
  }
}

TEST(NnOneDnnTest, ActivationLayersMatchReference) {
  for (Activation a : {Activation::kRelu, Activation::kTanh, Activation::kSigmoid, Activation::kElu,
                       Activation::kSoftmax, Activation::kLinear}) {
    const std::string name(ActivationName(a));
    {
      BackendPair pair(Image(2, 6, 5, {Conv(5, 3), Act(a), Conv(3, 1)}), 3);
      pair.CheckAll(3, "inner " + name);
    }
    {
      BackendPair pair(Image(2, 4, 3, {FlattenSpec{}, Dense(6), Act(a)}), 3);
      pair.CheckAll(3, "last " + name);
    }
    {
      BackendPair pair(
          Image(2, 5, 4, {Conv(3, 2, Activation::kLinear), FlattenSpec{}, Act(a), Dense(4, a)}), 3);
      pair.CheckAll(3, "after flatten " + name);
    }
  }
}

TEST(NnOneDnnTest, ReferenceCnnMatchesReference) {
  BackendPair pair(ReferenceCnn(), 16);
  pair.CheckAll(16, "reference cnn");
  // A later step after a partial one reuses the full batch's primitives.
  pair.Check(16, true, GradientOf::kPreActivation, 11, "reference cnn again");
}

TEST(NnOneDnnTest, WeightsRoundTripThroughCanonicalLayout) {
  auto backend = MakeOneDnnBackend(2);
  const ModelSpec spec = ReferenceCnn();
  auto a = MustCompile(*backend, spec, 4, Precision::kFloat32, 1);
  auto b = MustCompile(*backend, spec, 4, Precision::kFloat32, 2);
  ASSERT_TRUE(a && b);
  const std::vector<NamedTensor> weights = a->ExportWeights();
  auto initial = InitialWeights(spec, 1);
  ASSERT_TRUE(initial.ok());
  ASSERT_EQ(weights.size(), initial->size());
  for (size_t i = 0; i < weights.size(); ++i) {
    EXPECT_EQ(weights[i].name, (*initial)[i].name);
    EXPECT_EQ(weights[i].dims, (*initial)[i].dims);
    EXPECT_EQ(weights[i].values, (*initial)[i].values) << weights[i].name;
  }
  ASSERT_TRUE(b->ImportWeights(weights).ok());
  const std::vector<NamedTensor> back = b->ExportWeights();
  for (size_t i = 0; i < weights.size(); ++i) EXPECT_EQ(back[i].values, weights[i].values);
  const std::vector<float> input = RandomValues(4 * spec.input.size(), 3);
  const float* forward_a = a->Forward(input.data(), 4, false);
  const std::vector<float> out_a(forward_a, forward_a + 40);
  const float* out_b = b->Forward(input.data(), 4, false);
  for (int i = 0; i < 40; ++i) EXPECT_EQ(out_b[i], out_a[i]);

  std::vector<NamedTensor> missing(weights.begin() + 1, weights.end());
  Status status = b->ImportWeights(missing);
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(status.message().find(weights[0].name), std::string::npos) << status.message();
  std::vector<NamedTensor> wrong_dims = weights;
  wrong_dims[0].dims = {32, 1, 9};
  status = b->ImportWeights(wrong_dims);
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(status.message().find(weights[0].name), std::string::npos) << status.message();
  std::vector<NamedTensor> unknown = weights;
  unknown.push_back({"nonexistent/kernel", {1}, {0.0f}});
  status = b->ImportWeights(unknown);
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(status.message().find("nonexistent/kernel"), std::string::npos) << status.message();
}

TEST(NnOneDnnTest, ParameterBuffersKeepPaddingGradientsAtZero) {
  // 3 and 5 channels pad to the 8- or 16-channel blocks of the blocked layouts.
  auto backend = MakeOneDnnBackend(2);
  const ModelSpec spec = Image(
      3, 7, 7,
      {Conv(5, 3, Activation::kRelu), Conv(3, 3), FlattenSpec{}, Dense(3, Activation::kSoftmax)});
  auto model = MustCompile(*backend, spec, 4, Precision::kFloat32, 5);
  ASSERT_TRUE(model);
  const std::vector<float> input = RandomValues(4 * spec.input.size(), 1);
  model->Forward(input.data(), 4, true);
  const std::vector<float> grad = RandomValues(4 * 3, 2);
  model->Backward(grad.data(), GradientOf::kPreActivation);
  const std::vector<NamedTensor> canonical = AsOneDnn(*model).ExportGradients();
  const std::vector<NamedTensor> weights = model->ExportWeights();
  const std::vector<ParamView> params = model->Parameters();
  ASSERT_EQ(params.size(), canonical.size());
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_EQ(params[i].name, canonical[i].name);
    EXPECT_GE(params[i].size, static_cast<int64_t>(canonical[i].values.size()));
    double physical_grad = 0, physical_value = 0, canonical_grad = 0, canonical_value = 0;
    for (int64_t j = 0; j < params[i].size; ++j) {
      physical_grad += double{params[i].grad[j]} * params[i].grad[j];
      physical_value += double{params[i].value[j]} * params[i].value[j];
    }
    for (float g : canonical[i].values) canonical_grad += double{g} * g;
    for (float w : weights[i].values) canonical_value += double{w} * w;
    EXPECT_NEAR(physical_grad, canonical_grad, 1e-5 * canonical_grad) << params[i].name;
    EXPECT_NEAR(physical_value, canonical_value, 1e-5 * canonical_value) << params[i].name;
  }
}

// Plain SGD on the ParamView buffers, as an optimizer would run.
void SgdStep(CompiledModel& model, float learning_rate) {
  for (const ParamView& p : model.Parameters()) {
    if (!p.trainable) continue;
    for (int64_t i = 0; i < p.size; ++i) p.value[i] -= learning_rate * p.grad[i];
  }
}

// Three SGD steps of the reference CNN (with dropout); returns the outputs and final weights.
std::vector<float> TrainThreeSteps(Precision precision, int threads) {
  auto backend = MakeOneDnnBackend(threads);
  const ModelSpec spec = ReferenceCnn();
  auto model = MustCompile(*backend, spec, 8, precision, 3);
  if (!model) return {};
  std::vector<float> trace;
  for (int step = 0; step < 3; ++step) {
    const int n = step == 2 ? 5 : 8;
    const std::vector<float> input = RandomValues(n * spec.input.size(), 10 + step);
    const float* out = model->Forward(input.data(), n, true);
    trace.insert(trace.end(), out, out + n * 10);
    const std::vector<float> grad = RandomValues(n * 10, 20 + step);
    model->Backward(grad.data(), GradientOf::kPreActivation);
    SgdStep(*model, 0.05f);
  }
  for (const NamedTensor& t : model->ExportWeights()) {
    trace.insert(trace.end(), t.values.begin(), t.values.end());
  }
  return trace;
}

TEST(NnOneDnnTest, SameSeedAndThreadsGiveIdenticalResults) {
  for (Precision precision : {Precision::kFloat32, Precision::kBFloat16}) {
    for (int threads : {1, 2}) {
      const std::vector<float> a = TrainThreeSteps(precision, threads);
      const std::vector<float> b = TrainThreeSteps(precision, threads);
      ASSERT_FALSE(a.empty());
      EXPECT_EQ(a, b) << "threads " << threads;
    }
  }
}

// Runs a training step of `spec` in fp32 and bf16 from the same weights and data: outputs within
// `output_rtol`, gradients (sums of many bf16 products) compared as vectors by their cosine and
// norm ratio.
void ExpectBf16NearFp32(const ModelSpec& spec, double output_rtol, double min_cosine,
                        double norm_tolerance) {
  auto backend = MakeOneDnnBackend(2);
  auto fp32 = MustCompile(*backend, spec, 16, Precision::kFloat32, 4);
  auto bf16 = MustCompile(*backend, spec, 16, Precision::kBFloat16, 4);
  ASSERT_TRUE(fp32 && bf16);
  const int64_t k = fp32->layers().back().output.size();
  // Pixel-like inputs in [0, 1].
  std::vector<float> input = RandomValues(16 * spec.input.size(), 8);
  for (float& v : input) v = std::fabs(v);
  for (int n : {16, 7}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    const size_t count = static_cast<size_t>(n * k);
    const float* out32 = fp32->Forward(input.data(), n, true);
    const float* out16 = bf16->Forward(input.data(), n, true);
    ExpectClose({out16, count}, {out32, count}, output_rtol, "bf16 output");
    ExpectClose({bf16->LastPreActivation(), count}, {fp32->LastPreActivation(), count}, output_rtol,
                "bf16 logits");
    const std::vector<float> grad = RandomValues(n * k, 9);
    fp32->Backward(grad.data(), GradientOf::kPreActivation);
    bf16->Backward(grad.data(), GradientOf::kPreActivation);
    const std::vector<NamedTensor> g32 = AsOneDnn(*fp32).ExportGradients();
    const std::vector<NamedTensor> g16 = AsOneDnn(*bf16).ExportGradients();
    ASSERT_EQ(g32.size(), g16.size());
    for (size_t i = 0; i < g32.size(); ++i) {
      double dot = 0, norm32 = 0, norm16 = 0;
      for (size_t j = 0; j < g32[i].values.size(); ++j) {
        dot += double{g32[i].values[j]} * g16[i].values[j];
        norm32 += double{g32[i].values[j]} * g32[i].values[j];
        norm16 += double{g16[i].values[j]} * g16[i].values[j];
      }
      EXPECT_GT(dot / std::sqrt(norm32 * norm16), min_cosine) << g32[i].name;
      EXPECT_NEAR(std::sqrt(norm16 / norm32), 1.0, norm_tolerance) << g32[i].name;
    }
  }
}

TEST(NnOneDnnTest, BFloat16StaysCloseToFloat32) {
  ExpectBf16NearFp32(ReferenceCnn(), 2e-2, 0.99, 3e-2);
  // BatchNormalization's backward subtracts batch means, which magnifies the rounding of its bf16
  // inputs in the gradients below it.
  Conv2DSpec conv = Conv(16, 3, Activation::kRelu);
  ExpectBf16NearFp32(Image(1, 12, 12,
                           {conv, Pool(false, 2, 2), BatchNormSpec{}, Conv(8, 3), FlattenSpec{},
                            Dense(10, Activation::kSoftmax)}),
                     2e-2, 0.95, 0.1);

  // The master weights stay f32: an update below bf16's resolution is kept.
  auto backend = MakeOneDnnBackend(2);
  auto bf16 = MustCompile(*backend, ReferenceCnn(), 4, Precision::kBFloat16, 4);
  ASSERT_TRUE(bf16);
  const ParamView kernel = bf16->Parameters()[0];
  const float before = kernel.value[0];
  kernel.value[0] += 1e-6f;
  EXPECT_NE(kernel.value[0], before);
}

TEST(NnOneDnnTest, BFloat16EmulationRoundsLikeBf16) {
  EXPECT_EQ(onednn::RoundToBFloat16(1.0f), 1.0f);
  EXPECT_EQ(onednn::RoundToBFloat16(1.0f + 1.0f / 256), 1.0f);  // tie to even
  EXPECT_EQ(onednn::RoundToBFloat16(1.0f + 3.0f / 256), 1.0f + 4.0f / 256);
  EXPECT_EQ(onednn::RoundToBFloat16(1.0f + 1.5f / 256), 1.0f + 2.0f / 256);
  EXPECT_EQ(onednn::RoundToBFloat16(-(1.0f + 3.0f / 256)), -(1.0f + 4.0f / 256));
  EXPECT_TRUE(std::isnan(onednn::RoundToBFloat16(std::nanf(""))));
}

TEST(NnOneDnnTest, PhysicalOffsetsAgreeWithOneDnnReorders) {
  using Tag = dnnl::memory::format_tag;
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const dnnl::memory::dims dims = {19, 11, 3, 5};
  const dnnl::memory::desc plain = onednn::PlainDesc(dims);
  std::vector<float> canonical(19 * 11 * 3 * 5);
  for (size_t i = 0; i < canonical.size(); ++i) canonical[i] = static_cast<float>(i);
  dnnl::memory from(plain, engine, canonical.data());
  for (Tag tag :
       {Tag::aBcd8b, Tag::aBcd16b, Tag::Acdb8a, Tag::ABcd8b8a, Tag::ABcd4b16a4b, Tag::acdb}) {
    const dnnl::memory::desc blocked(dims, dnnl::memory::data_type::f32, tag);
    dnnl::memory to(blocked, engine);
    dnnl::reorder(from, to).execute(stream, from, to);
    stream.wait();
    const float* data = static_cast<const float*>(to.get_data_handle());
    int64_t bad = 0;
    for (int64_t a = 0; a < dims[0]; ++a) {
      for (int64_t b = 0; b < dims[1]; ++b) {
        for (int64_t c = 0; c < dims[2]; ++c) {
          for (int64_t d = 0; d < dims[3]; ++d) {
            const int64_t logical = ((a * dims[1] + b) * dims[2] + c) * dims[3] + d;
            bad += data[onednn::PhysicalOffset(blocked, {a, b, c, d})] != canonical[logical];
          }
        }
      }
    }
    EXPECT_EQ(bad, 0) << "format tag " << static_cast<int>(tag);
  }
  // Channel-blocked activations have a ChannelLayout; weight-like layouts do not.
  onednn::ChannelLayout layout;
  EXPECT_TRUE(onednn::ChannelLayoutOf({dims, dnnl::memory::data_type::f32, Tag::aBcd8b}, &layout));
  EXPECT_EQ(layout.block, 8);
  EXPECT_EQ(layout.block_stride, 3 * 5 * 8);
  EXPECT_EQ(layout.batch_stride, 2 * 3 * 5 * 8);
  EXPECT_TRUE(onednn::ChannelLayoutOf(plain, &layout));
  EXPECT_EQ(layout.block, 1);
  EXPECT_FALSE(
      onednn::ChannelLayoutOf({dims, dnnl::memory::data_type::f32, Tag::ABcd8b8a}, &layout));
}

TEST(NnOneDnnTest, RejectsWhatItCannotBuild) {
  auto backend = MakeOneDnnBackend(2);
  auto bad_batch = backend->Compile(ReferenceCnn(), 0, Precision::kFloat32, 1);
  EXPECT_EQ(bad_batch.status().code(), ErrorCode::kInvalidArgument);
  auto bad_spec = backend->Compile(Image(1, 2, 2, {Conv(4, 3)}), 4, Precision::kFloat32, 1);
  EXPECT_EQ(bad_spec.status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace labbook::nn
