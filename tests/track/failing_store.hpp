// FailingRunStore: a RunStore that forwards to another one until told to fail, for the SDK's
// fault tests (a disk that fills up, a store that turns read-only, a key the store refuses).
//
// Thread safety: as the wrapped store; the failure settings are atomic or locked.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "track/store.hpp"

namespace labbook::track {

class FailingRunStore final : public RunStore {
 public:
  explicit FailingRunStore(std::shared_ptr<RunStore> inner) : inner_(std::move(inner)) {}

  // Writes (CreateRun, UpdateRun, LogHistory, LogArtifact, UseArtifact) after the first
  // `successful_writes` from now fail with `error`.
  void FailWritesAfter(int64_t successful_writes, Status error) {
    std::lock_guard lock(mutex_);
    writes_left_ = successful_writes;
    error_ = std::move(error);
  }
  // LogHistory of a batch holding `key` fails with kInvalidArgument.
  void RejectKey(std::string key) {
    std::lock_guard lock(mutex_);
    rejected_key_ = std::move(key);
  }
  // Every LogHistory first sleeps this long (a slow disk).
  void SlowHistoryBy(std::chrono::microseconds delay) { delay_us_ = delay.count(); }

  int64_t failed_writes() const { return failed_writes_; }

  std::string uri() const override { return inner_->uri(); }

  Result<RunInfo> CreateRun(RunInfo run) override {
    if (Status s = CountWrite(); !s.ok()) return s;
    return inner_->CreateRun(std::move(run));
  }
  Status UpdateRun(const std::string& run_id, const RunUpdate& update) override {
    if (Status s = CountWrite(); !s.ok()) return s;
    return inner_->UpdateRun(run_id, update);
  }
  Result<RunInfo> GetRun(const std::string& run_id) override { return inner_->GetRun(run_id); }
  Result<std::vector<RunInfo>> ListRuns(const RunQuery& query) override {
    return inner_->ListRuns(query);
  }
  Status DeleteRun(const std::string& run_id) override { return inner_->DeleteRun(run_id); }

  Status LogHistory(const std::string& run_id, const HistoryBatch& batch) override {
    if (const int64_t delay = delay_us_; delay > 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(delay));
    }
    {
      std::lock_guard lock(mutex_);
      for (const std::string& key : batch.keys) {
        if (!rejected_key_.empty() && key == rejected_key_) {
          return InvalidArgument("history key '" + key + "' is refused");
        }
      }
    }
    if (Status s = CountWrite(); !s.ok()) return s;
    return inner_->LogHistory(run_id, batch);
  }
  Result<std::vector<KeyInfo>> HistoryKeys(const std::string& run_id) override {
    return inner_->HistoryKeys(run_id);
  }
  Result<Series> ReadHistory(const std::string& run_id, const std::string& key,
                             const HistoryQuery& query) override {
    return inner_->ReadHistory(run_id, key, query);
  }

  Result<ArtifactVersion> LogArtifact(const NewArtifact& artifact) override {
    if (Status s = CountWrite(); !s.ok()) return s;
    return inner_->LogArtifact(artifact);
  }
  Result<ArtifactVersion> GetArtifact(const std::string& entity, const std::string& project,
                                      const std::string& name,
                                      const std::string& version_or_alias) override {
    return inner_->GetArtifact(entity, project, name, version_or_alias);
  }
  Result<std::vector<ArtifactVersion>> ListArtifacts(const RunQuery& query) override {
    return inner_->ListArtifacts(query);
  }
  Status UseArtifact(const std::string& run_id, const ArtifactVersion& artifact) override {
    if (Status s = CountWrite(); !s.ok()) return s;
    return inner_->UseArtifact(run_id, artifact);
  }
  Result<RunArtifacts> ArtifactsOfRun(const std::string& run_id) override {
    return inner_->ArtifactsOfRun(run_id);
  }
  Status ReadArtifactFile(const ArtifactFile& file,
                          const std::filesystem::path& destination) override {
    return inner_->ReadArtifactFile(file, destination);
  }

 private:
  Status CountWrite() {
    std::lock_guard lock(mutex_);
    if (writes_left_ < 0) return Status::Ok();
    if (writes_left_ > 0) {
      --writes_left_;
      return Status::Ok();
    }
    ++failed_writes_;
    return error_;
  }

  const std::shared_ptr<RunStore> inner_;
  std::mutex mutex_;
  int64_t writes_left_ = -1;  // -1: never fail
  Status error_;
  std::string rejected_key_;
  std::atomic<int64_t> delay_us_{0};
  std::atomic<int64_t> failed_writes_{0};
};

}  // namespace labbook::track
