#include "nn/spec.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <variant>

#include "core/status_macros.hpp"

namespace labbook::nn {
namespace {

// Keras' default layer name (the class name in snake_case) and class name of each spec.
struct LayerKind {
  std::string_view type;
  std::string_view base_name;
};

LayerKind KindOf(const LayerSpec& layer) {
  struct Visitor {
    LayerKind operator()(const Conv2DSpec&) const { return {"Conv2D", "conv2d"}; }
    LayerKind operator()(const Pool2DSpec& p) const {
      return p.max ? LayerKind{"MaxPooling2D", "max_pooling2d"}
                   : LayerKind{"AveragePooling2D", "average_pooling2d"};
    }
    LayerKind operator()(const FlattenSpec&) const { return {"Flatten", "flatten"}; }
    LayerKind operator()(const DropoutSpec&) const { return {"Dropout", "dropout"}; }
    LayerKind operator()(const DenseSpec&) const { return {"Dense", "dense"}; }
    LayerKind operator()(const BatchNormSpec&) const {
      return {"BatchNormalization", "batch_normalization"};
    }
    LayerKind operator()(const ActivationSpec&) const { return {"Activation", "activation"}; }
  };
  return std::visit(Visitor{}, layer);
}

std::string ShapeText(const SampleShape& s) {
  std::string text = "(";
  text += std::to_string(s.channels);
  if (!s.flat) {
    text += ", ";
    text += std::to_string(s.height);
    text += ", ";
    text += std::to_string(s.width);
  }
  text += ")";
  return text;
}

// Shape inference for one layer; `where` names it ("layer 3 (Conv2D)") in every error.
class LayerShaper {
 public:
  LayerShaper(const SampleShape& in, std::string where) : in_(in), where_(std::move(where)) {}

  Status operator()(const Conv2DSpec& c) {
    if (c.filters <= 0) return Error("filters must be positive, got " + std::to_string(c.filters));
    LABBOOK_RETURN_IF_ERROR(CheckImageInput());
    LABBOOK_RETURN_IF_ERROR(CheckWindow("kernel", c.kernel_h, c.kernel_w, c.stride_h, c.stride_w));
    if (c.l2 < 0) return Error("l2 must be non-negative, got " + std::to_string(c.l2));
    LABBOOK_RETURN_IF_ERROR(
        SpatialOutput("kernel", c.kernel_h, c.kernel_w, c.stride_h, c.stride_w, c.padding));
    out_.channels = c.filters;
    params_.push_back({"kernel", {c.filters, in_.channels, c.kernel_h, c.kernel_w}, true});
    if (c.use_bias) params_.push_back({"bias", {c.filters}, true});
    return Status::Ok();
  }

  Status operator()(const Pool2DSpec& p) {
    LABBOOK_RETURN_IF_ERROR(CheckImageInput());
    LABBOOK_RETURN_IF_ERROR(CheckWindow("pool", p.pool_h, p.pool_w, p.stride_h, p.stride_w));
    LABBOOK_RETURN_IF_ERROR(
        SpatialOutput("pool", p.pool_h, p.pool_w, p.stride_h, p.stride_w, p.padding));
    out_.channels = in_.channels;
    return Status::Ok();
  }

  Status operator()(const FlattenSpec&) {
    out_ = {static_cast<int>(in_.size()), 1, 1, true};
    return Status::Ok();
  }

  Status operator()(const DropoutSpec& d) {
    if (!(d.rate >= 0.0 && d.rate < 1.0)) {
      return Error("rate must be in [0, 1), got " + std::to_string(d.rate));
    }
    out_ = in_;
    return Status::Ok();
  }

  Status operator()(const DenseSpec& d) {
    if (d.units <= 0) return Error("units must be positive, got " + std::to_string(d.units));
    if (!in_.flat) {
      return Error("needs a flat input but gets " + ShapeText(in_) + "; add Flatten before it");
    }
    if (d.l2 < 0) return Error("l2 must be non-negative, got " + std::to_string(d.l2));
    out_ = {d.units, 1, 1, true};
    params_.push_back({"kernel", {d.units, in_.channels}, true});
    if (d.use_bias) params_.push_back({"bias", {d.units}, true});
    return Status::Ok();
  }

  Status operator()(const BatchNormSpec& b) {
    if (!(b.momentum >= 0.0 && b.momentum <= 1.0)) {
      return Error("momentum must be in [0, 1], got " + std::to_string(b.momentum));
    }
    if (!(b.epsilon > 0.0))
      return Error("epsilon must be positive, got " + std::to_string(b.epsilon));
    out_ = in_;
    const int64_t c = in_.channels;  // per channel of an image, per feature of a vector
    params_.push_back({"gamma", {c}, true});
    params_.push_back({"beta", {c}, true});
    params_.push_back({"moving_mean", {c}, false});
    params_.push_back({"moving_variance", {c}, false});
    return Status::Ok();
  }

  Status operator()(const ActivationSpec&) {
    out_ = in_;
    return Status::Ok();
  }

  const SampleShape& output() const { return out_; }
  std::vector<ParamShape>& params() { return params_; }

