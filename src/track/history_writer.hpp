// HistoryWriter: turns Run::Log calls into store batches without making the caller wait.
//
// The training thread (the one producer) interns each key once into an index (a per-position
// guess of the key, since loops log the same keys in the same order, then a hash lookup) and
// writes points into a PointRing. A writer thread wakes every flush_interval, when batch_points
// points are queued, and on Stop(), and writes everything queued as one HistoryBatch,
// so a process killed outright loses at most the last flush_interval of points. When the ring
// is full, Append waits for the writer. The writer also keeps the run's heartbeat and writes the
// summary with it (the last value logged per key, overridden by SetSummary).
//
// A store error never reaches the producer: the batch's points are counted as lost and the error
// kept for stats(). A batch refused as kInvalidArgument is retried key by key, so one bad key
// loses only its own points. Points given to Append after Stop() are dropped and counted.
//
// Thread safety: Append, Summary and stats come from the producer thread only; AppendSystem,
// SetSummary, Stop and FullSummary from any thread.
#pragma once

#include <time.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <span>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "labbook/run.hpp"
#include "track/liveness.hpp"
#include "track/point_ring.hpp"
#include "track/store.hpp"

namespace labbook::track {

struct WriterOptions {
  size_t queue_capacity = size_t{1} << 16;  // points
  size_t batch_points = 8192;               // wake the writer when this many are queued
  std::chrono::milliseconds flush_interval{500};
  std::chrono::milliseconds heartbeat_interval{static_cast<int64_t>(kHeartbeatIntervalS * 1000)};
};

// Seconds since the Unix epoch from the kernel's coarse clock: a few nanoseconds to read, with the
// timer tick's resolution (1 to 10 ms), which is plenty for the wall time of a history point.
inline double CoarseWallTime() {
  timespec now;
  clock_gettime(CLOCK_REALTIME_COARSE, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

class HistoryWriter {
 public:
  // Starts the writer thread. `store` must outlive it (shared with the run).
  HistoryWriter(std::shared_ptr<RunStore> store, std::string run_id, WriterOptions options);
  ~HistoryWriter();  // Stop()
  HistoryWriter(const HistoryWriter&) = delete;
  HistoryWriter& operator=(const HistoryWriter&) = delete;

  // Producer: queues one point per value, all at `step` and the same wall time.
  void Append(std::span<const std::pair<std::string_view, double>> values, int64_t step) {
    const double now = CoarseWallTime();
    uint32_t position = 0;
    for (const auto& [key, value] : values) AppendOne(position++, key, value, step, now);
    Published();
  }
  void Append(std::string_view key, double value, int64_t step) {
    AppendOne(0, key, value, step, CoarseWallTime());
    Published();
  }

  // Points from another thread (system metrics); not part of the summary or of stats().
  void AppendSystem(const std::vector<std::pair<std::string, double>>& values, int64_t step);

  // A summary value that wins over the logged one; null removes the key from the summary.
  void SetSummary(std::string_view key, nlohmann::json value);
  // Producer: the summary as the caller sees it, including points not written yet.
  nlohmann::json Summary() const;
  // Every summary key, with null for those removed: the patch that makes the store's summary
  // whole. Meant for after Stop(); before it, points still queued are missing.
  nlohmann::json FullSummary() const;

  // Writes what is queued and ends the writer thread. Idempotent.
  void Stop();

  // Producer: counts so far; points_logged - points_written were not (yet) recorded.
  RecordingStats stats() const;
  // The store's last error (ok when none), with its code.
  Status last_error() const;

 private:
  struct PredictedKey {
    uint32_t index = 0;
    std::string name;
  };
  struct TransparentHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  using KeyIndexMap = std::unordered_map<std::string, uint32_t, TransparentHash, std::equal_to<>>;

  void AppendOne(uint32_t position, std::string_view key, double value, int64_t step, double now) {
    const uint32_t index = KeyIndex(position, key);
    last_value_[index] = value;
    if (!ring_.HasRoom() && !WaitForRoom()) {
      dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return;
    }
    ring_.Push({index, step, value, now});
  }
  uint32_t KeyIndex(uint32_t position, std::string_view key) {
    if (position < predicted_.size() && std::string_view(predicted_[position].name) == key) {
      return predicted_[position].index;
    }
    return KeyIndexSlow(position, key);
  }
  void Published() {
    ring_.Publish();
    if (ring_.pushed() - kicked_at_ >= options_.batch_points) Kick();
  }

  uint32_t KeyIndexSlow(uint32_t position, std::string_view key);
  // The index of `key` in the shared table, adding it when new; mutex_ held.
  uint32_t InternLocked(std::string_view key);
  // Publishes, wakes the writer and waits for a free slot; false when the writer has stopped.
  bool WaitForRoom();
  void Kick();

  void WriterLoop();
  // One pass: takes every queued point, writes them, keeps the heartbeat.
  void WriteQueued(bool final_pass);
  void WriteBatch(const HistoryBatch& batch, const std::vector<char>& from_log);
  void RecordError(const Status& status);
  // Summary keys changed since the last successful write, or null when none; mutex_ held.
  nlohmann::json DirtySummaryLocked() const;

  const std::shared_ptr<RunStore> store_;
  const std::string run_id_;
  const WriterOptions options_;
  PointRing ring_;

  // Producer-only state.
  KeyIndexMap producer_index_;
  std::vector<PredictedKey> predicted_;
  std::vector<double> last_value_;       // by key index
  std::vector<uint32_t> producer_keys_;  // indices of keys given to Append, in first-use order
  uint64_t kicked_at_ = 0;
  std::atomic<int64_t> dropped_{0};
  std::atomic<bool> producer_waiting_{false};

  std::mutex stop_mutex_;  // serialises Stop() callers around the join

  // Shared state, under mutex_.
  mutable std::mutex mutex_;
  std::condition_variable wake_cv_;   // the writer waits on it
  std::condition_variable space_cv_;  // a producer waiting for room
  KeyIndexMap shared_index_;
  std::vector<std::string> shared_names_;
  std::vector<HistoryPoint> system_points_;
  std::map<std::string, nlohmann::json, std::less<>> overrides_;
  std::vector<std::string> dirty_overrides_;
  bool wake_ = false;
  bool stop_requested_ = false;
  bool stopped_ = false;
  Status last_error_;

  // Writer-thread state (read by FullSummary under mutex_ or after Stop).
  std::vector<std::string> writer_names_;
  std::vector<double> writer_last_;  // by key index, for keys given to Append
  std::vector<char> writer_logged_;
  std::vector<char> writer_dirty_;
  std::vector<int32_t> batch_slot_;  // key index -> index in the batch being built, or -1
  HistoryBatch batch_;
  std::vector<char> batch_from_log_;
  std::chrono::steady_clock::time_point last_heartbeat_;
  std::atomic<int64_t> written_{0};
  std::atomic<int64_t> lost_{0};

  std::thread thread_;
};

}  // namespace labbook::track
