// The seam between data-parallel training and MPI. The trainer averages gradients, agrees on
// metrics and shares the initial weights through a Communicator; whether one process runs
// (SingleProcessCommunicator) or mpirun started several (the MPI world) is decided once, in
// JoinWorld, so no other code knows whether MPI is there.
//
// Collectives: every rank calls the same collectives in the same order with the same lengths
// (unless a function says otherwise), from the one thread that drives training. A failed
// collective returns Unavailable naming the operation; the caller then ends every rank with
// Abort, since the others may wait in a collective that never completes.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "labbook/status.hpp"

namespace labbook::distributed {

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;  // 0 .. size() - 1; rank 0 owns files, the run and the terminal
  virtual int size() const = 0;

  // Replaces `values` on every rank by their element-wise sum over all ranks. All ranks get
  // bit-identical sums (the summation order does not depend on the rank).
  [[nodiscard]] virtual Status AllreduceSum(std::span<float> values) = 0;
  [[nodiscard]] virtual Status AllreduceSum(std::span<double> values) = 0;

  // Copies rank `root`'s `bytes` into every other rank's `bytes` (same length everywhere).
  [[nodiscard]] virtual Status Broadcast(std::span<std::byte> bytes, int root) = 0;

  // Every rank's `bytes` (lengths may differ) at `root`, in rank order; empty on other ranks.
  [[nodiscard]] virtual Result<std::vector<std::string>> Gather(std::string_view bytes,
                                                                int root) = 0;

  // Ends the processes of every rank with `exit_code`. The caller reports why first.
  [[noreturn]] virtual void Abort(int exit_code) = 0;
};

// One process: collectives are the identity, Abort exits.
class SingleProcessCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  Status AllreduceSum(std::span<float> /*values*/) override { return Status::Ok(); }
  Status AllreduceSum(std::span<double> /*values*/) override { return Status::Ok(); }
  Status Broadcast(std::span<std::byte> /*bytes*/, int /*root*/) override { return Status::Ok(); }
  Result<std::vector<std::string>> Gather(std::string_view bytes, int /*root*/) override {
    return std::vector<std::string>{std::string(bytes)};
  }
  [[noreturn]] void Abort(int exit_code) override;
};

// Whether mpirun (Open MPI's ORTE or PMIx) started this process: OMPI_COMM_WORLD_SIZE or
// PMIX_RANK is in the environment. MPI is never initialised otherwise.
bool LaunchedByMpirun();

// The world this process trains in: the MPI world when LaunchedByMpirun (MPI initialised now,
// finalised when the returned object is destroyed; call at most once per process), else a
// SingleProcessCommunicator. Unavailable when MPI cannot be initialised.
[[nodiscard]] Result<std::unique_ptr<Communicator>> JoinWorld();

// Broadcasts a string of any length from `root` (its length first).
[[nodiscard]] Status BroadcastString(Communicator& comm, std::string& text, int root);

// InvalidArgument on every rank when `text` (e.g. a resolved config) differs between ranks,
// naming `what` and the first rank that differs from rank 0; Ok on every rank otherwise.
[[nodiscard]] Status CheckSameOnAllRanks(Communicator& comm, const std::string& text,
                                         std::string_view what);

}  // namespace labbook::distributed
