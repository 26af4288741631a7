// The wall clock of the time stamps labbook stores (runs, points, artifacts, keys).
#pragma once

#include <chrono>

namespace labbook {

// Seconds since the Unix epoch by the system clock, with sub-second precision.
inline double UnixSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace labbook
