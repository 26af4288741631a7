#include "track/sqlite/sqlite_store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/clock.hpp"
#include "core/errno_status.hpp"
#include "core/status_macros.hpp"
#include "track/sqlite/artifact_tables.hpp"
#include "track/sqlite/blob_store.hpp"
#include "track/sqlite/connection.hpp"
#include "track/sqlite/history_tables.hpp"
#include "track/sqlite/migrations.hpp"
#include "track/sqlite/run_tables.hpp"
#include "track/validation/validation.hpp"

namespace labbook::track::sqlite {
namespace {

namespace fs = std::filesystem;
using validation::CheckHistoryKey;
using validation::CheckHistoryQuery;
using validation::CheckNewArtifact;
using validation::CheckNewRun;
using validation::CheckRunId;
using validation::CheckRunIdOrPrefix;
using validation::CheckRunUpdate;
using validation::IsRunId;
using validation::kRunIdLength;
using validation::ApplyUpdate;
using validation::ArtifactDigest;

// "LBBK" in the database header marks a labbook store.
constexpr int64_t kApplicationId = 0x4C42424B;
// Tries at a fresh random id before giving up (36^8 ids make a second try already rare).
constexpr int kIdAttempts = 16;
// WAL pages between automatic checkpoints (4 KiB pages: 40 MB).
constexpr int kWalAutocheckpointPages = 10'000;
// How many candidates an ambiguous id prefix lists.
constexpr int kPrefixCandidates = 10;

// History batches smaller than this are buffered (see LogHistory in sqlite_store.hpp): a
// transaction costs about as much as a few hundred points, so larger batches gain nothing.
constexpr size_t kBufferedBatchPoints = 256;
// Buffered points are committed once this many are pending, or this long after the oldest.
constexpr size_t kFlushPendingPoints = 8192;
constexpr std::chrono::milliseconds kFlushPendingAfter{100};
// The age below which gc keeps temporary files whatever its grace period: a copy being written
// refreshes its file's time with every write, so one quiet this long was left by a dead writer.
constexpr std::chrono::seconds kTemporaryMinAge{3600};
// Tries of LogArtifact when `labbook gc` removed one of its fresh blobs before it committed.
constexpr int kArtifactAttempts = 3;

std::string RunRef(const std::string& run_id) { return "run '" + run_id + "'"; }

struct KeyPoints {
  std::string key;
  std::vector<Point> points;
};

// The batch's points grouped by key name (keys listed twice share a group), checked.
Result<std::vector<KeyPoints>> GroupByKey(const HistoryBatch& batch) {
  std::vector<KeyPoints> groups;
  std::vector<uint32_t> group_of(batch.keys.size());
  std::unordered_map<std::string_view, uint32_t> by_name;
  for (size_t i = 0; i < batch.keys.size(); ++i) {
    LABBOOK_RETURN_IF_ERROR(CheckHistoryKey("keys[" + std::to_string(i) + "]", batch.keys[i]));
    auto [it, added] = by_name.emplace(batch.keys[i], static_cast<uint32_t>(groups.size()));
    if (added) groups.push_back(KeyPoints{batch.keys[i], {}});
    group_of[i] = it->second;
  }
  for (size_t i = 0; i < batch.points.size(); ++i) {
    const HistoryPoint& p = batch.points[i];
    if (p.key >= batch.keys.size()) {
      return InvalidArgument("points[" + std::to_string(i) + "].key is " + std::to_string(p.key) +
                             " but the batch has " + std::to_string(batch.keys.size()) + " keys");
    }
    groups[group_of[p.key]].points.push_back(Point{p.step, p.value, p.wall_time});
  }
  std::erase_if(groups, [](const KeyPoints& group) { return group.points.empty(); });
  return groups;
}

// History accepted by LogHistory and not committed yet.
struct PendingHistory {
  std::string run_id;
  std::vector<KeyPoints> groups;
  size_t points = 0;
};

// Writes `pending` in the caller's transaction: per run, the points of each key in the order
// they were logged, so the later of two points at one step wins as if written one by one.
Status WritePending(Connection& db, const std::string& uri,
                    std::span<const PendingHistory> pending) {
  std::vector<std::string> run_order;
  std::map<std::string, std::vector<KeyPoints>> by_run;
  for (const PendingHistory& batch : pending) {
    auto [it, added] = by_run.try_emplace(batch.run_id);
    if (added) run_order.push_back(batch.run_id);
    for (const KeyPoints& group : batch.groups) {
      auto same_key = std::find_if(it->second.begin(), it->second.end(),
                                   [&](const KeyPoints& known) { return known.key == group.key; });
      if (same_key == it->second.end()) {
        it->second.push_back(group);
      } else {
        same_key->points.insert(same_key->points.end(), group.points.begin(), group.points.end());
      }
    }
  }
  for (const std::string& run_id : run_order) {
    db.set_action("log history of " + RunRef(run_id));
    // Another process may have deleted the run since its points were accepted.
    LABBOOK_ASSIGN_OR_RETURN(bool exists, RunExists(db, run_id));
    if (!exists) return NotFound(RunRef(run_id) + " not found in " + uri);
    for (KeyPoints& group : by_run[run_id]) {
      db.set_action("log history of " + RunRef(run_id) + ", key '" + group.key + "'");
      LABBOOK_RETURN_IF_ERROR(WriteKeyPoints(db, run_id, group.key, std::move(group.points)));
    }
  }
  return Status::Ok();
}

class SqliteRunStore final : public RunStore {
 public:
  SqliteRunStore(std::unique_ptr<Connection> db, BlobStore blobs, std::string uri)
      : db_(std::move(db)),
        blobs_(std::move(blobs)),
        uri_(std::move(uri)),
        read_only_(db_->read_only()),
        random_(std::random_device{}()) {}

