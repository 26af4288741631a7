// The ops without a kernel: pooling, batch normalization, dropout, flatten, and the activations
// that are layers of their own (or the last layer's, which is never fused); and MakeOps, which
// turns a layer list into ops.
#include <cstring>
#include <map>
#include <variant>

#include "nn/onednn/kernels.hpp"
#include "nn/onednn/ops.hpp"

namespace labbook::nn::onednn {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

// The gradient arriving at an op whose forward read `in_bf16` values, in that type.
Tensor DiffInInputType(NetBuilder& b, const Tensor& diff_out, bool in_bf16, const std::string& key,
                       const std::string& label) {
  return in_bf16 ? b.InComputeType(StepList::kBackward, diff_out, key, label) : diff_out;
}

// MaxPooling2D / AveragePooling2D: src (N,C,H,W) -> dst (N,C,P,Q); max keeps the argmax
// positions for the backward.
//
// Max pooling of f32 activations blocked by channels runs on MaxPoolForward/Backward
// (kernels.hpp), several times faster here than oneDNN's pooling, which spends more time than the
// convolutions around it; other cases use oneDNN's primitive.
//
// Behind a Conv2D with a fused activation f, max pooling applies f's derivative for it: the
// gradient reaches only each window's argmax a, where f'(conv output at a), computed from the
// output, equals f' computed from the pooled output (the same value), so scaling the pooled
// gradient before routing it is exact, and reads a quarter of the data. ReLU's is folded into
// the custom backward; the others run as an eltwise step.
class PoolOp final : public Op {
 public:
  PoolOp(std::string label, const Pool2DSpec& spec, const SampleShape& in)
      : Op(std::move(label)), max_(spec.max) {
    const WindowAxis rows = ComputeWindowAxis(in.height, spec.pool_h, spec.stride_h, spec.padding);
    const WindowAxis cols = ComputeWindowAxis(in.width, spec.pool_w, spec.stride_w, spec.padding);
    kernel_ = {spec.pool_h, spec.pool_w};
    strides_ = {spec.stride_h, spec.stride_w};
    pad_before_ = {rows.pad_before, cols.pad_before};
    pad_after_ = {rows.pad_after, cols.pad_after};
    out_ = {in.channels, rows.output, cols.output};
  }

  bool TakeActivationBackward(Activation activation) override {
    if (!max_) return false;
    activation_before_ = activation;
    return true;
  }

  Tensor BuildForward(NetBuilder& b, const Tensor& in) override {
    ModelContext& m = b.model();
    const int n = b.batch();
    const MemoryDesc src = in.desc();
    const MemoryDesc dst_any({n, out_[0], out_[1], out_[2]}, src.data_type(), Tag::any);
    dnnl::pooling_forward::primitive_desc train_pd(
        {dnnl::prop_kind::forward_training, algorithm(), src, dst_any, strides_, kernel_,
         pad_before_, pad_after_},
        b.Attr(), m.engine);
    Forward& f = forwards_[b.net_id()];
    f.pd = train_pd;
    f.in_bf16 = in.bf16;
    f.src = in.memory;
    const dnnl::memory dst = b.Alloc(Key("dst"), train_pd.dst_desc());
    f.dst = dst;
    f.custom = max_ && CustomShape(src, train_pd.dst_desc(), &f.shape);
    if (f.custom) {
      f.workspace = b.Alloc(Key("argmax"), WithDataType(train_pd.dst_desc(), DataType::u8));
      const PoolShape shape = f.shape;
      const float* src_data = static_cast<const float*>(in.memory.get_data_handle());
      float* dst_data = static_cast<float*>(dst.get_data_handle());
      uint8_t* argmax = static_cast<uint8_t*>(f.workspace.get_data_handle());
      b.AddCustom(StepList::kForwardTraining, Step("fwd"),
                  [=] { MaxPoolForward(shape, src_data, dst_data, argmax); });
      b.AddCustom(StepList::kForwardInference, Step("fwd"),
                  [=] { MaxPoolForward(shape, src_data, dst_data, nullptr); });
    } else if (max_) {
      f.workspace = b.Alloc(Key("workspace"), train_pd.workspace_desc());
      b.Add(StepList::kForwardTraining, Step("fwd"), dnnl::pooling_forward(train_pd),
            {{DNNL_ARG_SRC, in.memory}, {DNNL_ARG_DST, dst}, {DNNL_ARG_WORKSPACE, f.workspace}},
            train_pd.scratchpad_desc());
      dnnl::pooling_forward::primitive_desc infer_pd(
          {dnnl::prop_kind::forward_inference, algorithm(), src, train_pd.dst_desc(), strides_,
           kernel_, pad_before_, pad_after_},
          b.Attr(), m.engine);
      b.Add(StepList::kForwardInference, Step("fwd"), dnnl::pooling_forward(infer_pd),
            {{DNNL_ARG_SRC, in.memory}, {DNNL_ARG_DST, dst}}, infer_pd.scratchpad_desc());
    } else {
      b.Add(StepList::kForward, Step("fwd"), dnnl::pooling_forward(train_pd),
            {{DNNL_ARG_SRC, in.memory}, {DNNL_ARG_DST, dst}}, train_pd.scratchpad_desc());
    }
    const Tensor out{dst, in.bf16};
    // The maximum of bf16 values is one of them; only averages need rounding.
    if (!max_) b.RoundIfEmulated(StepList::kForward, out, Step("round dst"));
    return out;
  }

