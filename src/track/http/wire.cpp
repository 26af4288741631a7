#include "track/http/wire.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include <zlib.h>

#include "core/status_macros.hpp"

namespace labbook::track::wire {
namespace {

using nlohmann::json;

Status Expected(const std::string& where, std::string_view what) {
  return InvalidArgument(where + ": expected " + std::string(what));
}

// Typed access to the fields of one JSON object; every error names the field's path.
class ObjectReader {
 public:
  ObjectReader(const json& value, std::string where) : value_(value), where_(std::move(where)) {}

  Status CheckObject() const {
    return value_.is_object() ? Status::Ok() : Expected(where_, "an object");
  }
  std::string Path(std::string_view field) const { return where_ + "." + std::string(field); }
  const json* Find(std::string_view field) const {
    auto it = value_.find(field);
    if (it == value_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  Status String(std::string_view field, std::string& out) const {
    const json* v = Find(field);
    if (v == nullptr) return Status::Ok();
    if (!v->is_string()) return Expected(Path(field), "a string");
    out = v->get<std::string>();
    return Status::Ok();
  }
  Status OptionalString(std::string_view field, std::optional<std::string>& out) const {
    const json* v = Find(field);
    if (v == nullptr) return Status::Ok();
    if (!v->is_string()) return Expected(Path(field), "a string");
    out = v->get<std::string>();
    return Status::Ok();
  }
  Status Number(std::string_view field, double& out) const {
    const json* v = Find(field);
    if (v == nullptr) return Status::Ok();
    LABBOOK_ASSIGN_OR_RETURN(out, NumberFromJson(*v, Path(field)));
    return Status::Ok();
  }
  Status OptionalNumber(std::string_view field, std::optional<double>& out) const {
    const json* v = Find(field);
    if (v == nullptr) return Status::Ok();
    LABBOOK_ASSIGN_OR_RETURN(double number, NumberFromJson(*v, Path(field)));
    out = number;
    return Status::Ok();
  }
  template <typename Int>
  Status Integer(std::string_view field, Int& out) const {
    const json* v = Find(field);
    if (v == nullptr) return Status::Ok();
    if (!v->is_number_integer()) return Expected(Path(field), "an integer");
    out = v->get<Int>();
    return Status::Ok();
  }
  Status OptionalInt(std::string_view field, std::optional<int>& out) const {
    const json* v = Find(field);
    if (v == nullptr) return Status::Ok();
    if (!v->is_number_integer()) return Expected(Path(field), "an integer");
    out = v->get<int>();
    return Status::Ok();
  }
  Status Strings(std::string_view field, std::vector<std::string>& out) const {
    const json* v = Find(field);
    if (v == nullptr) return Status::Ok();
    if (!v->is_array()) return Expected(Path(field), "an array of strings");
    out.clear();
    for (size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string()) {
        return Expected(Path(field) + "[" + std::to_string(i) + "]", "a string");
      }
      out.push_back((*v)[i].get<std::string>());
    }
    return Status::Ok();
  }
  Status Object(std::string_view field, json& out) const {
    const json* v = Find(field);
    if (v == nullptr) return Status::Ok();
    if (!v->is_object()) return Expected(Path(field), "an object");
    out = *v;
    return Status::Ok();
  }

 private:
  const json& value_;
  std::string where_;
};

json TimeOrNull(double time) { return NumberToJson(time); }

// Little-endian primitives of the binary batch (x86 and ARM are little-endian; the memcpy keeps
// unaligned access defined).
template <typename T>
void Put(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : bytes_(bytes) {}
  template <typename T>
  bool Get(T& value) {
    if (bytes_.size() - offset_ < sizeof(T)) return false;
    std::memcpy(&value, bytes_.data() + offset_, sizeof(T));
    offset_ += sizeof(T);
    return true;
  }
  bool GetString(size_t size, std::string& out) {
    if (bytes_.size() - offset_ < size) return false;
    out.assign(bytes_.data() + offset_, size);
    offset_ += size;
    return true;
  }
  size_t offset() const { return offset_; }
  size_t remaining() const { return bytes_.size() - offset_; }

 private:
  std::string_view bytes_;
  size_t offset_ = 0;
};

}  // namespace

json NumberToJson(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  return value;
}

Result<double> NumberFromJson(const json& value, const std::string& where) {
  if (value.is_number()) return value.get<double>();
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (text == "Infinity") return std::numeric_limits<double>::infinity();
    if (text == "-Infinity") return -std::numeric_limits<double>::infinity();
  }
  return Expected(where, "a number (or \"NaN\", \"Infinity\", \"-Infinity\")");
}

json RunToJson(const RunInfo& run) {
  return json{{"id", run.id},
              {"entity", run.entity},
              {"project", run.project},
              {"name", run.name},
              {"group", run.group},
              {"tags", run.tags},
              {"notes", run.notes},
              {"state", RunStateName(run.state)},
              {"config", run.config},
              {"summary", run.summary},
              {"host", run.host},
              {"pid", run.pid},
              {"git_commit", run.git_commit},
              {"start_time", TimeOrNull(run.start_time)},
              {"heartbeat_time", TimeOrNull(run.heartbeat_time)},
              {"end_time", TimeOrNull(run.end_time)},
              {"exit_code", run.exit_code ? json(*run.exit_code) : json(nullptr)}};
}

Result<RunInfo> RunFromJson(const json& value, const std::string& where) {
  ObjectReader r(value, where);
  LABBOOK_RETURN_IF_ERROR(r.CheckObject());
  RunInfo run;
  LABBOOK_RETURN_IF_ERROR(r.String("id", run.id));
  LABBOOK_RETURN_IF_ERROR(r.String("entity", run.entity));
  LABBOOK_RETURN_IF_ERROR(r.String("project", run.project));
  LABBOOK_RETURN_IF_ERROR(r.String("name", run.name));
  LABBOOK_RETURN_IF_ERROR(r.String("group", run.group));
  LABBOOK_RETURN_IF_ERROR(r.Strings("tags", run.tags));
  LABBOOK_RETURN_IF_ERROR(r.String("notes", run.notes));
  std::string state = "running";
  LABBOOK_RETURN_IF_ERROR(r.String("state", state));
  std::optional<RunState> parsed = ParseRunState(state);
  if (!parsed) return Expected(r.Path("state"), "running, finished, failed or crashed");
  run.state = *parsed;
  LABBOOK_RETURN_IF_ERROR(r.Object("config", run.config));
  LABBOOK_RETURN_IF_ERROR(r.Object("summary", run.summary));
  LABBOOK_RETURN_IF_ERROR(r.String("host", run.host));
  LABBOOK_RETURN_IF_ERROR(r.Integer("pid", run.pid));
  LABBOOK_RETURN_IF_ERROR(r.String("git_commit", run.git_commit));
  LABBOOK_RETURN_IF_ERROR(r.Number("start_time", run.start_time));
  LABBOOK_RETURN_IF_ERROR(r.Number("heartbeat_time", run.heartbeat_time));
  LABBOOK_RETURN_IF_ERROR(r.Number("end_time", run.end_time));
  LABBOOK_RETURN_IF_ERROR(r.OptionalInt("exit_code", run.exit_code));
  return run;
}

json UpdateToJson(const RunUpdate& update) {
  json out = json::object();
  if (update.state) out["state"] = RunStateName(*update.state);
  if (update.summary_patch) out["summary_patch"] = *update.summary_patch;
  if (update.heartbeat_time) out["heartbeat_time"] = NumberToJson(*update.heartbeat_time);
  if (update.end_time) out["end_time"] = NumberToJson(*update.end_time);
  if (update.exit_code) out["exit_code"] = *update.exit_code;
  if (update.notes) out["notes"] = *update.notes;
  if (update.tags) out["tags"] = *update.tags;
  return out;
}

Result<RunUpdate> UpdateFromJson(const json& value, const std::string& where) {
  ObjectReader r(value, where);
  LABBOOK_RETURN_IF_ERROR(r.CheckObject());
  static const char* const kFields[] = {
      "state", "summary_patch", "heartbeat_time", "end_time", "exit_code", "notes", "tags"};
  for (auto it = value.begin(); it != value.end(); ++it) {
    bool known = false;
    for (const char* field : kFields) known = known || it.key() == field;
    if (!known) {
      return InvalidArgument(r.Path(it.key()) +
                             ": unknown field; expected state, summary_patch, heartbeat_time, "
                             "end_time, exit_code, notes or tags");
    }
  }
  RunUpdate update;
  std::optional<std::string> state;
  LABBOOK_RETURN_IF_ERROR(r.OptionalString("state", state));
  if (state) {
    update.state = ParseRunState(*state);
    if (!update.state) return Expected(r.Path("state"), "running, finished, failed or crashed");
  }
  if (const json* patch = r.Find("summary_patch")) {
    if (!patch->is_object()) return Expected(r.Path("summary_patch"), "an object");
    update.summary_patch = *patch;
  }
  LABBOOK_RETURN_IF_ERROR(r.OptionalNumber("heartbeat_time", update.heartbeat_time));
  LABBOOK_RETURN_IF_ERROR(r.OptionalNumber("end_time", update.end_time));
  LABBOOK_RETURN_IF_ERROR(r.OptionalInt("exit_code", update.exit_code));
  LABBOOK_RETURN_IF_ERROR(r.OptionalString("notes", update.notes));
  if (r.Find("tags") != nullptr) {
    update.tags.emplace();
    LABBOOK_RETURN_IF_ERROR(r.Strings("tags", *update.tags));
  }
  return update;
}

json HistoryBatchToJson(const HistoryBatch& batch) {
  json points = json::array();
  for (const HistoryPoint& p : batch.points) {
    points.push_back(
        json::array({p.key, p.step, NumberToJson(p.value), NumberToJson(p.wall_time)}));
  }
  return json{{"keys", batch.keys}, {"points", std::move(points)}};
}

Result<HistoryBatch> HistoryBatchFromJson(const json& value, const std::string& where) {
  ObjectReader r(value, where);
  LABBOOK_RETURN_IF_ERROR(r.CheckObject());
  HistoryBatch batch;
  LABBOOK_RETURN_IF_ERROR(r.Strings("keys", batch.keys));
  const json* points = r.Find("points");
  if (points == nullptr) return batch;
  if (!points->is_array()) return Expected(r.Path("points"), "an array");
  batch.points.reserve(points->size());
  for (size_t i = 0; i < points->size(); ++i) {
    const json& p = (*points)[i];
    const std::string path = r.Path("points") + "[" + std::to_string(i) + "]";
    if (!p.is_array() || p.size() != 4) {
      return Expected(path, "[key_index, step, value, wall_time]");
    }
    if (!p[0].is_number_unsigned() || p[0].get<uint64_t>() >= batch.keys.size()) {
      return Expected(path + "[0]",
                      "an index into keys (0.." + std::to_string(batch.keys.size()) + ")");
    }
    if (!p[1].is_number_integer()) return Expected(path + "[1]", "an integer step");
    HistoryPoint point;
    point.key = p[0].get<uint32_t>();
    point.step = p[1].get<int64_t>();
    LABBOOK_ASSIGN_OR_RETURN(point.value, NumberFromJson(p[2], path + "[2]"));
    LABBOOK_ASSIGN_OR_RETURN(point.wall_time, NumberFromJson(p[3], path + "[3]"));
    batch.points.push_back(point);
  }
  return batch;
}

std::string EncodeHistoryBatch(const HistoryBatch& batch) {
  std::string out;
  out.reserve(16 + batch.keys.size() * 16 + batch.points.size() * 28);
  out.append("LBH1");
  Put<uint32_t>(out, static_cast<uint32_t>(batch.keys.size()));
  for (const std::string& key : batch.keys) {
    Put<uint32_t>(out, static_cast<uint32_t>(key.size()));
    out.append(key);
  }
  Put<uint64_t>(out, batch.points.size());
  for (const HistoryPoint& p : batch.points) {
    Put<uint32_t>(out, p.key);
    Put<int64_t>(out, p.step);
    Put<double>(out, p.value);
    Put<double>(out, p.wall_time);
  }
  return out;
}

Result<HistoryBatch> DecodeHistoryBatch(std::string_view bytes) {
  constexpr size_t kPointBytes = 4 + 8 + 8 + 8;
  auto truncated = [](size_t offset) {
    return InvalidArgument("history batch: truncated at byte " + std::to_string(offset));
  };
  if (bytes.substr(0, 4) != "LBH1") {
    return InvalidArgument("history batch: expected the magic bytes LBH1 at byte 0");
  }
  ByteReader in(bytes.substr(4));
  HistoryBatch batch;
  uint32_t key_count = 0;
  if (!in.Get(key_count)) return truncated(4 + in.offset());
  if (key_count > in.remaining() / 4) return truncated(4 + in.offset());
  batch.keys.resize(key_count);
  for (std::string& key : batch.keys) {
    uint32_t size = 0;
    if (!in.Get(size) || !in.GetString(size, key)) return truncated(4 + in.offset());
  }
  uint64_t point_count = 0;
  if (!in.Get(point_count)) return truncated(4 + in.offset());
  if (point_count != in.remaining() / kPointBytes || in.remaining() % kPointBytes != 0) {
    return InvalidArgument("history batch: " + std::to_string(point_count) + " points need " +
                           std::to_string(point_count * kPointBytes) + " bytes after byte " +
                           std::to_string(4 + in.offset()) + ", found " +
                           std::to_string(in.remaining()));
  }
  batch.points.resize(point_count);
  for (size_t i = 0; i < point_count; ++i) {
    HistoryPoint& p = batch.points[i];
    const size_t offset = 4 + in.offset();
    if (!in.Get(p.key) || !in.Get(p.step) || !in.Get(p.value) || !in.Get(p.wall_time)) {
      return truncated(offset);
    }
    if (p.key >= key_count) {
      return InvalidArgument("history batch: point " + std::to_string(i) + " at byte " +
                             std::to_string(offset) + " names key " + std::to_string(p.key) +
                             " of " + std::to_string(key_count));
    }
  }
  return batch;
}

json KeyInfoToJson(const KeyInfo& key) {
  return json{{"key", key.key},
              {"count", key.count},
              {"first_step", key.first_step},
              {"last_step", key.last_step},
              {"last_value", NumberToJson(key.last_value)},
              {"min", NumberToJson(key.min)},
              {"max", NumberToJson(key.max)}};
}

Result<KeyInfo> KeyInfoFromJson(const json& value, const std::string& where) {
  ObjectReader r(value, where);
  LABBOOK_RETURN_IF_ERROR(r.CheckObject());
  KeyInfo key;
  LABBOOK_RETURN_IF_ERROR(r.String("key", key.key));
  LABBOOK_RETURN_IF_ERROR(r.Integer("count", key.count));
  LABBOOK_RETURN_IF_ERROR(r.Integer("first_step", key.first_step));
  LABBOOK_RETURN_IF_ERROR(r.Integer("last_step", key.last_step));
  LABBOOK_RETURN_IF_ERROR(r.Number("last_value", key.last_value));
  LABBOOK_RETURN_IF_ERROR(r.Number("min", key.min));
  LABBOOK_RETURN_IF_ERROR(r.Number("max", key.max));
  return key;
}

json SeriesToJson(const Series& series) {
  json values = json::array();
  json wall_times = json::array();
  for (double v : series.values) values.push_back(NumberToJson(v));
  for (double v : series.wall_times) wall_times.push_back(NumberToJson(v));
  return json{{"key", series.key},
              {"steps", series.steps},
              {"values", std::move(values)},
              {"wall_times", std::move(wall_times)},
              {"points_in_range", series.points_in_range},
              {"downsampled", series.downsampled}};
}

Result<Series> SeriesFromJson(const json& value, const std::string& where) {
  ObjectReader r(value, where);
  LABBOOK_RETURN_IF_ERROR(r.CheckObject());
  Series series;
  LABBOOK_RETURN_IF_ERROR(r.String("key", series.key));
  LABBOOK_RETURN_IF_ERROR(r.Integer("points_in_range", series.points_in_range));
  if (const json* d = r.Find("downsampled")) {
    if (!d->is_boolean()) return Expected(r.Path("downsampled"), "true or false");
    series.downsampled = d->get<bool>();
  }
  const json* steps = r.Find("steps");
  const json* values = r.Find("values");
  const json* walls = r.Find("wall_times");
  if (steps == nullptr || !steps->is_array()) return Expected(r.Path("steps"), "an array");
  if (values == nullptr || !values->is_array() || values->size() != steps->size()) {
    return Expected(r.Path("values"), "an array as long as steps");
  }
  if (walls == nullptr || !walls->is_array() || walls->size() != steps->size()) {
    return Expected(r.Path("wall_times"), "an array as long as steps");
  }
  const size_t n = steps->size();
  series.steps.resize(n);
  series.values.resize(n);
  series.wall_times.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string index = "[" + std::to_string(i) + "]";
    if (!(*steps)[i].is_number_integer()) return Expected(r.Path("steps") + index, "an integer");
    series.steps[i] = (*steps)[i].get<int64_t>();
    LABBOOK_ASSIGN_OR_RETURN(series.values[i],
                             NumberFromJson((*values)[i], r.Path("values") + index));
    LABBOOK_ASSIGN_OR_RETURN(series.wall_times[i],
                             NumberFromJson((*walls)[i], r.Path("wall_times") + index));
  }
  return series;
}

