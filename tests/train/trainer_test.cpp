// The trainer end to end on a tiny synthetic dataset: it learns, stops early, is bit-for-bit
// deterministic, resumes from a model file exactly where it stopped, and a saved model predicts
// what the trainer evaluated.
#include "train/trainer.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <numbers>

#include "labbook/model.hpp"
#include "synthetic_images.hpp"
#include "train/batches.hpp"
#include "train/progress_bar.hpp"
#include "train/training_run.hpp"

namespace labbook::train {
namespace {

namespace fs = std::filesystem;

// 400 training images (80 held out for validation), batches of 32: 10 steps per epoch.
constexpr char kConfig[] = R"(
dataset: stripes
validation_split: 0.2
layers:
  - {type: Conv2D, filters: 4, kernel_size: 3, activation: relu}
  - {type: MaxPooling2D, pool_size: 2}
  - {type: Flatten}
  - {type: Dropout, rate: 0.25}
  - {type: Dense, units: 2, activation: softmax}
loss: categorical_crossentropy
optimizer: {name: adam, learning_rate: 0.01}
batch_size: 32
epochs: 4
seed: 7
backend: reference
)";

TrainConfig Config(std::vector<std::string> overrides = {}) {
  Result<config::Node> root = config::ParseYaml(kConfig, "tiny.yaml");
  EXPECT_TRUE(root.ok());
  for (const std::string& o : overrides) EXPECT_TRUE(config::ApplyOverride(*root, o).ok()) << o;
  Result<TrainConfig> config = ParseTrainConfig(*root);
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  return std::move(config).value();
}

TrainingRun Prepare(std::vector<std::string> overrides = {}, const StartFrom& start = {}) {
  Result<TrainingRun> run =
      PrepareTrainingRun(Config(std::move(overrides)), testing::MakeStripesDataset(), start);
  EXPECT_TRUE(run.ok()) << run.status().ToString();
  return std::move(run).value();
}

FitResult Fit(TrainingRun& run) {
  Result<FitResult> fit = run.trainer->Fit(run.train, run.validation, run.initial_epoch);
  EXPECT_TRUE(fit.ok()) << fit.status().ToString();
  return fit.ok() ? *fit : FitResult{};
}

StartFrom Resume(const std::string& path) {
  StartFrom start;
  start.resume = path;
  return start;
}

StartFrom InitFrom(const std::string& path) {
  StartFrom start;
  start.init_from = path;
  return start;
}

bool SameBits(const std::vector<nn::NamedTensor>& a, const std::vector<nn::NamedTensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].values.size() != b[i].values.size()) return false;
    if (std::memcmp(a[i].values.data(), b[i].values.data(), a[i].values.size() * 4) != 0) {
      return false;
    }
  }
  return true;
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("labbook-trainer-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// Records what the trainer reports, in order.
class Recorder final : public Callback {
 public:
  explicit Recorder(nn::CompiledModel* model = nullptr) : model_(model) {}
  void OnTrainBegin(const TrainInfo& info) override {
    info_ = info;
    events_ += "begin;";
  }
  void OnEpochBegin(int epoch) override { events_ += "e" + std::to_string(epoch) + "{"; }
  void OnBatchEnd(int, const BatchLogs& logs) override {
    ++batches_;
    last_batch_ = logs;
  }
  void OnEpochEnd(int, const EpochLogs& logs) override {
    events_ += "}";
    epochs_.push_back(logs);
    if (model_ != nullptr) weights_.push_back(model_->ExportWeights());
  }
  void OnTrainEnd(const std::vector<EpochRecord>& history) override {
    events_ += ";end";
    history_size_ = history.size();
  }

  TrainInfo info_;
  std::string events_;
  int batches_ = 0;
  BatchLogs last_batch_;
  std::vector<EpochLogs> epochs_;
  std::vector<std::vector<nn::NamedTensor>> weights_;
  size_t history_size_ = 0;

 private:
  nn::CompiledModel* model_;
};

TEST(TrainerTest, LearnsTheStripesOnBothBackends) {
  for (const char* backend : {"reference", "onednn"}) {
    SCOPED_TRACE(backend);
    TrainingRun run = Prepare({std::string("backend=") + backend, "threads=2"});
    Recorder recorder;
    run.trainer->AddCallback(&recorder);
    FitResult fit = Fit(run);
    EXPECT_EQ(fit.epochs_completed, 4);
    EXPECT_FALSE(fit.stopped_early);
    ASSERT_EQ(recorder.epochs_.size(), 4u);
    EXPECT_LT(recorder.epochs_.back().loss, recorder.epochs_.front().loss);
    EXPECT_GE(recorder.epochs_.back().val_accuracy, 0.95);
    Result<Evaluation> test =
        Evaluate(*run.model, run.spec.input, run.dataset.test, &run.trainer->loss());
    ASSERT_TRUE(test.ok()) << test.status().ToString();
    EXPECT_EQ(test->count, 100);
    EXPECT_GE(test->accuracy, 0.95);
    EXPECT_LT(test->loss, 0.3);
  }
}

TEST(TrainerTest, CallbacksSeeTheKerasSequence) {
  TrainingRun run = Prepare({"epochs=2"});
  Recorder recorder;
  run.trainer->AddCallback(&recorder);
  Fit(run);
  EXPECT_EQ(recorder.events_, "begin;e0{}e1{};end");
  EXPECT_EQ(recorder.info_.steps_per_epoch, 10);
  EXPECT_EQ(recorder.info_.train_samples, 320);
  EXPECT_EQ(recorder.info_.validation_samples, 80);
  EXPECT_EQ(recorder.info_.epochs, 2);
  EXPECT_EQ(recorder.batches_, 20);
  EXPECT_EQ(recorder.last_batch_.samples_seen, 320);
  EXPECT_EQ(recorder.last_batch_.step, 20);
  EXPECT_DOUBLE_EQ(recorder.last_batch_.learning_rate, 0.01);
  EXPECT_EQ(recorder.history_size_, 2u);
  const EpochLogs& last = recorder.epochs_.back();
  EXPECT_EQ(last.samples, 320);
  EXPECT_TRUE(std::isfinite(last.val_loss));
  EXPECT_DOUBLE_EQ(last.loss, recorder.last_batch_.loss);
  EXPECT_EQ(run.trainer->history().size(), 2u);
  EXPECT_EQ(run.trainer->history()[1].epoch, 2);
}

TEST(TrainerTest, SameSeedAndThreadsGiveBitIdenticalWeights) {
  for (const char* backend : {"reference", "onednn"}) {
    SCOPED_TRACE(backend);
    std::vector<std::string> overrides = {std::string("backend=") + backend, "threads=2",
                                          "epochs=2"};
    TrainingRun a = Prepare(overrides);
    TrainingRun b = Prepare(overrides);
    Fit(a);
    Fit(b);
    EXPECT_TRUE(SameBits(a.model->ExportWeights(), b.model->ExportWeights()));
    EXPECT_EQ(a.trainer->history()[1].loss, b.trainer->history()[1].loss);
    overrides.push_back("seed=8");
    TrainingRun c = Prepare(overrides);
    Fit(c);
    EXPECT_FALSE(SameBits(a.model->ExportWeights(), c.model->ExportWeights()));
  }
}

TEST(TrainerTest, EarlyStoppingStopsAndRestoresTheBestWeights) {
  // With min_delta far above any change, only the first epoch counts as an improvement.
  TrainingRun run = Prepare({"epochs=10",
                             "early_stopping={monitor: val_loss, patience: 1, min_delta: 100, "
                             "restore_best_weights: true}"});
  Recorder recorder(run.model.get());
  run.trainer->AddCallback(&recorder);
  FitResult fit = Fit(run);
  EXPECT_TRUE(fit.stopped_early);
  EXPECT_EQ(fit.epochs_completed, 2);
  EXPECT_EQ(fit.best_epoch, 0);
  EXPECT_TRUE(fit.restored_best_weights);
  ASSERT_EQ(recorder.weights_.size(), 2u);
  EXPECT_TRUE(SameBits(run.model->ExportWeights(), recorder.weights_[0]));
  EXPECT_FALSE(SameBits(recorder.weights_[0], recorder.weights_[1]));
}

TEST(TrainerTest, EarlyStoppingWaitsForPatience) {
  TrainingRun run =
      Prepare({"epochs=10", "early_stopping={monitor: accuracy, patience: 3, min_delta: 2}"});
  FitResult fit = Fit(run);
  EXPECT_TRUE(fit.stopped_early);
  EXPECT_EQ(fit.epochs_completed, 4);  // best at epoch 0, then three without improvement
  EXPECT_FALSE(fit.restored_best_weights);
}

TEST(TrainerTest, RequestStopEndsAfterTheEpoch) {
  TrainingRun run = Prepare({"epochs=5"});
  struct Stopper final : Callback {
    Trainer* trainer;
    void OnEpochEnd(int epoch, const EpochLogs&) override {
      if (epoch == 1) trainer->RequestStop();
    }
  } stopper;
  stopper.trainer = run.trainer.get();
  run.trainer->AddCallback(&stopper);
  EXPECT_EQ(Fit(run).epochs_completed, 2);
}

TEST(TrainerTest, ResumingFromAModelFileContinuesExactly) {
  TempDir dir;
  TrainingRun straight = Prepare({"epochs=3"});
  Fit(straight);

  TrainingRun first = Prepare({"epochs=2"});
  Fit(first);
  ASSERT_TRUE(WriteModelFile(dir.File("m.lbm"), SnapshotModel(first, 2, true)).ok());

  TrainingRun resumed = Prepare({"epochs=3"}, Resume(dir.File("m.lbm")));
  EXPECT_EQ(resumed.initial_epoch, 2);
  Recorder recorder;
  resumed.trainer->AddCallback(&recorder);
  FitResult fit = Fit(resumed);
  EXPECT_EQ(fit.epochs_completed, 3);
  EXPECT_EQ(recorder.events_, "begin;e2{};end");
  EXPECT_EQ(recorder.info_.initial_epoch, 2);
  EXPECT_TRUE(SameBits(resumed.model->ExportWeights(), straight.model->ExportWeights()));
  ASSERT_EQ(resumed.trainer->history().size(), 3u);
  EXPECT_EQ(resumed.trainer->history()[2].loss, straight.trainer->history()[2].loss);
}

TEST(TrainerTest, InitFromTakesTheWeightsAndStartsAFreshRun) {
  TempDir dir;
  TrainingRun first = Prepare({"epochs=1"});
  Fit(first);
  ASSERT_TRUE(WriteModelFile(dir.File("m.lbm"), SnapshotModel(first, 1, false)).ok());
  TrainingRun second = Prepare({"epochs=1", "seed=99"}, InitFrom(dir.File("m.lbm")));
  EXPECT_EQ(second.initial_epoch, 0);
  EXPECT_TRUE(SameBits(second.model->ExportWeights(), first.model->ExportWeights()));
  EXPECT_EQ(Fit(second).epochs_completed, 1);
}

TEST(TrainerTest, ResumeErrorsSayWhatToDo) {
  TempDir dir;
  const std::string path = dir.File("m.lbm");
  TrainingRun first = Prepare({"epochs=2"});
  Fit(first);
  ASSERT_TRUE(WriteModelFile(path, SnapshotModel(first, 2, true)).ok());

  Result<TrainingRun> run =
      PrepareTrainingRun(Config({"epochs=2"}), testing::MakeStripesDataset(), Resume(path));
  EXPECT_EQ(run.status().message(),
            "--resume " + path +
                ": the model has trained 2 epochs and the config asks for 2; raise epochs (e.g. "
                "--set epochs=7) to train on");
  run = PrepareTrainingRun(Config({"epochs=3", "layers.0.filters=5"}),
                           testing::MakeStripesDataset(), Resume(path));
  EXPECT_EQ(run.status().message(),
            "--resume " + path +
                ": the model's architecture differs from the config's layers (or its input from "
                "the dataset's images); `labbook model summary` shows both");
  run = PrepareTrainingRun(Config({"epochs=3", "optimizer.name=sgd"}),
                           testing::MakeStripesDataset(), Resume(path));
  EXPECT_EQ(run.status().message(),
            "--resume " + path +
                ": the saved optimizer state is for 'adam', the config's optimizer is 'sgd'");
  ASSERT_TRUE(WriteModelFile(path, SnapshotModel(first, 2, false)).ok());
  run = PrepareTrainingRun(Config({"epochs=3"}), testing::MakeStripesDataset(), Resume(path));
  EXPECT_EQ(run.status().message(),
            "--resume " + path +
                ": the file holds no optimizer state to continue from; use --init-from to start "
                "a new run from its weights");
}

TEST(TrainerTest, ASavedModelPredictsWhatTheTrainerEvaluated) {
  TempDir dir;
  for (const char* backend : {"reference", "onednn"}) {
    SCOPED_TRACE(backend);
    TrainingRun run = Prepare({"epochs=2", std::string("backend=") + backend});
    Fit(run);
    Result<Evaluation> eval = Evaluate(*run.model, run.spec.input, run.dataset.test, nullptr);
    ASSERT_TRUE(eval.ok());
    ASSERT_TRUE(WriteModelFile(dir.File("m.lbm"), SnapshotModel(run, 2, true)).ok());

    ModelOptions options;
    options.batch_size = 32;  // the trainer's batches, so the arithmetic is the same
    Result<Model> model = Model::Load(dir.File("m.lbm"), options);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    EXPECT_EQ(model->num_classes(), 2);
    EXPECT_EQ(model->class_names(), (std::vector<std::string>{"horizontal", "vertical"}));
    EXPECT_EQ(model->epochs_trained(), 2);
    EXPECT_EQ(model->input_rows(), 8);
    Result<Predictions> predictions = model->Predict(run.dataset.test);
    ASSERT_TRUE(predictions.ok()) << predictions.status().ToString();
    EXPECT_EQ(predictions->predicted, eval->predicted);
    EXPECT_EQ(predictions->probabilities, eval->probabilities);
    EXPECT_NE(model->Summary().find("Total params: 114"), std::string::npos) << model->Summary();
  }
}

TEST(TrainerTest, LearningRateFollowsTheSchedule) {
  TrainingRun run = Prepare({"epochs=3", "lr_schedule={name: step, every_epochs: 1, factor: 0.5}"});
  Recorder recorder;
  run.trainer->AddCallback(&recorder);
  Fit(run);
  ASSERT_EQ(recorder.epochs_.size(), 3u);
  EXPECT_DOUBLE_EQ(recorder.epochs_[0].learning_rate, 0.01);
  EXPECT_DOUBLE_EQ(recorder.epochs_[1].learning_rate, 0.005);
  EXPECT_DOUBLE_EQ(recorder.epochs_[2].learning_rate, 0.0025);

  TrainingRun cosine = Prepare({"epochs=2", "lr_schedule={name: cosine, alpha: 0.1}"});
  Recorder cosine_recorder;
  cosine.trainer->AddCallback(&cosine_recorder);
  Fit(cosine);
  // Over the whole run (20 steps); the last step is evaluated at step 19.
  const double last = 0.01 * (0.9 * 0.5 * (1 + std::cos(std::numbers::pi * 19 / 20)) + 0.1);
  EXPECT_NEAR(cosine_recorder.epochs_[1].learning_rate, last, 1e-15);
}

TEST(TrainerTest, L2RegularisationIsPartOfTheReportedLoss) {
  TrainingRun plain = Prepare({"epochs=1"});
  TrainingRun regularised = Prepare({"epochs=1", "layers.4.kernel_regularizer={l2: 1.0}"});
  Result<Evaluation> a =
      Evaluate(*plain.model, plain.spec.input, plain.dataset.test, &plain.trainer->loss());
  Result<Evaluation> b = Evaluate(*regularised.model, regularised.spec.input,
                                  regularised.dataset.test, &regularised.trainer->loss());
  ASSERT_TRUE(a.ok() && b.ok());
  double squares = 0;
  for (const nn::NamedTensor& t : regularised.model->ExportWeights()) {
    if (t.name != "dense/kernel") continue;
    for (float w : t.values) squares += double{w} * w;
  }
  // Same seed, same initial weights: the losses differ by exactly the penalty.
  EXPECT_NEAR(b->loss - a->loss, squares, 1e-9);
}

TEST(TrainerTest, DataThatDoesNotFitTheModelIsRejected) {
  TrainingRun run = Prepare();
  ImageSet wrong = testing::MakeStripes(10, 1, /*size=*/9);
  Result<Evaluation> eval = Evaluate(*run.model, run.spec.input, wrong, nullptr);
  EXPECT_EQ(eval.status().message(),
            "evaluation: images are 9x9x1 (rows x cols x channels), the model takes 8x8x1");
  ImageSet labels = testing::MakeStripes(10, 1);
  labels.labels[3] = 2;
  Result<FitResult> fit = run.trainer->Fit(labels, {});
  EXPECT_EQ(fit.status().message(),
            "training data: image 3 has label 2 but the model has 2 outputs; the last layer "
            "needs one unit per class");

  Dataset three_classes = testing::MakeStripesDataset();
  three_classes.num_classes = 3;
  Result<TrainingRun> prepared = PrepareTrainingRun(Config(), three_classes, {});
  EXPECT_EQ(prepared.status().message(),
            "tiny.yaml:9: layers.4: the model has 2 outputs but stripes has 3 classes; the last "
            "layer needs one unit per class");
}

TEST(TrainerTest, ValidationSplitIsASeededSubsetInOriginalOrder) {
  ImageSet all = testing::MakeStripes(400, 3);
  auto [train, validation] = SplitValidation(all, 0.2, 7);
  EXPECT_EQ(train.count, 320);
  EXPECT_EQ(validation.count, 80);
  EXPECT_EQ(train.pixels.size(), 320u * 64);
  EXPECT_EQ(validation.labels.size(), 80u);
  auto [train2, validation2] = SplitValidation(all, 0.2, 7);
  EXPECT_EQ(validation.pixels, validation2.pixels);
  auto [train3, validation3] = SplitValidation(all, 0.2, 8);
  EXPECT_NE(validation.pixels, validation3.pixels);
  // Not Keras' last fraction: the held-out images come from all over the set.
  ImageSet tail;
  tail.pixels.assign(all.pixels.end() - 80 * 64, all.pixels.end());
  EXPECT_NE(validation.pixels, tail.pixels);
  auto [everything, none] = SplitValidation(all, 0.0, 7);
  EXPECT_EQ(everything.pixels, all.pixels);
  EXPECT_EQ(none.count, 0);
}

TEST(BatchesTest, ConvertsNhwcBytesToNchwFloats) {
  ImageSet set;
  set.count = 2;
  set.rows = 1;
  set.cols = 2;
  set.channels = 3;
  // image 0: pixel (0,0) = (0, 51, 102), pixel (0,1) = (153, 204, 255)
  set.pixels = {0, 51, 102, 153, 204, 255, 1, 2, 3, 4, 5, 6};
  set.labels = {4, 9};
  std::vector<float> pixels(6);
  std::vector<int32_t> labels(1);
  const int64_t index = 0;
  ConvertImages(set, {&index, 1}, pixels.data(), labels.data());
  EXPECT_EQ(pixels, (std::vector<float>{0.0f, 153 / 255.0f, 51 / 255.0f, 204 / 255.0f, 102 / 255.0f,
                                        1.0f}));
  EXPECT_EQ(labels[0], 4);
}

TEST(BatchesTest, PipelineDeliversBatchesInOrderAndStopsEarly) {
  ImageSet set = testing::MakeStripes(5, 1);
  BatchPipeline pipeline(set, {4, 3, 2, 1, 0}, 2);
  ASSERT_EQ(pipeline.num_batches(), 3);
  std::vector<int> sizes;
  std::vector<int32_t> labels;
  for (int b = 0; b < 3; ++b) {
    BatchPipeline::Batch batch = pipeline.Next();
    sizes.push_back(batch.size);
    labels.insert(labels.end(), batch.labels, batch.labels + batch.size);
    EXPECT_EQ(batch.pixels[0], static_cast<float>(set.pixels[(4 - 2 * b) * 64]) / 255.0f);
  }
  EXPECT_EQ(sizes, (std::vector<int>{2, 2, 1}));
  EXPECT_EQ(labels, (std::vector<int32_t>{set.labels[4], set.labels[3], set.labels[2],
                                          set.labels[1], set.labels[0]}));
  // Destroyed after one batch of many: the helper thread must not hang.
  ImageSet big = testing::MakeStripes(100, 2);
  std::vector<int64_t> order(100);
  for (int i = 0; i < 100; ++i) order[i] = i;
  BatchPipeline partial(big, order, 3);
  partial.Next();
}

TEST(ProgressBarTest, OneLinePerEpochWhenNotATerminal) {
  double now = 0;
  std::FILE* out = std::tmpfile();
  ProgressBar bar(out, /*live=*/false, [&now] { return now; });
  bar.OnTrainBegin({0, 2, 4, 32, 128, 32});
  bar.OnEpochBegin(0);
  for (int b = 0; b < 4; ++b) {
    now += 0.5;
    bar.OnBatchEnd(b, {32, 32 * (b + 1), 0.5, 0.75, 0.5, 0.01, b + 1});
  }
  now += 0.5;
  bar.OnEpochEnd(0, {0.5, 0.75, 0.25, 0.875, 0.01, 2.5, 128});
  bar.OnEpochBegin(1);
  now += 12;
  bar.OnBatchEnd(3, {32, 128, 0.4, 0.8, 0.4, 0.01, 8});
  bar.OnEpochEnd(1, {0.4, 0.8, std::nan(""), std::nan(""), 0.01, 12, 128});
  std::rewind(out);
  char buf[1024] = {};
  size_t n = std::fread(buf, 1, sizeof buf - 1, out);
  std::fclose(out);
  EXPECT_EQ(std::string(buf, n),
            "Epoch 1/2 - 2.5s - 64 samples/s - loss: 0.5000 - accuracy: 0.7500 - val_loss: "
            "0.2500 - val_accuracy: 0.8750\n"
            "Epoch 2/2 - 12s - 11 samples/s - loss: 0.4000 - accuracy: 0.8000\n");
}

TEST(ProgressBarTest, LiveBarRedrawsInPlaceAndEndsWithTheSummary) {
  double now = 0;
  std::FILE* out = std::tmpfile();
  ProgressBar bar(out, /*live=*/true, [&now] { return now; });
  bar.OnTrainBegin({0, 1, 4, 32, 128, 0});
  bar.OnEpochBegin(0);
  for (int b = 0; b < 4; ++b) {
    now += 1;
    bar.OnBatchEnd(b, {32, 32 * (b + 1), 0.5, 0.75, 0.5, 0.01, b + 1});
  }
  bar.OnEpochEnd(0, {0.5, 0.75, std::nan(""), std::nan(""), 0.01, 4, 128});
  std::rewind(out);
  char buf[4096] = {};
  size_t n = std::fread(buf, 1, sizeof buf - 1, out);
  std::fclose(out);
  const std::string text(buf, n);
  EXPECT_EQ(text.rfind("Epoch 1/1\n\r1/4 [=======>......................] - ETA: 3.0s - 32 "
                       "samples/s - loss: 0.5000 - accuracy: 0.7500",
                       0),
            0u)
      << text;
  const std::string summary =
      "\r4/4 [==============================] - 4.0s - 32 samples/s - loss: 0.5000 - accuracy: "
      "0.7500";
  const size_t at = text.rfind(summary);
  ASSERT_NE(at, std::string::npos) << text;
  // Spaces blank the rest of the longer line drawn before; then the line ends.
  EXPECT_EQ(text.find_first_not_of(' ', at + summary.size()), text.size() - 1);
  EXPECT_EQ(text.back(), '\n');
}

}  // namespace
}  // namespace labbook::train
