#include "track/history_writer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace labbook::track {

HistoryWriter::HistoryWriter(std::shared_ptr<RunStore> store, std::string run_id,
                             WriterOptions options)
    : store_(std::move(store)),
      run_id_(std::move(run_id)),
      options_(options),
      ring_(options.queue_capacity),
      last_heartbeat_(std::chrono::steady_clock::now()) {
  batch_.points.reserve(ring_.capacity());
  batch_from_log_.reserve(ring_.capacity());
  thread_ = std::thread([this] { WriterLoop(); });
}

HistoryWriter::~HistoryWriter() { Stop(); }

uint32_t HistoryWriter::InternLocked(std::string_view key) {
  if (auto it = shared_index_.find(key); it != shared_index_.end()) return it->second;
  const auto index = static_cast<uint32_t>(shared_names_.size());
  shared_names_.emplace_back(key);
  shared_index_.emplace(std::string(key), index);
  return index;
}

uint32_t HistoryWriter::KeyIndexSlow(uint32_t position, std::string_view key) {
  uint32_t index = 0;
  if (auto it = producer_index_.find(key); it != producer_index_.end()) {
    index = it->second;
  } else {
    {
      std::lock_guard lock(mutex_);
      index = InternLocked(key);
    }
    producer_index_.emplace(std::string(key), index);
    producer_keys_.push_back(index);
    if (last_value_.size() <= index) {
      last_value_.resize(index + 1, std::numeric_limits<double>::quiet_NaN());
    }
  }
  if (position >= predicted_.size()) predicted_.resize(position + 1);
  predicted_[position].index = index;
  predicted_[position].name.assign(key);
  return index;
}

void HistoryWriter::Kick() {
  kicked_at_ = ring_.pushed();
  {
    std::lock_guard lock(mutex_);
    wake_ = true;
  }
  wake_cv_.notify_one();
}

bool HistoryWriter::WaitForRoom() {
  ring_.Publish();
  Kick();
  std::unique_lock lock(mutex_);
  producer_waiting_.store(true);
  bool room = true;
  while (!ring_.HasRoom()) {
    if (stopped_) {
      room = false;
      break;
    }
    // The writer notifies after each pass that frees slots; the timeout only bounds the cost of
    // a notification that raced with the flag.
    space_cv_.wait_for(lock, std::chrono::milliseconds(10));
  }
  producer_waiting_.store(false);
  return room;
}

void HistoryWriter::AppendSystem(const std::vector<std::pair<std::string, double>>& values,
                                 int64_t step) {
  const double now = CoarseWallTime();
  std::lock_guard lock(mutex_);
  if (stop_requested_) return;
  for (const auto& [key, value] : values) {
    system_points_.push_back({InternLocked(key), step, value, now});
  }
}

void HistoryWriter::SetSummary(std::string_view key, nlohmann::json value) {
  std::lock_guard lock(mutex_);
  overrides_[std::string(key)] = std::move(value);
  dirty_overrides_.emplace_back(key);
}

nlohmann::json HistoryWriter::Summary() const {
  nlohmann::json summary = nlohmann::json::object();
  std::lock_guard lock(mutex_);
  for (uint32_t index : producer_keys_) summary[shared_names_[index]] = last_value_[index];
  for (const auto& [key, value] : overrides_) {
    if (value.is_null()) {
      summary.erase(key);
    } else {
      summary[key] = value;
    }
  }
  return summary;
}

nlohmann::json HistoryWriter::FullSummary() const {
  nlohmann::json summary = nlohmann::json::object();
  std::lock_guard lock(mutex_);
  for (size_t index = 0; index < writer_logged_.size(); ++index) {
    if (writer_logged_[index]) summary[writer_names_[index]] = writer_last_[index];
  }
  for (const auto& [key, value] : overrides_) summary[key] = value;
  return summary;
}

nlohmann::json HistoryWriter::DirtySummaryLocked() const {
  nlohmann::json patch = nlohmann::json::object();
  for (size_t index = 0; index < writer_dirty_.size(); ++index) {
    if (writer_dirty_[index] && !overrides_.contains(writer_names_[index])) {
      patch[writer_names_[index]] = writer_last_[index];
    }
  }
  for (const std::string& key : dirty_overrides_) patch[key] = overrides_.at(key);
  if (patch.empty()) return nullptr;
  return patch;
}

void HistoryWriter::Stop() {
  std::lock_guard stopping(stop_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stop_requested_ = true;
  }
  wake_cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  space_cv_.notify_all();
}

RecordingStats HistoryWriter::stats() const {
  RecordingStats stats;
  const int64_t dropped = dropped_.load(std::memory_order_relaxed);
  stats.points_logged = static_cast<int64_t>(ring_.pushed()) + dropped;
  stats.points_written = written_.load();
  stats.points_lost = lost_.load() + dropped;
  std::lock_guard lock(mutex_);
  if (!last_error_.ok()) stats.last_error = last_error_.ToString();
  return stats;
}

