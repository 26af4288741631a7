#include "nn/onednn/model.hpp"

#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <variant>

namespace labbook::nn::onednn {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

// A plain f32 copy of `t` for the caller: `t`'s own buffer when it already is one.
const float* PlainOutput(NetBuilder& b, const Tensor& t, const std::string& key,
                         const std::string& label) {
  const dnnl::memory plain =
      b.Reordered(StepList::kForward, t.memory, PlainDesc(t.desc().dims()), key, label);
  return static_cast<const float*>(plain.get_data_handle());
}

void AddReorder(NetBuilder& b, StepList list, const dnnl::memory& from, const dnnl::memory& to,
                const std::string& label) {
  dnnl::reorder::primitive_desc pd(b.model().engine, from.get_desc(), b.model().engine,
                                   to.get_desc(), b.Attr());
  b.Add(list, label, dnnl::reorder(pd), {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}},
        pd.scratchpad_desc());
}

// "32x1x3x3"
std::string DimsText(const std::vector<int64_t>& dims) {
  std::string text;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) text.push_back('x');
    text.append(std::to_string(dims[i]));
  }
  return text;
}

}  // namespace

bool NativeBf16Available() {
  const char* force = std::getenv("LABBOOK_ONEDNN_BF16");
  if (force != nullptr && std::strcmp(force, "emulate") == 0) return false;
  try {
    dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    ProbeConvolution(engine, DataType::bf16, /*batch=*/16, /*channels=*/16);
    return true;
  } catch (const dnnl::error&) {
    return false;
  }
}

Result<std::unique_ptr<OneDnnModel>> OneDnnModel::Create(const ModelSpec& spec,
                                                         std::vector<LayerInfo> layers,
                                                         int max_batch, Precision precision,
                                                         int num_threads) {
  if (max_batch < 1) {
    return InvalidArgument("onednn: max_batch must be at least 1, got " +
                           std::to_string(max_batch));
  }
  omp_set_num_threads(num_threads);
  const bool bf16 = precision == Precision::kBFloat16;
  try {
    auto context = std::make_unique<ModelContext>(bf16, bf16 && NativeBf16Available(),
                                                  Profiler::EnabledByEnvironment());
    std::unique_ptr<OneDnnModel> model(
        new OneDnnModel(spec, std::move(layers), max_batch, num_threads, std::move(context)));
    model->NetsFor(max_batch);
    return model;
  } catch (const dnnl::error& e) {
    return Internal(std::string("onednn: cannot build the model's primitives: ") + e.what());
  }
}

OneDnnModel::OneDnnModel(const ModelSpec& spec, std::vector<LayerInfo> layers, int max_batch,
                         int num_threads, std::unique_ptr<ModelContext> context)
    : spec_(spec),
      layers_(std::move(layers)),
      max_batch_(max_batch),
      num_threads_(num_threads),
      context_(std::move(context)) {
  ops_ = MakeOps(spec_, layers_, context_->native_bf16, &last_activation_);
}

OneDnnModel::~OneDnnModel() {
  const std::string report = context_->profiler.Report();
  if (!report.empty()) {
    std::fprintf(stderr, "labbook onednn profile (%s, %d threads):\n%s",
                 context_->bf16 ? (context_->native_bf16 ? "bf16" : "bf16 emulated") : "fp32",
                 num_threads_, report.c_str());
  }
}

int OneDnnModel::ShardCount(int n) const {
  if (num_threads_ < 2 || n < num_threads_) return 1;
  // BatchNormalization's statistics span the whole batch.
  for (const LayerSpec& layer : spec_.layers) {
    if (std::holds_alternative<BatchNormSpec>(layer)) return 1;
  }
  return num_threads_;
}

OneDnnModel::BatchNets& OneDnnModel::NetsFor(int n) {
  auto it = nets_.find(n);
  if (it != nets_.end()) return *it->second;
  auto nets = std::make_unique<BatchNets>();
  const int shards = ShardCount(n);
  while (static_cast<int>(streams_.size()) < shards) streams_.emplace_back(context_->engine);
  // Shard primitives run single-threaded (each inside its own thread of the parallel region), so
  // they are created for one thread: oneDNN sizes its work split and scratchpads at creation.
  if (shards > 1) omp_set_num_threads(1);
  for (int s = 0; s < shards; ++s) {
    auto net = std::make_unique<Net>();
    net->id = next_net_id_++;
    net->offset = static_cast<int>(int64_t{n} * s / shards);
    net->batch = static_cast<int>(int64_t{n} * (s + 1) / shards) - net->offset;
    Build(*net, {s, shards, n, &nets->whole_batch_training}, *nets);
    nets->shards.push_back(std::move(net));
  }
  omp_set_num_threads(num_threads_);
  if (shards > 1) {
    // The shards' gradients, added in shard order.
    for (const auto& param : context_->params) {
      if (!param->trainable) continue;
      Step step;
      step.profile_slot = context_->profiler.Slot("sum shard gradients");
      float* sum = param->grad_data();
      std::vector<const float*> parts;
      for (const dnnl::memory& g : param->shard_grads) {
        parts.push_back(static_cast<const float*>(g.get_data_handle()));
      }
      const int64_t size = param->physical_size();
      step.custom = [sum, parts, size] {
        for (int64_t i = 0; i < size; ++i) {
          float total = parts[0][i];
          for (size_t s = 1; s < parts.size(); ++s) total += parts[s][i];
          sum[i] = total;
        }
      };
      nets->sum_gradients.push_back(std::move(step));
    }
  }
  return *nets_.emplace(n, std::move(nets)).first->second;
}

