// `mpirun -np 2 labbook train`, as a user runs it: two ranks train like one process on the same
// global batches, end with identical weights, and rank 0 alone records one run (with the other
// rank's system metrics) and writes one model file; a rank that cannot go on ends both, with a
// message, instead of leaving the other waiting. Skipped where mnist-digits is not installed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>

#include "../cli/cli_runner.hpp"
#include "labbook/dataset.hpp"
#include "track/store.hpp"

namespace labbook::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

// Small enough for a few seconds on two cores, large enough that the test accuracy means
// something: 7,200 digits (800 held out), 2,000 test digits, two epochs of a small CNN. No
// Dropout: each rank draws its own masks, which alone moves the test accuracy by about 0.3-0.4
// points after two or three epochs here; without it the runs differ only by rounding
// (distributed_test covers the masks).
constexpr char kConfig[] = R"(dataset: mnist-digits
validation_split: 0.1
layers:
  - {type: Conv2D, filters: 8, kernel_size: 3, activation: relu}
  - {type: MaxPooling2D, pool_size: 2}
  - {type: Flatten}
  - {type: Dense, units: 10, activation: softmax}
loss: categorical_crossentropy
optimizer: {name: adam, learning_rate: 0.002}
batch_size: 64
epochs: 2
seed: 5
threads: 1
)";

class DistributedCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const DatasetInfo& info : ListBuiltinDatasets()) {
      if (info.name == "mnist-digits" && !info.available) GTEST_SKIP() << info.how_to_get;
    }
    dir_ = MakeTempDir("labbook-distributed-cli");
    config_ = dir_ + "/digits.yaml";
    WriteFile(config_, kConfig);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // mpirun in a container: as root it needs the two confirmations; shared memory between the
  // ranks without CMA (ptrace is often not allowed), and no binding to the few cores there are.
  // In the sanitizer build LeakSanitizer is told about Open MPI's own allocations (lsan.supp).
  CliResult Mpirun(const std::vector<std::vector<std::string>>& apps) {
    std::vector<std::string> argv = {LABBOOK_MPIEXEC, "--oversubscribe", "--bind-to", "none", "-x",
                                     "LSAN_OPTIONS"};
    for (size_t i = 0; i < apps.size(); ++i) {
      if (i > 0) argv.push_back(":");
      argv.insert(argv.end(), {"-np", apps.size() == 1 ? "2" : "1", LABBOOK_CLI});
      argv.insert(argv.end(), apps[i].begin(), apps[i].end());
    }
    return RunProgram(
        argv,
        {"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1", "OMPI_MCA_btl=self,vader",
         "OMPI_MCA_btl_vader_single_copy_mechanism=none", "OMPI_MCA_rmaps_base_oversubscribe=1",
         "LSAN_OPTIONS=suppressions=" LABBOOK_SOURCE_DIR "/tests/distributed/lsan.supp"});
  }

  std::string dir_, config_;
};

Result<track::RunInfo> OnlyRun(const std::string& store_path, size_t* count) {
  Result<std::unique_ptr<track::RunStore>> store = track::OpenStore(store_path);
  if (!store.ok()) return store.status();
  Result<std::vector<track::RunInfo>> runs = (*store)->ListRuns({});
  if (!runs.ok()) return runs.status();
  *count = runs->size();
  if (runs->empty()) return NotFound("no run in " + store_path);
  return runs->front();
}

