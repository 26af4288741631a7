#include "server/analysis_routes.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "core/status_macros.hpp"
#include "labbook/dataset.hpp"
#include "labbook/metrics.hpp"
#include "report/png.hpp"
#include "server/auth/access.hpp"
#include "server/run_access.hpp"

namespace labbook::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int64_t kDefaultCurvePoints = 200;
constexpr int64_t kMaxCurvePoints = 100000;
constexpr int64_t kDefaultMisclassified = 100;
constexpr int64_t kMaxMisclassified = 100000;
constexpr int64_t kMaxImageScale = 8;
// Evaluations kept in memory: a few MB each at most (the curves of 10,000 samples x 10 classes).
constexpr size_t kCachedEvaluations = 64;
constexpr char kPredictionsFile[] = "predictions.csv";

// Non-finite numbers are null, as `labbook eval --json` writes them.
json Number(double value) { return std::isfinite(value) ? json(value) : json(nullptr); }

Result<int64_t> IntegerQuery(const Request& request, const std::string& name, int64_t fallback,
                             int64_t min, int64_t max) {
  std::optional<std::string> text = request.Query(name);
  if (!text.has_value() || text->empty()) return fallback;
  int64_t value = 0;
  const char* end = text->data() + text->size();
  auto [ptr, error] = std::from_chars(text->data(), end, value);
  if (error != std::errc() || ptr != end || value < min || value > max) {
    return InvalidArgument("query parameter '" + name + "': expected an integer in " +
                           std::to_string(min) + ".." + std::to_string(max) + ", got '" +
                           text->substr(0, 40) + "'");
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Datasets
// ---------------------------------------------------------------------------------------------

enum class Split { kTrain, kTest };

Result<Split> ParseSplit(const std::string& text) {
  if (text == "train") return Split::kTrain;
  if (text == "test") return Split::kTest;
  return InvalidArgument("split '" + text.substr(0, 40) + "': expected train or test");
}

const char* SplitName(Split split) { return split == Split::kTrain ? "train" : "test"; }

// The built-in dataset called `name`, installed on this server.
Result<DatasetInfo> InstalledDataset(const std::string& name) {
  std::string known;
  for (DatasetInfo& info : ListBuiltinDatasets()) {
    if (info.name == name) {
      if (!info.available) {
        return NotFound("dataset '" + name + "' is not installed on this server (to install it: " +
                        info.how_to_get + ")");
      }
      return std::move(info);
    }
    known += (known.empty() ? "" : ", ") + info.name;
  }
  return NotFound("dataset '" + name.substr(0, 60) + "' not found; known: " + known);
}

json StatsToJson(const Dataset& dataset, Split split, const DatasetStats& stats) {
  json means = json::array();
  for (const std::vector<double>& image : stats.class_mean_images) {
    json values = json::array();
    for (double v : image) values.push_back(std::round(v * 1000) / 1000);
    means.push_back(std::move(values));
  }
  return {{"stats",
           {{"dataset", dataset.name},
            {"split", SplitName(split)},
            {"count", stats.count},
            {"rows", stats.rows},
            {"cols", stats.cols},
            {"channels", stats.channels},
            {"num_classes", stats.num_classes},
            {"class_names", dataset.class_names},
            {"label_counts", stats.label_counts},
            {"pixel_mean", Number(stats.pixel_mean)},
            {"pixel_std", Number(stats.pixel_std)},
            {"pixel_min", stats.pixel_min},
            {"pixel_max", stats.pixel_max},
            {"pixel_histogram", stats.pixel_histogram},
            {"class_mean_images", std::move(means)}}}};
}

// A dataset in memory with the answers of its stats route, immutable once built.
struct LoadedDataset {
  Dataset dataset;
  std::string train_stats;  // JSON bodies
  std::string test_stats;

  const ImageSet& images(Split split) const {
    return split == Split::kTrain ? dataset.train : dataset.test;
  }
  const std::string& stats(Split split) const {
    return split == Split::kTrain ? train_stats : test_stats;
  }
};

// At most one LoadedDataset per built-in name, loaded by the first request that needs it while
// requests for other names go on; a load that fails is not kept, so it is tried again.
class DatasetCache {
 public:
  Result<std::shared_ptr<const LoadedDataset>> Get(const DatasetInfo& info) {
    Slot* slot = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      std::unique_ptr<Slot>& entry = slots_[info.name];
      if (!entry) entry = std::make_unique<Slot>();
      slot = entry.get();
    }
    std::lock_guard<std::mutex> lock(slot->mutex);
    if (slot->loaded) return slot->loaded;
    auto loaded = std::make_shared<LoadedDataset>();
    LABBOOK_ASSIGN_OR_RETURN(loaded->dataset, LoadDataset(info.name));
    const int classes = loaded->dataset.num_classes;
    LABBOOK_ASSIGN_OR_RETURN(DatasetStats train, ComputeStats(loaded->dataset.train, classes));
    LABBOOK_ASSIGN_OR_RETURN(DatasetStats test, ComputeStats(loaded->dataset.test, classes));
    loaded->train_stats = StatsToJson(loaded->dataset, Split::kTrain, train).dump();
    loaded->test_stats = StatsToJson(loaded->dataset, Split::kTest, test).dump();
    slot->loaded = std::move(loaded);
    return slot->loaded;
  }

 private:
  struct Slot {
    std::mutex mutex;
    std::shared_ptr<const LoadedDataset> loaded;
  };
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Slot>> slots_;  // only built-in names: bounded
};

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

struct Misclassified {
  int64_t index = 0;
  int32_t label = 0;
  int32_t predicted = 0;
  double confidence = NAN;  // the probability of the predicted class; NaN without probabilities
};

// Everything the evaluation route answers, at full resolution; immutable once built.
struct Evaluation {
  json artifact;
  json dataset;  // the run's config.dataset, or null
  std::vector<std::string> class_names;
  metrics::EvaluationReport report;
  // One per class when the predictions hold probabilities, else empty. A class with no positive
  // (or, for ROC, no negative) sample has an empty curve.
  std::vector<metrics::RocCurve> roc;
  std::vector<metrics::PrecisionRecallCurve> pr;
  std::vector<Misclassified> misclassified;  // highest confidence first, then by index
};

// The most recently used evaluations, keyed by run and artifact version.
class EvaluationCache {
 public:
  std::shared_ptr<const Evaluation> Find(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }

  void Put(const std::string& key, std::shared_ptr<const Evaluation> evaluation) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (index_.count(key) != 0) return;
    order_.emplace_front(key, std::move(evaluation));
    index_[key] = order_.begin();
    if (order_.size() > kCachedEvaluations) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
  }

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const Evaluation>>;
  std::mutex mutex_;
  std::list<Entry> order_;  // most recently used first
  std::map<std::string, std::list<Entry>::iterator> index_;
};

