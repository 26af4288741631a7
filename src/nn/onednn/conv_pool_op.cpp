// The first Conv2D fused with the MaxPooling2D behind it (ConvPoolForward and
// ConvPoolBackwardWeights in kernels.hpp), when the pattern fits: a first layer with at most four
// input channels, ReLU or no activation and a supported kernel size, then non-overlapping pooling.
// Its parameters keep the Conv2D's names and the canonical (K, C, R, S) layout.
#include <map>
#include <memory>

#include "nn/onednn/ops.hpp"

namespace labbook::nn::onednn {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

// The channel block oneDNN's convolutions want their input in here (8 for AVX2, 16 for AVX-512),
// so that the pooled output goes to the next convolution without a reorder.
int PreferredChannelBlock(const dnnl::engine& engine) {
  const auto pd = ProbeConvolution(engine, DataType::f32, /*batch=*/1, /*channels=*/32);
  ChannelLayout layout;
  if (ChannelLayoutOf(pd.src_desc(), &layout) && layout.block == 16) return 16;
  return 8;
}

class ConvPoolOp final : public Op {
 public:
  ConvPoolOp(const LayerInfo& conv_info, const Conv2DSpec& conv, const LayerInfo& pool_info,
             const Pool2DSpec& pool, const SampleShape& in)
      : Op(conv_info.name + "+" + pool_info.name),
        conv_name_(conv_info.name),
        conv_(conv),
        in_(in),
        conv_out_(conv_info.output),
        pool_out_(pool_info.output),
        window_h_(pool.pool_h),
        window_w_(pool.pool_w) {}

  bool has_trainable_params() const override { return true; }

  Tensor BuildForward(NetBuilder& b, const Tensor& in) override {
    ModelContext& m = b.model();
    const int n = b.batch();
    const MemoryDesc kernel_desc =
        PlainDesc({conv_.filters, in_.channels, conv_.kernel_h, conv_.kernel_w});
    if (kernel_ == nullptr) {
      block_ = PreferredChannelBlock(m.engine);
      kernel_ = AddParam(m, conv_name_ + "/kernel", kernel_desc.dims(), true, conv_.l2, kernel_desc,
                         kernel_desc, true);
      if (conv_.use_bias) {
        const MemoryDesc bias_desc = PlainDesc({conv_.filters});
        bias_ = AddParam(m, conv_name_ + "/bias", {conv_.filters}, true, 0, bias_desc, bias_desc,
                         false);
      }
    }
    Forward& f = forwards_[b.net_id()];
    const MemoryDesc dst_desc({n, conv_.filters, pool_out_.height, pool_out_.width}, DataType::f32,
                              block_ == 16 ? Tag::aBcd16b : Tag::aBcd8b);
    f.src = b.Reordered(StepList::kForward, in.memory,
                        PlainDesc({n, in_.channels, in_.height, in_.width}), Key("src"),
                        Step("reorder src"));
    f.dst = b.Alloc(Key("dst"), dst_desc);
    f.argmax = b.Alloc(Key("argmax"), WithDataType(dst_desc, DataType::u8));
    f.shape = Shape(n, dst_desc);
    f.scratch = std::make_shared<std::vector<float>>(ConvPoolScratchSize(f.shape));
    const ConvPoolShape shape = f.shape;
    const float* src = static_cast<const float*>(f.src.get_data_handle());
    const float* weights = static_cast<const float*>(kernel_->compute.get_data_handle());
    const float* bias =
        bias_ != nullptr ? static_cast<const float*>(bias_->compute.get_data_handle()) : nullptr;
    float* dst = static_cast<float*>(f.dst.get_data_handle());
    uint8_t* argmax = static_cast<uint8_t*>(f.argmax.get_data_handle());
    float* scratch = f.scratch->data();
    b.AddCustom(StepList::kForwardTraining, Step("fwd"),
                [=] { ConvPoolForward(shape, src, weights, bias, dst, argmax, scratch); });
    b.AddCustom(StepList::kForwardInference, Step("fwd"),
                [=] { ConvPoolForward(shape, src, weights, bias, dst, nullptr, scratch); });
    // The maximum of bf16-rounded convolution outputs is the rounded maximum.
    const Tensor out{f.dst, m.bf16};
    b.RoundIfEmulated(StepList::kForward, out, Step("round dst"));
    return out;
  }

