// The reference backend through the CompiledModel interface the trainer uses: compiling,
// parameters, weight import/export, training versus inference, the fused softmax path, and
// bit-identical determinism.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "nn/backend.hpp"
#include "nn/loss.hpp"
#include "nn/optimizer.hpp"
#include "nn/random.hpp"

namespace labbook::nn {
namespace {

using ::testing::HasSubstr;

ModelSpec SmallCnn(double dropout) {
  ModelSpec spec;
  spec.input = {1, 12, 12};
  spec.layers = {
      Conv2DSpec{.filters = 4, .activation = Activation::kRelu, .l2 = 1e-3},
      BatchNormSpec{},
      Pool2DSpec{},
      FlattenSpec{},
      DropoutSpec{.rate = dropout},
      DenseSpec{.units = 3, .activation = Activation::kSoftmax},
  };
  return spec;
}

std::unique_ptr<CompiledModel> Compile(const ModelSpec& spec, int max_batch, uint64_t seed) {
  auto model = MakeReferenceBackend()->Compile(spec, max_batch, Precision::kFloat32, seed);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return std::move(model).value();
}

std::vector<float> RandomInput(int n, int64_t size, uint64_t seed) {
  Xoshiro256 rng(seed);
  std::vector<float> x(static_cast<size_t>(n * size));
  for (float& v : x) v = static_cast<float>(rng.Uniform());
  return x;
}

TEST(NnReferenceBackendTest, CompileChecksItsArguments) {
  auto backend = MakeReferenceBackend();
  EXPECT_EQ(backend->name(), "reference");
  auto bf16 = backend->Compile(SmallCnn(0.5), 4, Precision::kBFloat16, 1);
  ASSERT_FALSE(bf16.ok());
  EXPECT_THAT(bf16.status().message(), HasSubstr("float32 only"));
  ModelSpec bad = SmallCnn(0.5);
  bad.input = {1, 2, 2};
  auto too_small = backend->Compile(bad, 4, Precision::kFloat32, 1);
  ASSERT_FALSE(too_small.ok());
  EXPECT_THAT(too_small.status().message(), HasSubstr("layer 0 'conv2d'"));
  EXPECT_FALSE(backend->Compile(SmallCnn(0.5), 0, Precision::kFloat32, 1).ok());
}

TEST(NnReferenceBackendTest, StartsFromTheSharedInitialWeights) {
  auto model = Compile(SmallCnn(0.5), 4, 42);
  auto expected = InitialWeights(SmallCnn(0.5), 42);
  ASSERT_TRUE(expected.ok());
  const std::vector<NamedTensor> actual = model->ExportWeights();
  ASSERT_EQ(actual.size(), expected->size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_EQ(actual[i].name, (*expected)[i].name);
    EXPECT_EQ(actual[i].dims, (*expected)[i].dims);
    EXPECT_EQ(actual[i].values, (*expected)[i].values);
  }
}

TEST(NnReferenceBackendTest, ParametersInLayerOrder) {
  auto model = Compile(SmallCnn(0.5), 4, 1);
  const std::vector<ParamView> params = model->Parameters();
  const char* names[] = {"conv2d/kernel",
                         "conv2d/bias",
                         "batch_normalization/gamma",
                         "batch_normalization/beta",
                         "batch_normalization/moving_mean",
                         "batch_normalization/moving_variance",
                         "dense/kernel",
                         "dense/bias"};
  ASSERT_EQ(params.size(), std::size(names));
  for (size_t i = 0; i < params.size(); ++i) EXPECT_EQ(params[i].name, names[i]);
  EXPECT_EQ(params[0].size, 4 * 9);
  EXPECT_EQ(params[0].l2, 1e-3);
  EXPECT_EQ(params[1].l2, 0.0);
  EXPECT_FALSE(params[4].trainable);
  EXPECT_EQ(params[4].grad, nullptr);
  EXPECT_NE(params[2].grad, nullptr);
  EXPECT_EQ(params[6].size, 3 * 4 * 5 * 5);
  // The pointers stay put.
  EXPECT_EQ(model->Parameters()[6].value, params[6].value);
}

TEST(NnReferenceBackendTest, ImportRejectsMismatchesAndKeepsTheModel) {
  auto model = Compile(SmallCnn(0.5), 4, 1);
  const std::vector<NamedTensor> original = model->ExportWeights();

  std::vector<NamedTensor> changed = original;
  changed[0].values.assign(changed[0].values.size(), 0.25f);
  changed[6].dims = {3, 99};
  Status status = model->ImportWeights(changed);
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("'dense/kernel' has dims (3, 99), the model expects (3, 100)"));
  EXPECT_EQ(model->ExportWeights()[0].values, original[0].values);  // nothing half-imported

  std::vector<NamedTensor> missing(original.begin(), original.end() - 1);
  EXPECT_THAT(model->ImportWeights(missing).message(), HasSubstr("missing tensor 'dense/bias'"));
  std::vector<NamedTensor> extra = original;
  extra.push_back({"dense_9/kernel", {1}, {1.0f}});
  EXPECT_THAT(model->ImportWeights(extra).message(), HasSubstr("no tensor 'dense_9/kernel'"));
  std::vector<NamedTensor> twice = original;
  twice.push_back(original[0]);
  EXPECT_THAT(model->ImportWeights(twice).message(), HasSubstr("appears twice"));

