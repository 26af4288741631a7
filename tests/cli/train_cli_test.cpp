// `labbook train`, `labbook predict` and `labbook model summary`, run as a user runs them, on a
// small generated idx:DIR dataset so that each takes a fraction of a second.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

#include "../train/synthetic_images.hpp"
#include "cli_runner.hpp"
#include "labbook/dataset.hpp"
#include "track/store.hpp"

namespace labbook::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
namespace fs = std::filesystem;

class TrainCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("labbook-train-cli");
    // Every run these tests train is recorded here, not in the working directory.
    store_ = dir_ + "/labbook.db";
    setenv("LABBOOK_STORE", store_.c_str(), 1);
    data_ = dir_ + "/stripes";
    fs::create_directories(data_);
    ASSERT_TRUE(WriteIdxDataset(MakeStripesDataset(), data_).ok());
    config_ = dir_ + "/tiny.yaml";
    WriteFile(config_, TinyTrainConfig(data_, 3));
  }
  void TearDown() override {
    unsetenv("LABBOOK_STORE");
    fs::remove_all(dir_);
  }

  std::string dir_, data_, config_, store_;
};

TEST_F(TrainCliTest, TrainsPredictsAndEvaluates) {
  const std::string model = dir_ + "/tiny.lbm";
  CliResult train = RunCli(
      {"train", config_, "--model-out", model, "--predictions-out", dir_ + "/train-preds.csv"});
  ASSERT_EQ(train.exit_code, 0) << train.err << train.out;
  EXPECT_EQ(train.err, "");
  EXPECT_THAT(train.out,
              AllOf(HasSubstr("dataset:   idx:" + data_ +
                              ": 320 train / 80 validation / 100 test images of 8x8x1, 2 "
                              "classes\n"),
                    HasSubstr("model:     4 layers, 114 parameters; loss "
                              "sparse_categorical_crossentropy\n"),
                    HasSubstr("compute:   reference backend, fp32, 1 thread\n"),
                    HasSubstr("\nEpoch 1/3 - "), HasSubstr("\nEpoch 3/3 - "),
                    HasSubstr(" - val_accuracy: "), HasSubstr("trained 3 epochs in "),
                    HasSubstr("Test (100 images)"), HasSubstr("\nmacro F1 "),
                    HasSubstr("\nAUROC one-vs-rest (macro) "),
                    HasSubstr("wrote " + model + " and " + dir_ + "/train-preds.csv\n")));
  // Not a terminal: no carriage returns, one line per epoch.
  EXPECT_THAT(train.out, Not(HasSubstr("\r")));
  ASSERT_TRUE(fs::exists(model));

  CliResult predict = RunCli({"predict", model, "idx:" + data_, "--out", dir_ + "/preds.csv"});
  ASSERT_EQ(predict.exit_code, 0) << predict.err;
  EXPECT_THAT(predict.out, AllOf(HasSubstr(": 100 images, accuracy "),
                                 HasSubstr("wrote " + dir_ + "/preds.csv")));
  // The saved model predicts exactly what training evaluated.
  EXPECT_EQ(ReadFile(dir_ + "/preds.csv"), ReadFile(dir_ + "/train-preds.csv"));
  Result<PredictionTable> table = ReadPredictionsCsv(dir_ + "/preds.csv");
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ(table->index.size(), 100u);
  EXPECT_EQ(table->num_classes, 2);
  int correct = 0;
  for (size_t i = 0; i < table->labels.size(); ++i)
    correct += table->labels[i] == table->predicted[i];
  EXPECT_GE(correct, 95);

  CliResult eval = RunCli({"eval", dir_ + "/preds.csv", "--no-plots", "--out", dir_ + "/eval"});
  EXPECT_EQ(eval.exit_code, 0) << eval.err;

  CliResult train_split =
      RunCli({"predict", model, "idx:" + data_, "--split", "train", "--out", dir_ + "/t.csv"});
  EXPECT_EQ(train_split.exit_code, 0) << train_split.err;
  EXPECT_THAT(train_split.out, HasSubstr("(train): 400 images"));
}

