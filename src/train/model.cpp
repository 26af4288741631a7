// The public Model (include/labbook/model.hpp) on top of the model file and a backend.
#include "labbook/model.hpp"

#include "core/status_macros.hpp"
#include "train/model_file.hpp"
#include "train/summary.hpp"
#include "train/trainer.hpp"

namespace labbook {

struct Model::Impl {
  train::ModelFile file;
  std::vector<nn::LayerInfo> layers;
  std::unique_ptr<nn::Backend> backend;  // declared before `compiled`, so it outlives it
  std::unique_ptr<nn::CompiledModel> compiled;
};

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Result<Model> Model::Load(const std::string& path, const ModelOptions& options) {
  auto impl = std::make_unique<Impl>();
  LABBOOK_ASSIGN_OR_RETURN(impl->file, train::ReadModelFile(path));
  LABBOOK_ASSIGN_OR_RETURN(impl->layers, nn::InferShapes(impl->file.spec));

  // The model runs as it was trained unless the options say otherwise.
  const nlohmann::json& config = impl->file.config;
  auto configured = [&config](const char* key, const std::string& fallback) {
    if (config.is_object() && config.contains(key) && config[key].is_string()) {
      return config[key].get<std::string>();
    }
    return fallback;
  };
  const std::string backend_name =
      options.backend.empty() ? configured("backend", "onednn") : options.backend;
  train::BackendKind backend;
  if (backend_name == "onednn") {
    backend = train::BackendKind::kOneDnn;
  } else if (backend_name == "reference") {
    backend = train::BackendKind::kReference;
  } else {
    return InvalidArgument("backend: expected onednn or reference, got '" + backend_name + "'");
  }
  int threads = options.threads;
  if (threads <= 0) {
    threads = config.is_object() && config.contains("threads") && config["threads"].is_number()
                  ? config["threads"].get<int>()
                  : 1;
  }
  if (options.batch_size < 1) {
    return InvalidArgument("batch_size: expected a positive integer, got " +
                           std::to_string(options.batch_size));
  }
  const nn::Precision precision =
      backend == train::BackendKind::kOneDnn && configured("precision", "fp32") == "bf16"
          ? nn::Precision::kBFloat16
          : nn::Precision::kFloat32;
  impl->backend = train::MakeBackend(backend, std::max(threads, 1));
  LABBOOK_ASSIGN_OR_RETURN(impl->compiled,
                           impl->backend->Compile(impl->file.spec, options.batch_size, precision,
                                                  /*seed=*/0));
  LABBOOK_RETURN_IF_ERROR(impl->compiled->ImportWeights(impl->file.weights).WithContext(path));
  if (impl->file.class_names.size() != static_cast<size_t>(impl->layers.back().output.size())) {
    impl->file.class_names.clear();
    for (int64_t k = 0; k < impl->layers.back().output.size(); ++k) {
      impl->file.class_names.push_back(std::to_string(k));
    }
  }
  return Model(std::move(impl));
}

int Model::num_classes() const { return static_cast<int>(impl_->layers.back().output.size()); }
const std::vector<std::string>& Model::class_names() const { return impl_->file.class_names; }
int Model::input_rows() const { return impl_->file.spec.input.height; }
int Model::input_cols() const { return impl_->file.spec.input.width; }
int Model::input_channels() const { return impl_->file.spec.input.channels; }
int Model::epochs_trained() const { return impl_->file.epochs_completed; }

Result<Predictions> Model::Predict(const ImageSet& images) {
  LABBOOK_ASSIGN_OR_RETURN(
      train::Evaluation eval,
      train::Evaluate(*impl_->compiled, impl_->file.spec.input, images, /*loss=*/nullptr));
  Predictions predictions;
  predictions.count = eval.count;
  predictions.num_classes = eval.num_classes;
  predictions.predicted = std::move(eval.predicted);
  predictions.probabilities = std::move(eval.probabilities);
  return predictions;
}

std::string Model::Summary() const { return train::FormatModelSummary(impl_->layers); }

}  // namespace labbook
