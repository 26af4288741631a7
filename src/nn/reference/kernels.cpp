#include "nn/reference/kernels.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace labbook::nn::reference {
namespace {

// Output positions o in [begin, end) whose input position o * stride - pad + offset lies inside
// [0, size): the windows that window element `offset` contributes to. Computing the range once
// keeps the innermost loops free of bounds checks.
struct Range {
  int begin = 0;
  int end = 0;
};

Range InsideOutputs(int out_size, int stride, int pad, int offset, int in_size) {
  Range r{0, out_size};
  while (r.begin < r.end && r.begin * stride - pad + offset < 0) ++r.begin;
  while (r.end > r.begin && (r.end - 1) * stride - pad + offset >= in_size) --r.end;
  return r;
}

// Input positions [begin, end) of the window of output position o along one axis.
Range WindowInputs(int o, int stride, int pad, int window, int in_size) {
  const int first = o * stride - pad;
  return {std::max(first, 0), std::min(first + window, in_size)};
}

int64_t PlaneOffset(int n, int channels, int c, int64_t plane_size) {
  return (int64_t{n} * channels + c) * plane_size;
}

}  // namespace

template <typename T>
void Conv2DForward(const WindowShape& s, int filters, const T* in, const T* weight, const T* bias,
                   T* out) {
  const int64_t in_plane = int64_t{s.in_h} * s.in_w;
  const int64_t out_plane = int64_t{s.out_h} * s.out_w;
  for (int n = 0; n < s.batch; ++n) {
    for (int k = 0; k < filters; ++k) {
      T* o = out + PlaneOffset(n, filters, k, out_plane);
      std::fill(o, o + out_plane, bias != nullptr ? bias[k] : T(0));
      // Each kernel element (c, r, t) adds weight * (shifted input plane) to the output plane;
      // every output still sums its terms in (c, r, t) order.
      for (int c = 0; c < s.channels; ++c) {
        const T* x = in + PlaneOffset(n, s.channels, c, in_plane);
        for (int r = 0; r < s.window_h; ++r) {
          const Range rows = InsideOutputs(s.out_h, s.stride_h, s.pad_top, r, s.in_h);
          for (int t = 0; t < s.window_w; ++t) {
            const Range cols = InsideOutputs(s.out_w, s.stride_w, s.pad_left, t, s.in_w);
            const T w = weight[((int64_t{k} * s.channels + c) * s.window_h + r) * s.window_w + t];
            for (int p = rows.begin; p < rows.end; ++p) {
              const T* x_row = x + int64_t{p * s.stride_h - s.pad_top + r} * s.in_w;
              T* o_row = o + int64_t{p} * s.out_w;
              for (int q = cols.begin; q < cols.end; ++q) {
                o_row[q] += w * x_row[q * s.stride_w - s.pad_left + t];
              }
            }
          }
        }
      }
    }
  }
}

