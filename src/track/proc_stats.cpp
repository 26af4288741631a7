#include "track/proc_stats.hpp"

#include <unistd.h>

#include <charconv>
#include <fstream>
#include <iterator>
#include <vector>

namespace labbook::track {

namespace {

// The whitespace-separated fields of `text`.
std::vector<std::string_view> Fields(std::string_view text) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
    const size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t' && text[i] != '\n') ++i;
    if (i > start) fields.push_back(text.substr(start, i - start));
  }
  return fields;
}

std::optional<uint64_t> ToUnsigned(std::string_view text) {
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The line of `text` that starts with `prefix`, without the prefix.
std::optional<std::string_view> LineAfter(std::string_view text, std::string_view prefix) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (line.starts_with(prefix)) return line.substr(prefix.size());
    pos = end + 1;
  }
  return std::nullopt;
}

std::optional<uint64_t> MeminfoKilobytes(std::string_view meminfo, std::string_view name) {
  auto line = LineAfter(meminfo, name);
  if (!line) return std::nullopt;
  auto fields = Fields(*line);
  if (fields.empty()) return std::nullopt;
  return ToUnsigned(fields[0]);
}

}  // namespace

std::optional<std::string> ReadProcFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::nullopt;
  return text;
}

std::optional<CpuTicks> ParseSystemCpuTicks(std::string_view proc_stat) {
  auto line = LineAfter(proc_stat, "cpu ");
  if (!line) return std::nullopt;
  auto fields = Fields(*line);
  // user nice system idle iowait irq softirq steal [guest guest_nice]; guest time is already
  // counted in user and nice.
  if (fields.size() < 4) return std::nullopt;
  CpuTicks ticks;
  uint64_t idle = 0;
  for (size_t i = 0; i < fields.size() && i < 8; ++i) {
    auto value = ToUnsigned(fields[i]);
    if (!value) return std::nullopt;
    ticks.total += *value;
    if (i == 3 || i == 4) idle += *value;
  }
  ticks.busy = ticks.total - idle;
  return ticks;
}

std::optional<ProcessTicks> ParseProcessTicks(std::string_view pid_stat) {
  const size_t name_end = pid_stat.rfind(')');
  if (name_end == std::string_view::npos) return std::nullopt;
  // After the name: field 3 (state) is index 0, so field n is index n - 3.
  auto fields = Fields(pid_stat.substr(name_end + 1));
  if (fields.size() < 20) return std::nullopt;
  auto utime = ToUnsigned(fields[14 - 3]);
  auto stime = ToUnsigned(fields[15 - 3]);
  auto start = ToUnsigned(fields[22 - 3]);
  if (!utime || !stime || !start) return std::nullopt;
  return ProcessTicks{*utime + *stime, *start};
}

std::optional<uint64_t> ParseResidentPages(std::string_view statm) {
  auto fields = Fields(statm);
  if (fields.size() < 2) return std::nullopt;
  return ToUnsigned(fields[1]);
}

std::optional<double> ParseMemoryUsedPercent(std::string_view meminfo) {
  auto total = MeminfoKilobytes(meminfo, "MemTotal:");
  auto available = MeminfoKilobytes(meminfo, "MemAvailable:");
  if (!total || !available || *total == 0 || *available > *total) return std::nullopt;
  return 100.0 * static_cast<double>(*total - *available) / static_cast<double>(*total);
}

std::optional<double> ParseBootTime(std::string_view proc_stat) {
  auto line = LineAfter(proc_stat, "btime ");
  if (!line) return std::nullopt;
  auto fields = Fields(*line);
  if (fields.empty()) return std::nullopt;
  auto value = ToUnsigned(fields[0]);
  if (!value) return std::nullopt;
  return static_cast<double>(*value);
}

std::optional<double> ProcessStartTime(pid_t pid) {
  auto stat = ReadProcFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return std::nullopt;
  auto ticks = ParseProcessTicks(*stat);
  auto system_stat = ReadProcFile("/proc/stat");
  if (!ticks || !system_stat) return std::nullopt;
  auto boot = ParseBootTime(*system_stat);
  const long ticks_per_second = sysconf(_SC_CLK_TCK);
  if (!boot || ticks_per_second <= 0) return std::nullopt;
  return *boot + static_cast<double>(ticks->start) / static_cast<double>(ticks_per_second);
}

}  // namespace labbook::track
