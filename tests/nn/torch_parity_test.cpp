// The reference backend, losses and optimizers against PyTorch (float64) and Keras' update rules in
// numpy (tests/nn/torch_oracle.py): the Keras "simple MNIST convnet" and a model that covers every
// other layer and option, from the same weights and batch.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/backend.hpp"
#include "nn/loss.hpp"
#include "nn/optimizer.hpp"
#include "nn/random.hpp"

namespace labbook::nn {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Relative tolerance of the issue: float32 against float64 differs by about 1e-6 here.
constexpr double kTolerance = 1e-4;

struct ParityModel {
  std::string name;
  ModelSpec spec;
  int batch = 0;
};

// The batch of 16 for logits, loss and gradients; the optimizer runs take 8 (33 steps of
// the batch of 16 take a minute under AddressSanitizer).
ParityModel KerasCnn(int batch = 16) {
  ParityModel m{"keras_cnn", {}, batch};
  m.spec.input = {1, 28, 28};
  m.spec.layers = {
      Conv2DSpec{.filters = 32, .activation = Activation::kRelu},
      Pool2DSpec{},
      Conv2DSpec{.filters = 64, .activation = Activation::kRelu},
      Pool2DSpec{},
      FlattenSpec{},
      DropoutSpec{.rate = 0.0},  // 0.5 in training; parity needs a deterministic pass
      DenseSpec{.units = 10, .activation = Activation::kSoftmax},
  };
  return m;
}

// Strided and even 'same' windows (asymmetric padding), BatchNormalization on images and vectors,
// average pooling that excludes padding, every activation, no-bias layers, L2 and a softmax
// Activation layer as the output.
ParityModel CoverageModel() {
  ParityModel m{"coverage", {}, 8};
  m.spec.input = {3, 11, 9};
  m.spec.layers = {
      Conv2DSpec{.filters = 6,
                 .kernel_h = 3,
                 .kernel_w = 2,
                 .stride_h = 2,
                 .stride_w = 1,
                 .padding = Padding::kSame,
                 .activation = Activation::kTanh,
                 .kernel_initializer = Initializer::kHeNormal,
                 .l2 = 1e-3},
      BatchNormSpec{.momentum = 0.9},
      ActivationSpec{.activation = Activation::kElu},
      Pool2DSpec{.pool_h = 3, .pool_w = 3, .padding = Padding::kSame},
      Conv2DSpec{.filters = 5,
                 .kernel_h = 2,
                 .kernel_w = 2,
                 .padding = Padding::kSame,
                 .activation = Activation::kSigmoid,
                 .use_bias = false},
      Pool2DSpec{.max = false, .padding = Padding::kSame},
      FlattenSpec{},
      BatchNormSpec{},
      DenseSpec{.units = 12, .activation = Activation::kRelu, .l2 = 2e-3},
      DropoutSpec{.rate = 0.0},
      DenseSpec{.units = 7},
      ActivationSpec{.activation = Activation::kSoftmax},
  };
  return m;
}

struct OptimizerCase {
  std::string name;
  OptimizerOptions options;
};

std::vector<OptimizerCase> OptimizerCases() {
  using K = OptimizerKind;
  auto with = [](K kind, auto&& change) {
    OptimizerOptions o = OptimizerOptions::KerasDefaults(kind);
    change(o);
    return o;
  };
  auto keep = [](OptimizerOptions&) {};
  return {
      {"sgd", with(K::kSgd, keep)},
      {"sgd_momentum", with(K::kSgd, [](auto& o) { o.momentum = 0.9; })},
      {"sgd_nesterov", with(K::kSgd, [](auto& o) { o.momentum = 0.9, o.nesterov = true; })},
      {"adam", with(K::kAdam, keep)},
      {"adam_amsgrad", with(K::kAdam, [](auto& o) { o.amsgrad = true; })},
      {"adamw", with(K::kAdamW, keep)},
      {"nadam", with(K::kNadam, keep)},
      {"nadam_legacy_schedule", with(K::kNadam, [](auto& o) { o.schedule_decay = 0.004; })},
      {"rmsprop", with(K::kRmsprop, keep)},
      {"rmsprop_momentum_centered",
       with(K::kRmsprop, [](auto& o) { o.momentum = 0.9, o.centered = true; })},
      {"adagrad", with(K::kAdagrad, keep)},
  };
}

constexpr int kOptimizerSteps = 3;
constexpr int kOptimizerBatch = 8;

void WriteDoubles(const fs::path& path, const float* values, int64_t count) {
  std::vector<double> doubles(values, values + count);
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(doubles.data()),
            static_cast<std::streamsize>(doubles.size() * sizeof(double)));
}

