// `labbook train --resume/--init-from artifact:...` (and from a file an artifact holds) records the
// artifact as used by the run; `labbook gc` reports and removes unreferenced artifact contents.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "../train/synthetic_images.hpp"
#include "cli_runner.hpp"
#include "labbook/dataset.hpp"

namespace labbook::testing {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;
using nlohmann::json;

class LineageGcCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("labbook-lineage-gc-cli");
    store_ = dir_ + "/labbook.db";
    setenv("LABBOOK_STORE", store_.c_str(), 1);
    data_ = dir_ + "/stripes";
    fs::create_directories(data_);
    ASSERT_TRUE(WriteIdxDataset(MakeStripesDataset(), data_).ok());
    config_ = dir_ + "/tiny.yaml";
    WriteFile(config_, TinyTrainConfig(data_, 2));
  }
  void TearDown() override {
    unsetenv("LABBOOK_STORE");
    fs::remove_all(dir_);
  }
  // Trains with `extra` arguments; returns the recorded run's id ("" on failure).
  std::string Train(const std::vector<std::string>& extra, const std::string& model_out,
                    CliResult* result = nullptr) {
    std::vector<std::string> args = {"train", config_, "--model-out", model_out};
    args.insert(args.end(), extra.begin(), extra.end());
    CliResult train = RunCli(args);
    if (result != nullptr) *result = train;
    EXPECT_EQ(train.exit_code, 0) << train.err << train.out;
    const std::string marker = "recorded run ";
    const size_t at = train.out.find(marker);
    return at == std::string::npos ? "" : train.out.substr(at + marker.size(), 8);
  }
  json ShowJson(const std::string& run_id) {
    CliResult show = RunCli({"runs", "show", run_id, "--json"});
    EXPECT_EQ(show.exit_code, 0) << show.err;
    return json::parse(show.out, nullptr, false);
  }

  std::string dir_, data_, config_, store_;
};

TEST_F(LineageGcCliTest, ResumingFromAModelArtifactRecordsItAsUsed) {
  const std::string producer = Train({"--set", "epochs=1"}, dir_ + "/first/tiny.lbm");
  ASSERT_EQ(producer.size(), 8u);
  CliResult resumed_out;
  const std::string consumer =
      Train({"--resume", "artifact:tiny:v0"}, dir_ + "/second/tiny.lbm", &resumed_out);
  ASSERT_EQ(consumer.size(), 8u);
  EXPECT_THAT(resumed_out.out, HasSubstr("resuming:  after epoch 1\n"));
  EXPECT_THAT(resumed_out.out, HasSubstr("from:      artifact tiny:v0 ("));
  EXPECT_TRUE(fs::exists(dir_ + "/second/artifacts/tiny-v0/model.lbm"));

  // Lineage both ways: the version names its producer, the resumed run names the version.
  const json run = ShowJson(consumer);
  ASSERT_TRUE(run.contains("artifacts")) << run.dump();
  const json& used = run["artifacts"]["used"];
  ASSERT_EQ(used.size(), 1u) << run.dump();
  EXPECT_EQ(used[0]["reference"], "tiny:v0");
  EXPECT_EQ(used[0]["producer_run"], producer);
  const json first = ShowJson(producer);
  bool produced = false;
  for (const json& artifact : first["artifacts"]["produced"]) {
    produced = produced || artifact["reference"] == "tiny:v0";
  }
  EXPECT_TRUE(produced) << first.dump();
}

