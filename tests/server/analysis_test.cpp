// The dashboard's analysis routes against a real server on a loopback port: the built-in datasets
// (list, statistics checked against ComputeStats, images decoded back to their pixels) and a
// run's evaluation checked against labbook's metrics on the same CSV and against scikit-learn,
// with the run routes' visibility. The dataset tests use mnist-digits (made by
// scripts/install-deps) and are skipped, saying so, where it is not installed.
#include <cairo.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "labbook/dataset.hpp"
#include "labbook/metrics.hpp"
#include "report/png.hpp"
#include "server_test_util.hpp"
#include "track/memory_store.hpp"

namespace labbook::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kDigits[] = "mnist-digits";

using track::Sha256Hex;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool Installed(const std::string& name) {
  for (const DatasetInfo& info : ListBuiltinDatasets()) {
    if (info.name == name) return info.available;
  }
  return false;
}

// A decoded PNG: its pixels as cairo reads them (RGB24 or ARGB32, one uint32 per pixel).
struct DecodedPng {
  int width = 0;
  int height = 0;
  std::vector<uint32_t> pixels;
};

DecodedPng DecodePng(const std::string& png) {
  struct Reader {
    const std::string& bytes;
    size_t at = 0;
  } reader{png};
  cairo_surface_t* surface = cairo_image_surface_create_from_png_stream(
      [](void* closure, unsigned char* data, unsigned int length) {
        auto* r = static_cast<Reader*>(closure);
        if (r->at + length > r->bytes.size()) return CAIRO_STATUS_READ_ERROR;
        std::memcpy(data, r->bytes.data() + r->at, length);
        r->at += length;
        return CAIRO_STATUS_SUCCESS;
      },
      &reader);
  DecodedPng decoded;
  if (cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS) {
    decoded.width = cairo_image_surface_get_width(surface);
    decoded.height = cairo_image_surface_get_height(surface);
    const unsigned char* data = cairo_image_surface_get_data(surface);
    const int stride = cairo_image_surface_get_stride(surface);
    for (int y = 0; y < decoded.height; ++y) {
      const auto* row = reinterpret_cast<const uint32_t*>(data + static_cast<size_t>(y) * stride);
      decoded.pixels.insert(decoded.pixels.end(), row, row + decoded.width);
    }
  }
  cairo_surface_destroy(surface);
  return decoded;
}

// The IHDR fields of a PNG file: bit depth and colour type (0 greyscale, 2 RGB).
std::pair<int, int> PngDepthAndColourType(const std::string& png) {
  if (png.size() < 26 || png.compare(12, 4, "IHDR") != 0) return {-1, -1};
  return {static_cast<unsigned char>(png[24]), static_cast<unsigned char>(png[25])};
}

TEST(AnalysisPngTest, RgbImagesKeepTheirColoursAndScaleByRepeatingPixels) {
  const std::vector<uint8_t> pixels = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};  // 2x2x3
  Result<std::string> png = report::EncodePng(pixels, 2, 2, 3, 3);
  ASSERT_TRUE(png.ok()) << png.status().ToString();
  EXPECT_EQ(PngDepthAndColourType(*png), std::make_pair(8, 2));
  DecodedPng decoded = DecodePng(*png);
  ASSERT_EQ(decoded.width, 6);
  ASSERT_EQ(decoded.height, 6);
  for (int y = 0; y < 6; ++y) {
    for (int x = 0; x < 6; ++x) {
      const uint8_t* p = &pixels[((y / 3) * 2 + x / 3) * 3];
      EXPECT_EQ(decoded.pixels[y * 6 + x] & 0xFFFFFF, (uint32_t{p[0]} << 16) | (p[1] << 8) | p[2])
          << x << "," << y;
    }
  }
  EXPECT_FALSE(report::EncodePng(pixels, 2, 2, 2).ok());
  EXPECT_FALSE(report::EncodePng(pixels, 2, 3, 3).ok());
  EXPECT_FALSE(report::EncodePng(pixels, 2, 2, 3, 0).ok());
}