template <typename T>
void Conv2DBackward(const WindowShape& s, int filters, const T* in, const T* weight, const T* dout,
                    T* din, T* dweight, T* dbias) {
  const int64_t in_plane = int64_t{s.in_h} * s.in_w;
  const int64_t out_plane = int64_t{s.out_h} * s.out_w;
  const int64_t kernel_size = int64_t{s.window_h} * s.window_w;

  // dbias[k] = sum over n, p, q of dout[n, k, p, q]
  if (dbias != nullptr) {
    for (int k = 0; k < filters; ++k) {
      double sum = 0;
      for (int n = 0; n < s.batch; ++n) {
        const T* g = dout + PlaneOffset(n, filters, k, out_plane);
        for (int64_t i = 0; i < out_plane; ++i) sum += g[i];
      }
      dbias[k] = static_cast<T>(sum);
    }
  }

  // dweight[k, c, r, t] = sum over n, p, q of dout[n, k, p, q] * in[n, c, p*sh - pt + r, ...]
  for (int k = 0; k < filters; ++k) {
    for (int c = 0; c < s.channels; ++c) {
      for (int r = 0; r < s.window_h; ++r) {
        const Range rows = InsideOutputs(s.out_h, s.stride_h, s.pad_top, r, s.in_h);
        for (int t = 0; t < s.window_w; ++t) {
          const Range cols = InsideOutputs(s.out_w, s.stride_w, s.pad_left, t, s.in_w);
          double sum = 0;
          for (int n = 0; n < s.batch; ++n) {
            const T* g = dout + PlaneOffset(n, filters, k, out_plane);
            const T* x = in + PlaneOffset(n, s.channels, c, in_plane);
            for (int p = rows.begin; p < rows.end; ++p) {
              const T* x_row = x + int64_t{p * s.stride_h - s.pad_top + r} * s.in_w;
              const T* g_row = g + int64_t{p} * s.out_w;
              for (int q = cols.begin; q < cols.end; ++q) {
                sum += static_cast<double>(g_row[q]) * x_row[q * s.stride_w - s.pad_left + t];
              }
            }
          }
          dweight[(int64_t{k} * s.channels + c) * kernel_size + int64_t{r} * s.window_w + t] =
              static_cast<T>(sum);
        }
      }
    }
  }

  // din[n, c, h, w] = sum of weight[k, c, r, t] * dout[n, k, p, q] over the windows covering it:
  // the forward loop with the roles of input and output swapped.
  if (din == nullptr) return;
  std::fill(din, din + int64_t{s.batch} * s.channels * in_plane, T(0));
  for (int n = 0; n < s.batch; ++n) {
    for (int k = 0; k < filters; ++k) {
      const T* g = dout + PlaneOffset(n, filters, k, out_plane);
      for (int c = 0; c < s.channels; ++c) {
        T* dx = din + PlaneOffset(n, s.channels, c, in_plane);
        for (int r = 0; r < s.window_h; ++r) {
          const Range rows = InsideOutputs(s.out_h, s.stride_h, s.pad_top, r, s.in_h);
          for (int t = 0; t < s.window_w; ++t) {
            const Range cols = InsideOutputs(s.out_w, s.stride_w, s.pad_left, t, s.in_w);
            const T w = weight[((int64_t{k} * s.channels + c) * s.window_h + r) * s.window_w + t];
            for (int p = rows.begin; p < rows.end; ++p) {
              T* dx_row = dx + int64_t{p * s.stride_h - s.pad_top + r} * s.in_w;
              const T* g_row = g + int64_t{p} * s.out_w;
              for (int q = cols.begin; q < cols.end; ++q) {
                dx_row[q * s.stride_w - s.pad_left + t] += w * g_row[q];
              }
            }
          }
        }
      }
    }
  }
}

template <typename T>
void MaxPool2DForward(const WindowShape& s, const T* in, T* out, int32_t* argmax) {
  const int64_t in_plane = int64_t{s.in_h} * s.in_w;
  const int64_t out_plane = int64_t{s.out_h} * s.out_w;
  for (int n = 0; n < s.batch; ++n) {
    for (int c = 0; c < s.channels; ++c) {
      const T* x = in + PlaneOffset(n, s.channels, c, in_plane);
      T* o = out + PlaneOffset(n, s.channels, c, out_plane);
      int32_t* arg = argmax + PlaneOffset(n, s.channels, c, out_plane);
      for (int p = 0; p < s.out_h; ++p) {
        const Range rows = WindowInputs(p, s.stride_h, s.pad_top, s.window_h, s.in_h);
        for (int q = 0; q < s.out_w; ++q) {
          const Range cols = WindowInputs(q, s.stride_w, s.pad_left, s.window_w, s.in_w);
          // 'same' windows always overlap the image, so there is at least one candidate.
          int32_t best = rows.begin * s.in_w + cols.begin;
          for (int h = rows.begin; h < rows.end; ++h) {
            for (int w = cols.begin; w < cols.end; ++w) {
              if (x[h * s.in_w + w] > x[best]) best = h * s.in_w + w;
            }
          }
          o[p * s.out_w + q] = x[best];
          arg[p * s.out_w + q] = best;
        }
      }
    }
  }
}

