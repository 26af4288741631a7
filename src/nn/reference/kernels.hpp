// The reference layers: forward/backward pairs as plain loops over canonical layouts, the oracle
// every fast kernel is tested against. Templated on the scalar so that the finite-difference
// tests run the very same loops in double; instantiated for float and double in kernels.cpp.
//
// Every Backward overwrites (does not accumulate into) the gradients it writes; a null input
// gradient skips computing it (the first layer's). Long reductions over the batch (weight and
// bias gradients, BatchNorm statistics) accumulate in double whatever T is.
#pragma once

#include <cstdint>

#include "nn/spec.hpp"

namespace labbook::nn::reference {

// Geometry of a 2-D window op (convolution or pooling) on a batch. Bottom/right padding is
// implicit: windows reaching past the image read nothing there.
struct WindowShape {
  int batch = 0;
  int channels = 0;  // input channels
  int in_h = 0, in_w = 0;
  int window_h = 0, window_w = 0;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0;
  int out_h = 0, out_w = 0;
};

// Conv2D, cross-correlation as in Keras and PyTorch. filters = K.
// in (N,C,H,W), weight (K,C,R,S), bias (K) or null, out (N,K,P,Q)
template <typename T>
void Conv2DForward(const WindowShape& s, int filters, const T* in, const T* weight, const T* bias,
                   T* out);
// dout (N,K,P,Q) -> din (N,C,H,W) or null, dweight (K,C,R,S), dbias (K) or null
template <typename T>
void Conv2DBackward(const WindowShape& s, int filters, const T* in, const T* weight, const T* dout,
                    T* din, T* dweight, T* dbias);

// MaxPooling2D. argmax receives, per output, the index in its input plane (h * W + w) of the
// first maximum in row-major window order, which Backward routes the gradient to.
// in (N,C,H,W), out (N,C,P,Q), argmax (N,C,P,Q)
template <typename T>
void MaxPool2DForward(const WindowShape& s, const T* in, T* out, int32_t* argmax);
// dout (N,C,P,Q), argmax (N,C,P,Q) -> din (N,C,H,W)
template <typename T>
void MaxPool2DBackward(const WindowShape& s, const int32_t* argmax, const T* dout, T* din);

// AveragePooling2D over the window's elements inside the image (padding does not count).
// in (N,C,H,W), out (N,C,P,Q)
template <typename T>
void AvgPool2DForward(const WindowShape& s, const T* in, T* out);
// dout (N,C,P,Q) -> din (N,C,H,W)
template <typename T>
void AvgPool2DBackward(const WindowShape& s, const T* dout, T* din);

// Dense: out = in * weight^T + bias.
// in (N,I), weight (U,I), bias (U) or null, out (N,U)
template <typename T>
void DenseForward(int batch, int in_features, int units, const T* in, const T* weight,
                  const T* bias, T* out);
// dout (N,U) -> din (N,I) or null, dweight (U,I), dbias (U) or null
template <typename T>
void DenseBackward(int batch, int in_features, int units, const T* in, const T* weight,
                   const T* dout, T* din, T* dweight, T* dbias);

// BatchNormalization over (N, C, L): per channel c, statistics over the N*L values (L = H*W for
// an image, 1 for a flat input whose C features are the channels).
struct NormShape {
  int batch = 0;
  int channels = 0;
  int64_t spatial = 1;
};

// Training: normalises with the batch mean and biased variance; returns them per channel for
// Backward and for the moving averages. in, out (N,C,L); gamma, beta, mean, variance (C)
template <typename T>
void BatchNormTrainingForward(const NormShape& s, double epsilon, const T* in, const T* gamma,
                              const T* beta, T* out, T* batch_mean, T* batch_variance);
// dout (N,C,L) -> din (N,C,L), dgamma (C), dbeta (C), through the batch statistics too.
template <typename T>
void BatchNormTrainingBackward(const NormShape& s, double epsilon, const T* in, const T* gamma,
                               const T* batch_mean, const T* batch_variance, const T* dout, T* din,
                               T* dgamma, T* dbeta);
// Inference: an affine map with the moving statistics.
template <typename T>
void BatchNormInferenceForward(const NormShape& s, double epsilon, const T* in, const T* gamma,
                               const T* beta, const T* moving_mean, const T* moving_variance,
                               T* out);
template <typename T>
void BatchNormInferenceBackward(const NormShape& s, double epsilon, const T* in, const T* gamma,
                                const T* moving_mean, const T* moving_variance, const T* dout,
                                T* din, T* dgamma, T* dbeta);

// Activations on (N, C, L); softmax normalises over C for each (n, l), the others act
// element-wise. z is the input (pre-activation), a the output.
template <typename T>
void ActivationForward(Activation activation, const NormShape& s, const T* z, T* a);
// da (N,C,L) -> dz (N,C,L); reads z or a, whichever gives the derivative directly.
template <typename T>
void ActivationBackward(Activation activation, const NormShape& s, const T* z, const T* a,
                        const T* da, T* dz);

// Inverted dropout: kept units are scaled by 1 / (1 - rate), dropped ones are 0.
// in, out, keep (count)
template <typename T>
void DropoutForward(int64_t count, double rate, const uint8_t* keep, const T* in, T* out);
template <typename T>
void DropoutBackward(int64_t count, double rate, const uint8_t* keep, const T* dout, T* din);

}  // namespace labbook::nn::reference
