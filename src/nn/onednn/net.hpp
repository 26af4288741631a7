// The pieces a compiled oneDNN model is made of. A model is a list of Ops (one per layer, plus a
// separate activation op where a layer's activation is not fused); for each batch size it runs, it
// builds a Net: the primitives and buffers of that batch size, created once and reused by every
// step. Parameters belong to the model and are shared by all its nets, in the layouts the
// max_batch net's primitives chose.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "nn/onednn/kernels.hpp"
#include "nn/onednn/profiler.hpp"
#include "nn/random.hpp"

namespace labbook::nn::onednn {

using MemoryDesc = dnnl::memory::desc;
using DataType = dnnl::memory::data_type;

// A tensor between two ops. `bf16` says its values are bf16: stored as bf16 when the CPU has bf16
// kernels, else stored as f32 values rounded to bf16 (the emulation that keeps the numerics).
struct Tensor {
  dnnl::memory memory;
  bool bf16 = false;
  const MemoryDesc desc() const { return memory.get_desc(); }
};

// One parameter tensor. `value` (the optimizer's master copy) and `grad` are f32 in the layout
// the max_batch forward primitive prefers, so that element-wise optimizer updates need no
// reorder. `compute` is what primitives read: `value` itself in fp32, else a bf16 copy (or a
// bf16-rounded f32 copy when emulating), refreshed from `value` before every Forward.
struct Param {
  std::string name;           // "<layer name>/<param name>"
  std::vector<int64_t> dims;  // canonical dims, as ParamShape
  bool trainable = true;
  double l2 = 0;
  MemoryDesc canonical;  // plain f32 in the canonical order (4-D for a Dense on 4-D input)
  dnnl::memory value;
  dnnl::memory grad;  // empty when not trainable
  dnnl::memory compute;
  bool separate_compute = false;
  dnnl::reorder to_compute;  // native bf16: value -> compute
  // Sharded nets: each shard's gradient, summed into `grad` after the shards' backward.
  std::vector<dnnl::memory> shard_grads;

  float* value_data() const { return static_cast<float*>(value.get_data_handle()); }
  float* grad_data() const { return grad ? static_cast<float*>(grad.get_data_handle()) : nullptr; }
  int64_t physical_size() const {
    return static_cast<int64_t>(value.get_desc().get_size() / sizeof(float));
  }
};

// Batch buffers shared by the nets of one model. Only one batch size runs at a time and no state
// survives from one Forward/Backward pair to the next, so the nets of the last partial batch
// reuse the buffers of the max_batch nets (shards, which run at the same time, use keys of their
// own). A later, larger request under the same key gets a new buffer; nets built earlier keep
// theirs.
class BufferPool {
 public:
  void* Get(const std::string& key, size_t bytes);

 private:
  struct Free {
    void operator()(void* p) const;
  };
  using Buffer = std::unique_ptr<void, Free>;
  std::unordered_map<std::string, std::vector<std::pair<size_t, Buffer>>> buffers_;
};

// One executable step: a primitive with its arguments, or a loop of ours.
struct Step {
  int profile_slot = -1;
  dnnl::primitive primitive;
  std::unordered_map<int, dnnl::memory> args;
  std::function<void()> custom;
  size_t scratchpad_bytes = 0;
};

// State shared by the model's ops and nets.
struct ModelContext {
  ModelContext(bool bf16, bool native_bf16, bool profile)
      : engine(dnnl::engine::kind::cpu, 0),
        stream(engine),
        bf16(bf16),
        native_bf16(native_bf16),
        profiler(profile) {}

  dnnl::engine engine;
  dnnl::stream stream;
  bool bf16;         // Precision::kBFloat16
  bool native_bf16;  // bf16 tensors go to oneDNN's bf16 kernels; else emulated (see Tensor)
  BufferPool pool;
  Profiler profiler;
  Xoshiro256 dropout_rng{0};
  std::vector<std::unique_ptr<Param>> params;  // layer order

  // The storage type of a tensor whose values are bf16 (`bf16`) or not.
  DataType StorageType(bool bf16_values) const {
    return bf16_values && native_bf16 ? DataType::bf16 : DataType::f32;
  }
};

// The primitives and buffers for one batch size, or for one shard of it: a slice of the batch
// that one thread runs on its own (see OneDnnModel).
struct Net {
  int id = 0;               // unique in the model: ops keep their per-net state under it
  int batch = 0;            // samples in this net (the shard's slice when sharded)
  int offset = 0;           // the first sample of the slice
  dnnl::memory user_input;  // (n, C, H, W) f32 plain on the caller's pointer, set per call
  dnnl::memory user_grad;   // (n, K) f32 plain on the caller's pointer, set per call
  std::vector<Step> forward_training;
  std::vector<Step> forward_inference;
  // Backward(kOutput) runs backward_from_output (the grad's reorder and the last activation's
  // backward) then `backward`; Backward(kPreActivation) runs backward_from_pre_activation (the
  // grad's reorder into the last activation's input gradient) then `backward`.
  std::vector<Step> backward_from_output;
  std::vector<Step> backward_from_pre_activation;
  std::vector<Step> backward;
  dnnl::memory scratchpad;
};

enum class StepList { kForward, kForwardTraining, kForwardInference, kBackward };

// Where a net sits in its batch of `batch` samples: alone (count 1), or shard `index` of
// `count`.
struct ShardInfo {
  int index = 0;
  int count = 1;
  int batch = 0;
  // Steps over the whole batch that run before the shards' forward (dropout masks, drawn in
  // layer order from the one stream); null when not sharded.
  std::vector<Step>* whole_batch_steps = nullptr;
};

// Appends steps to one Net. Ops call it to allocate buffers and to add primitives; the model
// calls Finish once every op is built.
class NetBuilder {
 public:
  NetBuilder(ModelContext& model, Net& net, ShardInfo shard)
      : model_(model), net_(net), shard_(shard) {}

