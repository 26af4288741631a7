#include "track/memory_store.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <system_error>

#include "core/random_id.hpp"
#include "core/clock.hpp"
#include "track/sqlite/blob_store.hpp"

namespace labbook::track {

namespace {

bool IsRunId(const std::string& id) {
  return id.size() == 8 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
         });
}

bool IsArtifactName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

// Relative, '/'-separated, without empty, "." or ".." parts.
bool IsArtifactPath(const std::string& path) {
  if (path.empty() || path.front() == '/') return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view part(path.data() + start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

// "v3" -> 3; anything else -> -1.
int ParseVersionName(const std::string& text) {
  if (text.size() < 2 || text[0] != 'v') return -1;
  int version = 0;
  for (size_t i = 1; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9' || version > 100'000'000) return -1;
    version = version * 10 + (text[i] - '0');
  }
  return version;
}

Result<std::string> ReadWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path.string());
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return DataLoss("error while reading " + path.string());
  return bytes;
}

std::string RunRef(const std::string& run_id) { return "run '" + run_id + "'"; }

}  // namespace

std::string Sha256Hex(std::string_view bytes) { return sqlite::Sha256Hex(bytes); }

MemoryRunStore::MemoryRunStore(std::string uri) : uri_(std::move(uri)) {}

std::string MemoryRunStore::uri() const { return uri_; }

int64_t MemoryRunStore::history_batches() const {
  std::lock_guard lock(mutex_);
  return history_batches_;
}

bool MemoryRunStore::CorruptBlob(const std::string& sha256) {
  std::lock_guard lock(mutex_);
  auto it = blobs_.find(sha256);
  if (it == blobs_.end() || it->second.empty()) return false;
  it->second[0] = static_cast<char>(it->second[0] ^ 0x5a);
  return true;
}

Result<MemoryRunStore::StoredRun*> MemoryRunStore::FindRunLocked(const std::string& run_id) {
  if (auto it = runs_.find(run_id); it != runs_.end()) return &it->second;
  if (run_id.size() < 3) return NotFound(RunRef(run_id) + " not found in " + uri_);
  std::vector<std::string> candidates;
  for (auto it = runs_.lower_bound(run_id); it != runs_.end() && it->first.starts_with(run_id);
       ++it) {
    candidates.push_back(it->first);
  }
  if (candidates.empty()) return NotFound(RunRef(run_id) + " not found in " + uri_);
  if (candidates.size() > 1) {
    std::string names;
    for (const auto& c : candidates) names += (names.empty() ? "" : ", ") + c;
    return InvalidArgument("run id prefix '" + run_id + "' is ambiguous: " + names);
  }
  return &runs_.at(candidates.front());
}

Result<RunInfo> MemoryRunStore::CreateRun(RunInfo run) {
  std::lock_guard lock(mutex_);
  if (run.id.empty()) {
    do run.id = RandomId();
    while (runs_.contains(run.id));
  } else if (!IsRunId(run.id)) {
    return InvalidArgument("run id '" + run.id + "' must be 8 characters of [0-9a-z]");
  } else if (runs_.contains(run.id)) {
    return Status(ErrorCode::kAlreadyExists, RunRef(run.id) + " already exists in " + uri_);
  }
  if (!run.config.is_object()) return InvalidArgument("run config must be a JSON object");
  if (!run.summary.is_object()) return InvalidArgument("run summary must be a JSON object");
  if (run.name.empty()) run.name = run.id;
  StoredRun& stored = runs_[run.id];
  stored.info = run;
  stored.created_order = next_order_++;
  return run;
}

Status MemoryRunStore::UpdateRun(const std::string& run_id, const RunUpdate& update) {
  std::lock_guard lock(mutex_);
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return NotFound(RunRef(run_id) + " not found in " + uri_);
  if (update.summary_patch && !update.summary_patch->is_object()) {
    return InvalidArgument("summary_patch must be a JSON object");
  }
  RunInfo& info = it->second.info;
  if (update.state) info.state = *update.state;
  if (update.summary_patch) {
    for (const auto& [key, value] : update.summary_patch->items()) {
      if (value.is_null()) {
        info.summary.erase(key);
      } else {
        info.summary[key] = value;
      }
    }
  }
  if (update.heartbeat_time) info.heartbeat_time = *update.heartbeat_time;
  if (update.end_time) info.end_time = *update.end_time;
  if (update.exit_code) info.exit_code = *update.exit_code;
  if (update.notes) info.notes = *update.notes;
  if (update.tags) info.tags = *update.tags;
  return Status::Ok();
}

Result<RunInfo> MemoryRunStore::GetRun(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  auto run = FindRunLocked(run_id);
  if (!run.ok()) return run.status();
  return (*run)->info;
}

