#include "train/model_file.hpp"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <system_error>

#include "core/config.hpp"
#include "core/status_macros.hpp"
#include "train/train_config.hpp"

namespace labbook::train {
namespace {

constexpr size_t kFixedHeaderBytes = 32;
constexpr uint64_t kAlignment = 64;
constexpr uint64_t kMaxHeaderBytes = uint64_t{1} << 30;

uint64_t AlignUp(uint64_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

uint32_t Crc32(const void* data, uint64_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* bytes = static_cast<const Bytef*>(data);
  while (size > 0) {
    const uInt chunk = static_cast<uInt>(std::min<uint64_t>(size, 1u << 30));
    crc = crc32(crc, bytes, chunk);
    bytes += chunk;
    size -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

std::string Hex32(uint32_t value) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", value);
  return buf;
}

template <typename T>
void PutLittleEndian(std::string& out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) {
    out.push_back(static_cast<char>((static_cast<uint64_t>(value) >> (8 * i)) & 0xff));
  }
}

template <typename T>
T GetLittleEndian(const unsigned char* bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) value |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  return static_cast<T>(value);
}

// Float tensors as little-endian bytes, and back; a no-op copy on little-endian hosts.
void AppendFloats(std::string& out, const std::vector<float>& values) {
  if constexpr (std::endian::native == std::endian::little) {
    out.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  } else {
    for (float v : values) PutLittleEndian(out, std::bit_cast<uint32_t>(v));
  }
}

void ReadFloats(const unsigned char* bytes, std::vector<float>& values) {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(values.data(), bytes, values.size() * sizeof(float));
  } else {
    for (size_t i = 0; i < values.size(); ++i) {
      values[i] = std::bit_cast<float>(GetLittleEndian<uint32_t>(bytes + 4 * i));
    }
  }
}

int64_t ElementCount(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

std::string DimsText(const std::vector<int64_t>& dims) {
  std::string out = "(";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(dims[i]);
  }
  return out + ")";
}

// The weights a spec needs, in order: "<layer name>/<param name>" and dims.
Result<std::vector<std::pair<std::string, std::vector<int64_t>>>> ExpectedWeights(
    const nn::ModelSpec& spec) {
  LABBOOK_ASSIGN_OR_RETURN(std::vector<nn::LayerInfo> layers, nn::InferShapes(spec));
  std::vector<std::pair<std::string, std::vector<int64_t>>> expected;
  for (const nn::LayerInfo& layer : layers) {
    for (const nn::ParamShape& param : layer.params) {
      expected.emplace_back(layer.name + "/" + param.name, param.dims);
    }
  }
  return expected;
}

Status CheckWeights(const std::string& where, const nn::ModelSpec& spec,
                    const std::vector<nn::NamedTensor>& weights) {
  LABBOOK_ASSIGN_OR_RETURN(auto expected, ExpectedWeights(spec));
  if (expected.size() != weights.size()) {
    return InvalidArgument(where + ": the model has " + std::to_string(expected.size()) +
                           " parameter tensors, got " + std::to_string(weights.size()));
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    const nn::NamedTensor& w = weights[i];
    if (w.name != expected[i].first || w.dims != expected[i].second) {
      return InvalidArgument(where + ": tensor " + std::to_string(i) + " should be '" +
                             expected[i].first + "' " + DimsText(expected[i].second) + ", got '" +
                             w.name + "' " + DimsText(w.dims));
    }
    if (static_cast<int64_t>(w.values.size()) != ElementCount(w.dims)) {
      return InvalidArgument(where + ": tensor '" + w.name + "' has " +
                             std::to_string(w.values.size()) + " values for dims " +
                             DimsText(w.dims));
    }
  }
  return Status::Ok();
}

nlohmann::json SummaryJson(const nn::ModelSpec& spec) {
  nlohmann::json rows = nlohmann::json::array();
  Result<std::vector<nn::LayerInfo>> layers = nn::InferShapes(spec);
  if (!layers.ok()) return rows;
  for (const nn::LayerInfo& layer : *layers) {
    const nn::SampleShape& s = layer.output;
    nlohmann::json shape =
        s.flat ? nlohmann::json{s.channels} : nlohmann::json{s.channels, s.height, s.width};
    rows.push_back({{"name", layer.name},
                    {"type", layer.type},
                    {"output_shape", shape},
                    {"params", layer.param_count()}});
  }
  return rows;
}

nlohmann::json JsonNumberOrNull(double value) {
  if (!std::isfinite(value)) return nullptr;
  return value;
}

double NumberOrNaN(const nlohmann::json& j) {
  return j.is_number() ? j.get<double>() : std::numeric_limits<double>::quiet_NaN();
}

struct TensorEntry {
  const nn::NamedTensor* tensor;
  std::string role;
};

Status WriteAll(const std::string& path, const std::string& bytes) {
  std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    int err = errno;
    if (err == ENOENT) return NotFound(path + ": directory does not exist");
    return PermissionDenied(path + ": cannot write: " + std::strerror(err));
  }
  size_t written = std::fwrite(bytes.data(), 1, bytes.size(), f);
  int flushed = std::fflush(f);
  int err = errno;
  int closed = std::fclose(f);
  if (written != bytes.size() || flushed != 0 || closed != 0) {
    std::remove(tmp.c_str());
    if (err == ENOSPC) return ResourceExhausted(path + ": disk full");
    return PermissionDenied(path + ": write failed: " + std::strerror(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    std::remove(tmp.c_str());
    return PermissionDenied(path + ": cannot rename into place: " + std::strerror(err));
  }
  return Status::Ok();
}

Result<std::string> ReadAll(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    int err = errno;
    if (err == ENOENT) return NotFound(path + ": no such file");
    return PermissionDenied(path + ": cannot read: " + std::strerror(err));
  }
  std::string bytes;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.append(buf, n);
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return PermissionDenied(path + ": read failed");
  return bytes;
}

// Parses one tensor-table entry; `where` is "<path>: header: tensors.<i>".
Status ParseTensorEntry(const std::string& where, const nlohmann::json& entry, std::string& name,
                        std::vector<int64_t>& dims, uint64_t& offset, uint64_t& bytes,
                        uint32_t& crc) {
  if (!entry.is_object()) return InvalidArgument(where + ": expected an object");
  auto field = [&](const char* key) -> const nlohmann::json* {
    auto it = entry.find(key);
    return it == entry.end() ? nullptr : &*it;
  };
  const nlohmann::json* j_name = field("name");
  if (j_name == nullptr || !j_name->is_string()) {
    return InvalidArgument(where + ".name: expected a string");
  }
  name = j_name->get<std::string>();
  const nlohmann::json* j_dtype = field("dtype");
  if (j_dtype == nullptr || *j_dtype != "float32") {
    return InvalidArgument(where + ".dtype: expected \"float32\", got " +
                           (j_dtype ? j_dtype->dump() : std::string("nothing")));
  }
  const nlohmann::json* j_dims = field("dims");
  if (j_dims == nullptr || !j_dims->is_array()) {
    return InvalidArgument(where + ".dims: expected a list of sizes");
  }
  dims.clear();
  for (const nlohmann::json& d : *j_dims) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t{1} << 40)) {
      return InvalidArgument(where + ".dims: expected non-negative sizes, got " + j_dims->dump());
    }
    dims.push_back(d.get<int64_t>());
  }
  for (const char* key : {"offset", "bytes"}) {
    const nlohmann::json* j = field(key);
    if (j == nullptr || !j->is_number_unsigned()) {
      return InvalidArgument(where + "." + key + ": expected a non-negative integer");
    }
  }
  offset = field("offset")->get<uint64_t>();
  bytes = field("bytes")->get<uint64_t>();
  const nlohmann::json* j_crc = field("crc32");
  if (j_crc == nullptr || !j_crc->is_string() || j_crc->get<std::string>().size() != 8) {
    return InvalidArgument(where + ".crc32: expected 8 hex digits");
  }
  crc = static_cast<uint32_t>(std::strtoul(j_crc->get<std::string>().c_str(), nullptr, 16));
  int64_t count = 1;
  for (int64_t d : dims) {
    if (d != 0 && count > (int64_t{1} << 40) / d) {
      return InvalidArgument(where + ".dims: " + DimsText(dims) + " is too large");
    }
    count *= d;
  }
  if (bytes != static_cast<uint64_t>(count) * sizeof(float)) {
    return InvalidArgument(where + ".bytes: " + std::to_string(bytes) + " does not match dims " +
                           DimsText(dims) + " of float32 (" +
                           std::to_string(count * sizeof(float)) + ")");
  }
  return Status::Ok();
}

}  // namespace

