#include "nn/onednn/model.hpp"

#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

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
    const MemoryDesc src({16, 16, 8, 8}, DataType::bf16, Tag::any);
    const MemoryDesc weights({16, 16, 3, 3}, DataType::bf16, Tag::any);
    const MemoryDesc dst({16, 16, 6, 6}, DataType::bf16, Tag::any);
    dnnl::convolution_forward::primitive_desc pd({dnnl::prop_kind::forward_training,
                                                  dnnl::algorithm::convolution_direct,
                                                  src,
                                                  weights,
                                                  dst,
                                                  {1, 1},
                                                  {0, 0},
                                                  {0, 0}},
                                                 engine);
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
    model->NetFor(max_batch);
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
  ops_ = MakeOps(spec_, layers_, &last_activation_);
}

OneDnnModel::~OneDnnModel() {
  const std::string report = context_->profiler.Report();
  if (!report.empty()) {
    std::fprintf(stderr, "labbook onednn profile (%s, %d threads):\n%s",
                 context_->bf16 ? (context_->native_bf16 ? "bf16" : "bf16 emulated") : "fp32",
                 num_threads_, report.c_str());
  }
}

Net& OneDnnModel::NetFor(int n) {
  auto it = nets_.find(n);
  if (it != nets_.end()) return *it->second;
  auto net = std::make_unique<Net>();
  net->batch = n;
  Build(*net, nets_.empty());
  return *nets_.emplace(n, std::move(net)).first->second;
}

void OneDnnModel::Build(Net& net, bool first_build) {
  ModelContext& m = *context_;
  NetBuilder b(m, net, first_build);
  const int n = net.batch;

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
  net.output = PlainOutput(b, output, "output", "output reorder");
  net.pre_activation =
      last_activation_ ? PlainOutput(b, pre_activation, "pre_activation", "pre-activation reorder")
                       : net.output;

  // The gradient edge and the backward, from the last op down to the first with parameters.
  std::vector<bool> params_before(ops_.size() + 1, false);
  for (size_t i = 0; i < ops_.size(); ++i) {
    params_before[i + 1] = params_before[i] || ops_[i]->has_trainable_params();
  }
  const memory::dims out_dims = output.desc().dims();
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

const float* OneDnnModel::Forward(const float* input, int n, bool training) {
  if (n < 1 || n > max_batch_) {
    std::fprintf(stderr, "onednn: Forward with %d samples, outside 1..%d\n", n, max_batch_);
    std::abort();
  }
  omp_set_num_threads(num_threads_);
  Net* net = nullptr;
  try {
    net = &NetFor(n);
  } catch (const dnnl::error& e) {
    std::fprintf(stderr, "onednn: cannot build the primitives for %d samples: %s\n", n, e.what());
    std::abort();
  }
  if (context_->bf16) RefreshComputeCopies(*context_);
  net->user_input.set_data_handle(const_cast<float*>(input));
  RunSteps(*context_, training ? net->forward_training : net->forward_inference);
  last_net_ = net;
  last_training_ = training;
  return net->output;
}

const float* OneDnnModel::LastPreActivation() const {
  return last_net_ == nullptr ? nullptr : last_net_->pre_activation;
}

void OneDnnModel::Backward(const float* grad, GradientOf of) {
  if (last_net_ == nullptr || !last_training_) {
    std::fprintf(stderr, "onednn: Backward without a preceding Forward(training=true)\n");
    std::abort();
  }
  omp_set_num_threads(num_threads_);
  last_net_->user_grad.set_data_handle(const_cast<float*>(grad));
  RunSteps(*context_, of == GradientOf::kOutput ? last_net_->backward_from_output
                                                : last_net_->backward_from_pre_activation);
  RunSteps(*context_, last_net_->backward);
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
