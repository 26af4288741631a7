#include "metrics/key_buffer.hpp"

#include <cstdlib>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace labbook::metrics::internal {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

}  // namespace

void KeyBuffer::Free::operator()(uint64_t* p) const { std::free(p); }

KeyBuffer::KeyBuffer(size_t n) {
  const size_t bytes = n * sizeof(uint64_t);
  if (bytes < kHugePage) {
    data_.reset(static_cast<uint64_t*>(std::malloc(bytes > 0 ? bytes : 1)));
    return;
  }
  const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  data_.reset(static_cast<uint64_t*>(std::aligned_alloc(kHugePage, rounded)));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // Only a hint: without huge pages the sort is merely slower.
  if (data_ != nullptr) madvise(data_.get(), rounded, MADV_HUGEPAGE);
#endif
}

}  // namespace labbook::metrics::internal