Status WriteModelFile(const std::string& path, const ModelFile& model) {
  LABBOOK_RETURN_IF_ERROR(CheckWeights(path, model.spec, model.weights));

  std::vector<TensorEntry> entries;
  for (const nn::NamedTensor& w : model.weights) entries.push_back({&w, "weight"});
  if (model.optimizer) {
    for (const nn::NamedTensor& s : model.optimizer->slots) {
      if (static_cast<int64_t>(s.values.size()) != ElementCount(s.dims)) {
        return InvalidArgument(path + ": optimizer slot '" + s.name + "' has " +
                               std::to_string(s.values.size()) + " values for dims " +
                               DimsText(s.dims));
      }
      entries.push_back({&s, "optimizer"});
    }
  }

  std::string data;
  nlohmann::json table = nlohmann::json::array();
  for (const TensorEntry& e : entries) {
    data.resize(AlignUp(data.size()), '\0');
    const uint64_t offset = data.size();
    AppendFloats(data, e.tensor->values);
    const uint64_t bytes = data.size() - offset;
    table.push_back({{"name", e.tensor->name},
                     {"role", e.role},
                     {"dtype", "float32"},
                     {"dims", e.tensor->dims},
                     {"offset", offset},
                     {"bytes", bytes},
                     {"crc32", Hex32(Crc32(data.data() + offset, bytes))}});
  }

  nlohmann::json history = nlohmann::json::array();
  for (const EpochRecord& r : model.history) {
    history.push_back({{"epoch", r.epoch},
                       {"loss", JsonNumberOrNull(r.loss)},
                       {"accuracy", JsonNumberOrNull(r.accuracy)},
                       {"val_loss", JsonNumberOrNull(r.val_loss)},
                       {"val_accuracy", JsonNumberOrNull(r.val_accuracy)},
                       {"learning_rate", JsonNumberOrNull(r.learning_rate)}});
  }
  nlohmann::json header = {
      {"format", "labbook-model"},
      {"format_version", kModelFormatVersion},
      {"model",
       {{"input",
         {{"channels", model.spec.input.channels},
          {"height", model.spec.input.height},
          {"width", model.spec.input.width}}},
        {"layers", LayersToJson(model.spec.layers)}}},
      {"summary", SummaryJson(model.spec)},
      {"class_names", model.class_names},
      {"config", model.config},
      {"training", {{"epochs_completed", model.epochs_completed}, {"history", history}}},
      {"optimizer", model.optimizer ? nlohmann::json{{"name", model.optimizer->name},
                                                     {"iterations", model.optimizer->iterations}}
                                    : nlohmann::json(nullptr)},
      {"tensors", table},
      {"data_bytes", data.size()},
  };
  const std::string header_text = header.dump(1);

  std::string file(kModelMagic, sizeof kModelMagic);
  file.append(3, '\0');
  PutLittleEndian<uint32_t>(file, kModelFormatVersion);
  PutLittleEndian<uint32_t>(file, Crc32(header_text.data(), header_text.size()));
  PutLittleEndian<uint64_t>(file, header_text.size());
  file += header_text;
  file.resize(AlignUp(file.size()), '\0');
  file += data;
  return WriteAll(path, file);
}

