// Copying runs recorded in a local store to a server, for `labbook sync` and the SDK's offline
// spool (spooling_store.hpp), and the ledger that says which local runs still need it.
//
// SyncRun is idempotent, so an interrupted or repeated sync never duplicates anything: the run is
// created with its own id (a run already there under that id, with the same entity, project and
// start, is taken as this one), history is sent in batches and a (key, step) logged twice keeps
// the later value, an artifact version already on the server with the same digest and producer
// is not logged again, and state, summary and times are set, not added.
//
// The ledger is a directory beside the offline database ("<db>.sync/"), one small JSON file per
// run: {"server": URL, "spooled": bool, "synced_time": seconds or null}. One file per run
// means two processes never write the same file; each is replaced atomically.
//
// Thread safety: SyncRun uses only the two stores (see their own rules); a SyncLedger may be used
// from several threads and processes at once.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "labbook/status.hpp"
#include "track/store.hpp"

namespace labbook::track::http {

struct SyncReport {
  std::string run_id;
  bool created = false;            // the run was not on the server before
  int64_t points = 0;              // history points sent
  int artifacts = 0;               // artifact versions logged on the server
  bool finished = false;           // the local run has ended (not running)
  std::vector<std::string> notes;  // what could not be copied and why (e.g. a used artifact)
};

// Copies run `run_id` of `from` to `to` (see above). `batch_points` bounds a history request.
[[nodiscard]] Result<SyncReport> SyncRun(RunStore& from, RunStore& to, const std::string& run_id,
                                         size_t batch_points = 50'000);

class SyncLedger {
 public:
  struct Entry {
    std::string server;    // where the run goes; "" for a run recorded offline on purpose
    bool spooled = false;  // the local copy is a spool of a server run (removed once synced)
    std::optional<double> synced_time;  // when it was last copied whole
  };

  // The ledger of the SQLite store `offline_uri` ("sqlite://path.db" or a path): "path.db.sync".
  // kInvalidArgument for a URI that is not SQLite.
  [[nodiscard]] static Result<SyncLedger> ForStore(const std::string& offline_uri);
  explicit SyncLedger(std::filesystem::path directory) : directory_(std::move(directory)) {}

  [[nodiscard]] Status Put(const std::string& run_id, const Entry& entry) const;
  // nullopt when the run has no entry.
  [[nodiscard]] Result<std::optional<Entry>> Get(const std::string& run_id) const;
  [[nodiscard]] Result<std::map<std::string, Entry>> All() const;
  [[nodiscard]] Status Remove(const std::string& run_id) const;

  const std::filesystem::path& directory() const { return directory_; }

 private:
  std::filesystem::path directory_;
};

}  // namespace labbook::track::http
