// Shape inference, Keras layer names and parameter counts, and the initialisers.
#include "nn/spec.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "nn/backend.hpp"
#include "nn/random.hpp"

namespace labbook::nn {
namespace {

using ::testing::HasSubstr;

ModelSpec KerasMnistConvnet() {
  ModelSpec spec;
  spec.input = {1, 28, 28};
  spec.layers = {
      Conv2DSpec{.filters = 32, .activation = Activation::kRelu},
      Pool2DSpec{},
      Conv2DSpec{.filters = 64, .activation = Activation::kRelu},
      Pool2DSpec{},
      FlattenSpec{},
      DropoutSpec{.rate = 0.5},
      DenseSpec{.units = 10, .activation = Activation::kSoftmax},
  };
  return spec;
}

SampleShape Image(int c, int h, int w) { return {c, h, w, false}; }
SampleShape Flat(int features) { return {features, 1, 1, true}; }

// The model.summary() of the Keras example: the same names, shapes and counts.
TEST(NnSpecTest, KerasMnistConvnetSummary) {
  auto layers = InferShapes(KerasMnistConvnet());
  ASSERT_TRUE(layers.ok()) << layers.status().ToString();
  struct Row {
    const char* type;
    const char* name;
    SampleShape output;
    int64_t params;
  };
  const Row expected[] = {
      {"Conv2D", "conv2d", Image(32, 26, 26), 320},
      {"MaxPooling2D", "max_pooling2d", Image(32, 13, 13), 0},
      {"Conv2D", "conv2d_1", Image(64, 11, 11), 18496},
      {"MaxPooling2D", "max_pooling2d_1", Image(64, 5, 5), 0},
      {"Flatten", "flatten", Flat(1600), 0},
      {"Dropout", "dropout", Flat(1600), 0},
      {"Dense", "dense", Flat(10), 16010},
  };
  ASSERT_EQ(layers->size(), std::size(expected));
  int64_t total = 0;
  for (size_t i = 0; i < layers->size(); ++i) {
    const LayerInfo& info = (*layers)[i];
    EXPECT_EQ(info.type, expected[i].type);
    EXPECT_EQ(info.name, expected[i].name);
    EXPECT_EQ(info.output, expected[i].output) << info.name;
    EXPECT_EQ(info.param_count(), expected[i].params) << info.name;
    total += info.param_count();
  }
  EXPECT_EQ(total, 34826);
  EXPECT_EQ(TrainableParamCount(*layers), 34826);
  EXPECT_EQ((*layers)[0].activation, Activation::kRelu);
  EXPECT_EQ((*layers)[1].activation, Activation::kLinear);
  EXPECT_EQ(layers->back().activation, Activation::kSoftmax);
  EXPECT_EQ((*layers)[2].params[0].dims, (std::vector<int64_t>{64, 32, 3, 3}));  // OIHW
  EXPECT_EQ(layers->back().params[0].dims, (std::vector<int64_t>{10, 1600}));    // (units, in)
}

TEST(NnSpecTest, BatchNormCountsItsMovingStatisticsAsNonTrainable) {
  ModelSpec spec;
  spec.input = {3, 8, 8};
  spec.layers = {Conv2DSpec{.filters = 4, .use_bias = false},
                 BatchNormSpec{},
                 ActivationSpec{},
                 FlattenSpec{},
                 DenseSpec{.units = 5},
                 BatchNormSpec{},
                 ActivationSpec{.activation = Activation::kSoftmax}};
  auto layers = InferShapes(spec);
  ASSERT_TRUE(layers.ok()) << layers.status().ToString();
  EXPECT_EQ((*layers)[1].name, "batch_normalization");
  EXPECT_EQ((*layers)[5].name, "batch_normalization_1");
  EXPECT_EQ((*layers)[6].name, "activation_1");
  EXPECT_EQ((*layers)[1].param_count(), 16);  // 4 channels x 4 vectors, as Keras counts
  EXPECT_EQ((*layers)[5].param_count(), 20);  // per feature of a flat input
  EXPECT_FALSE((*layers)[1].params[2].trainable);
  EXPECT_EQ((*layers)[1].params[3].name, "moving_variance");
  EXPECT_EQ((*layers)[6].activation, Activation::kSoftmax);
  const int64_t total = 108 + 16 + 6 * 6 * 4 * 5 + 5 + 20;
  int64_t counted = 0;
  for (const LayerInfo& l : *layers) counted += l.param_count();
  EXPECT_EQ(counted, total);
  EXPECT_EQ(TrainableParamCount(*layers), total - 8 - 10);
}

TEST(NnSpecTest, SamePaddingPutsTheOddElementAfter) {
  // ceil(in / stride) outputs; total padding (out - 1) * stride + window - in, extra at the end.
  struct Case {
    int in, window, stride, out, before, after;
  };
  const Case cases[] = {
      {28, 3, 1, 28, 1, 1}, {28, 2, 1, 28, 0, 1}, {28, 4, 1, 28, 1, 2}, {7, 3, 2, 4, 1, 1},
      {6, 3, 2, 3, 0, 1},   {5, 2, 2, 3, 0, 1},   {1, 5, 1, 1, 2, 2},   {9, 1, 3, 3, 0, 0},
      {10, 3, 3, 4, 1, 1},  {11, 3, 2, 6, 1, 1},
  };
  for (const Case& c : cases) {
    const WindowAxis axis = ComputeWindowAxis(c.in, c.window, c.stride, Padding::kSame);
    EXPECT_EQ(axis.output, c.out) << c.in << " " << c.window << " " << c.stride;
    EXPECT_EQ(axis.pad_before, c.before) << c.in << " " << c.window << " " << c.stride;
    EXPECT_EQ(axis.pad_after, c.after) << c.in << " " << c.window << " " << c.stride;
  }
}

TEST(NnSpecTest, ValidPaddingFloorsAndNeverPads) {
  EXPECT_EQ(ComputeWindowAxis(28, 3, 1, Padding::kValid).output, 26);
  EXPECT_EQ(ComputeWindowAxis(26, 2, 2, Padding::kValid).output, 13);
  EXPECT_EQ(ComputeWindowAxis(11, 2, 2, Padding::kValid).output, 5);
  EXPECT_EQ(ComputeWindowAxis(10, 3, 3, Padding::kValid).output, 3);
  EXPECT_EQ(ComputeWindowAxis(3, 3, 1, Padding::kValid).output, 1);
  EXPECT_LE(ComputeWindowAxis(2, 3, 1, Padding::kValid).output, 0);
  EXPECT_EQ(ComputeWindowAxis(28, 3, 1, Padding::kValid).pad_before, 0);
}

TEST(NnSpecTest, StridedAndRectangularWindows) {
  ModelSpec spec;
  spec.input = {2, 11, 9};
  spec.layers = {
      Conv2DSpec{.filters = 6,
                 .kernel_h = 3,
                 .kernel_w = 2,
                 .stride_h = 2,
                 .stride_w = 1,
                 .padding = Padding::kSame},
      Pool2DSpec{.pool_h = 3, .pool_w = 3, .padding = Padding::kSame},
      Pool2DSpec{.max = false, .pool_h = 2, .pool_w = 1, .stride_h = 1, .stride_w = 1},
  };
  auto layers = InferShapes(spec);
  ASSERT_TRUE(layers.ok()) << layers.status().ToString();
  EXPECT_EQ((*layers)[0].output, Image(6, 6, 9));
  EXPECT_EQ((*layers)[1].output, Image(6, 3, 5));
  EXPECT_EQ((*layers)[2].output, Image(6, 2, 5));
  EXPECT_EQ((*layers)[2].name, "average_pooling2d");
  EXPECT_EQ((*layers)[0].param_count(), 6 * 2 * 3 * 2 + 6);
}

TEST(NnSpecTest, RejectionsNameTheLayerAndTheProblem) {
  struct Case {
    SampleShape input;
    std::vector<LayerSpec> layers;
    const char* message;
  };
  const Case cases[] = {
      {Image(1, 2, 2),
       {Conv2DSpec{.filters = 1}},
       "layer 0 'conv2d' (Conv2D): kernel 3x3 is larger"},
      {Image(1, 8, 8), {DenseSpec{.units = 3}}, "layer 0 'dense' (Dense): needs a flat input"},
      {Image(1, 8, 8),
       {FlattenSpec{}, Conv2DSpec{.filters = 2}},
       "layer 1 'conv2d' (Conv2D): needs an image"},
      {Image(1, 8, 8), {FlattenSpec{}, Pool2DSpec{}}, "layer 1 'max_pooling2d' (MaxPooling2D)"},
      {Image(1, 8, 8), {Conv2DSpec{.filters = 0}}, "filters must be positive"},
      {Image(1, 8, 8), {Conv2DSpec{.filters = 2, .kernel_h = 0}}, "kernel size must be positive"},
      {Image(1, 8, 8), {Conv2DSpec{.filters = 2, .stride_w = 0}}, "strides must be positive"},
      {Image(1, 8, 8), {Pool2DSpec{.pool_h = 9}}, "pool 9x2 is larger than its 8x8 input"},
      {Image(1, 8, 8), {DropoutSpec{.rate = 1.0}}, "rate must be in [0, 1)"},
      {Image(1, 8, 8), {DropoutSpec{.rate = -0.1}}, "rate must be in [0, 1)"},
      {Flat(4), {DenseSpec{.units = -1}}, "units must be positive"},
      {Flat(4), {BatchNormSpec{.momentum = 1.5}}, "momentum must be in [0, 1]"},
      {Flat(4), {BatchNormSpec{.epsilon = 0}}, "epsilon must be positive"},
      {Flat(4), {DenseSpec{.units = 2, .l2 = -1}}, "l2 must be non-negative"},
      {Image(0, 8, 8), {FlattenSpec{}}, "model input: shape (0, 8, 8) must be positive"},
      {Image(1, 8, 8), {}, "needs at least one layer"},
      {Flat(4),
       {FlattenSpec{}, DenseSpec{.units = 2}, DenseSpec{.units = 3}, Pool2DSpec{}},
       "layer 3 'max_pooling2d'"},
  };
  for (const Case& c : cases) {
    auto layers = InferShapes({c.input, c.layers});
    ASSERT_FALSE(layers.ok()) << c.message;
    EXPECT_EQ(layers.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(layers.status().message(), HasSubstr(c.message));
  }
}

TEST(NnSpecTest, Names) {
  EXPECT_EQ(ActivationName(Activation::kElu), "elu");
  EXPECT_EQ(PaddingName(Padding::kSame), "same");
  EXPECT_EQ(InitializerName(Initializer::kHeNormal), "he_normal");
}

// Initialisers

const NamedTensor& Find(const std::vector<NamedTensor>& weights, const std::string& name) {
  const auto it = std::find_if(weights.begin(), weights.end(),
                               [&](const NamedTensor& t) { return t.name == name; });
  EXPECT_NE(it, weights.end()) << name;
  return *it;
}

TEST(NnInitializerTest, GlorotUniformFillsItsKerasLimit) {
  auto weights = InitialWeights(KerasMnistConvnet(), 42);
  ASSERT_TRUE(weights.ok()) << weights.status().ToString();
  // Conv2D 64 <- 32, 3x3: fan_in 288, fan_out 576; Dense 10 <- 1600.
  const std::pair<const char*, double> limits[] = {
      {"conv2d/kernel", std::sqrt(6.0 / (9 + 288))},
      {"conv2d_1/kernel", std::sqrt(6.0 / (288 + 576))},
      {"dense/kernel", std::sqrt(6.0 / (1600 + 10))}};
  for (const auto& [name, limit] : limits) {
    const NamedTensor& t = Find(*weights, name);
    double max = 0, sum = 0;
    for (float v : t.values) {
      max = std::max(max, std::fabs(static_cast<double>(v)));
      sum += v;
    }
    EXPECT_LE(max, limit) << name;
    EXPECT_GE(max, 0.97 * limit) << name;  // the draws reach close to the limit
    EXPECT_LT(std::fabs(sum / t.values.size()), 0.1 * limit) << name;
  }
  for (float v : Find(*weights, "dense/bias").values) EXPECT_EQ(v, 0.0f);
}

TEST(NnInitializerTest, HeNormalIsTruncatedAtTwoStandardDeviations) {
  ModelSpec spec;
  spec.input = {16, 12, 12};
  spec.layers = {Conv2DSpec{.filters = 64,
                            .kernel_initializer = Initializer::kHeNormal,
                            .bias_initializer = Initializer::kOnes}};
  auto weights = InitialWeights(spec, 3);
  ASSERT_TRUE(weights.ok());
  const std::vector<float>& w = Find(*weights, "conv2d/kernel").values;  // 9216 values
  const double fan_in = 16 * 9;
  const double stddev = std::sqrt(2.0 / fan_in) / 0.87962566103423978;
  double sum = 0, squares = 0, max = 0;
  for (float v : w) {
    sum += v;
    squares += static_cast<double>(v) * v;
    max = std::max(max, std::fabs(static_cast<double>(v)));
  }
  EXPECT_LE(max, 2 * stddev * (1 + 1e-6));
  EXPECT_GT(max, 1.9 * stddev);
  const double mean = sum / w.size();
  const double variance = squares / w.size() - mean * mean;
  // The truncated draws have variance 2 / fan_in; 9216 samples know it to about 2%.
  EXPECT_NEAR(variance, 2.0 / fan_in, 0.05 * 2.0 / fan_in);
  for (float v : Find(*weights, "conv2d/bias").values) EXPECT_EQ(v, 1.0f);
}

TEST(NnInitializerTest, BatchNormStartsAsIdentity) {
  ModelSpec spec;
  spec.input = {3, 4, 4};
  spec.layers = {BatchNormSpec{}};
  auto weights = InitialWeights(spec, 1);
  ASSERT_TRUE(weights.ok());
  ASSERT_EQ(weights->size(), 4u);
  const std::pair<const char*, float> expected[] = {{"batch_normalization/gamma", 1.0f},
                                                    {"batch_normalization/beta", 0.0f},
                                                    {"batch_normalization/moving_mean", 0.0f},
                                                    {"batch_normalization/moving_variance", 1.0f}};
  for (const auto& [name, value] : expected) {
    for (float v : Find(*weights, name).values) EXPECT_EQ(v, value) << name;
  }
}

TEST(NnInitializerTest, DeterministicPerSeedAndPerLayer) {
  auto a = InitialWeights(KerasMnistConvnet(), 42);
  auto b = InitialWeights(KerasMnistConvnet(), 42);
  auto c = InitialWeights(KerasMnistConvnet(), 43);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  for (size_t i = 0; i < a->size(); ++i) EXPECT_EQ((*a)[i].values, (*b)[i].values);
  EXPECT_NE((*a)[0].values, (*c)[0].values);

  // A wider first layer leaves the last layer's draws as they were: one stream per layer.
  ModelSpec wider = KerasMnistConvnet();
  std::get<Conv2DSpec>(wider.layers[0]).filters = 16;
  auto d = InitialWeights(wider, 42);
  ASSERT_TRUE(d.ok());
  EXPECT_NE(Find(*d, "conv2d/kernel").values.size(), Find(*a, "conv2d/kernel").values.size());
  const std::vector<float>& first = Find(*a, "dense/kernel").values;
  const std::vector<float>& second = Find(*d, "dense/kernel").values;
  EXPECT_EQ(first, second);
}

// Pins the generator's output so that a change to it (which would change every model's initial
// weights and dropout masks) is a deliberate one.
TEST(NnRandomTest, StreamIsPinned) {
  Xoshiro256 rng(0);
  EXPECT_EQ(rng.Next(), 0x99ec5f36cb75f2b4ULL);
  Xoshiro256 again(0);
  const double u = again.Uniform();
  EXPECT_GE(u, 0.0);
  EXPECT_LT(u, 1.0);
  EXPECT_NE(MixSeed(1, 0), MixSeed(1, 1));
  EXPECT_NE(MixSeed(1, 0), MixSeed(2, 0));
}

TEST(NnRandomTest, DropoutKeepsAboutOneMinusRate) {
  Xoshiro256 rng(9);
  std::vector<uint8_t> keep(100000);
  DrawDropoutKeep(rng, 0.3, static_cast<int64_t>(keep.size()), keep.data());
  const double kept = std::count(keep.begin(), keep.end(), 1) / static_cast<double>(keep.size());
  EXPECT_NEAR(kept, 0.7, 0.01);
  DrawDropoutKeep(rng, 0.0, static_cast<int64_t>(keep.size()), keep.data());
  EXPECT_EQ(std::count(keep.begin(), keep.end(), 1), static_cast<int64_t>(keep.size()));
}

TEST(NnRandomTest, DropoutKeepTakesTwoUnitsFromEachDraw) {
  // The contract of random.hpp, unit by unit, against a second stream of the same seed: the low
  // then the high 32 bits of each draw as fractions of 2^32, compared with the rate in doubles.
  for (const double rate : {0.0, 0.1, 0.5, 0.7, 1.0}) {
    for (const int64_t count : {int64_t{0}, int64_t{1}, int64_t{2}, int64_t{7}, int64_t{1001}}) {
      Xoshiro256 rng(11), oracle(11);
      std::vector<uint8_t> keep(static_cast<size_t>(count), 7);
      DrawDropoutKeep(rng, rate, count, keep.data());
      for (int64_t i = 0; i < count; i += 2) {
        const uint64_t bits = oracle.Next();
        const double low = static_cast<double>(bits & 0xffffffffu) * 0x1.0p-32;
        const double high = static_cast<double>(bits >> 32) * 0x1.0p-32;
        ASSERT_EQ(keep[i], low >= rate ? 1 : 0) << "rate " << rate << " unit " << i;
        if (i + 1 < count) {
          ASSERT_EQ(keep[i + 1], high >= rate ? 1 : 0) << "unit " << i + 1;
        }
      }
      // Both streams are at the same place: the mask took ceil(count / 2) draws.
      EXPECT_EQ(rng.Next(), oracle.Next());
      if (rate == 1.0) {
        EXPECT_EQ(std::count(keep.begin(), keep.end(), 1), 0);
      }
    }
  }
}

TEST(NnRandomTest, NormalHasUnitVariance) {
  Xoshiro256 rng(5);
  double sum = 0, squares = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double z = rng.Normal();
    sum += z;
    squares += z * z;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(squares / n, 1.0, 0.01);
}

}  // namespace
}  // namespace labbook::nn