bool IsModelFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  char magic[sizeof kModelMagic];
  size_t n = std::fread(magic, 1, sizeof magic, f);
  std::fclose(f);
  return n == sizeof magic && std::memcmp(magic, kModelMagic, sizeof magic) == 0;
}

namespace {

Result<ModelFile> ParseModelBytes(const std::string& path, const std::string& file) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(file.data());
  const uint64_t size = file.size();

  const uint64_t magic_checked = std::min<uint64_t>(size, sizeof kModelMagic);
  if (std::memcmp(bytes, kModelMagic, magic_checked) != 0) {
    return InvalidArgument(path + ": not a labbook model file: expected the magic bytes " +
                           "\"LABBOOK\\0MODEL\" at offset 0");
  }
  if (size < kFixedHeaderBytes) {
    return DataLoss(path + ": truncated at offset " + std::to_string(size) +
                    ": the fixed header needs " + std::to_string(kFixedHeaderBytes) + " bytes");
  }
  const uint32_t version = GetLittleEndian<uint32_t>(bytes + 16);
  if (version != kModelFormatVersion) {
    return Status(ErrorCode::kUnimplemented,
                  path + ": offset 16: unsupported model format version " +
                      std::to_string(version) + " (this labbook reads version " +
                      std::to_string(kModelFormatVersion) + ")");
  }
  const uint32_t header_crc = GetLittleEndian<uint32_t>(bytes + 20);
  const uint64_t header_bytes = GetLittleEndian<uint64_t>(bytes + 24);
  if (header_bytes > kMaxHeaderBytes || kFixedHeaderBytes + header_bytes > size) {
    return DataLoss(path + ": truncated at offset " + std::to_string(size) +
                    ": the header at offset 32 is " + std::to_string(header_bytes) +
                    " bytes long, past the end of the file");
  }
  const uint32_t computed_crc = Crc32(bytes + kFixedHeaderBytes, header_bytes);
  if (computed_crc != header_crc) {
    return DataLoss(path + ": offset 32: header checksum mismatch (crc32 stored " +
                    Hex32(header_crc) + ", computed " + Hex32(computed_crc) + ")");
  }
  nlohmann::json header = nlohmann::json::parse(
      file.begin() + kFixedHeaderBytes,
      file.begin() + static_cast<std::ptrdiff_t>(kFixedHeaderBytes + header_bytes), nullptr,
      /*allow_exceptions=*/false);
  const std::string where = path + ": header";
  if (header.is_discarded() || !header.is_object()) {
    return InvalidArgument(where + " at offset 32: not a JSON object");
  }
  if (header.value("format", "") != "labbook-model") {
    return InvalidArgument(where + ": format: expected \"labbook-model\"");
  }

