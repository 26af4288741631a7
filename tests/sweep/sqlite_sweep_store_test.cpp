// The SQLite sweep store: claims by many threads and by other processes' connections never hand
// out a grid point twice, an expired lease hands the trial on, leases are the holder's only,
// run_cap, states, hyperband progress, and the sweep file's spec kept as it was.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "core/config.hpp"
#include "sweep/sweep_store.hpp"

namespace labbook::sweep {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class SqliteSweepStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/labbook-sweep-store-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/labbook.db";
    Result<std::unique_ptr<SweepStore>> store = OpenSqliteSweepStore(path_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override { fs::remove_all(dir_); }

  SweepInfo Create(const std::string& yaml) {
    Result<config::Node> root = config::ParseYaml(yaml, "sweep.yaml");
    EXPECT_TRUE(root.ok());
    Result<SweepSpec> spec = ParseSweepSpec(*root);
    EXPECT_TRUE(spec.ok()) << spec.status().ToString();
    Result<SweepInfo> info = store_->CreateSweep({"team", "cnn", *spec, "base.yaml", "epochs: 1\n"});
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    return *info;
  }

  std::string dir_, path_;
  std::unique_ptr<SweepStore> store_;
};

constexpr const char* kGrid = R"(method: grid
metric: {name: loss, goal: minimize}
parameters:
  a: {values: [1, 2, 3, 4, 5]}
  b: {values: [x, y, z, w]}
)";