  Tensor BuildBackward(NetBuilder& b, const Tensor& diff_out, bool need_diff_in) override {
    if (!need_diff_in) return {};
    ModelContext& m = b.model();
    Forward& f = forwards_.at(b.net_id());
    const Tensor diff =
        DiffInInputType(b, diff_out, f.in_bf16, Key("diff_dst_bf16"), Step("diff_dst to bf16"));
    dnnl::memory diff_dst_in = diff.memory;
    const bool fold_relu = f.custom && activation_before_ == Activation::kRelu;
    if (activation_before_ != Activation::kLinear && !fold_relu) {
      diff_dst_in = b.Reordered(StepList::kBackward, diff_dst_in, f.dst.get_desc(),
                                Key("diff_dst_activation"), Step("reorder diff_dst"));
      AddActivationBackward(b, activation_before_, f.dst, diff_dst_in, diff_dst_in,
                            Step(std::string(ActivationName(activation_before_)) + " bwd"));
      b.RoundIfEmulated(StepList::kBackward, {diff_dst_in, diff.bf16}, Step("round diff_dst"));
    }
    if (f.custom) {
      const dnnl::memory diff_dst = b.Reordered(StepList::kBackward, diff_dst_in, f.dst.get_desc(),
                                                Key("diff_dst"), Step("reorder diff_dst"));
      const dnnl::memory diff_src = b.Alloc(Key("diff_src"), f.src.get_desc());
      const PoolShape shape = f.shape;
      const uint8_t* argmax = static_cast<const uint8_t*>(f.workspace.get_data_handle());
      const float* diff_dst_data = static_cast<const float*>(diff_dst.get_data_handle());
      const float* relu_dst =
          fold_relu ? static_cast<const float*>(f.dst.get_data_handle()) : nullptr;
      float* diff_src_data = static_cast<float*>(diff_src.get_data_handle());
      b.AddCustom(StepList::kBackward, Step("bwd"),
                  [=] { MaxPoolBackward(shape, argmax, diff_dst_data, relu_dst, diff_src_data); });
      return {diff_src, f.in_bf16};
    }
    const MemoryDesc src = f.pd.src_desc();
    const dnnl::pooling_backward::desc desc(
        algorithm(), MemoryDesc(src.dims(), src.data_type(), Tag::any),
        MemoryDesc(f.pd.dst_desc().dims(), src.data_type(), Tag::any), strides_, kernel_,
        pad_before_, pad_after_);
    dnnl::pooling_backward::primitive_desc pd(desc, b.Attr(), m.engine, f.pd);
    const dnnl::memory diff_dst = b.Reordered(StepList::kBackward, diff_dst_in, pd.diff_dst_desc(),
                                              Key("diff_dst"), Step("reorder diff_dst"));
    const dnnl::memory diff_src = b.Alloc(Key("diff_src"), pd.diff_src_desc());
    std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_DIFF_DST, diff_dst},
                                                  {DNNL_ARG_DIFF_SRC, diff_src}};
    if (max_) args[DNNL_ARG_WORKSPACE] = f.workspace;
    b.Add(StepList::kBackward, Step("bwd"), dnnl::pooling_backward(pd), std::move(args),
          pd.scratchpad_desc());
    const Tensor diff_in{diff_src, f.in_bf16};
    b.RoundIfEmulated(StepList::kBackward, diff_in, Step("round diff_src"));
    return diff_in;
  }

 private:
  struct Forward {
    dnnl::pooling_forward::primitive_desc pd;
    dnnl::memory src;
    dnnl::memory dst;
    dnnl::memory workspace;  // oneDNN's, or the custom kernels' argmax positions
    bool custom = false;
    PoolShape shape;
    bool in_bf16 = false;
  };

  dnnl::algorithm algorithm() const {
    // Keras' AveragePooling2D with 'same' padding divides by the window's elements inside the
    // image; with 'valid' padding no window reaches outside, so both algorithms agree.
    return max_ ? dnnl::algorithm::pooling_max : dnnl::algorithm::pooling_avg_exclude_padding;
  }

  // The custom kernels' shape, when src and dst are f32 in the same channel blocking with the
  // channel lanes innermost (nChw8c, nChw16c, or plain NCHW).
  bool CustomShape(const MemoryDesc& src, const MemoryDesc& dst, PoolShape* shape) const {
    ChannelLayout in, out;
    if (src.data_type() != DataType::f32 || src.data.ndims != 4 || !ChannelLayoutOf(src, &in) ||
        !ChannelLayoutOf(dst, &out) || in.block != out.block || kernel_[0] * kernel_[1] > 255) {
      return false;
    }
    const memory::dims in_dims = src.dims();
    const int64_t in_pixels = in_dims[2] * in_dims[3];
    const int64_t out_pixels = int64_t{out_[1]} * out_[2];
    if (in.pixel_stride != in.block || out.pixel_stride != out.block ||
        in.block_stride != in_pixels * in.block || out.block_stride != out_pixels * out.block) {
      return false;
    }
    shape->batch = static_cast<int>(in_dims[0]);
    shape->channels = static_cast<int>(in_dims[1]);
    shape->in_h = static_cast<int>(in_dims[2]);
    shape->in_w = static_cast<int>(in_dims[3]);
    shape->out_h = static_cast<int>(out_[1]);
    shape->out_w = static_cast<int>(out_[2]);
    shape->window_h = static_cast<int>(kernel_[0]);
    shape->window_w = static_cast<int>(kernel_[1]);
    shape->stride_h = static_cast<int>(strides_[0]);
    shape->stride_w = static_cast<int>(strides_[1]);
    shape->pad_top = static_cast<int>(pad_before_[0]);
    shape->pad_left = static_cast<int>(pad_before_[1]);
    shape->block = in.block;
    shape->src_batch_stride = in.batch_stride;
    shape->dst_batch_stride = out.batch_stride;
    return true;
  }

  bool max_;
  Activation activation_before_ = Activation::kLinear;
  memory::dims kernel_, strides_, pad_before_, pad_after_, out_;
  std::map<int, Forward> forwards_;
};