class AnalysisTest : public ServerTest {
 protected:
  // Uploads `csv` and logs it as predictions.csv of a "predictions" artifact the run produced.
  void LogPredictions(const std::string& run, const std::string& name, const std::string& csv) {
    const std::string sha = Sha256Hex(csv);
    ASSERT_EQ(
        Send("PUT", "/api/v1/projects/root/p/blobs/" + sha, csv, admin_key_, "text/csv").status,
        201);
    Reply reply =
        Post("/api/v1/artifacts",
             {{"entity", "root"},
              {"project", "p"},
              {"name", name},
              {"type", "predictions"},
              {"producer_run", run},
              {"files", {{{"path", "predictions.csv"}, {"sha256", sha}, {"size", csv.size()}}}}},
             admin_key_);
    ASSERT_EQ(reply.status, 201) << reply.raw;
  }

  // A deterministic predictions CSV of `n` samples and 10 classes, written by labbook's writer
  // to `path`; probabilities lean towards the label so the scores mean something.
  static PredictionTable MakePredictions(const fs::path& path, int n, bool probabilities) {
    std::mt19937 random(7);
    std::uniform_real_distribution<double> uniform(0, 1);
    PredictionTable table;
    table.num_classes = 10;
    table.has_probabilities = probabilities;
    for (int i = 0; i < n; ++i) {
      const int label = static_cast<int>(random() % 10);
      std::vector<double> p(10);
      for (double& v : p) v = uniform(random);
      p[label] += 2.5 * uniform(random);
      double sum = 0;
      for (double v : p) sum += v;
      for (double& v : p) v /= sum;
      table.index.push_back(i * 3);
      table.labels.push_back(label);
      table.predicted.push_back(
          static_cast<int32_t>(std::max_element(p.begin(), p.end()) - p.begin()));
      if (probabilities) table.probabilities.insert(table.probabilities.end(), p.begin(), p.end());
    }
    EXPECT_TRUE(WritePredictionsCsv(path.string(), table).ok());
    Result<PredictionTable> read = ReadPredictionsCsv(path.string());
    EXPECT_TRUE(read.ok()) << read.status().ToString();
    return read.ok() ? *read : table;
  }
};

TEST_F(AnalysisTest, DatasetsAreListedForAnyone) {
  Reply reply = Get("/api/v1/datasets");
  ASSERT_EQ(reply.status, 200) << reply.raw;
  const std::vector<DatasetInfo> expected = ListBuiltinDatasets();
  ASSERT_EQ(reply.body["datasets"].size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const json& d = reply.body["datasets"][i];
    EXPECT_EQ(d["name"], expected[i].name);
    EXPECT_EQ(d["description"], expected[i].description);
    EXPECT_EQ(d["available"], expected[i].available);
    EXPECT_EQ(d["num_classes"], expected[i].num_classes);
    EXPECT_EQ(d["train_count"], expected[i].train_count);
    EXPECT_EQ(d["test_count"], expected[i].test_count);
    EXPECT_EQ(d["class_names"], json(expected[i].class_names));
    EXPECT_FALSE(d.contains("location")) << "the server's paths stay on the server";
  }
}

