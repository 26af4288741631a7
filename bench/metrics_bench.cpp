// metrics_bench: labbook's metrics against scikit-learn on the same predictions.
//
// Generates N predictions over K classes (random labels, softmax probabilities as doubles,
// predicted = argmax, fixed seed), times labbook's confusion matrix, P/R/F1 report and
// one-vs-rest AUROC + AP of every class (median of --repeats runs), then has scikit-learn time
// confusion_matrix, precision_recall_fscore_support, roc_auc_score(multi_class="ovr") and
// average_precision_score per class on the same data (raw files in a temporary directory), prints
// both, the ratio, and checks that the values agree. Exit status: 0 when they agree, 1 when they do
// not (or, with --require-targets, when labbook misses its targets), 2 on a usage error.
//
//   metrics_bench [--rows 10000000] [--classes 10] [--repeats 5] [--threads 2] [--seed 12345]
//                 [--sklearn-repeats 1] [--float32] [--no-sklearn] [--require-targets]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "labbook/metrics.hpp"

namespace {

namespace fs = std::filesystem;
namespace metrics = labbook::metrics;

struct Options {
  int64_t rows = 10'000'000;
  int32_t classes = 10;
  int repeats = 5;
  int threads = 2;
  uint64_t seed = 12345;
  int sklearn_repeats = 1;
  bool float32 = false;
  bool run_sklearn = true;
  bool require_targets = false;
};

bool ParseOptions(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (arg == "--float32") {
      options->float32 = true;
    } else if (arg == "--no-sklearn") {
      options->run_sklearn = false;
    } else if (arg == "--require-targets") {
      options->require_targets = true;
    } else if ((arg == "--rows") && (v = value())) {
      options->rows = std::atoll(v);
    } else if ((arg == "--classes") && (v = value())) {
      options->classes = std::atoi(v);
    } else if ((arg == "--repeats") && (v = value())) {
      options->repeats = std::atoi(v);
    } else if ((arg == "--threads") && (v = value())) {
      options->threads = std::atoi(v);
    } else if ((arg == "--seed") && (v = value())) {
      options->seed = std::strtoull(v, nullptr, 10);
    } else if ((arg == "--sklearn-repeats") && (v = value())) {
      options->sklearn_repeats = std::atoi(v);
    } else {
      std::cerr << "metrics_bench: unknown or incomplete option '" << arg << "'\n";
      return false;
    }
  }
  if (options->rows < 1 || options->classes < 2 || options->repeats < 1 || options->threads < 1 ||
      options->sklearn_repeats < 1) {
    std::cerr << "metrics_bench: --rows, --repeats, --threads and --sklearn-repeats must be >= 1 "
                 "and --classes >= 2\n";
    return false;
  }
  return true;
}

// splitmix64: small, fast and the same on every platform.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

struct Data {
  std::vector<int32_t> labels;
  std::vector<int32_t> predicted;
  std::vector<double> probabilities;  // (rows, classes)
};

// Logits are uniform noise plus a bonus for the true class, so the classifier is right about
// two times in three and the curves are not trivial.
Data Generate(const Options& options) {
  const auto n = static_cast<size_t>(options.rows);
  const auto k = static_cast<size_t>(options.classes);
  Data data;
  data.labels.resize(n);
  data.predicted.resize(n);
  data.probabilities.resize(n * k);
  Random random(options.seed);
  std::vector<double> row(k);
  for (size_t i = 0; i < n; ++i) {
    const auto label = static_cast<size_t>(random.Next() % k);
    double sum = 0.0;
    for (size_t c = 0; c < k; ++c) {
      row[c] = std::exp(3.0 * random.Uniform() + (c == label ? 1.5 : 0.0));
      sum += row[c];
    }
    size_t best = 0;
    for (size_t c = 0; c < k; ++c) {
      double p = row[c] / sum;
      if (options.float32) p = static_cast<float>(p);
      data.probabilities[i * k + c] = p;
      if (p > data.probabilities[i * k + best]) best = c;
    }
    data.labels[i] = static_cast<int32_t>(label);
    data.predicted[i] = static_cast<int32_t>(best);
  }
  return data;
}

// CPU seconds of the whole process, all threads: on a shared machine this moves less than the
// wall clock when other jobs compete for the cores.
double ProcessCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t m = values.size() / 2;
  return values.size() % 2 == 1 ? values[m] : (values[m - 1] + values[m]) / 2;
}