Result<std::vector<RunInfo>> MemoryRunStore::ListRuns(const RunQuery& query) {
  std::lock_guard lock(mutex_);
  std::vector<const StoredRun*> selected;
  for (const auto& [id, run] : runs_) {
    if (!query.entity.empty() && run.info.entity != query.entity) continue;
    if (!query.project.empty() && run.info.project != query.project) continue;
    selected.push_back(&run);
  }
  std::sort(selected.begin(), selected.end(), [](const StoredRun* a, const StoredRun* b) {
    if (a->info.start_time != b->info.start_time) return a->info.start_time > b->info.start_time;
    return a->created_order > b->created_order;
  });
  std::vector<RunInfo> runs;
  runs.reserve(selected.size());
  for (const StoredRun* run : selected) runs.push_back(run->info);
  return runs;
}

Status MemoryRunStore::DeleteRun(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  auto run = FindRunLocked(run_id);
  if (!run.ok()) return run.status();
  std::string id = (*run)->info.id;
  for (auto& [key, versions] : artifacts_) {
    for (auto& version : versions) {
      if (version.producer_run == id) version.producer_run.clear();
    }
  }
  runs_.erase(id);
  return Status::Ok();
}

Status MemoryRunStore::LogHistory(const std::string& run_id, const HistoryBatch& batch) {
  if (!IsRunId(run_id)) {
    return InvalidArgument("run id '" + run_id + "' must be 8 characters of [0-9a-z]");
  }
  std::lock_guard lock(mutex_);
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return NotFound(RunRef(run_id) + " not found in " + uri_);
  for (size_t i = 0; i < batch.keys.size(); ++i) {
    if (batch.keys[i].empty()) {
      return InvalidArgument("history batch keys[" + std::to_string(i) + "] is empty");
    }
  }
  for (size_t i = 0; i < batch.points.size(); ++i) {
    if (batch.points[i].key >= batch.keys.size()) {
      return InvalidArgument("history batch points[" + std::to_string(i) + "].key is " +
                             std::to_string(batch.points[i].key) + ", but the batch has " +
                             std::to_string(batch.keys.size()) + " keys");
    }
  }
  auto& history = it->second.history;
  for (const HistoryPoint& point : batch.points) {
    history[batch.keys[point.key]][point.step] = {point.value, point.wall_time};
  }
  ++history_batches_;
  return Status::Ok();
}

Result<std::vector<KeyInfo>> MemoryRunStore::HistoryKeys(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  auto run = FindRunLocked(run_id);
  if (!run.ok()) return run.status();
  std::vector<KeyInfo> keys;
  for (const auto& [key, points] : (*run)->history) {
    if (points.empty()) continue;
    KeyInfo info;
    info.key = key;
    info.count = static_cast<int64_t>(points.size());
    info.first_step = points.begin()->first;
    info.last_step = points.rbegin()->first;
    info.last_value = points.rbegin()->second.value;
    info.min = std::nan("");
    info.max = std::nan("");
    for (const auto& [step, point] : points) {
      if (!std::isfinite(point.value)) continue;
      if (std::isnan(info.min) || point.value < info.min) info.min = point.value;
      if (std::isnan(info.max) || point.value > info.max) info.max = point.value;
    }
    keys.push_back(std::move(info));
  }
  return keys;
}