TEST_F(AnalysisTest, StatsEqualComputeStats) {
  if (!Installed(kDigits))
    GTEST_SKIP() << "mnist-digits is not installed: run scripts/install-deps";
  Result<Dataset> dataset = LoadDataset(kDigits);
  ASSERT_TRUE(dataset.ok()) << dataset.status().ToString();
  for (const std::string split : {"train", "test"}) {
    const ImageSet& images = split == "train" ? dataset->train : dataset->test;
    Result<DatasetStats> expected = ComputeStats(images, dataset->num_classes);
    ASSERT_TRUE(expected.ok());
    Reply reply = Get(std::string("/api/v1/datasets/") + kDigits + "/stats" +
                      (split == "train" ? "" : "?split=test"));
    ASSERT_EQ(reply.status, 200) << reply.raw;
    const json& s = reply.body["stats"];
    EXPECT_EQ(s["dataset"], kDigits);
    EXPECT_EQ(s["split"], split);
    EXPECT_EQ(s["count"], expected->count);
    EXPECT_EQ(s["rows"], expected->rows);
    EXPECT_EQ(s["cols"], expected->cols);
    EXPECT_EQ(s["channels"], expected->channels);
    EXPECT_EQ(s["num_classes"], expected->num_classes);
    EXPECT_EQ(s["class_names"], json(dataset->class_names));
    EXPECT_EQ(s["label_counts"], json(expected->label_counts));
    EXPECT_DOUBLE_EQ(s["pixel_mean"].get<double>(), expected->pixel_mean);
    EXPECT_DOUBLE_EQ(s["pixel_std"].get<double>(), expected->pixel_std);
    EXPECT_EQ(s["pixel_min"], expected->pixel_min);
    EXPECT_EQ(s["pixel_max"], expected->pixel_max);
    EXPECT_EQ(s["pixel_histogram"], json(expected->pixel_histogram));
    ASSERT_EQ(s["class_mean_images"].size(), expected->class_mean_images.size());
    for (size_t k = 0; k < expected->class_mean_images.size(); ++k) {
      const json& mean = s["class_mean_images"][k];
      ASSERT_EQ(mean.size(), expected->class_mean_images[k].size());
      for (size_t i = 0; i < mean.size(); ++i) {
        ASSERT_NEAR(mean[i].get<double>(), expected->class_mean_images[k][i],
                    5e-4 + 1e-9)  // rounded to 3 decimals
            << k << "," << i;
      }
    }
    // From memory the second time: the same bytes.
    EXPECT_EQ(Get(std::string("/api/v1/datasets/") + kDigits + "/stats?split=" + split).raw,
              reply.raw);
  }
}

TEST_F(AnalysisTest, StatsRefuseUnknownDatasetsAndSplits) {
  Reply reply = Get("/api/v1/datasets/cifar-10/stats");
  EXPECT_EQ(reply.status, 404);
  const std::string message = reply.body["error"]["message"];
  EXPECT_NE(message.find("fashion-mnist, mnist-digits"), std::string::npos) << message;
  EXPECT_EQ(Get("/api/v1/datasets/idx:%2Ftmp/stats").status, 404);
  reply = Get(std::string("/api/v1/datasets/") + kDigits + "/stats?split=validation");
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.body["error"]["code"], "invalid_argument");
}

TEST_F(AnalysisTest, ImagesArePngsOfTheirPixels) {
  if (!Installed(kDigits))
    GTEST_SKIP() << "mnist-digits is not installed: run scripts/install-deps";
  Result<Dataset> dataset = LoadDataset(kDigits, DatasetSplits::kTestOnly);
  ASSERT_TRUE(dataset.ok()) << dataset.status().ToString();
  const ImageSet& test = dataset->test;
  ASSERT_EQ(test.channels, 1);
  const size_t size = static_cast<size_t>(test.rows) * test.cols;
  for (int64_t index : {int64_t{0}, int64_t{17}, test.count - 1}) {
    for (int scale : {1, 3}) {
      auto client = Client();
      auto result = client.Get(std::string("/api/v1/datasets/") + kDigits + "/test/images/" +
                               std::to_string(index) + (scale == 1 ? "" : "?scale=3"));
      ASSERT_TRUE(result);
      ASSERT_EQ(result->status, 200) << result->body;
      EXPECT_EQ(result->get_header_value("Content-Type"), "image/png");
      EXPECT_EQ(result->get_header_value("Cache-Control"), "public, max-age=86400");
      EXPECT_EQ(PngDepthAndColourType(result->body), std::make_pair(8, 0)) << "8-bit greyscale";
      DecodedPng decoded = DecodePng(result->body);
      ASSERT_EQ(decoded.width, test.cols * scale);
      ASSERT_EQ(decoded.height, test.rows * scale);
      const uint8_t* pixels = test.pixels.data() + index * size;
      for (int y = 0; y < decoded.height; ++y) {
        for (int x = 0; x < decoded.width; ++x) {
          const uint32_t grey = pixels[(y / scale) * test.cols + x / scale];
          ASSERT_EQ(decoded.pixels[y * decoded.width + x] & 0xFFFFFF,
                    (grey << 16) | (grey << 8) | grey)
              << "image " << index << " scale " << scale << " at " << x << "," << y;
        }
      }
    }
  }
}