  // Commits what is buffered; an error then has no caller left to hear of it.
  ~SqliteRunStore() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    flush_cv_.notify_all();
    if (flusher_.joinable()) flusher_.join();
    std::lock_guard lock(mutex_);
    FlushPendingLocked("").IgnoreError();
  }

  std::string uri() const override { return uri_; }

  Result<RunInfo> CreateRun(RunInfo run) override;
  Status UpdateRun(const std::string& run_id, const RunUpdate& update) override;
  Result<RunInfo> GetRun(const std::string& run_id) override;
  Result<std::vector<RunInfo>> ListRuns(const RunQuery& query) override;
  Status DeleteRun(const std::string& run_id) override;

  Status LogHistory(const std::string& run_id, const HistoryBatch& batch) override;
  Result<std::vector<KeyInfo>> HistoryKeys(const std::string& run_id) override;
  Result<Series> ReadHistory(const std::string& run_id, const std::string& key,
                             const HistoryQuery& query) override;

  Result<ArtifactVersion> LogArtifact(const NewArtifact& artifact) override;
  Result<ArtifactVersion> GetArtifact(const std::string& entity, const std::string& project,
                                      const std::string& name,
                                      const std::string& version_or_alias) override;
  Result<std::vector<ArtifactVersion>> ListArtifacts(const RunQuery& query) override;
  Status UseArtifact(const std::string& run_id, const ArtifactVersion& artifact) override;
  Result<RunArtifacts> ArtifactsOfRun(const std::string& run_id) override;
  Status ReadArtifactFile(const ArtifactFile& file,
                          const std::filesystem::path& destination) override;

 private:
  // Runs `body` (returning Status or Result) in one write transaction: committed when it
  // succeeds, rolled back otherwise. `action` names what is done in SQLite's error messages.
  template <typename Body>
  auto Write(std::string action, Body body) -> decltype(body());
  // Runs `body` on one consistent snapshot.
  template <typename Body>
  auto Read(std::string action, Body body) -> decltype(body());

  Status ReadOnlyError(const std::string& action) const {
    return PermissionDenied(db_->path() + ": cannot " + action +
                            ": the store is read-only (opened read-only, or the file or its "
                            "directory is not writable)");
  }
  // With the transaction held:
  Result<std::string> UnusedRunId();
  Status RequireRun(const std::string& run_id);
  // An id or a unique prefix of one, as the full id.
  Result<std::string> ResolveRunId(const std::string& id_or_prefix);
  Result<std::vector<ArtifactVersion>> LoadVersions(const std::vector<int64_t>& version_ids);

  // Commits the buffered history, mutex_ held. Returns the error of `caller_run`'s points (ok
  // when none failed or `caller_run` is empty); other runs' errors wait in deferred_errors_ for
  // their next LogHistory.
  Status FlushPendingLocked(const std::string& caller_run);
  // The flusher thread: commits buffered points kFlushPendingAfter after the oldest arrived.
  void FlushLoop();

  std::mutex mutex_;
  const std::unique_ptr<Connection> db_;
  const BlobStore blobs_;
  const std::string uri_;
  const bool read_only_;
  std::mt19937_64 random_;

