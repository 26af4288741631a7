// The training config schema: examples/keras-cnn.yaml to a ModelSpec, defaults, and the exact
// error of every kind of mistake.
#include "train/train_config.hpp"

#include <gtest/gtest.h>

#include <variant>

namespace labbook::train {
namespace {

Result<TrainConfig> Parse(std::string_view yaml, std::vector<std::string> overrides = {}) {
  Result<config::Node> root = config::ParseYaml(yaml, "cnn.yaml");
  if (!root.ok()) return root.status();
  for (const std::string& o : overrides) {
    Status s = config::ApplyOverride(*root, o);
    if (!s.ok()) return s;
  }
  return ParseTrainConfig(*root);
}

std::string ErrorOf(std::string_view yaml, std::vector<std::string> overrides = {}) {
  Result<TrainConfig> c = Parse(yaml, std::move(overrides));
  if (c.ok()) return "ok";
  EXPECT_EQ(c.status().code(), ErrorCode::kInvalidArgument);
  return c.status().message();
}

// A minimal valid config: line 1 dataset, line 2 loss, line 3 optimizer, layers from line 4.
constexpr char kMinimal[] =
    "dataset: mnist-digits\n"
    "loss: categorical_crossentropy\n"
    "optimizer: {name: adam}\n"
    "layers:\n"
    "  - {type: Flatten}\n"
    "  - {type: Dense, units: 10, activation: softmax}\n";

TEST(TrainConfigTest, KerasCnnExampleBecomesTheKerasModel) {
  Result<TrainConfig> c = LoadTrainConfig(LABBOOK_SOURCE_DIR "/examples/keras-cnn.yaml", {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->dataset, "fashion-mnist");
  EXPECT_DOUBLE_EQ(c->validation_split, 0.1);
  EXPECT_EQ(c->options.loss, nn::LossKind::kCategoricalCrossentropy);
  EXPECT_EQ(c->options.optimizer.kind, nn::OptimizerKind::kAdam);
  EXPECT_DOUBLE_EQ(c->options.optimizer.learning_rate, 1e-3);
  EXPECT_DOUBLE_EQ(c->options.optimizer.epsilon, 1e-7);
  EXPECT_EQ(c->options.batch_size, 128);
  EXPECT_EQ(c->options.epochs, 15);
  EXPECT_EQ(c->options.seed, 1u);
  EXPECT_EQ(c->threads, 2);
  EXPECT_EQ(c->backend, BackendKind::kOneDnn);
  EXPECT_EQ(c->precision, nn::Precision::kFloat32);
  EXPECT_FALSE(c->options.early_stopping.enabled);

  Result<nn::ModelSpec> spec = MakeModelSpec(*c, {1, 28, 28, false});
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ASSERT_EQ(spec->layers.size(), 7u);
  const auto& conv = std::get<nn::Conv2DSpec>(spec->layers[0]);
  EXPECT_EQ(conv.filters, 32);
  EXPECT_EQ(conv.kernel_h, 3);
  EXPECT_EQ(conv.kernel_w, 3);
  EXPECT_EQ(conv.stride_h, 1);
  EXPECT_EQ(conv.padding, nn::Padding::kValid);
  EXPECT_EQ(conv.activation, nn::Activation::kRelu);
  EXPECT_EQ(conv.kernel_initializer, nn::Initializer::kGlorotUniform);
  const auto& pool = std::get<nn::Pool2DSpec>(spec->layers[1]);
  EXPECT_TRUE(pool.max);
  EXPECT_EQ(pool.stride_h, 2);  // Keras: strides default to pool_size
  EXPECT_EQ(std::get<nn::Conv2DSpec>(spec->layers[2]).filters, 64);
  EXPECT_TRUE(std::holds_alternative<nn::FlattenSpec>(spec->layers[4]));
  EXPECT_DOUBLE_EQ(std::get<nn::DropoutSpec>(spec->layers[5]).rate, 0.5);
  const auto& dense = std::get<nn::DenseSpec>(spec->layers[6]);
  EXPECT_EQ(dense.units, 10);
  EXPECT_EQ(dense.activation, nn::Activation::kSoftmax);

  Result<std::vector<nn::LayerInfo>> shapes = nn::InferShapes(*spec);
  ASSERT_TRUE(shapes.ok());
  int64_t total = 0;
  for (const auto& layer : *shapes) total += layer.param_count();
  EXPECT_EQ(total, 34826);  // what Keras' model.summary() prints
}

TEST(TrainConfigTest, ResolvedConfigHasEveryDefaultAndTheLayersInCanonicalForm) {
  Result<TrainConfig> c = Parse(kMinimal);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const nlohmann::json& r = c->resolved;
  EXPECT_EQ(r["batch_size"], 32);
  EXPECT_EQ(r["epochs"], 1);
  EXPECT_EQ(r["seed"], 0);
  EXPECT_EQ(r["threads"], 1);
  EXPECT_EQ(r["precision"], "fp32");
  EXPECT_EQ(r["backend"], "onednn");
  EXPECT_EQ(r["validation_split"], 0.0);
  EXPECT_EQ(r["optimizer"]["beta_2"], 0.999);
  EXPECT_EQ(r["lr_schedule"]["name"], "constant");
  EXPECT_TRUE(r["early_stopping"].is_null());
  EXPECT_EQ(r["layers"][1]["kernel_initializer"], "glorot_uniform");
  EXPECT_EQ(r["layers"], LayersToJson(c->layers));
}

TEST(TrainConfigTest, OptimizersTakeTheirOwnKerasOptions) {
  Result<TrainConfig> c = Parse(kMinimal, {"optimizer={name: sgd, momentum: 0.9, nesterov: true}"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->options.optimizer.kind, nn::OptimizerKind::kSgd);
  EXPECT_DOUBLE_EQ(c->options.optimizer.learning_rate, 0.01);  // sgd's Keras default
  EXPECT_DOUBLE_EQ(c->options.optimizer.momentum, 0.9);
  EXPECT_TRUE(c->options.optimizer.nesterov);
  c = Parse(kMinimal, {"optimizer.name=adamw"});
  ASSERT_TRUE(c.ok());
  EXPECT_DOUBLE_EQ(c->options.optimizer.weight_decay, 0.004);
  c = Parse(kMinimal, {"optimizer.name=rmsprop", "optimizer.centered=true"});
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->options.optimizer.centered);
  EXPECT_EQ(ErrorOf(kMinimal, {"optimizer.name=adam", "optimizer.momentum=0.9"}),
            "--set optimizer.momentum=0.9: optimizer.momentum: unknown key for optimizer 'adam'; "
            "valid keys: name, learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, "
            "clipnorm, global_clipnorm, clipvalue");
  EXPECT_EQ(ErrorOf(kMinimal, {"optimizer.clipnorm=1", "optimizer.clipvalue=0.5"}),
            "--set optimizer.clipvalue=0.5: optimizer.clipvalue: set at most one of clipnorm, "
            "global_clipnorm and clipvalue");
}

TEST(TrainConfigTest, SchedulesAndEarlyStopping) {
  Result<TrainConfig> c =
      Parse(kMinimal, {"lr_schedule={name: step, every_epochs: 2, factor: 0.5}",
                       "validation_split=0.1", "early_stopping={monitor: val_accuracy}"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->options.lr_schedule.every_epochs, 2);
  EXPECT_TRUE(c->options.early_stopping.enabled);
  EXPECT_TRUE(c->options.early_stopping.maximize);  // mode auto: accuracy goes up
  EXPECT_EQ(ErrorOf(kMinimal, {"early_stopping.patience=2"}),
            "--set early_stopping.patience=2: early_stopping.monitor: val_loss needs validation "
            "data, but validation_split is 0");
  EXPECT_EQ(ErrorOf(kMinimal, {"lr_schedule.name=cosine", "lr_schedule.every_epochs=3"}),
            "--set lr_schedule.every_epochs=3: lr_schedule.every_epochs: unknown key for "
            "lr_schedule 'cosine'; valid keys: name, decay_steps, alpha");
}

TEST(TrainConfigTest, ErrorsNameTheLineAndThePath) {
  EXPECT_EQ(ErrorOf("loss: categorical_crossentropy\n"),
            "cnn.yaml:1: dataset: missing (expected a string)");
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "epochs: many\n"),
            "cnn.yaml:7: epochs: expected a positive integer, got 'many'");
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "validation_split: 1\n"),
            "cnn.yaml:7: validation_split: expected a number in [0, 1), got '1'");
  EXPECT_EQ(ErrorOf(kMinimal, {"layers.1.units=ten"}),
            "--set layers.1.units=ten: layers.1.units: expected a positive integer up to 1048576, "
            "got 'ten'");
  EXPECT_EQ(ErrorOf(kMinimal, {"layers.1.filters=3"}),
            "--set layers.1.filters=3: layers.1.filters: unknown key for a Dense layer; valid "
            "keys: type, units, activation, use_bias, kernel_initializer, bias_initializer, "
            "kernel_regularizer");
  EXPECT_EQ(ErrorOf(kMinimal, {"layers.0.type=Conv3D"}),
            "--set layers.0.type=Conv3D: layers.0.type: expected one of Conv2D, MaxPooling2D, "
            "AveragePooling2D, Flatten, Dropout, Dense, BatchNormalization, Activation, got "
            "'Conv3D'");
  EXPECT_EQ(ErrorOf(kMinimal, {"layers.1.activation=swish"}),
            "--set layers.1.activation=swish: layers.1.activation: expected one of linear, relu, "
            "tanh, sigmoid, softmax, elu, got 'swish'");
  EXPECT_EQ(ErrorOf(kMinimal, {"layers.1.kernel_regularizer={l1: 0.1}"}),
            "--set layers.1.kernel_regularizer={l1: 0.1}: layers.1.kernel_regularizer.l1: unknown "
            "key for kernel_regularizer (did you mean 'l2'?); valid keys: l2");
  EXPECT_EQ(ErrorOf(kMinimal, {"loss=hinge"}),
            "--set loss=hinge: loss: expected one of categorical_crossentropy, "
            "sparse_categorical_crossentropy, mean_squared_error, cosine_similarity, got 'hinge'");
  EXPECT_EQ(ErrorOf(kMinimal, {"layers.4.units=3"}),
            "--set layers.4.units=3: layers.4: index out of range; layers has 2 items (0..1)");
  EXPECT_EQ(ErrorOf(kMinimal, {"precision=bf16", "backend=reference"}),
            "--set precision=bf16: precision: bf16 needs backend: onednn (the reference backend "
            "computes in fp32 only)");
  EXPECT_EQ(ErrorOf(kMinimal, {"epoch=3"}),
            "--set epoch=3: epoch: unknown key (did you mean 'epochs'?); valid keys: dataset, "
            "validation_split, layers, loss, optimizer, lr_schedule, early_stopping, batch_size, "
            "epochs, seed, threads, precision, backend");
  EXPECT_EQ(ErrorOf("dataset: x\nloss: mean_squared_error\noptimizer: {name: sgd}\nlayers: []\n"),
            "cnn.yaml:4: layers: expected a list of layers, each a map with a type such as "
            "Conv2D or Dense, got an empty list");
}

