// A world of ranks that are threads of one process, for tests of data-parallel code without
// mpirun. ThreadWorld(n) holds n communicators; thread r drives world.rank(r). Collectives meet at
// a barrier, read every rank's buffer in rank order (so all ranks get bit-identical sums, as MPI
// promises) and meet again before anyone writes.
#pragma once

#include <barrier>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "distributed/communicator.hpp"

namespace labbook::testing {

class ThreadWorld {
 public:
  explicit ThreadWorld(int size) : barrier_(size), slots_(static_cast<size_t>(size)) {
    for (int r = 0; r < size; ++r) ranks_.push_back(std::make_unique<Rank>(this, r));
  }

  distributed::Communicator& rank(int r) { return *ranks_[static_cast<size_t>(r)]; }
  int size() const { return static_cast<int>(ranks_.size()); }

 private:
  struct Slot {
    const void* data = nullptr;
    size_t bytes = 0;
  };

  class Rank final : public distributed::Communicator {
   public:
    Rank(ThreadWorld* world, int rank) : world_(world), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return world_->size(); }
    Status AllreduceSum(std::span<float> values) override { return Sum(values); }
    Status AllreduceSum(std::span<double> values) override { return Sum(values); }
    Status Broadcast(std::span<std::byte> bytes, int root) override {
      world_->Deposit(rank_, bytes.data(), bytes.size());
      if (rank_ != root) {
        const Slot& from = world_->slots_[static_cast<size_t>(root)];
        if (from.bytes != bytes.size()) throw std::logic_error("Broadcast: lengths differ");
        std::memcpy(bytes.data(), from.data, bytes.size());
      }
      world_->barrier_.arrive_and_wait();
      return Status::Ok();
    }
    Result<std::vector<std::string>> Gather(std::string_view bytes, int root) override {
      world_->Deposit(rank_, bytes.data(), bytes.size());
      std::vector<std::string> all;
      if (rank_ == root) {
        for (const Slot& s : world_->slots_) {
          all.emplace_back(static_cast<const char*>(s.data), s.bytes);
        }
      }
      world_->barrier_.arrive_and_wait();
      return all;
    }
    [[noreturn]] void Abort(int /*exit_code*/) override {
      throw std::logic_error("Abort called in a thread world");
    }

   private:
    template <typename T>
    Status Sum(std::span<T> values) {
      world_->Deposit(rank_, values.data(), values.size_bytes());
      std::vector<T> sum(values.size(), T{0});
      for (const Slot& s : world_->slots_) {
        if (s.bytes != values.size_bytes()) throw std::logic_error("Allreduce: lengths differ");
        const T* other = static_cast<const T*>(s.data);
        for (size_t i = 0; i < sum.size(); ++i) sum[i] += other[i];
      }
      world_->barrier_.arrive_and_wait();  // everyone has read every buffer
      std::copy(sum.begin(), sum.end(), values.begin());
      return Status::Ok();
    }

    ThreadWorld* world_;
    int rank_;
  };

  // Publishes this rank's buffer and waits until every rank has published.
  void Deposit(int rank, const void* data, size_t bytes) {
    // The previous collective's readers are done once everyone reaches this barrier.
    barrier_.arrive_and_wait();
    slots_[static_cast<size_t>(rank)] = {data, bytes};
    barrier_.arrive_and_wait();
  }

  std::barrier<> barrier_;
  std::vector<Slot> slots_;
  std::vector<std::unique_ptr<Rank>> ranks_;
};

}  // namespace labbook::testing
