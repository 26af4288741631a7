// distributed_bench: data-parallel training on one machine, `labbook train` in one process with
// T threads against `mpirun -np R` ranks of T / R threads each, on the same config and global
// batch; and the cost of the gradient allreduce alone, for extrapolating to more ranks.
//
//   distributed_bench [--config examples/keras-cnn.yaml] [--dataset mnist-digits] [--epochs 1]
//                     [--threads 2] [--ranks 2] [--iterations 200] [--btl self,vader]
//
// --btl picks Open MPI's transport between the ranks: self,vader (shared memory, the default) or
// self,tcp (loopback TCP, nearer to what a network costs).
// Each training run records into its own store in a temporary directory (validation_split 0, so
// epoch/samples_per_second is training alone); the report gives samples/s of both, the measured
// allreduce time and bytes per step inside training (which includes waiting for the slower rank)
// and, from a separate `mpirun` of this program with --allreduce-bytes, the allreduce of the same
// bytes in the same number of buckets with nothing else running (the wire and reduction cost),
// and of single buffers from 4 KiB to 16 MiB (latency and bandwidth, for a cost model).
// Exit status: 0, 1 when a run fails, 2 on a usage error.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "distributed/communicator.hpp"
#include "track/store.hpp"

namespace {

namespace fs = std::filesystem;
using labbook::Result;

struct Options {
  std::string config = LABBOOK_SOURCE_DIR "/examples/keras-cnn.yaml";
  std::string dataset = "mnist-digits";
  int epochs = 1;
  int threads = 2;
  int ranks = 2;
  int iterations = 200;
  std::string btl = "self,vader";
  int64_t allreduce_bytes = 0;  // > 0: the allreduce-only mode, under mpirun
  int buckets = 1;
};

// Runs `command` with its output in `log`; false (and the log's tail on stderr) when it fails.
bool Run(const std::string& command, const std::string& log) {
  const int status = std::system((command + " > " + log + " 2>&1").c_str());
  if (status == 0) return true;
  std::fprintf(stderr, "distributed_bench: failed (%d): %s\n", status, command.c_str());
  std::system(("tail -20 " + log + " >&2").c_str());
  return false;
}

std::string MpirunPrefix(const Options& options) {
  // As in tests/distributed: shared memory without CMA (often not allowed in containers).
  return std::string(LABBOOK_MPIEXEC) + " -np " + std::to_string(options.ranks) +
         " --oversubscribe --bind-to none -x OMPI_MCA_btl=" + options.btl +
         " -x OMPI_MCA_btl_vader_single_copy_mechanism=none ";
}

// This program under mpirun in the allreduce-only mode: milliseconds per step, or -1.
double IsolatedAllreduceMs(const Options& options, const std::string& self, int64_t bytes,
                           int buckets, const std::string& log) {
  const std::string command =
      MpirunPrefix(options) + self + " --allreduce-bytes " + std::to_string(bytes) + " --buckets " +
      std::to_string(std::max(1, buckets)) + " --iterations " + std::to_string(options.iterations);
  if (!Run(command, log)) return -1;
  double ms = -1;
  FILE* in = std::fopen(log.c_str(), "r");
  if (in == nullptr || std::fscanf(in, "%lf", &ms) != 1) ms = -1;
  if (in != nullptr) std::fclose(in);
  return ms;
}

// The summary of the one run in the store at `path`.
Result<nlohmann::json> Summary(const std::string& path) {
  Result<std::unique_ptr<labbook::track::RunStore>> store = labbook::track::OpenStore(path);
  if (!store.ok()) return store.status();
  Result<std::vector<labbook::track::RunInfo>> runs = (*store)->ListRuns({});
  if (!runs.ok()) return runs.status();
  if (runs->size() != 1) return labbook::Internal(path + ": expected one run");
  return runs->front().summary;
}

double Number(const nlohmann::json& summary, const char* key) {
  return summary.contains(key) ? summary.at(key).get<double>() : 0.0;
}

// Under mpirun: `bytes` of floats in `buckets` equal buckets, summed `iterations` times after a
// warm-up; rank 0 prints the mean milliseconds per step.
int AllreduceOnly(const Options& options) {
  Result<std::unique_ptr<labbook::distributed::Communicator>> world =
      labbook::distributed::JoinWorld();
  if (!world.ok()) {
    std::fprintf(stderr, "%s\n", world.status().ToString().c_str());
    return 1;
  }
  labbook::distributed::Communicator& comm = **world;
  const int64_t floats = options.allreduce_bytes / 4;
  const int64_t per_bucket = (floats + options.buckets - 1) / options.buckets;
  std::vector<float> buffer(static_cast<size_t>(floats), 1.0f);
  double seconds = 0;
  for (int i = -10; i < options.iterations; ++i) {
    const auto start = std::chrono::steady_clock::now();
    for (int64_t at = 0; at < floats; at += per_bucket) {
      const int64_t n = std::min(per_bucket, floats - at);
      if (!comm.AllreduceSum(std::span<float>(buffer.data() + at, static_cast<size_t>(n))).ok()) {
        comm.Abort(1);
      }
    }
    if (i >= 0) {
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
  }
  if (comm.rank() == 0) std::printf("%.6f\n", 1e3 * seconds / options.iterations);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "distributed_bench: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--config") {
      options.config = value();
    } else if (arg == "--dataset") {
      options.dataset = value();
    } else if (arg == "--epochs") {
      options.epochs = std::stoi(value());
    } else if (arg == "--threads") {
      options.threads = std::stoi(value());
    } else if (arg == "--ranks") {
      options.ranks = std::stoi(value());
    } else if (arg == "--iterations") {
      options.iterations = std::stoi(value());
    } else if (arg == "--btl") {
      options.btl = value();
    } else if (arg == "--allreduce-bytes") {
      options.allreduce_bytes = std::stoll(value());
    } else if (arg == "--buckets") {
      options.buckets = std::stoi(value());
    } else {
      std::fprintf(stderr, "distributed_bench: unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  if (options.allreduce_bytes > 0) return AllreduceOnly(options);
  if (options.ranks < 2 || options.threads % options.ranks != 0) {
    std::fprintf(stderr, "distributed_bench: --threads must be a multiple of --ranks (>= 2)\n");
    return 2;
  }
  // mpirun refuses root without both confirmations; containers often run as root.
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);

  std::string dir_template = fs::temp_directory_path() / "labbook-distributed-bench-XXXXXX";
  if (mkdtemp(dir_template.data()) == nullptr) return 1;
  const std::string dir = dir_template;
  const std::string self = fs::absolute(argv[0]).string();
  const std::string common = std::string(" train ") + options.config +
                             " --set dataset=" + options.dataset +
                             " --set epochs=" + std::to_string(options.epochs) +
                             " --set validation_split=0 --model-out " + dir + "/model.lbm";
  const std::string labbook = LABBOOK_BINARY;
  const int per_rank = options.threads / options.ranks;
  const std::string one_run = labbook + common +
                              " --set threads=" + std::to_string(options.threads) + " --store " +
                              dir + "/one.db";
  const std::string many_run = MpirunPrefix(options) + labbook + common +
                               " --set threads=" + std::to_string(per_rank) + " --store " + dir +
                               "/many.db";
  const bool ok = Run(one_run, dir + "/one.log") && Run(many_run, dir + "/many.log");
  Result<nlohmann::json> one = ok ? Summary(dir + "/one.db") : labbook::Internal("run failed");
  Result<nlohmann::json> many = ok ? Summary(dir + "/many.db") : labbook::Internal("run failed");
  if (!one.ok() || !many.ok()) {
    std::fprintf(stderr, "distributed_bench: %s\n",
                 (one.ok() ? many.status() : one.status()).ToString().c_str());
    return 1;
  }
  const double bytes = Number(*many, "distributed/allreduce_bytes_per_step");
  const int buckets = static_cast<int>(Number(*many, "distributed/allreduce_buckets"));
  const double isolated_ms = IsolatedAllreduceMs(options, self, static_cast<int64_t>(bytes),
                                                 buckets, dir + "/allreduce.log");
  bool all_ok = isolated_ms >= 0;

  std::printf("distributed_bench: %s on %s, %d epoch%s, batch %d, validation off, btl %s\n",
              fs::path(options.config).filename().c_str(), options.dataset.c_str(), options.epochs,
              options.epochs == 1 ? "" : "s",
              static_cast<int>(Number(*many, "distributed/batch_size")), options.btl.c_str());
  std::printf("  1 process  x %d threads: %10.1f samples/s (last epoch)\n", options.threads,
              Number(*one, "epoch/samples_per_second"));
  std::printf("  %d ranks    x %d thread%s: %10.1f samples/s (last epoch)\n", options.ranks,
              per_rank, per_rank == 1 ? " " : "s", Number(*many, "epoch/samples_per_second"));
  std::printf("  gradient allreduce per step: %.0f bytes in %d bucket%s\n", bytes, buckets,
              buckets == 1 ? "" : "s");
  std::printf("    inside training: %8.3f ms per step (+ %.3f ms for loss and accuracy)\n",
              Number(*many, "distributed/allreduce_ms_per_step"),
              Number(*many, "distributed/metric_allreduce_ms_per_step"));
  std::printf("    alone:           %8.3f ms per step (%d iterations)\n", isolated_ms,
              options.iterations);
  std::printf("  allreduce of one buffer alone, %d ranks:\n", options.ranks);
  for (int64_t size : {int64_t{4} << 10, int64_t{64} << 10, int64_t{1} << 20, int64_t{16} << 20}) {
    const double ms = IsolatedAllreduceMs(options, self, size, 1, dir + "/sweep.log");
    all_ok = all_ok && ms >= 0;
    std::printf("    %9lld bytes: %8.3f ms (%6.2f GB/s of buffer)\n", static_cast<long long>(size),
                ms, ms > 0 ? static_cast<double>(size) / (ms * 1e6) : 0.0);
  }
  fs::remove_all(dir);
  return all_ok ? 0 : 1;
}