Result<Series> MemoryRunStore::ReadHistory(const std::string& run_id, const std::string& key,
                                           const HistoryQuery& query) {
  if (query.min_step > query.max_step) {
    return InvalidArgument("history range min_step " + std::to_string(query.min_step) +
                           " is after max_step " + std::to_string(query.max_step));
  }
  std::lock_guard lock(mutex_);
  auto run = FindRunLocked(run_id);
  if (!run.ok()) return run.status();
  auto it = (*run)->history.find(key);
  if (it == (*run)->history.end()) {
    return NotFound("history key '" + key + "' not found in " + RunRef((*run)->info.id));
  }
  std::vector<std::pair<int64_t, StoredPoint>> points;
  for (auto p = it->second.lower_bound(query.min_step);
       p != it->second.end() && p->first <= query.max_step; ++p) {
    points.emplace_back(p->first, p->second);
  }
  Series series;
  series.key = key;
  series.points_in_range = static_cast<int64_t>(points.size());
  if (query.max_points > 0 && points.size() > query.max_points) {
    series.downsampled = true;
    const size_t buckets = std::max<size_t>(1, query.max_points / 2);
    const long double first = static_cast<long double>(points.front().first);
    const long double span = static_cast<long double>(points.back().first) - first + 1;
    std::vector<std::pair<int64_t, StoredPoint>> kept;
    size_t begin = 0;
    while (begin < points.size()) {
      auto bucket_of = [&](size_t i) {
        return static_cast<size_t>((static_cast<long double>(points[i].first) - first) *
                                   static_cast<long double>(buckets) / span);
      };
      const size_t bucket = bucket_of(begin);
      size_t end = begin;
      // The earliest smallest and earliest largest non-NaN value; the first point if all are NaN.
      std::optional<size_t> lowest;
      std::optional<size_t> highest;
      while (end < points.size() && bucket_of(end) == bucket) {
        const double value = points[end].second.value;
        if (!std::isnan(value)) {
          if (!lowest || value < points[*lowest].second.value) lowest = end;
          if (!highest || value > points[*highest].second.value) highest = end;
        }
        ++end;
      }
      if (!highest) {
        kept.push_back(points[begin]);
      } else if (query.max_points == 1 || *lowest == *highest) {
        kept.push_back(points[*highest]);
      } else {
        kept.push_back(points[std::min(*lowest, *highest)]);
        kept.push_back(points[std::max(*lowest, *highest)]);
      }
      begin = end;
    }
    points = std::move(kept);
  }
  for (const auto& [step, point] : points) {
    series.steps.push_back(step);
    series.values.push_back(point.value);
    series.wall_times.push_back(point.wall_time);
  }
  return series;
}

Result<ArtifactVersion> MemoryRunStore::LogArtifact(const NewArtifact& artifact) {
  if (!IsArtifactName(artifact.name)) {
    return InvalidArgument("artifact name '" + artifact.name + "' must match [A-Za-z0-9._-]+");
  }
  if (artifact.type.empty()) return InvalidArgument("artifact type is empty");
  for (const std::string& alias : artifact.aliases) {
    if (!IsArtifactName(alias) || ParseVersionName(alias) >= 0) {
      return InvalidArgument("artifact alias '" + alias +
                             "' must match [A-Za-z0-9._-]+ and not look like a version (v3)");
    }
  }
  // Files are read before the lock: they may be large, and a failure changes nothing.
  std::vector<std::pair<ArtifactFile, std::string>> files;
  std::set<std::string> paths;
  for (const NewArtifact::File& file : artifact.files) {
    if (!IsArtifactPath(file.path)) {
      return InvalidArgument("artifact file path '" + file.path +
                             "' must be relative and '/'-separated, without '.' or '..'");
    }
    if (!paths.insert(file.path).second) {
      return InvalidArgument("artifact file path '" + file.path + "' appears twice");
    }
    auto bytes = ReadWholeFile(file.source);
    if (!bytes.ok()) return bytes.status().WithContext("artifact file '" + file.path + "'");
    ArtifactFile stored{file.path, Sha256Hex(*bytes), static_cast<int64_t>(bytes->size())};
    files.emplace_back(std::move(stored), std::move(*bytes));
  }
  std::sort(files.begin(), files.end(),
            [](const auto& a, const auto& b) { return a.first.path < b.first.path; });
  std::string manifest;
  for (const auto& [file, bytes] : files) manifest += file.path + '\0' + file.sha256 + '\n';
  const std::string digest = Sha256Hex(manifest);

  std::lock_guard lock(mutex_);
  if (!artifact.producer_run.empty() && !runs_.contains(artifact.producer_run)) {
    return NotFound(RunRef(artifact.producer_run) + " not found in " + uri_);
  }
  auto& versions = artifacts_[{artifact.entity, artifact.project, artifact.name}];
  ArtifactVersion* target = nullptr;
  if (!versions.empty() && versions.back().digest == digest) {
    target = &versions.back();
  } else {
    ArtifactVersion version;
    version.entity = artifact.entity;
    version.project = artifact.project;
    version.name = artifact.name;
    version.type = artifact.type;
    version.version = static_cast<int>(versions.size());
    version.digest = digest;
    version.metadata = artifact.metadata;
    version.producer_run = artifact.producer_run;
    version.created_time = UnixSeconds();
    for (auto& [file, bytes] : files) {
      version.files.push_back(file);
      blobs_.emplace(file.sha256, std::move(bytes));
    }
    for (auto& older : versions) std::erase(older.aliases, std::string("latest"));
    version.aliases.push_back("latest");
    versions.push_back(std::move(version));
    target = &versions.back();
  }
  for (const std::string& alias : artifact.aliases) {
    if (alias == "latest") continue;
    for (auto& other : versions) std::erase(other.aliases, alias);
    target->aliases.push_back(alias);
  }
  return *target;
}