std::vector<double> ReadDoubles(const fs::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  std::vector<double> values(static_cast<size_t>(in.tellg()) / sizeof(double));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(values.data()),
          static_cast<std::streamsize>(values.size() * sizeof(double)));
  return values;
}

json WindowJson(int h, int w) { return json::array({h, w}); }

json LayerJson(const LayerSpec& spec, const LayerInfo& info) {
  json j = {{"type", info.type}, {"name", info.name}};
  if (const auto* c = std::get_if<Conv2DSpec>(&spec)) {
    j["window"] = WindowJson(c->kernel_h, c->kernel_w);
    j["strides"] = WindowJson(c->stride_h, c->stride_w);
    j["padding"] = PaddingName(c->padding);
    j["activation"] = ActivationName(c->activation);
  } else if (const auto* p = std::get_if<Pool2DSpec>(&spec)) {
    j["window"] = WindowJson(p->pool_h, p->pool_w);
    j["strides"] = WindowJson(p->stride_h, p->stride_w);
    j["padding"] = PaddingName(p->padding);
  } else if (const auto* d = std::get_if<DropoutSpec>(&spec)) {
    j["rate"] = d->rate;
  } else if (const auto* d = std::get_if<DenseSpec>(&spec)) {
    j["activation"] = ActivationName(d->activation);
  } else if (const auto* b = std::get_if<BatchNormSpec>(&spec)) {
    j["momentum"] = b->momentum;
    j["epsilon"] = b->epsilon;
  } else if (const auto* a = std::get_if<ActivationSpec>(&spec)) {
    j["activation"] = ActivationName(a->activation);
  }
  return j;
}

// One model's batch: inputs in [0, 1) (or [-1, 1)), labels cycling through the classes.
struct Batch {
  std::vector<float> x;
  std::vector<int32_t> labels;
};

Batch MakeBatch(const ParityModel& m, int classes, bool centred) {
  Batch b;
  Xoshiro256 rng(2024);
  b.x.resize(static_cast<size_t>(m.batch * m.spec.input.size()));
  for (float& v : b.x) v = static_cast<float>(centred ? 2 * rng.Uniform() - 1 : rng.Uniform());
  for (int i = 0; i < m.batch; ++i) b.labels.push_back((i * 7 + 3) % classes);
  return b;
}

std::string Scientific(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", value);
  return text;
}

double MaxAbs(const std::vector<double>& values) {
  double max = 0;
  for (double v : values) max = std::max(max, std::fabs(v));
  return max;
}

// max |actual - expected| over max(max |expected|, floor): the error relative to the tensor's
// scale, or to the floor for a tensor that vanishes in exact arithmetic (a Dense bias whose ReLU
// passes the whole batch into BatchNormalization gets no gradient; float rounding leaves 1e-6).
double ScaledError(const float* actual, const std::vector<double>& expected, double floor) {
  double worst = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    worst = std::max(worst, std::fabs(actual[i] - expected[i]));
  }
  return worst / std::max(MaxAbs(expected), floor);
}

void ExpectMatches(const std::string& what, const float* actual,
                   const std::vector<double>& expected, double floor = 0.0) {
  const double error = ScaledError(actual, expected, floor);
  EXPECT_LE(error, kTolerance) << what;
  ::testing::Test::RecordProperty(what, Scientific(error));
}

// Compiles the model with the weights the oracle got (the same seed).
std::unique_ptr<CompiledModel> Compile(const ParityModel& m) {
  auto model = MakeReferenceBackend()->Compile(m.spec, m.batch, Precision::kFloat32, 7);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return std::move(model).value();
}

// One training step's loss (data term plus L2), leaving the gradients in the parameters.
double LossAndGradients(CompiledModel& model, const Batch& batch, int n) {
  const float* output = model.Forward(batch.x.data(), n, /*training=*/true);
  const LayerInfo& last = model.layers().back();
  const int k = static_cast<int>(last.output.size());
  const Loss loss(LossKind::kSparseCategoricalCrossentropy, last.activation);
  EXPECT_TRUE(loss.fused_softmax());
  std::vector<float> grad(static_cast<size_t>(n) * k);
  auto value = loss.Compute(output, model.LastPreActivation(), {.classes = batch.labels.data()}, n,
                            k, grad.data());
  EXPECT_TRUE(value.ok()) << value.status().ToString();
  model.Backward(grad.data(), loss.gradient_of());
  const std::vector<ParamView> params = model.Parameters();
  AddL2Gradients(params);
  return *value + L2Penalty(params);
}

