// labbook::Init and Run: the run's record, its threads (HistoryWriter, SystemMetricsSampler, the
// crash-signal watcher) and the calls that go straight to the store (artifacts).
#include "labbook/run.hpp"

#include <pwd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <mutex>
#include <random>
#include <system_error>

#include "core/random_id.hpp"
#include "core/clock.hpp"
#include "core/status_macros.hpp"
#include "track/git_info.hpp"
#include "track/history_writer.hpp"
#include "track/http/http_store.hpp"
#include "track/http/spooling_store.hpp"
#include "track/http/sync.hpp"
#include "track/liveness.hpp"
#include "track/run_start.hpp"
#include "track/signal_watcher.hpp"
#include "track/system_metrics.hpp"

namespace labbook {

namespace {

namespace fs = std::filesystem;
using track::RunState;

std::string Environment(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

std::string LoginName() {
  struct passwd entry;
  struct passwd* found = nullptr;
  char buffer[4096];
  if (getpwuid_r(geteuid(), &entry, buffer, sizeof(buffer), &found) == 0 && found != nullptr &&
      found->pw_name != nullptr && found->pw_name[0] != '\0') {
    return found->pw_name;
  }
  return "";
}

// "12,345"
std::string WithThousands(int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return value < 0 ? "-" + out : out;
}

bool IsSqliteUri(const std::string& uri) {
  const size_t scheme_end = uri.find("://");
  return scheme_end == std::string::npos || uri.compare(0, scheme_end, "sqlite") == 0;
}

// A server store for a run: the server, and the offline store when it cannot be reached.
Result<std::shared_ptr<track::RunStore>> OpenServerStore(const std::string& uri) {
  auto remote = track::http::OpenHttpRunStore(uri);
  if (!remote.ok()) return remote.status();
  const std::string offline_uri = track::DefaultOfflineStoreUri();
  LABBOOK_ASSIGN_OR_RETURN(track::http::SyncLedger ledger,
                           track::http::SyncLedger::ForStore(offline_uri));
  track::http::SpoolOptions spool;
  spool.offline_uri = offline_uri;
  return std::shared_ptr<track::RunStore>(std::make_shared<track::http::SpoolingRunStore>(
      std::move(*remote), [offline_uri] { return track::OpenStore(offline_uri); },
      std::move(ledger), spool));
}

// Relative, without "." or ".." parts: a path that stays inside the directory it is joined to.
bool StaysInside(const std::string& path) {
  const fs::path relative(path);
  if (path.empty() || relative.is_absolute() || relative.has_root_name()) return false;
  for (const auto& part : relative) {
    if (part == ".." || part == ".") return false;
  }
  return true;
}

// Numbers the temporary directories LogTable writes its CSV file in.
std::atomic<int> table_directories{0};

ArtifactRef RefOf(const track::ArtifactVersion& version) {
  ArtifactRef ref{version.name, version.type, version.version, version.digest, {}};
  for (const auto& file : version.files) ref.files.push_back(file.path);
  return ref;
}

}  // namespace

class Run::Impl final : public track::CrashSignalTarget {
 public:
  // A disabled run: records nothing.
  Impl(std::string id, const InitOptions& options)
      : id_(std::move(id)),
        entity_(options.entity),
        project_(options.project),
        name_(options.name.empty() ? id_ : options.name),
        mode_(RunMode::kDisabled) {
    ended_.store(true);
    finished_ = true;
  }

  Impl(const track::RunInfo& created, RunMode mode, std::shared_ptr<track::RunStore> store,
       const track::WriterOptions& writer_options, const InitOptions& options)
      : id_(created.id),
        entity_(created.entity),
        project_(created.project),
        name_(created.name),
        mode_(mode),
        store_(std::move(store)),
        writer_(std::make_unique<track::HistoryWriter>(store_, id_, writer_options)) {
    if (options.system_metrics) {
      sampler_ = std::make_unique<track::SystemMetricsSampler>(
          std::chrono::duration<double>(options.system_metrics_interval_s),
          [writer = writer_.get()](const track::SystemSample& sample, int64_t step) {
            writer->AppendSystem(sample, step);
          });
    }
    if (options.handle_signals) {
      track::WatchCrashSignals(this);
      watching_signals_ = true;
    }
  }

  ~Impl() override {
    Finish(std::uncaught_exceptions() > 0 ? 1 : 0).IgnoreError();  // nothing when finished
    StopWatchingSignals();
  }

  const std::string& id() const { return id_; }
  const std::string& entity() const { return entity_; }
  const std::string& project() const { return project_; }
  const std::string& name() const { return name_; }
  RunMode mode() const { return mode_; }
  std::string store_uri() const { return store_ ? store_->uri() : ""; }

