// `labbook data info` and `labbook data stats`: what a dataset holds and what it looks like.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.hpp"
#include "core/status_macros.hpp"
#include "labbook/dataset.hpp"
#include "output.hpp"
#include "report/dataset_plots.hpp"
#include "report/plot.hpp"
#include "report/text_table.hpp"

namespace labbook::cli {
namespace {

struct DataOptions {
  std::string name;
  std::string split = "train";
  std::string out;
  bool json = false;
  int samples_per_class = 8;
};

std::string ShapeText(const ImageSet& set) {
  std::string shape = std::to_string(set.rows) + "x" + std::to_string(set.cols);
  if (set.channels != 1) shape += "x" + std::to_string(set.channels);
  return shape;
}

std::string Percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * fraction);
  return buf;
}

std::string Fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

Status ListDatasets(bool colour) {
  report::TextTable table({{"name", report::Align::kLeft},
                           {"classes", report::Align::kRight},
                           {"train", report::Align::kRight},
                           {"test", report::Align::kRight},
                           {"installed", report::Align::kLeft},
                           {"location", report::Align::kLeft}});
  std::vector<DatasetInfo> infos = ListBuiltinDatasets();
  for (const DatasetInfo& info : infos) {
    LABBOOK_RETURN_IF_ERROR(
        table.AddRow({info.name, std::to_string(info.num_classes), FormatCount(info.train_count),
                      FormatCount(info.test_count), info.available ? "yes" : "no", info.location}));
  }
  std::fputs(table.Render(colour).c_str(), stdout);
  std::printf("\n");
  for (const DatasetInfo& info : infos) {
    std::printf("%s: %s\n", info.name.c_str(), info.description.c_str());
    if (!info.available) std::printf("  to install: %s\n", info.how_to_get.c_str());
  }
  std::printf("idx:DIR: any directory holding the four MNIST-format IDX files, raw or .gz\n");
  return Status::Ok();
}

Status ShowDataset(const std::string& name, bool colour) {
  LABBOOK_ASSIGN_OR_RETURN(Dataset dataset, LoadDataset(name, DatasetSplits::kTrainAndTest));
  std::printf("%s: %s\n", dataset.name.c_str(), dataset.description.c_str());
  std::printf("source: %s\n", dataset.source.c_str());
  std::printf("train: %s images of %s, test: %s images of %s, %d classes\n\n",
              FormatCount(dataset.train.count).c_str(), ShapeText(dataset.train).c_str(),
              FormatCount(dataset.test.count).c_str(), ShapeText(dataset.test).c_str(),
              dataset.num_classes);
  report::TextTable table({{"class", report::Align::kRight},
                           {"name", report::Align::kLeft},
                           {"train", report::Align::kRight},
                           {"test", report::Align::kRight}});
  std::vector<int64_t> train_counts(dataset.num_classes, 0);
  std::vector<int64_t> test_counts(dataset.num_classes, 0);
  for (uint8_t label : dataset.train.labels) ++train_counts[label];
  for (uint8_t label : dataset.test.labels) ++test_counts[label];
  for (int k = 0; k < dataset.num_classes; ++k) {
    LABBOOK_RETURN_IF_ERROR(
        table.AddRow({std::to_string(k), dataset.class_names[k], FormatCount(train_counts[k]),
                      FormatCount(test_counts[k])}));
  }
  std::fputs(table.Render(colour).c_str(), stdout);
  return Status::Ok();
}

nlohmann::json StatsJson(const Dataset& dataset, const std::string& split,
                         const DatasetStats& stats, bool with_mean_images) {
  nlohmann::json j;
  j["dataset"] = dataset.name;
  j["split"] = split;
  j["source"] = dataset.source;
  j["count"] = stats.count;
  j["shape"] = {stats.rows, stats.cols, stats.channels};
  j["num_classes"] = stats.num_classes;
  j["class_names"] = dataset.class_names;
  j["label_counts"] = stats.label_counts;
  j["pixel_mean"] = JsonNumber(stats.pixel_mean);
  j["pixel_std"] = JsonNumber(stats.pixel_std);
  j["pixel_min"] = stats.pixel_min;
  j["pixel_max"] = stats.pixel_max;
  j["pixel_histogram"] = stats.pixel_histogram;
  if (with_mean_images) {
    nlohmann::json means = nlohmann::json::array();
    for (const auto& image : stats.class_mean_images) {
      nlohmann::json row = nlohmann::json::array();
      for (double v : image) row.push_back(JsonNumber(v));
      means.push_back(std::move(row));
    }
    j["class_mean_images"] = std::move(means);
  }
  return j;
}

Status WriteStatsFiles(const Dataset& dataset, const ImageSet& set, const std::string& split,
                       const DatasetStats& stats, const DataOptions& options,
                       const std::string& out) {
  LABBOOK_RETURN_IF_ERROR(EnsureDirectory(out));
  LABBOOK_RETURN_IF_ERROR(
      WriteTextFile(out + "/stats.json", StatsJson(dataset, split, stats, true).dump(2) + "\n"));

  std::string csv = "class,name,count,share\n";
  for (int k = 0; k < stats.num_classes; ++k) {
    double share = stats.count ? static_cast<double>(stats.label_counts[k]) / stats.count : 0.0;
    csv += std::to_string(k) + "," + dataset.class_names[k] + "," +
           std::to_string(stats.label_counts[k]) + "," + Fixed(share, 6) + "\n";
  }
  LABBOOK_RETURN_IF_ERROR(WriteTextFile(out + "/label_distribution.csv", csv));

  const std::string title = dataset.name + " (" + split + ")";
  LABBOOK_RETURN_IF_ERROR(
      report::WritePlot(report::LabelDistributionPlot(dataset.class_names, stats, title),
                        out + "/label_distribution"));
  LABBOOK_RETURN_IF_ERROR(
      report::WritePlot(report::PixelHistogramPlot(stats, title), out + "/pixel_histogram"));
  LABBOOK_RETURN_IF_ERROR(report::WritePlot(
      report::ClassMeanImagesPlot(dataset.class_names, stats, title), out + "/class_means"));
  // The first `samples_per_class` images of each class, in file order: the same grid every run.
  report::ImageGridSpec samples =
      report::SampleImagesPlot(set, dataset.class_names, options.samples_per_class, title);
  LABBOOK_RETURN_IF_ERROR(report::WritePlot(samples, out + "/samples"));
  return Status::Ok();
}

