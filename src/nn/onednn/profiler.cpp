#include "nn/onednn/profiler.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace labbook::nn::onednn {

bool Profiler::EnabledByEnvironment() {
  const char* value = std::getenv("LABBOOK_PROFILE");
  return value != nullptr && value[0] != '\0' && std::strcmp(value, "0") != 0;
}

int Profiler::Slot(const std::string& label) {
  auto [it, inserted] = slots_.try_emplace(label, static_cast<int>(entries_.size()));
  if (inserted) entries_.push_back({label, 0.0, 0});
  return it->second;
}

void Profiler::Add(int slot, double seconds) {
  entries_[slot].seconds += seconds;
  entries_[slot].calls += 1;
}

std::string Profiler::Report() const {
  std::vector<Entry> sorted;
  double total = 0;
  for (const Entry& e : entries_) {
    if (e.calls == 0) continue;
    sorted.push_back(e);
    total += e.seconds;
  }
  if (sorted.empty()) return "";
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Entry& a, const Entry& b) { return a.seconds > b.seconds; });
  std::string out;
  char line[200];
  std::snprintf(line, sizeof line, "%-36s %10s %8s %10s %7s\n", "step", "total ms", "calls",
                "ms/call", "share");
  out += line;
  for (const Entry& e : sorted) {
    std::snprintf(line, sizeof line, "%-36s %10.1f %8lld %10.3f %6.1f%%\n", e.label.c_str(),
                  e.seconds * 1e3, static_cast<long long>(e.calls), e.seconds * 1e3 / e.calls,
                  100.0 * e.seconds / total);
    out += line;
  }
  std::snprintf(line, sizeof line, "%-36s %10.1f\n", "total", total * 1e3);
  out += line;
  return out;
}

}  // namespace labbook::nn::onednn