json ArtifactFileToJson(const ArtifactFile& file) {
  return json{{"path", file.path}, {"sha256", file.sha256}, {"size", file.size}};
}

Result<ArtifactFile> ArtifactFileFromJson(const json& value, const std::string& where) {
  ObjectReader r(value, where);
  LABBOOK_RETURN_IF_ERROR(r.CheckObject());
  ArtifactFile file;
  LABBOOK_RETURN_IF_ERROR(r.String("path", file.path));
  LABBOOK_RETURN_IF_ERROR(r.String("sha256", file.sha256));
  LABBOOK_RETURN_IF_ERROR(r.Integer("size", file.size));
  return file;
}

namespace {

Status FilesFromJson(const ObjectReader& r, std::vector<ArtifactFile>& out) {
  const json* files = r.Find("files");
  if (files == nullptr) return Status::Ok();
  if (!files->is_array()) return Expected(r.Path("files"), "an array");
  for (size_t i = 0; i < files->size(); ++i) {
    LABBOOK_ASSIGN_OR_RETURN(
        ArtifactFile file,
        ArtifactFileFromJson((*files)[i], r.Path("files") + "[" + std::to_string(i) + "]"));
    out.push_back(std::move(file));
  }
  return Status::Ok();
}

json FilesToJson(const std::vector<ArtifactFile>& files) {
  json out = json::array();
  for (const ArtifactFile& file : files) out.push_back(ArtifactFileToJson(file));
  return out;
}

}  // namespace