  // Buffered history, under mutex_.
  std::vector<PendingHistory> pending_;
  size_t pending_points_ = 0;
  std::chrono::steady_clock::time_point oldest_pending_;
  std::unordered_set<std::string> known_runs_;  // runs checked to exist by this store
  std::map<std::string, Status> deferred_errors_;
  std::condition_variable flush_cv_;
  bool stopping_ = false;
  std::thread flusher_;  // started by the first buffered batch
};

Status SqliteRunStore::FlushPendingLocked(const std::string& caller_run) {
  if (pending_.empty()) return Status::Ok();
  std::vector<PendingHistory> pending;
  pending.swap(pending_);
  pending_points_ = 0;
  auto write = [&](std::span<const PendingHistory> batches) -> Status {
    db_->set_action("log history");
    LABBOOK_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Write(*db_));
    LABBOOK_RETURN_IF_ERROR(WritePending(*db_, uri_, batches));
    return transaction.Commit();
  };
  if (write(pending).ok()) return Status::Ok();
  // One run's failure (deleted meanwhile) must not take the other runs' points with it.
  std::vector<std::string> runs;
  for (const PendingHistory& batch : pending) {
    if (std::find(runs.begin(), runs.end(), batch.run_id) == runs.end()) {
      runs.push_back(batch.run_id);
    }
  }
  Status caller_status;
  for (const std::string& run_id : runs) {
    std::vector<PendingHistory> of_run;
    size_t points = 0;
    for (const PendingHistory& batch : pending) {
      if (batch.run_id != run_id) continue;
      of_run.push_back(batch);
      points += batch.points;
    }
    Status status = write(of_run);
    if (status.ok()) continue;
    status = status.WithContext(std::to_string(points) + " history points of " + RunRef(run_id) +
                                " accepted earlier were not recorded");
    if (run_id == caller_run) {
      caller_status = status;
    } else {
      deferred_errors_[run_id] = status;
    }
  }
  return caller_status;
}

void SqliteRunStore::FlushLoop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (pending_.empty()) {
      flush_cv_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      continue;
    }
    const auto due = oldest_pending_ + kFlushPendingAfter;
    if (std::chrono::steady_clock::now() < due) {
      flush_cv_.wait_until(lock, due);
      continue;
    }
    FlushPendingLocked("").IgnoreError();
  }
}

template <typename Body>
auto SqliteRunStore::Write(std::string action, Body body) -> decltype(body()) {
  if (read_only_) return ReadOnlyError(action);
  std::lock_guard lock(mutex_);
  // Buffered points come first: a run's end is never recorded before its points.
  FlushPendingLocked("").IgnoreError();
  db_->set_action(std::move(action));
  LABBOOK_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Write(*db_));
  auto result = body();
  if (!result.ok()) return result;
  LABBOOK_RETURN_IF_ERROR(transaction.Commit());
  return result;
}

template <typename Body>
auto SqliteRunStore::Read(std::string action, Body body) -> decltype(body()) {
  std::lock_guard lock(mutex_);
  // This store's reads see every point it accepted.
  FlushPendingLocked("").IgnoreError();
  db_->set_action(std::move(action));
  LABBOOK_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Read(*db_));
  auto result = body();
  if (!result.ok()) return result;
  LABBOOK_RETURN_IF_ERROR(transaction.Commit());
  return result;
}

Result<std::string> SqliteRunStore::UnusedRunId() {
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::uniform_int_distribution<int> digit(0, 35);
  for (int attempt = 0; attempt < kIdAttempts; ++attempt) {
    std::string id(kRunIdLength, '0');
    for (char& c : id) c = kDigits[digit(random_)];
    LABBOOK_ASSIGN_OR_RETURN(bool taken, RunExists(*db_, id));
    if (!taken) return id;
  }
  return Internal(db_->path() + ": no unused run id after " + std::to_string(kIdAttempts) +
                  " random tries");
}

Status SqliteRunStore::RequireRun(const std::string& run_id) {
  LABBOOK_ASSIGN_OR_RETURN(bool exists, RunExists(*db_, run_id));
  if (exists) return Status::Ok();
  return NotFound(RunRef(run_id) + " not found in " + uri_);
}

Result<std::string> SqliteRunStore::ResolveRunId(const std::string& id_or_prefix) {
  if (IsRunId(id_or_prefix)) {
    LABBOOK_RETURN_IF_ERROR(RequireRun(id_or_prefix));
    return id_or_prefix;
  }
  LABBOOK_ASSIGN_OR_RETURN(std::vector<std::string> ids,
                           RunIdsStartingWith(*db_, id_or_prefix, kPrefixCandidates + 1));
  if (ids.empty()) return NotFound("no run id starts with '" + id_or_prefix + "' in " + uri_);
  if (ids.size() == 1) return ids.front();
  std::string candidates;
  for (size_t i = 0; i < ids.size() && i < static_cast<size_t>(kPrefixCandidates); ++i) {
    candidates += (i == 0 ? "" : ", ") + ids[i];
  }
  if (ids.size() > static_cast<size_t>(kPrefixCandidates)) candidates += ", ...";
  return InvalidArgument("run id prefix '" + id_or_prefix + "' is ambiguous: it matches runs " +
                         candidates);
}