  void Log(std::span<const std::pair<std::string_view, double>> values, int64_t step) {
    if (ended_.load(std::memory_order_relaxed)) return;
    writer_->Append(values, step);
  }
  void Log(std::string_view key, double value, int64_t step) {
    if (ended_.load(std::memory_order_relaxed)) return;
    writer_->Append(key, value, step);
  }

  void SetSummary(std::string_view key, nlohmann::json value) {
    if (writer_) {
      writer_->SetSummary(key, std::move(value));
    } else if (value.is_null()) {
      disabled_summary_.erase(std::string(key));
    } else {
      disabled_summary_[std::string(key)] = std::move(value);
    }
  }
  nlohmann::json Summary() const { return writer_ ? writer_->Summary() : disabled_summary_; }

  Result<ArtifactRef> LogArtifact(std::string_view name, std::string_view type,
                                  const std::vector<std::pair<std::string, fs::path>>& files,
                                  nlohmann::json metadata,
                                  const std::vector<std::string>& aliases) {
    track::NewArtifact artifact;
    artifact.entity = entity_;
    artifact.project = project_;
    artifact.name = name;
    artifact.type = type;
    artifact.producer_run = id_;
    artifact.metadata = std::move(metadata);
    artifact.aliases = aliases;
    if (!store_) {
      ArtifactRef ref{artifact.name, artifact.type, 0, "", {}};
      for (const auto& [path, source] : files) ref.files.push_back(path);
      return ref;
    }
    for (const auto& [path, source] : files) {
      std::error_code error;
      if (!fs::is_regular_file(source, error)) {
        return NotFound("artifact '" + artifact.name + "': file '" + path + "' has no source " +
                        source.string());
      }
      artifact.files.push_back({path, source});
    }
    auto logged = store_->LogArtifact(artifact);
    if (!logged.ok()) {
      return logged.status().WithContext("cannot log artifact '" + artifact.name + "' to " +
                                         store_->uri());
    }
    return RefOf(*logged);
  }

  Result<ArtifactRef> LogTable(std::string_view name, std::string_view csv) {
    const std::string file_name = std::string(name) + ".csv";
    if (csv.empty()) {
      return InvalidArgument("table '" + std::string(name) + "' is empty; it needs a header row");
    }
    if (!store_) return ArtifactRef{std::string(name), "table", 0, "", {file_name}};
    std::error_code error;
    const fs::path directory =
        fs::temp_directory_path(error) / ("labbook-table-" + id_ + "-" + std::to_string(getpid()) +
                                          "-" + std::to_string(table_directories++));
    fs::create_directories(directory, error);
    const fs::path path = directory / file_name;
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(csv.data(), static_cast<std::streamsize>(csv.size()));
      out.close();
      if (!out) {
        fs::remove_all(directory, error);
        return ResourceExhausted("cannot write table '" + std::string(name) + "' to " +
                                 path.string());
      }
    }
    auto ref = LogArtifact(name, "table", {{file_name, path}}, nlohmann::json::object(), {});
    fs::remove_all(directory, error);
    return ref;
  }

  Result<ArtifactRef> UseArtifact(std::string_view reference) {
    std::string name(reference);
    std::string version = "latest";
    if (const size_t colon = name.rfind(':'); colon != std::string::npos) {
      version = name.substr(colon + 1);
      name.resize(colon);
    }
    if (name.empty() || version.empty()) {
      return InvalidArgument("artifact reference '" + std::string(reference) +
                             "' must be name, name:alias or name:v<N>");
    }
    if (!store_) return ArtifactRef{name, "", 0, "", {}};
    auto found = store_->GetArtifact(entity_, project_, name, version);
    if (!found.ok()) return found.status();
    LABBOOK_RETURN_IF_ERROR(store_->UseArtifact(id_, *found)
                                .WithContext("cannot record that run " + id_ + " used " + name +
                                             ":" + found->VersionName()));
    return RefOf(*found);
  }

  Status DownloadArtifact(const ArtifactRef& artifact, const fs::path& directory) {
    if (!store_) return Status::Ok();
    auto found = store_->GetArtifact(entity_, project_, artifact.name,
                                     "v" + std::to_string(artifact.version));
    if (!found.ok()) return found.status();
    if (!artifact.digest.empty() && found->digest != artifact.digest) {
      return DataLoss("artifact " + artifact.ToString() + " has digest " + found->digest + " in " +
                      store_->uri() + ", not " + artifact.digest);
    }
    std::error_code error;
    for (const track::ArtifactFile& file : found->files) {
      if (!StaysInside(file.path)) {
        return DataLoss("artifact " + artifact.ToString() + " holds a file path '" + file.path +
                        "' that leaves the download directory");
      }
      const fs::path destination = directory / file.path;
      fs::create_directories(destination.parent_path(), error);
      if (error) {
        return PermissionDenied("cannot create directory " + destination.parent_path().string() +
                                ": " + error.message());
      }
      LABBOOK_RETURN_IF_ERROR(store_->ReadArtifactFile(file, destination));
    }
    return Status::Ok();
  }

