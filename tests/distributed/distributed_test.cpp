// Data-parallel training without mpirun: the bucketing and sample-weighted averaging of
// GradientReducer, and whole trainers as threads of one process (thread_communicator.hpp), which
// must end with bit-identical weights on every rank and train like one process on the same
// global batches.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>

#include "../train/synthetic_images.hpp"
#include "distributed/communicator.hpp"
#include "distributed/gradient_reducer.hpp"
#include "thread_communicator.hpp"
#include "train/training_run.hpp"

namespace labbook::distributed {
namespace {

// Owns the buffers of ParamViews with the given sizes; grad[j] = value[j] = fill + j.
struct Params {
  Params(std::vector<int64_t> sizes, float fill, bool trainable = true) {
    for (size_t i = 0; i < sizes.size(); ++i) {
      values.emplace_back(static_cast<size_t>(sizes[i]));
      grads.emplace_back(static_cast<size_t>(sizes[i]));
      for (int64_t j = 0; j < sizes[i]; ++j) {
        values[i][static_cast<size_t>(j)] = fill + static_cast<float>(j);
        grads[i][static_cast<size_t>(j)] = fill + static_cast<float>(j);
      }
    }
    for (size_t i = 0; i < sizes.size(); ++i) {
      views.push_back({"p" + std::to_string(i), values[i].data(),
                       trainable ? grads[i].data() : nullptr, sizes[i], trainable, 0.0});
    }
  }
  std::vector<std::vector<float>> values, grads;
  std::vector<nn::ParamView> views;
};

TEST(GradientReducerTest, PacksTensorsIntoBucketsInReverseOrder) {
  SingleProcessCommunicator one;
  Params p({10, 3, 5, 40, 2}, 0);
  // 16 floats a bucket: {p4, p3} would be 42, so p4 alone; p3 (40) alone; {p2, p1, p0} is 18 > 16.
  GradientReducer reducer(&one, p.views, 16 * sizeof(float));
  const auto& buckets = reducer.buckets();
  ASSERT_EQ(buckets.size(), 4u);
  EXPECT_EQ(buckets[0].slots.size(), 1u);
  EXPECT_EQ(buckets[0].slots[0].param, 4u);
  EXPECT_EQ(buckets[1].slots[0].param, 3u);
  EXPECT_EQ(buckets[1].floats, 40);
  ASSERT_EQ(buckets[2].slots.size(), 2u);
  EXPECT_EQ(buckets[2].slots[0].param, 2u);
  EXPECT_EQ(buckets[2].slots[1].param, 1u);
  EXPECT_EQ(buckets[2].slots[1].offset, 5);
  EXPECT_EQ(buckets[3].slots[0].param, 0u);
  EXPECT_EQ(reducer.bytes_per_step(), 60 * 4);

  // The default bucket holds a whole small model.
  GradientReducer whole(&one, p.views);
  EXPECT_EQ(whole.buckets().size(), 1u);
}

TEST(GradientReducerTest, OneProcessKeepsItsGradients) {
  SingleProcessCommunicator one;
  Params p({7, 300}, 1.5f);
  GradientReducer reducer(&one, p.views, 64);
  ASSERT_TRUE(reducer.Average(32, 32).ok());
  for (size_t i = 0; i < p.grads.size(); ++i) {
    for (size_t j = 0; j < p.grads[i].size(); ++j) {
      EXPECT_FLOAT_EQ(p.grads[i][j], 1.5f + static_cast<float>(j));
    }
  }
  EXPECT_EQ(reducer.steps(), 1);
  EXPECT_FALSE(reducer.Average(0, 0).ok());
}

// Three ranks with 5, 2 and 0 samples of a last batch of 7: the mean over the batch is
// (5 g0 + 2 g1) / 7, and the empty rank's buffers (garbage, here NaN) do not count.
TEST(GradientReducerTest, AveragesByTheRanksSampleCounts) {
  testing::ThreadWorld world(3);
  const int64_t samples[3] = {5, 2, 0};
  const float fills[3] = {1.0f, 8.0f, std::nanf("")};
  std::vector<Params> params;
  for (int r = 0; r < 3; ++r) params.emplace_back(std::vector<int64_t>{4, 9, 1}, fills[r]);
  std::vector<Params> moving;  // non-trainable (BatchNorm statistics): averaged by value
  for (int r = 0; r < 3; ++r) moving.emplace_back(std::vector<int64_t>{3}, fills[r], false);
  std::vector<std::thread> threads;
  for (int r = 0; r < 3; ++r) {
    threads.emplace_back([&, r] {
      std::vector<nn::ParamView> views = params[r].views;
      views.insert(views.end(), moving[r].views.begin(), moving[r].views.end());
      GradientReducer reducer(&world.rank(r), views, 8 * sizeof(float));
      EXPECT_TRUE(reducer.Average(samples[r], 7).ok());
    });
  }
  for (std::thread& t : threads) t.join();
  for (int r = 0; r < 3; ++r) {
    for (size_t i = 0; i < 3; ++i) {
      for (size_t j = 0; j < params[r].grads[i].size(); ++j) {
        const float expected = (5 * (1.0f + j) + 2 * (8.0f + j)) / 7;
        EXPECT_NEAR(params[r].grads[i][j], expected, 1e-5) << "rank " << r << " p" << i;
        // Bit-identical on every rank.
        EXPECT_EQ(std::memcmp(&params[r].grads[i][j], &params[0].grads[i][j], 4), 0);
      }
    }
    for (size_t j = 0; j < 3; ++j) {
      EXPECT_NEAR(moving[r].values[0][j], (5 * (1.0f + j) + 2 * (8.0f + j)) / 7, 1e-5);
    }
  }
}

TEST(CommunicatorTest, ChecksThatRanksAgree) {
  testing::ThreadWorld world(2);
  Status verdicts[2];
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      verdicts[r] = CheckSameOnAllRanks(world.rank(r), r == 0 ? "a" : "b", "the config");
    });
  }
  for (std::thread& t : threads) t.join();
  for (const Status& s : verdicts) {
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(s.message(),
              "the config of rank 1 differs from rank 0's; every rank must be started with the "
              "same arguments and files");
  }
  SingleProcessCommunicator one;
  EXPECT_TRUE(CheckSameOnAllRanks(one, "x", "the config").ok());
}

