#include "track/postgres/postgres_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <map>
#include <optional>
#include <random>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/errno_status.hpp"
#include "core/random_id.hpp"
#include "core/status_macros.hpp"
#include "track/postgres/connection.hpp"
#include "track/postgres/history_tables.hpp"
#include "track/postgres/migrations.hpp"
#include "track/validation/validation.hpp"

namespace labbook::track::postgres {
namespace {

namespace fs = std::filesystem;
using history::Point;
using validation::CheckHistoryKey;
using validation::CheckHistoryQuery;
using validation::CheckNewArtifact;
using validation::CheckNewRun;
using validation::CheckRunId;
using validation::CheckRunIdOrPrefix;
using validation::CheckRunUpdate;
using validation::IsRunId;
using validation::IsSha256Hex;
using validation::ParseVersionName;
using validation::VersionName;
using validation::ApplyUpdate;
using validation::ArtifactDigest;
using validation::Sha256;

// The advisory lock every process takes to migrate the schema ("LBBK").
constexpr int64_t kMigrationLock = 0x4C42424B;
// Tries at a fresh random id before giving up (36^8 ids make a second try already rare).
constexpr int kIdAttempts = 16;
// How many candidates an ambiguous id prefix lists.
constexpr int kPrefixCandidates = 10;
// Tries of a transaction that hit a deadlock, a serialisation failure or a lost connection.
constexpr int kTransactionAttempts = 4;
// Artifact contents are stored in pieces of this size: a piece is one bytea value in memory on
// both ends, and 1 MiB keeps that small while a large file is still few rows.
constexpr size_t kBlobPieceBytes = 1 << 20;

std::string RunRef(const std::string& run_id) { return "run '" + run_id + "'"; }


// A file descriptor closed on destruction.
class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int Close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Result<int> OpenForReading(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return StatusFromErrno(path, "open", errno);
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument(path.string() + ": not a regular file");
  }
  return fd;
}

// Reads up to `size` bytes (fewer only at the end of the file).
Result<size_t> ReadFully(int fd, const fs::path& path, char* buffer, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t got = ::read(fd, buffer + done, size - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return StatusFromErrno(path, "read", errno);
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  return done;
}

Status WriteFully(int fd, const fs::path& path, const std::byte* data, size_t size) {
  for (size_t done = 0; done < size;) {
    const ssize_t wrote = ::write(fd, data + done, size - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) return StatusFromErrno(path, "write", errno);
    done += static_cast<size_t>(wrote);
  }
  return Status::Ok();
}

struct FileDigest {
  std::string sha256;
  int64_t size = 0;
};

// The content's sha256 and size, reading the file once; `each_piece` (when set) sees the pieces.
template <typename EachPiece>
Result<FileDigest> DigestFile(const fs::path& path, EachPiece each_piece) {
  LABBOOK_ASSIGN_OR_RETURN(int fd, OpenForReading(path));
  Descriptor in(fd);
  std::vector<char> buffer(kBlobPieceBytes);
  Sha256 hash;
  FileDigest digest;
  for (int piece = 0;; ++piece) {
    LABBOOK_ASSIGN_OR_RETURN(size_t got, ReadFully(in.get(), path, buffer.data(), buffer.size()));
    if (got == 0 && piece > 0) break;
    hash.Update(buffer.data(), got);
    digest.size += static_cast<int64_t>(got);
    LABBOOK_RETURN_IF_ERROR(each_piece(
        piece, std::span<const std::byte>(reinterpret_cast<const std::byte*>(buffer.data()), got)));
    if (got < buffer.size()) break;
  }
  digest.sha256 = hash.HexDigest();
  return digest;
}

std::string RandomSuffix() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(engine()));
  return text;
}

// JSON as the store writes it: compact, invalid UTF-8 replaced rather than refused.
std::string JsonText(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

struct KeyPoints {
  std::string key;
  std::vector<Point> points;
};

// The batch's points grouped by key name (keys listed twice share a group), checked, in key
// order: every writer locks keys in the same order, so two batches never deadlock.
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
  std::sort(groups.begin(), groups.end(),
            [](const KeyPoints& a, const KeyPoints& b) { return a.key < b.key; });
  return groups;
}

// --- Rows of the schema ---

constexpr char kSelectRun[] =
    "SELECT r.id, e.name, p.name, r.name, r.run_group, r.tags, r.notes, r.state, r.config, "
    "r.summary, r.host, r.pid, r.git_commit, r.start_time, r.heartbeat_time, r.end_time, "
    "r.exit_code FROM runs r JOIN projects p ON p.id = r.project_id "
    "JOIN entities e ON e.id = p.entity_id ";

class PostgresRunStore final : public RunStore {
 public:
  PostgresRunStore(ServerAddress address, int max_connections)
      : pool_(std::move(address), max_connections) {}

  std::string uri() const override { return pool_.address().display_uri; }

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

  // Brings the schema up to date (OpenPostgresRunStore).
  Status Migrate();

 private:
  enum class Access { kRead, kWrite };

  // Runs `body(Connection&)` (returning Status or Result) in one transaction on a pooled
  // connection: committed when it succeeds, rolled back otherwise, and run again after a deadlock,
  // a serialisation failure or a lost connection. Reads see one snapshot (REPEATABLE READ).
  // `action` names what is done in error messages.
  template <typename Body>
  auto Transact(Access access, const std::string& action, Body body)
      -> decltype(body(std::declval<Connection&>()));

  const std::string& uri_text() const { return pool_.address().display_uri; }