Result<ArtifactVersion> MemoryRunStore::GetArtifact(const std::string& entity,
                                                    const std::string& project,
                                                    const std::string& name,
                                                    const std::string& version_or_alias) {
  std::lock_guard lock(mutex_);
  const std::string ref = entity + "/" + project + "/" + name + ":" + version_or_alias;
  auto it = artifacts_.find({entity, project, name});
  if (it == artifacts_.end() || it->second.empty()) {
    return NotFound("artifact '" + ref + "' not found in " + uri_);
  }
  const int version = ParseVersionName(version_or_alias);
  for (const ArtifactVersion& candidate : it->second) {
    if (version >= 0 ? candidate.version == version
                     : std::find(candidate.aliases.begin(), candidate.aliases.end(),
                                 version_or_alias) != candidate.aliases.end()) {
      return candidate;
    }
  }
  return NotFound("artifact '" + ref + "' not found in " + uri_);
}

Result<std::vector<ArtifactVersion>> MemoryRunStore::ListArtifacts(const RunQuery& query) {
  std::lock_guard lock(mutex_);
  std::vector<ArtifactVersion> out;
  for (const auto& [key, versions] : artifacts_) {
    const auto& [entity, project, name] = key;
    if (!query.entity.empty() && entity != query.entity) continue;
    if (!query.project.empty() && project != query.project) continue;
    out.insert(out.end(), versions.begin(), versions.end());
  }
  std::stable_sort(out.begin(), out.end(), [](const ArtifactVersion& a, const ArtifactVersion& b) {
    return std::tie(a.name, a.version) < std::tie(b.name, b.version);
  });
  return out;
}

Status MemoryRunStore::UseArtifact(const std::string& run_id, const ArtifactVersion& artifact) {
  std::lock_guard lock(mutex_);
  auto run = runs_.find(run_id);
  if (run == runs_.end()) return NotFound(RunRef(run_id) + " not found in " + uri_);
  auto it = artifacts_.find({artifact.entity, artifact.project, artifact.name});
  if (it == artifacts_.end() || artifact.version < 0 ||
      artifact.version >= static_cast<int>(it->second.size())) {
    return NotFound("artifact '" + artifact.entity + "/" + artifact.project + "/" + artifact.name +
                    ":" + artifact.VersionName() + "' not found in " + uri_);
  }
  auto used = std::make_tuple(artifact.entity, artifact.project, artifact.name, artifact.version);
  auto& list = run->second.used;
  if (std::find(list.begin(), list.end(), used) == list.end()) list.push_back(used);
  return Status::Ok();
}

Result<RunArtifacts> MemoryRunStore::ArtifactsOfRun(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  auto run = FindRunLocked(run_id);
  if (!run.ok()) return run.status();
  RunArtifacts out;
  const std::string& id = (*run)->info.id;
  for (const auto& [key, versions] : artifacts_) {
    for (const ArtifactVersion& version : versions) {
      if (version.producer_run == id) out.produced.push_back(version);
    }
  }
  for (const auto& [entity, project, name, version] : (*run)->used) {
    out.used.push_back(artifacts_.at({entity, project, name}).at(version));
  }
  return out;
}

Status MemoryRunStore::ReadArtifactFile(const ArtifactFile& file,
                                        const std::filesystem::path& destination) {
  const bool hex_digest =
      file.sha256.size() == 64 && std::all_of(file.sha256.begin(), file.sha256.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      });
  if (!hex_digest) {
    return InvalidArgument("artifact file '" + file.path + "' has a malformed sha256 '" +
                           file.sha256 + "' (64 lower-case hex digits expected)");
  }
  std::error_code error;
  if (destination.has_parent_path()) {
    std::filesystem::create_directories(destination.parent_path(), error);
    if (error) {
      return PermissionDenied("cannot create directory " + destination.parent_path().string() +
                              ": " + error.message());
    }
  }
  std::string bytes;
  {
    std::lock_guard lock(mutex_);
    auto it = blobs_.find(file.sha256);
    if (it == blobs_.end()) {
      return NotFound("artifact file '" + file.path + "' (sha256 " + file.sha256 +
                      ") not found in " + uri_);
    }
    bytes = it->second;
  }
  if (Sha256Hex(bytes) != file.sha256) {
    return DataLoss("artifact file '" + file.path + "' does not match its sha256 " + file.sha256);
  }
  std::filesystem::path temporary = destination;
  temporary += ".partial";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      return PermissionDenied("cannot write " + temporary.string());
    }
  }
  std::filesystem::rename(temporary, destination, error);
  if (error) {
    std::filesystem::remove(temporary, error);
    return PermissionDenied("cannot rename " + temporary.string() + " to " + destination.string());
  }
  return Status::Ok();
}

}  // namespace labbook::track