template <typename T>
void MaxPool2DBackward(const WindowShape& s, const int32_t* argmax, const T* dout, T* din) {
  const int64_t in_plane = int64_t{s.in_h} * s.in_w;
  const int64_t out_plane = int64_t{s.out_h} * s.out_w;
  std::fill(din, din + int64_t{s.batch} * s.channels * in_plane, T(0));
  for (int n = 0; n < s.batch; ++n) {
    for (int c = 0; c < s.channels; ++c) {
      T* dx = din + PlaneOffset(n, s.channels, c, in_plane);
      const T* g = dout + PlaneOffset(n, s.channels, c, out_plane);
      const int32_t* arg = argmax + PlaneOffset(n, s.channels, c, out_plane);
      for (int64_t i = 0; i < out_plane; ++i) dx[arg[i]] += g[i];
    }
  }
}

template <typename T>
void AvgPool2DForward(const WindowShape& s, const T* in, T* out) {
  const int64_t in_plane = int64_t{s.in_h} * s.in_w;
  const int64_t out_plane = int64_t{s.out_h} * s.out_w;
  for (int n = 0; n < s.batch; ++n) {
    for (int c = 0; c < s.channels; ++c) {
      const T* x = in + PlaneOffset(n, s.channels, c, in_plane);
      T* o = out + PlaneOffset(n, s.channels, c, out_plane);
      for (int p = 0; p < s.out_h; ++p) {
        const Range rows = WindowInputs(p, s.stride_h, s.pad_top, s.window_h, s.in_h);
        for (int q = 0; q < s.out_w; ++q) {
          const Range cols = WindowInputs(q, s.stride_w, s.pad_left, s.window_w, s.in_w);
          T sum = 0;
          for (int h = rows.begin; h < rows.end; ++h) {
            for (int w = cols.begin; w < cols.end; ++w) sum += x[h * s.in_w + w];
          }
          const int count = (rows.end - rows.begin) * (cols.end - cols.begin);
          o[p * s.out_w + q] = sum / static_cast<T>(count);
        }
      }
    }
  }
}

template <typename T>
void AvgPool2DBackward(const WindowShape& s, const T* dout, T* din) {
  const int64_t in_plane = int64_t{s.in_h} * s.in_w;
  const int64_t out_plane = int64_t{s.out_h} * s.out_w;
  std::fill(din, din + int64_t{s.batch} * s.channels * in_plane, T(0));
  for (int n = 0; n < s.batch; ++n) {
    for (int c = 0; c < s.channels; ++c) {
      T* dx = din + PlaneOffset(n, s.channels, c, in_plane);
      const T* g = dout + PlaneOffset(n, s.channels, c, out_plane);
      for (int p = 0; p < s.out_h; ++p) {
        const Range rows = WindowInputs(p, s.stride_h, s.pad_top, s.window_h, s.in_h);
        for (int q = 0; q < s.out_w; ++q) {
          const Range cols = WindowInputs(q, s.stride_w, s.pad_left, s.window_w, s.in_w);
          const int count = (rows.end - rows.begin) * (cols.end - cols.begin);
          const T share = g[p * s.out_w + q] / static_cast<T>(count);
          for (int h = rows.begin; h < rows.end; ++h) {
            for (int w = cols.begin; w < cols.end; ++w) dx[h * s.in_w + w] += share;
          }
        }
      }
    }
  }
}

template <typename T>
void DenseForward(int batch, int in_features, int units, const T* in, const T* weight,
                  const T* bias, T* out) {
  for (int n = 0; n < batch; ++n) {
    const T* x = in + int64_t{n} * in_features;
    for (int u = 0; u < units; ++u) {
      const T* w = weight + int64_t{u} * in_features;
      T sum = bias != nullptr ? bias[u] : T(0);
      for (int i = 0; i < in_features; ++i) sum += w[i] * x[i];
      out[int64_t{n} * units + u] = sum;
    }
  }
}

