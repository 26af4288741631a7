// A Sequential model on the reference kernels, templated on the scalar: Network<float> is the
// reference backend's CompiledModel (reference_backend.cpp), Network<double> runs the
// finite-difference gradient checks with the same code. Single-threaded, so results depend only
// on the seed and the call sequence.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "labbook/status.hpp"
#include "nn/backend.hpp"
#include "nn/random.hpp"
#include "nn/spec.hpp"

namespace labbook::nn::reference {

template <typename T>
class Network {
 public:
  // One parameter tensor in its canonical layout; grad is empty for non-trainable ones.
  struct Parameter {
    std::string name;  // "<layer name>/<param name>"
    std::vector<int64_t> dims;
    std::vector<T> value;
    std::vector<T> grad;
    bool trainable = true;
    double l2 = 0.0;
  };

  // Validates the spec (InferShapes) and sizes every buffer for max_batch samples. Parameters
  // start at zero (BatchNorm's gamma and moving variance at one) until ImportWeights. The dropout
  // stream starts as SetSeed(0).
  [[nodiscard]] static Result<std::unique_ptr<Network>> Create(const ModelSpec& spec,
                                                               int max_batch);

  const std::vector<LayerInfo>& layers() const { return infos_; }
  int max_batch() const { return max_batch_; }
  int64_t input_size() const { return spec_.input.size(); }
  int64_t output_size() const { return infos_.back().output.size(); }

  // input (n, input_size) NCHW, 1 <= n <= max_batch; returns (n, output_size). Copies the input,
  // which Backward needs. Training draws dropout masks and normalises with batch statistics
  // (updating BatchNorm's moving averages); inference uses neither.
  const T* Forward(const T* input, int n, bool training);
  // (n, output_size): the last layer's input to its activation (its output if it has none).
  const T* LastPreActivation() const;
  // Differentiates the last Forward, in the mode it ran in, for the upstream gradient `grad`
  // (n, output_size) with respect to the output or to the last pre-activation, and overwrites
  // every trainable parameter's grad.
  void Backward(const T* grad, GradientOf of);

  // When enabled, Backward also computes d loss / d input, (n, input_size). Off by default: the
  // trainer never needs it and for the first Conv2D it costs as much as its weight gradient.
  void set_compute_input_gradient(bool on) { compute_input_gradient_ = on; }
  const T* InputGradient() const { return input_grad_.data(); }

  // Every parameter in layer order; the vector and its buffers never reallocate.
  std::vector<Parameter>& parameters() { return params_; }
  const std::vector<Parameter>& parameters() const { return params_; }

  void SetSeed(uint64_t seed) { dropout_rng_ = Xoshiro256(seed); }

  std::vector<NamedTensor> ExportWeights() const;
  // InvalidArgument naming the tensor when one is missing, unknown, or of other dims or size.
  [[nodiscard]] Status ImportWeights(const std::vector<NamedTensor>& weights);

 private:
  // One layer's buffers, all sized for max_batch samples.
  struct Layer {
    LayerSpec spec;
    SampleShape in;  // one sample's shape
    SampleShape out;
    std::vector<size_t> params;     // indices into params_, in LayerInfo::params order
    std::vector<T> pre_activation;  // Conv2D/Dense with a non-linear activation
    std::vector<T> output;
    std::vector<T> output_grad;                 // d loss / d output, written by the next layer
    std::vector<T> pre_activation_grad;         // scratch of Conv2D/Dense
    std::vector<int32_t> argmax;                // MaxPooling2D
    std::vector<uint8_t> keep;                  // Dropout
    std::vector<T> batch_mean, batch_variance;  // BatchNormalization in training
  };

  Network(ModelSpec spec, std::vector<LayerInfo> infos, int max_batch);
  const T* InputOf(size_t i) const;
  void ForwardLayer(size_t i, int n, bool training);
  // dout: gradient at the layer's output, or at its pre-activation when `from_pre_activation`.
  // din: where the input gradient goes (null to skip it).
  void BackwardLayer(size_t i, int n, const T* dout, bool from_pre_activation, T* din);

  ModelSpec spec_;
  std::vector<LayerInfo> infos_;
  int max_batch_ = 0;
  std::vector<Parameter> params_;
  std::vector<Layer> layers_;
  std::vector<T> input_;
  std::vector<T> input_grad_;
  Xoshiro256 dropout_rng_{0};
  bool compute_input_gradient_ = false;
  int last_n_ = 0;
  bool last_training_ = false;
};

extern template class Network<float>;
extern template class Network<double>;

}  // namespace labbook::nn::reference