struct LabbookRun {
  double confusion_s = 0;
  double report_s = 0;  // from the confusion matrix
  double one_vs_rest_s = 0;
  double cpu_s = 0;  // all three, CPU time of every thread
  metrics::ConfusionMatrix confusion;
  metrics::ClassificationReport report;
  metrics::OneVsRestReport one_vs_rest;
};

bool RunLabbook(const Data& data, const Options& options, LabbookRun* run) {
  const double cpu_start = ProcessCpuSeconds();
  auto start = std::chrono::steady_clock::now();
  auto confusion = metrics::ComputeConfusionMatrix(data.labels, data.predicted, options.classes);
  run->confusion_s = Seconds(start);
  start = std::chrono::steady_clock::now();
  if (!confusion.ok()) {
    std::cerr << "metrics_bench: " << confusion.status().ToString() << "\n";
    return false;
  }
  run->report = metrics::ComputeClassificationReport(*confusion);
  run->report_s = Seconds(start);
  start = std::chrono::steady_clock::now();
  auto ovr =
      metrics::ComputeOneVsRest(data.labels, data.probabilities, options.classes, options.threads);
  run->one_vs_rest_s = Seconds(start);
  run->cpu_s = ProcessCpuSeconds() - cpu_start;
  if (!ovr.ok()) {
    std::cerr << "metrics_bench: " << ovr.status().ToString() << "\n";
    return false;
  }
  run->confusion = std::move(*confusion);
  run->one_vs_rest = std::move(*ovr);
  return true;
}

template <typename T>
void WriteRaw(const fs::path& path, const std::vector<T>& values) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(values.data()),
            static_cast<std::streamsize>(values.size() * sizeof(T)));
}

// Largest |a - b| / max(1, |b|) over the pairs, and whether it is within tolerance.
struct Agreement {
  double worst = 0.0;
  void Add(double a, double b) {
    worst = std::max(worst, std::fabs(a - b) / std::max(1.0, std::fabs(b)));
  }
};

std::string Ratio(double peer, double ours) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1fx", peer / ours);
  return text;
}

void PrintRow(const char* name, const std::string& ours, const std::string& peer,
              const std::string& ratio) {
  std::printf("  %-36s %12s %14s %9s\n", name, ours.c_str(), peer.c_str(), ratio.c_str());
}

