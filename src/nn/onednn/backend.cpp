// MakeOneDnnBackend: the Backend that compiles models onto oneDNN primitives.
#include <omp.h>

#include "core/status_macros.hpp"
#include "nn/backend.hpp"
#include "nn/onednn/model.hpp"

namespace labbook::nn {
namespace {

class OneDnnBackend final : public Backend {
 public:
  explicit OneDnnBackend(int num_threads)
      : num_threads_(num_threads > 0 ? num_threads : omp_get_num_procs()) {}

  std::string_view name() const override { return "onednn"; }

  Result<std::unique_ptr<CompiledModel>> Compile(const ModelSpec& spec, int max_batch,
                                                 Precision precision, uint64_t seed) override {
    LABBOOK_ASSIGN_OR_RETURN(std::vector<LayerInfo> layers, InferShapes(spec));
    LABBOOK_ASSIGN_OR_RETURN(
        std::unique_ptr<onednn::OneDnnModel> model,
        onednn::OneDnnModel::Create(spec, std::move(layers), max_batch, precision, num_threads_));
    LABBOOK_ASSIGN_OR_RETURN(std::vector<NamedTensor> weights, InitialWeights(spec, seed));
    LABBOOK_RETURN_IF_ERROR(model->ImportWeights(weights));
    model->SetSeed(seed);
    return std::unique_ptr<CompiledModel>(std::move(model));
  }

 private:
  int num_threads_;
};

}  // namespace

std::unique_ptr<Backend> MakeOneDnnBackend(int num_threads) {
  return std::make_unique<OneDnnBackend>(num_threads);
}

}  // namespace labbook::nn
