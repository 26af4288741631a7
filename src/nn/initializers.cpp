// Keras' initialisers, drawn in the canonical layouts of spec.hpp from the seeded stream of
// random.hpp, so that every backend starts from the same numbers.
#include <algorithm>
#include <cmath>
#include <variant>

#include "core/status_macros.hpp"
#include "nn/backend.hpp"
#include "nn/random.hpp"

namespace labbook::nn {
namespace {

struct Fans {
  double in = 0;
  double out = 0;
};

// Keras' compute_fans, read in our layouts: a vector counts its length both ways; a Dense kernel
// (units, in) has fan_in = in; a Conv2D kernel (K, C, R, S) has fan_in = C*R*S, fan_out = K*R*S.
Fans FansOf(const std::vector<int64_t>& dims) {
  if (dims.size() == 1) return {static_cast<double>(dims[0]), static_cast<double>(dims[0])};
  if (dims.size() == 2) return {static_cast<double>(dims[1]), static_cast<double>(dims[0])};
  const double receptive_field = static_cast<double>(dims[2] * dims[3]);
  return {static_cast<double>(dims[1]) * receptive_field,
          static_cast<double>(dims[0]) * receptive_field};
}

void Fill(Initializer initializer, const std::vector<int64_t>& dims, Xoshiro256& rng,
          std::vector<float>& values) {
  const Fans fans = FansOf(dims);
  switch (initializer) {
    case Initializer::kZeros:
      std::fill(values.begin(), values.end(), 0.0f);
      return;
    case Initializer::kOnes:
      std::fill(values.begin(), values.end(), 1.0f);
      return;
    case Initializer::kGlorotUniform: {
      const double limit = std::sqrt(6.0 / (fans.in + fans.out));
      for (float& v : values) v = static_cast<float>((2.0 * rng.Uniform() - 1.0) * limit);
      return;
    }
    case Initializer::kHeNormal: {
      // Keras' VarianceScaling(2, fan_in, truncated_normal): the constant is the standard
      // deviation of a standard normal truncated to [-2, 2], so the truncated draws end up with
      // variance 2 / fan_in.
      const double stddev = std::sqrt(2.0 / fans.in) / 0.87962566103423978;
      for (float& v : values) v = static_cast<float>(rng.TruncatedNormal() * stddev);
      return;
    }
  }
}

}  // namespace

Result<std::vector<NamedTensor>> InitialWeights(const ModelSpec& spec, uint64_t seed) {
  LABBOOK_ASSIGN_OR_RETURN(const std::vector<LayerInfo> infos, InferShapes(spec));
  std::vector<NamedTensor> weights;
  for (size_t i = 0; i < infos.size(); ++i) {
    // One stream per layer: a layer's weights do not change when an earlier layer changes size.
    Xoshiro256 rng(MixSeed(seed, i));
    Initializer kernel_init = Initializer::kZeros;
    Initializer bias_init = Initializer::kZeros;
    if (const auto* conv = std::get_if<Conv2DSpec>(&spec.layers[i])) {
      kernel_init = conv->kernel_initializer;
      bias_init = conv->bias_initializer;
    } else if (const auto* dense = std::get_if<DenseSpec>(&spec.layers[i])) {
      kernel_init = dense->kernel_initializer;
      bias_init = dense->bias_initializer;
    }
    for (const ParamShape& param : infos[i].params) {
      NamedTensor tensor{infos[i].name + "/" + param.name, param.dims,
                         std::vector<float>(static_cast<size_t>(param.size()))};
      if (param.name == "kernel") {
        Fill(kernel_init, param.dims, rng, tensor.values);
      } else if (param.name == "bias") {
        Fill(bias_init, param.dims, rng, tensor.values);
      } else if (param.name == "gamma" || param.name == "moving_variance") {
        Fill(Initializer::kOnes, param.dims, rng, tensor.values);
      } else {  // beta, moving_mean
        Fill(Initializer::kZeros, param.dims, rng, tensor.values);
      }
      weights.push_back(std::move(tensor));
    }
  }
  return weights;
}

}  // namespace labbook::nn
