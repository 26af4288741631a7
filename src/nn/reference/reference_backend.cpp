// The reference backend: the CompiledModel interface over Network<float>.
#include <memory>
#include <utility>

#include "core/status_macros.hpp"
#include "nn/backend.hpp"
#include "nn/reference/network.hpp"

namespace labbook::nn {
namespace {

class ReferenceModel final : public CompiledModel {
 public:
  explicit ReferenceModel(std::unique_ptr<reference::Network<float>> net) : net_(std::move(net)) {}

  const std::vector<LayerInfo>& layers() const override { return net_->layers(); }
  int max_batch() const override { return net_->max_batch(); }

  const float* Forward(const float* input, int n, bool training) override {
    return net_->Forward(input, n, training);
  }
  const float* LastPreActivation() const override { return net_->LastPreActivation(); }
  void Backward(const float* grad, GradientOf of) override { net_->Backward(grad, of); }

  std::vector<ParamView> Parameters() override {
    std::vector<ParamView> views;
    for (auto& p : net_->parameters()) {
      views.push_back({p.name, p.value.data(), p.trainable ? p.grad.data() : nullptr,
                       static_cast<int64_t>(p.value.size()), p.trainable, p.l2});
    }
    return views;
  }

  void SetSeed(uint64_t seed) override { net_->SetSeed(seed); }

  std::vector<NamedTensor> ExportWeights() const override { return net_->ExportWeights(); }
  Status ImportWeights(const std::vector<NamedTensor>& weights) override {
    return net_->ImportWeights(weights);
  }

 private:
  std::unique_ptr<reference::Network<float>> net_;
};

class ReferenceBackend final : public Backend {
 public:
  std::string_view name() const override { return "reference"; }

  Result<std::unique_ptr<CompiledModel>> Compile(const ModelSpec& spec, int max_batch,
                                                 Precision precision, uint64_t seed) override {
    if (precision != Precision::kFloat32) {
      return InvalidArgument("the reference backend computes in float32 only");
    }
    LABBOOK_ASSIGN_OR_RETURN(auto net, reference::Network<float>::Create(spec, max_batch));
    LABBOOK_ASSIGN_OR_RETURN(const std::vector<NamedTensor> weights, InitialWeights(spec, seed));
    LABBOOK_RETURN_IF_ERROR(net->ImportWeights(weights));
    net->SetSeed(seed);
    return std::unique_ptr<CompiledModel>(std::make_unique<ReferenceModel>(std::move(net)));
  }
};

}  // namespace

std::unique_ptr<Backend> MakeReferenceBackend() { return std::make_unique<ReferenceBackend>(); }

}  // namespace labbook::nn