// labbook's run of one optimizer case on the Keras CNN, its gradients written for the oracle to
// replay.
struct Trajectory {
  std::vector<std::vector<float>> final_weights;   // per trainable tensor
  std::vector<std::vector<float>> smallest_grads;  // per element, the least |gradient| seen
};

Trajectory RunOptimizer(const OptimizerOptions& options, const fs::path& dir, int index,
                        json& replay) {
  const ParityModel m = KerasCnn(kOptimizerBatch);
  std::unique_ptr<CompiledModel> model = Compile(m);
  const Batch batch = MakeBatch(m, 10, false);
  auto optimizer = Optimizer::Create(options, model->Parameters());
  EXPECT_TRUE(optimizer.ok()) << optimizer.status().ToString();
  Trajectory t;
  for (const ParamView& p : model->Parameters()) t.smallest_grads.emplace_back(p.size, INFINITY);
  replay = json::array();
  for (int step = 0; step < kOptimizerSteps; ++step) {
    LossAndGradients(*model, batch, m.batch);
    const std::vector<ParamView> params = model->Parameters();
    json files = json::object();
    for (size_t i = 0; i < params.size(); ++i) {
      const std::string file = "replay" + std::to_string(index) + "_" + std::to_string(step) + "_" +
                               std::to_string(i) + ".f64";
      WriteDoubles(dir / file, params[i].grad, params[i].size);
      files[params[i].name] = file;
      for (int64_t j = 0; j < params[i].size; ++j) {
        t.smallest_grads[i][j] = std::min(t.smallest_grads[i][j], std::fabs(params[i].grad[j]));
      }
    }
    replay.push_back(files);
    (*optimizer)->Step(options.learning_rate);
  }
  for (const ParamView& p : model->Parameters())
    t.final_weights.emplace_back(p.value, p.value + p.size);
  return t;
}

// The model's part of the manifest: its layers, weights (as compiled with seed 7), batch and L2.
json ModelJson(const ParityModel& m, const fs::path& dir) {
  std::unique_ptr<CompiledModel> model = Compile(m);
  const std::vector<LayerInfo>& layers = model->layers();
  const Batch batch =
      MakeBatch(m, static_cast<int>(layers.back().output.size()), m.name != "keras_cnn");
  json j = {{"name", m.name},
            {"layers", json::array()},
            {"weights", json::array()},
            {"l2", json::object()},
            {"labels", batch.labels}};
  for (size_t i = 0; i < layers.size(); ++i) {
    j["layers"].push_back(LayerJson(m.spec.layers[i], layers[i]));
  }
  j["input"] = m.name + "_input.f64";
  j["input_dims"] = {m.batch, m.spec.input.channels, m.spec.input.height, m.spec.input.width};
  WriteDoubles(dir / j["input"].get<std::string>(), batch.x.data(),
               static_cast<int64_t>(batch.x.size()));
  const std::vector<ParamView> params = model->Parameters();
  const std::vector<NamedTensor> weights = model->ExportWeights();
  for (size_t i = 0; i < weights.size(); ++i) {
    const std::string file = m.name + "_weight_" + std::to_string(i) + ".f64";
    WriteDoubles(dir / file, weights[i].values.data(),
                 static_cast<int64_t>(weights[i].values.size()));
    j["weights"].push_back({{"name", weights[i].name},
                            {"dims", weights[i].dims},
                            {"file", file},
                            {"trainable", params[i].trainable}});
    if (params[i].l2 > 0) j["l2"][params[i].name] = params[i].l2;
  }
  return j;
}

json OptimizerJson(const OptimizerCase& c, const json& replay) {
  const OptimizerOptions& o = c.options;
  return {{"name", c.name},
          {"model", "keras_cnn"},
          {"steps", kOptimizerSteps},
          {"replay", replay},
          {"kind", OptimizerName(o.kind)},
          {"learning_rate", o.learning_rate},
          {"momentum", o.momentum},
          {"nesterov", o.nesterov},
          {"beta_1", o.beta_1},
          {"beta_2", o.beta_2},
          {"epsilon", o.epsilon},
          {"amsgrad", o.amsgrad},
          {"weight_decay", o.weight_decay},
          {"rho", o.rho},
          {"centered", o.centered},
          {"initial_accumulator_value", o.initial_accumulator_value},
          {"schedule_decay", o.schedule_decay}};
}

