// `labbook eval`: every classification metric of a predictions CSV, as tables, JSON and plots.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "core/run_on_threads.hpp"
#include "core/status_macros.hpp"
#include "labbook/dataset.hpp"
#include "labbook/metrics.hpp"
#include "metrics/curves.hpp"
#include "output.hpp"
#include "report/plot.hpp"
#include "report/text_table.hpp"

namespace labbook::cli {
namespace {

struct EvalOptions {
  std::string predictions;
  std::string out;
  bool json = false;
  bool no_plots = false;
  std::string class_names;       // comma-separated
  std::string class_names_from;  // a dataset name
  std::string tradeoff_class;    // id or name; empty: no trade-off table
  std::vector<double> thresholds;
};

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    parts.push_back(text.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return parts;
}

Result<std::vector<std::string>> ResolveClassNames(const EvalOptions& options, int num_classes) {
  std::vector<std::string> names;
  if (!options.class_names.empty()) {
    names = SplitCommas(options.class_names);
    if (static_cast<int>(names.size()) != num_classes) {
      return InvalidArgument("--class-names: expected " + std::to_string(num_classes) +
                             " names (one per class in the predictions), got " +
                             std::to_string(names.size()));
    }
    return names;
  }
  if (!options.class_names_from.empty()) {
    LABBOOK_ASSIGN_OR_RETURN(Dataset dataset,
                             LoadDataset(options.class_names_from, DatasetSplits::kTestOnly));
    if (dataset.num_classes < num_classes) {
      return InvalidArgument("--class-names-from " + options.class_names_from + ": it has " +
                             std::to_string(dataset.num_classes) +
                             " classes, the predictions have " + std::to_string(num_classes));
    }
    names.assign(dataset.class_names.begin(), dataset.class_names.begin() + num_classes);
    return names;
  }
  for (int k = 0; k < num_classes; ++k) names.push_back(std::to_string(k));
  return names;
}

Result<int> ResolveClass(const std::string& text, const std::vector<std::string>& names) {
  for (size_t k = 0; k < names.size(); ++k) {
    if (names[k] == text) return static_cast<int>(k);
  }
  int id = -1;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec == std::errc() && ptr == text.data() + text.size() && id >= 0 &&
      id < static_cast<int>(names.size())) {
    return id;
  }
  return InvalidArgument("--tradeoff-class: expected a class id 0.." +
                         std::to_string(names.size() - 1) + " or a class name, got '" + text + "'");
}

std::string Num(double value, int decimals = 4) {
  if (std::isnan(value)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

nlohmann::json ScoresJson(double precision, double recall, double f1) {
  return {
      {"precision", JsonNumber(precision)}, {"recall", JsonNumber(recall)}, {"f1", JsonNumber(f1)}};
}

nlohmann::json ReportJson(const std::string& path, const metrics::EvaluationReport& report,
                          const std::vector<std::string>& names,
                          const std::vector<metrics::ThresholdRow>& tradeoff, int tradeoff_class) {
  nlohmann::json j;
  j["predictions"] = path;
  j["num_samples"] = report.num_samples;
  j["num_classes"] = report.num_classes;
  j["class_names"] = names;
  j["accuracy"] = JsonNumber(report.accuracy);
  j["balanced_accuracy"] = JsonNumber(report.balanced_accuracy.value);
  j["balanced_accuracy_ignored_classes"] = report.balanced_accuracy.ignored_classes;
  const auto& c = report.classification;
  nlohmann::json per_class = nlohmann::json::array();
  for (int k = 0; k < report.num_classes; ++k) {
    const metrics::ClassScores& s = c.per_class[k];
    nlohmann::json row = ScoresJson(s.precision, s.recall, s.f1);
    row["class"] = k;
    row["name"] = names[k];
    row["support"] = s.support;
    row["predicted"] = s.predicted_count;
    row["precision_undefined"] = s.precision_undefined;
    row["recall_undefined"] = s.recall_undefined;
    if (report.one_vs_rest) {
      row["auroc"] = JsonNumber(report.one_vs_rest->auroc[k]);
      row["average_precision"] = JsonNumber(report.one_vs_rest->average_precision[k]);
    }
    per_class.push_back(std::move(row));
  }
  j["per_class"] = std::move(per_class);
  j["macro_avg"] = ScoresJson(c.macro.precision, c.macro.recall, c.macro.f1);
  j["micro_avg"] = ScoresJson(c.micro.precision, c.micro.recall, c.micro.f1);
  j["weighted_avg"] = ScoresJson(c.weighted.precision, c.weighted.recall, c.weighted.f1);
  nlohmann::json matrix = nlohmann::json::array();
  for (int t = 0; t < report.num_classes; ++t) {
    nlohmann::json row = nlohmann::json::array();
    for (int p = 0; p < report.num_classes; ++p) row.push_back(report.confusion.at(t, p));
    matrix.push_back(std::move(row));
  }
  j["confusion_matrix"] = std::move(matrix);
  if (report.log_loss) j["log_loss"] = JsonNumber(*report.log_loss);
  if (!report.top_k.empty()) {
    nlohmann::json top_k = nlohmann::json::object();
    for (const auto& t : report.top_k) top_k[std::to_string(t.k)] = JsonNumber(t.accuracy);
    j["top_k_accuracy"] = std::move(top_k);
  }
  if (report.one_vs_rest) {
    const auto& o = *report.one_vs_rest;
    j["auroc_ovr"] = {{"macro", JsonNumber(o.auroc_macro)},
                      {"weighted", JsonNumber(o.auroc_weighted)}};
    j["average_precision"] = {{"macro", JsonNumber(o.average_precision_macro)},
                              {"weighted", JsonNumber(o.average_precision_weighted)}};
  }
  if (!tradeoff.empty()) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& r : tradeoff) {
      nlohmann::json row = ScoresJson(r.precision, r.recall, r.f1);
      row["threshold"] = JsonNumber(r.threshold);
      row["tp"] = r.true_positives;
      row["fp"] = r.false_positives;
      row["fn"] = r.false_negatives;
      row["tn"] = r.true_negatives;
      rows.push_back(std::move(row));
    }
    j["tradeoff"] = {{"class", tradeoff_class}, {"rows", std::move(rows)}};
  }
  return j;
}

Status PrintReport(const std::string& path, const metrics::EvaluationReport& report,
                   const std::vector<std::string>& names,
                   const std::vector<metrics::ThresholdRow>& tradeoff, int tradeoff_class,
                   bool colour) {
  using report::Align;
  const auto& c = report.classification;
  std::printf("%s: %s samples, %d classes, %s\n\n", path.c_str(),
              FormatCount(report.num_samples).c_str(), report.num_classes,
              report.one_vs_rest ? "with probabilities" : "without probabilities (no ROC/PR)");

  report::TextTable summary({{"metric", Align::kLeft}, {"value", Align::kRight}});
  summary.SetTitle("Summary");
  LABBOOK_RETURN_IF_ERROR(summary.AddRow({"accuracy", Num(report.accuracy)}));
  LABBOOK_RETURN_IF_ERROR(
      summary.AddRow({"balanced accuracy", Num(report.balanced_accuracy.value)}));
  LABBOOK_RETURN_IF_ERROR(summary.AddRow({"macro F1", Num(c.macro.f1)}));
  LABBOOK_RETURN_IF_ERROR(summary.AddRow({"weighted F1", Num(c.weighted.f1)}));
  if (report.log_loss) LABBOOK_RETURN_IF_ERROR(summary.AddRow({"log loss", Num(*report.log_loss)}));
  for (const auto& t : report.top_k) {
    LABBOOK_RETURN_IF_ERROR(
        summary.AddRow({"top-" + std::to_string(t.k) + " accuracy", Num(t.accuracy)}));
  }
  if (report.one_vs_rest) {
    const auto& o = *report.one_vs_rest;
    LABBOOK_RETURN_IF_ERROR(summary.AddRow({"AUROC one-vs-rest (macro)", Num(o.auroc_macro)}));
    LABBOOK_RETURN_IF_ERROR(
        summary.AddRow({"AUROC one-vs-rest (weighted)", Num(o.auroc_weighted)}));
    LABBOOK_RETURN_IF_ERROR(
        summary.AddRow({"average precision (macro)", Num(o.average_precision_macro)}));
    LABBOOK_RETURN_IF_ERROR(
        summary.AddRow({"average precision (weighted)", Num(o.average_precision_weighted)}));
  }
  std::fputs(summary.Render(colour).c_str(), stdout);

  std::vector<report::TextTable::Column> columns = {
      {"class", Align::kRight},  {"name", Align::kLeft}, {"precision", Align::kRight},
      {"recall", Align::kRight}, {"f1", Align::kRight},  {"support", Align::kRight}};
  if (report.one_vs_rest) {
    columns.push_back({"auroc", Align::kRight});
    columns.push_back({"ap", Align::kRight});
  }
  report::TextTable per_class(columns);
  per_class.SetTitle("Per class");
  for (int k = 0; k < report.num_classes; ++k) {
    const metrics::ClassScores& s = c.per_class[k];
    std::vector<std::string> row = {std::to_string(k), names[k],  Num(s.precision),
                                    Num(s.recall),     Num(s.f1), FormatCount(s.support)};
    if (report.one_vs_rest) {
      row.push_back(Num(report.one_vs_rest->auroc[k]));
      row.push_back(Num(report.one_vs_rest->average_precision[k]));
    }
    LABBOOK_RETURN_IF_ERROR(per_class.AddRow(std::move(row)));
  }
  // Averages rows; the one-vs-rest columns hold the matching AUROC and AP average when there is
  // one (there is no micro-averaged AUROC in the report).
  auto add_average = [&](const char* label, const metrics::AveragedScores& a, double auroc,
                         double ap) -> Status {
    std::vector<std::string> row = {
        "", label, Num(a.precision), Num(a.recall), Num(a.f1), FormatCount(c.total_support)};
    if (report.one_vs_rest) {
      row.push_back(std::isnan(auroc) ? "" : Num(auroc));
      row.push_back(std::isnan(ap) ? "" : Num(ap));
    }
    return per_class.AddRow(std::move(row));
  };
  const double kNone = std::nan("");
  const bool ovr = report.one_vs_rest.has_value();
  LABBOOK_RETURN_IF_ERROR(add_average("macro avg", c.macro,
                                      ovr ? report.one_vs_rest->auroc_macro : kNone,
                                      ovr ? report.one_vs_rest->average_precision_macro : kNone));
  LABBOOK_RETURN_IF_ERROR(add_average("micro avg", c.micro, kNone, kNone));
  LABBOOK_RETURN_IF_ERROR(
      add_average("weighted avg", c.weighted, ovr ? report.one_vs_rest->auroc_weighted : kNone,
                  ovr ? report.one_vs_rest->average_precision_weighted : kNone));
  std::printf("\n");
  std::fputs(per_class.Render(colour).c_str(), stdout);

  std::vector<report::TextTable::Column> cm_columns = {{"true \\ predicted", Align::kLeft}};
  for (int p = 0; p < report.num_classes; ++p) cm_columns.push_back({names[p], Align::kRight});
  report::TextTable cm(cm_columns);
  cm.SetTitle("Confusion matrix (rows: true class, columns: predicted class)");
  for (int t = 0; t < report.num_classes; ++t) {
    std::vector<std::string> row = {names[t]};
    for (int p = 0; p < report.num_classes; ++p) {
      row.push_back(std::to_string(report.confusion.at(t, p)));
    }
    LABBOOK_RETURN_IF_ERROR(cm.AddRow(std::move(row)));
    if (colour) LABBOOK_RETURN_IF_ERROR(cm.Highlight(cm.row_count() - 1, t + 1));
  }
  std::printf("\n");
  std::fputs(cm.Render(colour).c_str(), stdout);

  if (!tradeoff.empty()) {
    report::TextTable table({{"threshold", Align::kRight},
                             {"precision", Align::kRight},
                             {"recall", Align::kRight},
                             {"f1", Align::kRight},
                             {"tp", Align::kRight},
                             {"fp", Align::kRight},
                             {"fn", Align::kRight},
                             {"tn", Align::kRight}});
    table.SetTitle("Precision/recall trade-off for class " + std::to_string(tradeoff_class) + " (" +
                   names[tradeoff_class] + "): predicted when p >= threshold");
    for (const auto& r : tradeoff) {
      LABBOOK_RETURN_IF_ERROR(
          table.AddRow({Num(r.threshold, 3), Num(r.precision), Num(r.recall), Num(r.f1),
                        FormatCount(r.true_positives), FormatCount(r.false_positives),
                        FormatCount(r.false_negatives), FormatCount(r.true_negatives)}));
    }
    std::printf("\n");
    std::fputs(table.Render(colour).c_str(), stdout);
  }

  std::vector<std::string> notes;
  for (int k = 0; k < report.num_classes; ++k) {
    const metrics::ClassScores& s = c.per_class[k];
    if (s.precision_undefined) {
      notes.push_back("class " + names[k] +
                      " was never predicted: its precision is undefined, "
                      "shown as 0");
    }
    if (s.recall_undefined) {
      notes.push_back("class " + names[k] +
                      " never occurs in the labels: its recall is "
                      "undefined, shown as 0");
    }
  }
  if (!notes.empty()) {
    std::printf("\n");
    for (const auto& note : notes) std::printf("note: %s\n", note.c_str());
  }
  return Status::Ok();
}

// Renders the plots on up to hardware_concurrency() threads (rendering is independent per plot),
// then writes them in order as path_stem.png and .svg; the first error in that order wins.
Status RenderAndWrite(const std::vector<std::function<Result<report::RenderedPlot>()>>& renders,
                      const std::vector<std::string>& stems) {
  std::vector<std::optional<Result<report::RenderedPlot>>> plots(renders.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < renders.size(); i = next++) plots[i] = renders[i]();
  };
  const size_t threads =
      std::max<size_t>(1, std::min<size_t>(std::thread::hardware_concurrency(), renders.size()));
  RunOnThreads(static_cast<int>(threads), [&](int) { work(); });
  for (size_t i = 0; i < plots.size(); ++i) {
    if (!plots[i]->ok()) return plots[i]->status();
    LABBOOK_RETURN_IF_ERROR(report::WriteRenderedPlot(**plots[i], stems[i]));
  }
  return Status::Ok();
}