Result<std::vector<ArtifactVersion>> SqliteRunStore::LoadVersions(
    const std::vector<int64_t>& version_ids) {
  std::vector<ArtifactVersion> versions;
  versions.reserve(version_ids.size());
  for (int64_t id : version_ids) {
    LABBOOK_ASSIGN_OR_RETURN(ArtifactVersion version, LoadArtifactVersion(*db_, id));
    versions.push_back(std::move(version));
  }
  return versions;
}

// --- Runs ---

Result<RunInfo> SqliteRunStore::CreateRun(RunInfo run) {
  LABBOOK_RETURN_IF_ERROR(CheckNewRun(run));
  return Write("create a run in " + run.entity + "/" + run.project, [&]() -> Result<RunInfo> {
    if (run.id.empty()) {
      LABBOOK_ASSIGN_OR_RETURN(run.id, UnusedRunId());
    } else {
      LABBOOK_ASSIGN_OR_RETURN(bool taken, RunExists(*db_, run.id));
      if (taken) {
        return Status(ErrorCode::kAlreadyExists, RunRef(run.id) + " already exists in " + uri_);
      }
    }
    if (run.name.empty()) run.name = run.id;
    LABBOOK_ASSIGN_OR_RETURN(int64_t project_id,
                             FindOrCreateProject(*db_, run.entity, run.project));
    LABBOOK_RETURN_IF_ERROR(InsertRun(*db_, project_id, run));
    known_runs_.insert(run.id);
    return run;
  });
}

Status SqliteRunStore::UpdateRun(const std::string& run_id, const RunUpdate& update) {
  LABBOOK_RETURN_IF_ERROR(CheckRunId(run_id));
  LABBOOK_RETURN_IF_ERROR(CheckRunUpdate(update));
  return Write("update " + RunRef(run_id), [&]() -> Status {
    LABBOOK_ASSIGN_OR_RETURN(std::optional<RunInfo> run, LoadRun(*db_, run_id));
    if (!run) return NotFound(RunRef(run_id) + " not found in " + uri_);
    ApplyUpdate(update, &*run);
    return SaveRun(*db_, *run);
  });
}

Result<RunInfo> SqliteRunStore::GetRun(const std::string& run_id) {
  LABBOOK_RETURN_IF_ERROR(CheckRunIdOrPrefix(run_id));
  return Read("read " + RunRef(run_id), [&]() -> Result<RunInfo> {
    LABBOOK_ASSIGN_OR_RETURN(std::string id, ResolveRunId(run_id));
    LABBOOK_ASSIGN_OR_RETURN(std::optional<RunInfo> run, LoadRun(*db_, id));
    if (!run) return NotFound(RunRef(id) + " not found in " + uri_);
    return std::move(*run);
  });
}

Result<std::vector<RunInfo>> SqliteRunStore::ListRuns(const RunQuery& query) {
  return Read("list runs", [&] { return LoadRuns(*db_, query); });
}

Status SqliteRunStore::DeleteRun(const std::string& run_id) {
  LABBOOK_RETURN_IF_ERROR(CheckRunIdOrPrefix(run_id));
  return Write("delete " + RunRef(run_id), [&]() -> Status {
    LABBOOK_ASSIGN_OR_RETURN(std::string id, ResolveRunId(run_id));
    known_runs_.erase(id);
    deferred_errors_.erase(id);
    return DeleteRunRow(*db_, id);
  });
}

// --- History ---