// 400 stripes, 80 held out for validation: 320 to train on.
constexpr char kConfig[] = R"(
dataset: stripes
validation_split: 0.2
layers:
  - {type: Conv2D, filters: 4, kernel_size: 3, activation: relu}
  - {type: MaxPooling2D, pool_size: 2}
  - {type: Flatten}
  - {type: Dense, units: 2, activation: softmax}
loss: categorical_crossentropy
optimizer: {name: adam, learning_rate: 0.01}
batch_size: 30
epochs: 3
seed: 7
backend: reference
)";

train::TrainConfig Config(const std::vector<std::string>& overrides) {
  Result<config::Node> root = config::ParseYaml(kConfig, "tiny.yaml");
  EXPECT_TRUE(root.ok());
  for (const std::string& o : overrides) EXPECT_TRUE(config::ApplyOverride(*root, o).ok()) << o;
  Result<train::TrainConfig> config = train::ParseTrainConfig(*root);
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  return std::move(config).value();
}

struct RankResult {
  std::vector<nn::NamedTensor> weights;
  std::vector<train::EpochRecord> history;
};

// Trains the config on `world` ranks as threads; rank 0 starts from `start`.
std::vector<RankResult> TrainOnThreads(
    int world_size, std::vector<std::string> overrides, const train::StartFrom& start = {},
    std::vector<int>* initial_epochs = nullptr,
    std::vector<std::vector<nn::NamedTensor>>* initial = nullptr) {
  testing::ThreadWorld world(world_size);
  std::vector<RankResult> results(static_cast<size_t>(world_size));
  std::vector<std::thread> threads;
  for (int r = 0; r < world_size; ++r) {
    threads.emplace_back([&, r] {
      Result<train::TrainingRun> run = train::PrepareTrainingRun(
          Config(overrides), testing::MakeStripesDataset(), start, &world.rank(r));
      ASSERT_TRUE(run.ok()) << run.status().ToString();
      if (initial_epochs != nullptr) (*initial_epochs)[static_cast<size_t>(r)] = run->initial_epoch;
      if (initial != nullptr) (*initial)[static_cast<size_t>(r)] = run->model->ExportWeights();
      Result<train::FitResult> fit =
          run->trainer->Fit(run->train, run->validation, run->initial_epoch);
      ASSERT_TRUE(fit.ok()) << fit.status().ToString();
      Result<std::string> checksum = train::AgreedWeightsChecksum(world.rank(r), *run->model);
      EXPECT_TRUE(checksum.ok()) << checksum.status().ToString();
      results[static_cast<size_t>(r)] = {run->model->ExportWeights(), run->trainer->history()};
    });
  }
  for (std::thread& t : threads) t.join();
  return results;
}

