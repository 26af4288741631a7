// Conv2D and Dense: the ops with a kernel and a bias, built from the same steps on different
// primitives (convolution and inner product).
//
// Forward: src (N,C,H,W) or (N,F), kernel (K,C,R,S) or (U,C,H,W)/(U,F), bias (K) -> dst (N,K,P,Q)
// or (N,U), with the activation fused as a post-op. Backward: the activation's derivative from
// dst (in place on diff_dst), then backward-weights (kernel and bias gradients) and, unless this
// is the first op with parameters, backward-data.
#include <map>
#include <memory>
#include <string_view>
#include <type_traits>

#include "nn/onednn/ops.hpp"

namespace labbook::nn::onednn {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

// The primitive families and shapes of a convolution.
struct ConvKind {
  using Forward = dnnl::convolution_forward;
  using BackwardData = dnnl::convolution_backward_data;
  using BackwardWeights = dnnl::convolution_backward_weights;

  memory::dims strides, pad_before, pad_after;

  Forward::desc ForwardDesc(const MemoryDesc& src, const MemoryDesc& weights,
                            const MemoryDesc& bias, const MemoryDesc& dst) const {
    return {dnnl::prop_kind::forward_training,
            dnnl::algorithm::convolution_direct,
            src,
            weights,
            bias,
            dst,
            strides,
            pad_before,
            pad_after};
  }
  BackwardData::desc BackwardDataDesc(const MemoryDesc& diff_src, const MemoryDesc& weights,
                                      const MemoryDesc& diff_dst) const {
    return {dnnl::algorithm::convolution_direct,
            diff_src,
            weights,
            diff_dst,
            strides,
            pad_before,
            pad_after};
  }
  BackwardWeights::desc BackwardWeightsDesc(const MemoryDesc& src, const MemoryDesc& diff_weights,
                                            const MemoryDesc& diff_bias,
                                            const MemoryDesc& diff_dst) const {
    return {dnnl::algorithm::convolution_direct,
            src,
            diff_weights,
            diff_bias,
            diff_dst,
            strides,
            pad_before,
            pad_after};
  }
};

// The primitive families of an inner product (Dense).
struct DenseKind {
  using Forward = dnnl::inner_product_forward;
  using BackwardData = dnnl::inner_product_backward_data;
  using BackwardWeights = dnnl::inner_product_backward_weights;

  Forward::desc ForwardDesc(const MemoryDesc& src, const MemoryDesc& weights,
                            const MemoryDesc& bias, const MemoryDesc& dst) const {
    return {dnnl::prop_kind::forward_training, src, weights, bias, dst};
  }
  BackwardData::desc BackwardDataDesc(const MemoryDesc& diff_src, const MemoryDesc& weights,
                                      const MemoryDesc& diff_dst) const {
    return {diff_src, weights, diff_dst};
  }
  BackwardWeights::desc BackwardWeightsDesc(const MemoryDesc& src, const MemoryDesc& diff_weights,
                                            const MemoryDesc& diff_bias,
                                            const MemoryDesc& diff_dst) const {
    return {src, diff_weights, diff_bias, diff_dst};
  }
};

MemoryDesc Any(const memory::dims& dims, DataType type) { return {dims, type, Tag::any}; }

// make(weights) with the weights (or weight gradients) in `preferred` when the implementation
// oneDNN picks for format_tag::any takes that layout too, which saves a reorder per step; else
// make(any). `layout_of` reads the layout a primitive descriptor uses.
template <typename Make, typename LayoutOf>
auto PreferLayout(Make make, const MemoryDesc& any, const MemoryDesc& preferred,
                  LayoutOf layout_of) {
  auto chosen = make(any);
  if (layout_of(chosen) == preferred) return chosen;
  try {
    auto fixed = make(preferred);
    if (std::string_view(fixed.impl_info_str()) == chosen.impl_info_str()) return fixed;
  } catch (const dnnl::error&) {
    // No implementation takes `preferred`: reorder.
  }
  return chosen;
}

template <typename Kind>
class WeightedOp final : public Op {
 public:
  // `out_dims` and `kernel_dims` without the batch; the input's come from the tensor it gets.
  WeightedOp(std::string label, Kind kind, memory::dims kernel_dims, memory::dims out_dims,
             bool use_bias, double l2, Activation fused, bool final_layer)
      : Op(std::move(label)),
        kind_(std::move(kind)),
        kernel_dims_(std::move(kernel_dims)),
        out_dims_(std::move(out_dims)),
        use_bias_(use_bias),
        l2_(l2),
        fused_(fused),
        final_layer_(final_layer) {}