json ArtifactToJson(const ArtifactVersion& artifact) {
  return json{{"entity", artifact.entity},
              {"project", artifact.project},
              {"name", artifact.name},
              {"type", artifact.type},
              {"version", artifact.version},
              {"digest", artifact.digest},
              {"aliases", artifact.aliases},
              {"files", FilesToJson(artifact.files)},
              {"metadata", artifact.metadata},
              {"producer_run", artifact.producer_run},
              {"created_time", NumberToJson(artifact.created_time)}};
}

Result<ArtifactVersion> ArtifactFromJson(const json& value, const std::string& where) {
  ObjectReader r(value, where);
  LABBOOK_RETURN_IF_ERROR(r.CheckObject());
  ArtifactVersion artifact;
  LABBOOK_RETURN_IF_ERROR(r.String("entity", artifact.entity));
  LABBOOK_RETURN_IF_ERROR(r.String("project", artifact.project));
  LABBOOK_RETURN_IF_ERROR(r.String("name", artifact.name));
  LABBOOK_RETURN_IF_ERROR(r.String("type", artifact.type));
  LABBOOK_RETURN_IF_ERROR(r.Integer("version", artifact.version));
  LABBOOK_RETURN_IF_ERROR(r.String("digest", artifact.digest));
  LABBOOK_RETURN_IF_ERROR(r.Strings("aliases", artifact.aliases));
  LABBOOK_RETURN_IF_ERROR(FilesFromJson(r, artifact.files));
  LABBOOK_RETURN_IF_ERROR(r.Object("metadata", artifact.metadata));
  LABBOOK_RETURN_IF_ERROR(r.String("producer_run", artifact.producer_run));
  LABBOOK_RETURN_IF_ERROR(r.Number("created_time", artifact.created_time));
  return artifact;
}