TEST_F(DistributedCliTest, TwoRanksTrainLikeOneProcessAndRankZeroRecords) {
  const auto start = std::chrono::steady_clock::now();
  const std::string one_store = dir_ + "/one.db";
  CliResult one =
      RunCli({"train", config_, "--store", one_store, "--model-out", dir_ + "/one.lbm"});
  ASSERT_EQ(one.exit_code, 0) << one.err << one.out;

  const std::string store = dir_ + "/two.db";
  const std::string model = dir_ + "/models/two.lbm";
  CliResult two = Mpirun({{"train", config_, "--store", store, "--model-out", model}});
  ASSERT_EQ(two.exit_code, 0) << two.err << two.out;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("one process and two ranks: %.1f s\n", seconds);

  // Rank 0 alone prints: one plan, one progress line per epoch, one test table.
  EXPECT_THAT(two.out, AllOf(HasSubstr("parallel:  2 MPI ranks, each with 32 of every batch of 64"),
                             HasSubstr("weights identical on 2 ranks (checksum "),
                             HasSubstr("allreduce: ")));
  auto occurrences = [](const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(occurrences(two.out, "config:    "), 1u) << two.out;
  EXPECT_EQ(occurrences(two.out, "Epoch 2/2"), 1u) << two.out;
  EXPECT_EQ(occurrences(two.out, "recorded run "), 1u) << two.out;

  size_t count = 0;
  Result<track::RunInfo> single = OnlyRun(one_store, &count);
  ASSERT_TRUE(single.ok()) << single.status().ToString();
  Result<track::RunInfo> parallel = OnlyRun(store, &count);
  ASSERT_TRUE(parallel.ok()) << parallel.status().ToString();
  EXPECT_EQ(count, 1u);
  const double single_accuracy = single->summary.at("test/accuracy").get<double>();
  const double parallel_accuracy = parallel->summary.at("test/accuracy").get<double>();
  EXPECT_GT(single_accuracy, 0.85);
  EXPECT_NEAR(parallel_accuracy, single_accuracy, 0.003);
  EXPECT_EQ(parallel->config.at("distributed").at("world_size"), 2);
  EXPECT_FALSE(single->config.contains("distributed"));
  EXPECT_EQ(parallel->summary.at("distributed/world_size"), 2);

  Result<std::unique_ptr<track::RunStore>> opened = track::OpenStore(store);
  ASSERT_TRUE(opened.ok());
  Result<std::vector<track::KeyInfo>> keys = (*opened)->HistoryKeys(parallel->id);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  std::map<std::string, track::KeyInfo> by_key;
  for (const track::KeyInfo& k : *keys) by_key[k.key] = k;
  for (const char* key : {"system/rank1/process_cpu_percent", "system/rank1/process_rss_mb"}) {
    ASSERT_TRUE(by_key.count(key)) << key;
    EXPECT_EQ(by_key[key].count, 2) << key;  // one sample per epoch
  }
  EXPECT_FALSE(by_key.count("system/rank0/process_rss_mb"));
  // 7,200 images in batches of 64: 113 steps an epoch, counted once.
  EXPECT_EQ(by_key["batch/loss"].count, 226);

  Result<track::RunArtifacts> artifacts = (*opened)->ArtifactsOfRun(parallel->id);
  ASSERT_TRUE(artifacts.ok());
  int models = 0;
  for (const track::ArtifactVersion& a : artifacts->produced) models += a.type == "model";
  EXPECT_EQ(models, 1);
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir_ + "/models")) {
    files += entry.path().extension() == ".lbm";
  }
  EXPECT_EQ(files, 1u);
}

TEST_F(DistributedCliTest, RanksWithDifferentConfigsStopWithAMessage) {
  const auto start = std::chrono::steady_clock::now();
  CliResult r = Mpirun({{"train", config_, "--track", "disabled"},
                        {"train", config_, "--track", "disabled", "--set", "epochs=3"}});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("the resolved config of rank 1 differs from rank 0's"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST_F(DistributedCliTest, ARankThatFailsEndsTheOthers) {
  const auto start = std::chrono::steady_clock::now();
  CliResult r = Mpirun({{"train", config_, "--track", "disabled"},
                        {"train", dir_ + "/missing.yaml", "--track", "disabled"}});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, AllOf(HasSubstr("labbook: error: rank 1 of 2: "), HasSubstr("missing.yaml")));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

}  // namespace
}  // namespace labbook::testing
