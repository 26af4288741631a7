#include "track/http/sync.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

#include "core/errno_status.hpp"
#include "core/status_macros.hpp"

namespace labbook::track::http {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::atomic<uint64_t> temporary_counter{0};

// A directory for the files of one artifact on their way, removed at destruction.
class ScratchDirectory {
 public:
  ScratchDirectory() {
    std::error_code error;
    path_ = fs::temp_directory_path(error) / ("labbook-sync-" + std::to_string(::getpid()) + "-" +
                                              std::to_string(temporary_counter++));
    fs::create_directories(path_, error);
  }
  ~ScratchDirectory() {
    std::error_code error;
    fs::remove_all(path_, error);
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

bool SameRun(const RunInfo& a, const RunInfo& b) {
  return a.entity == b.entity && a.project == b.project && a.start_time == b.start_time;
}

Status SendHistory(RunStore& from, RunStore& to, const std::string& run_id, size_t batch_points,
                   SyncReport& report) {
  LABBOOK_ASSIGN_OR_RETURN(std::vector<KeyInfo> keys, from.HistoryKeys(run_id));
  HistoryBatch batch;
  auto flush = [&]() -> Status {
    if (batch.points.empty()) return Status::Ok();
    LABBOOK_RETURN_IF_ERROR(to.LogHistory(run_id, batch));
    report.points += static_cast<int64_t>(batch.points.size());
    batch.keys.clear();
    batch.points.clear();
    return Status::Ok();
  };
  for (const KeyInfo& key : keys) {
    LABBOOK_ASSIGN_OR_RETURN(Series series, from.ReadHistory(run_id, key.key, HistoryQuery{}));
    for (size_t i = 0; i < series.steps.size(); ++i) {
      if (batch.keys.empty() || batch.keys.back() != key.key) batch.keys.push_back(key.key);
      batch.points.push_back({static_cast<uint32_t>(batch.keys.size() - 1), series.steps[i],
                              series.values[i], series.wall_times[i]});
      if (batch.points.size() >= batch_points) LABBOOK_RETURN_IF_ERROR(flush());
    }
  }
  return flush();
}

// The version of `name` on the server with this digest (and producer, when given).
std::optional<ArtifactVersion> FindByDigest(const std::vector<ArtifactVersion>& versions,
                                            const ArtifactVersion& wanted,
                                            const std::string* producer) {
  for (const ArtifactVersion& version : versions) {
    if (version.name != wanted.name || version.digest != wanted.digest) continue;
    if (producer != nullptr && version.producer_run != *producer) continue;
    return version;
  }
  return std::nullopt;
}

Status SendArtifacts(RunStore& from, RunStore& to, const RunInfo& run, SyncReport& report) {
  LABBOOK_ASSIGN_OR_RETURN(RunArtifacts artifacts, from.ArtifactsOfRun(run.id));
  if (artifacts.produced.empty() && artifacts.used.empty()) return Status::Ok();
  std::map<std::pair<std::string, std::string>, std::vector<ArtifactVersion>> on_server;
  auto versions_of = [&](const ArtifactVersion& a) -> Result<std::vector<ArtifactVersion>*> {
    auto key = std::make_pair(a.entity, a.project);
    auto it = on_server.find(key);
    if (it == on_server.end()) {
      LABBOOK_ASSIGN_OR_RETURN(std::vector<ArtifactVersion> listed,
                               to.ListArtifacts({a.entity, a.project}));
      it = on_server.emplace(key, std::move(listed)).first;
    }
    return &it->second;
  };
  for (const ArtifactVersion& version : artifacts.produced) {
    LABBOOK_ASSIGN_OR_RETURN(std::vector<ArtifactVersion> * known, versions_of(version));
    if (FindByDigest(*known, version, &run.id)) continue;
    ScratchDirectory scratch;
    NewArtifact copy;
    copy.entity = version.entity;
    copy.project = version.project;
    copy.name = version.name;
    copy.type = version.type;
    copy.producer_run = run.id;
    copy.metadata = version.metadata;
    for (const std::string& alias : version.aliases) {
      if (alias != "latest") copy.aliases.push_back(alias);
    }
    for (size_t i = 0; i < version.files.size(); ++i) {
      const fs::path local = scratch.path() / std::to_string(i);
      LABBOOK_RETURN_IF_ERROR(from.ReadArtifactFile(version.files[i], local));
      copy.files.push_back({version.files[i].path, local});
    }
    LABBOOK_ASSIGN_OR_RETURN(ArtifactVersion logged, to.LogArtifact(copy));
    known->push_back(std::move(logged));
    ++report.artifacts;
  }
  for (const ArtifactVersion& version : artifacts.used) {
    LABBOOK_ASSIGN_OR_RETURN(std::vector<ArtifactVersion> * known, versions_of(version));
    std::optional<ArtifactVersion> found = FindByDigest(*known, version, nullptr);
    if (!found) {
      std::string note = "used artifact " + version.name;
      note += ":v" + std::to_string(version.version);
      note += " is not on the server (no version with its digest); its use is not recorded there";
      report.notes.push_back(std::move(note));
      continue;
    }
    LABBOOK_RETURN_IF_ERROR(to.UseArtifact(run.id, *found));
  }
  return Status::Ok();
}

Result<json> ReadJsonFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return StatusFromErrno(path.string(), "read", errno);
  std::ostringstream text;
  text << in.rdbuf();
  json document = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) {
    return DataLoss(path.string() + ": not a sync ledger entry (expected a JSON object)");
  }
  return document;
}

SyncLedger::Entry EntryFromJson(const json& document) {
  SyncLedger::Entry entry;
  entry.server = document.value("server", "");
  entry.spooled = document.value("spooled", false);
  if (document.contains("synced_time") && document["synced_time"].is_number()) {
    entry.synced_time = document["synced_time"].get<double>();
  }
  return entry;
}

bool IsRunId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) return false;
  }
  return true;
}

}  // namespace

