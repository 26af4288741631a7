#include "nn/reference/network.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <variant>

#include "core/status_macros.hpp"
#include "nn/reference/kernels.hpp"

namespace labbook::nn::reference {
namespace {

// A broken call contract (batch too large, Backward before Forward) is a bug in the caller, not
// an input error, and the interface returns no Status there: stop loudly.
void Require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "labbook::nn::reference::Network: %s\n", what);
  std::abort();
}

WindowShape MakeWindowShape(int n, const SampleShape& in, const SampleShape& out, int window_h,
                            int window_w, int stride_h, int stride_w, Padding padding) {
  WindowShape s;
  s.batch = n;
  s.channels = in.channels;
  s.in_h = in.height;
  s.in_w = in.width;
  s.window_h = window_h;
  s.window_w = window_w;
  s.stride_h = stride_h;
  s.stride_w = stride_w;
  s.pad_top = ComputeWindowAxis(in.height, window_h, stride_h, padding).pad_before;
  s.pad_left = ComputeWindowAxis(in.width, window_w, stride_w, padding).pad_before;
  s.out_h = out.height;
  s.out_w = out.width;
  return s;
}

std::string DimsText(const std::vector<int64_t>& dims) {
  std::string text = "(";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(dims[i]);
  }
  return text + ")";
}

// A batch of samples of this shape as (N, C, L): channels of an image, features of a vector.
NormShape AsNormShape(int n, const SampleShape& shape) {
  return {n, shape.channels, int64_t{shape.height} * shape.width};
}

}  // namespace

template <typename T>
Network<T>::Network(ModelSpec spec, std::vector<LayerInfo> infos, int max_batch)
    : spec_(std::move(spec)), infos_(std::move(infos)), max_batch_(max_batch) {}

template <typename T>
Result<std::unique_ptr<Network<T>>> Network<T>::Create(const ModelSpec& spec, int max_batch) {
  if (max_batch < 1) {
    return InvalidArgument("max_batch must be at least 1, got " + std::to_string(max_batch));
  }
  LABBOOK_ASSIGN_OR_RETURN(std::vector<LayerInfo> infos, InferShapes(spec));
  std::unique_ptr<Network> net(new Network(spec, std::move(infos), max_batch));
  const auto batch = static_cast<size_t>(max_batch);

  SampleShape in = spec.input;
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerInfo& info = net->infos_[i];
    const LayerSpec& layer_spec = spec.layers[i];
    Layer layer;
    layer.spec = layer_spec;
    layer.in = in;
    layer.out = info.output;
    const auto out_size = static_cast<size_t>(info.output.size());
    layer.output.resize(batch * out_size);
    if (i + 1 < spec.layers.size()) layer.output_grad.resize(batch * out_size);

    double l2 = 0.0;
    if (const auto* conv = std::get_if<Conv2DSpec>(&layer_spec)) l2 = conv->l2;
    if (const auto* dense = std::get_if<DenseSpec>(&layer_spec)) l2 = dense->l2;
    for (const ParamShape& shape : info.params) {
      Parameter p;
      p.name = info.name + "/" + shape.name;
      p.dims = shape.dims;
      const bool starts_at_one = shape.name == "gamma" || shape.name == "moving_variance";
      p.value.assign(static_cast<size_t>(shape.size()), starts_at_one ? T(1) : T(0));
      if (shape.trainable) p.grad.assign(static_cast<size_t>(shape.size()), T(0));
      p.trainable = shape.trainable;
      p.l2 = shape.name == "kernel" ? l2 : 0.0;
      layer.params.push_back(net->params_.size());
      net->params_.push_back(std::move(p));
    }

    if (info.activation != Activation::kLinear && (std::holds_alternative<Conv2DSpec>(layer_spec) ||
                                                   std::holds_alternative<DenseSpec>(layer_spec))) {
      layer.pre_activation.resize(batch * out_size);
      layer.pre_activation_grad.resize(batch * out_size);
    }
    if (const auto* pool = std::get_if<Pool2DSpec>(&layer_spec); pool != nullptr && pool->max) {
      layer.argmax.resize(batch * out_size);
    }
    if (std::holds_alternative<DropoutSpec>(layer_spec)) layer.keep.resize(batch * out_size);
    if (std::holds_alternative<BatchNormSpec>(layer_spec)) {
      layer.batch_mean.resize(static_cast<size_t>(in.channels));
      layer.batch_variance.resize(static_cast<size_t>(in.channels));
    }
    net->layers_.push_back(std::move(layer));
    in = info.output;
  }
  net->input_.resize(batch * static_cast<size_t>(spec.input.size()));
  net->input_grad_.resize(net->input_.size());
  return net;
}