  bool has_trainable_params() const override { return true; }
  Activation fused_activation() const override { return fused_; }
  void DeferActivationBackward() override { activation_backward_deferred_ = true; }

  Tensor BuildForward(NetBuilder& b, const Tensor& in_tensor) override {
    ModelContext& m = b.model();
    const Tensor in =
        b.InComputeType(StepList::kForward, in_tensor, Key("src_bf16"), Step("src to bf16"));
    const int n = b.batch();
    const DataType compute_type = m.StorageType(m.bf16);
    const bool out_bf16 = m.bf16 && !final_layer_;

    memory::dims src_dims = in.desc().dims();
    src_dims[0] = n;
    memory::dims dst_dims = out_dims_;
    dst_dims.insert(dst_dims.begin(), n);
    memory::dims kernel_dims = kernel_dims_;
    if (src_dims.size() == 4 && kernel_dims.size() == 2) {
      // A Dense on a 4-D input (after a Flatten kept 4-D): the kernel's features in C, H, W order.
      kernel_dims = {kernel_dims_[0], src_dims[1], src_dims[2], src_dims[3]};
    }
    const MemoryDesc src_any = Any(src_dims, compute_type);
    const MemoryDesc dst_any = Any(dst_dims, m.StorageType(out_bf16));
    const MemoryDesc bias_desc = use_bias_ ? PlainDesc({kernel_dims[0]}) : MemoryDesc();

    dnnl::primitive_attr attr = b.Attr();
    dnnl::algorithm algorithm = dnnl::algorithm::undef;
    float alpha = 0;
    if (EltwiseFor(fused_, &algorithm, &alpha) && fused_ != Activation::kLinear) {
      dnnl::post_ops post_ops;
      post_ops.append_eltwise(1.0f, algorithm, alpha, 0.0f);
      attr = b.Attr(post_ops);
    }
    auto make = [&](const MemoryDesc& weights) {
      return typename Kind::Forward::primitive_desc(
          kind_.ForwardDesc(src_any, weights, bias_desc, dst_any), attr, m.engine);
    };
    typename Kind::Forward::primitive_desc pd;
    if (kernel_ == nullptr) {
      pd = make(Any(kernel_dims, compute_type));
      kernel_ = AddParam(m, label() + "/kernel", kernel_dims_, true, l2_, PlainDesc(kernel_dims),
                         pd.weights_desc(), true);
      if (use_bias_) {
        bias_ =
            AddParam(m, label() + "/bias", {kernel_dims[0]}, true, 0, bias_desc, bias_desc, false);
      }
    } else {
      // Other batch sizes keep the kernel's layout when their primitive takes it.
      try {
        pd = make(kernel_->compute.get_desc());
      } catch (const dnnl::error&) {
        pd = make(Any(kernel_dims, compute_type));
      }
    }

    Forward& f = forwards_[b.net_id()];
    f.pd = pd;
    f.in_bf16 = in.bf16;
    f.src =
        b.Reordered(StepList::kForward, in.memory, pd.src_desc(), Key("src"), Step("reorder src"));
    dnnl::memory weights = b.Reordered(StepList::kForward, kernel_->compute, pd.weights_desc(),
                                       Key("weights"), Step("reorder weights"));
    f.dst = b.Alloc(Key("dst"), pd.dst_desc());
    std::unordered_map<int, dnnl::memory> args = {
        {DNNL_ARG_SRC, f.src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, f.dst}};
    if (bias_ != nullptr) args[DNNL_ARG_BIAS] = bias_->compute;
    b.Add(StepList::kForward, Step("fwd"), typename Kind::Forward(pd), std::move(args),
          pd.scratchpad_desc());
    const Tensor out{f.dst, out_bf16};
    b.RoundIfEmulated(StepList::kForward, out, Step("round dst"));
    return out;
  }