// `curves` come from EvaluateWithCurves, thinned to what a plot shows; they are moved from.
Status WritePlots(const metrics::EvaluationReport& report, const PredictionTable& table,
                  metrics::OneVsRestCurves& curves, const std::vector<std::string>& names,
                  const std::string& out) {
  const int k_classes = report.num_classes;
  report::HeatmapSpec counts;
  counts.title = "Confusion matrix";
  counts.row_labels = names;
  counts.column_labels = names;
  for (int64_t v : report.confusion.counts) {
    counts.values.push_back(static_cast<double>(v));
    counts.annotations.push_back(std::to_string(v));
  }
  counts.colour_bar_label = "Samples";

  report::HeatmapSpec normalized = counts;
  normalized.title = "Confusion matrix, normalised by true class (recall on the diagonal)";
  normalized.values = report.confusion.Normalized(metrics::ConfusionNormalization::kByTrue);
  normalized.annotations.clear();
  for (double v : normalized.values) normalized.annotations.push_back(Num(v, 2));
  normalized.colour_min = 0.0;
  normalized.colour_max = 1.0;
  normalized.colour_bar_label = "Share of the true class";
  if (!table.has_probabilities) {
    return RenderAndWrite({[&] { return report::RenderPlot(counts); },
                           [&] { return report::RenderPlot(normalized); }},
                          {out + "/confusion_matrix", out + "/confusion_matrix_normalized"});
  }
  report::LineChartSpec roc;
  roc.title = "ROC curves, one class against the rest";
  roc.x_label = "False positive rate";
  roc.y_label = "True positive rate";
  roc.x_min = 0.0;
  roc.x_max = 1.0;
  roc.y_min = 0.0;
  roc.y_max = 1.0;
  roc.diagonal = true;
  roc.legend = report::LegendPosition::kLowerRight;
  report::LineChartSpec pr;
  pr.title = "Precision-recall curves, one class against the rest";
  pr.x_label = "Recall";
  pr.y_label = "Precision";
  pr.x_min = 0.0;
  pr.x_max = 1.0;
  pr.y_min = 0.0;
  pr.y_max = 1.05;
  pr.legend = report::LegendPosition::kLowerLeft;
  const auto& ovr = *report.one_vs_rest;
  for (int k = 0; k < k_classes; ++k) {
    report::LineSeries roc_line;
    roc_line.name = names[k] + " (AUC " + Num(ovr.auroc[k], 3) + ")";
    roc_line.x = std::move(curves.roc[k].fpr);
    roc_line.y = std::move(curves.roc[k].tpr);
    roc.series.push_back(std::move(roc_line));

    report::LineSeries pr_line;
    pr_line.name = names[k] + " (AP " + Num(ovr.average_precision[k], 3) + ")";
    pr_line.x = std::move(curves.pr[k].recall);
    pr_line.y = std::move(curves.pr[k].precision);
    pr_line.step = true;
    pr.series.push_back(std::move(pr_line));
  }
  if (k_classes > 10) {
    roc.legend = report::LegendPosition::kOutsideRight;
    pr.legend = report::LegendPosition::kOutsideRight;
  }
  return RenderAndWrite(
      {[&] { return report::RenderPlot(counts); }, [&] { return report::RenderPlot(normalized); },
       [&] { return report::RenderPlot(roc); }, [&] { return report::RenderPlot(pr); }},
      {out + "/confusion_matrix", out + "/confusion_matrix_normalized", out + "/roc", out + "/pr"});
}