Status SqliteRunStore::LogHistory(const std::string& run_id, const HistoryBatch& batch) {
  LABBOOK_RETURN_IF_ERROR(CheckRunId(run_id));
  LABBOOK_ASSIGN_OR_RETURN(std::vector<KeyPoints> groups, GroupByKey(batch));
  const std::string action = "log history of " + RunRef(run_id);
  if (read_only_) return ReadOnlyError(action);
  std::unique_lock lock(mutex_);
  if (auto failed = deferred_errors_.find(run_id); failed != deferred_errors_.end()) {
    Status status = failed->second;
    deferred_errors_.erase(failed);
    return status.WithContext("this batch was not stored either");
  }
  if (!known_runs_.contains(run_id)) {
    db_->set_action(action);
    LABBOOK_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Read(*db_));
    LABBOOK_RETURN_IF_ERROR(RequireRun(run_id));
    LABBOOK_RETURN_IF_ERROR(transaction.Commit());
    known_runs_.insert(run_id);
  }
  if (groups.empty()) return Status::Ok();
  PendingHistory accepted{run_id, std::move(groups), 0};
  for (const KeyPoints& group : accepted.groups) accepted.points += group.points.size();
  const auto now = std::chrono::steady_clock::now();
  if (pending_.empty()) oldest_pending_ = now;
  pending_points_ += accepted.points;
  const bool small = accepted.points < kBufferedBatchPoints;
  pending_.push_back(std::move(accepted));
  if (!small || pending_points_ >= kFlushPendingPoints ||
      now - oldest_pending_ >= kFlushPendingAfter) {
    return FlushPendingLocked(run_id);
  }
  if (!flusher_.joinable()) flusher_ = std::thread([this] { FlushLoop(); });
  lock.unlock();
  flush_cv_.notify_all();
  return Status::Ok();
}

Result<std::vector<KeyInfo>> SqliteRunStore::HistoryKeys(const std::string& run_id) {
  LABBOOK_RETURN_IF_ERROR(CheckRunIdOrPrefix(run_id));
  return Read("read the history keys of " + RunRef(run_id), [&]() -> Result<std::vector<KeyInfo>> {
    LABBOOK_ASSIGN_OR_RETURN(std::string id, ResolveRunId(run_id));
    return ReadKeyInfos(*db_, id);
  });
}

Result<Series> SqliteRunStore::ReadHistory(const std::string& run_id, const std::string& key,
                                           const HistoryQuery& query) {
  LABBOOK_RETURN_IF_ERROR(CheckRunIdOrPrefix(run_id));
  LABBOOK_RETURN_IF_ERROR(CheckHistoryKey("key", key));
  LABBOOK_RETURN_IF_ERROR(CheckHistoryQuery(query));
  return Read("read history key '" + key + "' of " + RunRef(run_id), [&]() -> Result<Series> {
    LABBOOK_ASSIGN_OR_RETURN(std::string id, ResolveRunId(run_id));
    return ReadSeries(*db_, id, key, query);
  });
}

// --- Artifacts ---

Result<ArtifactVersion> SqliteRunStore::LogArtifact(const NewArtifact& artifact) {
  LABBOOK_RETURN_IF_ERROR(CheckNewArtifact(artifact));
  VersionToAdd version;
  version.ref = artifact.entity + "/" + artifact.project + "/" + artifact.name;
  const std::string action = "log artifact '" + version.ref + "'";
  if (read_only_) return ReadOnlyError(action);
  version.name = artifact.name;
  version.type = artifact.type;
  version.metadata = artifact.metadata.is_null() ? nlohmann::json::object() : artifact.metadata;
  version.producer_run = artifact.producer_run;
  version.aliases = artifact.aliases;
  for (int attempt = 1;; ++attempt) {
    // The files go into the blob directory first, outside the transaction: they may be large, and
    // a blob that no version names is harmless (`labbook gc` removes it).
    version.files.clear();
    for (const NewArtifact::File& file : artifact.files) {
      Result<StoredBlob> blob = blobs_.Put(file.source);
      if (!blob.ok()) {
        return blob.status().WithContext("artifact '" + version.ref + "', file '" + file.path +
                                         "'");
      }
      version.files.push_back(ArtifactFile{file.path, blob->sha256, blob->size});
    }
    version.digest = ArtifactDigest(&version.files);
    version.created_time = UnixSeconds();
    bool blob_removed = false;
    Result<ArtifactVersion> logged = Write(action, [&]() -> Result<ArtifactVersion> {
      // CollectGarbage removes blobs only under the write lock held here, so a blob present now
      // stays until this version, which references it, is committed (the gc protocol in
      // sqlite_store.hpp). One missing was removed between Put and now: put it again.
      for (const ArtifactFile& file : version.files) {
        if (!blobs_.Exists(file.sha256)) {
          blob_removed = true;
          return Status(ErrorCode::kUnavailable, blobs_.PathOf(file.sha256).string() +
                                                     ": removed by a concurrent labbook gc");
        }
      }
      if (!artifact.producer_run.empty()) {
        LABBOOK_RETURN_IF_ERROR(RequireRun(artifact.producer_run));
      }
      LABBOOK_ASSIGN_OR_RETURN(version.project_id,
                               FindOrCreateProject(*db_, artifact.entity, artifact.project));
      LABBOOK_ASSIGN_OR_RETURN(int64_t version_id, AddArtifactVersion(*db_, version));
      return LoadArtifactVersion(*db_, version_id);
    });
    if (!blob_removed || attempt == kArtifactAttempts) return logged;
  }
}