  Tensor BuildBackward(NetBuilder& b, const Tensor& diff_out, bool /*need_diff_in*/) override {
    Forward& f = forwards_.at(b.net_id());
    const dnnl::memory diff_dst =
        b.Reordered(StepList::kBackward, diff_out.memory, f.dst.get_desc(), Key("diff_dst"),
                    Step("reorder diff_dst"));
    const ConvPoolShape shape = f.shape;
    const float* src = static_cast<const float*>(f.src.get_data_handle());
    const uint8_t* argmax = static_cast<const uint8_t*>(f.argmax.get_data_handle());
    const float* dst = static_cast<const float*>(f.dst.get_data_handle());
    const float* diff = static_cast<const float*>(diff_dst.get_data_handle());
    float* scratch = f.scratch->data();
    float* grad = static_cast<float*>(b.GradOf(*kernel_).get_data_handle());
    float* bias_grad =
        bias_ != nullptr ? static_cast<float*>(b.GradOf(*bias_).get_data_handle()) : nullptr;
    b.AddCustom(StepList::kBackward, Step("bwd_weights"), [=] {
      ConvPoolBackwardWeights(shape, src, argmax, dst, diff, scratch, grad, bias_grad);
    });
    // The first layer: nothing before it needs a gradient.
    return {};
  }

 private:
  struct Forward {
    dnnl::memory src, dst, argmax;
    ConvPoolShape shape;
    std::shared_ptr<std::vector<float>> scratch;
  };

  ConvPoolShape Shape(int n, const MemoryDesc& dst_desc) const {
    const WindowAxis rows =
        ComputeWindowAxis(in_.height, conv_.kernel_h, conv_.stride_h, conv_.padding);
    const WindowAxis cols =
        ComputeWindowAxis(in_.width, conv_.kernel_w, conv_.stride_w, conv_.padding);
    ConvPoolShape s;
    s.batch = n;
    s.channels = in_.channels;
    s.in_h = in_.height;
    s.in_w = in_.width;
    s.filters = conv_.filters;
    s.kernel_h = conv_.kernel_h;
    s.kernel_w = conv_.kernel_w;
    s.stride_h = conv_.stride_h;
    s.stride_w = conv_.stride_w;
    s.pad_top = rows.pad_before;
    s.pad_left = cols.pad_before;
    s.conv_h = conv_out_.height;
    s.conv_w = conv_out_.width;
    s.window_h = window_h_;
    s.window_w = window_w_;
    s.out_h = pool_out_.height;
    s.out_w = pool_out_.width;
    s.relu = conv_.activation == Activation::kRelu;
    ChannelLayoutOf(dst_desc, &s.dst);
    return s;
  }

  std::string conv_name_;
  Conv2DSpec conv_;
  SampleShape in_, conv_out_, pool_out_;
  int window_h_, window_w_;
  int block_ = 8;
  Param* kernel_ = nullptr;
  Param* bias_ = nullptr;
  std::map<int, Forward> forwards_;
};

}  // namespace

bool CanFuseConvPool(const Conv2DSpec& conv, const SampleShape& in, const LayerInfo& conv_info,
                     const Pool2DSpec& pool) {
  if (in.flat || in.channels > 4 || !ConvPoolSupported(conv.kernel_h, conv.kernel_w) ||
      (conv.activation != Activation::kRelu && conv.activation != Activation::kLinear) ||
      !pool.max || pool.stride_h != pool.pool_h || pool.stride_w != pool.pool_w ||
      pool.pool_h * pool.pool_w > 255) {
    return false;
  }
  // Windows may run past the bottom and right (Keras' 'same' cuts them) but not start before.
  const WindowAxis rows =
      ComputeWindowAxis(conv_info.output.height, pool.pool_h, pool.stride_h, pool.padding);
  const WindowAxis cols =
      ComputeWindowAxis(conv_info.output.width, pool.pool_w, pool.stride_w, pool.padding);
  return rows.pad_before == 0 && cols.pad_before == 0;
}

std::unique_ptr<Op> MakeConvPoolOp(const LayerInfo& conv_info, const Conv2DSpec& conv,
                                   const LayerInfo& pool_info, const Pool2DSpec& pool,
                                   const SampleShape& in) {
  return std::make_unique<ConvPoolOp>(conv_info, conv, pool_info, pool, in);
}

}  // namespace labbook::nn::onednn