  Result<bool> RunExists(Connection& db, const std::string& run_id);
  Status RequireRun(Connection& db, const std::string& run_id);
  // An id or a unique prefix of one, as the full id.
  Result<std::string> ResolveRunId(Connection& db, const std::string& id_or_prefix);
  Result<std::string> UnusedRunId(Connection& db);
  Result<int64_t> FindOrCreateProject(Connection& db, const std::string& entity,
                                      const std::string& project);
  Result<RunInfo> RunAt(const Rows& rows, int row);
  Result<std::optional<RunInfo>> LoadRun(Connection& db, const std::string& run_id,
                                         bool for_update);
  Status SaveRun(Connection& db, const RunInfo& run);

  // Stores the file's content once (nothing when its blob is there already) and returns it as
  // an artifact file. `expected` is the digest read before the transaction.
  Result<ArtifactFile> PutBlob(Connection& db, const NewArtifact::File& file,
                               const FileDigest& expected);
  Result<std::optional<int64_t>> FindArtifactVersion(Connection& db, const std::string& entity,
                                                     const std::string& project,
                                                     const std::string& name,
                                                     const std::string& version_or_alias);
  Result<std::vector<ArtifactVersion>> LoadVersions(Connection& db,
                                                    const std::vector<int64_t>& version_ids);

  ConnectionPool pool_;
};

template <typename Body>
auto PostgresRunStore::Transact(Access access, const std::string& action, Body body)
    -> decltype(body(std::declval<Connection&>())) {
  for (int attempt = 1;; ++attempt) {
    LABBOOK_ASSIGN_OR_RETURN(ConnectionPool::Lease db, pool_.Acquire());
    db->set_action(action);
    db->clear_retryable();
    Status begun =
        db->Exec(access == Access::kRead ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                                         : "BEGIN ISOLATION LEVEL READ COMMITTED");
    if (!begun.ok()) {
      if (db->retryable() && attempt < kTransactionAttempts) continue;
      return begun;
    }
    auto result = body(*db);
    if (result.ok()) {
      // A COMMIT whose answer was lost may have committed: it is not run again.
      LABBOOK_RETURN_IF_ERROR(db->Exec("COMMIT"));
      return result;
    }
    const bool retry = db->retryable() && !db->broken();
    const bool lost = db->broken();
    if (!lost) db->Exec("ROLLBACK").IgnoreError();
    if (!(retry || lost) || attempt >= kTransactionAttempts) return result;
  }
}

// --- Runs ---

Result<bool> PostgresRunStore::RunExists(Connection& db, const std::string& run_id) {
  LABBOOK_ASSIGN_OR_RETURN(Rows rows,
                           db.Query("SELECT 1 FROM runs WHERE id = $1", Params().Text(run_id)));
  return !rows.empty();
}

Status PostgresRunStore::RequireRun(Connection& db, const std::string& run_id) {
  LABBOOK_ASSIGN_OR_RETURN(bool exists, RunExists(db, run_id));
  if (exists) return Status::Ok();
  return NotFound(RunRef(run_id) + " not found in " + uri_text());
}

Result<std::string> PostgresRunStore::ResolveRunId(Connection& db,
                                                   const std::string& id_or_prefix) {
  if (IsRunId(id_or_prefix)) {
    LABBOOK_RETURN_IF_ERROR(RequireRun(db, id_or_prefix));
    return id_or_prefix;
  }
  // Ids are [0-9a-z] compared by byte (COLLATE "C"), and '{' follows 'z'.
  LABBOOK_ASSIGN_OR_RETURN(
      Rows rows,
      db.Query("SELECT id FROM runs WHERE id >= $1 AND id < $2 ORDER BY id LIMIT $3",
               Params().Text(id_or_prefix).Text(id_or_prefix + "{").Int(kPrefixCandidates + 1)));
  if (rows.empty()) {
    return NotFound("no run id starts with '" + id_or_prefix + "' in " + uri_text());
  }
  if (rows.size() == 1) return rows.Text(0, 0);
  std::string candidates;
  for (int i = 0; i < rows.size() && i < kPrefixCandidates; ++i) {
    candidates += (i == 0 ? "" : ", ") + rows.Text(i, 0);
  }
  if (rows.size() > kPrefixCandidates) candidates += ", ...";
  return InvalidArgument("run id prefix '" + id_or_prefix + "' is ambiguous: it matches runs " +
                         candidates);
}

Result<std::string> PostgresRunStore::UnusedRunId(Connection& db) {
  for (int attempt = 0; attempt < kIdAttempts; ++attempt) {
    std::string id = RandomId();
    LABBOOK_ASSIGN_OR_RETURN(bool taken, RunExists(db, id));
    if (!taken) return id;
  }
  return Internal(uri_text() + ": no unused run id after " + std::to_string(kIdAttempts) +
                  " random tries");
}

Result<int64_t> PostgresRunStore::FindOrCreateProject(Connection& db, const std::string& entity,
                                                      const std::string& project) {
  // ON CONFLICT waits for a concurrent insert of the same name; the SELECT after it sees that
  // row once committed (READ COMMITTED takes a new snapshot per statement).
  LABBOOK_RETURN_IF_ERROR(
      db.Query("INSERT INTO entities (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
               Params().Text(entity))
          .status());
  LABBOOK_ASSIGN_OR_RETURN(
      Rows entity_row, db.Query("SELECT id FROM entities WHERE name = $1", Params().Text(entity)));
  if (entity_row.empty()) return Internal("entity '" + entity + "' was inserted but is missing");
  const int64_t entity_id = entity_row.Int(0, 0);
  LABBOOK_RETURN_IF_ERROR(db.Query("INSERT INTO projects (entity_id, name) VALUES ($1, $2) "
                                   "ON CONFLICT (entity_id, name) DO NOTHING",
                                   Params().Int(entity_id).Text(project))
                              .status());
  LABBOOK_ASSIGN_OR_RETURN(Rows project_row,
                           db.Query("SELECT id FROM projects WHERE entity_id = $1 AND name = $2",
                                    Params().Int(entity_id).Text(project)));
  if (project_row.empty()) {
    return Internal("project '" + entity + "/" + project + "' was inserted but is missing");
  }
  return project_row.Int(0, 0);
}

