// The MPI world behind the Communicator interface (Open MPI). Only JoinWorld touches MPI, and only
// when mpirun started the process.
#include <mpi.h>

#include <cstdio>
#include <limits>

#include "core/status_macros.hpp"
#include "distributed/communicator.hpp"

namespace labbook::distributed {
namespace {

Status MpiStatus(int code, std::string_view operation) {
  if (code == MPI_SUCCESS) return Status::Ok();
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return {ErrorCode::kUnavailable,
          "MPI " + std::string(operation) + " failed: " + std::string(text, length)};
}

// MPI counts are ints: longer buffers go in chunks.
constexpr size_t kMaxCount = static_cast<size_t>(std::numeric_limits<int>::max());

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(int rank, int size) : rank_(rank), size_(size) {}
  ~MpiCommunicator() override { MPI_Finalize(); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  Status AllreduceSum(std::span<float> values) override {
    return Allreduce(values.data(), values.size(), MPI_FLOAT);
  }
  Status AllreduceSum(std::span<double> values) override {
    return Allreduce(values.data(), values.size(), MPI_DOUBLE);
  }

  Status Broadcast(std::span<std::byte> bytes, int root) override {
    for (size_t done = 0; done < bytes.size();) {
      const size_t n = std::min(kMaxCount, bytes.size() - done);
      LABBOOK_RETURN_IF_ERROR(MpiStatus(
          MPI_Bcast(bytes.data() + done, static_cast<int>(n), MPI_BYTE, root, MPI_COMM_WORLD),
          "Bcast"));
      done += n;
    }
    return Status::Ok();
  }

  Result<std::vector<std::string>> Gather(std::string_view bytes, int root) override {
    if (bytes.size() > kMaxCount) return InvalidArgument("Gather: more than 2 GiB from a rank");
    int length = static_cast<int>(bytes.size());
    std::vector<int> lengths(rank_ == root ? static_cast<size_t>(size_) : 0);
    LABBOOK_RETURN_IF_ERROR(
        MpiStatus(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, root, MPI_COMM_WORLD),
                  "Gather"));
    std::vector<int> offsets(lengths.size());
    int64_t total = 0;
    for (size_t r = 0; r < lengths.size(); ++r) {
      offsets[r] = static_cast<int>(total);
      total += lengths[r];
    }
    if (total > static_cast<int64_t>(kMaxCount)) {
      return InvalidArgument("Gather: more than 2 GiB in all");
    }
    std::string all(static_cast<size_t>(total), '\0');
    LABBOOK_RETURN_IF_ERROR(
        MpiStatus(MPI_Gatherv(bytes.data(), length, MPI_BYTE, all.data(), lengths.data(),
                              offsets.data(), MPI_BYTE, root, MPI_COMM_WORLD),
                  "Gatherv"));
    std::vector<std::string> parts;
    for (size_t r = 0; r < lengths.size(); ++r) parts.push_back(all.substr(offsets[r], lengths[r]));
    return parts;
  }

  [[noreturn]] void Abort(int exit_code) override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::_Exit(exit_code);  // MPI_Abort does not return; this satisfies [[noreturn]]
  }

 private:
  Status Allreduce(void* data, size_t count, MPI_Datatype type) {
    const size_t element = type == MPI_FLOAT ? sizeof(float) : sizeof(double);
    for (size_t done = 0; done < count;) {
      const size_t n = std::min(kMaxCount, count - done);
      LABBOOK_RETURN_IF_ERROR(
          MpiStatus(MPI_Allreduce(MPI_IN_PLACE, static_cast<std::byte*>(data) + done * element,
                                  static_cast<int>(n), type, MPI_SUM, MPI_COMM_WORLD),
                    "Allreduce"));
      done += n;
    }
    return Status::Ok();
  }

  int rank_;
  int size_;
};

}  // namespace

Result<std::unique_ptr<Communicator>> JoinWorld() {
  if (!LaunchedByMpirun()) return std::unique_ptr<Communicator>(new SingleProcessCommunicator());
  int provided = 0;
  // Funneled: helper threads (batch preparation, the run's writer) never call MPI.
  LABBOOK_RETURN_IF_ERROR(
      MpiStatus(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "Init"));
  // Errors come back as codes, so that the failing rank can say what failed before aborting.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0;
  int size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return std::unique_ptr<Communicator>(new MpiCommunicator(rank, size));
}

}  // namespace labbook::distributed