Result<ArtifactVersion> SqliteRunStore::GetArtifact(const std::string& entity,
                                                    const std::string& project,
                                                    const std::string& name,
                                                    const std::string& version_or_alias) {
  const std::string ref = entity + "/" + project + "/" + name + ":" + version_or_alias;
  return Read("read artifact '" + ref + "'", [&]() -> Result<ArtifactVersion> {
    LABBOOK_ASSIGN_OR_RETURN(std::optional<int64_t> id,
                             FindArtifactVersion(*db_, entity, project, name, version_or_alias));
    if (!id) return NotFound("artifact '" + ref + "' not found in " + uri_);
    return LoadArtifactVersion(*db_, *id);
  });
}

Result<std::vector<ArtifactVersion>> SqliteRunStore::ListArtifacts(const RunQuery& query) {
  return Read("list artifacts", [&]() -> Result<std::vector<ArtifactVersion>> {
    LABBOOK_ASSIGN_OR_RETURN(std::vector<int64_t> ids, ListArtifactVersions(*db_, query));
    return LoadVersions(ids);
  });
}

Status SqliteRunStore::UseArtifact(const std::string& run_id, const ArtifactVersion& artifact) {
  LABBOOK_RETURN_IF_ERROR(CheckRunId(run_id));
  const std::string ref = artifact.entity + "/" + artifact.project + "/" + artifact.name + ":" +
                          VersionName(artifact.version);
  return Write("record that " + RunRef(run_id) + " used '" + ref + "'", [&]() -> Status {
    LABBOOK_RETURN_IF_ERROR(RequireRun(run_id));
    LABBOOK_ASSIGN_OR_RETURN(std::optional<int64_t> id,
                             FindArtifactVersion(*db_, artifact.entity, artifact.project,
                                                 artifact.name, VersionName(artifact.version)));
    if (!id) return NotFound("artifact '" + ref + "' not found in " + uri_);
    return RecordUse(*db_, run_id, *id);
  });
}

Result<RunArtifacts> SqliteRunStore::ArtifactsOfRun(const std::string& run_id) {
  LABBOOK_RETURN_IF_ERROR(CheckRunIdOrPrefix(run_id));
  return Read("read the artifacts of " + RunRef(run_id), [&]() -> Result<RunArtifacts> {
    LABBOOK_ASSIGN_OR_RETURN(std::string id, ResolveRunId(run_id));
    RunArtifacts artifacts;
    LABBOOK_ASSIGN_OR_RETURN(std::vector<int64_t> produced, VersionsProducedBy(*db_, id));
    LABBOOK_ASSIGN_OR_RETURN(artifacts.produced, LoadVersions(produced));
    LABBOOK_ASSIGN_OR_RETURN(std::vector<int64_t> used, VersionsUsedBy(*db_, id));
    LABBOOK_ASSIGN_OR_RETURN(artifacts.used, LoadVersions(used));
    return artifacts;
  });
}

Status SqliteRunStore::ReadArtifactFile(const ArtifactFile& file, const fs::path& destination) {
  if (!IsSha256Hex(file.sha256)) {
    return InvalidArgument("file.sha256 '" + file.sha256 + "' must be 64 lower-case hex digits");
  }
  std::error_code error;
  if (!fs::exists(blobs_.PathOf(file.sha256), error)) {
    LABBOOK_ASSIGN_OR_RETURN(bool referenced, Read("read artifact file '" + file.path + "'", [&] {
                               return IsBlobReferenced(*db_, file.sha256);
                             }));
    if (referenced) {
      return DataLoss(blobs_.PathOf(file.sha256).string() + ": the blob of artifact file '" +
                      file.path + "' is missing");
    }
    return NotFound("artifact file '" + file.path + "' (sha256 " + file.sha256 + ") not found in " +
                    uri_);
  }
  return blobs_.CopyTo(file.sha256, file.size, destination);
}

// --- Opening ---

Result<int64_t> CountSchemaObjects(Connection& db) {
  LABBOOK_ASSIGN_OR_RETURN(Statement count, db.Prepare("SELECT count(*) FROM sqlite_schema"));
  LABBOOK_RETURN_IF_ERROR(count.Step().status());
  return count.Int(0);
}

