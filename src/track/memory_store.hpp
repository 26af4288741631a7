// MemoryRunStore: the whole RunStore interface in this process's memory, for tests, benchmarks and
// the failure-injection wrappers built on it. It follows the interface's contracts (errors,
// prefix lookup, downsampling, artifact versions and aliases, lineage) so a test against it says
// something about the SDK and not about a stand-in. Nothing survives the object; another process
// cannot see it.
//
// Thread safety: every call may come from any thread; one mutex serialises them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "track/store.hpp"

namespace labbook::track {

class MemoryRunStore final : public RunStore {
 public:
  // `uri` is only reported back by uri(); it names the store in messages.
  explicit MemoryRunStore(std::string uri = "memory://");

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

  // Test access: the number of LogHistory calls that stored a batch.
  int64_t history_batches() const;
  // Test access: flips the first byte of the stored content with this sha256, as a failing disk
  // would; false when there is none.
  bool CorruptBlob(const std::string& sha256);

 private:
  struct StoredPoint {
    double value = 0;
    double wall_time = 0;
  };
  struct StoredRun {
    RunInfo info;
    int64_t created_order = 0;
    std::map<std::string, std::map<int64_t, StoredPoint>> history;  // key -> step -> point
    // Versions this run used: (entity, project, name, version).
    std::vector<std::tuple<std::string, std::string, std::string, int>> used;
  };
  using ArtifactKey = std::tuple<std::string, std::string, std::string>;  // entity, project, name

  // Resolves an exact id or a unique prefix of at least 3 characters; mutex_ held.
  Result<StoredRun*> FindRunLocked(const std::string& run_id);

  const std::string uri_;
  mutable std::mutex mutex_;
  std::map<std::string, StoredRun> runs_;
  std::map<ArtifactKey, std::vector<ArtifactVersion>> artifacts_;
  std::map<std::string, std::string> blobs_;  // sha256 -> content
  int64_t next_order_ = 0;
  int64_t history_batches_ = 0;
};

// Lower-case hex sha256 of `bytes`.
std::string Sha256Hex(std::string_view bytes);

}  // namespace labbook::track
