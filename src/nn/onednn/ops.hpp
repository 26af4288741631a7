// The ops of a oneDNN model: one per layer, and one more for a Dense or Conv2D activation that
// cannot be fused (softmax, or the last layer's, whose input LastPreActivation returns).
//
// An op builds its steps once per net (a batch size, or a shard of one; see net.hpp) and keeps
// what its backward needs per net. Activations stay in the layouts the primitives choose
// (format_tag::any): blocked nChw8c/nChw16c between convolutions and pooling, plain where the
// inner product of a Dense reads them (a Dropout in front converts on the way) and where a Flatten
// must materialise (n, features) for a layer other than Dense.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/onednn/net.hpp"
#include "nn/spec.hpp"

namespace labbook::nn::onednn {

class Op {
 public:
  explicit Op(std::string label) : label_(std::move(label)) {}
  virtual ~Op() = default;

  const std::string& label() const { return label_; }
  // Whether the op owns trainable parameters (so earlier ops must back-propagate to it).
  virtual bool has_trainable_params() const { return false; }

  // The activation fused into this op's forward (kLinear for none), whose derivative its
  // backward applies first unless DeferActivationBackward handed that to the next op.
  virtual Activation fused_activation() const { return Activation::kLinear; }
  virtual void DeferActivationBackward() {}
  // Takes over the derivative of the previous op's fused activation, applying it at this op's
  // output gradient; false when this op cannot (see PoolOp).
  virtual bool TakeActivationBackward(Activation /*activation*/) { return false; }

  // Appends the forward steps for b.batch() samples reading `in`; returns the output tensor.
  virtual Tensor BuildForward(NetBuilder& b, const Tensor& in) = 0;
  // Appends the backward steps of the forward built for the same net: reads the gradient at the
  // output, overwrites the parameters' gradients and returns the gradient at the input, or an
  // empty tensor when `need_diff_in` is false. May overwrite `diff_out`.
  virtual Tensor BuildBackward(NetBuilder& b, const Tensor& diff_out, bool need_diff_in) = 0;

 protected:
  // "<label> <what>", the profile label of a step.
  std::string Step(const std::string& what) const { return label_ + " " + what; }
  // "<label>/<role>", the pool key of a buffer.
  std::string Key(const std::string& role) const { return label_ + "/" + role; }

 private:
  std::string label_;
};

// The ops of a model, given its layers (InferShapes(spec)); no primitive is created yet. A first
// Conv2D and MaxPooling2D may become one op (MakeConvPoolOp). A Conv2D's activation derivative
// moves behind a following MaxPooling2D, which applies it to the four times smaller pooled
// gradient (exact: see PoolOp).
// `*last_activation` tells whether the last op is the last layer's separate activation, whose
// input is the model's pre-activation.
std::vector<std::unique_ptr<Op>> MakeOps(const ModelSpec& spec,
                                         const std::vector<LayerInfo>& layers, bool native_bf16,
                                         bool* last_activation);

// The eltwise algorithm (the variant whose backward reads the output) and its alpha for an
// element-wise activation; false for softmax.
bool EltwiseFor(Activation activation, dnnl::algorithm* algorithm, float* alpha);

// Appends the backward of the element-wise `activation` given its output `dst`: diff_src =
// diff_dst * f'(dst). diff_src may be diff_dst (in place); both have dst's layout.
void AddActivationBackward(NetBuilder& b, Activation activation, const dnnl::memory& dst,
                           const dnnl::memory& diff_dst, const dnnl::memory& diff_src,
                           const std::string& label);

// The ops of single layers. `fused` is the activation applied as a post-op (kLinear for none);
// a final-layer Conv2D or Dense writes f32 even in a bf16 model (the logits stay exact).
std::unique_ptr<Op> MakeConvOp(const LayerInfo& info, const Conv2DSpec& spec, const SampleShape& in,
                               Activation fused, bool final_layer);
// The first Conv2D and the MaxPooling2D behind it as one op (conv_pool_op.cpp), when
// CanFuseConvPool; the caller checks that the Conv2D is the model's first layer and that tensors
// are f32 (not native bf16).
bool CanFuseConvPool(const Conv2DSpec& conv, const SampleShape& in, const LayerInfo& conv_info,
                     const Pool2DSpec& pool);
std::unique_ptr<Op> MakeConvPoolOp(const LayerInfo& conv_info, const Conv2DSpec& conv,
                                   const LayerInfo& pool_info, const Pool2DSpec& pool,
                                   const SampleShape& in);
std::unique_ptr<Op> MakeDenseOp(const LayerInfo& info, const DenseSpec& spec, const SampleShape& in,
                                Activation fused, bool final_layer);

}  // namespace labbook::nn::onednn