// BatchNormalization over the channels of (N,C,H,W) or the features of (N,F). Training
// normalises with the batch statistics and updates the moving ones; inference uses the moving
// ones.
class BatchNormOp final : public Op {
 public:
  BatchNormOp(std::string label, const BatchNormSpec& spec, const SampleShape& in)
      : Op(std::move(label)),
        momentum_(spec.momentum),
        epsilon_(static_cast<float>(spec.epsilon)),
        channels_(in.channels),
        spatial_(in.flat ? 1 : int64_t{in.height} * in.width) {}

  bool has_trainable_params() const override { return true; }

  Tensor BuildForward(NetBuilder& b, const Tensor& in) override {
    ModelContext& m = b.model();
    const int n = b.batch();
    const MemoryDesc data = in.desc();
    const auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    dnnl::batch_normalization_forward::primitive_desc train_pd(
        {dnnl::prop_kind::forward_training, data, epsilon_, flags}, b.Attr(), m.engine);
    dnnl::batch_normalization_forward::primitive_desc infer_pd(
        {dnnl::prop_kind::forward_inference, data, epsilon_,
         flags | dnnl::normalization_flags::use_global_stats},
        b.Attr(), m.engine);
    if (gamma_ == nullptr) {
      const MemoryDesc vector_desc = PlainDesc({channels_}, DataType::f32);
      gamma_ =
          AddParam(m, label() + "/gamma", {channels_}, true, 0, vector_desc, vector_desc, false);
      beta_ = AddParam(m, label() + "/beta", {channels_}, true, 0, vector_desc, vector_desc, false);
      moving_mean_ = AddParam(m, label() + "/moving_mean", {channels_}, false, 0, vector_desc,
                              vector_desc, false);
      moving_variance_ = AddParam(m, label() + "/moving_variance", {channels_}, false, 0,
                                  vector_desc, vector_desc, false);
    }
    Forward& f = forwards_[b.net_id()];
    f.pd = train_pd;
    f.src = in.memory;
    f.in_bf16 = in.bf16;
    f.mean = b.Alloc(Key("mean"), train_pd.mean_desc());
    f.variance = b.Alloc(Key("variance"), train_pd.variance_desc());
    const dnnl::memory dst = b.Alloc(Key("dst"), train_pd.dst_desc());
    b.Add(StepList::kForwardTraining, Step("fwd"), dnnl::batch_normalization_forward(train_pd),
          {{DNNL_ARG_SRC, in.memory},
           {DNNL_ARG_DST, dst},
           {DNNL_ARG_SCALE, gamma_->compute},
           {DNNL_ARG_SHIFT, beta_->compute},
           {DNNL_ARG_MEAN, f.mean},
           {DNNL_ARG_VARIANCE, f.variance}},
          train_pd.scratchpad_desc());
    // Keras' moving averages; the variance's is of the unbiased batch variance (BatchNormSpec).
    const float* batch_mean = static_cast<const float*>(f.mean.get_data_handle());
    const float* batch_variance = static_cast<const float*>(f.variance.get_data_handle());
    float* moving_mean = moving_mean_->value_data();
    float* moving_variance = moving_variance_->value_data();
    const double count = static_cast<double>(n) * static_cast<double>(spatial_);
    const double bessel = count > 1 ? count / (count - 1) : 1.0;
    const double momentum = momentum_;
    const int64_t channels = channels_;
    b.AddCustom(StepList::kForwardTraining, Step("moving averages"), [=] {
      for (int64_t c = 0; c < channels; ++c) {
        moving_mean[c] =
            static_cast<float>(momentum * moving_mean[c] + (1 - momentum) * batch_mean[c]);
        moving_variance[c] = static_cast<float>(momentum * moving_variance[c] +
                                                (1 - momentum) * batch_variance[c] * bessel);
      }
    });
    b.Add(StepList::kForwardInference, Step("fwd"), dnnl::batch_normalization_forward(infer_pd),
          {{DNNL_ARG_SRC, in.memory},
           {DNNL_ARG_DST, dst},
           {DNNL_ARG_SCALE, gamma_->compute},
           {DNNL_ARG_SHIFT, beta_->compute},
           {DNNL_ARG_MEAN, moving_mean_->compute},
           {DNNL_ARG_VARIANCE, moving_variance_->compute}},
          infer_pd.scratchpad_desc());
    const Tensor out{dst, in.bf16};
    b.RoundIfEmulated(StepList::kForward, out, Step("round dst"));
    return out;
  }