Result<RunInfo> PostgresRunStore::RunAt(const Rows& rows, int row) {
  RunInfo run;
  run.id = rows.Text(row, 0);
  run.entity = rows.Text(row, 1);
  run.project = rows.Text(row, 2);
  run.name = rows.Text(row, 3);
  run.group = rows.Text(row, 4);
  auto parse = [&](std::string_view column, int index) -> Result<nlohmann::json> {
    nlohmann::json value = nlohmann::json::parse(rows.Text(row, index), nullptr, false);
    if (value.is_discarded()) {
      return DataLoss(uri_text() + ": run '" + run.id + "': the " + std::string(column) +
                      " column does not hold valid JSON");
    }
    return value;
  };
  LABBOOK_ASSIGN_OR_RETURN(nlohmann::json tags, parse("tags", 5));
  if (!tags.is_array()) return DataLoss(uri_text() + ": run '" + run.id + "': tags not a list");
  for (const nlohmann::json& tag : tags) {
    if (tag.is_string()) run.tags.push_back(tag.get<std::string>());
  }
  run.notes = rows.Text(row, 6);
  const std::optional<RunState> state = ParseRunState(rows.Text(row, 7));
  if (!state) return DataLoss(uri_text() + ": run '" + run.id + "': unknown state");
  run.state = *state;
  LABBOOK_ASSIGN_OR_RETURN(run.config, parse("config", 8));
  LABBOOK_ASSIGN_OR_RETURN(run.summary, parse("summary", 9));
  run.host = rows.Text(row, 10);
  run.pid = rows.Int(row, 11);
  run.git_commit = rows.Text(row, 12);
  run.start_time = rows.Double(row, 13);
  run.heartbeat_time = rows.Double(row, 14);
  run.end_time = rows.Double(row, 15);
  if (!rows.IsNull(row, 16)) run.exit_code = static_cast<int>(rows.Int(row, 16));
  return run;
}

Result<std::optional<RunInfo>> PostgresRunStore::LoadRun(Connection& db, const std::string& run_id,
                                                         bool for_update) {
  LABBOOK_ASSIGN_OR_RETURN(Rows rows, db.Query(std::string(kSelectRun) + "WHERE r.id = $1" +
                                                   (for_update ? " FOR UPDATE OF r" : ""),
                                               Params().Text(run_id)));
  if (rows.empty()) return std::optional<RunInfo>();
  LABBOOK_ASSIGN_OR_RETURN(RunInfo run, RunAt(rows, 0));
  return std::optional<RunInfo>(std::move(run));
}

// The fields of a run after its id, entity and project, as parameters $2.. (the id is $1).
Params RunFields(const RunInfo& run) {
  Params params;
  params.Text(run.id).Text(run.name).Text(run.group).Text(JsonText(run.tags)).Text(run.notes);
  params.Text(RunStateName(run.state)).Text(JsonText(run.config)).Text(JsonText(run.summary));
  params.Text(run.host).Int(run.pid).Text(run.git_commit).Double(run.start_time);
  params.Double(run.heartbeat_time).Double(run.end_time);
  if (run.exit_code) {
    params.Int(*run.exit_code);
  } else {
    params.Null();
  }
  return params;
}

constexpr char kRunFieldAssignments[] =
    "name = $2, run_group = $3, tags = $4, notes = $5, state = $6, config = $7, summary = $8, "
    "host = $9, pid = $10, git_commit = $11, start_time = $12, heartbeat_time = $13, "
    "end_time = $14, exit_code = $15";

Status PostgresRunStore::SaveRun(Connection& db, const RunInfo& run) {
  return db
      .Query(std::string("UPDATE runs SET ") + kRunFieldAssignments + " WHERE id = $1",
             RunFields(run))
      .status();
}

Result<RunInfo> PostgresRunStore::CreateRun(RunInfo run) {
  LABBOOK_RETURN_IF_ERROR(CheckNewRun(run));
  const bool random_id = run.id.empty();
  const bool default_name = run.name.empty();
  return Transact(Access::kWrite, "create a run in " + run.entity + "/" + run.project,
                  [&](Connection& db) -> Result<RunInfo> {
                    if (random_id) {
                      LABBOOK_ASSIGN_OR_RETURN(run.id, UnusedRunId(db));
                    } else {
                      LABBOOK_ASSIGN_OR_RETURN(bool taken, RunExists(db, run.id));
                      if (taken) {
                        return Status(ErrorCode::kAlreadyExists,
                                      RunRef(run.id) + " already exists in " + uri_text());
                      }
                    }
                    if (default_name) run.name = run.id;
                    LABBOOK_ASSIGN_OR_RETURN(int64_t project_id,
                                             FindOrCreateProject(db, run.entity, run.project));
                    Params params = RunFields(run);
                    params.Int(project_id);
                    LABBOOK_RETURN_IF_ERROR(
                        db.Query("INSERT INTO runs (id, name, run_group, tags, notes, state, "
                                 "config, summary, host, pid, git_commit, start_time, "
                                 "heartbeat_time, end_time, exit_code, project_id) VALUES ($1, "
                                 "$2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, "
                                 "$16)",
                                 std::move(params))
                            .status());
                    return run;
                  });
}