// Refuses files that are not labbook stores, and stores newer than this labbook.
Status CheckIsLabbookStore(Connection& db) {
  const std::string& path = db.path();
  db.set_action("read the store's schema");
  Result<int64_t> objects = CountSchemaObjects(db);
  if (!objects.ok() && objects.status().code() == ErrorCode::kDataLoss) {
    return DataLoss(path +
                    ": not a labbook store: the file is not a SQLite database, or it is "
                    "corrupt");
  }
  if (!objects.ok()) return objects.status();
  LABBOOK_ASSIGN_OR_RETURN(int64_t application_id, db.PragmaInt("application_id"));
  if (*objects > 0 && application_id != kApplicationId) {
    return DataLoss(path + ": not a labbook store: a SQLite database of another application");
  }
  LABBOOK_ASSIGN_OR_RETURN(int64_t version, db.PragmaInt("user_version"));
  const size_t known = Migrations().size();
  if (version > static_cast<int64_t>(known)) {
    return FailedPrecondition(path + ": the store has schema version " + std::to_string(version) +
                              ", newer than this labbook knows (" + std::to_string(known) +
                              "); use a newer labbook");
  }
  return Status::Ok();
}

Status Configure(Connection& db, const SqliteStoreOptions& options) {
  if (!db.read_only()) {
    db.set_action("switch the store to WAL mode");
    LABBOOK_ASSIGN_OR_RETURN(std::string mode, db.SwitchToWal());
    if (mode != "wal") {
      return FailedPrecondition(db.path() + ": cannot switch the store to WAL mode");
    }
  }
  db.set_action("configure the store");
  // In WAL mode, synchronous=NORMAL makes every committed transaction survive a crash of the
  // process (the requirement); only a power cut may lose the last ones, never consistency.
  LABBOOK_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous = NORMAL"));
  // A checkpoint (copying the WAL into the database) costs two fsyncs; every 40 MB of WAL rather
  // than SQLite's 4 MB keeps them from dominating a fast ingest.
  LABBOOK_RETURN_IF_ERROR(
      db.Exec("PRAGMA wal_autocheckpoint = " + std::to_string(kWalAutocheckpointPages)));
  LABBOOK_RETURN_IF_ERROR(db.Exec("PRAGMA foreign_keys = ON"));
  if (options.mmap_bytes > 0) {
    LABBOOK_RETURN_IF_ERROR(db.Exec("PRAGMA mmap_size = " + std::to_string(options.mmap_bytes)));
  }
  if (options.max_page_count > 0) {
    LABBOOK_RETURN_IF_ERROR(
        db.Exec("PRAGMA max_page_count = " + std::to_string(options.max_page_count)));
  }
  return Status::Ok();
}

// Applies the migrations the database lacks, each in its own transaction. Another process may
// be migrating the same file: the version is read again under the write lock.
Status Migrate(Connection& db) {
  const std::span<const Migration> migrations = Migrations();
  for (;;) {
    LABBOOK_ASSIGN_OR_RETURN(int64_t version, db.PragmaInt("user_version"));
    if (version >= static_cast<int64_t>(migrations.size())) return Status::Ok();
    if (db.read_only()) {
      return PermissionDenied(db.path() + ": the store needs its schema " +
                              (version == 0 ? "created" : "upgraded") +
                              " but is read-only (opened read-only, or the file or its "
                              "directory is not writable)");
    }
    const Migration& next = migrations[static_cast<size_t>(version)];
    db.set_action("apply migration " + std::string(next.file));
    LABBOOK_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Write(db));
    LABBOOK_ASSIGN_OR_RETURN(int64_t current, db.PragmaInt("user_version"));
    if (current == version) {
      LABBOOK_RETURN_IF_ERROR(db.Exec(std::string(next.sql)));
      LABBOOK_RETURN_IF_ERROR(db.Exec("PRAGMA user_version = " + std::to_string(version + 1)));
      LABBOOK_RETURN_IF_ERROR(db.Exec("PRAGMA application_id = " + std::to_string(kApplicationId)));
    }
    LABBOOK_RETURN_IF_ERROR(transaction.Commit());
  }
}

// Creates the database's directory, and refuses a path that names a directory.
Status PrepareLocation(const fs::path& path, bool read_only) {
  std::error_code error;
  if (fs::is_directory(path, error)) {
    return InvalidArgument(path.string() + ": is a directory, not a database file");
  }
  if (read_only || !path.has_parent_path()) return Status::Ok();
  fs::create_directories(path.parent_path(), error);
  if (!error) return Status::Ok();
  const std::string message =
      path.parent_path().string() + ": cannot create the store's directory: " + error.message();
  if (error == std::errc::permission_denied || error == std::errc::read_only_file_system ||
      error == std::errc::operation_not_permitted) {
    return PermissionDenied(message);
  }
  return FailedPrecondition(message);
}