// The run `labbook train` records: config, per-batch and per-epoch history, test metrics in the
// summary, and the confusion matrix, predictions and model file as artifacts.
TEST_F(TrainCliTest, RecordsTheRunInTheStore) {
  const std::string model = dir_ + "/tiny.lbm";
  CliResult train = RunCli({"train", config_, "--model-out", model, "--predictions-out",
                            dir_ + "/preds.csv", "--project", "stripes", "--name", "first", "--tag",
                            "tiny", "--tag", "cli", "--group", "g1"});
  ASSERT_EQ(train.exit_code, 0) << train.err << train.out;
  EXPECT_EQ(train.err, "");

  Result<std::unique_ptr<track::RunStore>> store = track::OpenStore(store_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Result<std::vector<track::RunInfo>> runs = (*store)->ListRuns({});
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  ASSERT_EQ(runs->size(), 1u);
  const track::RunInfo& run = runs->front();
  EXPECT_THAT(train.out,
              AllOf(HasSubstr("run:       " + run.id + " ("), HasSubstr("recorded run " + run.id)));
  EXPECT_EQ(run.project, "stripes");
  EXPECT_EQ(run.name, "first");
  EXPECT_EQ(run.group, "g1");
  EXPECT_EQ(run.tags, (std::vector<std::string>{"tiny", "cli"}));
  EXPECT_EQ(run.state, track::RunState::kFinished);
  EXPECT_EQ(run.exit_code, 0);
  // The resolved config: every field explicit.
  EXPECT_EQ(run.config.at("dataset"), "idx:" + data_);
  EXPECT_EQ(run.config.at("optimizer").at("name"), "adam");
  EXPECT_EQ(run.config.at("epochs"), 3);
  EXPECT_EQ(run.config.at("layers").size(), 4u);

  // 320 training images in batches of 32: 10 steps per epoch, 3 epochs.
  Result<std::vector<track::KeyInfo>> keys = (*store)->HistoryKeys(run.id);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  std::map<std::string, track::KeyInfo> by_key;
  for (const track::KeyInfo& k : *keys) by_key[k.key] = k;
  ASSERT_TRUE(by_key.count("batch/loss"));
  EXPECT_EQ(by_key["batch/loss"].count, 30);
  EXPECT_EQ(by_key["batch/loss"].first_step, 1);
  EXPECT_EQ(by_key["batch/loss"].last_step, 30);
  for (const char* key : {"epoch/loss", "epoch/accuracy", "epoch/val_loss", "epoch/val_accuracy"}) {
    ASSERT_TRUE(by_key.count(key)) << key;
    EXPECT_EQ(by_key[key].count, 3) << key;
    EXPECT_EQ(by_key[key].last_step, 3) << key;
  }

  // The test metrics: the summary holds what the table printed.
  Result<PredictionTable> preds = ReadPredictionsCsv(dir_ + "/preds.csv");
  ASSERT_TRUE(preds.ok());
  int correct = 0;
  for (size_t i = 0; i < preds->labels.size(); ++i)
    correct += preds->labels[i] == preds->predicted[i];
  EXPECT_DOUBLE_EQ(run.summary.at("test/accuracy").get<double>(), correct / 100.0);
  for (const char* key : {"test/loss", "test/precision_macro", "test/recall_macro", "test/f1_macro",
                          "test/auroc_macro"}) {
    EXPECT_TRUE(run.summary.contains(key)) << key << " in " << run.summary.dump();
  }
  EXPECT_EQ(run.summary.at("batch/loss").get<double>(), by_key["batch/loss"].last_value);

  Result<track::RunArtifacts> artifacts = (*store)->ArtifactsOfRun(run.id);
  ASSERT_TRUE(artifacts.ok()) << artifacts.status().ToString();
  std::map<std::string, track::ArtifactVersion> by_type;
  for (const track::ArtifactVersion& a : artifacts->produced) by_type[a.type] = a;
  ASSERT_TRUE(by_type.count("model") && by_type.count("predictions") && by_type.count("table"));
  EXPECT_EQ(by_type["model"].name, "tiny");
  EXPECT_EQ(by_type["predictions"].name, "tiny-predictions");
  // The stored files are the files training wrote.
  ASSERT_TRUE((*store)->ReadArtifactFile(by_type["model"].files.at(0), dir_ + "/m.lbm").ok());
  EXPECT_EQ(ReadFile(dir_ + "/m.lbm"), ReadFile(model));
  ASSERT_TRUE((*store)->ReadArtifactFile(by_type["predictions"].files.at(0), dir_ + "/p.csv").ok());
  EXPECT_EQ(ReadFile(dir_ + "/p.csv"), ReadFile(dir_ + "/preds.csv"));
  ASSERT_TRUE((*store)->ReadArtifactFile(by_type["table"].files.at(0), dir_ + "/cm.csv").ok());
  const std::string confusion = ReadFile(dir_ + "/cm.csv");
  EXPECT_THAT(confusion, StartsWith("true_class,true_name,predicted_class,predicted_name,count\n"));
  // Rows "t,name,p,name,count": the counts add up to the test set, the diagonal to `correct`.
  int64_t total = 0, diagonal = 0;
  std::istringstream lines(confusion);
  std::string line;
  std::getline(lines, line);
  while (std::getline(lines, line)) {
    std::vector<std::string> fields;
    std::istringstream cells(line);
    for (std::string cell; std::getline(cells, cell, ',');) fields.push_back(cell);
    ASSERT_EQ(fields.size(), 5u) << line;
    total += std::stoll(fields[4]);
    if (fields[0] == fields[2]) diagonal += std::stoll(fields[4]);
  }
  EXPECT_EQ(total, 100);
  EXPECT_EQ(diagonal, correct);

  // A second run of the same config: new versions of the same artifacts.
  ASSERT_EQ(
      RunCli({"train", config_, "--model-out", model, "--set", "epochs=1", "--project", "stripes"})
          .exit_code,
      0);
  Result<track::ArtifactVersion> latest =
      (*store)->GetArtifact(run.entity, "stripes", "tiny", "latest");
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_EQ(latest->version, 1);
}

// The run's scratch files never replace the user's: predictions.csv beside the model stays.
TEST_F(TrainCliTest, RecordingLeavesTheUsersFilesAlone) {
  fs::create_directories(dir_ + "/out");
  CliResult r = RunCli({"train", config_, "--set", "epochs=1", "--model-out", dir_ + "/out/m.lbm",
                        "--predictions-out", dir_ + "/out/predictions.csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(fs::exists(dir_ + "/out/predictions.csv"));
  EXPECT_TRUE(ReadPredictionsCsv(dir_ + "/out/predictions.csv").ok());
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(dir_ + "/out")) {
    left.push_back(entry.path().filename().string());
  }
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"m.lbm", "predictions.csv"}));
}