  Tensor BuildBackward(NetBuilder& b, const Tensor& diff_out, bool need_diff_in) override {
    ModelContext& m = b.model();
    Forward& f = forwards_.at(b.net_id());
    const DataType compute_type = m.StorageType(m.bf16);
    const Tensor diff = b.InComputeType(StepList::kBackward, diff_out, Key("diff_dst_bf16"),
                                        Step("diff_dst to bf16"));
    dnnl::memory diff_dst = diff.memory;
    if (fused_ != Activation::kLinear && !activation_backward_deferred_) {
      diff_dst = b.Reordered(StepList::kBackward, diff_dst, f.dst.get_desc(), Key("diff_dst"),
                             Step("reorder diff_dst"));
      AddActivationBackward(b, fused_, f.dst, diff_dst, diff_dst,
                            Step(std::string(ActivationName(fused_)) + " bwd"));
      b.RoundIfEmulated(StepList::kBackward, {diff_dst, diff.bf16}, Step("round diff_dst"));
    }

    const MemoryDesc src_desc = f.src.get_desc();
    const MemoryDesc dst_desc = f.dst.get_desc();
    const memory::dims src_dims = src_desc.dims();
    const memory::dims dst_dims = dst_desc.dims();
    const memory::dims kernel_dims = kernel_->value.get_desc().dims();
    const MemoryDesc diff_bias_desc = use_bias_ ? PlainDesc({kernel_dims[0]}) : MemoryDesc();

    if constexpr (std::is_same_v<Kind, ConvKind>) {
      if (AddSmallChannelBackwardWeights(b, f, diff_dst)) {
        return need_diff_in ? AddBackwardData(b, f, diff_dst) : Tensor{};
      }
    }
    // Weight gradients, in f32 whatever the compute type: the optimizer's master gradients.
    using WeightsPd = typename Kind::BackwardWeights::primitive_desc;
    const WeightsPd weights_pd = PreferLayout(
        [&](const MemoryDesc& diff_weights) {
          return WeightsPd(kind_.BackwardWeightsDesc(Any(src_dims, compute_type), diff_weights,
                                                     diff_bias_desc, Any(dst_dims, compute_type)),
                           b.Attr(), m.engine, f.pd);
        },
        Any(kernel_dims, DataType::f32), b.GradOf(*kernel_).get_desc(),
        [](const WeightsPd& pd) { return pd.diff_weights_desc(); });
    const dnnl::memory src = b.Reordered(StepList::kBackward, f.src, weights_pd.src_desc(),
                                         Key("bwd_src"), Step("reorder bwd src"));
    const dnnl::memory weights_diff_dst =
        b.Reordered(StepList::kBackward, diff_dst, weights_pd.diff_dst_desc(),
                    Key("bwd_weights_diff_dst"), Step("reorder diff_dst"));
    const dnnl::memory& kernel_grad = b.GradOf(*kernel_);
    const bool grad_in_place = weights_pd.diff_weights_desc() == kernel_grad.get_desc();
    const dnnl::memory diff_weights =
        grad_in_place ? kernel_grad : b.Alloc(Key("diff_weights"), weights_pd.diff_weights_desc());
    std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_SRC, src},
                                                  {DNNL_ARG_DIFF_DST, weights_diff_dst},
                                                  {DNNL_ARG_DIFF_WEIGHTS, diff_weights}};
    if (bias_ != nullptr) args[DNNL_ARG_DIFF_BIAS] = b.GradOf(*bias_);
    b.Add(StepList::kBackward, Step("bwd_weights"), typename Kind::BackwardWeights(weights_pd),
          std::move(args), weights_pd.scratchpad_desc());
    if (!grad_in_place) {
      dnnl::reorder::primitive_desc to_grad(m.engine, diff_weights.get_desc(), m.engine,
                                            kernel_grad.get_desc(), b.Attr());
      b.Add(StepList::kBackward, Step("reorder diff_weights"), dnnl::reorder(to_grad),
            {{DNNL_ARG_FROM, diff_weights}, {DNNL_ARG_TO, kernel_grad}}, to_grad.scratchpad_desc());
    }
    return need_diff_in ? AddBackwardData(b, f, diff_dst) : Tensor{};
  }

 private:
  struct Forward {
    typename Kind::Forward::primitive_desc pd;
    dnnl::memory src;
    dnnl::memory dst;
    bool in_bf16 = false;
  };

  Tensor AddBackwardData(NetBuilder& b, Forward& f, const dnnl::memory& diff_dst) {
    ModelContext& m = b.model();
    const DataType compute_type = m.StorageType(m.bf16);
    const memory::dims src_dims = f.src.get_desc().dims();
    const memory::dims dst_dims = f.dst.get_desc().dims();
    const memory::dims kernel_dims = kernel_->value.get_desc().dims();
    using DataPd = typename Kind::BackwardData::primitive_desc;
    const DataPd data_pd = PreferLayout(
        [&](const MemoryDesc& weights) {
          return DataPd(kind_.BackwardDataDesc(Any(src_dims, m.StorageType(f.in_bf16)), weights,
                                               Any(dst_dims, compute_type)),
                        b.Attr(), m.engine, f.pd);
        },
        Any(kernel_dims, compute_type), kernel_->compute.get_desc(),
        [](const DataPd& pd) { return pd.weights_desc(); });
    const dnnl::memory weights =
        b.Reordered(StepList::kBackward, kernel_->compute, data_pd.weights_desc(),
                    Key("bwd_data_weights"), Step("reorder bwd_data weights"));
    const dnnl::memory data_diff_dst =
        b.Reordered(StepList::kBackward, diff_dst, data_pd.diff_dst_desc(),
                    Key("bwd_data_diff_dst"), Step("reorder diff_dst"));
    const dnnl::memory diff_src = b.Alloc(Key("diff_src"), data_pd.diff_src_desc());
    b.Add(StepList::kBackward, Step("bwd_data"), typename Kind::BackwardData(data_pd),
          {{DNNL_ARG_DIFF_DST, data_diff_dst},
           {DNNL_ARG_WEIGHTS, weights},
           {DNNL_ARG_DIFF_SRC, diff_src}},
          data_pd.scratchpad_desc());
    const Tensor diff_in{diff_src, f.in_bf16};
    b.RoundIfEmulated(StepList::kBackward, diff_in, Step("round diff_src"));
    return diff_in;
  }

  // The weight gradient of a convolution with at most 4 input channels from plain f32 input (a
  // first layer) by SmallConvBackwardWeights: oneDNN would pad the channels to its block of 8
  // or 16 and spend most of its time on zeros. False, adding nothing, when the layouts do not
  // fit.
  bool AddSmallChannelBackwardWeights(NetBuilder& b, Forward& f, const dnnl::memory& diff_dst) {
    const MemoryDesc src = f.src.get_desc();
    const MemoryDesc dst = diff_dst.get_desc();
    const memory::dims src_dims = src.dims();
    const memory::dims dst_dims = dst.dims();
    if (src.data_type() != DataType::f32 || dst.data_type() != DataType::f32 || src_dims[1] > 4 ||
        src != MemoryDesc(src_dims, DataType::f32, Tag::abcd)) {
      return false;
    }
    ChannelLayout layout;
    if (!ChannelLayoutOf(dst, &layout) || (layout.block != 8 && layout.block != 16)) {
      return false;
    }
    SmallConvShape shape;
    shape.batch = static_cast<int>(src_dims[0]);
    shape.channels = static_cast<int>(src_dims[1]);
    shape.in_h = static_cast<int>(src_dims[2]);
    shape.in_w = static_cast<int>(src_dims[3]);
    shape.filters = static_cast<int>(dst_dims[1]);
    shape.kernel_h = static_cast<int>(kernel_dims_[2]);
    shape.kernel_w = static_cast<int>(kernel_dims_[3]);
    shape.out_h = static_cast<int>(dst_dims[2]);
    shape.out_w = static_cast<int>(dst_dims[3]);
    shape.stride_h = static_cast<int>(kind_.strides[0]);
    shape.stride_w = static_cast<int>(kind_.strides[1]);
    shape.pad_top = static_cast<int>(kind_.pad_before[0]);
    shape.pad_left = static_cast<int>(kind_.pad_before[1]);
    shape.block = layout.block;
    const int64_t plane = int64_t{shape.out_h} * shape.out_w * shape.block;
    const int64_t blocks = (shape.filters + shape.block - 1) / shape.block;
    if (layout.pixel_stride != shape.block || layout.block_stride != plane ||
        layout.batch_stride != blocks * plane) {
      return false;
    }
    // Where each canonical (k, c, r, s) goes in the kernel's layout.
    const MemoryDesc grad_desc = b.GradOf(*kernel_).get_desc();
    auto offsets = std::make_shared<std::vector<int64_t>>();
    for (int64_t k = 0; k < kernel_dims_[0]; ++k) {
      for (int64_t c = 0; c < kernel_dims_[1]; ++c) {
        for (int64_t r = 0; r < kernel_dims_[2]; ++r) {
          for (int64_t s = 0; s < kernel_dims_[3]; ++s) {
            offsets->push_back(PhysicalOffset(grad_desc, {k, c, r, s}));
          }
        }
      }
    }
    auto scratch =
        std::make_shared<std::vector<float>>(SmallConvPartialsSize(shape) + offsets->size());
    const float* src_data = static_cast<const float*>(f.src.get_data_handle());
    const float* diff_dst_data = static_cast<const float*>(diff_dst.get_data_handle());
    float* grad = static_cast<float*>(b.GradOf(*kernel_).get_data_handle());
    float* bias_grad =
        bias_ != nullptr ? static_cast<float*>(b.GradOf(*bias_).get_data_handle()) : nullptr;
    b.AddCustom(StepList::kBackward, Step("bwd_weights"), [=] {
      float* partials = scratch->data();
      float* canonical = partials + SmallConvPartialsSize(shape);
      SmallConvBackwardWeights(shape, src_data, diff_dst_data, partials, canonical, bias_grad);
      for (size_t i = 0; i < offsets->size(); ++i) grad[(*offsets)[i]] = canonical[i];
    });
    return true;
  }

  Kind kind_;
  memory::dims kernel_dims_;  // canonical
  memory::dims out_dims_;
  bool use_bias_;
  double l2_;
  Activation fused_;
  bool activation_backward_deferred_ = false;
  bool final_layer_;
  Param* kernel_ = nullptr;
  Param* bias_ = nullptr;
  std::map<int, Forward> forwards_;
};

}  // namespace