template <typename T>
void DenseBackward(int batch, int in_features, int units, const T* in, const T* weight,
                   const T* dout, T* din, T* dweight, T* dbias) {
  // dweight[u, i] = sum over n of dout[n, u] * in[n, i]; dbias[u] = sum over n of dout[n, u]
  for (int u = 0; u < units; ++u) {
    for (int i = 0; i < in_features; ++i) {
      double sum = 0;
      for (int n = 0; n < batch; ++n) {
        sum += static_cast<double>(dout[int64_t{n} * units + u]) * in[int64_t{n} * in_features + i];
      }
      dweight[int64_t{u} * in_features + i] = static_cast<T>(sum);
    }
    if (dbias != nullptr) {
      double sum = 0;
      for (int n = 0; n < batch; ++n) sum += dout[int64_t{n} * units + u];
      dbias[u] = static_cast<T>(sum);
    }
  }
  // din[n, i] = sum over u of dout[n, u] * weight[u, i]
  if (din == nullptr) return;
  for (int n = 0; n < batch; ++n) {
    T* dx = din + int64_t{n} * in_features;
    std::fill(dx, dx + in_features, T(0));
    for (int u = 0; u < units; ++u) {
      const T g = dout[int64_t{n} * units + u];
      const T* w = weight + int64_t{u} * in_features;
      for (int i = 0; i < in_features; ++i) dx[i] += g * w[i];
    }
  }
}

namespace {

// Element (n, c, l) of an (N, C, L) array.
int64_t NormIndex(const NormShape& s, int n, int c, int64_t l) {
  return (int64_t{n} * s.channels + c) * s.spatial + l;
}

}  // namespace

template <typename T>
void BatchNormTrainingForward(const NormShape& s, double epsilon, const T* in, const T* gamma,
                              const T* beta, T* out, T* batch_mean, T* batch_variance) {
  const double count = static_cast<double>(s.batch) * static_cast<double>(s.spatial);
  for (int c = 0; c < s.channels; ++c) {
    double sum = 0;
    for (int n = 0; n < s.batch; ++n) {
      for (int64_t l = 0; l < s.spatial; ++l) sum += in[NormIndex(s, n, c, l)];
    }
    const double mean = sum / count;
    // Two passes: the variance of the centred values, not E[x^2] - mean^2, which cancels.
    double squares = 0;
    for (int n = 0; n < s.batch; ++n) {
      for (int64_t l = 0; l < s.spatial; ++l) {
        const double d = in[NormIndex(s, n, c, l)] - mean;
        squares += d * d;
      }
    }
    const double variance = squares / count;  // biased, as Keras and PyTorch normalise with
    const double inv_std = 1.0 / std::sqrt(variance + epsilon);
    for (int n = 0; n < s.batch; ++n) {
      for (int64_t l = 0; l < s.spatial; ++l) {
        const int64_t i = NormIndex(s, n, c, l);
        out[i] = static_cast<T>(gamma[c] * ((in[i] - mean) * inv_std) + beta[c]);
      }
    }
    batch_mean[c] = static_cast<T>(mean);
    batch_variance[c] = static_cast<T>(variance);
  }
}

template <typename T>
void BatchNormTrainingBackward(const NormShape& s, double epsilon, const T* in, const T* gamma,
                               const T* batch_mean, const T* batch_variance, const T* dout, T* din,
                               T* dgamma, T* dbeta) {
  // With xhat = (x - mean) * inv_std and y = gamma * xhat + beta, over the m values of a channel:
  //   dbeta = sum dy, dgamma = sum dy * xhat,
  //   dx = gamma * inv_std / m * (m * dy - dbeta - xhat * dgamma)
  // (the last two terms are the gradient through the mean and the variance).
  const double count = static_cast<double>(s.batch) * static_cast<double>(s.spatial);
  for (int c = 0; c < s.channels; ++c) {
    const double mean = batch_mean[c];
    const double inv_std = 1.0 / std::sqrt(static_cast<double>(batch_variance[c]) + epsilon);
    double sum_dy = 0;
    double sum_dy_xhat = 0;
    for (int n = 0; n < s.batch; ++n) {
      for (int64_t l = 0; l < s.spatial; ++l) {
        const int64_t i = NormIndex(s, n, c, l);
        sum_dy += dout[i];
        sum_dy_xhat += static_cast<double>(dout[i]) * ((in[i] - mean) * inv_std);
      }
    }
    dgamma[c] = static_cast<T>(sum_dy_xhat);
    dbeta[c] = static_cast<T>(sum_dy);
    if (din == nullptr) continue;
    const double scale = gamma[c] * inv_std / count;
    for (int n = 0; n < s.batch; ++n) {
      for (int64_t l = 0; l < s.spatial; ++l) {
        const int64_t i = NormIndex(s, n, c, l);
        const double xhat = (in[i] - mean) * inv_std;
        din[i] = static_cast<T>(scale * (count * dout[i] - sum_dy - xhat * sum_dy_xhat));
      }
    }
  }
}