void OneDnnModel::Build(Net& net, const ShardInfo& shard, BatchNets& nets) {
  ModelContext& m = *context_;
  NetBuilder b(m, net, shard);
  const int n = net.batch;
  const bool sharded = shard.count > 1;

  // The input edge: the caller's NCHW floats, copied (and converted to the compute type), since
  // the first layer's backward reads them after the caller may have reused its buffer.
  const SampleShape& input = spec_.input;
  const MemoryDesc user_input_desc =
      input.flat ? PlainDesc({n, input.channels})
                 : PlainDesc({n, input.channels, input.height, input.width});
  net.user_input = dnnl::memory(user_input_desc, m.engine, DNNL_MEMORY_NONE);
  Tensor x{b.Alloc("input", WithDataType(user_input_desc, m.StorageType(m.bf16))), m.bf16};
  AddReorder(b, StepList::kForward, net.user_input, x.memory, "input reorder");
  b.RoundIfEmulated(StepList::kForward, x, "input round");

  std::vector<Tensor> inputs;
  for (const auto& op : ops_) {
    inputs.push_back(x);
    x = op->BuildForward(b, x);
  }
  const Tensor output = x;
  const Tensor pre_activation = last_activation_ ? inputs.back() : output;
  const memory::dims out_dims = output.desc().dims();
  const int64_t k = output_size();
  if (sharded) {
    // Each shard writes its rows of the caller's (n, K) output.
    float* whole = static_cast<float*>(b.AllocWholeBatch("output", shard.batch * k * 4));
    AddReorder(b, StepList::kForward, output.memory,
               dnnl::memory(PlainDesc(out_dims), m.engine, whole + net.offset * k),
               "output reorder");
    nets.output = whole;
    nets.pre_activation = whole;
    if (last_activation_) {
      float* pre = static_cast<float*>(b.AllocWholeBatch("pre_activation", shard.batch * k * 4));
      AddReorder(b, StepList::kForward, pre_activation.memory,
                 dnnl::memory(PlainDesc(out_dims), m.engine, pre + net.offset * k),
                 "pre-activation reorder");
      nets.pre_activation = pre;
    }
  } else {
    nets.output = PlainOutput(b, output, "output", "output reorder");
    nets.pre_activation = last_activation_ ? PlainOutput(b, pre_activation, "pre_activation",
                                                         "pre-activation reorder")
                                           : nets.output;
  }

  // The gradient edge and the backward, from the last op down to the first with parameters.
  std::vector<bool> params_before(ops_.size() + 1, false);
  for (size_t i = 0; i < ops_.size(); ++i) {
    params_before[i + 1] = params_before[i] || ops_[i]->has_trainable_params();
  }
  net.user_grad = dnnl::memory(PlainDesc(out_dims), m.engine, DNNL_MEMORY_NONE);
  const Tensor grad{b.Alloc("grad", WithDataType(output.desc(), DataType::f32)), false};
  b.set_backward_target(&net.backward_from_output);
  AddReorder(b, StepList::kBackward, net.user_grad, grad.memory, "grad reorder");
  int i = static_cast<int>(ops_.size()) - 1;
  Tensor diff = grad;
  if (last_activation_) {
    diff = ops_[i]->BuildBackward(b, grad, params_before[i]);
    --i;
    b.set_backward_target(&net.backward_from_pre_activation);
    if (diff.memory) {
      AddReorder(b, StepList::kBackward, net.user_grad, diff.memory, "grad reorder");
      b.RoundIfEmulated(StepList::kBackward, diff, "grad round");
    }
  } else {
    b.set_backward_target(&net.backward_from_pre_activation);
    AddReorder(b, StepList::kBackward, net.user_grad, grad.memory, "grad reorder");
  }
  b.set_backward_target(&net.backward);
  for (; i >= 0 && params_before[i + 1]; --i) {
    diff = ops_[i]->BuildBackward(b, diff, params_before[i]);
  }
  b.Finish();
}

void OneDnnModel::RunShards(BatchNets& nets, std::vector<Step> Net::*first,
                            std::vector<Step> Net::*second) {
  const int count = static_cast<int>(nets.shards.size());
  auto run = [&](int s) {
    Net& net = *nets.shards[s];
    RunSteps(*context_, net.*first, streams_[s], s == 0);
    if (second != nullptr) RunSteps(*context_, net.*second, streams_[s], s == 0);
  };
  if (count == 1) {
    run(0);
    return;
  }
#pragma omp parallel num_threads(count)
  {
    // Fewer threads than shards (a nested or limited runtime) still run every shard.
    for (int s = omp_get_thread_num(); s < count; s += omp_get_num_threads()) run(s);
  }
}