template <typename T>
const T* Network<T>::InputOf(size_t i) const {
  return i == 0 ? input_.data() : layers_[i - 1].output.data();
}

template <typename T>
const T* Network<T>::Forward(const T* input, int n, bool training) {
  Require(n >= 1 && n <= max_batch_, "Forward: batch size outside [1, max_batch]");
  std::copy(input, input + int64_t{n} * input_size(), input_.begin());
  for (size_t i = 0; i < layers_.size(); ++i) ForwardLayer(i, n, training);
  last_n_ = n;
  last_training_ = training;
  return layers_.back().output.data();
}

template <typename T>
void Network<T>::ForwardLayer(size_t i, int n, bool training) {
  Layer& layer = layers_[i];
  const T* in = InputOf(i);
  T* out = layer.output.data();
  const int64_t in_count = int64_t{n} * layer.in.size();
  auto value = [&](size_t k) { return params_[layer.params[k]].value.data(); };

  if (const auto* conv = std::get_if<Conv2DSpec>(&layer.spec)) {
    const WindowShape s = MakeWindowShape(n, layer.in, layer.out, conv->kernel_h, conv->kernel_w,
                                          conv->stride_h, conv->stride_w, conv->padding);
    const bool activated = conv->activation != Activation::kLinear;
    T* z = activated ? layer.pre_activation.data() : out;
    Conv2DForward(s, conv->filters, in, value(0), conv->use_bias ? value(1) : nullptr, z);
    if (activated) ActivationForward(conv->activation, AsNormShape(n, layer.out), z, out);
  } else if (const auto* pool = std::get_if<Pool2DSpec>(&layer.spec)) {
    const WindowShape s = MakeWindowShape(n, layer.in, layer.out, pool->pool_h, pool->pool_w,
                                          pool->stride_h, pool->stride_w, pool->padding);
    if (pool->max) {
      MaxPool2DForward(s, in, out, layer.argmax.data());
    } else {
      AvgPool2DForward(s, in, out);
    }
  } else if (std::holds_alternative<FlattenSpec>(layer.spec)) {
    // NCHW samples are already C, H, W-ordered vectors.
    std::copy(in, in + in_count, out);
  } else if (const auto* dropout = std::get_if<DropoutSpec>(&layer.spec)) {
    if (training) {
      DrawDropoutKeep(dropout_rng_, dropout->rate, in_count, layer.keep.data());
      DropoutForward(in_count, dropout->rate, layer.keep.data(), in, out);
    } else {
      std::copy(in, in + in_count, out);
    }
  } else if (const auto* dense = std::get_if<DenseSpec>(&layer.spec)) {
    const bool activated = dense->activation != Activation::kLinear;
    T* z = activated ? layer.pre_activation.data() : out;
    DenseForward(n, layer.in.channels, dense->units, in, value(0),
                 dense->use_bias ? value(1) : nullptr, z);
    if (activated) ActivationForward(dense->activation, AsNormShape(n, layer.out), z, out);
  } else if (const auto* norm = std::get_if<BatchNormSpec>(&layer.spec)) {
    const NormShape s = AsNormShape(n, layer.in);
    T* moving_mean = value(2);
    T* moving_variance = value(3);
    if (!training) {
      BatchNormInferenceForward(s, norm->epsilon, in, value(0), value(1), moving_mean,
                                moving_variance, out);
      return;
    }
    BatchNormTrainingForward(s, norm->epsilon, in, value(0), value(1), out, layer.batch_mean.data(),
                             layer.batch_variance.data());
    // The moving variance averages the unbiased batch variance (see BatchNormSpec).
    const double count = static_cast<double>(n) * static_cast<double>(s.spatial);
    const double bessel = count > 1 ? count / (count - 1) : 1.0;
    const double m = norm->momentum;
    for (int c = 0; c < s.channels; ++c) {
      moving_mean[c] = static_cast<T>(m * moving_mean[c] + (1 - m) * layer.batch_mean[c]);
      moving_variance[c] =
          static_cast<T>(m * moving_variance[c] + (1 - m) * layer.batch_variance[c] * bessel);
    }
  } else if (const auto* act = std::get_if<ActivationSpec>(&layer.spec)) {
    ActivationForward(act->activation, AsNormShape(n, layer.in), in, out);
  }
}

