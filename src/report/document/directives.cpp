#include "report/document/directives.hpp"

#include <stdlib.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <utility>

#include "core/status_macros.hpp"
#include "labbook/metrics.hpp"
#include "report/dataset_plots.hpp"
#include "track/filter.hpp"

namespace labbook::report::document {

using metrics::AveragedScores;
using metrics::ClassificationReport;
using metrics::ClassScores;
using metrics::ConfusionMatrix;
using metrics::ConfusionNormalization;
using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// ReportData
// ---------------------------------------------------------------------------------------------

Result<track::RunStore*> ReportData::Store() {
  if (store_) return store_.get();
  if (!sources_.open_store) return FailedPrecondition("this report has no run store to read");
  LABBOOK_ASSIGN_OR_RETURN(store_, sources_.open_store());
  return store_.get();
}

Result<const Dataset*> ReportData::Split(const std::string& name, bool test) {
  const std::string key = name + (test ? "\ntest" : "\ntrain");
  auto it = splits_.find(key);
  if (it != splits_.end()) return it->second.get();
  DatasetSplits which = test ? DatasetSplits::kTestOnly : DatasetSplits::kTrainOnly;
  Result<Dataset> loaded =
      sources_.load_dataset ? sources_.load_dataset(name, which) : LoadDataset(name, which);
  if (!loaded.ok()) return loaded.status().WithContext("dataset '" + name + "'");
  auto dataset = std::make_unique<Dataset>(std::move(loaded).value());
  return splits_.emplace(key, std::move(dataset)).first->second.get();
}

Result<const DatasetStats*> ReportData::Stats(const std::string& name, bool test) {
  const std::string key = name + (test ? "\ntest" : "\ntrain");
  auto it = stats_.find(key);
  if (it != stats_.end()) return it->second.get();
  LABBOOK_ASSIGN_OR_RETURN(const Dataset* dataset, Split(name, test));
  const ImageSet& set = test ? dataset->test : dataset->train;
  LABBOOK_ASSIGN_OR_RETURN(DatasetStats stats, ComputeStats(set, dataset->num_classes));
  auto owned = std::make_unique<DatasetStats>(std::move(stats));
  return stats_.emplace(key, std::move(owned)).first->second.get();
}

Result<const PredictionTable*> ReportData::Predictions(const track::RunInfo& run) {
  auto it = predictions_.find(run.id);
  if (it != predictions_.end()) return it->second.get();
  LABBOOK_ASSIGN_OR_RETURN(track::RunStore * store, Store());
  LABBOOK_ASSIGN_OR_RETURN(track::RunArtifacts artifacts, store->ArtifactsOfRun(run.id));
  const track::ArtifactVersion* newest = nullptr;
  for (const track::ArtifactVersion& artifact : artifacts.produced) {
    if (artifact.type != "predictions") continue;
    if (newest == nullptr || artifact.created_time > newest->created_time ||
        (artifact.created_time == newest->created_time && artifact.version > newest->version)) {
      newest = &artifact;
    }
  }
  if (newest == nullptr) {
    return NotFound("run " + run.id + " (" + run.name +
                    ") produced no artifact of type 'predictions' (labbook train logs one)");
  }
  const std::string reference = newest->name + ":" + newest->VersionName();
  const track::ArtifactFile* file = nullptr;
  for (const track::ArtifactFile& candidate : newest->files) {
    std::string_view path = candidate.path;
    if (path == "predictions.csv" || path.ends_with("/predictions.csv")) file = &candidate;
  }
  if (file == nullptr) {
    return NotFound("artifact " + reference + " of run " + run.id + " holds no predictions.csv");
  }
  std::error_code error;
  std::string pattern =
      (std::filesystem::temp_directory_path(error) / "labbook-report-XXXXXX").string();
  if (error || mkdtemp(pattern.data()) == nullptr) {
    return Internal("cannot create a scratch directory to read artifact " + reference);
  }
  const std::filesystem::path scratch = pattern;
  Status read = store->ReadArtifactFile(*file, scratch / "predictions.csv");
  Result<PredictionTable> table =
      read.ok() ? ReadPredictionsCsv((scratch / "predictions.csv")) : Result<PredictionTable>(read);
  std::filesystem::remove_all(scratch, error);
  if (!table.ok()) return table.status().WithContext("artifact " + reference + " of run " + run.id);
  auto owned = std::make_unique<PredictionTable>(std::move(table).value());
  return predictions_.emplace(run.id, std::move(owned)).first->second.get();
}

namespace {

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

std::string Fixed(double value, int decimals) {
  if (std::isnan(value)) return "NaN";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

std::string Count(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string IsoUtc(double time) {
  if (time == 0 || !std::isfinite(time)) return "";
  auto seconds = static_cast<std::time_t>(std::floor(time));
  std::tm parts{};
  if (gmtime_r(&seconds, &parts) == nullptr) return "";
  char buffer[32];
  size_t length = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return std::string(buffer, length);
}

// A value in a table cell: strings as they are, fractional numbers with four significant digits,
// arrays of strings joined by commas, anything else as compact JSON.
std::string CellText(const json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) {
    double number = value.get<double>();
    if (std::isnan(number)) return "NaN";
    if (std::isinf(number)) return number > 0 ? "inf" : "-inf";
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.4g", number);
    return buffer;
  }
  if (value.is_array() &&
      std::all_of(value.begin(), value.end(), [](const json& item) { return item.is_string(); })) {
    std::string joined;
    for (const json& item : value) joined += (joined.empty() ? "" : ", ") + item.get<std::string>();
    return joined;
  }
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string Join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  return out;
}

std::string RunLabel(const track::RunInfo& run) {
  return run.name == run.id ? run.id : run.name + " (" + run.id + ")";
}

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

struct OptionInfo {
  std::string_view name;
  std::string_view help;
};

// A directive's options as given, falling back on the defaults directive's, then on the caller's
// default. Remembers the line of the option a reading failed on, for the error's place.
class Options {
 public:
  Options(const Directive& directive, const DefaultOptions& defaults,
          const std::vector<OptionInfo>& known)
      : directive_(directive), defaults_(defaults), known_(known) {}

  const DirectiveOption* Find(std::string_view key) const {
    if (const DirectiveOption* own = directive_.Find(key)) return own;
    auto it = defaults_.find(key);
    return it == defaults_.end() ? nullptr : &it->second;
  }

  bool Has(std::string_view key) const { return Find(key) != nullptr; }

  std::string Get(std::string_view key, std::string fallback = "") const {
    const DirectiveOption* option = Find(key);
    return option ? option->value : fallback;
  }

  // A comma-separated list, items trimmed, empty items dropped.
  std::vector<std::string> List(std::string_view key, std::string fallback = "") const {
    std::string text = Get(key, std::move(fallback));
    std::vector<std::string> items;
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find(',', start);
      if (end == std::string::npos) end = text.size();
      std::string item = text.substr(start, end - start);
      item.erase(0, item.find_first_not_of(" \t"));
      item.erase(item.find_last_not_of(" \t") + 1);
      if (!item.empty()) items.push_back(item);
      start = end + 1;
    }
    return items;
  }

  Result<int> Int(std::string_view key, int fallback, int min, int max) {
    const DirectiveOption* option = Find(key);
    if (option == nullptr) return fallback;
    int value = 0;
    const char* end = option->value.data() + option->value.size();
    auto [ptr, ec] = std::from_chars(option->value.data(), end, value);
    if (ec != std::errc() || ptr != end || value < min || value > max) {
      return Fail(key,
                  InvalidArgument("expected a whole number from " + std::to_string(min) + " to " +
                                  std::to_string(max) + ", got '" + option->value + "'"));
    }
    return value;
  }

  Result<std::string> Choice(std::string_view key, std::string fallback,
                             const std::vector<std::string>& choices) {
    std::string value = Get(key, std::move(fallback));
    if (std::find(choices.begin(), choices.end(), value) != choices.end()) return value;
    return Fail(
        key, InvalidArgument("expected one of " + Join(choices, ", ") + ", got '" + value + "'"));
  }

  // `status` about option `key`: remembered as the error's line, its message prefixed by the key.
  Status Fail(std::string_view key, const Status& status) {
    const DirectiveOption* option = Find(key);
    if (option != nullptr) failed_line_ = option->line;
    return status.WithContext(std::string(key));
  }

  // Unknown keys of the directive itself: InvalidArgument listing the known ones.
  Status CheckKnown(std::string_view directive_name) {
    for (const DirectiveOption& option : directive_.options) {
      bool known = std::any_of(known_.begin(), known_.end(),
                               [&](const OptionInfo& info) { return info.name == option.key; });
      if (known) continue;
      failed_line_ = option.line;
      std::vector<std::string> names;
      for (const OptionInfo& info : known_) names.emplace_back(info.name);
      return InvalidArgument("unknown option '" + option.key + "'; the options of " +
                             std::string(directive_name) + " are " +
                             (names.empty() ? "none" : Join(names, ", ")));
    }
    return Status::Ok();
  }

  int failed_line() const { return failed_line_; }

 private:
  const Directive& directive_;
  const DefaultOptions& defaults_;
  const std::vector<OptionInfo>& known_;
  int failed_line_ = 0;
};

using Blocks = std::vector<Block>;
using RenderFunction = std::function<Result<Blocks>(Options&, ReportData&)>;

struct DirectiveInfo {
  std::string_view name;
  std::vector<OptionInfo> options;
  RenderFunction render;
};

// ---------------------------------------------------------------------------------------------
// Selecting runs
// ---------------------------------------------------------------------------------------------

const OptionInfo kProject{"project", "only runs of this project"};
const OptionInfo kEntity{"entity", "only runs of this entity"};
const OptionInfo kFilter{"filter", "only runs for which the expression holds (labbook runs list)"};
const OptionInfo kSort{"sort", "order by a field, descending with a leading '-'"};
const OptionInfo kLimit{"limit", "at most this many runs"};
const OptionInfo kRun{"run", "a run id (or unique prefix), or 'best': the first run by sort"};
const OptionInfo kDataset{"dataset", "dataset name (default: the run's config.dataset)"};

constexpr const char* kBestSort = "-summary.test.accuracy";

// The runs the options select, filtered, sorted (by `default_sort` unless `sort` is given) and
// limited. The filter and sort key are checked before the store is read.
Result<std::vector<track::RunInfo>> SelectRuns(Options& options, ReportData& data,
                                               const std::string& default_sort) {
  std::optional<track::RunFilter> filter;
  if (options.Has("filter")) {
    Result<track::RunFilter> compiled = track::RunFilter::Compile(options.Get("filter"));
    if (!compiled.ok()) return options.Fail("filter", compiled.status());
    filter = std::move(compiled).value();
  }
  std::optional<track::RunSortKey> sort;
  const std::string sort_text = options.Get("sort", default_sort);
  if (!sort_text.empty()) {
    Result<track::RunSortKey> key = track::RunSortKey::Parse(sort_text);
    if (!key.ok()) return options.Fail("sort", key.status());
    sort = std::move(key).value();
  }
  int limit = 0;
  if (options.Has("limit")) {
    LABBOOK_ASSIGN_OR_RETURN(limit, options.Int("limit", 0, 1, 100000));
  }
  LABBOOK_ASSIGN_OR_RETURN(track::RunStore * store, data.Store());
  LABBOOK_ASSIGN_OR_RETURN(std::vector<track::RunInfo> runs,
                           store->ListRuns({options.Get("entity"), options.Get("project")}));
  if (filter) {
    std::erase_if(runs, [&](const track::RunInfo& run) { return !filter->Matches(run); });
  }
  if (sort) track::SortRuns(runs, *sort);
  if (limit > 0 && runs.size() > static_cast<size_t>(limit)) runs.resize(limit);
  return runs;
}

std::string SelectionText(const Options& options) {
  std::vector<std::string> parts;
  if (options.Has("project")) parts.push_back("project " + options.Get("project"));
  if (options.Has("entity")) parts.push_back("entity " + options.Get("entity"));
  if (options.Has("filter")) parts.push_back("filter " + options.Get("filter"));
  return parts.empty() ? "the store" : Join(parts, ", ");
}

// The run of `run:` — an id, or "best": the first of the selection sorted by `sort` (default
// -summary.test.accuracy).
Result<track::RunInfo> ChooseRun(Options& options, ReportData& data) {
  const std::string run = options.Get("run", "best");
  if (run != "best") {
    LABBOOK_ASSIGN_OR_RETURN(track::RunStore * store, data.Store());
    Result<track::RunInfo> found = store->GetRun(run);
    if (!found.ok()) return options.Fail("run", found.status());
    return std::move(found).value();
  }
  LABBOOK_ASSIGN_OR_RETURN(std::vector<track::RunInfo> runs, SelectRuns(options, data, kBestSort));
  if (runs.empty()) {
    return NotFound("no run matches " + SelectionText(options) + ", so there is no best run");
  }
  return std::move(runs.front());
}

// The dataset a run was trained on: the `dataset` option, else the run's config.dataset; empty
// when neither names one.
std::string DatasetOfRun(const Options& options, const track::RunInfo& run) {
  if (options.Has("dataset")) return options.Get("dataset");
  auto it = run.config.find("dataset");
  return it != run.config.end() && it->is_string() ? it->get<std::string>() : "";
}

// The class names of a run's predictions: the dataset's when it names one (which must have as
// many classes), else the class numbers.
Result<std::vector<std::string>> ClassNames(Options& options, ReportData& data,
                                            const track::RunInfo& run,
                                            const PredictionTable& predictions) {
  std::vector<std::string> names;
  const std::string dataset_name = DatasetOfRun(options, run);
  if (dataset_name.empty()) {
    for (int k = 0; k < predictions.num_classes; ++k) names.push_back(std::to_string(k));
    return names;
  }
  Result<const Dataset*> dataset = data.Split(dataset_name, true);
  if (!dataset.ok()) return options.Fail("dataset", dataset.status());
  names = (*dataset)->class_names;
  if (static_cast<int>(names.size()) < predictions.num_classes) {
    return options.Fail(
        "dataset",
        InvalidArgument("dataset '" + dataset_name + "' has " + std::to_string(names.size()) +
                        " classes but the predictions of run " + run.id + " have " +
                        std::to_string(predictions.num_classes)));
  }
  names.resize(static_cast<size_t>(predictions.num_classes));
  return names;
}

Result<ConfusionMatrix> ConfusionOf(const PredictionTable& predictions) {
  return metrics::ComputeConfusionMatrix(predictions.labels, predictions.predicted,
                                         std::max(1, predictions.num_classes));
}

// ---------------------------------------------------------------------------------------------
// dataset-stats
// ---------------------------------------------------------------------------------------------

Result<Blocks> DatasetStatsBlocks(Options& options, ReportData& data) {
  if (!options.Has("dataset")) {
    return InvalidArgument("needs option 'dataset', e.g. 'dataset: fashion-mnist'");
  }
  const std::string name = options.Get("dataset");
  LABBOOK_ASSIGN_OR_RETURN(std::string split, options.Choice("split", "train", {"train", "test"}));
  const std::vector<std::string> parts_known = {"table", "labels", "means", "histogram", "samples"};
  std::vector<std::string> show = options.List("show", "table, labels, means, histogram");
  for (const std::string& part : show) {
    if (std::find(parts_known.begin(), parts_known.end(), part) == parts_known.end()) {
      return options.Fail("show", InvalidArgument("expected a list of " + Join(parts_known, ", ") +
                                                  ", got '" + part + "'"));
    }
  }
  LABBOOK_ASSIGN_OR_RETURN(int per_class, options.Int("samples", 8, 1, 32));
  const bool test = split == "test";
  Result<const Dataset*> loaded = data.Split(name, test);
  if (!loaded.ok()) return options.Fail("dataset", loaded.status());
  const Dataset& dataset = **loaded;
  const ImageSet& set = test ? dataset.test : dataset.train;
  LABBOOK_ASSIGN_OR_RETURN(const DatasetStats* stats_pointer, data.Stats(name, test));
  const DatasetStats& stats = *stats_pointer;
  const std::string title = dataset.name + " (" + split + ")";
  std::string shape = std::to_string(stats.rows) + "x" + std::to_string(stats.cols);
  if (stats.channels != 1) shape += "x" + std::to_string(stats.channels);
  const std::string pixels =
      "mean " + Fixed(stats.pixel_mean, 4) + ", standard deviation " + Fixed(stats.pixel_std, 4) +
      ", min " + std::to_string(stats.pixel_min) + ", max " + std::to_string(stats.pixel_max);

  Blocks blocks;
  for (const std::string& part : show) {
    if (part == "table") {
      blocks.push_back(Block::Text(dataset.name + ", " + split + " split: " + Count(stats.count) +
                                   " images of " + shape + ", " +
                                   std::to_string(stats.num_classes) +
                                   " classes. Pixel values (0-255): " + pixels + "."));
      TableBlock table;
      table.caption = "Label distribution: " + title;
      table.header = {"class", "name", "images", "share", "mean pixel"};
      for (int k = 0; k < stats.num_classes; ++k) {
        const auto& mean = stats.class_mean_images[k];
        double mean_pixel = 0;
        for (double v : mean) mean_pixel += v;
        if (!mean.empty()) mean_pixel /= static_cast<double>(mean.size());
        double share = stats.count ? static_cast<double>(stats.label_counts[k]) / stats.count : 0;
        table.rows.push_back({std::to_string(k), dataset.class_names[k],
                              Count(stats.label_counts[k]), Fixed(100 * share, 1) + "%",
                              Fixed(mean_pixel, 2)});
      }
      blocks.push_back(Block::Table(std::move(table)));
    } else if (part == "labels") {
      LABBOOK_ASSIGN_OR_RETURN(
          RenderedPlot plot, RenderPlot(LabelDistributionPlot(dataset.class_names, stats, title)));
      blocks.push_back(Block::Plot("label-distribution", std::move(plot)));
    } else if (part == "means") {
      LABBOOK_ASSIGN_OR_RETURN(RenderedPlot plot,
                               RenderPlot(ClassMeanImagesPlot(dataset.class_names, stats, title)));
      blocks.push_back(Block::Plot("class-means", std::move(plot)));
    } else if (part == "histogram") {
      LABBOOK_ASSIGN_OR_RETURN(RenderedPlot plot, RenderPlot(PixelHistogramPlot(stats, title)));
      blocks.push_back(Block::Plot("pixel-histogram", std::move(plot), "Pixel values: " + pixels));
    } else {
      LABBOOK_ASSIGN_OR_RETURN(RenderedPlot plot, RenderPlot(SampleImagesPlot(
                                                      set, dataset.class_names, per_class, title)));
      blocks.push_back(Block::Plot("samples", std::move(plot)));
    }
  }
  return blocks;
}

// ---------------------------------------------------------------------------------------------
// runs
// ---------------------------------------------------------------------------------------------

// The default columns: name, id and state, then the numeric test results any run has.
std::vector<std::string> DefaultRunColumns(const std::vector<track::RunInfo>& runs) {
  std::set<std::string> results;
  for (const track::RunInfo& run : runs) {
    for (const auto& [key, value] : run.summary.items()) {
      if (key.starts_with("test/") && value.is_number()) results.insert("summary." + key);
    }
  }
  std::vector<std::string> columns = {"name", "id", "state"};
  columns.insert(columns.end(), results.begin(), results.end());
  return columns;
}

Result<Blocks> RunsBlocks(Options& options, ReportData& data) {
  std::vector<track::RunField> fields;
  for (const std::string& column : options.List("columns")) {
    Result<track::RunField> field = track::RunField::Parse(column);
    if (!field.ok()) return options.Fail("columns", field.status());
    fields.push_back(std::move(field).value());
  }
  LABBOOK_ASSIGN_OR_RETURN(std::vector<track::RunInfo> runs, SelectRuns(options, data, ""));
  if (runs.empty()) return Blocks{Block::Text("No run matches " + SelectionText(options) + ".")};
  if (fields.empty()) {
    for (const std::string& column : DefaultRunColumns(runs)) {
      LABBOOK_ASSIGN_OR_RETURN(track::RunField field, track::RunField::Parse(column));
      fields.push_back(std::move(field));
    }
  }
  TableBlock table;
  for (const track::RunField& field : fields) table.header.push_back(field.name());
  for (const track::RunInfo& run : runs) {
    std::vector<std::string> row;
    for (const track::RunField& field : fields) {
      json scratch;
      const json* value = field.Find(run, scratch);
      if (value == nullptr) {
        row.emplace_back();
      } else if (field.is_time() && value->is_number()) {
        row.push_back(IsoUtc(value->get<double>()));
      } else {
        row.push_back(CellText(*value));
      }
    }
    table.rows.push_back(std::move(row));
  }
  return Blocks{Block::Table(std::move(table))};
}

// ---------------------------------------------------------------------------------------------
// learning-curves
// ---------------------------------------------------------------------------------------------

Result<Blocks> LearningCurvesBlocks(Options& options, ReportData& data) {
  std::vector<std::string> keys = options.List("key", "epoch/val_accuracy");
  if (keys.empty()) return options.Fail("key", InvalidArgument("expected a history key"));
  LABBOOK_ASSIGN_OR_RETURN(int points, options.Int("points", 1000, 2, 100000));
  LABBOOK_ASSIGN_OR_RETURN(std::vector<track::RunInfo> runs, SelectRuns(options, data, ""));
  if (runs.empty()) return Blocks{Block::Text("No run matches " + SelectionText(options) + ".")};
  LABBOOK_ASSIGN_OR_RETURN(track::RunStore * store, data.Store());
  // Legend entries are run names, with the id where two runs share a name.
  std::map<std::string, int> name_counts;
  for (const track::RunInfo& run : runs) ++name_counts[run.name];

  Blocks blocks;
  for (const std::string& key : keys) {
    LineChartSpec chart;
    chart.title = key;
    chart.x_label = key.starts_with("epoch/") ? "epoch" : "step";
    chart.y_label = key;
    chart.legend = runs.size() > 6 ? LegendPosition::kOutsideRight : LegendPosition::kBest;
    std::vector<std::string> without;
    for (const track::RunInfo& run : runs) {
      LABBOOK_ASSIGN_OR_RETURN(std::vector<track::KeyInfo> logged, store->HistoryKeys(run.id));
      bool has_key = std::any_of(logged.begin(), logged.end(),
                                 [&](const track::KeyInfo& info) { return info.key == key; });
      if (!has_key) {
        without.push_back(run.id);
        continue;
      }
      track::HistoryQuery query;
      query.max_points = static_cast<size_t>(points);
      LABBOOK_ASSIGN_OR_RETURN(track::Series series, store->ReadHistory(run.id, key, query));
      LineSeries line;
      line.name = name_counts[run.name] > 1 ? RunLabel(run) : run.name;
      for (size_t i = 0; i < series.steps.size(); ++i) {
        line.x.push_back(static_cast<double>(series.steps[i]));
        line.y.push_back(series.values[i]);
      }
      line.markers = series.steps.size() <= 50;
      chart.series.push_back(std::move(line));
    }
    if (chart.series.empty()) {
      return options.Fail("key", NotFound("none of the " + std::to_string(runs.size()) +
                                          " runs selected logged '" + key + "'"));
    }
    LABBOOK_ASSIGN_OR_RETURN(RenderedPlot plot, RenderPlot(chart));
    std::string caption = std::to_string(chart.series.size()) + " run" +
                          (chart.series.size() == 1 ? "" : "s") + " of " + SelectionText(options);
    if (!without.empty()) caption += "; without " + key + ": " + Join(without, ", ");
    std::string file_name = key;
    std::replace_if(
        file_name.begin(), file_name.end(),
        [](char c) { return !std::isalnum(static_cast<unsigned char>(c)) && c != '-'; }, '-');
    blocks.push_back(Block::Plot("curves-" + file_name, std::move(plot), caption));
  }
  return blocks;
}

// ---------------------------------------------------------------------------------------------
// confusion-matrix, class-metrics, misclassified
// ---------------------------------------------------------------------------------------------

Result<Blocks> ConfusionMatrixBlocks(Options& options, ReportData& data) {
  LABBOOK_ASSIGN_OR_RETURN(std::string normalize,
                           options.Choice("normalize", "none", {"none", "true", "pred", "all"}));
  LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run, ChooseRun(options, data));
  LABBOOK_ASSIGN_OR_RETURN(const PredictionTable* predictions, data.Predictions(run));
  LABBOOK_ASSIGN_OR_RETURN(std::vector<std::string> names,
                           ClassNames(options, data, run, *predictions));
  LABBOOK_ASSIGN_OR_RETURN(ConfusionMatrix confusion, ConfusionOf(*predictions));
  HeatmapSpec heatmap;
  heatmap.title = "Confusion matrix: " + RunLabel(run);
  heatmap.row_labels = names;
  heatmap.column_labels = names;
  ConfusionNormalization how = normalize == "true"   ? ConfusionNormalization::kByTrue
                               : normalize == "pred" ? ConfusionNormalization::kByPredicted
                               : normalize == "all"  ? ConfusionNormalization::kOverAll
                                                     : ConfusionNormalization::kNone;
  heatmap.values = confusion.Normalized(how);
  for (size_t i = 0; i < heatmap.values.size(); ++i) {
    heatmap.annotations.push_back(how == ConfusionNormalization::kNone
                                      ? std::to_string(confusion.counts[i])
                                      : Fixed(heatmap.values[i], 2));
  }
  heatmap.colour_bar_label = how == ConfusionNormalization::kNone ? "Images" : "Fraction";
  LABBOOK_ASSIGN_OR_RETURN(RenderedPlot plot, RenderPlot(heatmap));
  std::string caption = "Run " + RunLabel(run) + ": accuracy " +
                        Fixed(metrics::Accuracy(confusion), 4) + " on " + Count(confusion.total()) +
                        " test images";
  return Blocks{Block::Plot("confusion-matrix", std::move(plot), caption)};
}

Result<Blocks> ClassMetricsBlocks(Options& options, ReportData& data) {
  LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run, ChooseRun(options, data));
  LABBOOK_ASSIGN_OR_RETURN(const PredictionTable* predictions, data.Predictions(run));
  LABBOOK_ASSIGN_OR_RETURN(std::vector<std::string> names,
                           ClassNames(options, data, run, *predictions));
  LABBOOK_ASSIGN_OR_RETURN(ConfusionMatrix confusion, ConfusionOf(*predictions));
  ClassificationReport scores = metrics::ComputeClassificationReport(confusion);
  TableBlock table;
  table.caption = "Per-class scores: " + RunLabel(run);
  table.header = {"class", "name", "precision", "recall", "f1", "support"};
  for (size_t k = 0; k < scores.per_class.size(); ++k) {
    const ClassScores& s = scores.per_class[k];
    table.rows.push_back({std::to_string(k), names[k], Fixed(s.precision, 4), Fixed(s.recall, 4),
                          Fixed(s.f1, 4), Count(s.support)});
  }
  auto average = [&](const char* name, const AveragedScores& s) {
    table.rows.push_back({"", name, Fixed(s.precision, 4), Fixed(s.recall, 4), Fixed(s.f1, 4),
                          Count(scores.total_support)});
  };
  average("macro avg", scores.macro);
  average("weighted avg", scores.weighted);
  Blocks blocks{Block::Table(std::move(table))};
  blocks.push_back(Block::Text("Accuracy " + Fixed(metrics::Accuracy(confusion), 4) + " on " +
                               Count(confusion.total()) + " test images."));
  return blocks;
}