// Each test runs the oracle once, in its own temporary directory, on only what it checks (ctest
// runs every test in a process of its own).
class NnTorchParityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static const std::string skip_reason = [] {
      const std::string python = LABBOOK_PYTHON;
      const std::string probe = python + " -c 'import torch, numpy' >/dev/null 2>&1";
      if (fs::exists(python) && std::system(probe.c_str()) == 0) return std::string();
      return "PyTorch and numpy are not importable by " + python +
             " (apt-get install python3-torch): skipping the PyTorch parity tests";
    }();
    if (!skip_reason.empty()) GTEST_SKIP() << skip_reason;
    std::string dir_template = (fs::temp_directory_path() / "labbook-nn-torch-XXXXXX").string();
    ASSERT_NE(mkdtemp(dir_template.data()), nullptr);
    dir_ = dir_template;
  }

  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Writes the manifest, runs torch_oracle.py on it and reads its results.
  void RunOracle(const json& manifest) {
    std::ofstream(dir_ / "manifest.json") << manifest.dump(1);
    const fs::path script = fs::path(LABBOOK_SOURCE_DIR) / "tests/nn/torch_oracle.py";
    const std::string command =
        std::string(LABBOOK_PYTHON) + " " + script.string() + " " + dir_.string();
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    results_ = json::parse(std::ifstream(dir_ / "results.json"));
  }

  std::vector<double> Read(const json& file) const {
    return ReadDoubles(dir_ / file.get<std::string>());
  }

  void CheckModel(const ParityModel& m) {
    RunOracle({{"models", {ModelJson(m, dir_)}}, {"optimizers", json::array()}});
    if (HasFatalFailure()) return;
    const json& expected = results_["models"][m.name];
    std::unique_ptr<CompiledModel> model = Compile(m);
    const LayerInfo& last = model->layers().back();
    const Batch batch = MakeBatch(m, static_cast<int>(last.output.size()), m.name != "keras_cnn");

    const double loss = LossAndGradients(*model, batch, m.batch);
    EXPECT_NEAR(loss, expected["loss"].get<double>(), kTolerance * std::fabs(loss)) << "loss";
    ExpectMatches(m.name + " logits", model->LastPreActivation(), Read(expected["logits"]));
    // The last Forward's output buffer: run no other pass before reading it.
    ExpectMatches(m.name + " output", model->Forward(batch.x.data(), m.batch, true),
                  Read(expected["output"]));

    // Gradients are compared to their tensor's scale, and at least to 1% of the model's largest.
    double largest_grad = 0;
    for (const auto& [name, file] : expected["grads"].items()) {
      largest_grad = std::max(largest_grad, MaxAbs(Read(file)));
    }
    int grads = 0, moving = 0;
    for (const ParamView& p : model->Parameters()) {
      if (p.trainable) {
        ASSERT_TRUE(expected["grads"].contains(p.name)) << p.name;
        ExpectMatches(m.name + " d/d " + p.name, p.grad, Read(expected["grads"][p.name]),
                      1e-2 * largest_grad);
        ++grads;
      } else {
        ASSERT_TRUE(expected["moving"].contains(p.name)) << p.name;
        ++moving;
      }
    }
    EXPECT_EQ(grads, static_cast<int>(expected["grads"].size()));
    EXPECT_EQ(moving, static_cast<int>(expected["moving"].size()));

    // The oracle's moving statistics saw one training pass; this model has seen two (the output
    // check above ran another), so start again for them.
    model = Compile(m);
    model->Forward(batch.x.data(), m.batch, true);
    for (const ParamView& p : model->Parameters()) {
      if (!p.trainable) {
        ExpectMatches(m.name + " " + p.name, p.value, Read(expected["moving"][p.name]));
      }
    }
    ExpectMatches(m.name + " inference output", model->Forward(batch.x.data(), m.batch, false),
                  Read(expected["inference_output"]));
  }

  fs::path dir_;
  json results_;
};

TEST_F(NnTorchParityTest, KerasCnnLogitsLossAndGradients) { CheckModel(KerasCnn()); }

TEST_F(NnTorchParityTest, EveryLayerAndOptionMatches) { CheckModel(CoverageModel()); }

