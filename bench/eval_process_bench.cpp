// eval_process_bench: `labbook eval FILE --json` against pandas + scikit-learn, as whole processes.
//
// Issue 14 asks for `labbook eval` on a predictions CSV of 1,000,000 rows and 10 probability
// columns (about 100 MB, as pandas writes it with float_format '%.6f') to be at least 10x faster
// than a Python script that reads it with pandas.read_csv and computes with scikit-learn the
// confusion matrix, precision/recall/F1, and one-vs-rest AUROC and average precision per class
// (bench/eval_process_peer.py). Both are timed as processes, start-up, imports, plots and output
// included, alternating, after one untimed run of each (so both read the file from the page
// cache). Prints the median seconds of each, the ratio and the CPU features, and checks that
// labbook's JSON agrees with the peer's on every metric. Exit status: 0 when they agree, 1 when
// they do not (or, with --require-speedup X, when the ratio is below X), 2 on a usage error.
//
//   eval_process_bench [--rows 1000000] [--classes 10] [--repeats 5] [--seed 12345]
//                      [--file FILE] [--keep] [--require-speedup X]
//
// Without --file the CSV is written by the peer script's --write mode into a temporary directory.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct Options {
  int64_t rows = 1'000'000;
  int classes = 10;
  int repeats = 5;
  uint64_t seed = 12345;
  std::string file;
  bool keep = false;
  double require_speedup = 0;
};

bool ParseOptions(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (arg == "--keep") {
      options->keep = true;
    } else if (arg == "--rows" && (v = value())) {
      options->rows = std::atoll(v);
    } else if (arg == "--classes" && (v = value())) {
      options->classes = std::atoi(v);
    } else if (arg == "--repeats" && (v = value())) {
      options->repeats = std::atoi(v);
    } else if (arg == "--seed" && (v = value())) {
      options->seed = std::strtoull(v, nullptr, 10);
    } else if (arg == "--file" && (v = value())) {
      options->file = v;
    } else if (arg == "--require-speedup" && (v = value())) {
      options->require_speedup = std::atof(v);
    } else {
      std::cerr << "eval_process_bench: unknown or incomplete option '" << arg << "'\n";
      return false;
    }
  }
  return options->rows >= 1 && options->classes >= 2 && options->repeats >= 1;
}

// Runs argv as a child process with stdout to `out` (stderr inherited) and returns its wall
// seconds, or a negative number when it could not start or did not exit with status 0.
double RunTimed(const std::vector<std::string>& argv, const std::string& out) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // The child's freopen would otherwise flush our buffered output a second time.
  std::fflush(stdout);
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (std::freopen(out.c_str(), "w", stdout) == nullptr) _exit(127);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::cerr << "eval_process_bench: " << argv[0] << " failed (status " << status << ")\n";
    return -1;
  }
  return seconds;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The model name, the logical CPUs and which of the SIMD features that matter here the kernel
// reports.
std::string CpuDescription() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  std::string model;
  std::set<std::string> flags;
  while (std::getline(cpuinfo, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    if (key == "model name" && model.empty()) model = line.substr(colon + 2);
    if (key == "flags" && flags.empty()) {
      std::istringstream words(line.substr(colon + 1));
      for (std::string w; words >> w;) flags.insert(w);
    }
  }
  std::string text = (model.empty() ? "unknown CPU" : model) + ", " +
                     std::to_string(std::thread::hardware_concurrency()) + " threads; features:";
  for (const char* feature : {"avx2", "fma", "avx512f", "avx512bw", "avx512_bf16", "amx_bf16"}) {
    text += std::string(" ") + feature + (flags.count(feature) ? "=yes" : "=no");
  }
  return text;
}