TEST_F(TrainCliTest, AStoreThatCannotBeOpenedStopsBeforeTraining) {
  WriteFile(dir_ + "/plain-file", "not a directory\n");
  CliResult r = RunCli({"train", config_, "--store", dir_ + "/plain-file/sub/labbook.db"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, AllOf(StartsWith("labbook: error: cannot record the run: "),
                           HasSubstr(dir_ + "/plain-file/sub")));
  EXPECT_THAT(r.out, Not(HasSubstr("Epoch 1/3")));

  CliResult disabled = RunCli({"train", config_, "--set", "epochs=1", "--track", "disabled",
                               "--store", dir_ + "/plain-file/sub/labbook.db"});
  EXPECT_EQ(disabled.exit_code, 0) << disabled.err;
  EXPECT_THAT(disabled.out, Not(HasSubstr("recorded run")));
}

TEST_F(TrainCliTest, ModelSummaryOfAModelFileAndOfAConfig) {
  const std::string model = dir_ + "/tiny.lbm";
  ASSERT_EQ(RunCli({"train", config_, "--model-out", model, "--set", "epochs=1"}).exit_code, 0);
  CliResult from_model = RunCli({"model", "summary", model});
  ASSERT_EQ(from_model.exit_code, 0) << from_model.err;
  const std::string table =
      "Model: \"sequential\"\n"
      "___________________________________________________________________\n"
      " Layer (type)                  Output Shape              Param #\n"
      "===================================================================\n"
      " conv2d (Conv2D)               (None, 6, 6, 4)           40\n"
      " max_pooling2d (MaxPooling2D)  (None, 3, 3, 4)           0\n"
      " flatten (Flatten)             (None, 36)                0\n"
      " dense (Dense)                 (None, 2)                 74\n"
      "===================================================================\n"
      "Total params: 114\n"
      "Trainable params: 114\n"
      "Non-trainable params: 0\n"
      "___________________________________________________________________\n";
  EXPECT_THAT(from_model.out, StartsWith(table));
  EXPECT_THAT(from_model.out,
              AllOf(HasSubstr("Input: 8x8x1 images"), HasSubstr("Trained: 1 epoch on idx:"),
                    HasSubstr("Optimizer state: adam, 10 steps")));

  CliResult from_config = RunCli({"model", "summary", config_});
  ASSERT_EQ(from_config.exit_code, 0) << from_config.err;
  EXPECT_THAT(from_config.out, StartsWith(table));
  CliResult overridden = RunCli({"model", "summary", config_, "--set", "layers.0.filters=8"});
  EXPECT_THAT(overridden.out, HasSubstr("Total params: 226\n"));
}

TEST_F(TrainCliTest, KerasCnnSummaryHasKerasParameterCount) {
  CliResult r = RunCli({"model", "summary", LABBOOK_SOURCE_DIR "/examples/keras-cnn.yaml"});
  if (r.exit_code == ExitCodeFor(ErrorCode::kNotFound)) GTEST_SKIP() << r.err;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out,
              AllOf(HasSubstr(" conv2d_1 (Conv2D)               (None, 11, 11, 64)        18496\n"),
                    HasSubstr("Total params: 34,826\n"), HasSubstr("Trainable params: 34,826\n")));
}