 private:
  Status Error(const std::string& what) const { return InvalidArgument(where_ + ": " + what); }

  Status CheckImageInput() const {
    if (in_.flat) {
      return Error("needs an image input (channels, height, width) but gets the flat " +
                   ShapeText(in_) + " (after Flatten or Dense)");
    }
    return Status::Ok();
  }

  Status CheckWindow(const std::string& what, int h, int w, int stride_h, int stride_w) const {
    if (h <= 0 || w <= 0) {
      return Error(what + " size must be positive, got " + std::to_string(h) + "x" +
                   std::to_string(w));
    }
    if (stride_h <= 0 || stride_w <= 0) {
      return Error("strides must be positive, got " + std::to_string(stride_h) + "x" +
                   std::to_string(stride_w));
    }
    return Status::Ok();
  }

  Status SpatialOutput(const std::string& what, int h, int w, int stride_h, int stride_w,
                       Padding padding) {
    const WindowAxis rows = ComputeWindowAxis(in_.height, h, stride_h, padding);
    const WindowAxis cols = ComputeWindowAxis(in_.width, w, stride_w, padding);
    if (rows.output <= 0 || cols.output <= 0) {
      return Error(what + " " + std::to_string(h) + "x" + std::to_string(w) +
                   " is larger than its " + std::to_string(in_.height) + "x" +
                   std::to_string(in_.width) + " input with valid padding");
    }
    out_ = {0, rows.output, cols.output, false};
    return Status::Ok();
  }

  SampleShape in_;
  std::string where_;
  SampleShape out_;
  std::vector<ParamShape> params_;
};

}  // namespace

int64_t ParamShape::size() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

int64_t LayerInfo::param_count() const {
  int64_t n = 0;
  for (const ParamShape& p : params) n += p.size();
  return n;
}

int64_t TrainableParamCount(const std::vector<LayerInfo>& layers) {
  int64_t n = 0;
  for (const LayerInfo& layer : layers) {
    for (const ParamShape& p : layer.params) {
      if (p.trainable) n += p.size();
    }
  }
  return n;
}

WindowAxis ComputeWindowAxis(int input, int window, int stride, Padding padding) {
  WindowAxis axis;
  if (padding == Padding::kValid) {
    axis.output = input >= window ? (input - window) / stride + 1 : 0;
    return axis;
  }
  axis.output = (input + stride - 1) / stride;
  const int total = std::max((axis.output - 1) * stride + window - input, 0);
  axis.pad_before = total / 2;
  axis.pad_after = total - axis.pad_before;
  return axis;
}

Result<std::vector<LayerInfo>> InferShapes(const ModelSpec& spec) {
  const SampleShape& input = spec.input;
  if (input.channels <= 0 || input.height <= 0 || input.width <= 0) {
    return InvalidArgument("model input: shape " + ShapeText(input) + " must be positive");
  }
  if (input.flat && (input.height != 1 || input.width != 1)) {
    return InvalidArgument("model input: a flat input has height and width 1, got " +
                           std::to_string(input.height) + "x" + std::to_string(input.width));
  }
  if (spec.layers.empty()) return InvalidArgument("model: needs at least one layer");

  std::vector<LayerInfo> infos;
  std::map<std::string_view, int> uses;  // Keras numbers repeated names: dense, dense_1, ...
  SampleShape current = input;
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& layer = spec.layers[i];
    const LayerKind kind = KindOf(layer);
    LayerInfo info;
    info.type = kind.type;
    const int use = uses[kind.base_name]++;
    info.name = use == 0 ? std::string(kind.base_name)
                         : std::string(kind.base_name) + "_" + std::to_string(use);
    LayerShaper shaper(current,
                       "layer " + std::to_string(i) + " '" + info.name + "' (" + info.type + ")");
    LABBOOK_RETURN_IF_ERROR(std::visit(shaper, layer));
    info.output = shaper.output();
    info.params = std::move(shaper.params());
    if (const auto* conv = std::get_if<Conv2DSpec>(&layer)) info.activation = conv->activation;
    if (const auto* dense = std::get_if<DenseSpec>(&layer)) info.activation = dense->activation;
    if (const auto* act = std::get_if<ActivationSpec>(&layer)) info.activation = act->activation;
    current = info.output;
    infos.push_back(std::move(info));
  }
  return infos;
}

std::string_view ActivationName(Activation activation) {
  switch (activation) {
    case Activation::kLinear:
      return "linear";
    case Activation::kRelu:
      return "relu";
    case Activation::kTanh:
      return "tanh";
    case Activation::kSigmoid:
      return "sigmoid";
    case Activation::kSoftmax:
      return "softmax";
    case Activation::kElu:
      return "elu";
  }
  return "unknown";
}

std::string_view PaddingName(Padding padding) {
  return padding == Padding::kValid ? "valid" : "same";
}

std::string_view InitializerName(Initializer initializer) {
  switch (initializer) {
    case Initializer::kGlorotUniform:
      return "glorot_uniform";
    case Initializer::kHeNormal:
      return "he_normal";
    case Initializer::kZeros:
      return "zeros";
    case Initializer::kOnes:
      return "ones";
  }
  return "unknown";
}

}  // namespace labbook::nn
