// Trained models: load a model file written by `labbook train` (format: docs/model-format.md),
// predict class probabilities for images, and describe the architecture as Keras' summary does.
//
// A Model owns its compiled network and is not thread-safe: use one Model per thread. Errors
// name the model file and what was wrong with it, or the images that do not fit.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "labbook/dataset.hpp"
#include "labbook/export.hpp"
#include "labbook/status.hpp"

namespace labbook {

struct ModelOptions {
  // "onednn" or "reference"; empty: the backend the model was trained with.
  std::string backend;
  // Threads of the oneDNN backend; 0: as many as the model was trained with.
  int threads = 0;
  // Images per forward pass.
  int batch_size = 256;
};

// One row of probabilities per image.
struct Predictions {
  int64_t count = 0;
  int num_classes = 0;
  std::vector<int32_t> predicted;     // the most probable class of each image (first on ties)
  std::vector<double> probabilities;  // (count, num_classes) row-major
};

class LABBOOK_EXPORT Model {
 public:
  // Reads, validates and compiles a model file. NotFound for a missing file; InvalidArgument,
  // DataLoss or Unimplemented naming the file and offset for anything that is not a valid model
  // file of a supported version; InvalidArgument for unknown options.
  [[nodiscard]] static Result<Model> Load(const std::string& path,
                                          const ModelOptions& options = {});

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  int num_classes() const;
  // One per class, from the dataset the model was trained on ("0".."K-1" when unknown).
  const std::vector<std::string>& class_names() const;
  // The image shape the model takes.
  int input_rows() const;
  int input_cols() const;
  int input_channels() const;
  int epochs_trained() const;

  // Class probabilities of every image. Labels are not used (they may be empty). InvalidArgument
  // when the images are not of the model's input shape.
  [[nodiscard]] Result<Predictions> Predict(const ImageSet& images);

  // Keras' model.summary() table: layers, output shapes, parameter counts and totals.
  std::string Summary() const;

 private:
  struct Impl;
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace labbook
