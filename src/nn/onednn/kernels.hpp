// The loops of the oneDNN backend that are not oneDNN primitives: dropout's masking (which also
// changes the layout on the way, saving a reorder), the bf16 rounding that emulates bf16 storage
// on CPUs without bf16 kernels, and the weight gradient of a first convolution with few input
// channels, where oneDNN pads the channels to its block and wastes most of its work. Each splits
// its work into fixed chunks, so results do not depend on the thread count.
#pragma once

#include <cstdint>

namespace labbook::nn::onednn {

// out[i] = keep[i] ? in[i] * scale : 0 for float, or for bf16 stored as uint16_t (rounded to
// nearest even). `out` may equal `in`.
void ApplyKeepMask(int64_t count, const uint8_t* keep, float scale, const float* in, float* out);
void ApplyKeepMask(int64_t count, const uint8_t* keep, float scale, const uint16_t* in,
                   uint16_t* out);

// Where element (n, c, x) of an activation lives, x being the pixel (h * W + w; 0 for a flat
// tensor): n * batch_stride + (c / block) * block_stride + x * pixel_stride + c % block. Plain
// NCHW has block 1; oneDNN's nChw8c/nChw16c have block 8/16.
struct ChannelLayout {
  int64_t batch_stride = 0;
  int64_t block_stride = 0;
  int64_t pixel_stride = 0;
  int block = 1;
};

// out(n, c, x) = keep[(n * channels + c) * pixels + x] ? in(n, c, x) * scale : 0 over a batch
// of (channels, pixels) samples, reading and writing in the given layouts; channels of out's last
// block past `channels` are set to 0. For float, or for bf16 stored as uint16_t.
void DropoutAcrossLayouts(int batch, int channels, int64_t pixels, const uint8_t* keep, float scale,
                          const float* in, const ChannelLayout& in_layout, float* out,
                          const ChannelLayout& out_layout);
void DropoutAcrossLayouts(int batch, int channels, int64_t pixels, const uint8_t* keep, float scale,
                          const uint16_t* in, const ChannelLayout& in_layout, uint16_t* out,
                          const ChannelLayout& out_layout);

// Max pooling over activations blocked by channels (ChannelLayout with pixel_stride == block,
// the same block in src and dst): dst (N,C,P,Q) = the maximum of each window's elements inside
// the image, and, when `argmax` is not null, the window position (r * window_w + s) of the first
// maximum in row-major order per dst element (laid out like dst). Channel lanes past C in the
// last block hold 0 and stay 0.
struct PoolShape {
  int batch = 0, channels = 0, in_h = 0, in_w = 0;
  int out_h = 0, out_w = 0;
  int window_h = 0, window_w = 0;
  int stride_h = 1, stride_w = 1, pad_top = 0, pad_left = 0;
  int block = 8;
  int64_t src_batch_stride = 0, dst_batch_stride = 0;  // elements between samples
};
void MaxPoolForward(const PoolShape& shape, const float* src, float* dst, uint8_t* argmax);
// diff_src = each diff_dst element routed to its argmax (summed where windows overlap), 0
// elsewhere. With `relu_dst` (the pooled forward output), diff_dst counts only where relu_dst > 0:
// the derivative of a ReLU fused into the layer before the pooling, applied on the way.
void MaxPoolBackward(const PoolShape& shape, const uint8_t* argmax, const float* diff_dst,
                     const float* relu_dst, float* diff_src);

// A first-layer Conv2D (few input channels, plain f32 input, ReLU or no activation) fused with the
// max pooling behind it, whose windows do not overlap (stride = window, no padding before): the
// convolution's output, the largest tensor of such models, never goes to memory. Forward writes
// the pooled output and the argmax positions; the weight gradient recomputes each window's
// routing from them. The kernel size must be one ConvPoolSupported accepts.
struct ConvPoolShape {
  int batch = 0, channels = 0, in_h = 0, in_w = 0;  // src (N,C,H,W) plain
  int filters = 0, kernel_h = 0, kernel_w = 0;      // weights (K,C,R,S) canonical
  int stride_h = 1, stride_w = 1, pad_top = 0, pad_left = 0;
  int conv_h = 0, conv_w = 0;      // the convolution's output size
  int window_h = 0, window_w = 0;  // the pooling window, also its stride
  int out_h = 0, out_w = 0;        // the pooled size (windows past the conv output are cut)
  bool relu = false;
  ChannelLayout dst;  // blocked by 8 or 16 channels with the lanes innermost
};
bool ConvPoolSupported(int kernel_h, int kernel_w);
int64_t ConvPoolScratchSize(const ConvPoolShape& shape);
// dst (N,K,P,Q) pooled, argmax (laid out like dst, window position i * window_w + j) or null.
// bias (K) or null.
void ConvPoolForward(const ConvPoolShape& shape, const float* src, const float* weights,
                     const float* bias, float* dst, uint8_t* argmax, float* scratch);
// From the pooled gradient diff_dst (and the pooled forward output dst, for the ReLU's
// derivative): diff_weights (K,C,R,S) canonical and diff_bias (K) or null, summed over the batch
// in fixed chunks added in order (independent of the thread count).
void ConvPoolBackwardWeights(const ConvPoolShape& shape, const float* src, const uint8_t* argmax,
                             const float* dst, const float* diff_dst, float* scratch,
                             float* diff_weights, float* diff_bias);

// A convolution's backward-weights for few input channels (the first layer's):
// src (N,C,H,W) plain, diff_dst (N,K,P,Q) in blocks of `block` (8 or 16) filters with dense
// strides -> diff_weights (K,C,R,S) canonical, diff_bias (K) or null. Stride and padding as
// given, no dilation.
struct SmallConvShape {
  int batch = 0, channels = 0, in_h = 0, in_w = 0;
  int filters = 0, kernel_h = 0, kernel_w = 0;
  int out_h = 0, out_w = 0;
  int stride_h = 1, stride_w = 1, pad_top = 0, pad_left = 0;
  int block = 8;
};
// `partials` is scratch of SmallConvPartialsSize(shape) floats.
int64_t SmallConvPartialsSize(const SmallConvShape& shape);
void SmallConvBackwardWeights(const SmallConvShape& shape, const float* src, const float* diff_dst,
                              float* partials, float* diff_weights, float* diff_bias);

// Rounds each value to the nearest bf16 (ties to even) and stores it back as float, so later
// arithmetic sees exactly what a bf16 tensor would hold. `out` may equal `in`.
void RoundToBFloat16(int64_t count, const float* in, float* out);

// One value's bf16 rounding, as RoundToBFloat16 (NaN stays NaN).
float RoundToBFloat16(float value);

}  // namespace labbook::nn::onednn