  Tensor BuildBackward(NetBuilder& b, const Tensor& diff_out, bool need_diff_in) override {
    ModelContext& m = b.model();
    Forward& f = forwards_.at(b.net_id());
    const Tensor diff =
        DiffInInputType(b, diff_out, f.in_bf16, Key("diff_dst_bf16"), Step("diff_dst to bf16"));
    const MemoryDesc data = f.src.get_desc();
    dnnl::batch_normalization_backward::primitive_desc pd(
        {dnnl::prop_kind::backward, data, data, epsilon_,
         dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift},
        b.Attr(), m.engine, f.pd);
    const dnnl::memory diff_dst = b.Reordered(StepList::kBackward, diff.memory, pd.diff_dst_desc(),
                                              Key("diff_dst"), Step("reorder diff_dst"));
    const dnnl::memory diff_src = b.Alloc(Key("diff_src"), pd.diff_src_desc());
    b.Add(StepList::kBackward, Step("bwd"), dnnl::batch_normalization_backward(pd),
          {{DNNL_ARG_SRC, f.src},
           {DNNL_ARG_MEAN, f.mean},
           {DNNL_ARG_VARIANCE, f.variance},
           {DNNL_ARG_DIFF_DST, diff_dst},
           {DNNL_ARG_SCALE, gamma_->compute},
           {DNNL_ARG_SHIFT, beta_->compute},
           {DNNL_ARG_DIFF_SRC, diff_src},
           {DNNL_ARG_DIFF_SCALE, b.GradOf(*gamma_)},
           {DNNL_ARG_DIFF_SHIFT, b.GradOf(*beta_)}},
          pd.scratchpad_desc());
    if (!need_diff_in) return {};
    const Tensor diff_in{diff_src, f.in_bf16};
    b.RoundIfEmulated(StepList::kBackward, diff_in, Step("round diff_src"));
    return diff_in;
  }

 private:
  struct Forward {
    dnnl::batch_normalization_forward::primitive_desc pd;
    dnnl::memory src, mean, variance;
    bool in_bf16 = false;
  };

  double momentum_;
  float epsilon_;
  int64_t channels_;
  int64_t spatial_;
  Param* gamma_ = nullptr;
  Param* beta_ = nullptr;
  Param* moving_mean_ = nullptr;
  Param* moving_variance_ = nullptr;
  std::map<int, Forward> forwards_;
};

// Inverted dropout. The keep decisions come from DrawDropoutKeep in canonical (N, features)
// order, as in every backend, so that masks match the reference backend's. The masking loop
// reads and writes any plain or channel-blocked layout, so a Dropout in front of a Dense also
// turns the blocked activations into the plain ones the inner product wants (and back in the
// backward), with no reorder. Other layouts fall back to reordering the mask.
class DropoutOp final : public Op {
 public:
  DropoutOp(std::string label, const DropoutSpec& spec, const SampleShape& in, bool plain_output)
      : Op(std::move(label)), rate_(spec.rate), features_(in.size()), plain_output_(plain_output) {}