Status RunEval(const EvalOptions& options, bool colour) {
  LABBOOK_ASSIGN_OR_RETURN(PredictionTable table, ReadPredictionsCsv(options.predictions));
  if (table.labels.empty()) {
    return InvalidArgument(options.predictions + ": no predictions after the header");
  }
  LABBOOK_ASSIGN_OR_RETURN(std::vector<std::string> names,
                           ResolveClassNames(options, table.num_classes));
  // The curves for the plots come from the one-vs-rest pass's own sorts, thinned to a few
  // thousand points a curve: a million samples then draw as fast as a thousand.
  metrics::OneVsRestCurves curves;
  LABBOOK_ASSIGN_OR_RETURN(
      metrics::EvaluationReport report,
      metrics::EvaluateWithCurves(table.labels, table.predicted, table.probabilities,
                                  table.num_classes, metrics::CurveThinning{},
                                  options.no_plots ? nullptr : &curves));

  std::vector<metrics::ThresholdRow> tradeoff;
  int tradeoff_class = -1;
  if (!options.tradeoff_class.empty()) {
    if (!table.has_probabilities) {
      return InvalidArgument("--tradeoff-class: " + options.predictions +
                             " has no probability columns p_0..p_K-1 to threshold");
    }
    LABBOOK_ASSIGN_OR_RETURN(tradeoff_class, ResolveClass(options.tradeoff_class, names));
    std::vector<double> thresholds = options.thresholds;
    if (thresholds.empty()) {
      for (int i = 1; i <= 19; ++i) thresholds.push_back(i * 0.05);
    }
    LABBOOK_ASSIGN_OR_RETURN(tradeoff, metrics::PrecisionRecallAtThresholds(
                                           table.labels, table.probabilities, table.num_classes,
                                           tradeoff_class, thresholds));
  }

  nlohmann::json json = ReportJson(options.predictions, report, names, tradeoff, tradeoff_class);
  std::string out =
      options.out.empty() ? "labbook-out/eval-" + FileStem(options.predictions) : options.out;
  LABBOOK_RETURN_IF_ERROR(EnsureDirectory(out));
  LABBOOK_RETURN_IF_ERROR(WriteTextFile(out + "/metrics.json", json.dump(2) + "\n"));
  if (!options.no_plots) LABBOOK_RETURN_IF_ERROR(WritePlots(report, table, curves, names, out));

  if (options.json) {
    std::printf("%s\n", json.dump(2).c_str());
  } else {
    LABBOOK_RETURN_IF_ERROR(
        PrintReport(options.predictions, report, names, tradeoff, tradeoff_class, colour));
    std::printf("\nwrote %s/: metrics.json%s\n", out.c_str(),
                options.no_plots ? ""
                : table.has_probabilities
                    ? ", confusion_matrix, confusion_matrix_normalized, roc, pr (.png and .svg)"
                    : ", confusion_matrix, confusion_matrix_normalized (.png and .svg)");
  }
  return Status::Ok();
}

}  // namespace

void AddEvalCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* eval = app.add_subcommand(
      "eval",
      "Evaluate a classifier's predictions: confusion matrix, accuracy, precision/recall/F1, "
      "log loss, top-k accuracy, ROC/PR curves, AUROC and average precision");
  eval->add_option("predictions", options->predictions,
                   "Predictions CSV with header index,label,predicted[,p_0,...,p_{K-1}]")
      ->required();
  eval->add_flag("--json", options->json, "Print the metrics as JSON instead of tables");
  eval->add_option("--out", options->out,
                   "Directory for metrics.json and the plots (default labbook-out/eval-STEM)");
  eval->add_flag("--no-plots", options->no_plots, "Write metrics.json only, no PNG/SVG plots");
  eval->add_option("--class-names", options->class_names,
                   "Comma-separated class names, one per class, in class-id order");
  eval->add_option("--class-names-from", options->class_names_from,
                   "Take the class names from a dataset (fashion-mnist, mnist-digits, idx:DIR)");
  eval->add_option("--tradeoff-class", options->tradeoff_class,
                   "Print a precision/recall trade-off table for this class (id or name)");
  eval->add_option("--thresholds", options->thresholds,
                   "Thresholds of the trade-off table (default 0.05, 0.10, ..., 0.95)")
      ->delimiter(',');
  eval->callback([options, &action] {
    action = [options] { return RunEval(*options, report::StdoutWantsColour()); };
  });
}

}  // namespace labbook::cli
