// Readers of Linux's /proc files, for the system metrics sampler and the liveness checks. The
// parsers take the file's text so tests can feed them fixed samples; each returns nullopt when
// the text does not have the expected shape.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace labbook::track {

// The whole file, or nullopt when it cannot be read (e.g. /proc/<pid>/stat of a gone process).
std::optional<std::string> ReadProcFile(const std::string& path);

// Aggregate CPU time of the machine, in clock ticks, from the "cpu" line of /proc/stat.
struct CpuTicks {
  uint64_t busy = 0;   // total minus idle and iowait
  uint64_t total = 0;  // every field up to steal
};
std::optional<CpuTicks> ParseSystemCpuTicks(std::string_view proc_stat);

// From /proc/<pid>/stat: utime + stime (fields 14 and 15) and starttime (field 22), in clock
// ticks. The command name (field 2) may hold spaces and parentheses; parsing starts after its
// last ')'.
struct ProcessTicks {
  uint64_t cpu = 0;
  uint64_t start = 0;  // since boot
};
std::optional<ProcessTicks> ParseProcessTicks(std::string_view pid_stat);

// Resident set size in pages: the second field of /proc/<pid>/statm.
std::optional<uint64_t> ParseResidentPages(std::string_view statm);

// 100 * (MemTotal - MemAvailable) / MemTotal from /proc/meminfo.
std::optional<double> ParseMemoryUsedPercent(std::string_view meminfo);

// The boot time ("btime", Unix seconds) from /proc/stat.
std::optional<double> ParseBootTime(std::string_view proc_stat);

// When process `pid` started, in Unix seconds (accurate to about a second: btime is whole
// seconds), or nullopt when there is no such process or /proc is unreadable.
std::optional<double> ProcessStartTime(pid_t pid);

}  // namespace labbook::track
