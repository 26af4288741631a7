// The model file (.lbm): a trained model's architecture, weights and, optionally, the optimizer
// state to continue training, in one versioned binary file. docs/model-format.md is the
// specification; in short:
//
//   offset 0   13 bytes  magic "LABBOOK\0MODEL", then 3 zero bytes
//   offset 16  u32       format version (1)
//   offset 20  u32       CRC-32 of the header
//   offset 24  u64       header length H in bytes
//   offset 32  H bytes   header: UTF-8 JSON (model, classes, config, training, tensor table)
//   then zero padding to a multiple of 64: the data section, holding every tensor as raw
//   little-endian float32 in the canonical layout of nn/spec.hpp, each at a 64-byte aligned
//   offset with its own CRC-32 in the tensor table.
//
// Writing is atomic (a temporary file renamed into place). Reading validates everything before
// returning and names the file and byte offset of the first problem. Plain functions, no state.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "labbook/status.hpp"
#include "nn/backend.hpp"
#include "nn/spec.hpp"

namespace labbook::train {

inline constexpr char kModelMagic[13] = {'L',  'A', 'B', 'B', 'O', 'O', 'K',
                                         '\0', 'M', 'O', 'D', 'E', 'L'};
inline constexpr uint32_t kModelFormatVersion = 1;

// What continuing training needs besides the weights: the optimizer's step count and its
// per-parameter slots (moments, accumulators), named by the optimizer.
struct OptimizerState {
  std::string name;  // the config's optimizer name, e.g. "adam"
  int64_t iterations = 0;
  std::vector<nn::NamedTensor> slots;
};

// One epoch's numbers as the trainer reports them (NaN where there was no validation data).
struct EpochRecord {
  int epoch = 0;  // 1-based
  double loss = 0, accuracy = 0, val_loss = 0, val_accuracy = 0;
  double learning_rate = 0;
};

struct ModelFile {
  nn::ModelSpec spec;
  std::vector<std::string> class_names;  // one per output unit
  nlohmann::json config;                 // the resolved training config; null if none
  int epochs_completed = 0;
  std::vector<EpochRecord> history;
  std::vector<nn::NamedTensor> weights;  // every parameter of spec, canonical layout
  std::optional<OptimizerState> optimizer;
};

// Writes `model` to `path`. InvalidArgument when the weights do not match the spec's parameters
// (by name, order and dims); PermissionDenied, NotFound (missing directory) or ResourceExhausted
// (disk full) naming the path when the file cannot be written.
[[nodiscard]] Status WriteModelFile(const std::string& path, const ModelFile& model);

// Reads and validates a model file. NotFound for a missing file; InvalidArgument for a file that
// is not a model file (wrong magic) or whose header does not describe a valid model;
// Unimplemented for a format version this build does not read; DataLoss for a truncated file,
// trailing bytes or a checksum mismatch. Each message starts with the path and names the offset.
[[nodiscard]] Result<ModelFile> ReadModelFile(const std::string& path);

// Whether `path` starts with the model magic (without validating the rest).
bool IsModelFile(const std::string& path);

}  // namespace labbook::train
