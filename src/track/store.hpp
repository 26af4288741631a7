// The one interface every run store implements: the embedded SQLite store (track/sqlite), the
// HTTP client of the server (track/http) and PostgreSQL (track/postgres). The SDK
// (track/run.cpp), the command line and the server talk to a RunStore only;
// tests/track_sqlite/store_conformance.hpp runs the same suite against every implementation.
//
// Model (W&B's concepts): entity (user or team) > project > run. A run owns its history (step,
// key, value, wall time; system metrics are history keys under "system/") and the lineage of the
// artifacts it produced and used. Artifacts belong to the project: named, typed, with versions
// v0, v1, ..., aliases ("latest" always names the newest) and files stored once per sha256.
//
// Thread safety: a RunStore may be called from several threads at once (the SDK's writer thread
// and the caller's thread), and several processes may open the same store; implementations
// serialise what needs it. Every call that can fail returns Status/Result: kNotFound for a
// missing run, artifact or key; kInvalidArgument for a malformed id, key or name (the message
// names the field); kPermissionDenied for a read-only store; kResourceExhausted for a full disk;
// kUnavailable when the store stayed locked or unreachable; kDataLoss for a corrupt file or a
// blob whose digest does not match. A failed write changes nothing.
//
// This header has no link-time dependency (types and the interface only), so an implementation
// needs nothing but labbook_core.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labbook/status.hpp"

namespace labbook::track {

enum class RunState { kRunning, kFinished, kFailed, kCrashed };

// "running", "finished", "failed", "crashed".
inline std::string_view RunStateName(RunState state) {
  switch (state) {
    case RunState::kRunning:
      return "running";
    case RunState::kFinished:
      return "finished";
    case RunState::kFailed:
      return "failed";
    case RunState::kCrashed:
      return "crashed";
  }
  return "running";
}

inline std::optional<RunState> ParseRunState(std::string_view name) {
  for (RunState s : {RunState::kRunning, RunState::kFinished, RunState::kFailed,
                     RunState::kCrashed}) {
    if (RunStateName(s) == name) return s;
  }
  return std::nullopt;
}

// One run as stored. Times are seconds since the Unix epoch (0: not set).
struct RunInfo {
  std::string id;       // 8 characters of [0-9a-z]; CreateRun assigns a random one when empty
  std::string entity;   // user or team
  std::string project;
  std::string name;     // display name; CreateRun uses the id when empty
  std::string group;
  std::vector<std::string> tags;
  std::string notes;
  RunState state = RunState::kRunning;
  nlohmann::json config = nlohmann::json::object();   // the resolved config, frozen at start
  nlohmann::json summary = nlohmann::json::object();  // last value per key unless set
  std::string host;
  int64_t pid = 0;  // of the process that logs the run, on `host`
  std::string git_commit;
  double start_time = 0;
  double heartbeat_time = 0;  // the last sign of life of a running run
  double end_time = 0;
  std::optional<int> exit_code;
};

// A change to a run; fields left unset keep their value.
struct RunUpdate {
  std::optional<RunState> state;
  // Top-level keys of `summary_patch` replace the summary's keys of the same name; a null value
  // removes the key.
  std::optional<nlohmann::json> summary_patch;
  std::optional<double> heartbeat_time;
  std::optional<double> end_time;
  std::optional<int> exit_code;
  std::optional<std::string> notes;
  std::optional<std::vector<std::string>> tags;
};

// Which runs ListRuns returns: those of the entity and project given (empty: any), newest start
// first.
struct RunQuery {
  std::string entity;
  std::string project;
};

// History points of one run, sent in batches. Keys are names such as "loss", "val/accuracy" or
// "system/cpu_percent"; `HistoryPoint::key` indexes `HistoryBatch::keys`. Steps of one key need
// not arrive in order, but a step logged twice for a key keeps the later value.
struct HistoryPoint {
  uint32_t key = 0;
  int64_t step = 0;
  double value = 0;      // NaN and infinities are stored as they are
  double wall_time = 0;  // seconds since the Unix epoch
};

struct HistoryBatch {
  std::vector<std::string> keys;
  std::vector<HistoryPoint> points;
};

// What a run logged under one key.
struct KeyInfo {
  std::string key;
  int64_t count = 0;
  int64_t first_step = 0;
  int64_t last_step = 0;
  double last_value = 0;  // the value at last_step
  double min = 0;         // over finite values (NaN when there is none)
  double max = 0;
};

struct HistoryQuery {
  int64_t min_step = std::numeric_limits<int64_t>::min();  // inclusive
  int64_t max_step = std::numeric_limits<int64_t>::max();  // inclusive
  // 0: every point in the range. Otherwise at most this many points: when the range holds more,
  // the steps are cut into max_points / 2 equal buckets and each bucket keeps its minimum and
  // maximum (in step order), so spikes survive downsampling. Precisely: with `first` and `last`
  // the steps of the first and last point in range and n = max(1, max_points / 2), step s falls
  // in bucket floor((s - first) * n / (last - first + 1)); a bucket keeps the earliest point with
  // its smallest and the earliest with its largest non-NaN value (one point when that is the
  // same point), its first point when all its values are NaN, and only its maximum when
  // max_points is 1.
  size_t max_points = 0;
};

// One key's points in step order.
struct Series {
  std::string key;
  std::vector<int64_t> steps;
  std::vector<double> values;
  std::vector<double> wall_times;
  int64_t points_in_range = 0;  // before downsampling
  bool downsampled = false;
};

// A file of an artifact version: its path inside the artifact and its content's digest.
struct ArtifactFile {
  std::string path;    // relative, '/'-separated, e.g. "model.lbm" or "tables/predictions.csv"
  std::string sha256;  // lower-case hex
  int64_t size = 0;
};

struct ArtifactVersion {
  std::string entity;
  std::string project;
  std::string name;  // [A-Za-z0-9._-]+
  std::string type;  // "model", "dataset", "predictions", "table", ...
  int version = 0;   // v0, v1, ...
  // sha256 over the sorted (path, sha256) pairs: equal contents give equal digests. The bytes
  // hashed are "<path>\0<sha256>\n" for each file, in byte order of path.
  std::string digest;
  std::vector<std::string> aliases;  // "latest" on the newest version, plus the user's
  std::vector<ArtifactFile> files;
  nlohmann::json metadata = nlohmann::json::object();
  std::string producer_run;  // the run that logged it ("" when the run was deleted)
  double created_time = 0;

