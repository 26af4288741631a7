#include "distributed/communicator.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/status_macros.hpp"

namespace labbook::distributed {

void SingleProcessCommunicator::Abort(int exit_code) { std::exit(exit_code); }

bool LaunchedByMpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMIX_RANK") != nullptr;
}

Status BroadcastString(Communicator& comm, std::string& text, int root) {
  uint64_t length = text.size();
  LABBOOK_RETURN_IF_ERROR(comm.Broadcast(std::as_writable_bytes(std::span(&length, 1)), root));
  text.resize(static_cast<size_t>(length));
  return comm.Broadcast(std::as_writable_bytes(std::span(text.data(), text.size())), root);
}

Status CheckSameOnAllRanks(Communicator& comm, const std::string& text, std::string_view what) {
  if (comm.size() == 1) return Status::Ok();
  LABBOOK_ASSIGN_OR_RETURN(std::vector<std::string> all, comm.Gather(text, 0));
  // Rank 0 judges and tells everyone, so that every rank returns the same verdict and none waits
  // in a later collective for a rank that gave up.
  std::string verdict;
  for (size_t r = 1; r < all.size() && verdict.empty(); ++r) {
    if (all[r] != all[0]) {
      verdict = std::string(what) + " of rank " + std::to_string(r) + " differs from rank 0's; " +
                "every rank must be started with the same arguments and files";
    }
  }
  LABBOOK_RETURN_IF_ERROR(BroadcastString(comm, verdict, 0));
  if (!verdict.empty()) return InvalidArgument(verdict);
  return Status::Ok();
}

}  // namespace labbook::distributed
