// Every metric against scikit-learn. The oracle script tests/metrics/sklearn_oracle.py generates
// cases from a fixed seed and computes sklearn's answers in a temporary directory on every run;
// a small checked-in set (tests/golden/metrics/sklearn_cases.json, made by the same script) also
// runs without Python and shows any drift as a reviewed text diff.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "labbook/metrics.hpp"

namespace labbook::metrics {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr double kTolerance = 1e-12;

// null in the oracle's JSON is NaN.
bool Matches(double actual, const json& expected) {
  if (expected.is_null()) return std::isnan(actual);
  const double e = expected.get<double>();
  return std::fabs(actual - e) <= kTolerance * std::max(1.0, std::fabs(e));
}

void ExpectValue(double actual, const json& expected, const std::string& what) {
  EXPECT_TRUE(Matches(actual, expected))
      << what << ": labbook " << actual << ", sklearn " << expected.dump();
}

void ExpectValues(const std::vector<double>& actual, const json& expected,
                  const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i) {
    ExpectValue(actual[i], expected[i], what + "[" + std::to_string(i) + "]");
  }
}

bool Raised(const json& value) { return value.is_object() && value.contains("raised"); }

json Flatten(const json& matrix) {
  json flat = json::array();
  for (const json& row : matrix) {
    for (const json& v : row) flat.push_back(v);
  }
  return flat;
}

std::vector<double> Column(const std::vector<double>& probabilities, size_t k, size_t c) {
  std::vector<double> column(probabilities.size() / k);
  for (size_t i = 0; i < column.size(); ++i) column[i] = probabilities[i * k + c];
  return column;
}

void CheckClassification(const json& c, const std::vector<int32_t>& labels,
                         const std::vector<int32_t>& predicted, int32_t k) {
  auto confusion = ComputeConfusionMatrix(labels, predicted, k);
  ASSERT_TRUE(confusion.ok()) << confusion.status().ToString();
  EXPECT_EQ(json(confusion->counts), Flatten(c["confusion"]));
  ExpectValues(confusion->Normalized(ConfusionNormalization::kByTrue), Flatten(c["confusion_true"]),
               "confusion normalize=true");
  ExpectValues(confusion->Normalized(ConfusionNormalization::kByPredicted),
               Flatten(c["confusion_pred"]), "confusion normalize=pred");
  ExpectValues(confusion->Normalized(ConfusionNormalization::kOverAll), Flatten(c["confusion_all"]),
               "confusion normalize=all");
  ExpectValue(Accuracy(*confusion), c["accuracy"], "accuracy");

  const BalancedAccuracy balanced = ComputeBalancedAccuracy(*confusion);
  ExpectValue(balanced.value, c["balanced_accuracy"], "balanced accuracy");
  EXPECT_EQ(!balanced.ignored_classes.empty(), c["balanced_accuracy_warned"].get<bool>());
  std::set<int32_t> predicted_only(predicted.begin(), predicted.end());
  for (int32_t label : labels) predicted_only.erase(label);
  EXPECT_EQ(std::set<int32_t>(balanced.ignored_classes.begin(), balanced.ignored_classes.end()),
            predicted_only);

  const ClassificationReport report = ComputeClassificationReport(*confusion);
  std::vector<double> precision, recall, f1;
  std::vector<int64_t> support;
  bool precision_undefined = false;
  bool recall_undefined = false;
  for (const ClassScores& s : report.per_class) {
    precision.push_back(s.precision);
    recall.push_back(s.recall);
    f1.push_back(s.f1);
    support.push_back(s.support);
    precision_undefined |= s.precision_undefined;
    recall_undefined |= s.recall_undefined;
  }
  ExpectValues(precision, c["precision"], "precision");
  ExpectValues(recall, c["recall"], "recall");
  ExpectValues(f1, c["f1"], "f1");
  EXPECT_EQ(json(support), c["support"]);
  EXPECT_EQ(precision_undefined, c["precision_warned"].get<bool>());
  EXPECT_EQ(recall_undefined, c["recall_warned"].get<bool>());
  const std::pair<const char*, const AveragedScores*> averages[] = {
      {"macro", &report.macro}, {"micro", &report.micro}, {"weighted", &report.weighted}};
  for (const auto& [name, scores] : averages) {
    ExpectValues({scores->precision, scores->recall, scores->f1}, c[name], name);
  }
}

void CheckProbabilityMetrics(const json& c, const std::vector<int32_t>& labels,
                             const std::vector<double>& probabilities, int32_t k) {
  auto log_loss = LogLoss(labels, probabilities, k);
  if (Raised(c["log_loss"])) {
    EXPECT_FALSE(log_loss.ok()) << "sklearn raised: " << c["log_loss"]["raised"];
  } else {
    ASSERT_TRUE(log_loss.ok()) << log_loss.status().ToString();
    ExpectValue(*log_loss, c["log_loss"], "log loss");
  }
  for (const json& top : c["top_k"]) {
    const int32_t top_k = top["k"].get<int32_t>();
    auto value = TopKAccuracy(labels, probabilities, k, top_k);
    const std::string what = "top-" + std::to_string(top_k) + " accuracy";
    if (Raised(top["value"])) {
      EXPECT_FALSE(value.ok()) << what << ": sklearn raised " << top["value"]["raised"];
    } else {
      ASSERT_TRUE(value.ok()) << what << ": " << value.status().ToString();
      ExpectValue(*value, top["value"], what);
    }
  }
}