  std::string VersionName() const { return "v" + std::to_string(version); }
};

// An artifact to log: files are copied into the store (content-addressed) at LogArtifact.
struct NewArtifact {
  std::string entity;
  std::string project;
  std::string name;
  std::string type;
  std::string producer_run;  // may be empty
  nlohmann::json metadata = nlohmann::json::object();
  std::vector<std::string> aliases;  // besides "latest"
  struct File {
    std::string path;              // inside the artifact
    std::filesystem::path source;  // a local file to read
  };
  std::vector<File> files;
};

// What a run produced and used.
struct RunArtifacts {
  std::vector<ArtifactVersion> produced;
  std::vector<ArtifactVersion> used;
};

class RunStore {
 public:
  virtual ~RunStore() = default;

  // The URI the store was opened with, without credentials.
  virtual std::string uri() const = 0;

  // Runs. CreateRun fills in the id (when empty), name (when empty) and returns the run as
  // stored; an id already taken is kAlreadyExists.
  virtual Result<RunInfo> CreateRun(RunInfo run) = 0;
  virtual Status UpdateRun(const std::string& run_id, const RunUpdate& update) = 0;
  // `run_id` may be a unique prefix of an id (at least 3 characters); an ambiguous one is
  // kInvalidArgument naming the candidates.
  virtual Result<RunInfo> GetRun(const std::string& run_id) = 0;
  virtual Result<std::vector<RunInfo>> ListRuns(const RunQuery& query) = 0;
  // Removes the run, its history and its lineage; artifact versions it produced stay, with an
  // empty producer.
  virtual Status DeleteRun(const std::string& run_id) = 0;

  // History. A batch is stored whole or not at all.
  virtual Status LogHistory(const std::string& run_id, const HistoryBatch& batch) = 0;
  virtual Result<std::vector<KeyInfo>> HistoryKeys(const std::string& run_id) = 0;
  virtual Result<Series> ReadHistory(const std::string& run_id, const std::string& key,
                                     const HistoryQuery& query) = 0;

  // Artifacts. Logging contents equal to the newest version's (same digest) adds no version: it
  // returns that version (with the new aliases added). Aliases are unique within an artifact
  // name and move to the version that last claimed them.
  virtual Result<ArtifactVersion> LogArtifact(const NewArtifact& artifact) = 0;
  // `version_or_alias`: "v3", "latest" or a user alias.
  virtual Result<ArtifactVersion> GetArtifact(const std::string& entity,
                                              const std::string& project,
                                              const std::string& name,
                                              const std::string& version_or_alias) = 0;
  // Every version of every artifact of the project (entity/project empty: all), by name then
  // version.
  virtual Result<std::vector<ArtifactVersion>> ListArtifacts(const RunQuery& query) = 0;
  // Records that `run_id` used the version.
  virtual Status UseArtifact(const std::string& run_id, const ArtifactVersion& artifact) = 0;
  virtual Result<RunArtifacts> ArtifactsOfRun(const std::string& run_id) = 0;
  // Copies a file's content to `destination` (written to a temporary name, then renamed) after
  // checking its sha256; a mismatch is kDataLoss and leaves nothing at `destination`.
  virtual Status ReadArtifactFile(const ArtifactFile& file,
                                  const std::filesystem::path& destination) = 0;
};

// The store named by `uri`: "sqlite:///abs/path.db", "sqlite://rel/path.db" or a plain file path
// (SQLite); "http://host:port" or "https://host:port" (a `labbook serve`, through
// track/http/http_store.hpp, with the API key of track/http/credentials.hpp);
// "postgresql://user[:password]@host:port/database" or "postgres://..." (a PostgreSQL database,
// track/postgres/postgres_store.hpp). Other schemes are
// kInvalidArgument naming the schemes known. The SQLite store creates its file and parent
// directory when missing.
[[nodiscard]] Result<std::unique_ptr<RunStore>> OpenStore(const std::string& uri);

// `uri` as it may be shown in a message or a log: without the password of a
// "scheme://user:password@host" URI or of a password= parameter.
std::string RedactedStoreUri(const std::string& uri);

// Whether `uri` names a labbook server (http:// or https://) rather than a local store.
bool IsServerUri(const std::string& uri);

// LABBOOK_STORE when set, else LABBOOK_BASE_URL (from the environment or ./.env), else
// "sqlite://.labbook/labbook.db" (relative to the working directory).
std::string DefaultStoreUri();

}  // namespace labbook::track