// Whether labbook's `eval --json` output agrees with the peer's on every metric the peer
// computes: counts exactly, scores to 1e-12 (both are exact up to rounding).
bool Agree(const nlohmann::json& labbook, const nlohmann::json& peer, int classes) {
  bool ok = true;
  auto fail = [&](const std::string& what) {
    std::cerr << "eval_process_bench: labbook and the peer disagree on " << what << "\n";
    ok = false;
  };
  auto close = [](double a, double b) {
    return std::abs(a - b) <= 1e-12 * std::max(1.0, std::abs(b));
  };
  if (labbook.at("num_samples").get<int64_t>() != peer.at("num_samples").get<int64_t>()) {
    fail("num_samples");
  }
  if (labbook.at("confusion_matrix") != peer.at("confusion_matrix")) fail("the confusion matrix");
  const nlohmann::json& per_class = labbook.at("per_class");
  if (static_cast<int>(per_class.size()) != classes) {
    fail("the number of classes");
    return false;
  }
  for (int k = 0; k < classes; ++k) {
    const nlohmann::json& row = per_class[k];
    const std::string name = "class " + std::to_string(k) + " ";
    if (row.at("support").get<int64_t>() != peer.at("support")[k].get<int64_t>()) {
      fail(name + "support");
    }
    for (const char* metric : {"precision", "recall", "f1"}) {
      if (!close(row.at(metric).get<double>(), peer.at(metric)[k].get<double>())) {
        fail(name + metric);
      }
    }
    if (!close(row.at("auroc").get<double>(), peer.at("auroc")[k].get<double>())) {
      fail(name + "AUROC");
    }
    if (!close(row.at("average_precision").get<double>(),
               peer.at("average_precision")[k].get<double>())) {
      fail(name + "average precision");
    }
  }
  return ok;
}

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) {
    std::cerr << "usage: eval_process_bench [--rows N] [--classes K] [--repeats R] [--seed S] "
                 "[--file FILE] [--keep] [--require-speedup X]\n";
    return 2;
  }
  const std::string python = LABBOOK_PYTHON;
  const std::string peer = std::string(LABBOOK_SOURCE_DIR) + "/bench/eval_process_peer.py";
  const std::string labbook = LABBOOK_BINARY;

  char pattern[] = "/tmp/labbook-eval-bench-XXXXXX";
  if (mkdtemp(pattern) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const fs::path dir = pattern;
  std::string file = options.file;
  if (file.empty()) {
    file = (dir / "predictions.csv").string();
    const auto start = std::chrono::steady_clock::now();
    if (RunTimed({python, peer, "--write", file, std::to_string(options.rows),
                  std::to_string(options.classes), std::to_string(options.seed)},
                 "/dev/null") < 0) {
      return 1;
    }
    std::printf(
        "eval_process_bench: wrote %lld rows x %d classes with pandas ('%%.6f', %.1f MB) "
        "in %.1f s\n",
        static_cast<long long>(options.rows), options.classes,
        static_cast<double>(fs::file_size(file)) / 1e6,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  } else {
    std::printf("eval_process_bench: %s (%.1f MB)\n", file.c_str(),
                static_cast<double>(fs::file_size(file)) / 1e6);
  }
  std::printf("CPU: %s\n", CpuDescription().c_str());

  const std::string labbook_json = (dir / "labbook.json").string();
  const std::string peer_json = (dir / "peer.json").string();
  const std::vector<std::string> labbook_command = {labbook,  "eval",  file,
                                                    "--json", "--out", (dir / "eval").string()};
  const std::vector<std::string> peer_command = {python, peer, file};
  // One untimed run of each: the file in the page cache, the binaries and modules too.
  if (RunTimed(labbook_command, labbook_json) < 0 || RunTimed(peer_command, peer_json) < 0) {
    return 1;
  }
  std::vector<double> labbook_seconds;
  std::vector<double> peer_seconds;
  for (int r = 0; r < options.repeats; ++r) {
    const double a = RunTimed(labbook_command, labbook_json);
    const double b = RunTimed(peer_command, peer_json);
    if (a < 0 || b < 0) return 1;
    labbook_seconds.push_back(a);
    peer_seconds.push_back(b);
  }
  const double labbook_median = Median(labbook_seconds);
  const double peer_median = Median(peer_seconds);
  const double ratio = peer_median / labbook_median;
  std::printf("whole process, median of %d runs:\n", options.repeats);
  std::printf("  labbook eval --json (with plots)    %7.3f s\n", labbook_median);
  std::printf("  pandas + scikit-learn               %7.3f s\n", peer_median);
  std::printf("  labbook is %.1fx faster (target 10x)\n", ratio);

  const bool agree = Agree(ReadJson(labbook_json), ReadJson(peer_json), options.classes);
  std::printf("metrics: %s\n", agree ? "labbook agrees with scikit-learn" : "DISAGREE");
  if (!options.keep) {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  } else {
    std::printf("kept %s\n", dir.c_str());
  }
  if (!agree) return 1;
  if (options.require_speedup > 0 && ratio < options.require_speedup) {
    std::printf("below the required %.1fx\n", options.require_speedup);
    return 1;
  }
  return 0;
}