TEST_F(AnalysisTest, ImagesRefuseBadIndicesSplitsAndScales) {
  if (!Installed(kDigits))
    GTEST_SKIP() << "mnist-digits is not installed: run scripts/install-deps";
  const std::string base = std::string("/api/v1/datasets/") + kDigits;
  Reply reply = Get(base + "/test/images/2000");
  EXPECT_EQ(reply.status, 404);
  EXPECT_NE(reply.body["error"]["message"].get<std::string>().find("0..1999"), std::string::npos)
      << reply.raw;
  EXPECT_EQ(Get(base + "/validation/images/0").status, 400);
  EXPECT_EQ(Get(base + "/test/images/-1").status, 400);
  EXPECT_EQ(Get(base + "/test/images/one").status, 400);
  EXPECT_EQ(Get(base + "/test/images/0?scale=9").status, 400);
  EXPECT_EQ(Get(base + "/test/images/0?scale=0").status, 400);
  EXPECT_EQ(Get("/api/v1/datasets/nope/test/images/0").status, 404);
}

TEST_F(AnalysisTest, EvaluationMatchesLabbooksMetricsOnTheSameCsv) {
  const std::string run = CreateRun("root", "p", admin_key_, {{"config", {{"dataset", kDigits}}}});
  const fs::path csv = dir_ / "predictions.csv";
  const PredictionTable table = MakePredictions(csv, 400, true);
  LogPredictions(run, "cnn-predictions", ReadFile(csv));

  Reply reply = Get("/api/v1/runs/" + run + "/evaluation?curve_points=100000&misclassified=100000",
                    admin_key_);
  ASSERT_EQ(reply.status, 200) << reply.raw;
  const json& e = reply.body["evaluation"];
  EXPECT_EQ(e["artifact"], json({{"entity", "root"},
                                 {"project", "p"},
                                 {"name", "cnn-predictions"},
                                 {"version", "v0"},
                                 {"path", "predictions.csv"}}));
  EXPECT_EQ(e["dataset"], kDigits);
  EXPECT_EQ(e["split"], "test");
  if (Installed(kDigits)) {
    EXPECT_EQ(e["class_names"], json({"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
  }
  EXPECT_EQ(e["count"], 400);

  Result<metrics::EvaluationReport> expected =
      metrics::Evaluate(table.labels, table.predicted, table.probabilities, 10);
  ASSERT_TRUE(expected.ok());
  EXPECT_DOUBLE_EQ(e["accuracy"].get<double>(), expected->accuracy);
  for (int t = 0; t < 10; ++t) {
    for (int p = 0; p < 10; ++p) EXPECT_EQ(e["confusion"][t][p], expected->confusion.at(t, p));
  }
  const metrics::OneVsRestReport& ovr = *expected->one_vs_rest;
  for (int k = 0; k < 10; ++k) {
    const json& c = e["per_class"][k];
    const metrics::ClassScores& s = expected->classification.per_class[k];
    EXPECT_EQ(c["class"], k);
    EXPECT_DOUBLE_EQ(c["precision"].get<double>(), s.precision);
    EXPECT_DOUBLE_EQ(c["recall"].get<double>(), s.recall);
    EXPECT_DOUBLE_EQ(c["f1"].get<double>(), s.f1);
    EXPECT_EQ(c["support"], s.support);
    EXPECT_DOUBLE_EQ(c["auroc"].get<double>(), ovr.auroc[k]);
    EXPECT_DOUBLE_EQ(c["average_precision"].get<double>(), ovr.average_precision[k]);
  }
  EXPECT_DOUBLE_EQ(e["macro"]["f1"].get<double>(), expected->classification.macro.f1);
  EXPECT_DOUBLE_EQ(e["macro"]["auroc"].get<double>(), ovr.auroc_macro);
  EXPECT_DOUBLE_EQ(e["macro"]["average_precision"].get<double>(), ovr.average_precision_macro);

  // With a budget above their length the curves are labbook's, point for point.
  std::vector<double> column(table.labels.size());
  for (int k = 0; k < 10; ++k) {
    for (size_t i = 0; i < column.size(); ++i) column[i] = table.probabilities[i * 10 + k];
    Result<metrics::RocCurve> roc = metrics::ComputeRocCurve(table.labels, column, k);
    Result<metrics::PrecisionRecallCurve> pr =
        metrics::ComputePrecisionRecallCurve(table.labels, column, k);
    ASSERT_TRUE(roc.ok() && pr.ok());
    EXPECT_EQ(e["roc"][k]["class"], k);
    EXPECT_EQ(e["roc"][k]["fpr"], json(roc->fpr));
    EXPECT_EQ(e["roc"][k]["tpr"], json(roc->tpr));
    EXPECT_EQ(e["pr"][k]["recall"], json(pr->recall));
    EXPECT_EQ(e["pr"][k]["precision"], json(pr->precision));
  }

  // Every mistake, the most confident first.
  size_t mistakes = 0;
  for (size_t i = 0; i < table.labels.size(); ++i)
    mistakes += table.labels[i] != table.predicted[i];
  ASSERT_GT(mistakes, 10u);
  ASSERT_EQ(e["misclassified"].size(), mistakes);
  double previous = 2;
  for (const json& m : e["misclassified"]) {
    const int64_t index = m["index"];
    const size_t row = static_cast<size_t>(index / 3);
    EXPECT_EQ(m["label"], table.labels[row]);
    EXPECT_EQ(m["predicted"], table.predicted[row]);
    EXPECT_NE(m["label"], m["predicted"]);
    const double confidence = m["confidence"];
    EXPECT_DOUBLE_EQ(confidence, table.probabilities[row * 10 + table.predicted[row]]);
    EXPECT_LE(confidence, previous);
    previous = confidence;
  }
}

TEST_F(AnalysisTest, CurvesAreReducedKeepingTheirEnds) {
  const std::string run = CreateRun("root", "p", admin_key_);
  const fs::path csv = dir_ / "predictions.csv";
  MakePredictions(csv, 2000, true);
  LogPredictions(run, "cnn-predictions", ReadFile(csv));
  Reply full = Get("/api/v1/runs/" + run + "/evaluation?curve_points=100000", admin_key_);
  Reply reduced =
      Get("/api/v1/runs/" + run + "/evaluation?curve_points=20&misclassified=5", admin_key_);
  ASSERT_EQ(full.status, 200) << full.raw;
  ASSERT_EQ(reduced.status, 200) << reduced.raw;
  EXPECT_EQ(full.body["evaluation"]["misclassified"].size(), 100u) << "the default";
  EXPECT_EQ(reduced.body["evaluation"]["misclassified"].size(), 5u);
  for (const char* curve : {"roc", "pr"}) {
    const char* x = std::string(curve) == "roc" ? "fpr" : "recall";
    for (int k = 0; k < 10; ++k) {
      const json& all = full.body["evaluation"][curve][k][x];
      const json& some = reduced.body["evaluation"][curve][k][x];
      ASSERT_GT(all.size(), 20u) << curve << " " << k;
      EXPECT_EQ(some.size(), 20u) << curve << " " << k;
      EXPECT_EQ(some.front(), all.front());
      EXPECT_EQ(some.back(), all.back());
      // Every kept point is a point of the curve, in the curve's order.
      size_t at = 0;
      for (const json& value : some) {
        while (at < all.size() && all[at] != value) ++at;
        EXPECT_LT(at, all.size()) << curve << " " << k << " lost its order";
      }
    }
  }
  EXPECT_EQ(Get("/api/v1/runs/" + run + "/evaluation?curve_points=1", admin_key_).status, 400);
  EXPECT_EQ(Get("/api/v1/runs/" + run + "/evaluation?misclassified=-1", admin_key_).status, 400);
}

TEST_F(AnalysisTest, EvaluationAgreesWithScikitLearn) {
  const fs::path python = LABBOOK_PYTHON;
  if (!fs::exists(python)) GTEST_SKIP() << "no oracle interpreter at " << python;
  const std::string run = CreateRun("root", "p", admin_key_);
  const fs::path csv = dir_ / "predictions.csv";
  MakePredictions(csv, 500, true);
  LogPredictions(run, "cnn-predictions", ReadFile(csv));
  Reply reply = Get("/api/v1/runs/" + run + "/evaluation", admin_key_);
  ASSERT_EQ(reply.status, 200) << reply.raw;
  const json& e = reply.body["evaluation"];

  const fs::path script = dir_ / "oracle.py";
  const fs::path out = dir_ / "sklearn.json";
  std::ofstream(script) << R"(import json, sys
import numpy as np
from sklearn import metrics
d = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
y, p, scores = d[:, 1].astype(int), d[:, 2].astype(int), d[:, 3:]
json.dump({
    "accuracy": metrics.accuracy_score(y, p),
    "macro_f1": metrics.f1_score(y, p, average="macro"),
    "confusion": metrics.confusion_matrix(y, p, labels=range(10)).tolist(),
    "auroc": [metrics.roc_auc_score(y == k, scores[:, k]) for k in range(10)],
    "average_precision": [metrics.average_precision_score(y == k, scores[:, k]) for k in range(10)],
    "auroc_macro": metrics.roc_auc_score(y, scores, multi_class="ovr", average="macro"),
}, open(sys.argv[2], "w"))
)";
  const std::string command =
      python.string() + " " + script.string() + " " + csv.string() + " " + out.string();
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const json sklearn = json::parse(ReadFile(out));
  EXPECT_NEAR(e["accuracy"].get<double>(), sklearn["accuracy"].get<double>(), 1e-12);
  EXPECT_NEAR(e["macro"]["f1"].get<double>(), sklearn["macro_f1"].get<double>(), 1e-12);
  EXPECT_EQ(e["confusion"], sklearn["confusion"]);
  for (int k = 0; k < 10; ++k) {
    EXPECT_NEAR(e["per_class"][k]["auroc"].get<double>(), sklearn["auroc"][k].get<double>(), 1e-12);
    EXPECT_NEAR(e["per_class"][k]["average_precision"].get<double>(),
                sklearn["average_precision"][k].get<double>(), 1e-12);
  }
  EXPECT_NEAR(e["macro"]["auroc"].get<double>(), sklearn["auroc_macro"].get<double>(), 1e-12);
}

TEST_F(AnalysisTest, WithoutProbabilitiesThereAreNoCurves) {
  const std::string run = CreateRun("root", "p", admin_key_, {{"config", {{"dataset", kDigits}}}});
  // Class 9 never occurs, yet the dataset has ten classes.
  LogPredictions(run, "cnn-predictions", "index,label,predicted\n0,7,7\n1,2,1\n2,1,1\n");
  Reply reply = Get("/api/v1/runs/" + run + "/evaluation", admin_key_);
  ASSERT_EQ(reply.status, 200) << reply.raw;
  const json& e = reply.body["evaluation"];
  const size_t classes = Installed(kDigits) ? 10 : 8;
  EXPECT_EQ(e["class_names"].size(), classes);
  EXPECT_EQ(e["confusion"].size(), classes);
  EXPECT_EQ(e["count"], 3);
  EXPECT_DOUBLE_EQ(e["accuracy"].get<double>(), 2.0 / 3.0);
  EXPECT_EQ(e["roc"], json::array());
  EXPECT_EQ(e["pr"], json::array());
  EXPECT_TRUE(e["per_class"][7]["auroc"].is_null());
  EXPECT_TRUE(e["macro"]["average_precision"].is_null());
  ASSERT_EQ(e["misclassified"].size(), 1u);
  EXPECT_EQ(e["misclassified"][0],
            json({{"index", 1}, {"label", 2}, {"predicted", 1}, {"confidence", nullptr}}));
}

TEST_F(AnalysisTest, EvaluationUsesTheNewestPredictions) {
  const std::string run = CreateRun("root", "p", admin_key_);
  LogPredictions(run, "cnn-predictions", "index,label,predicted\n0,1,1\n1,0,0\n");
  Reply first = Get("/api/v1/runs/" + run + "/evaluation", admin_key_);
  ASSERT_EQ(first.status, 200) << first.raw;
  EXPECT_DOUBLE_EQ(first.body["evaluation"]["accuracy"].get<double>(), 1.0);
  EXPECT_EQ(first.body["evaluation"]["class_names"], json({"0", "1"})) << "no dataset in config";
  LogPredictions(run, "cnn-predictions", "index,label,predicted\n0,1,0\n1,0,0\n");
  Reply second = Get("/api/v1/runs/" + run + "/evaluation", admin_key_);
  ASSERT_EQ(second.status, 200) << second.raw;
  EXPECT_EQ(second.body["evaluation"]["artifact"]["version"], "v1");
  EXPECT_DOUBLE_EQ(second.body["evaluation"]["accuracy"].get<double>(), 0.5);
}

TEST_F(AnalysisTest, EvaluationFollowsTheRunsVisibility) {
  const std::string run = CreateRun("root", "p", admin_key_);
  LogPredictions(run, "cnn-predictions", "index,label,predicted\n0,1,1\n1,0,0\n");
  const std::string outsider = CreateUser("bob");
  for (const std::string& key : {std::string(), outsider}) {
    Reply hidden = Get("/api/v1/runs/" + run + "/evaluation", key);
    EXPECT_EQ(hidden.status, 404) << hidden.raw;
    EXPECT_EQ(hidden.body["error"]["code"], "not_found");
  }
  ASSERT_EQ(
      Send("PATCH", "/api/v1/projects/root/p", R"({"visibility": "public"})", admin_key_).status,
      200);
  EXPECT_EQ(Get("/api/v1/runs/" + run + "/evaluation").status, 200);
  EXPECT_EQ(Get("/api/v1/runs/" + run + "/evaluation", outsider).status, 200);
}

TEST_F(AnalysisTest, RunsWithoutPredictionsAre404) {
  const std::string run = CreateRun("root", "p", admin_key_);
  Reply reply = Get("/api/v1/runs/" + run + "/evaluation", admin_key_);
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(reply.body["error"]["message"], "run " + run + " has no predictions artifact");
  EXPECT_EQ(Get("/api/v1/runs/zzzzzzzz/evaluation", admin_key_).status, 404);
}

TEST_F(AnalysisTest, AnUnreadableCsvIsNamedByItsArtifact) {
  const std::string run = CreateRun("root", "p", admin_key_);
  LogPredictions(run, "cnn-predictions", "index,label,guess\n0,1,1\n");
  Reply reply = Get("/api/v1/runs/" + run + "/evaluation", admin_key_);
  EXPECT_EQ(reply.status, 422) << reply.raw;
  EXPECT_EQ(reply.body["error"]["code"], "data_loss");
  const std::string message = reply.body["error"]["message"];
  EXPECT_NE(message.find("cnn-predictions:v0/predictions.csv"), std::string::npos) << message;
  EXPECT_EQ(message.find(dir_.string()), std::string::npos) << "no server path: " << message;
}

}  // namespace
}  // namespace labbook::server