// The names of the classes: the dataset's when `dataset_name` is a built-in dataset installed
// here with at least `num_classes` classes, else "0".."K-1". Without probabilities the table
// only knows the largest class it saw, so the dataset's class count widens it.
std::vector<std::string> ClassNames(const json& dataset_name, const PredictionTable& table,
                                    int* num_classes) {
  *num_classes = table.num_classes;
  std::vector<std::string> names;
  if (dataset_name.is_string()) {
    for (const DatasetInfo& info : ListBuiltinDatasets()) {
      if (info.name != dataset_name.get<std::string>() || !info.available) continue;
      if (!table.has_probabilities) *num_classes = std::max(*num_classes, info.num_classes);
      if (info.num_classes >= *num_classes) {
        names.assign(info.class_names.begin(), info.class_names.begin() + *num_classes);
      }
    }
  }
  if (names.empty()) {
    for (int k = 0; k < *num_classes; ++k) names.push_back(std::to_string(k));
  }
  return names;
}

Result<Evaluation> EvaluatePredictions(const PredictionTable& table, json artifact, json dataset) {
  Evaluation evaluation;
  evaluation.artifact = std::move(artifact);
  int num_classes = 0;
  evaluation.class_names = ClassNames(dataset, table, &num_classes);
  evaluation.dataset = std::move(dataset);
  LABBOOK_ASSIGN_OR_RETURN(evaluation.report, metrics::Evaluate(table.labels, table.predicted,
                                                                table.probabilities, num_classes));
  const size_t n = table.labels.size();
  if (table.has_probabilities) {
    std::vector<double> column(n);
    for (int k = 0; k < num_classes; ++k) {
      for (size_t i = 0; i < n; ++i) column[i] = table.probabilities[i * num_classes + k];
      LABBOOK_ASSIGN_OR_RETURN(metrics::RocCurve roc,
                               metrics::ComputeRocCurve(table.labels, column, k));
      LABBOOK_ASSIGN_OR_RETURN(metrics::PrecisionRecallCurve pr,
                               metrics::ComputePrecisionRecallCurve(table.labels, column, k));
      evaluation.roc.push_back(roc.issue == metrics::RankingIssue::kNone ? std::move(roc)
                                                                         : metrics::RocCurve{});
      evaluation.pr.push_back(pr.issue == metrics::RankingIssue::kNone
                                  ? std::move(pr)
                                  : metrics::PrecisionRecallCurve{});
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (table.labels[i] == table.predicted[i]) continue;
    Misclassified m{table.index[i], table.labels[i], table.predicted[i], NAN};
    if (table.has_probabilities) m.confidence = table.probabilities[i * num_classes + m.predicted];
    evaluation.misclassified.push_back(m);
  }
  std::stable_sort(evaluation.misclassified.begin(), evaluation.misclassified.end(),
                   [](const Misclassified& a, const Misclassified& b) {
                     return a.confidence > b.confidence;  // false for NaN: the CSV's order stays
                   });
  return evaluation;
}

// Which points of the curve (x[i], y[i]) to keep so that at most `max_points` remain: the first
// and the last, then, again and again, the point farthest from the chord of the kept points
// around it (top-down Douglas-Peucker with a point budget), stopping early when every dropped
// point lies on a chord. Corners go first, so the shape survives. Increasing indices.
std::vector<size_t> SimplifyCurve(std::span<const double> x, std::span<const double> y,
                                  size_t max_points) {
  const size_t n = x.size();
  std::vector<size_t> kept;
  if (n <= max_points) {
    for (size_t i = 0; i < n; ++i) kept.push_back(i);
    return kept;
  }
  struct Segment {
    size_t first, last, farthest;
    double distance;
    bool operator<(const Segment& other) const { return distance < other.distance; }
  };
  auto measure = [&](size_t first, size_t last) {
    Segment segment{first, last, first, -1};
    const double dx = x[last] - x[first];
    const double dy = y[last] - y[first];
    const double length = std::hypot(dx, dy);
    for (size_t i = first + 1; i < last; ++i) {
      const double px = x[i] - x[first];
      const double py = y[i] - y[first];
      const double d = length > 0 ? std::abs(dx * py - dy * px) / length : std::hypot(px, py);
      if (d > segment.distance) {
        segment.distance = d;
        segment.farthest = i;
      }
    }
    return segment;
  };
  kept = {0, n - 1};
  std::priority_queue<Segment> queue;
  queue.push(measure(0, n - 1));
  while (kept.size() < max_points && !queue.empty()) {
    Segment top = queue.top();
    queue.pop();
    if (top.distance <= 0) break;
    kept.push_back(top.farthest);
    if (top.farthest - top.first > 1) queue.push(measure(top.first, top.farthest));
    if (top.last - top.farthest > 1) queue.push(measure(top.farthest, top.last));
  }
  std::sort(kept.begin(), kept.end());
  return kept;
}

json CurveToJson(int k, const char* x_name, const std::vector<double>& x, const char* y_name,
                 const std::vector<double>& y, size_t max_points) {
  json xs = json::array();
  json ys = json::array();
  for (size_t i : SimplifyCurve(x, y, max_points)) {
    xs.push_back(x[i]);
    ys.push_back(y[i]);
  }
  return {{"class", k}, {x_name, std::move(xs)}, {y_name, std::move(ys)}};
}

json EvaluationToJson(const Evaluation& e, size_t curve_points, size_t misclassified) {
  const metrics::EvaluationReport& report = e.report;
  const int num_classes = report.num_classes;
  const std::optional<metrics::OneVsRestReport>& ovr = report.one_vs_rest;
  json confusion = json::array();
  for (int t = 0; t < num_classes; ++t) {
    json row = json::array();
    for (int p = 0; p < num_classes; ++p) row.push_back(report.confusion.at(t, p));
    confusion.push_back(std::move(row));
  }
  json per_class = json::array();
  for (int k = 0; k < num_classes; ++k) {
    const metrics::ClassScores& s = report.classification.per_class[k];
    per_class.push_back(
        {{"class", k},
         {"name", e.class_names[k]},
         {"precision", Number(s.precision)},
         {"recall", Number(s.recall)},
         {"f1", Number(s.f1)},
         {"support", s.support},
         {"auroc", ovr ? Number(ovr->auroc[k]) : json(nullptr)},
         {"average_precision", ovr ? Number(ovr->average_precision[k]) : json(nullptr)}});
  }
  const metrics::AveragedScores& macro = report.classification.macro;
  json roc = json::array();
  json pr = json::array();
  for (int k = 0; k < static_cast<int>(e.roc.size()); ++k) {
    roc.push_back(CurveToJson(k, "fpr", e.roc[k].fpr, "tpr", e.roc[k].tpr, curve_points));
    pr.push_back(
        CurveToJson(k, "recall", e.pr[k].recall, "precision", e.pr[k].precision, curve_points));
  }
  json mistakes = json::array();
  for (size_t i = 0; i < std::min(misclassified, e.misclassified.size()); ++i) {
    const Misclassified& m = e.misclassified[i];
    mistakes.push_back({{"index", m.index},
                        {"label", m.label},
                        {"predicted", m.predicted},
                        {"confidence", Number(m.confidence)}});
  }
  return {{"evaluation",
           {{"artifact", e.artifact},
            {"dataset", e.dataset},
            {"split", "test"},
            {"class_names", e.class_names},
            {"count", report.num_samples},
            {"accuracy", Number(report.accuracy)},
            {"confusion", std::move(confusion)},
            {"per_class", std::move(per_class)},
            {"macro",
             {{"precision", Number(macro.precision)},
              {"recall", Number(macro.recall)},
              {"f1", Number(macro.f1)},
              {"auroc", ovr ? Number(ovr->auroc_macro) : json(nullptr)},
              {"average_precision", ovr ? Number(ovr->average_precision_macro) : json(nullptr)}}},
            {"roc", std::move(roc)},
            {"pr", std::move(pr)},
            {"misclassified", std::move(mistakes)}}}};
}

// The newest version of type "predictions" the run produced that holds a predictions.csv.
std::optional<std::pair<track::ArtifactVersion, track::ArtifactFile>> NewestPredictions(
    const track::RunArtifacts& artifacts) {
  std::optional<std::pair<track::ArtifactVersion, track::ArtifactFile>> newest;
  for (const track::ArtifactVersion& artifact : artifacts.produced) {
    if (artifact.type != "predictions") continue;
    auto file =
        std::find_if(artifact.files.begin(), artifact.files.end(),
                     [](const track::ArtifactFile& f) { return f.path == kPredictionsFile; });
    if (file == artifact.files.end()) continue;
    if (!newest || artifact.created_time > newest->first.created_time ||
        (artifact.created_time == newest->first.created_time &&
         artifact.version > newest->first.version)) {
      newest.emplace(artifact, *file);
    }
  }
  return newest;
}

// ---------------------------------------------------------------------------------------------
// The routes
// ---------------------------------------------------------------------------------------------

struct Analysis {
  ServerContext context;
  DatasetCache datasets;
  EvaluationCache evaluations;

  track::RunStore& store() const { return *context.store; }

  Status Scrub(Status status) const { return ScrubStoreUri(context, std::move(status)); }
  template <typename T>
  Result<T> Scrub(Result<T> result) const {
    return ScrubStoreUri(context, std::move(result));
  }
  Result<track::RunInfo> ReadableRun(const Request& request, const std::string& id) const {
    return server::ReadableRun(context, request, id);
  }

  Result<PredictionTable> ReadPredictions(const track::ArtifactVersion& artifact,
                                          const track::ArtifactFile& file) const {
    static std::atomic<uint64_t> counter{0};
    const fs::path copy =
        context.data_dir / "uploads" /
        (".evaluation-" + std::to_string(getpid()) + "-" + std::to_string(counter.fetch_add(1)));
    const std::string name = artifact.name + ":" + artifact.VersionName() + "/" + file.path;
    Status copied = Scrub(store().ReadArtifactFile(file, copy));
    Result<PredictionTable> table =
        copied.ok() ? ReadPredictionsCsv(copy.string()) : Result<PredictionTable>(copied);
    std::error_code ignored;
    fs::remove(copy, ignored);
    if (table.ok()) return table;
    // The copy's name means nothing to a client; the artifact's does.
    std::string message = table.status().message();
    if (size_t at = message.find(copy.string()); at != std::string::npos) {
      message.replace(at, copy.string().size(), name);
    }
    // A file that is not a predictions CSV is stored data the route cannot process (422), not a
    // bad request.
    const ErrorCode code = table.status().code() == ErrorCode::kInvalidArgument
                               ? ErrorCode::kDataLoss
                               : table.status().code();
    return Status(code, "artifact " + name + ": " + message);
  }
};

void AddDatasetRoutes(Router& router, std::shared_ptr<Analysis> analysis) {
  router.Add("GET", "/api/v1/datasets", [](Request&, httplib::Response& response) {
    json list = json::array();
    for (const DatasetInfo& info : ListBuiltinDatasets()) {
      list.push_back({{"name", info.name},
                      {"description", info.description},
                      {"available", info.available},
                      {"num_classes", info.num_classes},
                      {"train_count", info.train_count},
                      {"test_count", info.test_count},
                      {"class_names", info.class_names}});
    }
    WriteJson(response, {{"datasets", std::move(list)}});
    return Status::Ok();
  });

  router.Add("GET", "/api/v1/datasets/([^/]+)/stats",
             [analysis](Request& request, httplib::Response& response) {
               LABBOOK_ASSIGN_OR_RETURN(Split split,
                                        ParseSplit(request.Query("split").value_or("train")));
               LABBOOK_ASSIGN_OR_RETURN(DatasetInfo info, InstalledDataset(request.params()[0]));
               LABBOOK_ASSIGN_OR_RETURN(std::shared_ptr<const LoadedDataset> loaded,
                                        analysis->datasets.Get(info));
               response.status = 200;
               response.set_content(loaded->stats(split), "application/json");
               return Status::Ok();
             });

  router.Add("GET", "/api/v1/datasets/([^/]+)/([^/]+)/images/([^/]+)",
             [analysis](Request& request, httplib::Response& response) {
               LABBOOK_ASSIGN_OR_RETURN(Split split, ParseSplit(request.params()[1]));
               const std::string& index_text = request.params()[2];
               int64_t index = -1;
               const char* end = index_text.data() + index_text.size();
               auto [ptr, error] = std::from_chars(index_text.data(), end, index);
               if (error != std::errc() || ptr != end || index < 0) {
                 return InvalidArgument("image index '" + index_text.substr(0, 40) +
                                        "': expected a non-negative integer");
               }
               LABBOOK_ASSIGN_OR_RETURN(int64_t scale,
                                        IntegerQuery(request, "scale", 1, 1, kMaxImageScale));
               LABBOOK_ASSIGN_OR_RETURN(DatasetInfo info, InstalledDataset(request.params()[0]));
               LABBOOK_ASSIGN_OR_RETURN(std::shared_ptr<const LoadedDataset> loaded,
                                        analysis->datasets.Get(info));
               const ImageSet& images = loaded->images(split);
               if (index >= images.count) {
                 return NotFound("image " + std::to_string(index) + " of " + info.name + " " +
                                 SplitName(split) + ": the split holds images 0.." +
                                 std::to_string(images.count - 1));
               }
               const size_t size = static_cast<size_t>(images.rows) * images.cols * images.channels;
               LABBOOK_ASSIGN_OR_RETURN(
                   std::string png,
                   report::EncodePng(
                       std::span(images.pixels).subspan(static_cast<size_t>(index) * size, size),
                       images.rows, images.cols, images.channels, static_cast<int>(scale)));
               response.status = 200;
               response.set_header("Cache-Control", "public, max-age=86400");
               response.set_content(std::move(png), "image/png");
               return Status::Ok();
             });
}

void AddEvaluationRoute(Router& router, std::shared_ptr<Analysis> analysis) {
  router.Add(
      "GET", "/api/v1/runs/([^/]+)/evaluation",
      [analysis](Request& request, httplib::Response& response) {
        LABBOOK_ASSIGN_OR_RETURN(
            int64_t curve_points,
            IntegerQuery(request, "curve_points", kDefaultCurvePoints, 2, kMaxCurvePoints));
        LABBOOK_ASSIGN_OR_RETURN(
            int64_t misclassified,
            IntegerQuery(request, "misclassified", kDefaultMisclassified, 0, kMaxMisclassified));
        LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run,
                                 analysis->ReadableRun(request, request.params()[0]));
        LABBOOK_ASSIGN_OR_RETURN(track::RunArtifacts artifacts,
                                 analysis->Scrub(analysis->store().ArtifactsOfRun(run.id)));
        auto newest = NewestPredictions(artifacts);
        if (!newest) return NotFound("run " + run.id + " has no predictions artifact");
        const auto& [artifact, file] = *newest;
        const std::string key = run.id + "\n" + artifact.entity + "/" + artifact.project + "/" +
                                artifact.name + ":" + artifact.VersionName();
        std::shared_ptr<const Evaluation> evaluation = analysis->evaluations.Find(key);
        if (!evaluation) {
          LABBOOK_ASSIGN_OR_RETURN(PredictionTable table,
                                   analysis->ReadPredictions(artifact, file));
          json artifact_json = {{"entity", artifact.entity},
                                {"project", artifact.project},
                                {"name", artifact.name},
                                {"version", artifact.VersionName()},
                                {"path", file.path}};
          auto dataset = run.config.find("dataset");
          json dataset_name =
              dataset != run.config.end() && dataset->is_string() ? *dataset : json(nullptr);
          Result<Evaluation> computed =
              EvaluatePredictions(table, std::move(artifact_json), std::move(dataset_name));
          if (!computed.ok()) {
            return DataLoss("artifact " + artifact.name + ":" + artifact.VersionName() + "/" +
                            file.path + " cannot be evaluated: " + computed.status().message());
          }
          evaluation = std::make_shared<const Evaluation>(std::move(*computed));
          analysis->evaluations.Put(key, evaluation);
        }
        WriteJson(response, EvaluationToJson(*evaluation, static_cast<size_t>(curve_points),
                                             static_cast<size_t>(misclassified)));
        return Status::Ok();
      });
}

}  // namespace

void AddAnalysisRoutes(Router& router, const ServerContext& context) {
  auto analysis = std::make_shared<Analysis>();
  analysis->context = context;
  AddDatasetRoutes(router, analysis);
  AddEvaluationRoute(router, analysis);
}

}  // namespace labbook::server
