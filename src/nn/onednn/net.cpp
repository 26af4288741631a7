#include "nn/onednn/net.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "nn/onednn/kernels.hpp"

namespace labbook::nn::onednn {

namespace {

dnnl::memory ZeroedMemory(const MemoryDesc& desc, const dnnl::engine& engine) {
  dnnl::memory memory(desc, engine);
  std::memset(memory.get_data_handle(), 0, desc.get_size());
  return memory;
}

}  // namespace

void BufferPool::Free::operator()(void* p) const { std::free(p); }

void* BufferPool::Get(const std::string& key, size_t bytes) {
  std::vector<std::pair<size_t, Buffer>>& list = buffers_[key];
  for (auto& [size, buffer] : list) {
    if (size >= bytes) return buffer.get();
  }
  // 64-byte alignment for AVX-512 loads; zeroed so that blocked layouts' padding starts at zero.
  const size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
  void* data = std::aligned_alloc(64, rounded);
  if (data == nullptr) throw std::bad_alloc();
  std::memset(data, 0, rounded);
  list.emplace_back(rounded, Buffer(data));
  return data;
}

dnnl::primitive_attr NetBuilder::Attr() const {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

dnnl::primitive_attr NetBuilder::Attr(const dnnl::post_ops& post_ops) const {
  dnnl::primitive_attr attr = Attr();
  attr.set_post_ops(post_ops);
  return attr;
}

dnnl::memory NetBuilder::Alloc(const std::string& key, const MemoryDesc& desc) {
  const std::string shard_key =
      sharded() ? "shard" + std::to_string(shard_.index) + "/" + key : key;
  return dnnl::memory(desc, model_.engine, model_.pool.Get(shard_key, desc.get_size()));
}

const dnnl::memory& NetBuilder::GradOf(Param& param) {
  if (!sharded()) return param.grad;
  while (static_cast<int>(param.shard_grads.size()) < shard_.count) {
    param.shard_grads.push_back(ZeroedMemory(param.grad.get_desc(), model_.engine));
  }
  return param.shard_grads[shard_.index];
}

void* NetBuilder::AllocWholeBatch(const std::string& key, size_t bytes) {
  return model_.pool.Get(key, bytes);
}

void NetBuilder::AddWholeBatchTrainingStep(const std::string& label, std::function<void()> body) {
  if (!sharded()) {
    AddCustom(StepList::kForwardTraining, label, std::move(body));
    return;
  }
  if (shard_.index != 0) return;
  Step step;
  step.profile_slot = model_.profiler.Slot(label);
  step.custom = std::move(body);
  shard_.whole_batch_steps->push_back(std::move(step));
}

void NetBuilder::Append(StepList list, Step step) {
  switch (list) {
    case StepList::kForward:
      net_.forward_training.push_back(step);
      net_.forward_inference.push_back(std::move(step));
      break;
    case StepList::kForwardTraining:
      net_.forward_training.push_back(std::move(step));
      break;
    case StepList::kForwardInference:
      net_.forward_inference.push_back(std::move(step));
      break;
    case StepList::kBackward:
      backward_target_->push_back(std::move(step));
      break;
  }
}

void NetBuilder::Add(StepList list, const std::string& label, const dnnl::primitive& primitive,
                     std::unordered_map<int, dnnl::memory> args,
                     const MemoryDesc& scratchpad_desc) {
  Step step;
  step.profile_slot = model_.profiler.Slot(label);
  step.primitive = primitive;
  step.args = std::move(args);
  step.scratchpad_bytes = scratchpad_desc.get_size();
  Append(list, std::move(step));
}

void NetBuilder::AddCustom(StepList list, const std::string& label, std::function<void()> body) {
  Step step;
  step.profile_slot = model_.profiler.Slot(label);
  step.custom = std::move(body);
  Append(list, std::move(step));
}

dnnl::memory NetBuilder::Reordered(StepList list, const dnnl::memory& from, const MemoryDesc& want,
                                   const std::string& key, const std::string& label) {
  if (from.get_desc() == want) return from;
  dnnl::memory to = Alloc(key, want);
  dnnl::reorder::primitive_desc pd(model_.engine, from.get_desc(), model_.engine, want, Attr());
  Add(list, label, dnnl::reorder(pd), {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}},
      pd.scratchpad_desc());
  return to;
}

Tensor NetBuilder::InComputeType(StepList list, const Tensor& t, const std::string& key,
                                 const std::string& label) {
  if (!model_.bf16 || t.bf16) return t;
  if (model_.native_bf16) {
    return {Reordered(list, t.memory, WithDataType(t.desc(), DataType::bf16), key, label), true};
  }
  Tensor rounded{t.memory, true};
  RoundIfEmulated(list, rounded, label);
  return rounded;
}

void NetBuilder::RoundIfEmulated(StepList list, const Tensor& t, const std::string& label) {
  if (!t.bf16 || model_.native_bf16) return;
  float* data = static_cast<float*>(t.memory.get_data_handle());
  const int64_t count = PhysicalElements(t.desc());
  AddCustom(list, label, [data, count] { RoundToBFloat16(count, data, data); });
}

void NetBuilder::Finish() {
  size_t bytes = 0;
  for (auto* list : {&net_.forward_training, &net_.forward_inference, &net_.backward_from_output,
                     &net_.backward_from_pre_activation, &net_.backward}) {
    for (const Step& step : *list) bytes = std::max(bytes, step.scratchpad_bytes);
  }
  if (bytes == 0) return;
  const MemoryDesc desc({static_cast<dnnl::memory::dim>(bytes)}, DataType::u8,
                        dnnl::memory::format_tag::a);
  net_.scratchpad = Alloc("scratchpad", desc);
  for (auto* list : {&net_.forward_training, &net_.forward_inference, &net_.backward_from_output,
                     &net_.backward_from_pre_activation, &net_.backward}) {
    for (Step& step : *list) {
      if (step.scratchpad_bytes > 0) step.args[DNNL_ARG_SCRATCHPAD] = net_.scratchpad;
    }
  }
}

Param* AddParam(ModelContext& model, std::string name, std::vector<int64_t> dims, bool trainable,
                double l2, const MemoryDesc& canonical, const MemoryDesc& layout,
                bool bf16_compute) {
  auto param = std::make_unique<Param>();
  param->name = std::move(name);
  param->dims = std::move(dims);
  param->trainable = trainable;
  param->l2 = l2;
  param->canonical = canonical;
  const MemoryDesc value_desc = WithDataType(layout, DataType::f32);
  param->value = ZeroedMemory(value_desc, model.engine);
  if (trainable) param->grad = ZeroedMemory(value_desc, model.engine);
  param->separate_compute = bf16_compute && model.bf16;
  if (!param->separate_compute) {
    param->compute = param->value;
  } else if (model.native_bf16) {
    param->compute = ZeroedMemory(WithDataType(layout, DataType::bf16), model.engine);
    param->to_compute = dnnl::reorder(param->value, param->compute);
  } else {
    param->compute = ZeroedMemory(value_desc, model.engine);
  }
  model.params.push_back(std::move(param));
  return model.params.back().get();
}

void RefreshComputeCopies(ModelContext& model) {
  for (const auto& param : model.params) {
    if (!param->separate_compute) continue;
    if (model.native_bf16) {
      param->to_compute.execute(model.stream, param->value, param->compute);
    } else {
      RoundToBFloat16(param->physical_size(), param->value_data(),
                      static_cast<float*>(param->compute.get_data_handle()));
    }
  }
  model.stream.wait();
}

void RunSteps(ModelContext& model, std::vector<Step>& steps, dnnl::stream& stream, bool record) {
  const bool timed = record && model.profiler.enabled();
  for (Step& step : steps) {
    std::chrono::steady_clock::time_point start;
    if (timed) start = std::chrono::steady_clock::now();
    if (step.custom) {
      step.custom();
    } else {
      step.primitive.execute(stream, step.args);
    }
    if (timed) {
      stream.wait();
      model.profiler.Add(
          step.profile_slot,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }
  stream.wait();
}

MemoryDesc WithDataType(const MemoryDesc& desc, DataType type) {
  dnnl_memory_desc_t data = desc.data;
  data.data_type = static_cast<dnnl_data_type_t>(type);
  return MemoryDesc(data);
}

MemoryDesc PlainDesc(const dnnl::memory::dims& dims, DataType type) {
  using Tag = dnnl::memory::format_tag;
  static constexpr Tag kTags[] = {Tag::undef, Tag::a, Tag::ab, Tag::abc, Tag::abcd};
  return {dims, type, dims.size() < 5 ? kTags[dims.size()] : Tag::undef};
}

int64_t PhysicalElements(const MemoryDesc& desc) {
  return static_cast<int64_t>(desc.get_size() / dnnl::memory::data_type_size(desc.data_type()));
}

int64_t PhysicalOffset(const MemoryDesc& desc, const std::vector<int64_t>& index) {
  const dnnl_memory_desc_t& d = desc.data;
  const dnnl_blocking_desc_t& b = d.format_desc.blocking;
  int64_t block[DNNL_MAX_NDIMS];
  int64_t remainder[DNNL_MAX_NDIMS] = {};
  std::fill(block, block + DNNL_MAX_NDIMS, int64_t{1});
  for (int j = 0; j < b.inner_nblks; ++j) block[b.inner_idxs[j]] *= b.inner_blks[j];
  int64_t offset = d.offset0;
  for (int i = 0; i < d.ndims; ++i) {
    offset += index[i] / block[i] * b.strides[i];
    remainder[i] = index[i] % block[i];
  }
  // Inner blocks run from the outermost to the innermost; a dimension blocked twice (4b16a4b)
  // splits its remainder across both.
  int64_t inner = 0;
  for (int j = 0; j < b.inner_nblks; ++j) {
    const int dim = b.inner_idxs[j];
    block[dim] /= b.inner_blks[j];
    inner = inner * b.inner_blks[j] + remainder[dim] / block[dim];
    remainder[dim] %= block[dim];
  }
  return offset + inner;
}

dnnl::convolution_forward::primitive_desc ProbeConvolution(const dnnl::engine& engine,
                                                           DataType type, int batch, int channels) {
  const MemoryDesc src({batch, channels, 8, 8}, type, dnnl::memory::format_tag::any);
  const MemoryDesc weights({channels, channels, 3, 3}, type, dnnl::memory::format_tag::any);
  const MemoryDesc dst({batch, channels, 6, 6}, type, dnnl::memory::format_tag::any);
  return dnnl::convolution_forward::primitive_desc({dnnl::prop_kind::forward_training,
                                                    dnnl::algorithm::convolution_direct,
                                                    src,
                                                    weights,
                                                    dst,
                                                    {1, 1},
                                                    {0, 0},
                                                    {0, 0}},
                                                   engine);
}

bool ChannelLayoutOf(const MemoryDesc& desc, ChannelLayout* layout) {
  const dnnl_memory_desc_t& d = desc.data;
  if (d.format_kind != dnnl_blocked || (d.ndims != 2 && d.ndims != 4) || d.offset0 != 0) {
    return false;
  }
  const dnnl_blocking_desc_t& b = d.format_desc.blocking;
  int block = 1;
  if (b.inner_nblks == 1 && b.inner_idxs[0] == 1) {
    block = static_cast<int>(b.inner_blks[0]);
  } else if (b.inner_nblks != 0) {
    return false;
  }
  layout->batch_stride = b.strides[0];
  layout->block_stride = b.strides[1];
  layout->block = block;
  if (d.ndims == 2) {
    layout->pixel_stride = 0;
    return true;
  }
  // Pixels h * W + w need one stride: rows of width W one after the other.
  if (b.strides[2] != d.padded_dims[3] * b.strides[3]) return false;
  layout->pixel_stride = b.strides[3];
  return true;
}

}  // namespace labbook::nn::onednn