TEST_F(SqliteSweepStoreTest, ManyAgentsClaimingAtOnceGetEachGridPointOnce) {
  const SweepInfo sweep = Create(kGrid);
  // Eight agents, half on their own connection (as other processes have), claim until done.
  std::vector<std::unique_ptr<SweepStore>> stores;
  for (int i = 0; i < 4; ++i) {
    Result<std::unique_ptr<SweepStore>> opened = OpenSqliteSweepStore(path_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    stores.push_back(std::move(*opened));
  }
  std::mutex mutex;
  std::map<int64_t, std::string> claimed;  // grid point -> agent
  int duplicates = 0;
  std::vector<std::thread> agents;
  for (int a = 0; a < 8; ++a) {
    agents.emplace_back([&, a] {
      SweepStore& store = a < 4 ? *stores[a] : *store_;
      const std::string agent = "agent-" + std::to_string(a);
      for (int guard = 0; guard < 100; ++guard) {
        Result<Claim> claim = store.ClaimTrial(sweep.id, agent, 60);
        ASSERT_TRUE(claim.ok()) << claim.status().ToString();
        if (claim->kind == Claim::Kind::kDone) return;
        if (claim->kind == Claim::Kind::kWait) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
        ASSERT_EQ(claim->kind, Claim::Kind::kTrial);
        {
          std::lock_guard lock(mutex);
          if (!claimed.emplace(*claim->trial->grid_index, agent).second) ++duplicates;
        }
        ASSERT_TRUE(store.CompleteTrial(sweep.id, claim->trial->number, agent,
                                        TrialState::kFinished, 0.5, "")
                        .ok());
      }
    });
  }
  for (std::thread& t : agents) t.join();
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(claimed.size(), 20u);
  Result<std::vector<Trial>> trials = store_->ListTrials(sweep.id);
  ASSERT_TRUE(trials.ok());
  EXPECT_EQ(trials->size(), 20u);
  EXPECT_EQ(store_->GetSweep(sweep.id)->state, SweepState::kFinished);
}

TEST_F(SqliteSweepStoreTest, AnExpiredLeaseHandsTheTrialOnAndTheOldHolderLosesIt) {
  const SweepInfo sweep = Create("method: grid\nparameters:\n  a: {values: [1]}\n");
  Result<Claim> first = store_->ClaimTrial(sweep.id, "dead", 1);
  ASSERT_TRUE(first.ok() && first->kind == Claim::Kind::kTrial);
  ASSERT_TRUE(store_->AttachRun(sweep.id, 1, "dead", "run00001").ok());
  // While the lease holds, the only point is taken: wait.
  Result<Claim> early = store_->ClaimTrial(sweep.id, "rescuer", 60);
  ASSERT_TRUE(early.ok());
  EXPECT_EQ(early->kind, Claim::Kind::kWait);
  EXPECT_THAT(early->why, HasSubstr("1 still running"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  Result<Claim> again = store_->ClaimTrial(sweep.id, "rescuer", 60);
  ASSERT_TRUE(again.ok() && again->kind == Claim::Kind::kTrial);
  EXPECT_EQ(again->trial->number, 1);
  EXPECT_EQ(again->trial->attempts, 2);
  EXPECT_EQ(again->trial->params, first->trial->params);
  EXPECT_EQ(again->trial->run_id, "");
  // The first holder, come back to life, is told it no longer holds the trial.
  Status renewed = store_->RenewLease(sweep.id, 1, "dead", 60);
  EXPECT_EQ(renewed.code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(renewed.message(), HasSubstr("agent rescuer took it"));
  EXPECT_EQ(store_->CompleteTrial(sweep.id, 1, "dead", TrialState::kFinished, 1.0, "").code(),
            ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(store_->RenewLease(sweep.id, 1, "rescuer", 60).ok());
  ASSERT_TRUE(store_->CompleteTrial(sweep.id, 1, "rescuer", TrialState::kFinished, 0.25, "").ok());
  EXPECT_EQ(store_->CompleteTrial(sweep.id, 1, "rescuer", TrialState::kFinished, 0.3, "").code(),
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store_->GetSweep(sweep.id)->state, SweepState::kFinished);
  Result<Claim> done = store_->ClaimTrial(sweep.id, "late", 60);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->kind, Claim::Kind::kDone);
}

TEST_F(SqliteSweepStoreTest, RunCapStatesAndPrefixes) {
  const SweepInfo sweep = Create(R"(method: random
metric: {name: acc, goal: maximize}
run_cap: 2
parameters:
  lr: {distribution: log_uniform_values, min: 0.001, max: 0.1}
)");
  EXPECT_EQ(store_->GetSweep(sweep.id.substr(0, 5))->id, sweep.id);
  EXPECT_EQ(store_->GetSweep("nosuchid").status().code(), ErrorCode::kNotFound);

  ASSERT_TRUE(store_->SetSweepState(sweep.id, SweepState::kPaused).ok());
  EXPECT_EQ(store_->ClaimTrial(sweep.id, "a", 60)->kind, Claim::Kind::kPaused);
  ASSERT_TRUE(store_->SetSweepState(sweep.id, SweepState::kRunning).ok());
  Result<Claim> one = store_->ClaimTrial(sweep.id, "a", 60);
  Result<Claim> two = store_->ClaimTrial(sweep.id, "b", 60);
  ASSERT_TRUE(one.ok() && two.ok());
  ASSERT_EQ(one->kind, Claim::Kind::kTrial);
  ASSERT_EQ(two->kind, Claim::Kind::kTrial);
  EXPECT_NE(one->trial->params, two->trial->params);
  EXPECT_EQ(store_->ClaimTrial(sweep.id, "c", 60)->kind, Claim::Kind::kWait);
  ASSERT_TRUE(store_->CompleteTrial(sweep.id, 1, "a", TrialState::kFinished, 0.8, "").ok());
  ASSERT_TRUE(store_->CompleteTrial(sweep.id, 2, "b", TrialState::kFailed, std::nullopt, "boom")
                  .ok());
  EXPECT_EQ(store_->GetSweep(sweep.id)->state, SweepState::kFinished);
  Result<std::vector<Trial>> trials = store_->ListTrials(sweep.id);
  ASSERT_TRUE(trials.ok());
  std::optional<Trial> best = BestTrial(sweep.spec, *trials);
  ASSERT_TRUE(best.has_value());
  EXPECT_EQ(best->number, 1);
  EXPECT_EQ((*trials)[1].reason, "boom");
  EXPECT_FALSE((*trials)[1].metric.has_value());

  Status resumed = store_->SetSweepState(sweep.id, SweepState::kRunning);
  EXPECT_EQ(resumed.code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(resumed.message(), HasSubstr("is finished; it cannot become running"));

  // Another process's view: the same sweeps, newest first.
  const SweepInfo later = Create(kGrid);
  Result<std::unique_ptr<SweepStore>> other = OpenSqliteSweepStore(path_);
  ASSERT_TRUE(other.ok());
  Result<std::vector<SweepInfo>> listed = (*other)->ListSweeps("team", "cnn");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].id, later.id);
  EXPECT_EQ((*listed)[1].spec.ToJson(), sweep.spec.ToJson());
  EXPECT_EQ((*listed)[1].base_config, "epochs: 1\n");
  EXPECT_EQ((*other)->ListSweeps("team", "other")->size(), 0u);
}

TEST_F(SqliteSweepStoreTest, HyperbandJudgesEachTrialAtItsBracketsAgainstEarlierOnes) {
  const SweepInfo sweep = Create(R"(method: grid
metric: {name: epoch/val_loss, goal: minimize}
early_terminate: {type: hyperband, min_iter: 1, eta: 2, s: 2}
parameters:
  a: {values: [1, 2, 3]}
)");
  for (const char* agent : {"a", "b", "c"}) {
    ASSERT_EQ(store_->ClaimTrial(sweep.id, agent, 60)->kind, Claim::Kind::kTrial);
  }
  // Brackets at epochs 1 and 2; eta 2: the better half of those judged so far goes on.
  EXPECT_FALSE(store_->ReportProgress(sweep.id, 1, "a", 1, 0.5)->stop) << "alone at the bracket";
  Result<Progress> behind = store_->ReportProgress(sweep.id, 2, "b", 1, 0.6);
  ASSERT_TRUE(behind.ok());
  EXPECT_TRUE(behind->stop);
  EXPECT_THAT(behind->reason, HasSubstr("hyperband: epoch/val_loss was 0.6 after epoch 1, rank 2 "
                                        "of 2 trials at that bracket; the best 1 go on"));
  EXPECT_FALSE(store_->ReportProgress(sweep.id, 3, "c", 1, 0.4)->stop) << "best at epoch 1";
  EXPECT_FALSE(store_->ReportProgress(sweep.id, 1, "a", 2, 0.45)->stop);
  EXPECT_TRUE(store_->ReportProgress(sweep.id, 3, "c", 2, 0.5)->stop);
  EXPECT_FALSE(store_->ReportProgress(sweep.id, 1, "a", 3, 0.9)->stop) << "epoch 3 is no bracket";
  EXPECT_EQ(store_->ReportProgress(sweep.id, 1, "b", 4, 0.1).status().code(),
            ErrorCode::kFailedPrecondition)
      << "only the holder reports";
  ASSERT_TRUE(store_->CompleteTrial(sweep.id, 2, "b", TrialState::kStopped, 0.6, behind->reason)
                  .ok());
  Result<std::vector<Trial>> trials = store_->ListTrials(sweep.id);
  EXPECT_EQ((*trials)[1].state, TrialState::kStopped);
  EXPECT_EQ((*trials)[1].reason, behind->reason);
}

}  // namespace
}  // namespace labbook::sweep