std::unique_ptr<Op> MakeConvOp(const LayerInfo& info, const Conv2DSpec& spec, const SampleShape& in,
                               Activation fused, bool final_layer) {
  const WindowAxis rows = ComputeWindowAxis(in.height, spec.kernel_h, spec.stride_h, spec.padding);
  const WindowAxis cols = ComputeWindowAxis(in.width, spec.kernel_w, spec.stride_w, spec.padding);
  ConvKind kind{{spec.stride_h, spec.stride_w},
                {rows.pad_before, cols.pad_before},
                {rows.pad_after, cols.pad_after}};
  return std::make_unique<WeightedOp<ConvKind>>(
      info.name, std::move(kind),
      memory::dims{spec.filters, in.channels, spec.kernel_h, spec.kernel_w},
      memory::dims{spec.filters, info.output.height, info.output.width}, spec.use_bias, spec.l2,
      fused, final_layer);
}

std::unique_ptr<Op> MakeDenseOp(const LayerInfo& info, const DenseSpec& spec, const SampleShape& in,
                                Activation fused, bool final_layer) {
  return std::make_unique<WeightedOp<DenseKind>>(
      info.name, DenseKind{}, memory::dims{spec.units, in.channels}, memory::dims{spec.units},
      spec.use_bias, spec.l2, fused, final_layer);
}

}  // namespace labbook::nn::onednn