std::string Format(double seconds) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.3f s", seconds);
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) return 2;
  const auto k = static_cast<size_t>(options.classes);

  auto start = std::chrono::steady_clock::now();
  Data data = Generate(options);
  std::printf(
      "metrics_bench: %lld rows x %d classes (seed %llu, probabilities as %s), "
      "generated in %.2f s\n",
      static_cast<long long>(options.rows), options.classes,
      static_cast<unsigned long long>(options.seed),
      options.float32 ? "float32-rounded doubles" : "doubles", Seconds(start));

  std::vector<double> confusion_s, report_s, ovr_s, total_s, cpu_s;
  LabbookRun run;
  for (int r = 0; r < options.repeats; ++r) {
    if (!RunLabbook(data, options, &run)) return 1;
    confusion_s.push_back(run.confusion_s);
    report_s.push_back(run.confusion_s + run.report_s);
    ovr_s.push_back(run.one_vs_rest_s);
    total_s.push_back(run.confusion_s + run.report_s + run.one_vs_rest_s);
    cpu_s.push_back(run.cpu_s);
  }
  const double labbook_total = Median(total_s);

  if (!options.run_sklearn) {
    std::printf("labbook, median of %d runs, %d threads:\n", options.repeats, options.threads);
    PrintRow("confusion matrix", Format(Median(confusion_s)), "", "");
    PrintRow("P/R/F1 report (from labels)", Format(Median(report_s)), "", "");
    PrintRow("one-vs-rest AUROC + AP, all classes", Format(Median(ovr_s)), "", "");
    PrintRow("total", Format(labbook_total), "", "");
    PrintRow("total CPU time, all threads", Format(Median(cpu_s)), "", "");
    return 0;
  }

  std::string dir_template = (fs::temp_directory_path() / "labbook-metrics-bench-XXXXXX").string();
  if (mkdtemp(dir_template.data()) == nullptr) {
    std::perror("metrics_bench: mkdtemp");
    return 1;
  }
  const fs::path dir = dir_template;
  WriteRaw(dir / "labels.i32", data.labels);
  WriteRaw(dir / "predicted.i32", data.predicted);
  WriteRaw(dir / "probabilities.f64", data.probabilities);
  data = Data();  // give scikit-learn the memory
  const std::string command = std::string(LABBOOK_PYTHON) + " " + LABBOOK_SOURCE_DIR +
                              "/bench/metrics_sklearn_peer.py " + dir.string() + " " +
                              std::to_string(options.rows) + " " + std::to_string(options.classes) +
                              " " + std::to_string(options.sklearn_repeats);
  std::fflush(stdout);
  const int status = std::system(command.c_str());
  nlohmann::json peer;
  if (status == 0) {
    std::ifstream in(dir / "sklearn.json");
    peer = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  }
  fs::remove_all(dir);
  if (status != 0 || peer.is_discarded()) {
    std::cerr << "metrics_bench: the scikit-learn run failed: " << command << "\n";
    return 1;
  }

  const auto& s = peer["seconds"];
  const double sk_confusion = s["confusion_matrix"].get<double>();
  const double sk_prfs = s["precision_recall_fscore_support"].get<double>();
  const double sk_auroc = s["roc_auc_score_ovr"].get<double>();
  const double sk_ap = s["average_precision_score_per_class"].get<double>();
  const double sk_total = sk_confusion + sk_prfs + sk_auroc + sk_ap;

  std::printf("\n  %-36s %12s %14s %9s\n", "", "labbook", "scikit-learn", "ratio");
  std::printf("  %-36s %12s %14s\n", "", ("median of " + std::to_string(options.repeats)).c_str(),
              ("median of " + std::to_string(options.sklearn_repeats)).c_str());
  PrintRow("confusion matrix", Format(Median(confusion_s)), Format(sk_confusion),
           Ratio(sk_confusion, Median(confusion_s)));
  PrintRow("P/R/F1 per class (from labels)", Format(Median(report_s)), Format(sk_prfs),
           Ratio(sk_prfs, Median(report_s)));
  PrintRow("one-vs-rest AUROC (macro)", "", Format(sk_auroc), "");
  PrintRow("average precision, every class", "", Format(sk_ap), "");
  PrintRow("  labbook: both from one sort", Format(Median(ovr_s)), Format(sk_auroc + sk_ap),
           Ratio(sk_auroc + sk_ap, Median(ovr_s)));
  PrintRow("total", Format(labbook_total), Format(sk_total), Ratio(sk_total, labbook_total));
  PrintRow("labbook total CPU time, all threads", Format(Median(cpu_s)), "", "");
  std::printf("  (labbook: %d threads; scikit-learn %s, /usr/bin/python3, one thread)\n",
              options.threads, peer["sklearn_version"].get<std::string>().c_str());

  // Values must agree: counts exactly, scores to 1e-12 (AUROC and AP sum millions of terms in a
  // different order, so they get 1e-10).
  bool counts_agree = nlohmann::json(run.confusion.counts) == peer["confusion"];
  Agreement prf, auroc, ap;
  for (size_t c = 0; c < k; ++c) {
    const metrics::ClassScores& scores = run.report.per_class[c];
    prf.Add(scores.precision, peer["precision"][c].get<double>());
    prf.Add(scores.recall, peer["recall"][c].get<double>());
    prf.Add(scores.f1, peer["f1"][c].get<double>());
    counts_agree &= scores.support == peer["support"][c].get<int64_t>();
    ap.Add(run.one_vs_rest.average_precision[c], peer["average_precision"][c].get<double>());
  }
  auroc.Add(run.one_vs_rest.auroc_macro, peer["auroc_macro"].get<double>());
  const bool agree =
      counts_agree && prf.worst <= 1e-12 && auroc.worst <= 1e-10 && ap.worst <= 1e-10;
  std::printf(
      "\nvalues: confusion matrix and supports %s; P/R/F1 max rel. diff %.1e; "
      "AUROC macro %.1e; AP %.1e -> %s\n",
      counts_agree ? "identical" : "DIFFER", prf.worst, auroc.worst, ap.worst,
      agree ? "agree" : "DISAGREE");
  std::printf("labbook AUROC macro = %.15f, AP macro = %.15f, macro F1 = %.15f\n",
              run.one_vs_rest.auroc_macro, run.one_vs_rest.average_precision_macro,
              run.report.macro.f1);

  const bool fast_enough = sk_total / labbook_total >= 10.0;
  const bool under_budget = labbook_total < 3.0;
  std::printf(
      "targets: >= 10x faster than scikit-learn: %s (%.1fx); labbook total < 3 s: %s "
      "(%.3f s)\n",
      fast_enough ? "met" : "MISSED", sk_total / labbook_total, under_budget ? "met" : "MISSED",
      labbook_total);
  if (!agree) return 1;
  if (options.require_targets && !(fast_enough && under_budget)) return 1;
  return 0;
}
