// `labbook eval` end to end: a predictions CSV in, the same numbers as scikit-learn out.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "cli_runner.hpp"

namespace labbook::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

struct Generated {
  std::vector<int> labels;
  std::vector<int> predicted;
  std::vector<std::vector<double>> probabilities;
};

// N samples of K classes: a noisy classifier whose probabilities favour the true class.
Generated MakePredictions(int n, int k, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> label_dist(0, k - 1);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  Generated g;
  for (int i = 0; i < n; ++i) {
    int label = label_dist(rng);
    std::vector<double> p(k);
    double sum = 0;
    for (int c = 0; c < k; ++c) {
      p[c] = unit(rng) + (c == label ? 1.2 * unit(rng) : 0.0);
      sum += p[c];
    }
    int best = 0;
    for (int c = 0; c < k; ++c) {
      p[c] /= sum;
      if (p[c] > p[best]) best = c;
    }
    g.labels.push_back(label);
    g.predicted.push_back(best);
    g.probabilities.push_back(p);
  }
  return g;
}

std::string ToCsv(const Generated& g, bool with_probabilities) {
  std::ostringstream csv;
  csv.precision(17);
  int k = static_cast<int>(g.probabilities[0].size());
  csv << "index,label,predicted";
  if (with_probabilities) {
    for (int c = 0; c < k; ++c) csv << ",p_" << c;
  }
  csv << "\n";
  for (size_t i = 0; i < g.labels.size(); ++i) {
    csv << i << "," << g.labels[i] << "," << g.predicted[i];
    if (with_probabilities) {
      for (double p : g.probabilities[i]) csv << "," << p;
    }
    csv << "\n";
  }
  return csv.str();
}

class EvalCliTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir("labbook-eval"); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(EvalCliTest, JsonEqualsScikitLearnOnTheSameFile) {
  Generated g = MakePredictions(400, 4, 7);
  std::string csv = dir_ + "/preds.csv";
  WriteFile(csv, ToCsv(g, true));
  CliResult r = RunCli({"eval", csv, "--json", "--out", dir_ + "/out"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto got = nlohmann::json::parse(r.out);

  WriteFile(dir_ + "/oracle.py",
            "import csv, json, sys, numpy as np\n"
            "from sklearn import metrics as m\n"
            "rows = list(csv.reader(open(sys.argv[1])))[1:]\n"
            "y = np.array([int(r[1]) for r in rows]); yp = np.array([int(r[2]) for r in rows])\n"
            "p = np.array([[float(v) for v in r[3:]] for r in rows])\n"
            "pr, rc, f1, sup = m.precision_recall_fscore_support(y, yp, labels=range(4))\n"
            "print(json.dumps({\n"
            "  'accuracy': m.accuracy_score(y, yp),\n"
            "  'balanced_accuracy': m.balanced_accuracy_score(y, yp),\n"
            "  'macro_f1': m.f1_score(y, yp, average='macro'),\n"
            "  'weighted_f1': m.f1_score(y, yp, average='weighted'),\n"
            "  'precision': pr.tolist(), 'recall': rc.tolist(),\n"
            "  'log_loss': m.log_loss(y, p, labels=range(4)),\n"
            "  'top3': m.top_k_accuracy_score(y, p, k=3, labels=range(4)),\n"
            "  'auroc_macro': m.roc_auc_score(y, p, multi_class='ovr', average='macro'),\n"
            "  'auroc_weighted': m.roc_auc_score(y, p, multi_class='ovr', average='weighted'),\n"
            "  'ap_macro': m.average_precision_score(np.eye(4)[y], p, average='macro'),\n"
            "  'confusion': m.confusion_matrix(y, yp).tolist()}))\n");
  std::string command = std::string(LABBOOK_PYTHON) + " " + dir_ + "/oracle.py " + csv + " > " +
                        dir_ + "/oracle.json";
  ASSERT_EQ(std::system(command.c_str()), 0);
  auto want = nlohmann::json::parse(ReadFile(dir_ + "/oracle.json"));

  auto near = [](const nlohmann::json& a, const nlohmann::json& b) {
    return std::abs(a.get<double>() - b.get<double>()) <= 1e-12;
  };
  EXPECT_TRUE(near(got["accuracy"], want["accuracy"]));
  EXPECT_TRUE(near(got["balanced_accuracy"], want["balanced_accuracy"]));
  EXPECT_TRUE(near(got["macro_avg"]["f1"], want["macro_f1"]));
  EXPECT_TRUE(near(got["weighted_avg"]["f1"], want["weighted_f1"]));
  EXPECT_TRUE(near(got["log_loss"], want["log_loss"]));
  EXPECT_TRUE(near(got["top_k_accuracy"]["3"], want["top3"]));
  EXPECT_TRUE(near(got["auroc_ovr"]["macro"], want["auroc_macro"]));
  EXPECT_TRUE(near(got["auroc_ovr"]["weighted"], want["auroc_weighted"]));
  EXPECT_TRUE(near(got["average_precision"]["macro"], want["ap_macro"]));
  for (int k = 0; k < 4; ++k) {
    EXPECT_TRUE(near(got["per_class"][k]["precision"], want["precision"][k])) << k;
    EXPECT_TRUE(near(got["per_class"][k]["recall"], want["recall"][k])) << k;
  }
  EXPECT_EQ(got["confusion_matrix"], want["confusion"]);
  EXPECT_EQ(nlohmann::json::parse(ReadFile(dir_ + "/out/metrics.json")), got);
  for (const char* plot : {"confusion_matrix", "confusion_matrix_normalized", "roc", "pr"}) {
    EXPECT_TRUE(fs::file_size(dir_ + "/out/" + plot + ".png") > 1000) << plot;
    EXPECT_TRUE(fs::file_size(dir_ + "/out/" + plot + ".svg") > 1000) << plot;
  }
}

TEST_F(EvalCliTest, ReadableReportWithClassNamesAndTradeoffTable) {
  Generated g = MakePredictions(200, 3, 11);
  std::string csv = dir_ + "/preds.csv";
  WriteFile(csv, ToCsv(g, true));
  CliResult r = RunCli({"eval", csv, "--out", dir_ + "/out", "--class-names", "cat,dog,bird",
                        "--tradeoff-class", "dog", "--thresholds", "0.25,0.5"},
                       {"NO_COLOR=1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(
      r.out, AllOf(HasSubstr("200 samples, 3 classes, with probabilities"), HasSubstr("accuracy"),
                   HasSubstr("macro avg"), HasSubstr("weighted avg"), HasSubstr("Confusion matrix"),
                   HasSubstr("bird"), HasSubstr("trade-off for class 1 (dog)")));
  // Count the trade-off table's true positives at 0.5 independently.
  int tp = 0;
  for (size_t i = 0; i < g.labels.size(); ++i) {
    if (g.labels[i] == 1 && g.probabilities[i][1] >= 0.5) ++tp;
  }
  auto got = nlohmann::json::parse(ReadFile(dir_ + "/out/metrics.json"));
  ASSERT_EQ(got["tradeoff"]["rows"].size(), 2u);
  EXPECT_EQ(got["tradeoff"]["class"], 1);
  EXPECT_EQ(got["tradeoff"]["rows"][1]["threshold"], 0.5);
  EXPECT_EQ(got["tradeoff"]["rows"][1]["tp"], tp);
  EXPECT_EQ(got["class_names"], nlohmann::json({"cat", "dog", "bird"}));
}

TEST_F(EvalCliTest, WithoutProbabilitiesThereAreNoRankingMetrics) {
  Generated g = MakePredictions(50, 3, 3);
  std::string csv = dir_ + "/preds.csv";
  WriteFile(csv, ToCsv(g, false));
  CliResult r = RunCli({"eval", csv, "--out", dir_ + "/out"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("without probabilities"), Not(HasSubstr("AUROC"))));
  EXPECT_TRUE(fs::exists(dir_ + "/out/confusion_matrix.png"));
  EXPECT_FALSE(fs::exists(dir_ + "/out/roc.png"));
  int correct = 0;
  for (size_t i = 0; i < g.labels.size(); ++i) correct += g.labels[i] == g.predicted[i];
  auto got = nlohmann::json::parse(ReadFile(dir_ + "/out/metrics.json"));
  EXPECT_DOUBLE_EQ(got["accuracy"].get<double>(), correct / 50.0);
  EXPECT_FALSE(got.contains("auroc_ovr"));

  CliResult tradeoff = RunCli({"eval", csv, "--out", dir_ + "/out", "--tradeoff-class", "1"});
  EXPECT_EQ(tradeoff.exit_code, 2);
  EXPECT_THAT(tradeoff.err, HasSubstr("no probability columns"));
}

TEST_F(EvalCliTest, MalformedFilesNameTheLineAndColumn) {
  std::string csv = dir_ + "/bad.csv";
  WriteFile(csv, "index,label,predicted,p_0,p_1\n0,1,1,0.2,0.8\n1,0,x,0.6,0.4\n");
  CliResult r = RunCli({"eval", csv});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, AllOf(HasSubstr("bad.csv:3"), HasSubstr("predicted"), HasSubstr("'x'")));

  WriteFile(csv, "idx,label,predicted\n0,1,1\n");
  CliResult header = RunCli({"eval", csv});
  EXPECT_EQ(header.exit_code, 2);
  EXPECT_THAT(header.err, AllOf(HasSubstr("bad.csv:1"), HasSubstr("index")));

  CliResult missing = RunCli({"eval", dir_ + "/absent.csv"});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_THAT(missing.err, HasSubstr("absent.csv"));

  Generated g = MakePredictions(20, 3, 5);
  WriteFile(csv, ToCsv(g, true));
  CliResult names = RunCli({"eval", csv, "--class-names", "a,b"});
  EXPECT_EQ(names.exit_code, 2);
  EXPECT_THAT(names.err, HasSubstr("--class-names: expected 3 names"));
}

}  // namespace
}  // namespace labbook::testing