template <typename T>
void BatchNormInferenceForward(const NormShape& s, double epsilon, const T* in, const T* gamma,
                               const T* beta, const T* moving_mean, const T* moving_variance,
                               T* out) {
  for (int c = 0; c < s.channels; ++c) {
    const double inv_std = 1.0 / std::sqrt(static_cast<double>(moving_variance[c]) + epsilon);
    for (int n = 0; n < s.batch; ++n) {
      for (int64_t l = 0; l < s.spatial; ++l) {
        const int64_t i = NormIndex(s, n, c, l);
        out[i] = static_cast<T>(gamma[c] * ((in[i] - moving_mean[c]) * inv_std) + beta[c]);
      }
    }
  }
}

template <typename T>
void BatchNormInferenceBackward(const NormShape& s, double epsilon, const T* in, const T* gamma,
                                const T* moving_mean, const T* moving_variance, const T* dout,
                                T* din, T* dgamma, T* dbeta) {
  for (int c = 0; c < s.channels; ++c) {
    const double inv_std = 1.0 / std::sqrt(static_cast<double>(moving_variance[c]) + epsilon);
    double sum_dy = 0;
    double sum_dy_xhat = 0;
    for (int n = 0; n < s.batch; ++n) {
      for (int64_t l = 0; l < s.spatial; ++l) {
        const int64_t i = NormIndex(s, n, c, l);
        sum_dy += dout[i];
        sum_dy_xhat += static_cast<double>(dout[i]) * ((in[i] - moving_mean[c]) * inv_std);
        if (din != nullptr) din[i] = static_cast<T>(gamma[c] * inv_std * dout[i]);
      }
    }
    dgamma[c] = static_cast<T>(sum_dy_xhat);
    dbeta[c] = static_cast<T>(sum_dy);
  }
}

