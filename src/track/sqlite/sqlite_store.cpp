#include "track/sqlite/sqlite_store.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <random>
#include <system_error>
#include <unordered_map>

#include "core/clock.hpp"
#include "core/status_macros.hpp"
#include "track/sqlite/artifact_tables.hpp"
#include "track/sqlite/blob_store.hpp"
#include "track/sqlite/connection.hpp"
#include "track/sqlite/history_tables.hpp"
#include "track/sqlite/migrations.hpp"
#include "track/sqlite/run_tables.hpp"
#include "track/sqlite/validation.hpp"

namespace labbook::track::sqlite {
namespace {

namespace fs = std::filesystem;

// "LBBK" in the database header marks a labbook store.
constexpr int64_t kApplicationId = 0x4C42424B;
// Tries at a fresh random id before giving up (36^8 ids make a second try already rare).
constexpr int kIdAttempts = 16;
// WAL pages between automatic checkpoints (4 KiB pages: 40 MB).
constexpr int kWalAutocheckpointPages = 10'000;
// How many candidates an ambiguous id prefix lists.
constexpr int kPrefixCandidates = 10;

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

// The files sorted by path, and the artifact's digest: sha256 over "<path>\0<sha256>\n" of each.
std::string ArtifactDigest(std::vector<ArtifactFile>* files) {
  std::sort(files->begin(), files->end(),
            [](const ArtifactFile& a, const ArtifactFile& b) { return a.path < b.path; });
  Sha256 digest;
  for (const ArtifactFile& file : *files) {
    const std::string line = file.path + '\0' + file.sha256 + '\n';
    digest.Update(line.data(), line.size());
  }
  return digest.HexDigest();
}

void ApplyUpdate(const RunUpdate& update, RunInfo* run) {
  if (update.state) run->state = *update.state;
  if (update.summary_patch) {
    for (const auto& [key, value] : update.summary_patch->items()) {
      if (value.is_null()) {
        run->summary.erase(key);
      } else {
        run->summary[key] = value;
      }
    }
  }
  if (update.heartbeat_time) run->heartbeat_time = *update.heartbeat_time;
  if (update.end_time) run->end_time = *update.end_time;
  if (update.exit_code) run->exit_code = *update.exit_code;
  if (update.notes) run->notes = *update.notes;
  if (update.tags) run->tags = *update.tags;
}

class SqliteRunStore final : public RunStore {
 public:
  SqliteRunStore(std::unique_ptr<Connection> db, BlobStore blobs, std::string uri)
      : db_(std::move(db)),
        blobs_(std::move(blobs)),
        uri_(std::move(uri)),
        read_only_(db_->read_only()),
        random_(std::random_device{}()) {}

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

  std::mutex mutex_;
  const std::unique_ptr<Connection> db_;
  const BlobStore blobs_;
  const std::string uri_;
  const bool read_only_;
  std::mt19937_64 random_;
};

template <typename Body>
auto SqliteRunStore::Write(std::string action, Body body) -> decltype(body()) {
  if (read_only_) return ReadOnlyError(action);
  std::lock_guard lock(mutex_);
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
    return DeleteRunRow(*db_, id);
  });
}

// --- History ---

Status SqliteRunStore::LogHistory(const std::string& run_id, const HistoryBatch& batch) {
  LABBOOK_RETURN_IF_ERROR(CheckRunId(run_id));
  LABBOOK_ASSIGN_OR_RETURN(std::vector<KeyPoints> groups, GroupByKey(batch));
  return Write("log history of " + RunRef(run_id), [&]() -> Status {
    LABBOOK_RETURN_IF_ERROR(RequireRun(run_id));
    for (KeyPoints& group : groups) {
      db_->set_action("log history of " + RunRef(run_id) + ", key '" + group.key + "'");
      LABBOOK_RETURN_IF_ERROR(WriteKeyPoints(*db_, run_id, group.key, std::move(group.points)));
    }
    return Status::Ok();
  });
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
  // The files go into the blob directory first, outside the transaction: they may be large, and
  // a blob that no version names is harmless.
  for (const NewArtifact::File& file : artifact.files) {
    Result<StoredBlob> blob = blobs_.Put(file.source);
    if (!blob.ok()) {
      return blob.status().WithContext("artifact '" + version.ref + "', file '" + file.path + "'");
    }
    version.files.push_back(ArtifactFile{file.path, blob->sha256, blob->size});
  }
  version.digest = ArtifactDigest(&version.files);
  version.name = artifact.name;
  version.type = artifact.type;
  version.metadata = artifact.metadata.is_null() ? nlohmann::json::object() : artifact.metadata;
  version.producer_run = artifact.producer_run;
  version.aliases = artifact.aliases;
  version.created_time = UnixSeconds();
  return Write(action, [&]() -> Result<ArtifactVersion> {
    if (!artifact.producer_run.empty()) LABBOOK_RETURN_IF_ERROR(RequireRun(artifact.producer_run));
    LABBOOK_ASSIGN_OR_RETURN(version.project_id,
                             FindOrCreateProject(*db_, artifact.entity, artifact.project));
    LABBOOK_ASSIGN_OR_RETURN(int64_t version_id, AddArtifactVersion(*db_, version));
    return LoadArtifactVersion(*db_, version_id);
  });
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

Result<std::unique_ptr<RunStore>> OpenSqliteRunStore(const fs::path& path,
                                                     const SqliteStoreOptions& options) {
  if (path.empty()) return InvalidArgument("the SQLite store's path is empty");
  LABBOOK_RETURN_IF_ERROR(PrepareLocation(path, options.read_only));
  LABBOOK_ASSIGN_OR_RETURN(
      std::unique_ptr<Connection> db,
      Connection::Open(path.string(), options.read_only, options.busy_timeout_ms));
  LABBOOK_RETURN_IF_ERROR(CheckIsLabbookStore(*db));
  LABBOOK_RETURN_IF_ERROR(Configure(*db, options));
  LABBOOK_RETURN_IF_ERROR(Migrate(*db));
  BlobStore blobs(path.string() + ".blobs");
  if (!db->read_only()) LABBOOK_RETURN_IF_ERROR(blobs.Create());
  return std::unique_ptr<RunStore>(
      new SqliteRunStore(std::move(db), std::move(blobs), UriOf(path)));
}

}  // namespace labbook::track::sqlite