void CheckOneVsRest(const json& c, const std::vector<int32_t>& labels,
                    const std::vector<double>& probabilities, int32_t k) {
  const json& expected = c["one_vs_rest"];
  auto ovr = ComputeOneVsRest(labels, probabilities, k, 2);
  ASSERT_TRUE(ovr.ok()) << ovr.status().ToString();
  ExpectValues(ovr->auroc, expected["auroc"], "ovr auroc");
  ExpectValues(ovr->average_precision, expected["average_precision"], "ovr ap");
  EXPECT_EQ(json(ovr->support), expected["support"]);
  for (int32_t cls = 0; cls < k; ++cls) {
    const int64_t support = ovr->support[static_cast<size_t>(cls)];
    const RankingIssue issue = support == 0 ? RankingIssue::kNoPositives
                               : support == static_cast<int64_t>(labels.size())
                                   ? RankingIssue::kNoNegatives
                                   : RankingIssue::kNone;
    EXPECT_EQ(ovr->issues[static_cast<size_t>(cls)], issue) << "class " << cls;
  }
  ExpectValue(ovr->auroc_macro, expected["auroc_macro"], "ovr auroc macro");
  ExpectValue(ovr->auroc_weighted, expected["auroc_weighted"], "ovr auroc weighted");
  ExpectValue(ovr->average_precision_macro, expected["average_precision_macro"], "ovr ap macro");
  ExpectValue(ovr->average_precision_weighted, expected["average_precision_weighted"],
              "ovr ap weighted");
  // Where sklearn's own multiclass calls apply, they agree with labbook's mapping.
  const std::pair<const char*, double> direct[] = {
      {"sklearn_auroc_macro", ovr->auroc_macro},
      {"sklearn_auroc_weighted", ovr->auroc_weighted},
      {"sklearn_average_precision_macro", ovr->average_precision_macro},
      {"sklearn_average_precision_weighted", ovr->average_precision_weighted}};
  for (const auto& [name, value] : direct) {
    if (!expected[name].is_null()) ExpectValue(value, expected[name], name);
  }
}

void CheckCurves(const json& c, const std::vector<int32_t>& labels,
                 const std::vector<double>& probabilities, int32_t k) {
  for (const json& curve : c["curves"]) {
    const int32_t cls = curve["class"].get<int32_t>();
    SCOPED_TRACE("curves of class " + std::to_string(cls));
    const std::vector<double> scores =
        Column(probabilities, static_cast<size_t>(k), static_cast<size_t>(cls));
    auto roc = ComputeRocCurve(labels, scores, cls);
    ASSERT_TRUE(roc.ok()) << roc.status().ToString();
    ExpectValues(roc->fpr, curve["roc"]["fpr"], "roc fpr");
    ExpectValues(roc->tpr, curve["roc"]["tpr"], "roc tpr");
    ExpectValues(roc->thresholds, curve["roc"]["thresholds"], "roc thresholds");
    EXPECT_EQ(roc->issue == RankingIssue::kNoPositives,
              curve["roc"]["no_positives_warned"].get<bool>());
    EXPECT_EQ(roc->issue == RankingIssue::kNoNegatives,
              curve["roc"]["no_negatives_warned"].get<bool>());
    auto roc_all = ComputeRocCurve(labels, scores, cls, /*drop_intermediate=*/false);
    ASSERT_TRUE(roc_all.ok());
    ExpectValues(roc_all->fpr, curve["roc_all"]["fpr"], "full roc fpr");
    ExpectValues(roc_all->tpr, curve["roc_all"]["tpr"], "full roc tpr");
    ExpectValues(roc_all->thresholds, curve["roc_all"]["thresholds"], "full roc thresholds");

    auto pr = ComputePrecisionRecallCurve(labels, scores, cls);
    ASSERT_TRUE(pr.ok()) << pr.status().ToString();
    ExpectValues(pr->precision, curve["pr"]["precision"], "pr precision");
    ExpectValues(pr->recall, curve["pr"]["recall"], "pr recall");
    ExpectValues(pr->thresholds, curve["pr"]["thresholds"], "pr thresholds");
    EXPECT_EQ(pr->issue == RankingIssue::kNoPositives,
              curve["pr"]["no_positives_warned"].get<bool>());

    auto auroc = RocAuc(labels, scores, cls);
    ASSERT_TRUE(auroc.ok());
    if (Raised(curve["auroc"])) {
      EXPECT_TRUE(std::isnan(auroc->value)) << "sklearn raised: " << curve["auroc"]["raised"];
      EXPECT_NE(auroc->issue, RankingIssue::kNone);
    } else {
      ExpectValue(auroc->value, curve["auroc"], "auroc");
      EXPECT_EQ(auroc->issue, RankingIssue::kNone);
    }
    auto ap = AveragePrecision(labels, scores, cls);
    ASSERT_TRUE(ap.ok());
    ExpectValue(ap->value, curve["average_precision"], "average precision");
  }
}