  Tensor BuildForward(NetBuilder& b, const Tensor& in) override {
    ModelContext& m = b.model();
    const MemoryDesc data = in.desc();
    Forward& f = forwards_[b.net_id()];
    f.in_bf16 = in.bf16;
    f.data = data;
    // The mask of the whole batch, drawn once in canonical order; a shard reads its slice.
    const int64_t count = int64_t{b.shard().batch} * features_;
    uint8_t* keep_data = static_cast<uint8_t*>(b.AllocWholeBatch(Key("keep"), count));
    const double rate = rate_;
    Xoshiro256* rng = &m.dropout_rng;
    b.AddWholeBatchTrainingStep(Step("draw mask"), [rng, rate, count, keep_data] {
      DrawDropoutKeep(*rng, rate, count, keep_data);
    });
    const dnnl::memory keep_canonical(PlainDesc(data.dims(), DataType::u8), m.engine,
                                      keep_data + b.offset() * features_);
    f.keep_canonical = keep_data + b.offset() * features_;

    const MemoryDesc plain = PlainDesc(data.dims(), data.data_type());
    f.fused = ChannelLayoutOf(data, &f.data_layout) &&
              ChannelLayoutOf(plain_output_ ? plain : data, &f.out_layout);
    f.out = plain_output_ && f.fused ? plain : data;
    const dnnl::memory dst = b.Alloc(Key("dst"), f.out);
    if (f.fused) {
      b.AddCustom(StepList::kForwardTraining, Step("fwd"),
                  FusedMasking(f, in.memory, f.data_layout, dst, f.out_layout));
    } else {
      const dnnl::memory keep =
          b.Reordered(StepList::kForwardTraining, keep_canonical, WithDataType(data, DataType::u8),
                      Key("keep_blocked"), Step("reorder mask"));
      f.keep_physical = static_cast<const uint8_t*>(keep.get_data_handle());
      b.AddCustom(StepList::kForwardTraining, Step("fwd"), PhysicalMasking(f, in.memory, dst));
    }
    if (f.out == data) {
      const void* src_data = in.memory.get_data_handle();
      void* dst_data = dst.get_data_handle();
      const size_t bytes = data.get_size();
      b.AddCustom(StepList::kForwardInference, Step("fwd"),
                  [=] { std::memcpy(dst_data, src_data, bytes); });
    } else {
      dnnl::reorder::primitive_desc pd(m.engine, data, m.engine, f.out, b.Attr());
      b.Add(StepList::kForwardInference, Step("fwd"), dnnl::reorder(pd),
            {{DNNL_ARG_FROM, in.memory}, {DNNL_ARG_TO, dst}}, pd.scratchpad_desc());
    }
    const Tensor out{dst, in.bf16};
    b.RoundIfEmulated(StepList::kForwardTraining, out, Step("round dst"));
    return out;
  }

  Tensor BuildBackward(NetBuilder& b, const Tensor& diff_out, bool need_diff_in) override {
    if (!need_diff_in) return {};
    Forward& f = forwards_.at(b.net_id());
    const Tensor diff =
        DiffInInputType(b, diff_out, f.in_bf16, Key("diff_dst_bf16"), Step("diff_dst to bf16"));
    const dnnl::memory diff_dst =
        b.Reordered(StepList::kBackward, diff.memory, f.out, Key("diff"), Step("reorder diff_dst"));
    dnnl::memory diff_src = diff_dst;
    if (f.fused) {
      if (f.out != f.data) diff_src = b.Alloc(Key("diff_src"), f.data);
      b.AddCustom(StepList::kBackward, Step("bwd"),
                  FusedMasking(f, diff_dst, f.out_layout, diff_src, f.data_layout));
    } else {
      b.AddCustom(StepList::kBackward, Step("bwd"), PhysicalMasking(f, diff_dst, diff_src));
    }
    const Tensor diff_in{diff_src, f.in_bf16};
    b.RoundIfEmulated(StepList::kBackward, diff_in, Step("round diff_src"));
    return diff_in;
  }

 private:
  struct Forward {
    MemoryDesc data;  // the input's layout
    MemoryDesc out;   // the output's: the input's, or plain in front of a Dense
    bool fused = false;
    ChannelLayout data_layout, out_layout;
    const uint8_t* keep_canonical = nullptr;
    const uint8_t* keep_physical = nullptr;  // the mask in the data's layout, when not fused
    bool in_bf16 = false;
  };

  float Scale() const { return static_cast<float>(1.0 / (1.0 - rate_)); }

  // to = from * keep / (1 - rate), element (n, c, x) by element, between two layouts.
  std::function<void()> FusedMasking(const Forward& f, const dnnl::memory& from,
                                     const ChannelLayout& from_layout, const dnnl::memory& to,
                                     const ChannelLayout& to_layout) const {
    // The tensor's own dims: after a Flatten kept 4-D, (C, H, W) rather than the flat features.
    const memory::dims dims = f.data.dims();
    const int batch = static_cast<int>(dims[0]);
    const int channels = static_cast<int>(dims[1]);
    const int64_t pixels = dims.size() == 4 ? dims[2] * dims[3] : 1;
    const float scale = Scale();
    const uint8_t* keep = f.keep_canonical;
    void* from_data = from.get_data_handle();
    void* to_data = to.get_data_handle();
    if (f.data.data_type() == DataType::bf16) {
      return [=] {
        DropoutAcrossLayouts(batch, channels, pixels, keep, scale,
                             static_cast<const uint16_t*>(from_data), from_layout,
                             static_cast<uint16_t*>(to_data), to_layout);
      };
    }
    return [=] {
      DropoutAcrossLayouts(batch, channels, pixels, keep, scale,
                           static_cast<const float*>(from_data), from_layout,
                           static_cast<float*>(to_data), to_layout);
    };
  }