TEST_F(TrainCliTest, ResumeContinuesWhereTheModelStopped) {
  const std::string model = dir_ + "/tiny.lbm";
  ASSERT_EQ(RunCli({"train", config_, "--model-out", model, "--set", "epochs=2"}).exit_code, 0);
  CliResult resumed =
      RunCli({"train", config_, "--resume", model, "--model-out", dir_ + "/more.lbm"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_THAT(resumed.out,
              AllOf(HasSubstr("resuming:  after epoch 2\n"), HasSubstr("\nEpoch 3/3 - "),
                    Not(HasSubstr("Epoch 2/3")), HasSubstr("trained 1 epoch in ")));
  CliResult summary = RunCli({"model", "summary", dir_ + "/more.lbm"});
  EXPECT_THAT(summary.out, HasSubstr("Trained: 3 epochs"));

  CliResult done = RunCli({"train", config_, "--resume", dir_ + "/more.lbm"});
  EXPECT_EQ(done.exit_code, ExitCodeFor(ErrorCode::kInvalidArgument));
  EXPECT_THAT(done.err, HasSubstr("the model has trained 3 epochs and the config asks for 3; "
                                  "raise epochs (e.g. --set epochs=8) to train on"));
}

TEST_F(TrainCliTest, ConfigErrorsNameFileLineAndField) {
  WriteFile(dir_ + "/typo.yaml", ReadFile(config_) + "optimizer_name: sgd\n");
  CliResult r = RunCli({"train", dir_ + "/typo.yaml"});
  EXPECT_EQ(r.exit_code, ExitCodeFor(ErrorCode::kInvalidArgument));
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "labbook: error: " + dir_ +
                       "/typo.yaml:16: optimizer_name: unknown key; valid keys: dataset, "
                       "validation_split, layers, loss, optimizer, lr_schedule, early_stopping, "
                       "batch_size, epochs, seed, threads, precision, backend\n");

  r = RunCli({"train", config_, "--set", "optimizer.learning_rate=fast"});
  EXPECT_EQ(r.exit_code, ExitCodeFor(ErrorCode::kInvalidArgument));
  EXPECT_EQ(r.err,
            "labbook: error: --set optimizer.learning_rate=fast: optimizer.learning_rate: "
            "expected a positive number, got 'fast'\n");

  r = RunCli({"train", config_, "--set", "epochs"});
  EXPECT_EQ(r.err,
            "labbook: error: --set epochs: expected KEY=VALUE, e.g. --set "
            "optimizer.learning_rate=0.01\n");
  r = RunCli({"train", config_, "--set", "layers.9.units=3"});
  EXPECT_EQ(r.err,
            "labbook: error: --set layers.9.units=3: layers.9: index out of range; layers has 4 "
            "items (0..3)\n");
  r = RunCli({"train", config_, "--set", "layers.3.units=1"});
  EXPECT_EQ(r.err, "labbook: error: " + config_ + ":7: layers.3: the model has 1 outputs but idx:" +
                       data_ + " has 2 classes; the last layer needs one unit per class\n");
  r = RunCli({"train", dir_ + "/missing.yaml"});
  EXPECT_EQ(r.exit_code, ExitCodeFor(ErrorCode::kNotFound));
  EXPECT_EQ(r.err, "labbook: error: " + dir_ + "/missing.yaml: no such file\n");
}

TEST_F(TrainCliTest, DamagedModelFilesAreRefusedWithTheOffset) {
  const std::string model = dir_ + "/tiny.lbm";
  ASSERT_EQ(RunCli({"train", config_, "--model-out", model, "--set", "epochs=1"}).exit_code, 0);
  std::string bytes = ReadFile(model);
  WriteFile(dir_ + "/cut.lbm", bytes.substr(0, bytes.size() - 5));
  CliResult r = RunCli({"predict", dir_ + "/cut.lbm", "idx:" + data_});
  EXPECT_EQ(r.exit_code, ExitCodeFor(ErrorCode::kDataLoss));
  EXPECT_THAT(
      r.err, HasSubstr(dir_ + "/cut.lbm: truncated at offset " + std::to_string(bytes.size() - 5)));
  bytes[bytes.size() - 1] ^= 0x40;
  WriteFile(dir_ + "/flipped.lbm", bytes);
  r = RunCli({"model", "summary", dir_ + "/flipped.lbm"});
  EXPECT_EQ(r.exit_code, ExitCodeFor(ErrorCode::kDataLoss));
  // The last tensor is the optimizer's: its state is checked as the weights are.
  EXPECT_THAT(r.err, AllOf(HasSubstr(dir_ + "/flipped.lbm: tensor 'dense/bias/v' at offset "),
                           HasSubstr(": checksum mismatch")));
  r = RunCli({"predict", dir_ + "/none.lbm", "idx:" + data_});
  EXPECT_EQ(r.exit_code, ExitCodeFor(ErrorCode::kNotFound));
  r = RunCli({"predict", model, "idx:" + data_, "--split", "all"});
  EXPECT_EQ(r.err, "labbook: error: --split: expected train or test, got 'all'\n");
}

// One epoch of the reference CNN on real digits, as a smoke test of the whole path on the fast
// backend (skipped where mnist-digits is not installed, and under AddressSanitizer, where it
// takes minutes; the small tests above cover the same code there).
TEST_F(TrainCliTest, OneEpochOfTheKerasCnnOnMnistDigits) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "too slow under AddressSanitizer";
#endif
  for (const DatasetInfo& info : ListBuiltinDatasets()) {
    if (info.name == "mnist-digits" && !info.available) GTEST_SKIP() << info.how_to_get;
  }
  const auto start = std::chrono::steady_clock::now();
  CliResult r =
      RunCli({"train", LABBOOK_SOURCE_DIR "/examples/keras-cnn.yaml", "--set",
              "dataset=mnist-digits", "--set", "epochs=1", "--model-out", dir_ + "/digits.lbm"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_THAT(r.out, AllOf(HasSubstr("mnist-digits: 7,200 train / 800 validation / 2,000 test"),
                           HasSubstr("Epoch 1/1 - "), HasSubstr("\naccuracy ")));
  std::printf("one epoch of mnist-digits: %.1f s\n", seconds);
}

}  // namespace
}  // namespace labbook::testing
