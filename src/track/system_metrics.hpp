// SystemMetricsSampler: a background thread that samples this process and the machine from /proc
// every interval and hands the values to a callback, as history points under "system/":
//   system/cpu_percent          the machine's CPU use, 0-100 over all cores
//   system/process_cpu_percent  this process's CPU use, 100 per fully busy core
//   system/process_rss_mb       this process's resident memory, MiB
//   system/memory_percent       the machine's memory in use (MemTotal - MemAvailable), 0-100
// The step of a sample is its number (0, 1, ...). The first sample comes one interval after the
// start, since CPU percentages need two readings. A value that cannot be read (no /proc) is left
// out of its sample.
//
// Thread safety: construct and destroy from one thread; the callback runs on the sampler thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "track/proc_stats.hpp"

namespace labbook::track {

using SystemSample = std::vector<std::pair<std::string, double>>;

// The /proc readings one sample is computed from.
struct ProcReadings {
  std::optional<CpuTicks> system_cpu;
  std::optional<uint64_t> process_cpu_ticks;
  std::optional<uint64_t> resident_pages;
  std::optional<double> memory_used_percent;
  double elapsed_s = 0;  // wall time since the previous readings (steady clock)
};

// Reads /proc/stat, /proc/self/stat, /proc/self/statm and /proc/meminfo now.
ProcReadings ReadProcNow();

// The sample between two readings, given the clock tick rate and page size.
SystemSample ComputeSystemSample(const ProcReadings& before, const ProcReadings& now,
                                 double ticks_per_second, double page_bytes);

class SystemMetricsSampler {
 public:
  // Starts sampling every `interval` (> 0) into `sink`.
  SystemMetricsSampler(std::chrono::duration<double> interval,
                       std::function<void(const SystemSample&, int64_t step)> sink);
  ~SystemMetricsSampler();  // stops and joins; the callback is not called afterwards
  SystemMetricsSampler(const SystemMetricsSampler&) = delete;
  SystemMetricsSampler& operator=(const SystemMetricsSampler&) = delete;

 private:
  void Loop();

  const std::chrono::duration<double> interval_;
  const std::function<void(const SystemSample&, int64_t)> sink_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace labbook::track
