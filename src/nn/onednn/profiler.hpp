// Wall time per step label ("conv2d_1 bwd_weights", "dropout fwd", ...), summed over a model's
// life. Enabled by the environment variable LABBOOK_PROFILE=1; when disabled the model does not
// even read the clock. Not thread-safe: the one thread driving the model records.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace labbook::nn::onednn {

class Profiler {
 public:
  // True when LABBOOK_PROFILE is set to a value other than "" or "0".
  static bool EnabledByEnvironment();

  explicit Profiler(bool enabled) : enabled_(enabled) {}

  bool enabled() const { return enabled_; }
  // The slot of `label`, created on first use; equal labels share a slot.
  int Slot(const std::string& label);
  void Add(int slot, double seconds);
  // One line per label, largest total first: total ms, calls, ms per call, share of the total.
  // Empty when nothing was recorded.
  std::string Report() const;

 private:
  struct Entry {
    std::string label;
    double seconds = 0;
    int64_t calls = 0;
  };
  bool enabled_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, int> slots_;
};

}  // namespace labbook::nn::onednn