  ModelFile model;
  // The architecture goes through the config schema, so the checks and messages are the same.
  {
    auto it = header.find("model");
    if (it == header.end() || !it->is_object()) {
      return InvalidArgument(where + ": model: expected an object");
    }
    config::Node node = config::FromJson(*it, {where, 0});
    nlohmann::json resolved;
    config::MapReader reader(&node, "model", {where, 0}, &resolved);
    LABBOOK_ASSIGN_OR_RETURN(config::MapReader input, reader.Map("input", "the input shape"));
    const int64_t kMaxDim = 1 << 20;
    LABBOOK_ASSIGN_OR_RETURN(int64_t channels, input.Integer("channels", 1, kMaxDim, std::nullopt));
    LABBOOK_ASSIGN_OR_RETURN(int64_t height, input.Integer("height", 1, kMaxDim, std::nullopt));
    LABBOOK_ASSIGN_OR_RETURN(int64_t width, input.Integer("width", 1, kMaxDim, std::nullopt));
    LABBOOK_RETURN_IF_ERROR(input.Finish("the input shape"));
    model.spec.input = {static_cast<int>(channels), static_cast<int>(height),
                        static_cast<int>(width), false};
    LABBOOK_ASSIGN_OR_RETURN(model.spec.layers, ReadLayers(reader, nullptr));
    LABBOOK_RETURN_IF_ERROR(reader.Finish("the model"));
    Result<std::vector<nn::LayerInfo>> shapes = nn::InferShapes(model.spec);
    if (!shapes.ok()) return InvalidArgument(where + ": model: " + shapes.status().message());
  }
  if (auto it = header.find("class_names"); it != header.end() && it->is_array()) {
    for (const nlohmann::json& name : *it) {
      if (!name.is_string()) return InvalidArgument(where + ": class_names: expected strings");
      model.class_names.push_back(name.get<std::string>());
    }
  }
  model.config = header.value("config", nlohmann::json());
  if (auto it = header.find("training"); it != header.end() && it->is_object()) {
    model.epochs_completed = it->value("epochs_completed", 0);
    if (auto h = it->find("history"); h != it->end() && h->is_array()) {
      for (const nlohmann::json& r : *h) {
        if (!r.is_object()) return InvalidArgument(where + ": training.history: expected objects");
        model.history.push_back({r.value("epoch", 0),
                                 NumberOrNaN(r.value("loss", nlohmann::json())),
                                 NumberOrNaN(r.value("accuracy", nlohmann::json())),
                                 NumberOrNaN(r.value("val_loss", nlohmann::json())),
                                 NumberOrNaN(r.value("val_accuracy", nlohmann::json())),
                                 NumberOrNaN(r.value("learning_rate", nlohmann::json()))});
      }
    }
  }
  if (auto it = header.find("optimizer"); it != header.end() && !it->is_null()) {
    if (!it->is_object() || !it->contains("name") || !(*it)["name"].is_string()) {
      return InvalidArgument(where + ": optimizer: expected null or an object with a name");
    }
    OptimizerState state;
    state.name = (*it)["name"].get<std::string>();
    state.iterations = it->value("iterations", int64_t{0});
    model.optimizer = std::move(state);
  }