Status PostgresRunStore::UpdateRun(const std::string& run_id, const RunUpdate& update) {
  LABBOOK_RETURN_IF_ERROR(CheckRunId(run_id));
  LABBOOK_RETURN_IF_ERROR(CheckRunUpdate(update));
  return Transact(Access::kWrite, "update " + RunRef(run_id), [&](Connection& db) -> Status {
    // The row stays locked until commit: concurrent patches of one summary apply in turn.
    LABBOOK_ASSIGN_OR_RETURN(std::optional<RunInfo> run, LoadRun(db, run_id, true));
    if (!run) return NotFound(RunRef(run_id) + " not found in " + uri_text());
    ApplyUpdate(update, &*run);
    return SaveRun(db, *run);
  });
}

Result<RunInfo> PostgresRunStore::GetRun(const std::string& run_id) {
  LABBOOK_RETURN_IF_ERROR(CheckRunIdOrPrefix(run_id));
  return Transact(Access::kRead, "read " + RunRef(run_id), [&](Connection& db) -> Result<RunInfo> {
    LABBOOK_ASSIGN_OR_RETURN(std::string id, ResolveRunId(db, run_id));
    LABBOOK_ASSIGN_OR_RETURN(std::optional<RunInfo> run, LoadRun(db, id, false));
    if (!run) return NotFound(RunRef(id) + " not found in " + uri_text());
    return std::move(*run);
  });
}

Result<std::vector<RunInfo>> PostgresRunStore::ListRuns(const RunQuery& query) {
  return Transact(Access::kRead, "list runs", [&](Connection& db) -> Result<std::vector<RunInfo>> {
    LABBOOK_ASSIGN_OR_RETURN(
        Rows rows, db.Query(std::string(kSelectRun) + "WHERE ($1::text = '' OR e.name = $1) AND "
                                                      "($2::text = '' OR p.name = $2) "
                                                      "ORDER BY r.start_time DESC, r.created DESC",
                            Params().Text(query.entity).Text(query.project)));
    std::vector<RunInfo> runs;
    runs.reserve(static_cast<size_t>(rows.size()));
    for (int i = 0; i < rows.size(); ++i) {
      LABBOOK_ASSIGN_OR_RETURN(RunInfo run, RunAt(rows, i));
      runs.push_back(std::move(run));
    }
    return runs;
  });
}

Status PostgresRunStore::DeleteRun(const std::string& run_id) {
  LABBOOK_RETURN_IF_ERROR(CheckRunIdOrPrefix(run_id));
  return Transact(Access::kWrite, "delete " + RunRef(run_id), [&](Connection& db) -> Status {
    LABBOOK_ASSIGN_OR_RETURN(std::string id, ResolveRunId(db, run_id));
    // The schema's cascades remove the history and the uses, and clear the run as producer.
    return db.Query("DELETE FROM runs WHERE id = $1", Params().Text(id)).status();
  });
}

// --- History ---

Status PostgresRunStore::LogHistory(const std::string& run_id, const HistoryBatch& batch) {
  LABBOOK_RETURN_IF_ERROR(CheckRunId(run_id));
  LABBOOK_ASSIGN_OR_RETURN(std::vector<KeyPoints> groups, GroupByKey(batch));
  return Transact(
      Access::kWrite, "log history of " + RunRef(run_id), [&](Connection& db) -> Status {
        // The run's row first (KEY SHARE: a concurrent DeleteRun waits, or this
        // batch finds the run gone), then its keys' rows in name order.
        LABBOOK_ASSIGN_OR_RETURN(
            Rows run,
            db.Query("SELECT 1 FROM runs WHERE id = $1 FOR KEY SHARE", Params().Text(run_id)));
        if (run.empty()) return NotFound(RunRef(run_id) + " not found in " + uri_text());
        for (const KeyPoints& group : groups) {
          db.set_action("log history of " + RunRef(run_id) + ", key '" + group.key + "'");
          LABBOOK_RETURN_IF_ERROR(WriteKeyPoints(db, run_id, group.key, group.points));
        }
        return Status::Ok();
      });
}

Result<std::vector<KeyInfo>> PostgresRunStore::HistoryKeys(const std::string& run_id) {
  LABBOOK_RETURN_IF_ERROR(CheckRunIdOrPrefix(run_id));
  return Transact(Access::kRead, "read the history keys of " + RunRef(run_id),
                  [&](Connection& db) -> Result<std::vector<KeyInfo>> {
                    LABBOOK_ASSIGN_OR_RETURN(std::string id, ResolveRunId(db, run_id));
                    return ReadKeyInfos(db, id);
                  });
}

Result<Series> PostgresRunStore::ReadHistory(const std::string& run_id, const std::string& key,
                                             const HistoryQuery& query) {
  LABBOOK_RETURN_IF_ERROR(CheckRunIdOrPrefix(run_id));
  LABBOOK_RETURN_IF_ERROR(CheckHistoryKey("key", key));
  LABBOOK_RETURN_IF_ERROR(CheckHistoryQuery(query));
  return Transact(Access::kRead, "read history key '" + key + "' of " + RunRef(run_id),
                  [&](Connection& db) -> Result<Series> {
                    LABBOOK_ASSIGN_OR_RETURN(std::string id, ResolveRunId(db, run_id));
                    return ReadSeries(db, id, key, query);
                  });
}

// --- Artifacts ---