json RunArtifactsToJson(const RunArtifacts& artifacts) {
  json produced = json::array();
  json used = json::array();
  for (const ArtifactVersion& a : artifacts.produced) produced.push_back(ArtifactToJson(a));
  for (const ArtifactVersion& a : artifacts.used) used.push_back(ArtifactToJson(a));
  return json{{"produced", std::move(produced)}, {"used", std::move(used)}};
}

Result<RunArtifacts> RunArtifactsFromJson(const json& value, const std::string& where) {
  ObjectReader r(value, where);
  LABBOOK_RETURN_IF_ERROR(r.CheckObject());
  RunArtifacts out;
  for (const char* field : {"produced", "used"}) {
    const json* list = r.Find(field);
    if (list == nullptr) continue;
    if (!list->is_array()) return Expected(r.Path(field), "an array");
    auto& target = std::string_view(field) == "produced" ? out.produced : out.used;
    for (size_t i = 0; i < list->size(); ++i) {
      LABBOOK_ASSIGN_OR_RETURN(
          ArtifactVersion artifact,
          ArtifactFromJson((*list)[i], r.Path(field) + "[" + std::to_string(i) + "]"));
      target.push_back(std::move(artifact));
    }
  }
  return out;
}

json NewArtifactToJson(const NewArtifactRequest& artifact) {
  return json{{"entity", artifact.entity},
              {"project", artifact.project},
              {"name", artifact.name},
              {"type", artifact.type},
              {"producer_run", artifact.producer_run},
              {"metadata", artifact.metadata},
              {"aliases", artifact.aliases},
              {"files", FilesToJson(artifact.files)}};
}