Result<SyncReport> SyncRun(RunStore& from, RunStore& to, const std::string& run_id,
                           size_t batch_points) {
  if (batch_points == 0) batch_points = 1;
  LABBOOK_ASSIGN_OR_RETURN(RunInfo run, from.GetRun(run_id));
  SyncReport report;
  report.run_id = run.id;
  report.finished = run.state != RunState::kRunning;

  // Created running: the run reads as finished only once its points and files are there.
  RunInfo create = run;
  create.state = RunState::kRunning;
  create.end_time = 0;
  create.exit_code.reset();
  Result<RunInfo> created = to.CreateRun(create);
  if (created.ok()) {
    report.created = true;
  } else if (created.status().code() == ErrorCode::kAlreadyExists) {
    LABBOOK_ASSIGN_OR_RETURN(RunInfo existing, to.GetRun(run.id));
    if (existing.id != run.id || !SameRun(existing, run)) {
      return Status(ErrorCode::kAlreadyExists,
                    "run " + run.id + " of " + run.entity + "/" + run.project + " cannot go to " +
                        to.uri() + ": a different run (" + existing.entity + "/" +
                        existing.project + ", started at another time) has that id there");
    }
  } else {
    return created.status().WithContext("cannot create run " + run.id + " in " + to.uri());
  }

  LABBOOK_RETURN_IF_ERROR(SendHistory(from, to, run.id, batch_points, report));
  LABBOOK_RETURN_IF_ERROR(SendArtifacts(from, to, run, report));

  RunUpdate update;
  update.state = run.state;
  if (!run.summary.empty()) update.summary_patch = run.summary;
  if (run.heartbeat_time != 0) update.heartbeat_time = run.heartbeat_time;
  if (run.end_time != 0) update.end_time = run.end_time;
  update.exit_code = run.exit_code;
  update.notes = run.notes;
  update.tags = run.tags;
  LABBOOK_RETURN_IF_ERROR(to.UpdateRun(run.id, update));
  return report;
}

Result<SyncLedger> SyncLedger::ForStore(const std::string& offline_uri) {
  std::string path = offline_uri;
  const size_t scheme_end = path.find("://");
  if (scheme_end != std::string::npos) {
    if (path.compare(0, scheme_end, "sqlite") != 0) {
      return InvalidArgument("the offline store must be a local SQLite store; '" +
                             path.substr(0, scheme_end) + "://' is not one");
    }
    path = path.substr(scheme_end + 3);
  }
  if (path.empty()) return InvalidArgument("the offline store URI names no database file");
  return SyncLedger(fs::path(path + ".sync"));
}

Status SyncLedger::Put(const std::string& run_id, const Entry& entry) const {
  if (!IsRunId(run_id)) return InvalidArgument("sync ledger: '" + run_id + "' is not a run id");
  std::error_code error;
  fs::create_directories(directory_, error);
  if (error) return StatusFromErrno(directory_.string(), "create the directory", error.value());
  json document{{"server", entry.server}, {"spooled", entry.spooled}};
  document["synced_time"] = entry.synced_time ? json(*entry.synced_time) : json(nullptr);
  const fs::path path = directory_ / (run_id + ".json");
  const fs::path temporary =
      directory_ / ("." + run_id + ".json.tmp-" + std::to_string(::getpid()) + "-" +
                    std::to_string(temporary_counter++));
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << document.dump() << "\n";
    out.close();
    if (!out) {
      fs::remove(temporary, error);
      return StatusFromErrno(temporary.string(), "write", errno);
    }
  }
  fs::rename(temporary, path, error);
  if (error) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    return StatusFromErrno(path.string(), "replace", error.value());
  }
  return Status::Ok();
}

Result<std::optional<SyncLedger::Entry>> SyncLedger::Get(const std::string& run_id) const {
  if (!IsRunId(run_id)) return std::optional<Entry>();
  const fs::path path = directory_ / (run_id + ".json");
  std::error_code error;
  if (!fs::exists(path, error)) return std::optional<Entry>();
  LABBOOK_ASSIGN_OR_RETURN(json document, ReadJsonFile(path));
  return std::optional<Entry>(EntryFromJson(document));
}

Result<std::map<std::string, SyncLedger::Entry>> SyncLedger::All() const {
  std::map<std::string, Entry> entries;
  std::error_code error;
  if (!fs::is_directory(directory_, error)) return entries;
  for (const auto& item : fs::directory_iterator(directory_, error)) {
    const fs::path& path = item.path();
    if (path.extension() != ".json" || !IsRunId(path.stem().string())) continue;
    LABBOOK_ASSIGN_OR_RETURN(json document, ReadJsonFile(path));
    entries[path.stem().string()] = EntryFromJson(document);
  }
  if (error) return StatusFromErrno(directory_.string(), "list", error.value());
  return entries;
}

Status SyncLedger::Remove(const std::string& run_id) const {
  if (!IsRunId(run_id)) return Status::Ok();
  std::error_code error;
  fs::remove(directory_ / (run_id + ".json"), error);
  if (error) return StatusFromErrno(run_id + ".json", "remove", error.value());
  return Status::Ok();
}

}  // namespace labbook::track::http
