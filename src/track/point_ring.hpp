// PointRing: the bounded queue between Run::Log (one producer, the training thread) and the
// writer thread (one consumer). A fixed array of history points indexed by two ever-growing
// counters; the producer writes slots and publishes them with one release store per Log call,
// the consumer copies them out and releases them with one store per batch. No allocation after
// construction and no lock on either side.
//
// Thread safety: producer calls (HasRoom, Push, Publish, pushed) from one thread only; consumer
// calls (At, Consume) from one other thread only; published() and consumed() from any thread.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "track/store.hpp"

namespace labbook::track {

class PointRing {
 public:
  // `capacity` is rounded up to a power of two (at least 2).
  explicit PointRing(size_t capacity)
      : capacity_(std::bit_ceil(capacity < 2 ? size_t{2} : capacity)),
        mask_(capacity_ - 1),
        slots_(std::make_unique<HistoryPoint[]>(capacity_)) {}

  size_t capacity() const { return capacity_; }

  // Producer: whether one more point fits, looking at the consumer's position only when the
  // cached one says the ring is full.
  bool HasRoom() {
    if (tail_ - head_cache_ < capacity_) return true;
    head_cache_ = head_.load(std::memory_order_seq_cst);
    return tail_ - head_cache_ < capacity_;
  }
  // Producer: writes a point after HasRoom() said it fits; the consumer sees it after Publish().
  void Push(const HistoryPoint& point) { slots_[tail_++ & mask_] = point; }
  void Publish() { published_.store(tail_, std::memory_order_release); }
  // Producer: points pushed so far, published or not.
  uint64_t pushed() const { return tail_; }

  // Consumer: the point at `index`, for consumed() <= index < published().
  const HistoryPoint& At(uint64_t index) const { return slots_[index & mask_]; }
  // Consumer: gives the slots before `index` back to the producer.
  void Consume(uint64_t index) { head_.store(index, std::memory_order_seq_cst); }

  uint64_t published() const { return published_.load(std::memory_order_acquire); }
  uint64_t consumed() const { return head_.load(std::memory_order_acquire); }

 private:
  const size_t capacity_;
  const size_t mask_;
  std::unique_ptr<HistoryPoint[]> slots_;
  // Producer-owned and consumer-owned counters on separate cache lines, so neither side's
  // writes evict the other's reads.
  alignas(64) uint64_t tail_ = 0;
  uint64_t head_cache_ = 0;
  alignas(64) std::atomic<uint64_t> published_{0};
  alignas(64) std::atomic<uint64_t> head_{0};
};

}  // namespace labbook::track
