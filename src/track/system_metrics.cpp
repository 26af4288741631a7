#include "track/system_metrics.hpp"

#include <unistd.h>

namespace labbook::track {

ProcReadings ReadProcNow() {
  ProcReadings readings;
  if (auto text = ReadProcFile("/proc/stat")) readings.system_cpu = ParseSystemCpuTicks(*text);
  if (auto text = ReadProcFile("/proc/self/stat")) {
    if (auto ticks = ParseProcessTicks(*text)) readings.process_cpu_ticks = ticks->cpu;
  }
  if (auto text = ReadProcFile("/proc/self/statm")) {
    readings.resident_pages = ParseResidentPages(*text);
  }
  if (auto text = ReadProcFile("/proc/meminfo")) {
    readings.memory_used_percent = ParseMemoryUsedPercent(*text);
  }
  return readings;
}

SystemSample ComputeSystemSample(const ProcReadings& before, const ProcReadings& now,
                                 double ticks_per_second, double page_bytes) {
  SystemSample sample;
  if (before.system_cpu && now.system_cpu && now.system_cpu->total > before.system_cpu->total &&
      now.system_cpu->busy >= before.system_cpu->busy) {
    const double busy = static_cast<double>(now.system_cpu->busy - before.system_cpu->busy);
    const double total = static_cast<double>(now.system_cpu->total - before.system_cpu->total);
    sample.emplace_back("system/cpu_percent", 100.0 * busy / total);
  }
  if (before.process_cpu_ticks && now.process_cpu_ticks && now.elapsed_s > 0 &&
      *now.process_cpu_ticks >= *before.process_cpu_ticks && ticks_per_second > 0) {
    const double seconds =
        static_cast<double>(*now.process_cpu_ticks - *before.process_cpu_ticks) / ticks_per_second;
    sample.emplace_back("system/process_cpu_percent", 100.0 * seconds / now.elapsed_s);
  }
  if (now.resident_pages) {
    sample.emplace_back("system/process_rss_mb",
                        static_cast<double>(*now.resident_pages) * page_bytes / (1024.0 * 1024.0));
  }
  if (now.memory_used_percent) {
    sample.emplace_back("system/memory_percent", *now.memory_used_percent);
  }
  return sample;
}

SystemMetricsSampler::SystemMetricsSampler(
    std::chrono::duration<double> interval,
    std::function<void(const SystemSample&, int64_t step)> sink)
    : interval_(interval), sink_(std::move(sink)) {
  thread_ = std::thread([this] { Loop(); });
}

SystemMetricsSampler::~SystemMetricsSampler() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void SystemMetricsSampler::Loop() {
  const double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page_bytes = static_cast<double>(sysconf(_SC_PAGESIZE));
  ProcReadings previous = ReadProcNow();
  auto previous_time = std::chrono::steady_clock::now();
  int64_t step = 0;
  std::unique_lock lock(mutex_);
  while (!cv_.wait_for(lock, interval_, [&] { return stop_; })) {
    lock.unlock();
    ProcReadings current = ReadProcNow();
    const auto now = std::chrono::steady_clock::now();
    current.elapsed_s = std::chrono::duration<double>(now - previous_time).count();
    SystemSample sample = ComputeSystemSample(previous, current, ticks_per_second, page_bytes);
    if (!sample.empty()) sink_(sample, step++);
    previous = std::move(current);
    previous_time = now;
    lock.lock();
  }
}

}  // namespace labbook::track
