#include "train/train_config.hpp"

#include <limits>
#include <variant>

#include "core/status_macros.hpp"

namespace labbook::train {
namespace {

using config::MapReader;
using config::NumberRange;

constexpr int64_t kNoMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMaxInt = std::numeric_limits<int>::max();
constexpr int kMaxSize = 1 << 20;  // a bound on filters, units, kernel sizes: catches typos

constexpr std::string_view kLayerTypes[] = {
    "Conv2D",  "MaxPooling2D", "AveragePooling2D",   "Flatten",
    "Dropout", "Dense",        "BatchNormalization", "Activation"};
constexpr std::string_view kActivations[] = {"linear", "relu", "tanh", "sigmoid", "softmax", "elu"};
constexpr std::string_view kPaddings[] = {"valid", "same"};
constexpr std::string_view kInitializers[] = {"glorot_uniform", "he_normal", "zeros", "ones"};
constexpr std::string_view kLosses[] = {"categorical_crossentropy",
                                        "sparse_categorical_crossentropy", "mean_squared_error",
                                        "cosine_similarity"};
constexpr std::string_view kOptimizers[] = {"sgd", "adam", "adamw", "nadam", "rmsprop", "adagrad"};
constexpr std::string_view kSchedules[] = {"constant", "step", "cosine"};
constexpr std::string_view kMonitors[] = {"val_loss", "val_accuracy", "loss", "accuracy"};
constexpr std::string_view kModes[] = {"auto", "min", "max"};
constexpr std::string_view kPrecisions[] = {"fp32", "bf16"};
constexpr std::string_view kBackends[] = {"onednn", "reference"};

nn::Activation ToActivation(const std::string& name) {
  if (name == "relu") return nn::Activation::kRelu;
  if (name == "tanh") return nn::Activation::kTanh;
  if (name == "sigmoid") return nn::Activation::kSigmoid;
  if (name == "softmax") return nn::Activation::kSoftmax;
  if (name == "elu") return nn::Activation::kElu;
  return nn::Activation::kLinear;
}

nn::Initializer ToInitializer(const std::string& name) {
  if (name == "he_normal") return nn::Initializer::kHeNormal;
  if (name == "zeros") return nn::Initializer::kZeros;
  if (name == "ones") return nn::Initializer::kOnes;
  return nn::Initializer::kGlorotUniform;
}

Result<nn::Activation> ReadActivation(MapReader& layer, std::optional<std::string> default_value) {
  LABBOOK_ASSIGN_OR_RETURN(std::string name,
                           layer.Choice("activation", kActivations, std::move(default_value)));
  return ToActivation(name);
}

Result<nn::Padding> ReadPadding(MapReader& layer) {
  Result<std::string> name = layer.Choice("padding", kPaddings, "valid");
  if (!name.ok()) return name.status();
  return *name == "same" ? nn::Padding::kSame : nn::Padding::kValid;
}

Result<nn::Initializer> ReadInitializer(MapReader& layer, std::string_view key,
                                        std::string default_value) {
  LABBOOK_ASSIGN_OR_RETURN(std::string name,
                           layer.Choice(key, kInitializers, std::move(default_value)));
  return ToInitializer(name);
}

// kernel_regularizer: {l2: x}, Keras' L2 regulariser as a config; absent means none.
Result<double> ReadL2(MapReader& layer) {
  LABBOOK_ASSIGN_OR_RETURN(MapReader regularizer,
                           layer.Map("kernel_regularizer", "a regulariser such as {l2: 0.0001}"));
  LABBOOK_ASSIGN_OR_RETURN(double l2, regularizer.Number("l2", NumberRange::NonNegative(), 0.0));
  LABBOOK_RETURN_IF_ERROR(regularizer.Finish("kernel_regularizer"));
  return l2;
}

Result<nn::LayerSpec> ReadLayer(MapReader& layer) {
  LABBOOK_ASSIGN_OR_RETURN(std::string type, layer.Choice("type", kLayerTypes, std::nullopt));
  nn::LayerSpec spec;
  if (type == "Conv2D") {
    nn::Conv2DSpec c;
    LABBOOK_ASSIGN_OR_RETURN(int64_t filters, layer.Integer("filters", 1, kMaxSize, std::nullopt));
    c.filters = static_cast<int>(filters);
    LABBOOK_ASSIGN_OR_RETURN(auto kernel, layer.IntPair("kernel_size", 1, std::nullopt));
    std::tie(c.kernel_h, c.kernel_w) = kernel;
    LABBOOK_ASSIGN_OR_RETURN(auto strides, layer.IntPair("strides", 1, std::pair{1, 1}));
    std::tie(c.stride_h, c.stride_w) = strides;
    LABBOOK_ASSIGN_OR_RETURN(c.padding, ReadPadding(layer));
    LABBOOK_ASSIGN_OR_RETURN(c.activation, ReadActivation(layer, "linear"));
    LABBOOK_ASSIGN_OR_RETURN(c.use_bias, layer.Bool("use_bias", true));
    LABBOOK_ASSIGN_OR_RETURN(c.kernel_initializer,
                             ReadInitializer(layer, "kernel_initializer", "glorot_uniform"));
    LABBOOK_ASSIGN_OR_RETURN(c.bias_initializer,
                             ReadInitializer(layer, "bias_initializer", "zeros"));
    LABBOOK_ASSIGN_OR_RETURN(c.l2, ReadL2(layer));
    spec = c;
  } else if (type == "MaxPooling2D" || type == "AveragePooling2D") {
    nn::Pool2DSpec p;
    p.max = type == "MaxPooling2D";
    LABBOOK_ASSIGN_OR_RETURN(auto pool, layer.IntPair("pool_size", 1, std::pair{2, 2}));
    std::tie(p.pool_h, p.pool_w) = pool;
    // Keras: strides default to the pool size.
    LABBOOK_ASSIGN_OR_RETURN(auto strides, layer.IntPair("strides", 1, pool));
    std::tie(p.stride_h, p.stride_w) = strides;
    LABBOOK_ASSIGN_OR_RETURN(p.padding, ReadPadding(layer));
    spec = p;
  } else if (type == "Flatten") {
    spec = nn::FlattenSpec{};
  } else if (type == "Dropout") {
    nn::DropoutSpec d;
    LABBOOK_ASSIGN_OR_RETURN(
        d.rate, layer.Number("rate", NumberRange::Between(0, 1, true, false), std::nullopt));
    spec = d;
  } else if (type == "Dense") {
    nn::DenseSpec d;
    LABBOOK_ASSIGN_OR_RETURN(int64_t units, layer.Integer("units", 1, kMaxSize, std::nullopt));
    d.units = static_cast<int>(units);
    LABBOOK_ASSIGN_OR_RETURN(d.activation, ReadActivation(layer, "linear"));
    LABBOOK_ASSIGN_OR_RETURN(d.use_bias, layer.Bool("use_bias", true));
    LABBOOK_ASSIGN_OR_RETURN(d.kernel_initializer,
                             ReadInitializer(layer, "kernel_initializer", "glorot_uniform"));
    LABBOOK_ASSIGN_OR_RETURN(d.bias_initializer,
                             ReadInitializer(layer, "bias_initializer", "zeros"));
    LABBOOK_ASSIGN_OR_RETURN(d.l2, ReadL2(layer));
    spec = d;
  } else if (type == "BatchNormalization") {
    nn::BatchNormSpec b;
    LABBOOK_ASSIGN_OR_RETURN(b.momentum,
                             layer.Number("momentum", NumberRange::Between(0, 1), 0.99));
    LABBOOK_ASSIGN_OR_RETURN(b.epsilon, layer.Number("epsilon", NumberRange::Positive(), 1e-3));
    spec = b;
  } else {
    nn::ActivationSpec a;
    LABBOOK_ASSIGN_OR_RETURN(a.activation, ReadActivation(layer, std::nullopt));
    spec = a;
  }
  LABBOOK_RETURN_IF_ERROR(layer.Finish("a " + type + " layer"));
  return spec;
}

Result<nn::OptimizerOptions> ReadOptimizer(MapReader& reader) {
  LABBOOK_ASSIGN_OR_RETURN(std::string name, reader.Choice("name", kOptimizers, std::nullopt));
  LABBOOK_ASSIGN_OR_RETURN(nn::OptimizerKind kind, nn::ParseOptimizerName(name));
  nn::OptimizerOptions o = nn::OptimizerOptions::KerasDefaults(kind);
  using Kind = nn::OptimizerKind;
  const NumberRange beta = NumberRange::Between(0, 1, true, false);
  LABBOOK_ASSIGN_OR_RETURN(
      o.learning_rate, reader.Number("learning_rate", NumberRange::Positive(), o.learning_rate));
  if (kind == Kind::kSgd) {
    LABBOOK_ASSIGN_OR_RETURN(o.momentum,
                             reader.Number("momentum", NumberRange::Between(0, 1), o.momentum));
    LABBOOK_ASSIGN_OR_RETURN(o.nesterov, reader.Bool("nesterov", o.nesterov));
  } else if (kind == Kind::kAdam || kind == Kind::kAdamW || kind == Kind::kNadam) {
    LABBOOK_ASSIGN_OR_RETURN(o.beta_1, reader.Number("beta_1", beta, o.beta_1));
    LABBOOK_ASSIGN_OR_RETURN(o.beta_2, reader.Number("beta_2", beta, o.beta_2));
    LABBOOK_ASSIGN_OR_RETURN(o.epsilon,
                             reader.Number("epsilon", NumberRange::Positive(), o.epsilon));
    if (kind != Kind::kNadam) {
      LABBOOK_ASSIGN_OR_RETURN(o.amsgrad, reader.Bool("amsgrad", o.amsgrad));
    }
  } else if (kind == Kind::kRmsprop) {
    LABBOOK_ASSIGN_OR_RETURN(o.rho, reader.Number("rho", beta, o.rho));
    LABBOOK_ASSIGN_OR_RETURN(o.momentum,
                             reader.Number("momentum", NumberRange::Between(0, 1), o.momentum));
    LABBOOK_ASSIGN_OR_RETURN(o.epsilon,
                             reader.Number("epsilon", NumberRange::Positive(), o.epsilon));
    LABBOOK_ASSIGN_OR_RETURN(o.centered, reader.Bool("centered", o.centered));
  } else {  // adagrad
    LABBOOK_ASSIGN_OR_RETURN(o.initial_accumulator_value,
                             reader.Number("initial_accumulator_value", NumberRange::NonNegative(),
                                           o.initial_accumulator_value));
    LABBOOK_ASSIGN_OR_RETURN(o.epsilon,
                             reader.Number("epsilon", NumberRange::Positive(), o.epsilon));
  }
  // Options every Keras 2.11+ optimizer takes; 0 turns each off.
  LABBOOK_ASSIGN_OR_RETURN(
      o.weight_decay, reader.Number("weight_decay", NumberRange::NonNegative(), o.weight_decay));
  int clippers = 0;
  for (auto [key, field] :
       {std::pair{"clipnorm", &o.clipnorm}, std::pair{"global_clipnorm", &o.global_clipnorm},
        std::pair{"clipvalue", &o.clipvalue}}) {
    LABBOOK_ASSIGN_OR_RETURN(*field, reader.Number(key, NumberRange::NonNegative(), 0.0));
    if (*field > 0 && ++clippers > 1) {
      return reader.Error(key, "set at most one of clipnorm, global_clipnorm and clipvalue");
    }
  }
  LABBOOK_RETURN_IF_ERROR(reader.Finish("optimizer '" + name + "'"));
  return o;
}

Result<LrScheduleConfig> ReadSchedule(MapReader& reader) {
  LrScheduleConfig s;
  LABBOOK_ASSIGN_OR_RETURN(s.name, reader.Choice("name", kSchedules, "constant"));
  if (s.name == "step") {
    LABBOOK_ASSIGN_OR_RETURN(int64_t every, reader.Integer("every_epochs", 1, kMaxInt, 10));
    s.every_epochs = static_cast<int>(every);
    LABBOOK_ASSIGN_OR_RETURN(s.factor, reader.Number("factor", NumberRange::Positive(), 0.1));
  } else if (s.name == "cosine") {
    LABBOOK_ASSIGN_OR_RETURN(s.decay_steps, reader.Integer("decay_steps", 0, kNoMax, 0));
    LABBOOK_ASSIGN_OR_RETURN(s.alpha, reader.Number("alpha", NumberRange::Between(0, 1), 0.0));
  }
  LABBOOK_RETURN_IF_ERROR(reader.Finish("lr_schedule '" + s.name + "'"));
  return s;
}

Result<EarlyStoppingConfig> ReadEarlyStopping(MapReader& reader, bool present) {
  EarlyStoppingConfig e;
  e.enabled = present;
  LABBOOK_ASSIGN_OR_RETURN(e.monitor, reader.Choice("monitor", kMonitors, "val_loss"));
  LABBOOK_ASSIGN_OR_RETURN(int64_t patience, reader.Integer("patience", 0, kMaxInt, 0));
  e.patience = static_cast<int>(patience);
  LABBOOK_ASSIGN_OR_RETURN(e.min_delta,
                           reader.Number("min_delta", NumberRange::NonNegative(), 0.0));
  LABBOOK_ASSIGN_OR_RETURN(std::string mode, reader.Choice("mode", kModes, "auto"));
  e.maximize = mode == "max" || (mode == "auto" && e.monitor.find("accuracy") != std::string::npos);
  LABBOOK_ASSIGN_OR_RETURN(e.restore_best_weights, reader.Bool("restore_best_weights", false));
  LABBOOK_RETURN_IF_ERROR(reader.Finish("early_stopping"));
  return e;
}

}  // namespace

Result<std::vector<nn::LayerSpec>> ReadLayers(MapReader& reader,
                                              std::vector<config::Origin>* origins) {
  LABBOOK_ASSIGN_OR_RETURN(
      std::vector<MapReader> items,
      reader.ListOfMaps("layers", "layers, each a map with a type such as Conv2D or Dense"));
  std::vector<nn::LayerSpec> layers;
  for (MapReader& item : items) {
    LABBOOK_ASSIGN_OR_RETURN(nn::LayerSpec layer, ReadLayer(item));
    layers.push_back(std::move(layer));
    if (origins != nullptr) origins->push_back(item.origin());
  }
  return layers;
}

Result<TrainConfig> ParseTrainConfig(const config::Node& root) {
  TrainConfig c;
  MapReader top(&root, "", root.origin, &c.resolved);
  LABBOOK_ASSIGN_OR_RETURN(c.dataset, top.String("dataset"));
  LABBOOK_ASSIGN_OR_RETURN(
      c.validation_split,
      top.Number("validation_split", NumberRange::Between(0, 1, true, false), 0.0));
  LABBOOK_ASSIGN_OR_RETURN(c.layers, ReadLayers(top, &c.layer_origins));
  TrainOptions& o = c.options;
  LABBOOK_ASSIGN_OR_RETURN(std::string loss, top.Choice("loss", kLosses, std::nullopt));
  LABBOOK_ASSIGN_OR_RETURN(o.loss, nn::ParseLossName(loss));
  {
    LABBOOK_ASSIGN_OR_RETURN(MapReader optimizer,
                             top.Map("optimizer", "the optimizer's name and options"));
    LABBOOK_ASSIGN_OR_RETURN(o.optimizer, ReadOptimizer(optimizer));
  }
  {
    LABBOOK_ASSIGN_OR_RETURN(MapReader schedule,
                             top.Map("lr_schedule", "the schedule's name and options"));
    LABBOOK_ASSIGN_OR_RETURN(o.lr_schedule, ReadSchedule(schedule));
  }
  {
    const bool present = top.Has("early_stopping");
    LABBOOK_ASSIGN_OR_RETURN(MapReader early, top.Map("early_stopping", "EarlyStopping options"));
    LABBOOK_ASSIGN_OR_RETURN(o.early_stopping, ReadEarlyStopping(early, present));
    if (!present) c.resolved["early_stopping"] = nullptr;
  }
  LABBOOK_ASSIGN_OR_RETURN(int64_t batch_size, top.Integer("batch_size", 1, kMaxSize, 32));
  o.batch_size = static_cast<int>(batch_size);
  LABBOOK_ASSIGN_OR_RETURN(int64_t epochs, top.Integer("epochs", 1, kMaxInt, 1));
  o.epochs = static_cast<int>(epochs);
  LABBOOK_ASSIGN_OR_RETURN(int64_t seed, top.Integer("seed", 0, kNoMax, 0));
  o.seed = static_cast<uint64_t>(seed);
  LABBOOK_ASSIGN_OR_RETURN(int64_t threads, top.Integer("threads", 1, 1024, 1));
  c.threads = static_cast<int>(threads);
  LABBOOK_ASSIGN_OR_RETURN(std::string precision, top.Choice("precision", kPrecisions, "fp32"));
  c.precision = precision == "bf16" ? nn::Precision::kBFloat16 : nn::Precision::kFloat32;
  LABBOOK_ASSIGN_OR_RETURN(std::string backend, top.Choice("backend", kBackends, "onednn"));
  c.backend = backend == "reference" ? BackendKind::kReference : BackendKind::kOneDnn;
  LABBOOK_RETURN_IF_ERROR(top.Finish());

  if (c.precision == nn::Precision::kBFloat16 && c.backend == BackendKind::kReference) {
    return top.Error("precision",
                     "bf16 needs backend: onednn (the reference backend computes in fp32 only)");
  }
  if (o.early_stopping.enabled && o.early_stopping.monitor.rfind("val_", 0) == 0 &&
      c.validation_split == 0.0) {
    nlohmann::json scratch;
    MapReader early(root.Find("early_stopping"), "early_stopping", root.origin, &scratch);
    return early.Error(
        "monitor", o.early_stopping.monitor + " needs validation data, but validation_split is 0");
  }
  return c;
}

Result<TrainConfig> LoadTrainConfig(const std::string& path,
                                    std::span<const std::string> overrides) {
  LABBOOK_ASSIGN_OR_RETURN(config::Node root, config::LoadConfig(path, overrides));
  return ParseTrainConfig(root);
}

nlohmann::json LayersToJson(const std::vector<nn::LayerSpec>& layers) {
  struct Visitor {
    nlohmann::json operator()(const nn::Conv2DSpec& c) const {
      return {{"type", "Conv2D"},
              {"filters", c.filters},
              {"kernel_size", {c.kernel_h, c.kernel_w}},
              {"strides", {c.stride_h, c.stride_w}},
              {"padding", nn::PaddingName(c.padding)},
              {"activation", nn::ActivationName(c.activation)},
              {"use_bias", c.use_bias},
              {"kernel_initializer", nn::InitializerName(c.kernel_initializer)},
              {"bias_initializer", nn::InitializerName(c.bias_initializer)},
              {"kernel_regularizer", {{"l2", c.l2}}}};
    }
    nlohmann::json operator()(const nn::Pool2DSpec& p) const {
      return {{"type", p.max ? "MaxPooling2D" : "AveragePooling2D"},
              {"pool_size", {p.pool_h, p.pool_w}},
              {"strides", {p.stride_h, p.stride_w}},
              {"padding", nn::PaddingName(p.padding)}};
    }
    nlohmann::json operator()(const nn::FlattenSpec&) const { return {{"type", "Flatten"}}; }
    nlohmann::json operator()(const nn::DropoutSpec& d) const {
      return {{"type", "Dropout"}, {"rate", d.rate}};
    }
    nlohmann::json operator()(const nn::DenseSpec& d) const {
      return {{"type", "Dense"},
              {"units", d.units},
              {"activation", nn::ActivationName(d.activation)},
              {"use_bias", d.use_bias},
              {"kernel_initializer", nn::InitializerName(d.kernel_initializer)},
              {"bias_initializer", nn::InitializerName(d.bias_initializer)},
              {"kernel_regularizer", {{"l2", d.l2}}}};
    }
    nlohmann::json operator()(const nn::BatchNormSpec& b) const {
      return {{"type", "BatchNormalization"}, {"momentum", b.momentum}, {"epsilon", b.epsilon}};
    }
    nlohmann::json operator()(const nn::ActivationSpec& a) const {
      return {{"type", "Activation"}, {"activation", nn::ActivationName(a.activation)}};
    }
  };
  nlohmann::json out = nlohmann::json::array();
  for (const nn::LayerSpec& layer : layers) out.push_back(std::visit(Visitor{}, layer));
  return out;
}

Result<nn::ModelSpec> MakeModelSpec(const TrainConfig& config, const nn::SampleShape& input) {
  nn::ModelSpec spec;
  spec.input = input;
  if (config.layers.empty()) return InvalidArgument("layers: the model has no layers");
  // Checking growing prefixes finds the first layer that does not fit, so the error can point at
  // the line where that layer is written.
  for (size_t i = 0; i < config.layers.size(); ++i) {
    spec.layers.push_back(config.layers[i]);
    Result<std::vector<nn::LayerInfo>> shapes = nn::InferShapes(spec);
    if (!shapes.ok()) {
      std::string where = i < config.layer_origins.size()
                              ? config.layer_origins[i].ToString() + ": "
                              : std::string();
      return InvalidArgument(where + "layers." + std::to_string(i) + ": " +
                             shapes.status().message());
    }
  }
  return spec;
}

std::string_view BackendName(BackendKind backend) {
  return backend == BackendKind::kReference ? "reference" : "onednn";
}

std::string_view PrecisionName(nn::Precision precision) {
  return precision == nn::Precision::kBFloat16 ? "bf16" : "fp32";
}

}  // namespace labbook::train