const float* OneDnnModel::Forward(const float* input, int n, bool training) {
  if (n < 1 || n > max_batch_) {
    std::fprintf(stderr, "onednn: Forward with %d samples, outside 1..%d\n", n, max_batch_);
    std::abort();
  }
  omp_set_num_threads(num_threads_);
  BatchNets* nets = nullptr;
  try {
    nets = &NetsFor(n);
  } catch (const dnnl::error& e) {
    std::fprintf(stderr, "onednn: cannot build the primitives for %d samples: %s\n", n, e.what());
    std::abort();
  }
  if (context_->bf16) RefreshComputeCopies(*context_);
  const int64_t sample = spec_.input.size();
  for (const auto& net : nets->shards) {
    net->user_input.set_data_handle(const_cast<float*>(input) + net->offset * sample);
  }
  if (training) RunSteps(*context_, nets->whole_batch_training, context_->stream, true);
  RunShards(*nets, training ? &Net::forward_training : &Net::forward_inference, nullptr);
  last_nets_ = nets;
  last_training_ = training;
  return nets->output;
}

const float* OneDnnModel::LastPreActivation() const {
  return last_nets_ == nullptr ? nullptr : last_nets_->pre_activation;
}

void OneDnnModel::Backward(const float* grad, GradientOf of) {
  if (last_nets_ == nullptr || !last_training_) {
    std::fprintf(stderr, "onednn: Backward without a preceding Forward(training=true)\n");
    std::abort();
  }
  omp_set_num_threads(num_threads_);
  const int64_t k = output_size();
  for (const auto& net : last_nets_->shards) {
    net->user_grad.set_data_handle(const_cast<float*>(grad) + net->offset * k);
  }
  RunShards(
      *last_nets_,
      of == GradientOf::kOutput ? &Net::backward_from_output : &Net::backward_from_pre_activation,
      &Net::backward);
  RunSteps(*context_, last_nets_->sum_gradients, context_->stream, true);
}

std::vector<ParamView> OneDnnModel::Parameters() {
  std::vector<ParamView> views;
  for (const auto& p : context_->params) {
    views.push_back(
        {p->name, p->value_data(), p->grad_data(), p->physical_size(), p->trainable, p->l2});
  }
  return views;
}

void OneDnnModel::SetSeed(uint64_t seed) { context_->dropout_rng = Xoshiro256(seed); }

std::vector<NamedTensor> OneDnnModel::ExportWeights() const { return ExportCanonical(false); }

std::vector<NamedTensor> OneDnnModel::ExportGradients() const { return ExportCanonical(true); }

std::vector<NamedTensor> OneDnnModel::ExportCanonical(bool gradients) const {
  std::vector<NamedTensor> tensors;
  for (const auto& p : context_->params) {
    if (gradients && !p->trainable) continue;
    dnnl::memory from = gradients ? p->grad : p->value;
    NamedTensor t{p->name, p->dims, std::vector<float>(p->canonical.get_size() / sizeof(float))};
    dnnl::memory canonical(p->canonical, context_->engine, t.values.data());
    dnnl::reorder(from, canonical).execute(context_->stream, from, canonical);
    tensors.push_back(std::move(t));
  }
  context_->stream.wait();
  return tensors;
}

Status OneDnnModel::ImportWeights(const std::vector<NamedTensor>& weights) {
  std::map<std::string, const NamedTensor*> by_name;
  for (const NamedTensor& t : weights) by_name[t.name] = &t;
  for (const auto& p : context_->params) {
    auto it = by_name.find(p->name);
    if (it == by_name.end()) return InvalidArgument("ImportWeights: missing tensor " + p->name);
    const NamedTensor& t = *it->second;
    int64_t size = 1;
    for (int64_t d : t.dims) size *= d;
    if (t.dims != p->dims || static_cast<int64_t>(t.values.size()) != size) {
      return InvalidArgument("ImportWeights: tensor " + p->name + " has dims " + DimsText(t.dims) +
                             " and " + std::to_string(t.values.size()) + " values, expected " +
                             DimsText(p->dims));
    }
    by_name.erase(it);
  }
  if (!by_name.empty()) {
    return InvalidArgument("ImportWeights: unknown tensor " + by_name.begin()->first);
  }
  for (const NamedTensor& t : weights) {
    for (const auto& p : context_->params) {
      if (p->name != t.name) continue;
      dnnl::memory canonical(p->canonical, context_->engine, const_cast<float*>(t.values.data()));
      dnnl::reorder(canonical, p->value).execute(context_->stream, canonical, p->value);
    }
  }
  context_->stream.wait();
  return Status::Ok();
}

}  // namespace labbook::nn::onednn