Result<Blocks> MisclassifiedBlocks(Options& options, ReportData& data) {
  LABBOOK_ASSIGN_OR_RETURN(int limit, options.Int("limit", 24, 1, 1000));
  LABBOOK_ASSIGN_OR_RETURN(int columns, options.Int("columns", 8, 1, 50));
  // `limit` counts images here; as a limit on runs it would not change which run is best.
  LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run, ChooseRun(options, data));
  LABBOOK_ASSIGN_OR_RETURN(const PredictionTable* predictions, data.Predictions(run));
  const std::string dataset_name = DatasetOfRun(options, run);
  if (dataset_name.empty()) {
    return InvalidArgument("run " + run.id +
                           " has no config.dataset; name the dataset of its test images with "
                           "'dataset: NAME'");
  }
  Result<const Dataset*> loaded = data.Split(dataset_name, true);
  if (!loaded.ok()) return options.Fail("dataset", loaded.status());
  const ImageSet& test = (*loaded)->test;
  LABBOOK_ASSIGN_OR_RETURN(std::vector<std::string> names,
                           ClassNames(options, data, run, *predictions));

  // The most confident mistakes first (by the probability of the wrong class), then by index.
  std::vector<size_t> wrong;
  for (size_t i = 0; i < predictions->labels.size(); ++i) {
    if (predictions->labels[i] != predictions->predicted[i]) wrong.push_back(i);
  }
  auto confidence = [&](size_t i) {
    if (!predictions->has_probabilities) return 0.0;
    return predictions->probabilities[i * predictions->num_classes + predictions->predicted[i]];
  };
  std::stable_sort(wrong.begin(), wrong.end(),
                   [&](size_t a, size_t b) { return confidence(a) > confidence(b); });
  const size_t total = predictions->labels.size();
  if (wrong.empty()) {
    return Blocks{Block::Text("Run " + RunLabel(run) + " classified all " + Count(total) +
                              " test images correctly.")};
  }
  ImageGridSpec grid;
  grid.title = "Misclassified: " + RunLabel(run);
  grid.columns = columns;
  grid.invert = true;
  grid.scale = std::max(1, (112 + test.cols - 1) / std::max(1, test.cols));
  for (size_t n = 0; n < wrong.size() && n < static_cast<size_t>(limit); ++n) {
    const size_t i = wrong[n];
    const int64_t index = predictions->index[i];
    if (index < 0 || index >= test.count || test.labels[index] != predictions->labels[i]) {
      return options.Fail(
          "dataset",
          InvalidArgument("the predictions of run " + run.id + " do not match the test split of '" +
                          dataset_name + "': index " + std::to_string(index) +
                          (index < test.count ? " has another label" : " is past its end")));
    }
    std::string caption =
        names[predictions->labels[i]] + " \xe2\x86\x92 " + names[predictions->predicted[i]];
    grid.images.push_back(ImageOfSet(test, index, caption));
  }
  LABBOOK_ASSIGN_OR_RETURN(RenderedPlot plot, RenderPlot(grid));
  std::string caption =
      Count(static_cast<int64_t>(wrong.size())) + " of " + Count(total) +
      " test images misclassified; " +
      (grid.images.size() < wrong.size()
           ? "the first " + std::to_string(grid.images.size()) + " shown, "
           : std::string("all shown, ")) +
      (predictions->has_probabilities ? "most confident first" : "in dataset order") +
      " (true \xe2\x86\x92 predicted)";
  return Blocks{Block::Plot("misclassified", std::move(plot), caption)};
}