void CheckThresholdTable(const json& c, const std::vector<int32_t>& labels,
                         const std::vector<double>& probabilities, int32_t k) {
  const json& expected = c["thresholds"];
  const auto values = expected["values"].get<std::vector<double>>();
  auto rows = PrecisionRecallAtThresholds(labels, probabilities, k,
                                          expected["class"].get<int32_t>(), values);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const ThresholdRow& row = (*rows)[i];
    const json& e = expected["rows"][i];
    const std::string what = "threshold " + std::to_string(values[i]);
    ExpectValue(row.precision, e["precision"], what + " precision");
    ExpectValue(row.recall, e["recall"], what + " recall");
    ExpectValue(row.f1, e["f1"], what + " f1");
    EXPECT_EQ(row.true_positives, e["tp"].get<int64_t>()) << what;
    EXPECT_EQ(row.false_positives, e["fp"].get<int64_t>()) << what;
    EXPECT_EQ(row.false_negatives, e["fn"].get<int64_t>()) << what;
    EXPECT_EQ(row.true_negatives, e["tn"].get<int64_t>()) << what;
  }
}

// Evaluate must report exactly what the individual functions do.
void CheckEvaluate(const json& c, const std::vector<int32_t>& labels,
                   const std::vector<int32_t>& predicted, const std::vector<double>& probabilities,
                   int32_t k) {
  auto report = Evaluate(labels, predicted, probabilities, k);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ExpectValue(report->accuracy, c["accuracy"], "evaluate accuracy");
  ExpectValue(report->classification.macro.f1, c["macro"][2], "evaluate macro f1");
  EXPECT_EQ(report->log_loss.has_value(), !Raised(c["log_loss"]));
  if (report->log_loss) ExpectValue(*report->log_loss, c["log_loss"], "evaluate log loss");
  ASSERT_TRUE(report->one_vs_rest.has_value());
  ExpectValue(report->one_vs_rest->auroc_macro, c["one_vs_rest"]["auroc_macro"],
              "evaluate auroc macro");
  for (const TopKScore& top : report->top_k) {
    for (const json& e : c["top_k"]) {
      if (e["k"].get<int32_t>() == top.k) ExpectValue(top.accuracy, e["value"], "evaluate top-k");
    }
  }
}

int CheckCases(const json& document) {
  int checked = 0;
  for (const json& c : document.at("cases")) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto k = c["num_classes"].get<int32_t>();
    const auto labels = c["labels"].get<std::vector<int32_t>>();
    const auto predicted = c["predicted"].get<std::vector<int32_t>>();
    const auto probabilities = c["probabilities"].get<std::vector<double>>();
    CheckClassification(c, labels, predicted, k);
    CheckProbabilityMetrics(c, labels, probabilities, k);
    CheckOneVsRest(c, labels, probabilities, k);
    CheckCurves(c, labels, probabilities, k);
    CheckThresholdTable(c, labels, probabilities, k);
    CheckEvaluate(c, labels, predicted, probabilities, k);
    ++checked;
  }
  return checked;
}

json ReadJson(const fs::path& path) {
  std::ifstream in(path);
  return json::parse(in);
}

TEST(MetricsGoldenTest, EveryMetricMatchesScikitLearnOnGeneratedCases) {
  const fs::path python = LABBOOK_PYTHON;
  if (!fs::exists(python)) GTEST_SKIP() << "no oracle interpreter at " << python;
  const fs::path script = fs::path(LABBOOK_SOURCE_DIR) / "tests/metrics/sklearn_oracle.py";
  std::string dir_template = (fs::temp_directory_path() / "labbook-metrics-XXXXXX").string();
  ASSERT_NE(mkdtemp(dir_template.data()), nullptr);
  const fs::path dir = dir_template;
  const fs::path out = dir / "cases.json";
  const std::string command = python.string() + " " + script.string() + " " + out.string();
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const json document = ReadJson(out);
  fs::remove_all(dir);
  EXPECT_EQ(document["sklearn_version"], "1.2.1");
  EXPECT_GE(CheckCases(document), 200);
}

TEST(MetricsGoldenTest, CheckedInCasesStillMatch) {
  const json document =
      ReadJson(fs::path(LABBOOK_SOURCE_DIR) / "tests/golden/metrics/sklearn_cases.json");
  EXPECT_GE(CheckCases(document), 20);
}

}  // namespace
}  // namespace labbook::metrics
