// The oneDNN backend's CompiledModel.
//
// Compile builds the primitives of max_batch samples; the first Forward with a smaller n (the
// last partial batch of an epoch, an evaluation remainder) builds and caches a second set for that
// n, sharing buffers and parameters with the first. Activations stay in the primitives' blocked
// layouts between layers; only the input (NCHW) and the (n, K) output and gradient are reordered.
//
// With several threads, a batch is split into one shard per thread: each thread runs its slice
// through its own single-threaded primitives and buffers, and the shards meet only to draw the
// dropout masks (of the whole batch, in canonical order) and to add their weight gradients (in
// shard order). Compared with running every primitive on all threads, the threads never wait for
// each other between layers, which on a shared machine is where the time goes. Results depend on
// the thread count (the split and the order of the sums), and are deterministic for a given one.
// Models with BatchNormalization, whose statistics span the batch, are not split.
//
// Backward differentiates the last Forward, which must have run with training = true; an
// inference Forward in between is a misuse that aborts. Primitives for a new batch size are built
// inside Forward, which has no error channel: if oneDNN refused one (it accepts any batch size
// for shapes it accepted at Compile) Forward aborts with oneDNN's message.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "labbook/status.hpp"
#include "nn/backend.hpp"
#include "nn/onednn/net.hpp"
#include "nn/onednn/ops.hpp"

namespace labbook::nn::onednn {

class OneDnnModel final : public CompiledModel {
 public:
  // `spec` must pass InferShapes (given as `layers`); parameters start at zero until
  // ImportWeights. Internal when oneDNN cannot build a primitive.
  [[nodiscard]] static Result<std::unique_ptr<OneDnnModel>> Create(const ModelSpec& spec,
                                                                   std::vector<LayerInfo> layers,
                                                                   int max_batch,
                                                                   Precision precision,
                                                                   int num_threads);
  ~OneDnnModel() override;

  const std::vector<LayerInfo>& layers() const override { return layers_; }
  int max_batch() const override { return max_batch_; }
  const float* Forward(const float* input, int n, bool training) override;
  const float* LastPreActivation() const override;
  void Backward(const float* grad, GradientOf of) override;
  std::vector<ParamView> Parameters() override;
  void SetSeed(uint64_t seed) override;
  std::vector<NamedTensor> ExportWeights() const override;
  [[nodiscard]] Status ImportWeights(const std::vector<NamedTensor>& weights) override;

  // Canonical-layout copies of the trainable parameters' gradients from the last Backward, named
  // as ExportWeights names the parameters: what parity tests compare across backends.
  std::vector<NamedTensor> ExportGradients() const;

  // Whether bf16 runs on oneDNN's bf16 kernels (false: emulated with bf16-rounded f32 tensors).
  bool native_bf16() const { return context_->native_bf16; }

 private:
  // The nets of one batch size: one, or one per shard.
  struct BatchNets {
    std::vector<std::unique_ptr<Net>> shards;
    std::vector<Step> whole_batch_training;  // before the shards' training forward
    std::vector<Step> sum_gradients;         // after the shards' backward
    const float* output = nullptr;           // (n, K)
    const float* pre_activation = nullptr;   // (n, K)
  };

  OneDnnModel(const ModelSpec& spec, std::vector<LayerInfo> layers, int max_batch, int num_threads,
              std::unique_ptr<ModelContext> context);
  int ShardCount(int n) const;
  BatchNets& NetsFor(int n);
  void Build(Net& net, const ShardInfo& shard, BatchNets& nets);
  // Runs the step lists `first` then `second` (may be null) of every shard, in parallel.
  void RunShards(BatchNets& nets, std::vector<Step> Net::*first, std::vector<Step> Net::*second);
  int64_t output_size() const { return layers_.back().output.size(); }
  std::vector<NamedTensor> ExportCanonical(bool gradients) const;

  ModelSpec spec_;
  std::vector<LayerInfo> layers_;
  int max_batch_;
  int num_threads_;
  std::unique_ptr<ModelContext> context_;
  std::vector<std::unique_ptr<Op>> ops_;
  bool last_activation_ = false;
  std::map<int, std::unique_ptr<BatchNets>> nets_;
  std::vector<dnnl::stream> streams_;  // one per shard
  int next_net_id_ = 0;
  BatchNets* last_nets_ = nullptr;
  bool last_training_ = false;
};

// Whether oneDNN has bf16 convolutions on this CPU (AVX512-BF16, AMX, or AVX-512 emulation).
// LABBOOK_ONEDNN_BF16=emulate forces the emulation for testing.
bool NativeBf16Available();

}  // namespace labbook::nn::onednn