  // to = from * keep / (1 - rate) over the physical buffers of the data's layout.
  std::function<void()> PhysicalMasking(const Forward& f, const dnnl::memory& from,
                                        const dnnl::memory& to) const {
    const int64_t count = PhysicalElements(f.data);
    const float scale = Scale();
    const uint8_t* keep = f.keep_physical;
    void* from_data = from.get_data_handle();
    void* to_data = to.get_data_handle();
    if (f.data.data_type() == DataType::bf16) {
      return [=] {
        ApplyKeepMask(count, keep, scale, static_cast<const uint16_t*>(from_data),
                      static_cast<uint16_t*>(to_data));
      };
    }
    return [=] {
      ApplyKeepMask(count, keep, scale, static_cast<const float*>(from_data),
                    static_cast<float*>(to_data));
    };
  }

  double rate_;
  int64_t features_;
  bool plain_output_;
  std::map<int, Forward> forwards_;
};

// Flatten: (N,C,H,W) -> (N, C*H*W) in C, H, W order. Before a Dense (possibly through Dropout or
// element-wise activations) the 4-D tensor passes as it is, since the inner product reads it
// with a (U,C,H,W) kernel, which is the canonical (U, C*H*W) one; otherwise it is reordered to
// plain NCHW and viewed as 2-D.
class FlattenOp final : public Op {
 public:
  FlattenOp(std::string label, bool keep_4d) : Op(std::move(label)), keep_4d_(keep_4d) {}

  Tensor BuildForward(NetBuilder& b, const Tensor& in) override {
    const MemoryDesc data = in.desc();
    if (keep_4d_ || data.data.ndims != 4) return in;
    const memory::dims dims = data.dims();
    dims4_[b.net_id()] = dims;
    const dnnl::memory plain =
        b.Reordered(StepList::kForward, in.memory, PlainDesc(dims, data.data_type()), Key("dst"),
                    Step("reorder to plain"));
    const MemoryDesc flat({dims[0], dims[1] * dims[2] * dims[3]}, data.data_type(), Tag::ab);
    return {dnnl::memory(flat, b.model().engine, plain.get_data_handle()), in.bf16};
  }

  Tensor BuildBackward(NetBuilder& b, const Tensor& diff_out, bool need_diff_in) override {
    if (!need_diff_in) return {};
    auto it = dims4_.find(b.net_id());
    if (it == dims4_.end()) return diff_out;
    const MemoryDesc data = diff_out.desc();
    const memory::dims flat = data.dims();
    const dnnl::memory plain =
        b.Reordered(StepList::kBackward, diff_out.memory, PlainDesc(flat, data.data_type()),
                    Key("diff_dst"), Step("reorder diff_dst"));
    return {dnnl::memory(PlainDesc(it->second, data.data_type()), b.model().engine,
                         plain.get_data_handle()),
            diff_out.bf16};
  }

 private:
  bool keep_4d_;
  std::map<int, memory::dims> dims4_;  // per net, when reordered
};

// An element-wise activation of its own (an Activation layer, or the unfused activation of the
// last Conv2D or Dense). Linear passes its input through.
class EltwiseOp final : public Op {
 public:
  EltwiseOp(std::string label, Activation activation)
      : Op(std::move(label)), activation_(activation) {}

  Tensor BuildForward(NetBuilder& b, const Tensor& in) override {
    if (activation_ == Activation::kLinear) return in;
    dnnl::algorithm algorithm = dnnl::algorithm::undef;
    float alpha = 0;
    EltwiseFor(activation_, &algorithm, &alpha);
    dnnl::eltwise_forward::primitive_desc pd(
        {dnnl::prop_kind::forward_training, algorithm, in.desc(), alpha, 0.0f}, b.Attr(),
        b.model().engine);
    Forward& f = forwards_[b.net_id()];
    f.dst = b.Alloc(Key("dst"), pd.dst_desc());
    f.in_bf16 = in.bf16;
    b.Add(StepList::kForward, Step("fwd"), dnnl::eltwise_forward(pd),
          {{DNNL_ARG_SRC, in.memory}, {DNNL_ARG_DST, f.dst}}, pd.scratchpad_desc());
    const Tensor out{f.dst, in.bf16};
    b.RoundIfEmulated(StepList::kForward, out, Step("round dst"));
    return out;
  }

  Tensor BuildBackward(NetBuilder& b, const Tensor& diff_out, bool need_diff_in) override {
    if (!need_diff_in) return {};
    if (activation_ == Activation::kLinear) return diff_out;
    Forward& f = forwards_.at(b.net_id());
    const Tensor diff =
        DiffInInputType(b, diff_out, f.in_bf16, Key("diff_dst_bf16"), Step("diff_dst to bf16"));
    const dnnl::memory diff_src = b.Reordered(StepList::kBackward, diff.memory, f.dst.get_desc(),
                                              Key("diff"), Step("reorder diff_dst"));
    AddActivationBackward(b, activation_, f.dst, diff_src, diff_src, Step("bwd"));
    const Tensor diff_in{diff_src, f.in_bf16};
    b.RoundIfEmulated(StepList::kBackward, diff_in, Step("round diff_src"));
    return diff_in;
  }

