#include "fixture.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "labbook/dataset.hpp"
#include "track/store.hpp"

namespace labbook::report::document::testing {
namespace {

constexpr int kSide = 6;
constexpr int kClasses = 3;

// Image i of a split: class i % 3, a bright bar whose place says the class, plus a little
// texture so the mean images and the histogram have something to show.
IdxArray Images(int count, int seed) {
  IdxArray array;
  array.type = IdxType::kUint8;
  array.dims = {count, kSide, kSide};
  for (int i = 0; i < count; ++i) {
    const int label = i % kClasses;
    for (int r = 0; r < kSide; ++r) {
      for (int c = 0; c < kSide; ++c) {
        int value = (r * 7 + c * 13 + i * 31 + seed) % 60;
        if (r / 2 == label) value += 150 + (c * 10) % 50;
        array.bytes.push_back(static_cast<uint8_t>(value));
      }
    }
  }
  return array;
}

IdxArray Labels(int count) {
  IdxArray array;
  array.type = IdxType::kUint8;
  array.dims = {count};
  for (int i = 0; i < count; ++i) array.bytes.push_back(static_cast<uint8_t>(i % kClasses));
  return array;
}

constexpr int kTestCount = 9;

struct RunSpec {
  std::string id;
  std::string project;
  std::string name;
  std::string optimizer;
  double start_time;
  bool finished;
  std::vector<double> val_accuracy;
  std::vector<double> val_loss;
  std::vector<int> wrong;  // test images predicted as the next class
};

void AddRun(track::RunStore& store, const RunSpec& spec, const std::string& dir) {
  track::RunInfo run;
  run.id = spec.id;
  run.entity = "lab";
  run.project = spec.project;
  run.name = spec.name;
  run.config = {{"dataset", "tiny"},
                {"epochs", spec.val_accuracy.size()},
                {"optimizer", {{"name", spec.optimizer}, {"learning_rate", 0.01}}}};
  run.host = "testhost";
  run.start_time = spec.start_time;
  run.heartbeat_time = spec.start_time + 30;
  Result<track::RunInfo> created = store.CreateRun(run);
  ASSERT_TRUE(created.ok()) << created.status().ToString();

  track::HistoryBatch batch;
  batch.keys = {"epoch/val_accuracy", "epoch/val_loss"};
  for (size_t e = 0; e < spec.val_accuracy.size(); ++e) {
    const auto step = static_cast<int64_t>(e + 1);
    const double wall = spec.start_time + 10.0 * step;
    batch.points.push_back({0, step, spec.val_accuracy[e], wall});
    batch.points.push_back({1, step, spec.val_loss[e], wall});
  }
  ASSERT_TRUE(store.LogHistory(spec.id, batch).ok());
  if (!spec.finished) return;

  PredictionTable table;
  table.num_classes = kClasses;
  table.has_probabilities = true;
  for (int i = 0; i < kTestCount; ++i) {
    const int label = i % kClasses;
    bool wrong = std::find(spec.wrong.begin(), spec.wrong.end(), i) != spec.wrong.end();
    const int predicted = wrong ? (label + 1) % kClasses : label;
    table.index.push_back(i);
    table.labels.push_back(label);
    table.predicted.push_back(predicted);
    // The predicted class gets 0.5 plus a share that differs per image, so mistakes rank.
    const double top = 0.5 + 0.05 * (i % 5);
    for (int k = 0; k < kClasses; ++k) {
      table.probabilities.push_back(k == predicted ? top : (1 - top) / 2);
    }
  }
  const std::string csv = dir + "/" + spec.id + "-predictions.csv";
  ASSERT_TRUE(WritePredictionsCsv(csv, table).ok());
  track::NewArtifact artifact;
  artifact.entity = "lab";
  artifact.project = spec.project;
  artifact.name = spec.name + "-predictions";
  artifact.type = "predictions";
  artifact.producer_run = spec.id;
  artifact.files = {{"predictions.csv", csv}};
  Result<track::ArtifactVersion> logged = store.LogArtifact(artifact);
  ASSERT_TRUE(logged.ok()) << logged.status().ToString();

  const double accuracy = static_cast<double>(kTestCount - spec.wrong.size()) / kTestCount;
  track::RunUpdate update;
  update.state = track::RunState::kFinished;
  update.end_time = spec.start_time + 60;
  update.exit_code = 0;
  update.summary_patch = nlohmann::json{{"test/accuracy", accuracy},
                                        {"test/loss", spec.val_loss.back() + 0.05},
                                        {"epoch", spec.val_accuracy.size()}};
  ASSERT_TRUE(store.UpdateRun(spec.id, update).ok());
}

}  // namespace

std::string NewTempDir() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "labbook-report-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
  return pattern;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

ReportFixture MakeReportFixture(const std::string& dir) {
  ReportFixture fixture;
  fixture.dir = dir;
  fixture.data_dir = dir + "/tiny";
  fixture.store_uri = "sqlite://" + dir + "/labbook.db";
  std::filesystem::create_directories(fixture.data_dir);
  EXPECT_TRUE(WriteIdx(fixture.data_dir + "/train-images-idx3-ubyte", Images(15, 0), false).ok());
  EXPECT_TRUE(WriteIdx(fixture.data_dir + "/train-labels-idx1-ubyte", Labels(15), false).ok());
  EXPECT_TRUE(
      WriteIdx(fixture.data_dir + "/t10k-images-idx3-ubyte", Images(kTestCount, 5), false).ok());
  EXPECT_TRUE(
      WriteIdx(fixture.data_dir + "/t10k-labels-idx1-ubyte", Labels(kTestCount), false).ok());

  Result<std::unique_ptr<track::RunStore>> store = track::OpenStore(fixture.store_uri);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  if (!store.ok()) return fixture;
  const std::vector<RunSpec> runs = {
      {"aaaa0001",
       "demo",
       "small-adam",
       "adam",
       1.7e9,
       true,
       {0.40, 0.55, 0.60},
       {1.10, 0.90, 0.80},
       {2, 4, 7}},
      {"aaaa0002",
       "demo",
       "small-sgd",
       "sgd",
       1.7e9 + 100,
       true,
       {0.35, 0.60, 0.70},
       {1.20, 0.85, 0.70},
       {5, 8}},
      {"aaaa0003", "demo", "still-running", "adam", 1.7e9 + 200, false, {0.30}, {1.30}, {}},
      {"bbbb0001", "elsewhere", "other-project", "adam", 1.7e9 + 300, true, {0.9}, {0.2}, {}},
  };
  for (const RunSpec& spec : runs) AddRun(**store, spec, dir);
  return fixture;
}

ReportSources SourcesFor(const ReportFixture& fixture) {
  ReportSources sources;
  const std::string uri = fixture.store_uri;
  sources.open_store = [uri] { return track::OpenStore(uri); };
  const std::string data_dir = fixture.data_dir;
  sources.load_dataset = [data_dir](std::string_view name,
                                    DatasetSplits splits) -> Result<Dataset> {
    if (name != "tiny") return NotFound("unknown dataset '" + std::string(name) + "'");
    Result<Dataset> dataset = LoadDataset("idx:" + data_dir, splits);
    if (!dataset.ok()) return dataset.status();
    dataset->name = "tiny";
    dataset->source = "tiny";
    return dataset;
  };
  return sources;
}

}  // namespace labbook::report::document::testing