double MaxDifference(const std::vector<nn::NamedTensor>& a, const std::vector<nn::NamedTensor>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = 0; j < a[i].values.size(); ++j) {
      worst = std::max(worst, std::fabs(double{a[i].values[j]} - b[i].values[j]));
    }
  }
  return worst;
}

// Batches of 30 end each epoch with one of 20 (7/7/6 over three ranks); of 29, with one of a
// single image, so two ranks have nothing to train on in that step.
TEST(DataParallelTrainingTest, RanksEndIdenticalAndMatchOneProcess) {
  for (const char* backend : {"reference", "onednn"}) {
    for (const char* batch : {"batch_size=30", "batch_size=29"}) {
      SCOPED_TRACE(std::string(backend) + " " + batch);
      const std::vector<std::string> overrides = {std::string("backend=") + backend, batch};
      std::vector<RankResult> one = TrainOnThreads(1, overrides);
      std::vector<RankResult> three = TrainOnThreads(3, overrides);
      ASSERT_EQ(three.size(), 3u);
      for (int r = 1; r < 3; ++r) {
        EXPECT_EQ(MaxDifference(three[0].weights, three[static_cast<size_t>(r)].weights), 0.0);
        EXPECT_EQ(three[0].history.back().val_loss,
                  three[static_cast<size_t>(r)].history.back().val_loss);
      }
      // Without dropout the averaged gradient is the whole batch's: only rounding differs.
      EXPECT_LT(MaxDifference(one[0].weights, three[0].weights), 1e-3);
      ASSERT_EQ(one[0].history.size(), 3u);
      ASSERT_EQ(three[0].history.size(), 3u);
      for (size_t e = 0; e < 3; ++e) {
        EXPECT_NEAR(one[0].history[e].loss, three[0].history[e].loss, 1e-4) << e;
        EXPECT_NEAR(one[0].history[e].accuracy, three[0].history[e].accuracy, 1e-9) << e;
        EXPECT_NEAR(one[0].history[e].val_loss, three[0].history[e].val_loss, 1e-4) << e;
        EXPECT_NEAR(one[0].history[e].val_accuracy, three[0].history[e].val_accuracy, 1e-9) << e;
      }
    }
  }
}

// With dropout each rank draws its own masks; the ranks still end identical, and the same again.
TEST(DataParallelTrainingTest, DropoutMasksPerRankKeepWeightsIdenticalAndDeterministic) {
  const std::vector<std::string> overrides = {
      "layers=[{type: Conv2D, filters: 4, kernel_size: 3, activation: relu}, "
      "{type: Flatten}, {type: Dropout, rate: 0.5}, {type: Dense, units: 2, activation: softmax}]",
      "epochs=1"};
  std::vector<RankResult> two = TrainOnThreads(2, overrides);
  EXPECT_EQ(MaxDifference(two[0].weights, two[1].weights), 0.0);
  std::vector<RankResult> again = TrainOnThreads(2, overrides);
  EXPECT_EQ(MaxDifference(two[0].weights, again[0].weights), 0.0);
}

// Only rank 0 reads the model file of --resume; the others get its weights, optimizer state and
// epoch count, and training continues as one process would.
TEST(DataParallelTrainingTest, ResumeReachesEveryRankFromRankZero) {
  const std::string path = ::testing::TempDir() + "/distributed-resume.lbm";
  std::vector<RankResult> first;
  {
    Result<train::TrainingRun> run =
        train::PrepareTrainingRun(Config({"epochs=1"}), testing::MakeStripesDataset(), {});
    ASSERT_TRUE(run.ok());
    ASSERT_TRUE(run->trainer->Fit(run->train, run->validation).ok());
    ASSERT_TRUE(train::WriteModelFile(path, train::SnapshotModel(*run, 1, true)).ok());
  }
  Result<train::ModelFile> saved = train::ReadModelFile(path);
  ASSERT_TRUE(saved.ok());
  train::StartFrom start;
  start.resume = path;
  std::vector<int> epochs(2, -1);
  std::vector<std::vector<nn::NamedTensor>> initial(2);
  std::vector<RankResult> two = TrainOnThreads(2, {"epochs=2"}, start, &epochs, &initial);
  EXPECT_EQ(epochs, (std::vector<int>{1, 1}));
  EXPECT_EQ(MaxDifference(initial[1], saved->weights), 0.0);
  EXPECT_EQ(MaxDifference(two[0].weights, two[1].weights), 0.0);
  std::vector<RankResult> one = TrainOnThreads(1, {"epochs=2"}, start);
  EXPECT_LT(MaxDifference(one[0].weights, two[0].weights), 1e-3);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace labbook::distributed