std::string UriOf(const fs::path& path) { return "sqlite://" + path.string(); }

}  // namespace

namespace {

// The database at `path`, checked, configured and migrated.
Result<std::unique_ptr<Connection>> OpenDatabase(const fs::path& path,
                                                 const SqliteStoreOptions& options) {
  if (path.empty()) return InvalidArgument("the SQLite store's path is empty");
  LABBOOK_RETURN_IF_ERROR(PrepareLocation(path, options.read_only));
  LABBOOK_ASSIGN_OR_RETURN(
      std::unique_ptr<Connection> db,
      Connection::Open(path.string(), options.read_only, options.busy_timeout_ms));
  LABBOOK_RETURN_IF_ERROR(CheckIsLabbookStore(*db));
  LABBOOK_RETURN_IF_ERROR(Configure(*db, options));
  LABBOOK_RETURN_IF_ERROR(Migrate(*db));
  return db;
}

Result<std::unordered_set<std::string>> ReferencedBlobs(Connection& db) {
  LABBOOK_ASSIGN_OR_RETURN(Statement stmt,
                           db.Prepare("SELECT DISTINCT sha256 FROM artifact_files"));
  std::unordered_set<std::string> referenced;
  for (;;) {
    LABBOOK_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return referenced;
    referenced.insert(stmt.Text(0));
  }
}

// The file's modification time now, or nullopt when it is gone.
std::optional<double> ModifiedTime(const fs::path& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return std::nullopt;
  return static_cast<double>(st.st_mtim.tv_sec) + static_cast<double>(st.st_mtim.tv_nsec) * 1e-9;
}

}  // namespace

Result<std::unique_ptr<RunStore>> OpenSqliteRunStore(const fs::path& path,
                                                     const SqliteStoreOptions& options) {
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<Connection> db, OpenDatabase(path, options));
  BlobStore blobs(path.string() + ".blobs");
  if (!db->read_only()) LABBOOK_RETURN_IF_ERROR(blobs.Create());
  return std::unique_ptr<RunStore>(
      new SqliteRunStore(std::move(db), std::move(blobs), UriOf(path)));
}

Result<GarbageReport> CollectGarbage(const fs::path& path, const GarbageOptions& options) {
  std::error_code error;
  if (!fs::is_regular_file(path, error)) {
    return NotFound(path.string() + ": no run store there to collect the garbage of");
  }
  SqliteStoreOptions open_options;
  open_options.read_only = options.dry_run;
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<Connection> db, OpenDatabase(path, open_options));
  const BlobStore blobs(path.string() + ".blobs");
  // Listing (the slow part) happens before the lock; only old files are candidates.
  const double now = UnixSeconds();
  const double cutoff = now - static_cast<double>(options.grace.count());
  // A copy in progress is outside any lock, so only its age protects it, whatever the grace.
  const double temporary_cutoff =
      now - static_cast<double>(std::max(options.grace, kTemporaryMinAge).count());
  LABBOOK_ASSIGN_OR_RETURN(std::vector<BlobStore::Entry> entries, blobs.List());
  GarbageReport report;
  db->set_action("collect the garbage of the blob directory");
  // A dry run only reads: a read transaction's snapshot stands for the write lock.
  LABBOOK_ASSIGN_OR_RETURN(Transaction transaction,
                           options.dry_run ? Transaction::Read(*db) : Transaction::Write(*db));
  LABBOOK_ASSIGN_OR_RETURN(std::unordered_set<std::string> referenced, ReferencedBlobs(*db));
  for (const BlobStore::Entry& entry : entries) {
    const bool temporary = entry.sha256.empty();
    if (!temporary && referenced.contains(entry.sha256)) {
      ++report.blobs_referenced;
      continue;
    }
    // Read again under the lock: a Put may have reused the blob since the listing.
    const std::optional<double> modified = ModifiedTime(entry.path);
    if (!modified) continue;
    if (*modified > (temporary ? temporary_cutoff : cutoff)) {
      ++report.kept_young;
      continue;
    }
    if (!options.dry_run && ::unlink(entry.path.c_str()) != 0) {
      if (errno == ENOENT) continue;
      return StatusFromErrno(entry.path, "remove", errno);
    }
    (temporary ? report.temporary_removed : report.blobs_removed) += 1;
    (temporary ? report.temporary_bytes : report.blob_bytes) += entry.size;
  }
  LABBOOK_RETURN_IF_ERROR(transaction.Commit());
  return report;
}

}  // namespace labbook::track::sqlite