  Status Finish(int exit_code) {
    {
      std::lock_guard lock(finish_mutex_);
      if (finished_) return Status::Ok();
      End(exit_code == 0 ? RunState::kFinished : RunState::kFailed, exit_code);
    }
    StopWatchingSignals();

    std::vector<std::string> problems;
    ErrorCode code = ErrorCode::kOk;
    const RecordingStats counts = writer_->stats();
    const int64_t not_recorded = counts.points_logged - counts.points_written;
    if (not_recorded > 0) {
      const Status store_error = writer_->last_error();
      code = store_error.ok() ? ErrorCode::kUnavailable : store_error.code();
      problems.push_back(WithThousands(not_recorded) + " points of " +
                         WithThousands(counts.points_logged) + " were not recorded: " +
                         (store_error.ok() ? "the writer stopped first" : store_error.message()));
    }
    if (!end_status_.ok()) {
      if (code == ErrorCode::kOk) code = end_status_.code();
      problems.push_back("the run's end was not recorded: " + end_status_.message());
    }
    if (problems.empty()) return Status::Ok();
    std::string message = "run " + id_ + " in " + store_->uri() + ": ";
    for (size_t i = 0; i < problems.size(); ++i) message += (i ? "; " : "") + problems[i];
    return Status(code, std::move(message));
  }

  RecordingStats stats() const { return writer_ ? writer_->stats() : RecordingStats{}; }

  void EndAsCrashed(int signal_number) override {
    std::lock_guard lock(finish_mutex_);
    if (finished_) return;
    // The shell's convention for a process ended by a signal.
    End(RunState::kCrashed, 128 + signal_number);
  }

 private:
  // Flushes, stops the threads and records the end; finish_mutex_ held.
  void End(RunState state, int exit_code) {
    ended_.store(true);
    sampler_.reset();
    writer_->Stop();
    track::RunUpdate update;
    update.state = state;
    update.end_time = UnixSeconds();
    update.heartbeat_time = update.end_time;
    update.exit_code = exit_code;
    update.summary_patch = writer_->FullSummary();
    end_status_ = store_->UpdateRun(id_, update);
    finished_ = true;
  }

  void StopWatchingSignals() {
    if (!watching_signals_) return;
    track::UnwatchCrashSignals(this);
    watching_signals_ = false;
  }

  const std::string id_;
  const std::string entity_;
  const std::string project_;
  const std::string name_;
  const RunMode mode_;
  const std::shared_ptr<track::RunStore> store_;  // null when disabled
  const std::unique_ptr<track::HistoryWriter> writer_;
  std::unique_ptr<track::SystemMetricsSampler> sampler_;
  nlohmann::json disabled_summary_ = nlohmann::json::object();
  bool watching_signals_ = false;

