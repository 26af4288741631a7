#include "track/http/spooling_store.hpp"

#include <cstdio>

#include "core/status_macros.hpp"

namespace labbook::track::http {

namespace {

bool Unreachable(const Status& status) { return status.code() == ErrorCode::kUnavailable; }

}  // namespace

SpoolingRunStore::SpoolingRunStore(std::unique_ptr<HttpRunStore> remote,
                                   std::function<Result<std::unique_ptr<RunStore>>()> open_offline,
                                   SyncLedger ledger, SpoolOptions options)
    : remote_(std::move(remote)),
      open_offline_(std::move(open_offline)),
      ledger_(std::move(ledger)),
      options_(std::move(options)) {}

SpoolingRunStore::~SpoolingRunStore() = default;

std::string SpoolingRunStore::uri() const { return remote_->uri(); }

void SpoolingRunStore::Notice(const std::string& line) const {
  if (options_.notice) {
    options_.notice(line);
  } else {
    std::fprintf(stderr, "labbook: %s\n", line.c_str());
  }
}

Result<RunStore*> SpoolingRunStore::Offline() {
  if (!offline_) {
    Result<std::unique_ptr<RunStore>> opened = open_offline_();
    if (!opened.ok()) {
      return opened.status().WithContext("cannot open the offline store " + options_.offline_uri);
    }
    offline_ = std::move(*opened);
  }
  return offline_.get();
}

bool SpoolingRunStore::IsSpooling(const std::string& run_id) const {
  std::lock_guard lock(mutex_);
  auto it = runs_.find(run_id);
  return it != runs_.end() && it->second.spooling;
}

bool SpoolingRunStore::SpoolingAfterProbe(const std::string& run_id) {
  {
    std::lock_guard lock(mutex_);
    auto it = runs_.find(run_id);
    if (it == runs_.end() || !it->second.spooling) return false;
    const auto now = std::chrono::steady_clock::now();
    if (now < it->second.next_probe) return true;
    it->second.next_probe = now + options_.probe_interval;
  }
  std::lock_guard spool(spool_mutex_);
  UploadLocked(run_id).IgnoreError();  // still spooling when it fails
  return IsSpooling(run_id);
}

Status SpoolingRunStore::StartSpooling(const std::string& run_id, const Status& cause) {
  RunInfo info;
  {
    std::lock_guard lock(mutex_);
    auto it = runs_.find(run_id);
    // A run this store did not create (or see) cannot be copied: the server has its record.
    if (it == runs_.end()) return cause;
    if (it->second.spooling) return Status::Ok();
    info = it->second.info;
  }
  LABBOOK_ASSIGN_OR_RETURN(RunStore * offline, Offline());
  Result<RunInfo> copy = offline->CreateRun(info);
  if (!copy.ok() && copy.status().code() != ErrorCode::kAlreadyExists) {
    return copy.status().WithContext("cannot spool run " + run_id + " to " + options_.offline_uri);
  }
  LABBOOK_RETURN_IF_ERROR(ledger_.Put(run_id, {remote_->uri(), true, std::nullopt}));
  {
    std::lock_guard lock(mutex_);
    RunSpool& spool = runs_[run_id];
    spool.spooling = true;
    spool.next_probe = std::chrono::steady_clock::now() + options_.probe_interval;
  }
  Notice("run " + run_id + ": " + cause.message() + "; recording to the offline store " +
         options_.offline_uri + " until the server is back (`labbook sync " + run_id +
         "` uploads it later)");
  return Status::Ok();
}

Status SpoolingRunStore::UploadLocked(const std::string& run_id) {
  if (!IsSpooling(run_id)) return Status::Ok();
  LABBOOK_RETURN_IF_ERROR(remote_->CheckHealth());
  LABBOOK_ASSIGN_OR_RETURN(RunStore * offline, Offline());
  LABBOOK_ASSIGN_OR_RETURN(SyncReport report, SyncRun(*offline, *remote_, run_id));
  {
    std::lock_guard lock(mutex_);
    runs_[run_id].spooling = false;
  }
  // The server has everything now; the spool would only be uploaded again.
  offline->DeleteRun(run_id).IgnoreError();
  ledger_.Remove(run_id).IgnoreError();
  Notice("run " + run_id + ": the server " + remote_->uri() + " is back; " +
         std::to_string(report.points) + " points recorded offline were uploaded");
  return Status::Ok();
}

Status SpoolingRunStore::Upload(const std::string& run_id) {
  std::lock_guard spool(spool_mutex_);
  return UploadLocked(run_id);
}

Status SpoolingRunStore::Write(const std::string& run_id,
                               const std::function<Status(RunStore&)>& write) {
  if (SpoolingAfterProbe(run_id)) {
    std::lock_guard spool(spool_mutex_);
    // An upload may have ended the spool meanwhile; then the server gets the write.
    if (IsSpooling(run_id)) {
      LABBOOK_ASSIGN_OR_RETURN(RunStore * offline, Offline());
      return write(*offline);
    }
  }
  Status status = write(*remote_);
  if (!Unreachable(status)) return status;
  std::lock_guard spool(spool_mutex_);
  LABBOOK_RETURN_IF_ERROR(StartSpooling(run_id, status));
  LABBOOK_ASSIGN_OR_RETURN(RunStore * offline, Offline());
  return write(*offline);
}

Result<RunInfo> SpoolingRunStore::CreateRun(RunInfo run) {
  Result<RunInfo> created = remote_->CreateRun(run);
  if (created.ok()) {
    std::lock_guard lock(mutex_);
    runs_[created->id].info = *created;
    return created;
  }
  if (!Unreachable(created.status())) return created;
  std::lock_guard spool(spool_mutex_);
  LABBOOK_ASSIGN_OR_RETURN(RunStore * offline, Offline());
  Result<RunInfo> local = offline->CreateRun(run);
  if (!local.ok()) {
    return local.status().WithContext(created.status().message() + "; nor could the run start in " +
                                      options_.offline_uri);
  }
  {
    std::lock_guard lock(mutex_);
    RunSpool& spool = runs_[local->id];
    spool.info = *local;
  }
  // The offline copy exists already; StartSpooling records the rest.
  LABBOOK_RETURN_IF_ERROR(StartSpooling(local->id, created.status()));
  return local;
}

Status SpoolingRunStore::UpdateRun(const std::string& run_id, const RunUpdate& update) {
  LABBOOK_RETURN_IF_ERROR(
      Write(run_id, [&](RunStore& store) { return store.UpdateRun(run_id, update); }));
  const bool ends = update.state.has_value() && *update.state != RunState::kRunning;
  if (ends && IsSpooling(run_id)) {
    Status uploaded = Upload(run_id);
    if (!uploaded.ok()) {
      Notice("run " + run_id + " stays in the offline store " + options_.offline_uri + " (" +
             uploaded.message() + "); `labbook sync " + run_id + "` uploads it to " +
             remote_->uri());
    }
  }
  return Status::Ok();
}

Status SpoolingRunStore::LogHistory(const std::string& run_id, const HistoryBatch& batch) {
  return Write(run_id, [&](RunStore& store) { return store.LogHistory(run_id, batch); });
}

Result<ArtifactVersion> SpoolingRunStore::LogArtifact(const NewArtifact& artifact) {
  if (artifact.producer_run.empty()) return remote_->LogArtifact(artifact);
  std::optional<ArtifactVersion> logged;
  LABBOOK_RETURN_IF_ERROR(Write(artifact.producer_run, [&](RunStore& store) -> Status {
    Result<ArtifactVersion> result = store.LogArtifact(artifact);
    if (!result.ok()) return result.status();
    logged = std::move(*result);
    return Status::Ok();
  }));
  return std::move(*logged);
}

Result<RunInfo> SpoolingRunStore::GetRun(const std::string& run_id) {
  return remote_->GetRun(run_id);
}
Result<std::vector<RunInfo>> SpoolingRunStore::ListRuns(const RunQuery& query) {
  return remote_->ListRuns(query);
}
Status SpoolingRunStore::DeleteRun(const std::string& run_id) { return remote_->DeleteRun(run_id); }
Result<std::vector<KeyInfo>> SpoolingRunStore::HistoryKeys(const std::string& run_id) {
  return remote_->HistoryKeys(run_id);
}
Result<Series> SpoolingRunStore::ReadHistory(const std::string& run_id, const std::string& key,
                                             const HistoryQuery& query) {
  return remote_->ReadHistory(run_id, key, query);
}
Result<ArtifactVersion> SpoolingRunStore::GetArtifact(const std::string& entity,
                                                      const std::string& project,
                                                      const std::string& name,
                                                      const std::string& version_or_alias) {
  return remote_->GetArtifact(entity, project, name, version_or_alias);
}
Result<std::vector<ArtifactVersion>> SpoolingRunStore::ListArtifacts(const RunQuery& query) {
  return remote_->ListArtifacts(query);
}
Status SpoolingRunStore::UseArtifact(const std::string& run_id, const ArtifactVersion& artifact) {
  return remote_->UseArtifact(run_id, artifact);
}
Result<RunArtifacts> SpoolingRunStore::ArtifactsOfRun(const std::string& run_id) {
  return remote_->ArtifactsOfRun(run_id);
}
Status SpoolingRunStore::ReadArtifactFile(const ArtifactFile& file,
                                          const std::filesystem::path& destination) {
  return remote_->ReadArtifactFile(file, destination);
}

}  // namespace labbook::track::http