  changed = original;
  changed[1].values.assign(changed[1].values.size(), 0.5f);
  ASSERT_TRUE(model->ImportWeights(changed).ok());
  EXPECT_EQ(model->ExportWeights()[1].values, changed[1].values);
}

TEST(NnReferenceBackendTest, InferenceIgnoresDropoutAndUsesMovingStatistics) {
  auto model = Compile(SmallCnn(0.5), 4, 3);
  const std::vector<float> x = RandomInput(4, 144, 8);
  const std::vector<float> before_mean(model->Parameters()[4].value,
                                       model->Parameters()[4].value + 4);
  const float* out = model->Forward(x.data(), 4, /*training=*/false);
  const std::vector<float> first(out, out + 12);
  EXPECT_EQ(std::vector<float>(model->Parameters()[4].value, model->Parameters()[4].value + 4),
            before_mean);
  out = model->Forward(x.data(), 4, /*training=*/false);
  EXPECT_EQ(std::vector<float>(out, out + 12), first);  // no randomness in inference
  for (int i = 0; i < 4; ++i) {
    double sum = 0;
    for (int j = 0; j < 3; ++j) sum += first[i * 3 + j];
    EXPECT_NEAR(sum, 1.0, 1e-6);
  }

  model->Forward(x.data(), 4, /*training=*/true);
  const float* moving_mean = model->Parameters()[4].value;
  int moved = 0;
  for (int c = 0; c < 4; ++c) moved += moving_mean[c] != 0.0f;
  EXPECT_EQ(moved, 4);  // momentum 0.99 takes 1% of the batch mean
}

TEST(NnReferenceBackendTest, SmallerBatchesThanTheMaximum) {
  auto model = Compile(SmallCnn(0.0), 8, 3);
  const std::vector<float> x = RandomInput(8, 144, 8);
  const float* all = model->Forward(x.data(), 8, false);
  const std::vector<float> eight(all, all + 24);
  const float* some = model->Forward(x.data() + 144 * 5, 3, false);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(some[i], eight[15 + i]);
}

// Softmax fused with cross-entropy (p - y at the logits) and the unfused chain (the gradient at
// the probabilities, back through the softmax Jacobian) give the same parameter gradients.
TEST(NnReferenceBackendTest, FusedSoftmaxPathEqualsTheChainRule) {
  const ModelSpec spec = SmallCnn(0.0);
  auto model = Compile(spec, 4, 5);
  const std::vector<float> x = RandomInput(4, 144, 9);
  const std::vector<int32_t> labels = {0, 2, 1, 2};
  const float* out = model->Forward(x.data(), 4, true);
  const std::vector<float> p(out, out + 12);

  const Loss fused(LossKind::kSparseCategoricalCrossentropy, Activation::kSoftmax);
  std::vector<float> logits_grad(12);
  ASSERT_TRUE(fused
                  .Compute(p.data(), model->LastPreActivation(), {.classes = labels.data()}, 4, 3,
                           logits_grad.data())
                  .ok());
  model->Backward(logits_grad.data(), GradientOf::kPreActivation);
  std::vector<std::vector<float>> fused_grads;
  for (const ParamView& v : model->Parameters()) {
    if (v.trainable) fused_grads.emplace_back(v.grad, v.grad + v.size);
  }

  // dL/dp for L = -mean log p_label.
  std::vector<float> output_grad(12, 0.0f);
  for (int i = 0; i < 4; ++i) output_grad[i * 3 + labels[i]] = -1.0f / (4 * p[i * 3 + labels[i]]);
  model->Backward(output_grad.data(), GradientOf::kOutput);
  size_t t = 0;
  for (const ParamView& v : model->Parameters()) {
    if (!v.trainable) continue;
    double scale = 0;
    for (float g : fused_grads[t]) scale = std::max(scale, std::fabs(static_cast<double>(g)));
    for (int64_t i = 0; i < v.size; ++i) {
      EXPECT_NEAR(v.grad[i], fused_grads[t][i], 1e-5 * scale) << v.name << "[" << i << "]";
    }
    ++t;
  }
}

// Trains a few steps with dropout and BatchNormalization and returns the weights.
std::vector<NamedTensor> Train(uint64_t seed, uint64_t dropout_seed) {
  const ModelSpec spec = SmallCnn(0.5);
  auto model = Compile(spec, 6, seed);
  model->SetSeed(dropout_seed);
  auto optimizer = Optimizer::Create(OptimizerOptions::KerasDefaults(OptimizerKind::kNadam),
                                     model->Parameters());
  EXPECT_TRUE(optimizer.ok());
  const Loss loss(LossKind::kSparseCategoricalCrossentropy, Activation::kSoftmax);
  std::vector<float> grad(18);
  for (int step = 0; step < 3; ++step) {
    const std::vector<float> x = RandomInput(6, 144, 100 + step);
    const std::vector<int32_t> labels = {0, 1, 2, 0, 1, 2};
    const float* out = model->Forward(x.data(), 6, true);
    EXPECT_TRUE(
        loss.Compute(out, model->LastPreActivation(), {.classes = labels.data()}, 6, 3, grad.data())
            .ok());
    model->Backward(grad.data(), loss.gradient_of());
    AddL2Gradients(model->Parameters());
    (*optimizer)->Step(0.01);
  }
  return model->ExportWeights();
}

TEST(NnReferenceBackendTest, SameSeedsGiveBitIdenticalTraining) {
  const std::vector<NamedTensor> a = Train(1, 2);
  const std::vector<NamedTensor> b = Train(1, 2);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].values, b[i].values) << a[i].name;
  // Another dropout seed changes the masks, and so the trained weights.
  const std::vector<NamedTensor> c = Train(1, 3);
  EXPECT_NE(a[0].values, c[0].values);
}

}  // namespace
}  // namespace labbook::nn