  auto data_bytes_it = header.find("data_bytes");
  if (data_bytes_it == header.end() || !data_bytes_it->is_number_unsigned()) {
    return InvalidArgument(where + ": data_bytes: expected a non-negative integer");
  }
  const uint64_t data_bytes = data_bytes_it->get<uint64_t>();
  const uint64_t data_start = AlignUp(kFixedHeaderBytes + header_bytes);
  if (data_bytes > size || data_start + data_bytes > size) {
    return DataLoss(path + ": truncated at offset " + std::to_string(size) +
                    ": the data section should end at offset " +
                    std::to_string(data_start + data_bytes));
  }
  if (data_start + data_bytes < size) {
    return DataLoss(path + ": " + std::to_string(size - data_start - data_bytes) +
                    " unexpected bytes after the data section, from offset " +
                    std::to_string(data_start + data_bytes));
  }

  auto tensors_it = header.find("tensors");
  if (tensors_it == header.end() || !tensors_it->is_array()) {
    return InvalidArgument(where + ": tensors: expected a list");
  }
  for (size_t i = 0; i < tensors_it->size(); ++i) {
    const nlohmann::json& entry = (*tensors_it)[i];
    const std::string entry_where = where + ": tensors." + std::to_string(i);
    nn::NamedTensor tensor;
    uint64_t offset = 0, length = 0;
    uint32_t crc = 0;
    LABBOOK_RETURN_IF_ERROR(
        ParseTensorEntry(entry_where, entry, tensor.name, tensor.dims, offset, length, crc));
    if (offset > data_bytes || length > data_bytes - offset) {
      return InvalidArgument(entry_where + ": tensor '" + tensor.name + "' (offset " +
                             std::to_string(offset) + ", " + std::to_string(length) +
                             " bytes) lies outside the data section of " +
                             std::to_string(data_bytes) + " bytes");
    }
    const uint64_t file_offset = data_start + offset;
    const uint32_t computed = Crc32(bytes + file_offset, length);
    if (computed != crc) {
      return DataLoss(path + ": tensor '" + tensor.name + "' at offset " +
                      std::to_string(file_offset) + ": checksum mismatch (crc32 stored " +
                      Hex32(crc) + ", computed " + Hex32(computed) + ")");
    }
    tensor.values.resize(length / sizeof(float));
    ReadFloats(bytes + file_offset, tensor.values);
    const std::string role = entry.value("role", "weight");
    if (role == "weight") {
      model.weights.push_back(std::move(tensor));
    } else if (role == "optimizer" && model.optimizer) {
      model.optimizer->slots.push_back(std::move(tensor));
    } else {
      return InvalidArgument(entry_where + ".role: expected \"weight\"" +
                             std::string(model.optimizer ? " or \"optimizer\"" : "") + ", got \"" +
                             role + "\"");
    }
  }
  LABBOOK_RETURN_IF_ERROR(CheckWeights(where + ": tensors", model.spec, model.weights));
  return model;
}

}  // namespace

Result<ModelFile> ReadModelFile(const std::string& path) {
  LABBOOK_ASSIGN_OR_RETURN(std::string file, ReadAll(path));
  try {
    return ParseModelBytes(path, file);
  } catch (const nlohmann::json::exception& e) {
    // A header field of the wrong JSON type that the checks above did not anticipate.
    return InvalidArgument(path + ": header: " + e.what());
  }
}

}  // namespace labbook::train