TEST(TrainConfigTest, KernelSizeAndStridesTakeAnIntegerOrAPair) {
  Result<TrainConfig> c = Parse(
      "dataset: x\nloss: mean_squared_error\noptimizer: {name: sgd}\nlayers:\n"
      "  - {type: Conv2D, filters: 2, kernel_size: [1, 3], strides: 2, padding: same}\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const auto& conv = std::get<nn::Conv2DSpec>(c->layers[0]);
  EXPECT_EQ(conv.kernel_h, 1);
  EXPECT_EQ(conv.kernel_w, 3);
  EXPECT_EQ(conv.stride_h, 2);
  EXPECT_EQ(conv.stride_w, 2);
  EXPECT_EQ(conv.padding, nn::Padding::kSame);
}

TEST(TrainConfigTest, ShapeErrorsPointAtTheLayerThatDoesNotFit) {
  Result<TrainConfig> c = Parse(
      "dataset: x\nloss: categorical_crossentropy\noptimizer: {name: adam}\nlayers:\n"
      "  - {type: Conv2D, filters: 4, kernel_size: 3}\n"
      "  - {type: Dense, units: 10}\n");
  ASSERT_TRUE(c.ok());
  Result<nn::ModelSpec> spec = MakeModelSpec(*c, {1, 8, 8, false});
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().message().rfind("cnn.yaml:6: layers.1: ", 0), 0u)
      << spec.status().message();
  EXPECT_NE(spec.status().message().find("Flatten"), std::string::npos);
}

TEST(TrainConfigTest, LayersRoundTripThroughTheirJsonForm) {
  Result<TrainConfig> c =
      LoadTrainConfig(LABBOOK_SOURCE_DIR "/examples/keras-cnn.yaml",
                      std::vector<std::string>{"layers.0.kernel_regularizer={l2: 0.01}"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  config::Node node = config::FromJson({{"layers", LayersToJson(c->layers)}}, {"stored", 0});
  nlohmann::json resolved;
  config::MapReader reader(&node, "", {"stored", 0}, &resolved);
  Result<std::vector<nn::LayerSpec>> again = ReadLayers(reader, nullptr);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(LayersToJson(*again), LayersToJson(c->layers));
  EXPECT_DOUBLE_EQ(std::get<nn::Conv2DSpec>((*again)[0]).l2, 0.01);
}

}  // namespace
}  // namespace labbook::train
