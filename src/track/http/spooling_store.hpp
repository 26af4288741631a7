// SpoolingRunStore: what the SDK records to when its store is a server. Every call goes to the
// server (an HttpRunStore, which retries with backoff); when a write still finds the server
// unreachable (kUnavailable once the retries are spent), that run's writes go to a local offline
// store instead (a SQLite store, by default .labbook/offline.db), and the run is marked in the
// sync ledger (sync.hpp) with the server it belongs to. While a run is spooled, every write of it
// goes to the offline copy, so nothing reaches the server out of order; every probe_interval a
// write first asks the server's health and, when it answers, copies the spool up (SyncRun),
// removes the local copy and goes back to the server. The run's last update (Finish) tries once
// more; what is still spooled after that waits for `labbook sync`.
//
// Only writes spool: reads, deletions and UseArtifact (whose version lives on the server) return
// the server's error. An artifact logged while spooled gets its version number from the offline
// store; on the server it becomes the next version of its name when synced.
//
// Thread safety: as RunStore. The spooled writes and the uploads of the spool are serialised.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "track/http/http_store.hpp"
#include "track/http/sync.hpp"
#include "track/store.hpp"

namespace labbook::track::http {

struct SpoolOptions {
  // Names the offline store in messages.
  std::string offline_uri = "sqlite://.labbook/offline.db";
  // How often a spooled run asks whether the server is back.
  std::chrono::milliseconds probe_interval{5000};
  // Tells the user that a run spools or was uploaded; null: a line on stderr.
  std::function<void(const std::string& line)> notice;
};

class SpoolingRunStore final : public RunStore {
 public:
  // `open_offline` opens the offline store the first time a run spools.
  SpoolingRunStore(std::unique_ptr<HttpRunStore> remote,
                   std::function<Result<std::unique_ptr<RunStore>>()> open_offline,
                   SyncLedger ledger, SpoolOptions options);
  ~SpoolingRunStore() override;

  std::string uri() const override;

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

  // Whether writes of the run go to the offline store now.
  bool IsSpooling(const std::string& run_id) const;
  // Copies the run's spool to the server now (once); ok when nothing is spooled (any more).
  [[nodiscard]] Status Upload(const std::string& run_id);

 private:
  struct RunSpool {
    RunInfo info;  // as the server (or the offline store) created it
    bool spooling = false;
    std::chrono::steady_clock::time_point next_probe;
  };

  // Runs `write` against the server, or the offline copy while the run spools; starts spooling
  // when the server is unreachable.
  Status Write(const std::string& run_id, const std::function<Status(RunStore&)>& write);
  // True when the run spools; when its probe is due, tries to upload first.
  bool SpoolingAfterProbe(const std::string& run_id);
  // Creates the offline copy of the run; spool_mutex_ held.
  Status StartSpooling(const std::string& run_id, const Status& cause);
  // spool_mutex_ held.
  Status UploadLocked(const std::string& run_id);
  Result<RunStore*> Offline();  // spool_mutex_ held
  void Notice(const std::string& line) const;

  const std::unique_ptr<HttpRunStore> remote_;
  const std::function<Result<std::unique_ptr<RunStore>>()> open_offline_;
  const SyncLedger ledger_;
  const SpoolOptions options_;

  mutable std::mutex mutex_;  // runs_
  std::map<std::string, RunSpool> runs_;

  std::mutex spool_mutex_;  // offline_, spooled writes, uploads
  std::unique_ptr<RunStore> offline_;
};

}  // namespace labbook::track::http
