// The seam between the trainer and the arithmetic. A Backend compiles a ModelSpec into a
// CompiledModel for a maximum batch size; the trainer, losses and optimizers only see the
// CompiledModel interface, so the reference loops and the oneDNN primitives are interchangeable
// and tested against each other.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "labbook/status.hpp"
#include "nn/spec.hpp"

namespace labbook::nn {

enum class Precision { kFloat32, kBFloat16 };  // bf16: bf16 compute, fp32 master weights

// A parameter as the optimizer sees it: value and gradient buffers of the same length, in
// whatever layout the backend keeps (element-wise updates do not care). Backends that keep a
// blocked layout must also keep padding elements' gradients at zero.
struct ParamView {
  std::string name;  // "<layer name>/<param name>", e.g. "conv2d/kernel"
  float* value = nullptr;
  float* grad = nullptr;  // null for non-trainable parameters
  int64_t size = 0;       // elements in value (and grad)
  bool trainable = true;
  double l2 = 0.0;  // the layer's kernel regulariser, 0 for biases and BatchNorm parameters
};

// Named tensors in the canonical layouts of spec.hpp: how weights leave and enter a model (model
// files, PyTorch parity tests, continuing training on another backend).
struct NamedTensor {
  std::string name;  // as ParamView::name
  std::vector<int64_t> dims;
  std::vector<float> values;
};

// What Backward receives. With kPreActivation the gradient is with respect to the last layer's
// input to its activation (the logits of a softmax output), which is how softmax and cross-entropy
// are fused into the numerically stable p - y.
enum class GradientOf { kOutput, kPreActivation };

// One model on one backend, sized for batches of up to max_batch samples. Not thread-safe: one
// training loop drives it. Buffers it returns stay valid until the next call.
class CompiledModel {
 public:
  virtual ~CompiledModel() = default;

  virtual const std::vector<LayerInfo>& layers() const = 0;
  virtual int max_batch() const = 0;

  // input: n samples in NCHW floats, n <= max_batch. Returns the model output, (n, K) row-major.
  // training enables dropout (seeded by SetSeed) and batch statistics in BatchNormalization.
  virtual const float* Forward(const float* input, int n, bool training) = 0;

  // Pre-activation values of the last layer from the last Forward, (n, K): the logits.
  virtual const float* LastPreActivation() const = 0;

  // Back-propagates grad ((n, K), for the n of the last Forward(training=true)) and sets every
  // trainable parameter's grad buffer to d loss / d parameter (overwriting, not accumulating).
  virtual void Backward(const float* grad, GradientOf of) = 0;

  // Every parameter in layer order; pointers stay valid for the model's life.
  virtual std::vector<ParamView> Parameters() = 0;

  // Seeds dropout masks; the same seed and call sequence give the same masks. Backends draw them
  // with DrawDropoutKeep (nn/random.hpp) so that they match across backends.
  virtual void SetSeed(uint64_t seed) = 0;

  // Canonical-layout copies of all parameters, and the reverse. Import fails with InvalidArgument
  // naming the tensor when a name is missing or its dims differ.
  virtual std::vector<NamedTensor> ExportWeights() const = 0;
  [[nodiscard]] virtual Status ImportWeights(const std::vector<NamedTensor>& weights) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;  // "reference", "onednn"
  // Builds the model with freshly initialised weights drawn from `seed` (Keras initialisers;
  // identical across backends for the same seed: initial values are generated in the canonical
  // layout by one shared routine, then imported) and seeds dropout as SetSeed(seed) does.
  // InvalidArgument for a spec InferShapes rejects or a precision the backend does not support.
  [[nodiscard]] virtual Result<std::unique_ptr<CompiledModel>> Compile(const ModelSpec& spec,
                                                                      int max_batch,
                                                                      Precision precision,
                                                                      uint64_t seed) = 0;
};

// The reference backend: plain loops, float32 only, the readable oracle of every fast kernel.
std::unique_ptr<Backend> MakeReferenceBackend();
// The oneDNN backend (CPU primitives, blocked layouts, fp32 and bf16).
std::unique_ptr<Backend> MakeOneDnnBackend(int num_threads);

// Canonical-layout initial weights for `spec` from `seed`, shared by all backends.
[[nodiscard]] Result<std::vector<NamedTensor>> InitialWeights(const ModelSpec& spec,
                                                              uint64_t seed);

}  // namespace labbook::nn