  ModelContext& model() { return model_; }
  int net_id() const { return net_.id; }
  int batch() const { return net_.batch; }
  const ShardInfo& shard() const { return shard_; }
  bool sharded() const { return shard_.count > 1; }
  int offset() const { return net_.offset; }
  // The buffer the op's backward writes `param`'s gradient to: the parameter's own, or this
  // shard's.
  const dnnl::memory& GradOf(Param& param);
  // Where backward steps go: the first, when the last activation is built, are for
  // Backward(kOutput) only.
  void set_backward_target(std::vector<Step>* target) { backward_target_ = target; }

  // Attributes for every primitive: a user-managed scratchpad, shared by all steps of the net.
  dnnl::primitive_attr Attr() const;
  dnnl::primitive_attr Attr(const dnnl::post_ops& post_ops) const;

  // A memory of `desc` on the pool buffer `key` (key names the op and the role: "conv2d/dst"),
  // private to the shard: shards run at the same time.
  dnnl::memory Alloc(const std::string& key, const MemoryDesc& desc);
  // A buffer shared by all shards of the batch (each uses its own slice).
  void* AllocWholeBatch(const std::string& key, size_t bytes);
  // Appends a step over the whole batch: before the shards when sharded, else to the training
  // forward.
  void AddWholeBatchTrainingStep(const std::string& label, std::function<void()> body);

  void Add(StepList list, const std::string& label, const dnnl::primitive& primitive,
           std::unordered_map<int, dnnl::memory> args, const MemoryDesc& scratchpad_desc);
  void AddCustom(StepList list, const std::string& label, std::function<void()> body);

  // `from` as `want`: itself when the layouts agree, else a reorder (appended to `list`) into the
  // buffer `key`.
  dnnl::memory Reordered(StepList list, const dnnl::memory& from, const MemoryDesc& want,
                         const std::string& key, const std::string& label);
  // A tensor whose values are bf16 when the model computes in bf16 (what conv and dense
  // backward read): `t` itself, or converted in a new buffer (native) or rounded in place
  // (emulated).
  Tensor InComputeType(StepList list, const Tensor& t, const std::string& key,
                       const std::string& label);
  // Emulation only: rounds `t` in place when it holds bf16 values.
  void RoundIfEmulated(StepList list, const Tensor& t, const std::string& label);

  // Allocates the shared scratchpad and hands it to every primitive.
  void Finish();

 private:
  // Appends `step` to the step lists `list` names.
  void Append(StepList list, Step step);

  ModelContext& model_;
  Net& net_;
  ShardInfo shard_;
  std::vector<Step>* backward_target_ = nullptr;
};

// Adds a parameter to model.params: value and grad (when trainable) zeroed, f32 in the layout of
// `layout`. With `bf16_compute` in a bf16 model, primitives read a separate bf16 compute copy
// (weights); otherwise (biases, BatchNorm, every fp32 parameter) they read the value itself.
Param* AddParam(ModelContext& model, std::string name, std::vector<int64_t> dims, bool trainable,
                double l2, const MemoryDesc& canonical, const MemoryDesc& layout,
                bool bf16_compute);
// Brings every separate compute copy up to date with its value (after an optimizer step).
void RefreshComputeCopies(ModelContext& model);

// Runs `steps` on `stream`, timing each one in the model's profiler when `record` (one thread
// records: the profiler is not thread-safe).
void RunSteps(ModelContext& model, std::vector<Step>& steps, dnnl::stream& stream, bool record);

// A memory descriptor of the same layout as `desc` with another data type (strides count
// elements, so they carry over).
MemoryDesc WithDataType(const MemoryDesc& desc, DataType type);
// Plain row-major (a, ab, abc, abcd) of `dims`: NCHW for activations, canonical for weights.
MemoryDesc PlainDesc(const dnnl::memory::dims& dims, DataType type = DataType::f32);
// The number of elements `desc` spans, padding included.
int64_t PhysicalElements(const MemoryDesc& desc);
// The offset, in elements, of the element at the logical `index` (one entry per dimension) in a
// blocked layout, padding of blocked dimensions included.
int64_t PhysicalOffset(const MemoryDesc& desc, const std::vector<int64_t>& index);
// The ChannelLayout (kernels.hpp) of a 2-D (N, F) or 4-D (N, C, H, W) activation when it is plain
// or blocked by channels only (nChw8c, nChw16c); false for any other layout.
bool ChannelLayoutOf(const MemoryDesc& desc, ChannelLayout* layout);
// A 3x3, stride 1, unpadded convolution of (batch, channels, 8, 8) to `channels` channels in
// `type`, every layout left to oneDNN: what the backend builds to ask what this CPU supports and
// prefers. Throws dnnl::error when no implementation takes it.
dnnl::convolution_forward::primitive_desc ProbeConvolution(const dnnl::engine& engine,
                                                           DataType type, int batch, int channels);

}  // namespace labbook::nn::onednn