TEST_F(LineageGcCliTest, StartingFromAFileDownloadedFromAnArtifactRecordsIt) {
  const std::string producer = Train({"--set", "epochs=1"}, dir_ + "/first/tiny.lbm");
  ASSERT_EQ(producer.size(), 8u);
  CliResult get = RunCli({"artifacts", "get", "tiny:v0", "--out", dir_ + "/downloaded"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  CliResult out;
  const std::string consumer =
      Train({"--init-from", dir_ + "/downloaded/model.lbm"}, dir_ + "/second/tiny.lbm", &out);
  EXPECT_THAT(out.out, HasSubstr("from:      artifact tiny:v0 ("));
  const json run = ShowJson(consumer);
  const json& used = run["artifacts"]["used"];
  ASSERT_EQ(used.size(), 1u) << run.dump();
  EXPECT_EQ(used[0]["reference"], "tiny:v0");
}

TEST_F(LineageGcCliTest, AMissingArtifactStopsTheTrainingAndNamesIt) {
  CliResult train = RunCli(
      {"train", config_, "--model-out", dir_ + "/m.lbm", "--resume", "artifact:nothing-like-it"});
  EXPECT_NE(train.exit_code, 0);
  EXPECT_THAT(train.err, HasSubstr("nothing-like-it"));
  EXPECT_THAT(train.err, HasSubstr("--resume"));
  CliResult disabled =
      RunCli({"train", config_, "--track", "disabled", "--resume", "artifact:tiny"});
  EXPECT_NE(disabled.exit_code, 0);
  EXPECT_THAT(disabled.err, HasSubstr("--track disabled"));
}

TEST_F(LineageGcCliTest, GcReportsAndRemovesUnreferencedBlobs) {
  ASSERT_EQ(Train({"--set", "epochs=1"}, dir_ + "/first/tiny.lbm").size(), 8u);
  // An orphan: content no artifact names, two hours old, 17 bytes.
  const std::string sha = std::string(64, 'a');
  const std::string orphan = store_ + ".blobs/aa/" + sha;
  fs::create_directories(store_ + ".blobs/aa");
  WriteFile(orphan, "seventeen bytes!!");
  timespec old[2] = {{time(nullptr) - 7200, 0}, {time(nullptr) - 7200, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, orphan.c_str(), old, 0), 0);

  CliResult dry = RunCli({"gc", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_THAT(dry.out, HasSubstr("would remove 1 unreferenced blob (17 B) and 0 temporary files "
                                 "(0 B) from sqlite://" +
                                 store_ + "\n"));
  EXPECT_THAT(dry.out, HasSubstr("would free 17 B\n"));
  EXPECT_TRUE(fs::exists(orphan));

  CliResult done = RunCli({"gc", "--json"});
  ASSERT_EQ(done.exit_code, 0) << done.err;
  const json report = json::parse(done.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << done.out;
  EXPECT_EQ(report["blobs"]["removed"], 1);
  EXPECT_EQ(report["blobs"]["bytes"], 17);
  EXPECT_GE(report["blobs"]["referenced"], 3);  // the model, predictions and confusion matrix
  EXPECT_EQ(report["freed_bytes"], 17);
  EXPECT_EQ(report["dry_run"], false);
  EXPECT_FALSE(fs::exists(orphan));

  CliResult again = RunCli({"gc"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("removed 0 unreferenced blobs (0 B)"));
  EXPECT_THAT(again.out, HasSubstr("freed 0 B\n"));
  // The artifacts still read back.
  EXPECT_EQ(RunCli({"artifacts", "get", "tiny", "--out", dir_ + "/check"}).exit_code, 0);
}

TEST_F(LineageGcCliTest, GcCollectsAServersSpentUploads) {
  ASSERT_EQ(Train({"--set", "epochs=1"}, dir_ + "/first/tiny.lbm").size(), 8u);
  const std::string uploads = dir_ + "/server-data/uploads";
  fs::create_directories(uploads);
  WriteFile(uploads + "/" + std::string(64, 'b'), "an old upload");
  WriteFile(uploads + "/" + std::string(64, 'c'), "a fresh one");
  WriteFile(uploads + "/.receiving-1-2-bbbbbbbbbbbb", "half");
  timespec old[2] = {{time(nullptr) - 7200, 0}, {time(nullptr) - 7200, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, (uploads + "/" + std::string(64, 'b')).c_str(), old, 0), 0);
  ASSERT_EQ(utimensat(AT_FDCWD, (uploads + "/.receiving-1-2-bbbbbbbbbbbb").c_str(), old, 0), 0);
  CliResult gc = RunCli({"gc", "--server-data", dir_ + "/server-data"});
  ASSERT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_THAT(gc.out, HasSubstr("removed 1 upload (13 B) and 1 temporary file (4 B) from " + dir_ +
                                "/server-data/uploads\n"));
  EXPECT_TRUE(fs::exists(uploads + "/" + std::string(64, 'c')));
  EXPECT_FALSE(fs::exists(uploads + "/" + std::string(64, 'b')));
}

TEST_F(LineageGcCliTest, GcOfAServerStoreSaysWhereToRunIt) {
  CliResult gc = RunCli({"gc", "--store", "http://127.0.0.1:9"});
  EXPECT_NE(gc.exit_code, 0);
  EXPECT_THAT(gc.err, HasSubstr("labbook gc runs where the store is"));
  EXPECT_THAT(gc.err, HasSubstr("--server-data"));
  CliResult grace = RunCli({"gc", "--grace", "soon"});
  EXPECT_NE(grace.exit_code, 0);
  EXPECT_THAT(grace.err, HasSubstr("--grace"));
}

}  // namespace
}  // namespace labbook::testing