 private:
  struct Forward {
    dnnl::memory dst;
    bool in_bf16 = false;
  };

  Activation activation_;
  std::map<int, Forward> forwards_;
};

// Softmax over the features of (N,F), or over the channels at each pixel of (N,C,H,W).
class SoftmaxOp final : public Op {
 public:
  explicit SoftmaxOp(std::string label) : Op(std::move(label)) {}

  Tensor BuildForward(NetBuilder& b, const Tensor& in) override {
    ModelContext& m = b.model();
    const MemoryDesc data = in.desc();
    dnnl::softmax_forward::primitive_desc pd;
    dnnl::memory src = in.memory;
    try {
      pd = dnnl::softmax_forward::primitive_desc({dnnl::prop_kind::forward_training, data, 1},
                                                 b.Attr(), m.engine);
    } catch (const dnnl::error&) {
      // Some blocked layouts have no softmax; the plain one always has.
      src = b.Reordered(StepList::kForward, in.memory, PlainDesc(data.dims(), data.data_type()),
                        Key("src"), Step("reorder src"));
      pd = dnnl::softmax_forward::primitive_desc(
          {dnnl::prop_kind::forward_training, src.get_desc(), 1}, b.Attr(), m.engine);
    }
    Forward& f = forwards_[b.net_id()];
    f.pd = pd;
    f.in_bf16 = in.bf16;
    f.dst = b.Alloc(Key("dst"), pd.dst_desc());
    b.Add(StepList::kForward, Step("fwd"), dnnl::softmax_forward(pd),
          {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, f.dst}}, pd.scratchpad_desc());
    const Tensor out{f.dst, in.bf16};
    b.RoundIfEmulated(StepList::kForward, out, Step("round dst"));
    return out;
  }

  Tensor BuildBackward(NetBuilder& b, const Tensor& diff_out, bool need_diff_in) override {
    if (!need_diff_in) return {};
    ModelContext& m = b.model();
    Forward& f = forwards_.at(b.net_id());
    const Tensor diff =
        DiffInInputType(b, diff_out, f.in_bf16, Key("diff_dst_bf16"), Step("diff_dst to bf16"));
    const MemoryDesc data = f.dst.get_desc();
    dnnl::softmax_backward::primitive_desc pd({data, data, 1}, b.Attr(), m.engine, f.pd);
    const dnnl::memory diff_dst = b.Reordered(StepList::kBackward, diff.memory, pd.diff_dst_desc(),
                                              Key("diff_dst"), Step("reorder diff_dst"));
    const dnnl::memory diff_src = b.Alloc(Key("diff_src"), pd.diff_src_desc());
    b.Add(StepList::kBackward, Step("bwd"), dnnl::softmax_backward(pd),
          {{DNNL_ARG_DST, f.dst}, {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_SRC, diff_src}},
          pd.scratchpad_desc());
    const Tensor diff_in{diff_src, f.in_bf16};
    b.RoundIfEmulated(StepList::kBackward, diff_in, Step("round diff_src"));
    return diff_in;
  }

 private:
  struct Forward {
    dnnl::softmax_forward::primitive_desc pd;
    dnnl::memory dst;
    bool in_bf16 = false;
  };
  std::map<int, Forward> forwards_;
};

std::unique_ptr<Op> MakeActivationOp(std::string label, Activation activation) {
  if (activation == Activation::kSoftmax) return std::make_unique<SoftmaxOp>(std::move(label));
  return std::make_unique<EltwiseOp>(std::move(label), activation);
}

// Whether a Dense follows the layer at `index`, with only Flatten, Dropout and element-wise
// activations in between: a Flatten there may hand its 4-D input on unchanged, and a Dropout
// there writes the plain layout the inner product reads.
bool FeedsDense(const ModelSpec& spec, size_t index) {
  for (size_t j = index + 1; j < spec.layers.size(); ++j) {
    const LayerSpec& layer = spec.layers[j];
    if (std::holds_alternative<DenseSpec>(layer)) return true;
    if (std::holds_alternative<DropoutSpec>(layer) || std::holds_alternative<FlattenSpec>(layer)) {
      continue;
    }
    const auto* activation = std::get_if<ActivationSpec>(&layer);
    if (activation == nullptr || activation->activation == Activation::kSoftmax) return false;
  }
  return false;
}

}  // namespace

bool EltwiseFor(Activation activation, dnnl::algorithm* algorithm, float* alpha) {
  *alpha = 0;
  switch (activation) {
    case Activation::kLinear:
      *algorithm = dnnl::algorithm::eltwise_linear;
      *alpha = 1;
      return true;
    case Activation::kRelu:
      *algorithm = dnnl::algorithm::eltwise_relu_use_dst_for_bwd;
      return true;
    case Activation::kTanh:
      *algorithm = dnnl::algorithm::eltwise_tanh_use_dst_for_bwd;
      return true;
    case Activation::kSigmoid:
      *algorithm = dnnl::algorithm::eltwise_logistic_use_dst_for_bwd;
      return true;
    case Activation::kElu:
      *algorithm = dnnl::algorithm::eltwise_elu_use_dst_for_bwd;
      *alpha = 1;
      return true;
    case Activation::kSoftmax:
      return false;
  }
  return false;
}