  std::atomic<bool> ended_{false};  // Log stops accepting points
  std::mutex finish_mutex_;
  bool finished_ = false;  // under finish_mutex_ (or before any other thread exists)
  Status end_status_;
};

Run::Run(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Run::Run(Run&&) noexcept = default;
Run& Run::operator=(Run&&) noexcept = default;
Run::~Run() = default;

const std::string& Run::id() const { return impl_->id(); }
const std::string& Run::entity() const { return impl_->entity(); }
const std::string& Run::project() const { return impl_->project(); }
const std::string& Run::name() const { return impl_->name(); }
RunMode Run::mode() const { return impl_->mode(); }
std::string Run::store_uri() const { return impl_->store_uri(); }

void Run::Log(std::initializer_list<std::pair<std::string_view, double>> values, int64_t step) {
  impl_->Log(std::span(values.begin(), values.size()), step);
}
void Run::Log(const std::pair<std::string_view, double>* values, size_t count, int64_t step) {
  impl_->Log(std::span(values, count), step);
}
void Run::Log(std::string_view key, double value, int64_t step) { impl_->Log(key, value, step); }

void Run::SetSummary(std::string_view key, nlohmann::json value) {
  impl_->SetSummary(key, std::move(value));
}
nlohmann::json Run::Summary() const { return impl_->Summary(); }

Result<ArtifactRef> Run::LogArtifact(std::string_view name, std::string_view type,
                                     const std::vector<std::pair<std::string, fs::path>>& files,
                                     nlohmann::json metadata,
                                     const std::vector<std::string>& aliases) {
  return impl_->LogArtifact(name, type, files, std::move(metadata), aliases);
}
Result<ArtifactRef> Run::LogTable(std::string_view name, std::string_view csv) {
  return impl_->LogTable(name, csv);
}
Result<ArtifactRef> Run::UseArtifact(std::string_view reference) {
  return impl_->UseArtifact(reference);
}
Status Run::DownloadArtifact(const ArtifactRef& artifact, const fs::path& directory) {
  return impl_->DownloadArtifact(artifact, directory);
}

Status Run::Finish(int exit_code) { return impl_->Finish(exit_code); }
RecordingStats Run::stats() const { return impl_->stats(); }

Result<Run> Init(InitOptions options) { return track::StartRun(std::move(options), nullptr); }

namespace track {

Result<std::string> ResolveStoreUri(const InitOptions& options) {
  switch (options.mode) {
    case RunMode::kDisabled:
      return std::string();
    case RunMode::kOnline:
      return options.store.empty() ? DefaultStoreUri() : options.store;
    case RunMode::kOffline: {
      if (!options.store.empty()) {
        if (!IsSqliteUri(options.store)) {
          return InvalidArgument("offline mode records to a local SQLite store; store '" +
                                 RedactedStoreUri(options.store) + "' is not one");
        }
        return options.store;
      }
      return DefaultOfflineStoreUri();
    }
  }
  return InvalidArgument("InitOptions.mode is not a RunMode");
}

std::string DefaultOfflineStoreUri() {
  std::string uri = Environment("LABBOOK_OFFLINE_STORE");
  return uri.empty() ? std::string("sqlite://.labbook/offline.db") : uri;
}

Result<Run> StartRun(InitOptions options, std::shared_ptr<RunStore> store,
                     const WriterOptions& writer_options) {
  if (options.project.empty()) options.project = Environment("LABBOOK_PROJECT");
  if (options.project.empty()) options.project = "uncategorized";
  if (options.entity.empty()) options.entity = Environment("LABBOOK_ENTITY");
  if (options.entity.empty()) options.entity = LoginName();
  if (options.entity.empty()) options.entity = "local";
  if (options.config.is_null()) options.config = nlohmann::json::object();
  if (!options.config.is_object()) {
    return InvalidArgument("InitOptions.config must be a JSON object, not " +
                           std::string(options.config.type_name()));
  }
  if (options.system_metrics && !(options.system_metrics_interval_s > 0 &&
                                  std::isfinite(options.system_metrics_interval_s))) {
    return InvalidArgument(
        "InitOptions.system_metrics_interval_s must be a positive number of "
        "seconds, not " +
        std::to_string(options.system_metrics_interval_s));
  }
  if (options.mode == RunMode::kDisabled) {
    const std::string id = options.id.empty() ? RandomId() : options.id;
    return Run(std::make_unique<Run::Impl>(id, options));
  }
  if (!store) {
    LABBOOK_ASSIGN_OR_RETURN(const std::string uri, ResolveStoreUri(options));
    if (options.mode == RunMode::kOnline && IsServerUri(uri)) {
      auto opened = OpenServerStore(uri);
      if (!opened.ok()) {
        return opened.status().WithContext("cannot open the run store " + RedactedStoreUri(uri));
      }
      store = std::move(*opened);
    } else {
      auto opened = OpenStore(uri);
      if (!opened.ok()) {
        return opened.status().WithContext("cannot open the run store " + RedactedStoreUri(uri));
      }
      store = std::move(*opened);
    }
  }

  RunInfo info;
  info.id = options.id;
  info.entity = options.entity;
  info.project = options.project;
  info.name = options.name;
  info.group = options.group;
  info.tags = options.tags;
  info.notes = options.notes;
  info.state = RunState::kRunning;
  info.config = options.config;
  info.host = ThisHost();
  info.pid = getpid();
  std::error_code error;
  const fs::path working_directory = fs::current_path(error);
  if (!error) info.git_commit = GitCommitOf(working_directory);
  info.start_time = UnixSeconds();
  info.heartbeat_time = info.start_time;
  auto created = store->CreateRun(std::move(info));
  if (!created.ok()) {
    return created.status().WithContext("cannot start a run in the store " + store->uri());
  }
  return Run(std::make_unique<Run::Impl>(*created, options.mode, std::move(store), writer_options,
                                         options));
}

}  // namespace track

}  // namespace labbook