namespace {

template <typename T>
T Sigmoid(T x) {
  // Both branches only exponentiate a non-positive number, so neither overflows.
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

}  // namespace

template <typename T>
void ActivationForward(Activation activation, const NormShape& s, const T* z, T* a) {
  const int64_t count = int64_t{s.batch} * s.channels * s.spatial;
  switch (activation) {
    case Activation::kLinear:
      std::copy(z, z + count, a);
      return;
    case Activation::kRelu:
      for (int64_t i = 0; i < count; ++i) a[i] = z[i] > 0 ? z[i] : T(0);
      return;
    case Activation::kTanh:
      for (int64_t i = 0; i < count; ++i) a[i] = std::tanh(z[i]);
      return;
    case Activation::kSigmoid:
      for (int64_t i = 0; i < count; ++i) a[i] = Sigmoid(z[i]);
      return;
    case Activation::kElu:  // alpha = 1
      for (int64_t i = 0; i < count; ++i) a[i] = z[i] > 0 ? z[i] : std::expm1(z[i]);
      return;
    case Activation::kSoftmax:
      for (int n = 0; n < s.batch; ++n) {
        for (int64_t l = 0; l < s.spatial; ++l) {
          // Subtracting the maximum keeps exp() finite; the result is unchanged.
          T max = z[NormIndex(s, n, 0, l)];
          for (int c = 1; c < s.channels; ++c) max = std::max(max, z[NormIndex(s, n, c, l)]);
          T sum = 0;
          for (int c = 0; c < s.channels; ++c) {
            const int64_t i = NormIndex(s, n, c, l);
            a[i] = std::exp(z[i] - max);
            sum += a[i];
          }
          for (int c = 0; c < s.channels; ++c) a[NormIndex(s, n, c, l)] /= sum;
        }
      }
      return;
  }
}

template <typename T>
void ActivationBackward(Activation activation, const NormShape& s, const T* z, const T* a,
                        const T* da, T* dz) {
  const int64_t count = int64_t{s.batch} * s.channels * s.spatial;
  switch (activation) {
    case Activation::kLinear:
      std::copy(da, da + count, dz);
      return;
    case Activation::kRelu:  // derivative 0 at 0, as TensorFlow and PyTorch
      for (int64_t i = 0; i < count; ++i) dz[i] = z[i] > 0 ? da[i] : T(0);
      return;
    case Activation::kTanh:
      for (int64_t i = 0; i < count; ++i) dz[i] = da[i] * (T(1) - a[i] * a[i]);
      return;
    case Activation::kSigmoid:
      for (int64_t i = 0; i < count; ++i) dz[i] = da[i] * a[i] * (T(1) - a[i]);
      return;
    case Activation::kElu:  // d/dz (exp(z) - 1) = exp(z) = a + 1
      for (int64_t i = 0; i < count; ++i) dz[i] = z[i] > 0 ? da[i] : da[i] * (a[i] + T(1));
      return;
    case Activation::kSoftmax:
      // dz_c = a_c * (da_c - sum_j da_j * a_j), the softmax Jacobian applied to da.
      for (int n = 0; n < s.batch; ++n) {
        for (int64_t l = 0; l < s.spatial; ++l) {
          T dot = 0;
          for (int c = 0; c < s.channels; ++c) {
            const int64_t i = NormIndex(s, n, c, l);
            dot += da[i] * a[i];
          }
          for (int c = 0; c < s.channels; ++c) {
            const int64_t i = NormIndex(s, n, c, l);
            dz[i] = a[i] * (da[i] - dot);
          }
        }
      }
      return;
  }
}

template <typename T>
void DropoutForward(int64_t count, double rate, const uint8_t* keep, const T* in, T* out) {
  const T scale = static_cast<T>(1.0 / (1.0 - rate));
  for (int64_t i = 0; i < count; ++i) out[i] = keep[i] != 0 ? in[i] * scale : T(0);
}

template <typename T>
void DropoutBackward(int64_t count, double rate, const uint8_t* keep, const T* dout, T* din) {
  const T scale = static_cast<T>(1.0 / (1.0 - rate));
  for (int64_t i = 0; i < count; ++i) din[i] = keep[i] != 0 ? dout[i] * scale : T(0);
}

#define LABBOOK_INSTANTIATE_KERNELS(T)                                                            \
  template void Conv2DForward<T>(const WindowShape&, int, const T*, const T*, const T*, T*);      \
  template void Conv2DBackward<T>(const WindowShape&, int, const T*, const T*, const T*, T*, T*,  \
                                  T*);                                                            \
  template void MaxPool2DForward<T>(const WindowShape&, const T*, T*, int32_t*);                  \
  template void MaxPool2DBackward<T>(const WindowShape&, const int32_t*, const T*, T*);           \
  template void AvgPool2DForward<T>(const WindowShape&, const T*, T*);                            \
  template void AvgPool2DBackward<T>(const WindowShape&, const T*, T*);                           \
  template void DenseForward<T>(int, int, int, const T*, const T*, const T*, T*);                 \
  template void DenseBackward<T>(int, int, int, const T*, const T*, const T*, T*, T*, T*);        \
  template void BatchNormTrainingForward<T>(const NormShape&, double, const T*, const T*,         \
                                            const T*, T*, T*, T*);                                \
  template void BatchNormTrainingBackward<T>(const NormShape&, double, const T*, const T*,        \
                                             const T*, const T*, const T*, T*, T*, T*);           \
  template void BatchNormInferenceForward<T>(const NormShape&, double, const T*, const T*,        \
                                             const T*, const T*, const T*, T*);                   \
  template void BatchNormInferenceBackward<T>(const NormShape&, double, const T*, const T*,       \
                                              const T*, const T*, const T*, T*, T*, T*);          \
  template void ActivationForward<T>(Activation, const NormShape&, const T*, T*);                 \
  template void ActivationBackward<T>(Activation, const NormShape&, const T*, const T*, const T*, \
                                      T*);                                                        \
  template void DropoutForward<T>(int64_t, double, const uint8_t*, const T*, T*);                 \
  template void DropoutBackward<T>(int64_t, double, const uint8_t*, const T*, T*);

LABBOOK_INSTANTIATE_KERNELS(float)
LABBOOK_INSTANTIATE_KERNELS(double)

}  // namespace labbook::nn::reference