Result<NewArtifactRequest> NewArtifactFromJson(const json& value, const std::string& where) {
  ObjectReader r(value, where);
  LABBOOK_RETURN_IF_ERROR(r.CheckObject());
  NewArtifactRequest artifact;
  LABBOOK_RETURN_IF_ERROR(r.String("entity", artifact.entity));
  LABBOOK_RETURN_IF_ERROR(r.String("project", artifact.project));
  LABBOOK_RETURN_IF_ERROR(r.String("name", artifact.name));
  LABBOOK_RETURN_IF_ERROR(r.String("type", artifact.type));
  LABBOOK_RETURN_IF_ERROR(r.String("producer_run", artifact.producer_run));
  LABBOOK_RETURN_IF_ERROR(r.Object("metadata", artifact.metadata));
  LABBOOK_RETURN_IF_ERROR(r.Strings("aliases", artifact.aliases));
  LABBOOK_RETURN_IF_ERROR(FilesFromJson(r, artifact.files));
  return artifact;
}

std::string EncodeUrlComponent(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Result<json> ParseJson(std::string_view text, const std::string& where) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    // nlohmann's message starts with "[json.exception.parse_error.101] parse error at line 1,
    // column 5: ..."; the byte is the useful part, the rest says what was expected.
    std::string detail = e.what();
    const size_t colon = detail.find(": ", detail.find("parse error"));
    if (colon != std::string::npos) detail = detail.substr(colon + 2);
    return InvalidArgument(where + ": malformed JSON at byte " + std::to_string(e.byte) + ": " +
                           detail);
  }
}

Result<std::string> Gzip(std::string_view data, int level) {
  z_stream stream{};
  // 15 + 16: the largest window, with a gzip header and trailer.
  if (deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Internal("zlib: deflateInit2 failed");
  }
  std::string out(deflateBound(&stream, static_cast<uLong>(data.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (result != Z_STREAM_END) return Internal("zlib: deflate did not finish");
  return out;
}

}  // namespace labbook::track::wire