// Two checks per optimizer case, three steps each. The update rule: numpy's Keras rule replayed
// on the gradients labbook computed gives labbook's weights up to float32 rounding. End to end:
// each side on its own gradients (PyTorch's at float64) reaches the same weights.
TEST_F(NnTorchParityTest, EveryOptimizerMatchesKerasRuleAfterThreeSteps) {
  const std::vector<OptimizerCase> cases = OptimizerCases();
  json manifest = {{"models", {ModelJson(KerasCnn(kOptimizerBatch), dir_)}},
                   {"optimizers", json::array()}};
  std::vector<Trajectory> trajectories;
  for (size_t c = 0; c < cases.size(); ++c) {
    json replay;
    trajectories.push_back(RunOptimizer(cases[c].options, dir_, static_cast<int>(c), replay));
    manifest["optimizers"].push_back(OptimizerJson(cases[c], replay));
  }
  RunOracle(manifest);
  if (HasFatalFailure()) return;
  ASSERT_EQ(results_["optimizers"].size(), cases.size());
  const std::vector<NamedTensor> initial = Compile(KerasCnn(kOptimizerBatch))->ExportWeights();
  for (size_t c = 0; c < cases.size(); ++c) {
    SCOPED_TRACE(cases[c].name);
    const json& expected = results_["optimizers"][c];
    if (expected.contains("torch_optimizer")) {
      // PyTorch's own optimizer, where it is Keras' rule, confirms the numpy oracle.
      EXPECT_LT(expected["torch_vs_numpy_max_abs"].get<double>(), 1e-12)
          << expected["torch_optimizer"];
    }
    const Trajectory& ours = trajectories[c];
    for (size_t i = 0; i < initial.size(); ++i) {
      const std::string what = cases[c].name + " " + initial[i].name;
      const std::vector<float>& w = ours.final_weights[i];
      const std::vector<double> replayed = Read(expected["replay_weights"][initial[i].name]);
      const std::vector<double> end_to_end = Read(expected["weights"][initial[i].name]);
      double change_scale = 0, weight_scale = 0, largest_grad = 0;
      for (size_t j = 0; j < w.size(); ++j) {
        change_scale = std::max(change_scale, std::fabs(replayed[j] - initial[i].values[j]));
        weight_scale = std::max(weight_scale, std::fabs(replayed[j]));
        largest_grad = std::max(largest_grad, static_cast<double>(ours.smallest_grads[i][j]));
      }

      // The rule, relative to the tensor's largest change, allowing the float32 rounding of
      // the weight itself (half an ulp per step).
      double rule_error = 0;
      for (size_t j = 0; j < w.size(); ++j) {
        const double rounding =
            kOptimizerSteps * 0.5 * std::numeric_limits<float>::epsilon() * std::fabs(replayed[j]);
        const double excess = std::max(0.0, std::fabs(w[j] - replayed[j]) - rounding);
        rule_error = std::max(rule_error, excess / change_scale);
      }
      EXPECT_LE(rule_error, 1e-5) << what << ": update rule";
      RecordProperty(what + " rule", Scientific(rule_error));

      // End to end, relative to the tensor's largest weight. The two trajectories differ by
      // rounding after the first step, so a ReLU input that sits within that rounding of zero
      // would switch one gradient element discretely on one side only; this batch has none (a
      // batch of 4 from the same stream had one, off by 2e-3 at the second step). Adam-type
      // steps normalise the gradient (by about |g| + eps), so an element whose gradient came
      // within ~100 float32 rounding errors of zero at some step (below 1e-5 of the tensor's
      // largest) moves by a noisy amount in any float32 implementation; its change gets 1e-2.
      double weight_error = 0, noisy_change_error = 0;
      for (size_t j = 0; j < w.size(); ++j) {
        const double difference = std::fabs(w[j] - end_to_end[j]);
        if (ours.smallest_grads[i][j] >= 1e-5 * largest_grad) {
          weight_error = std::max(weight_error, difference / weight_scale);
        } else {
          noisy_change_error = std::max(noisy_change_error, difference / change_scale);
        }
      }
      EXPECT_LE(weight_error, kTolerance) << what << ": weights";
      EXPECT_LE(noisy_change_error, 1e-2) << what << ": change where the gradient is noise";
      RecordProperty(what + " weights", Scientific(weight_error));
    }
  }
}

}  // namespace
}  // namespace labbook::nn