Result<ArtifactFile> PostgresRunStore::PutBlob(Connection& db, const NewArtifact::File& file,
                                               const FileDigest& expected) {
  const int64_t pieces =
      std::max<int64_t>(1, (expected.size + static_cast<int64_t>(kBlobPieceBytes) - 1) /
                               static_cast<int64_t>(kBlobPieceBytes));
  // A concurrent writer of the same content makes this wait until it commits; then the blob is
  // there and nothing is written.
  LABBOOK_ASSIGN_OR_RETURN(
      Rows inserted,
      db.Query(
          "INSERT INTO blobs (sha256, size, pieces, created_time) VALUES ($1, $2, $3, $4) "
          "ON CONFLICT (sha256) DO NOTHING",
          Params().Text(expected.sha256).Int(expected.size).Int(pieces).Double(UnixSeconds())));
  if (inserted.Affected() == 1) {
    LABBOOK_ASSIGN_OR_RETURN(
        FileDigest stored,
        DigestFile(file.source, [&](int piece, std::span<const std::byte> bytes) {
          return db
              .Query("INSERT INTO blob_chunks (sha256, piece, data) VALUES ($1, $2, $3)",
                     Params().Text(expected.sha256).Int(piece).Bytes(bytes))
              .status();
        }));
    if (stored.sha256 != expected.sha256 || stored.size != expected.size) {
      return FailedPrecondition(file.source.string() +
                                ": the file changed while it was being logged");
    }
  }
  return ArtifactFile{file.path, expected.sha256, expected.size};
}

Result<std::optional<int64_t>> PostgresRunStore::FindArtifactVersion(
    Connection& db, const std::string& entity, const std::string& project, const std::string& name,
    const std::string& version_or_alias) {
  LABBOOK_ASSIGN_OR_RETURN(
      Rows artifact, db.Query("SELECT a.id FROM artifacts a JOIN projects p ON p.id = a.project_id "
                              "JOIN entities e ON e.id = p.entity_id "
                              "WHERE e.name = $1 AND p.name = $2 AND a.name = $3",
                              Params().Text(entity).Text(project).Text(name)));
  if (artifact.empty()) return std::optional<int64_t>();
  const int64_t artifact_id = artifact.Int(0, 0);
  const int number = ParseVersionName(version_or_alias);
  Result<Rows> found =
      version_or_alias == "latest" ? db.Query(
                                         "SELECT id FROM artifact_versions WHERE artifact_id = $1 "
                                         "ORDER BY version DESC LIMIT 1",
                                         Params().Int(artifact_id))
      : number >= 0
          ? db.Query("SELECT id FROM artifact_versions WHERE artifact_id = $1 AND version = $2",
                     Params().Int(artifact_id).Int(number))
          : db.Query(
                "SELECT version_id FROM artifact_aliases WHERE artifact_id = $1 AND "
                "alias = $2",
                Params().Int(artifact_id).Text(version_or_alias));
  if (!found.ok()) return found.status();
  if (found->empty()) return std::optional<int64_t>();
  return std::optional<int64_t>(found->Int(0, 0));
}

Result<std::vector<ArtifactVersion>> PostgresRunStore::LoadVersions(
    Connection& db, const std::vector<int64_t>& version_ids) {
  std::vector<ArtifactVersion> versions(version_ids.size());
  if (version_ids.empty()) return versions;
  std::unordered_map<int64_t, size_t> index_of;
  for (size_t i = 0; i < version_ids.size(); ++i) index_of[version_ids[i]] = i;
  LABBOOK_ASSIGN_OR_RETURN(
      Rows rows,
      db.Query("SELECT v.id, e.name, p.name, a.name, a.type, v.version, v.digest, v.metadata, "
               "v.producer_run, v.created_time, (SELECT max(version) FROM artifact_versions "
               "WHERE artifact_id = a.id) FROM artifact_versions v "
               "JOIN artifacts a ON a.id = v.artifact_id JOIN projects p ON p.id = a.project_id "
               "JOIN entities e ON e.id = p.entity_id WHERE v.id = ANY($1::bigint[])",
               Params().IntArray(version_ids)));
  if (rows.size() != static_cast<int>(index_of.size())) {
    return Internal(uri_text() + ": artifact versions vanished while being read");
  }
  for (int i = 0; i < rows.size(); ++i) {
    ArtifactVersion version;
    version.entity = rows.Text(i, 1);
    version.project = rows.Text(i, 2);
    version.name = rows.Text(i, 3);
    version.type = rows.Text(i, 4);
    version.version = static_cast<int>(rows.Int(i, 5));
    version.digest = rows.Text(i, 6);
    version.metadata = nlohmann::json::parse(rows.Text(i, 7), nullptr, false);
    if (version.metadata.is_discarded()) {
      return DataLoss(uri_text() + ": artifact '" + version.name + ":" +
                      VersionName(version.version) + "': its metadata is not valid JSON");
    }
    version.producer_run = rows.Text(i, 8);
    version.created_time = rows.Double(i, 9);
    if (rows.Int(i, 10) == version.version) version.aliases.push_back("latest");
    const int64_t id = rows.Int(i, 0);
    for (size_t at = 0; at < version_ids.size(); ++at) {
      if (version_ids[at] == id) versions[at] = version;
    }
  }
  LABBOOK_ASSIGN_OR_RETURN(
      Rows aliases, db.Query("SELECT version_id, alias FROM artifact_aliases WHERE version_id = "
                             "ANY($1::bigint[]) ORDER BY version_id, alias",
                             Params().IntArray(version_ids)));
  LABBOOK_ASSIGN_OR_RETURN(
      Rows files, db.Query("SELECT version_id, path, sha256, size FROM artifact_files WHERE "
                           "version_id = ANY($1::bigint[]) ORDER BY version_id, path",
                           Params().IntArray(version_ids)));
  for (size_t at = 0; at < version_ids.size(); ++at) {
    ArtifactVersion& version = versions[at];
    for (int i = 0; i < aliases.size(); ++i) {
      if (aliases.Int(i, 0) == version_ids[at]) version.aliases.push_back(aliases.Text(i, 1));
    }
    for (int i = 0; i < files.size(); ++i) {
      if (files.Int(i, 0) == version_ids[at]) {
        version.files.push_back(ArtifactFile{files.Text(i, 1), files.Text(i, 2), files.Int(i, 3)});
      }
    }
  }
  return versions;
}