// ---------------------------------------------------------------------------------------------
// The table of directives
// ---------------------------------------------------------------------------------------------

const std::vector<OptionInfo> kDefaultsOptions = {kProject, kEntity, kFilter, kSort, kDataset};

const std::vector<DirectiveInfo>& Directives() {
  static const std::vector<DirectiveInfo> directives = {
      {"dataset-stats",
       {{"dataset", "dataset name: fashion-mnist, mnist-digits or idx:DIR"},
        {"split", "train (default) or test"},
        {"show", "what to show: table, labels, means, histogram, samples"},
        {"samples", "sample images per class in the samples grid (default 8)"}},
       DatasetStatsBlocks},
      {"runs",
       {kProject, kEntity, kFilter, kSort, kLimit, {"columns", "fields to show"}},
       RunsBlocks},
      {"learning-curves",
       {kProject,
        kEntity,
        kFilter,
        kSort,
        kLimit,
        {"key", "history keys, one chart each (default epoch/val_accuracy)"},
        {"points", "at most this many points per run (default 1000)"}},
       LearningCurvesBlocks},
      {"confusion-matrix",
       {kRun,
        kProject,
        kEntity,
        kFilter,
        kSort,
        kDataset,
        {"normalize", "none (default), true, pred or all"}},
       ConfusionMatrixBlocks},
      {"class-metrics", {kRun, kProject, kEntity, kFilter, kSort, kDataset}, ClassMetricsBlocks},
      {"misclassified",
       {kRun,
        kProject,
        kEntity,
        kFilter,
        kSort,
        kDataset,
        {"limit", "at most this many images (default 24)"},
        {"columns", "images per row (default 8)"}},
       MisclassifiedBlocks},
  };
  return directives;
}