Status HistoryWriter::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

void HistoryWriter::WriterLoop() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_cv_.wait_for(lock, options_.flush_interval, [&] { return wake_ || stop_requested_; });
    const bool final_pass = stop_requested_;
    wake_ = false;
    lock.unlock();
    WriteQueued(final_pass);
    if (final_pass) return;
    lock.lock();
  }
}

void HistoryWriter::WriteQueued(bool final_pass) {
  // The published position is read before the key names: the producer adds a key's name before
  // it publishes the key's first point.
  const uint64_t head = ring_.consumed();
  const uint64_t tail = ring_.published();
  std::vector<HistoryPoint> system_points;
  {
    std::lock_guard lock(mutex_);
    system_points.swap(system_points_);
    while (writer_names_.size() < shared_names_.size()) {
      writer_names_.push_back(shared_names_[writer_names_.size()]);
    }
    // Resized under the lock: FullSummary reads them.
    writer_last_.resize(writer_names_.size());
    writer_logged_.resize(writer_names_.size());
    writer_dirty_.resize(writer_names_.size());
  }
  batch_slot_.resize(writer_names_.size(), -1);

  batch_.keys.clear();
  batch_.points.clear();
  batch_from_log_.clear();
  std::vector<uint32_t> batch_keys;
  auto add = [&](HistoryPoint point, bool from_log) {
    int32_t& slot = batch_slot_[point.key];
    if (slot < 0) {
      slot = static_cast<int32_t>(batch_.keys.size());
      batch_.keys.push_back(writer_names_[point.key]);
      batch_keys.push_back(point.key);
    }
    point.key = static_cast<uint32_t>(slot);
    batch_.points.push_back(point);
    batch_from_log_.push_back(from_log ? 1 : 0);
  };
  {
    // The summary's values change under the lock, FullSummary's readers being elsewhere.
    std::lock_guard lock(mutex_);
    for (uint64_t i = head; i < tail; ++i) {
      const HistoryPoint& point = ring_.At(i);
      writer_last_[point.key] = point.value;
      writer_logged_[point.key] = 1;
      writer_dirty_[point.key] = 1;
    }
  }
  for (uint64_t i = head; i < tail; ++i) add(ring_.At(i), true);
  ring_.Consume(tail);
  if (producer_waiting_.load()) {
    std::lock_guard lock(mutex_);
    space_cv_.notify_all();
  }
  for (const HistoryPoint& point : system_points) add(point, false);
  for (uint32_t key : batch_keys) batch_slot_[key] = -1;

  if (!batch_.points.empty()) WriteBatch(batch_, batch_from_log_);

  // The final state and summary are the run's business at Finish; the heartbeat stops here.
  const auto now = std::chrono::steady_clock::now();
  if (final_pass || now - last_heartbeat_ < options_.heartbeat_interval) return;
  last_heartbeat_ = now;
  RunUpdate update;
  update.heartbeat_time = CoarseWallTime();
  std::vector<std::string> sent_overrides;
  {
    std::lock_guard lock(mutex_);
    nlohmann::json patch = DirtySummaryLocked();
    if (!patch.is_null()) update.summary_patch = std::move(patch);
    sent_overrides.swap(dirty_overrides_);
  }
  Status status = store_->UpdateRun(run_id_, update);
  std::lock_guard lock(mutex_);
  if (status.ok()) {
    std::fill(writer_dirty_.begin(), writer_dirty_.end(), 0);
  } else {
    last_error_ = status;
    dirty_overrides_.insert(dirty_overrides_.end(), sent_overrides.begin(), sent_overrides.end());
  }
}

void HistoryWriter::WriteBatch(const HistoryBatch& batch, const std::vector<char>& from_log) {
  const auto logged = static_cast<int64_t>(std::count(from_log.begin(), from_log.end(), 1));
  Status status = store_->LogHistory(run_id_, batch);
  if (status.ok()) {
    written_ += logged;
    return;
  }
  if (status.code() == ErrorCode::kInvalidArgument && batch.keys.size() > 1) {
    // One key the store refuses must not take the other keys' points with it.
    for (uint32_t key = 0; key < batch.keys.size(); ++key) {
      HistoryBatch single;
      single.keys.push_back(batch.keys[key]);
      int64_t single_logged = 0;
      for (size_t i = 0; i < batch.points.size(); ++i) {
        if (batch.points[i].key != key) continue;
        HistoryPoint point = batch.points[i];
        point.key = 0;
        single.points.push_back(point);
        single_logged += from_log[i];
      }
      Status single_status = store_->LogHistory(run_id_, single);
      if (single_status.ok()) {
        written_ += single_logged;
      } else {
        lost_ += single_logged;
        RecordError(single_status);
      }
    }
    return;
  }
  lost_ += logged;
  RecordError(status);
}

void HistoryWriter::RecordError(const Status& status) {
  std::lock_guard lock(mutex_);
  last_error_ = status;
}

}  // namespace labbook::track