Result<ArtifactVersion> PostgresRunStore::LogArtifact(const NewArtifact& artifact) {
  LABBOOK_RETURN_IF_ERROR(CheckNewArtifact(artifact));
  const std::string ref = artifact.entity + "/" + artifact.project + "/" + artifact.name;
  // The contents are read once before the transaction: a missing or unreadable file fails
  // before anything is sent, and the digests say which blobs the database may already hold.
  std::vector<FileDigest> digests;
  for (const NewArtifact::File& file : artifact.files) {
    Result<FileDigest> digest =
        DigestFile(file.source, [](int, std::span<const std::byte>) { return Status::Ok(); });
    if (!digest.ok()) {
      return digest.status().WithContext("artifact '" + ref + "', file '" + file.path + "'");
    }
    digests.push_back(*digest);
  }
  const nlohmann::json metadata =
      artifact.metadata.is_null() ? nlohmann::json::object() : artifact.metadata;
  return Transact(
      Access::kWrite, "log artifact '" + ref + "'", [&](Connection& db) -> Result<ArtifactVersion> {
        if (!artifact.producer_run.empty()) {
          LABBOOK_RETURN_IF_ERROR(RequireRun(db, artifact.producer_run));
        }
        LABBOOK_ASSIGN_OR_RETURN(int64_t project_id,
                                 FindOrCreateProject(db, artifact.entity, artifact.project));
        std::vector<ArtifactFile> files;
        for (size_t i = 0; i < artifact.files.size(); ++i) {
          Result<ArtifactFile> stored = PutBlob(db, artifact.files[i], digests[i]);
          if (!stored.ok()) {
            return stored.status().WithContext("artifact '" + ref + "', file '" +
                                               artifact.files[i].path + "'");
          }
          files.push_back(*stored);
        }
        const std::string digest = ArtifactDigest(&files);
        // The artifact's row stays locked until commit, so concurrent logs of one name number
        // their versions in turn.
        LABBOOK_RETURN_IF_ERROR(
            db.Query("INSERT INTO artifacts (project_id, name, type) VALUES "
                     "($1, $2, $3) ON CONFLICT (project_id, name) DO NOTHING",
                     Params().Int(project_id).Text(artifact.name).Text(artifact.type))
                .status());
        LABBOOK_ASSIGN_OR_RETURN(Rows found,
                                 db.Query("SELECT id, type FROM artifacts WHERE "
                                          "project_id = $1 AND name = $2 FOR UPDATE",
                                          Params().Int(project_id).Text(artifact.name)));
        if (found.empty()) return Internal("artifact '" + ref + "' was inserted but is missing");
        if (found.Text(0, 1) != artifact.type) {
          return InvalidArgument("artifact '" + ref + "' has type '" + found.Text(0, 1) +
                                 "', not '" + artifact.type + "'");
        }
        const int64_t artifact_id = found.Int(0, 0);
        LABBOOK_ASSIGN_OR_RETURN(Rows newest,
                                 db.Query("SELECT id, version, digest FROM artifact_versions "
                                          "WHERE artifact_id = $1 ORDER BY version DESC LIMIT 1",
                                          Params().Int(artifact_id)));
        int64_t version_id = 0;
        if (!newest.empty() && newest.Text(0, 2) == digest) version_id = newest.Int(0, 0);
        if (version_id == 0) {
          const int64_t number = newest.empty() ? 0 : newest.Int(0, 1) + 1;
          Params params;
          params.Int(artifact_id).Int(number).Text(digest).Text(JsonText(metadata));
          if (artifact.producer_run.empty()) {
            params.Null();
          } else {
            params.Text(artifact.producer_run);
          }
          params.Double(UnixSeconds());
          LABBOOK_ASSIGN_OR_RETURN(
              Rows inserted,
              db.Query("INSERT INTO artifact_versions (artifact_id, version, digest, metadata, "
                       "producer_run, created_time) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                       std::move(params)));
          version_id = inserted.Int(0, 0);
          for (const ArtifactFile& file : files) {
            LABBOOK_RETURN_IF_ERROR(
                db.Query("INSERT INTO artifact_files (version_id, path, sha256, size) VALUES "
                         "($1, $2, $3, $4)",
                         Params().Int(version_id).Text(file.path).Text(file.sha256).Int(file.size))
                    .status());
          }
        }
        for (const std::string& alias : artifact.aliases) {
          if (alias == "latest") continue;  // always the newest version, never stored
          LABBOOK_RETURN_IF_ERROR(
              db.Query("INSERT INTO artifact_aliases (artifact_id, alias, version_id) VALUES "
                       "($1, $2, $3) ON CONFLICT (artifact_id, alias) DO UPDATE SET "
                       "version_id = excluded.version_id",
                       Params().Int(artifact_id).Text(alias).Int(version_id))
                  .status());
        }
        LABBOOK_ASSIGN_OR_RETURN(std::vector<ArtifactVersion> loaded,
                                 LoadVersions(db, {version_id}));
        return std::move(loaded.front());
      });
}

Result<ArtifactVersion> PostgresRunStore::GetArtifact(const std::string& entity,
                                                      const std::string& project,
                                                      const std::string& name,
                                                      const std::string& version_or_alias) {
  const std::string ref = entity + "/" + project + "/" + name + ":" + version_or_alias;
  return Transact(
      Access::kRead, "read artifact '" + ref + "'", [&](Connection& db) -> Result<ArtifactVersion> {
        LABBOOK_ASSIGN_OR_RETURN(std::optional<int64_t> id,
                                 FindArtifactVersion(db, entity, project, name, version_or_alias));
        if (!id) return NotFound("artifact '" + ref + "' not found in " + uri_text());
        LABBOOK_ASSIGN_OR_RETURN(std::vector<ArtifactVersion> loaded, LoadVersions(db, {*id}));
        return std::move(loaded.front());
      });
}

Result<std::vector<ArtifactVersion>> PostgresRunStore::ListArtifacts(const RunQuery& query) {
  return Transact(
      Access::kRead, "list artifacts", [&](Connection& db) -> Result<std::vector<ArtifactVersion>> {
        LABBOOK_ASSIGN_OR_RETURN(
            Rows rows,
            db.Query("SELECT v.id FROM artifact_versions v JOIN artifacts a ON a.id = "
                     "v.artifact_id JOIN projects p ON p.id = a.project_id JOIN entities e ON "
                     "e.id = p.entity_id WHERE ($1::text = '' OR e.name = $1) AND "
                     "($2::text = '' OR p.name = $2) ORDER BY a.name, e.name, p.name, v.version",
                     Params().Text(query.entity).Text(query.project)));
        std::vector<int64_t> ids;
        for (int i = 0; i < rows.size(); ++i) ids.push_back(rows.Int(i, 0));
        return LoadVersions(db, ids);
      });
}

Status PostgresRunStore::UseArtifact(const std::string& run_id, const ArtifactVersion& artifact) {
  LABBOOK_RETURN_IF_ERROR(CheckRunId(run_id));
  const std::string ref = artifact.entity + "/" + artifact.project + "/" + artifact.name + ":" +
                          VersionName(artifact.version);
  return Transact(Access::kWrite, "record that " + RunRef(run_id) + " used '" + ref + "'",
                  [&](Connection& db) -> Status {
                    LABBOOK_RETURN_IF_ERROR(RequireRun(db, run_id));
                    LABBOOK_ASSIGN_OR_RETURN(
                        std::optional<int64_t> id,
                        FindArtifactVersion(db, artifact.entity, artifact.project, artifact.name,
                                            VersionName(artifact.version)));
                    if (!id) return NotFound("artifact '" + ref + "' not found in " + uri_text());
                    return db
                        .Query(
                            "INSERT INTO artifact_usage (run_id, version_id) VALUES ($1, $2) "
                            "ON CONFLICT DO NOTHING",
                            Params().Text(run_id).Int(*id))
                        .status();
                  });
}

Result<RunArtifacts> PostgresRunStore::ArtifactsOfRun(const std::string& run_id) {
  LABBOOK_RETURN_IF_ERROR(CheckRunIdOrPrefix(run_id));
  return Transact(
      Access::kRead, "read the artifacts of " + RunRef(run_id),
      [&](Connection& db) -> Result<RunArtifacts> {
        LABBOOK_ASSIGN_OR_RETURN(std::string id, ResolveRunId(db, run_id));
        RunArtifacts artifacts;
        LABBOOK_ASSIGN_OR_RETURN(
            Rows produced,
            db.Query("SELECT v.id FROM artifact_versions v JOIN artifacts a ON a.id = "
                     "v.artifact_id WHERE v.producer_run = $1 ORDER BY a.name, v.version",
                     Params().Text(id)));
        LABBOOK_ASSIGN_OR_RETURN(
            Rows used,
            db.Query("SELECT v.id FROM artifact_usage u JOIN artifact_versions v ON v.id = "
                     "u.version_id JOIN artifacts a ON a.id = v.artifact_id WHERE u.run_id = $1 "
                     "ORDER BY a.name, v.version",
                     Params().Text(id)));
        std::vector<int64_t> ids;
        for (int i = 0; i < produced.size(); ++i) ids.push_back(produced.Int(i, 0));
        LABBOOK_ASSIGN_OR_RETURN(artifacts.produced, LoadVersions(db, ids));
        ids.clear();
        for (int i = 0; i < used.size(); ++i) ids.push_back(used.Int(i, 0));
        LABBOOK_ASSIGN_OR_RETURN(artifacts.used, LoadVersions(db, ids));
        return artifacts;
      });
}

// A temporary file removed on destruction unless it was renamed into place.
class TemporaryFile {
 public:
  explicit TemporaryFile(fs::path path) : path_(std::move(path)) {}
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  const fs::path& path() const { return path_; }
  Status RenameTo(const fs::path& target) {
    if (::rename(path_.c_str(), target.c_str()) != 0) {
      return StatusFromErrno(target, "rename " + path_.string() + " to it", errno);
    }
    path_.clear();
    return Status::Ok();
  }

 private:
  fs::path path_;
};

Status PostgresRunStore::ReadArtifactFile(const ArtifactFile& file, const fs::path& destination) {
  if (!IsSha256Hex(file.sha256)) {
    return InvalidArgument("file.sha256 '" + file.sha256 + "' must be 64 lower-case hex digits");
  }
  return Transact(
      Access::kRead, "read artifact file '" + file.path + "'", [&](Connection& db) -> Status {
        LABBOOK_ASSIGN_OR_RETURN(Rows blob, db.Query("SELECT size, pieces FROM blobs WHERE "
                                                     "sha256 = $1",
                                                     Params().Text(file.sha256)));
        if (blob.empty()) {
          return NotFound("artifact file '" + file.path + "' (sha256 " + file.sha256 +
                          ") not found in " + uri_text());
        }
        const int64_t pieces = blob.Int(0, 1);
        if (destination.has_parent_path()) {
          std::error_code error;
          fs::create_directories(destination.parent_path(), error);
          if (error) {
            return StatusFromErrno(destination.parent_path(), "create the directory",
                                   error.value());
          }
        }
        TemporaryFile temporary(fs::path(destination.string() + ".partial-" + RandomSuffix()));
        Descriptor out(
            ::open(temporary.path().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        if (out.get() < 0) return StatusFromErrno(temporary.path(), "create", errno);
        Sha256 hash;
        int64_t copied = 0;
        // One piece a query: memory stays at one piece whatever the file's size.
        for (int64_t piece = 0; piece < pieces; ++piece) {
          LABBOOK_ASSIGN_OR_RETURN(Rows data, db.Query("SELECT data FROM blob_chunks WHERE "
                                                       "sha256 = $1 AND piece = $2",
                                                       Params().Text(file.sha256).Int(piece)));
          if (data.empty()) {
            return DataLoss(uri_text() + ": the blob " + file.sha256 + " of artifact file '" +
                            file.path + "' has lost its piece " + std::to_string(piece) + " of " +
                            std::to_string(pieces));
          }
          const std::span<const std::byte> bytes = data.Bytes(0, 0);
          hash.Update(bytes.data(), bytes.size());
          copied += static_cast<int64_t>(bytes.size());
          LABBOOK_RETURN_IF_ERROR(
              WriteFully(out.get(), temporary.path(), bytes.data(), bytes.size()));
        }
        const std::string actual = hash.HexDigest();
        if (copied != file.size || actual != file.sha256) {
          return DataLoss(uri_text() + ": the blob of artifact file '" + file.path +
                          "' is corrupt: it holds " + std::to_string(copied) +
                          " bytes with sha256 " + actual + ", expected " +
                          std::to_string(file.size) + " bytes with sha256 " + file.sha256);
        }
        if (::fsync(out.get()) != 0) return StatusFromErrno(temporary.path(), "flush", errno);
        if (out.Close() != 0) return StatusFromErrno(temporary.path(), "close", errno);
        return temporary.RenameTo(destination);
      });
}

// --- Opening ---

Result<int64_t> SchemaVersion(Connection& db) {
  LABBOOK_ASSIGN_OR_RETURN(
      Rows table,
      db.Query("SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0 ELSE 1 END"));
  if (table.Int(0, 0) == 0) return 0;
  LABBOOK_ASSIGN_OR_RETURN(Rows current,
                           db.Query("SELECT coalesce(max(version), 0) FROM schema_migrations"));
  return current.Int(0, 0);
}

Status PostgresRunStore::Migrate() {
  const std::span<const Migration> migrations = Migrations();
  const int64_t known = static_cast<int64_t>(migrations.size());
  auto too_new = [&](int64_t version) {
    return FailedPrecondition(uri_text() + ": the store has schema version " +
                              std::to_string(version) + ", newer than this labbook knows (" +
                              std::to_string(known) + "); use a newer labbook");
  };
  // An up-to-date schema (the usual case) needs neither the lock nor the right to create tables.
  LABBOOK_ASSIGN_OR_RETURN(int64_t seen,
                           Transact(Access::kRead, "read the store's schema version",
                                    [&](Connection& db) { return SchemaVersion(db); }));
  if (seen > known) return too_new(seen);
  if (seen == known) return Status::Ok();
  return Transact(Access::kWrite, "migrate the store's schema", [&](Connection& db) -> Status {
    // Under the lock, one process at a time reads the version and applies what is missing;
    // the lock ends with the transaction.
    LABBOOK_RETURN_IF_ERROR(
        db.Query("SELECT pg_advisory_xact_lock($1)", Params().Int(kMigrationLock)).status());
    LABBOOK_RETURN_IF_ERROR(
        db.Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                "file text NOT NULL, applied_time double precision NOT NULL)"));
    LABBOOK_ASSIGN_OR_RETURN(int64_t version, SchemaVersion(db));
    if (version > known) return too_new(version);
    for (int64_t next = version; next < known; ++next) {
      const Migration& migration = migrations[static_cast<size_t>(next)];
      db.set_action("apply migration " + std::string(migration.file));
      LABBOOK_RETURN_IF_ERROR(db.Exec(std::string(migration.sql)));
      LABBOOK_RETURN_IF_ERROR(
          db.Query("INSERT INTO schema_migrations (version, file, applied_time) VALUES "
                   "($1, $2, $3)",
                   Params().Int(next + 1).Text(migration.file).Double(UnixSeconds()))
              .status());
    }
    return Status::Ok();
  });
}

}  // namespace

int KnownSchemaVersion() { return static_cast<int>(Migrations().size()); }

Result<std::unique_ptr<RunStore>> OpenPostgresRunStore(const std::string& uri,
                                                       const PostgresStoreOptions& options) {
  if (options.max_connections < 1) {
    return InvalidArgument("options.max_connections is " + std::to_string(options.max_connections) +
                           "; it must be at least 1");
  }
  LABBOOK_ASSIGN_OR_RETURN(ServerAddress address, ParseServerAddress(uri));
  auto store = std::make_unique<PostgresRunStore>(std::move(address), options.max_connections);
  LABBOOK_RETURN_IF_ERROR(store->Migrate());
  return std::unique_ptr<RunStore>(std::move(store));
}

}  // namespace labbook::track::postgres