template <typename T>
const T* Network<T>::LastPreActivation() const {
  const Layer& last = layers_.back();
  if (!last.pre_activation.empty()) return last.pre_activation.data();
  if (std::holds_alternative<ActivationSpec>(last.spec)) return InputOf(layers_.size() - 1);
  return last.output.data();
}

template <typename T>
void Network<T>::Backward(const T* grad, GradientOf of) {
  Require(last_n_ > 0, "Backward before any Forward");
  const T* dout = grad;
  for (size_t i = layers_.size(); i-- > 0;) {
    T* din = nullptr;
    if (i > 0) {
      din = layers_[i - 1].output_grad.data();
    } else if (compute_input_gradient_) {
      din = input_grad_.data();
    }
    const bool from_pre_activation = of == GradientOf::kPreActivation && i + 1 == layers_.size();
    BackwardLayer(i, last_n_, dout, from_pre_activation, din);
    dout = din;
  }
}

template <typename T>
void Network<T>::BackwardLayer(size_t i, int n, const T* dout, bool from_pre_activation, T* din) {
  Layer& layer = layers_[i];
  const T* in = InputOf(i);
  const int64_t in_count = int64_t{n} * layer.in.size();
  auto value = [&](size_t k) { return params_[layer.params[k]].value.data(); };
  auto grad = [&](size_t k) { return params_[layer.params[k]].grad.data(); };

  // Conv2D and Dense: first back through the activation unless the caller starts below it.
  auto through_activation = [&](Activation activation) -> const T* {
    if (activation == Activation::kLinear || from_pre_activation) return dout;
    ActivationBackward(activation, AsNormShape(n, layer.out), layer.pre_activation.data(),
                       layer.output.data(), dout, layer.pre_activation_grad.data());
    return layer.pre_activation_grad.data();
  };

  if (const auto* conv = std::get_if<Conv2DSpec>(&layer.spec)) {
    const WindowShape s = MakeWindowShape(n, layer.in, layer.out, conv->kernel_h, conv->kernel_w,
                                          conv->stride_h, conv->stride_w, conv->padding);
    const T* dz = through_activation(conv->activation);
    Conv2DBackward(s, conv->filters, in, value(0), dz, din, grad(0),
                   conv->use_bias ? grad(1) : nullptr);
  } else if (const auto* pool = std::get_if<Pool2DSpec>(&layer.spec)) {
    if (din == nullptr) return;
    const WindowShape s = MakeWindowShape(n, layer.in, layer.out, pool->pool_h, pool->pool_w,
                                          pool->stride_h, pool->stride_w, pool->padding);
    if (pool->max) {
      MaxPool2DBackward(s, layer.argmax.data(), dout, din);
    } else {
      AvgPool2DBackward(s, dout, din);
    }
  } else if (std::holds_alternative<FlattenSpec>(layer.spec)) {
    if (din != nullptr) std::copy(dout, dout + in_count, din);
  } else if (const auto* dropout = std::get_if<DropoutSpec>(&layer.spec)) {
    if (din == nullptr) return;
    if (last_training_) {
      DropoutBackward(in_count, dropout->rate, layer.keep.data(), dout, din);
    } else {
      std::copy(dout, dout + in_count, din);
    }
  } else if (const auto* dense = std::get_if<DenseSpec>(&layer.spec)) {
    const T* dz = through_activation(dense->activation);
    DenseBackward(n, layer.in.channels, dense->units, in, value(0), dz, din, grad(0),
                  dense->use_bias ? grad(1) : nullptr);
  } else if (const auto* norm = std::get_if<BatchNormSpec>(&layer.spec)) {
    const NormShape s = AsNormShape(n, layer.in);
    if (last_training_) {
      BatchNormTrainingBackward(s, norm->epsilon, in, value(0), layer.batch_mean.data(),
                                layer.batch_variance.data(), dout, din, grad(0), grad(1));
    } else {
      BatchNormInferenceBackward(s, norm->epsilon, in, value(0), value(2), value(3), dout, din,
                                 grad(0), grad(1));
    }
  } else if (const auto* act = std::get_if<ActivationSpec>(&layer.spec)) {
    if (din == nullptr) return;
    if (from_pre_activation) {
      std::copy(dout, dout + in_count, din);
    } else {
      ActivationBackward(act->activation, AsNormShape(n, layer.in), in, layer.output.data(), dout,
                         din);
    }
  }
}