Status RunDataStats(const DataOptions& options, bool colour) {
  LABBOOK_ASSIGN_OR_RETURN(DatasetSplits which, ParseDatasetSplits(options.split));
  if (which == DatasetSplits::kTrainAndTest) {
    return InvalidArgument("--split: expected 'train' or 'test', got '" + options.split + "'");
  }
  LABBOOK_ASSIGN_OR_RETURN(Dataset dataset, LoadDataset(options.name, which));
  const ImageSet& set = which == DatasetSplits::kTrainOnly ? dataset.train : dataset.test;
  LABBOOK_ASSIGN_OR_RETURN(DatasetStats stats, ComputeStats(set, dataset.num_classes));

  std::string out = options.out;
  if (out.empty()) {
    std::string safe_name = dataset.name;
    std::replace_if(
        safe_name.begin(), safe_name.end(), [](char c) { return c == '/' || c == ':'; }, '_');
    out = "labbook-out/data-" + safe_name + "-" + options.split;
  }
  LABBOOK_RETURN_IF_ERROR(WriteStatsFiles(dataset, set, options.split, stats, options, out));

  if (options.json) {
    std::printf("%s\n", StatsJson(dataset, options.split, stats, false).dump(2).c_str());
    return Status::Ok();
  }
  std::printf("%s, %s split: %s images of %s, %d classes\n", dataset.name.c_str(),
              options.split.c_str(), FormatCount(stats.count).c_str(), ShapeText(set).c_str(),
              stats.num_classes);
  std::printf("pixels (0-255): mean %.4f, std %.4f, min %d, max %d\n\n", stats.pixel_mean,
              stats.pixel_std, stats.pixel_min, stats.pixel_max);
  report::TextTable table({{"class", report::Align::kRight},
                           {"name", report::Align::kLeft},
                           {"count", report::Align::kRight},
                           {"share", report::Align::kRight},
                           {"mean pixel", report::Align::kRight}});
  table.SetTitle("Label distribution");
  for (int k = 0; k < stats.num_classes; ++k) {
    const auto& mean = stats.class_mean_images[k];
    double mean_pixel = 0;
    for (double v : mean) mean_pixel += v;
    if (!mean.empty()) mean_pixel /= static_cast<double>(mean.size());
    double share = stats.count ? static_cast<double>(stats.label_counts[k]) / stats.count : 0.0;
    LABBOOK_RETURN_IF_ERROR(
        table.AddRow({std::to_string(k), dataset.class_names[k], FormatCount(stats.label_counts[k]),
                      Percent(share), Fixed(mean_pixel, 2)}));
  }
  std::fputs(table.Render(colour).c_str(), stdout);
  std::printf(
      "\nwrote %s/: stats.json, label_distribution.csv, label_distribution, pixel_histogram, "
      "class_means, samples (.png and .svg)\n",
      out.c_str());
  return Status::Ok();
}

}  // namespace

void AddDataCommand(CLI::App& app, Action& action) {
  CLI::App* data =
      app.add_subcommand("data", "Look at datasets: what they hold and their statistics");
  data->require_subcommand(1);

  auto options = std::make_shared<DataOptions>();

  CLI::App* info = data->add_subcommand(
      "info", "List the built-in datasets, or describe one (splits, shape, classes, source)");
  info->add_option("name", options->name,
                   "Dataset: fashion-mnist, mnist-digits or idx:DIR (omit to list all)");
  info->callback([options, &action] {
    action = [options] {
      bool colour = report::StdoutWantsColour();
      return options->name.empty() ? ListDatasets(colour) : ShowDataset(options->name, colour);
    };
  });

  CLI::App* stats = data->add_subcommand(
      "stats",
      "Dataset statistics: counts, label distribution, pixel mean and std, per-class mean "
      "images, pixel histogram and sample grid, as tables, JSON and PNG/SVG plots");
  stats->add_option("name", options->name, "Dataset: fashion-mnist, mnist-digits or idx:DIR")
      ->required();
  stats->add_option("--split", options->split, "Which split to analyse: train or test")
      ->capture_default_str();
  stats->add_flag("--json", options->json, "Print the statistics as JSON instead of tables");
  stats->add_option("--out", options->out,
                    "Directory for stats.json, label_distribution.csv and the plots "
                    "(default labbook-out/data-NAME-SPLIT)");
  stats
      ->add_option("--samples", options->samples_per_class,
                   "Sample images per class in the sample grid")
      ->check(CLI::Range(1, 32))
      ->capture_default_str();
  stats->callback([options, &action] {
    action = [options] { return RunDataStats(*options, report::StdoutWantsColour()); };
  });
}

}  // namespace labbook::cli