void AddActivationBackward(NetBuilder& b, Activation activation, const dnnl::memory& dst,
                           const dnnl::memory& diff_dst, const dnnl::memory& diff_src,
                           const std::string& label) {
  dnnl::algorithm algorithm = dnnl::algorithm::undef;
  float alpha = 0;
  EltwiseFor(activation, &algorithm, &alpha);
  const MemoryDesc data = dst.get_desc();
  dnnl::eltwise_forward::primitive_desc hint(
      {dnnl::prop_kind::forward_training, algorithm, data, alpha, 0.0f}, b.Attr(),
      b.model().engine);
  dnnl::eltwise_backward::primitive_desc pd({algorithm, data, data, alpha, 0.0f}, b.Attr(),
                                            b.model().engine, hint);
  b.Add(StepList::kBackward, label, dnnl::eltwise_backward(pd),
        {{DNNL_ARG_DST, dst}, {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_SRC, diff_src}},
        pd.scratchpad_desc());
}

std::vector<std::unique_ptr<Op>> MakeOps(const ModelSpec& spec,
                                         const std::vector<LayerInfo>& layers, bool native_bf16,
                                         bool* last_activation) {
  std::vector<std::unique_ptr<Op>> ops;
  *last_activation = false;
  size_t first = 0;
  if (!native_bf16 && spec.layers.size() >= 2) {
    const auto* conv = std::get_if<Conv2DSpec>(&spec.layers[0]);
    const auto* pool = std::get_if<Pool2DSpec>(&spec.layers[1]);
    if (conv != nullptr && pool != nullptr &&
        CanFuseConvPool(*conv, spec.input, layers[0], *pool)) {
      ops.push_back(MakeConvPoolOp(layers[0], *conv, layers[1], *pool, spec.input));
      first = 2;
    }
  }
  for (size_t i = first; i < spec.layers.size(); ++i) {
    const LayerInfo& info = layers[i];
    const SampleShape& in = i == 0 ? spec.input : layers[i - 1].output;
    const bool final_layer = i + 1 == spec.layers.size();
    // A Conv2D's or Dense's activation is fused unless it is softmax (no such post-op) or the
    // last layer's (whose input the model must expose as the pre-activation).
    auto split = [&](Activation activation) {
      return activation == Activation::kSoftmax ||
             (final_layer && activation != Activation::kLinear);
    };
    const LayerSpec& layer = spec.layers[i];
    if (const auto* conv = std::get_if<Conv2DSpec>(&layer)) {
      const bool separate = split(conv->activation);
      ops.push_back(MakeConvOp(info, *conv, in, separate ? Activation::kLinear : conv->activation,
                               final_layer));
      if (separate) {
        ops.push_back(MakeActivationOp(
            info.name + "_" + std::string(ActivationName(conv->activation)), conv->activation));
        *last_activation = final_layer;
      }
    } else if (const auto* dense = std::get_if<DenseSpec>(&layer)) {
      const bool separate = split(dense->activation);
      ops.push_back(MakeDenseOp(info, *dense, in,
                                separate ? Activation::kLinear : dense->activation, final_layer));
      if (separate) {
        ops.push_back(MakeActivationOp(
            info.name + "_" + std::string(ActivationName(dense->activation)), dense->activation));
        *last_activation = final_layer;
      }
    } else if (const auto* pool = std::get_if<Pool2DSpec>(&layer)) {
      ops.push_back(std::make_unique<PoolOp>(info.name, *pool, in));
    } else if (std::holds_alternative<FlattenSpec>(layer)) {
      ops.push_back(std::make_unique<FlattenOp>(info.name, FeedsDense(spec, i)));
    } else if (const auto* dropout = std::get_if<DropoutSpec>(&layer)) {
      ops.push_back(std::make_unique<DropoutOp>(info.name, *dropout, in, FeedsDense(spec, i)));
    } else if (const auto* norm = std::get_if<BatchNormSpec>(&layer)) {
      ops.push_back(std::make_unique<BatchNormOp>(info.name, *norm, in));
    } else if (const auto* activation = std::get_if<ActivationSpec>(&layer)) {
      ops.push_back(MakeActivationOp(info.name, activation->activation));
      *last_activation = final_layer && activation->activation != Activation::kLinear;
    }
  }
  for (size_t i = 0; i + 1 < ops.size(); ++i) {
    const Activation fused = ops[i]->fused_activation();
    if (fused != Activation::kLinear && ops[i + 1]->TakeActivationBackward(fused)) {
      ops[i]->DeferActivationBackward();
    }
  }
  return ops;
}

}  // namespace labbook::nn::onednn