std::string Place(std::string_view spec_name, int line, const std::string& name) {
  return std::string(spec_name) + ":" + std::to_string(line) + ": labbook " + name;
}

}  // namespace

std::string DirectiveNameList() {
  std::vector<std::string> names;
  for (const DirectiveInfo& info : Directives()) names.emplace_back(info.name);
  names.emplace_back("defaults");
  return Join(names, ", ");
}

Status ApplyDefaults(const Directive& directive, std::string_view spec_name,
                     DefaultOptions& defaults) {
  DefaultOptions none;
  Options options(directive, none, kDefaultsOptions);
  Status known = options.CheckKnown("defaults");
  if (!known.ok()) {
    return known.WithContext(Place(spec_name, options.failed_line(), directive.name));
  }
  for (const DirectiveOption& option : directive.options) defaults[option.key] = option;
  return Status::Ok();
}

Result<std::vector<Block>> RenderDirective(const Directive& directive, std::string_view spec_name,
                                           const DefaultOptions& defaults, ReportData& data) {
  const DirectiveInfo* info = nullptr;
  for (const DirectiveInfo& candidate : Directives()) {
    if (candidate.name == directive.name) info = &candidate;
  }
  if (info == nullptr) {
    return InvalidArgument(std::string(spec_name) + ":" + std::to_string(directive.line) +
                           ": unknown directive 'labbook " + directive.name +
                           "'; the directives are " + DirectiveNameList());
  }
  Options options(directive, defaults, info->options);
  Status known = options.CheckKnown(directive.name);
  Result<Blocks> blocks = known.ok() ? info->render(options, data) : Result<Blocks>(known);
  if (blocks.ok()) return blocks;
  int line = options.failed_line() != 0 ? options.failed_line() : directive.line;
  return blocks.status().WithContext(Place(spec_name, line, directive.name));
}

}  // namespace labbook::report::document
