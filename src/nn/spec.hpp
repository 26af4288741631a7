// What a Sequential model is, independent of any backend: the layer list with Keras' options,
// and the shapes and parameter counts that follow from an input shape.
//
// Layout conventions used by every backend and by the model file:
//   activations  NCHW (batch, channels, height, width); after Flatten, (N, C*H*W) in C, H, W order
//   Conv2D       kernel (filters, in_channels, kernel_h, kernel_w) = OIHW, bias (filters)
//   Dense        kernel (units, in_features), bias (units)
//   BatchNorm    gamma, beta, moving_mean, moving_variance, each (channels) or (features)
// These match PyTorch, so weights move between labbook and PyTorch without transposes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "labbook/status.hpp"

namespace labbook::nn {

enum class Activation { kLinear, kRelu, kTanh, kSigmoid, kSoftmax, kElu };
enum class Padding { kValid, kSame };
enum class Initializer { kGlorotUniform, kHeNormal, kZeros, kOnes };

struct Conv2DSpec {
  int filters = 0;
  int kernel_h = 3, kernel_w = 3;
  int stride_h = 1, stride_w = 1;
  Padding padding = Padding::kValid;
  Activation activation = Activation::kLinear;
  bool use_bias = true;
  Initializer kernel_initializer = Initializer::kGlorotUniform;
  Initializer bias_initializer = Initializer::kZeros;
  double l2 = 0.0;  // kernel regulariser: adds l2 * sum(w^2) to the loss
};

// With 'same' padding, AveragePooling2D averages only the window's elements inside the image
// (TensorFlow excludes the padding from the count) and MaxPooling2D ignores the padding.
struct Pool2DSpec {
  bool max = true;  // MaxPooling2D, else AveragePooling2D
  int pool_h = 2, pool_w = 2;
  int stride_h = 2, stride_w = 2;  // Keras: strides default to the pool size
  Padding padding = Padding::kValid;
};

struct FlattenSpec {};

struct DropoutSpec {
  double rate = 0.5;  // fraction dropped in training; kept units are scaled by 1/(1-rate)
};

struct DenseSpec {
  int units = 0;
  Activation activation = Activation::kLinear;
  bool use_bias = true;
  Initializer kernel_initializer = Initializer::kGlorotUniform;
  Initializer bias_initializer = Initializer::kZeros;
  double l2 = 0.0;
};

// Training normalises with the batch mean and biased variance, per channel of a 4-D input or per
// feature of a flat one; inference uses the moving statistics. The moving variance averages the
// unbiased batch variance (times m/(m-1), m = values per channel), as PyTorch and Keras 2's fused
// kernel (which every Conv2D network takes) do; Keras 3 and Keras 2's 2-D path average the biased
// one.
struct BatchNormSpec {
  double momentum = 0.99;  // Keras: moving = momentum * moving + (1 - momentum) * batch
  double epsilon = 1e-3;
};

// Softmax normalises over the features of a flat input and over the channels at each pixel of a
// 4-D one (Keras' last axis in channels_last).
struct ActivationSpec {
  Activation activation = Activation::kRelu;
};

using LayerSpec = std::variant<Conv2DSpec, Pool2DSpec, FlattenSpec, DropoutSpec, DenseSpec,
                               BatchNormSpec, ActivationSpec>;

// (channels, height, width) of one sample, or (features, 1, 1) after Flatten or Dense.
struct SampleShape {
  int channels = 0;
  int height = 0;
  int width = 0;
  bool flat = false;  // true after Flatten/Dense: the sample is a vector of `channels` features
  int64_t size() const { return int64_t{channels} * height * width; }
  friend bool operator==(const SampleShape&, const SampleShape&) = default;
};

struct ModelSpec {
  SampleShape input;  // images: (channels, rows, cols), flat = false
  std::vector<LayerSpec> layers;
};

// One parameter tensor of a layer, in the canonical layout above.
struct ParamShape {
  std::string name;           // "kernel", "bias", "gamma", "beta", "moving_mean", ...
  std::vector<int64_t> dims;  // e.g. {32, 1, 3, 3}
  bool trainable = true;      // false for BatchNorm's moving statistics
  int64_t size() const;
};

struct LayerInfo {
  std::string type;  // Keras class name: "Conv2D", "MaxPooling2D", "Dense", ...
  std::string name;  // Keras-style unique name: "conv2d", "conv2d_1", "dense", ...
  SampleShape output;
  std::vector<ParamShape> params;
  // The layer's own activation (Conv2D, Dense, Activation); kLinear for the other layers. The
  // last layer's tells the loss whether softmax and cross-entropy fuse.
  Activation activation = Activation::kLinear;
  int64_t param_count() const;  // all parameters, BatchNorm's non-trainable moving statistics too
};

// One spatial axis of a Conv2D or pooling window. Keras' output size: valid = floor((in - window)
// / stride) + 1, same = ceil(in / stride); 'same' pads (output - 1) * stride + window - in in
// total, the odd element after (bottom/right) as TensorFlow does.
struct WindowAxis {
  int output = 0;  // <= 0 when the window does not fit (valid padding, window > input)
  int pad_before = 0;
  int pad_after = 0;
};
WindowAxis ComputeWindowAxis(int input, int window, int stride, Padding padding);

// Infers every layer's output shape and parameters. InvalidArgument naming the layer (index and
// type) when a layer does not fit its input: a kernel larger than the (padded) image, Dense on an
// unflattened input, Conv2D after Flatten, a non-positive size, a dropout rate outside [0, 1).
[[nodiscard]] Result<std::vector<LayerInfo>> InferShapes(const ModelSpec& spec);

std::string_view ActivationName(Activation activation);
std::string_view PaddingName(Padding padding);
std::string_view InitializerName(Initializer initializer);

// Keras' "Trainable params" of a model summary; "Total params" is the sum of param_count().
int64_t TrainableParamCount(const std::vector<LayerInfo>& layers);

}  // namespace labbook::nn
