// Large scratch arrays of sort keys.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace labbook::metrics::internal {

// An uninitialised array of n keys, aligned to 2 MiB and, on Linux, backed by transparent huge
// pages when the system allows: the radix sort's scattered writes then miss the TLB far less
// often. data() is nullptr when the memory could not be allocated.
class KeyBuffer {
 public:
  explicit KeyBuffer(size_t n);
  uint64_t* data() const { return data_.get(); }

 private:
  struct Free {
    void operator()(uint64_t* p) const;
  };
  std::unique_ptr<uint64_t[], Free> data_;
};

}  // namespace labbook::metrics::internal