template <typename T>
std::vector<NamedTensor> Network<T>::ExportWeights() const {
  std::vector<NamedTensor> weights;
  for (const Parameter& p : params_) {
    weights.push_back({p.name, p.dims, std::vector<float>(p.value.begin(), p.value.end())});
  }
  return weights;
}

template <typename T>
Status Network<T>::ImportWeights(const std::vector<NamedTensor>& weights) {
  std::map<std::string, const NamedTensor*> by_name;
  for (const NamedTensor& tensor : weights) {
    if (!by_name.emplace(tensor.name, &tensor).second) {
      return InvalidArgument("weights: tensor '" + tensor.name + "' appears twice");
    }
  }
  // Validate everything before changing anything, so a failed import leaves the model intact.
  for (const Parameter& p : params_) {
    const auto it = by_name.find(p.name);
    if (it == by_name.end()) return InvalidArgument("weights: missing tensor '" + p.name + "'");
    const NamedTensor& tensor = *it->second;
    if (tensor.dims != p.dims) {
      return InvalidArgument("weights: tensor '" + p.name + "' has dims " + DimsText(tensor.dims) +
                             ", the model expects " + DimsText(p.dims));
    }
    if (tensor.values.size() != p.value.size()) {
      return InvalidArgument("weights: tensor '" + p.name + "' has " +
                             std::to_string(tensor.values.size()) + " values for dims " +
                             DimsText(p.dims));
    }
  }
  if (by_name.size() != params_.size()) {
    for (const auto& [name, tensor] : by_name) {
      const bool known = std::any_of(params_.begin(), params_.end(),
                                     [&](const Parameter& p) { return p.name == name; });
      if (!known) return InvalidArgument("weights: the model has no tensor '" + name + "'");
    }
  }
  for (Parameter& p : params_) {
    const std::vector<float>& values = by_name.at(p.name)->values;
    std::transform(values.begin(), values.end(), p.value.begin(),
                   [](float v) { return static_cast<T>(v); });
  }
  return Status::Ok();
}

template class Network<float>;
template class Network<double>;

}  // namespace labbook::nn::reference
