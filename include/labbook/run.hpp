// Run tracking from C++: the SDK a training program links (find_package(labbook), target
// labbook::labbook; examples/log_run/ shows a whole program).
//
//   auto run = labbook::Init({.project = "mnist", .config = {{"lr", 1e-3}}});
//   if (!run.ok()) ...
//   run->Log({{"loss", 0.31}, {"acc", 0.9}}, step);
//   run->SetSummary("test/accuracy", 0.912);
//   run->LogArtifact("cnn", "model", {{"model.lbm", "out/model.lbm"}});
//   run->Finish(0);
//
// Log only enqueues: a bounded queue feeds a writer thread that batches points into the store at
// least once a second, so a process killed outright loses at most its last second. When the
// queue is full Log waits for the writer, which also keeps the run's heartbeat and writes the
// summary every few seconds. A background thread samples system metrics (CPU, memory) into the
// history under "system/". A store that fails
// during the run (disk full, read-only) never stops the caller: the run goes on, the points that
// could not be written are counted, and Finish reports them.
//
// A Run is used from one thread at a time (Log from the training thread); its own threads are
// internal. A Run destroyed without Finish finishes as if Finish(0) had been called, or
// Finish(1) during exception unwinding. SIGINT, SIGTERM and SIGHUP end the run as crashed (its
// points flushed, exit code 128 + the signal) and then take their default action, unless the
// program ignores or handles that signal itself; a run whose process died without a word
// is shown as crashed by the readers (same host: at once, by its pid; other hosts: once its
// heartbeat is older than 30 s).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "labbook/export.hpp"
#include "labbook/status.hpp"

namespace labbook {

enum class RunMode {
  kOnline,    // the store named by InitOptions::store, LABBOOK_STORE, or ./.labbook/labbook.db
  kOffline,   // a local SQLite store only (InitOptions::store when it names one, else
              // LABBOOK_OFFLINE_STORE, or ./.labbook/offline.db), never the network, whatever
              // LABBOOK_STORE says
  kDisabled,  // nothing is recorded; every call succeeds and does nothing
};

struct InitOptions {
  std::string project;  // default: LABBOOK_PROJECT, else "uncategorized"
  std::string entity;   // default: LABBOOK_ENTITY, else the login name, else "local"
  std::string name;     // display name; default: the run id
  std::string group;
  std::vector<std::string> tags;
  std::string notes;
  nlohmann::json config = nlohmann::json::object();
  RunMode mode = RunMode::kOnline;
  std::string store;  // a store URI; empty: LABBOOK_STORE or the default
  std::string id;     // empty: a new random id
  bool system_metrics = true;
  double system_metrics_interval_s = 2.0;
  bool handle_signals = true;  // end the run as crashed on SIGINT, SIGTERM, SIGHUP
};

// A version of an artifact, as logged or used.
struct ArtifactRef {
  std::string name;
  std::string type;
  int version = 0;
  std::string digest;
  std::vector<std::string> files;  // paths inside the artifact
  std::string ToString() const { return name + ":v" + std::to_string(version); }
};

// What the writer did with the points given to Log.
struct RecordingStats {
  int64_t points_logged = 0;   // accepted by Log
  int64_t points_written = 0;  // committed to the store
  int64_t points_lost = 0;     // given up after a store error
  std::string last_error;      // the store's last error, "" when none
};

class LABBOOK_EXPORT Run {
 public:
  class Impl;
  explicit Run(std::unique_ptr<Impl> impl);
  Run(Run&&) noexcept;
  Run& operator=(Run&&) noexcept;
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;
  ~Run();

  const std::string& id() const;
  const std::string& entity() const;
  const std::string& project() const;
  const std::string& name() const;
  RunMode mode() const;
  std::string store_uri() const;

  // Enqueues one point per key at `step` (steps are the caller's: batches, epochs, ...).
  void Log(std::initializer_list<std::pair<std::string_view, double>> values, int64_t step);
  // The same for keys known only at run time (a binding's dict). Keys logged together in the
  // same order from call to call are looked up in constant time.
  void Log(const std::pair<std::string_view, double>* values, size_t count, int64_t step);
  void Log(std::string_view key, double value, int64_t step);

  // The summary: the last value logged for each key, unless set here (a null value removes the
  // key). The sampled system metrics stay out of it.
  void SetSummary(std::string_view key, nlohmann::json value);
  nlohmann::json Summary() const;

  // Stores files as a new version of the artifact `name` produced by this run (no new version
  // when the contents equal the newest). Files are read now; kNotFound names a missing file.
  [[nodiscard]] Result<ArtifactRef> LogArtifact(
      std::string_view name, std::string_view type,
      const std::vector<std::pair<std::string, std::filesystem::path>>& files,
      nlohmann::json metadata = nlohmann::json::object(),
      const std::vector<std::string>& aliases = {});
  // A table (CSV text with a header row) as an artifact of type "table" holding "<name>.csv".
  [[nodiscard]] Result<ArtifactRef> LogTable(std::string_view name, std::string_view csv);
  // "name:alias" or "name:v3" (no suffix: latest); records that this run used it.
  [[nodiscard]] Result<ArtifactRef> UseArtifact(std::string_view reference);
  // Writes the artifact's files under `directory` (digests verified).
  [[nodiscard]] Status DownloadArtifact(const ArtifactRef& artifact,
                                        const std::filesystem::path& directory);

  // Flushes every queued point, writes the summary and ends the run: finished for 0, failed
  // otherwise. The error, if any, says what could not be recorded. Later calls do nothing.
  [[nodiscard]] Status Finish(int exit_code = 0);

  RecordingStats stats() const;

 private:
  std::unique_ptr<Impl> impl_;
};

// Starts a run. Errors: the store cannot be opened or written (the message names it), an id
// already taken, an invalid option (named).
[[nodiscard]] LABBOOK_EXPORT Result<Run> Init(InitOptions options);

}  // namespace labbook
