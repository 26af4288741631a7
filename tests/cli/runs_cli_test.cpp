// `labbook runs` and `labbook artifacts` end to end: runs recorded in a temporary store (through
// the store interface and through the SDK), then read back through the real program.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli_runner.hpp"
#include "labbook/run.hpp"
#include "track/liveness.hpp"
#include "track/store.hpp"

namespace labbook::testing {
namespace {

using nlohmann::json;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// RFC 4180 CSV: quoted fields may hold commas, doubled quotes and line breaks.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
    } else {
      field.push_back(c);
    }
  }
  return rows;
}

size_t ColumnOf(const std::vector<std::string>& header, const std::string& name) {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return i;
  }
  ADD_FAILURE() << "no column " << name;
  return 0;
}

std::vector<std::string> Ids(const json& runs) {
  std::vector<std::string> ids;
  for (const json& run : runs) ids.push_back(run["id"].get<std::string>());
  return ids;
}

// index,label,predicted,p_0..p_2 for 30 samples.
std::string PredictionsCsv() {
  std::ostringstream csv;
  csv << "index,label,predicted,p_0,p_1,p_2\n";
  for (int i = 0; i < 30; ++i) {
    int label = i % 3;
    int predicted = i % 7 == 0 ? (label + 1) % 3 : label;
    double p[3] = {0.1, 0.1, 0.1};
    p[predicted] = 0.8;
    csv << i << "," << label << "," << predicted << "," << p[0] << "," << p[1] << "," << p[2]
        << "\n";
  }
  return csv.str();
}

class RunsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("labbook-runs");
    db_ = dir_ + "/store/labbook.db";
    uri_ = "sqlite://" + db_;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `labbook ARGS --store URI`, in UTC so that dates print the same everywhere.
  CliResult Cli(std::vector<std::string> args) {
    args.push_back("--store");
    args.push_back(uri_);
    return RunCli(args, {"TZ=UTC", "NO_COLOR=1"});
  }

  std::unique_ptr<track::RunStore> Store() {
    auto store = track::OpenStore(uri_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return std::move(store).value();
  }

  // Three finished runs of project "mnist" (two with adam, one with sgd; one of them 3 hours
  // old, the others 2 and 1 hours) and their history; adam0001 logged predictions and a model.
  void RecordRuns() {
    auto store = Store();
    const double now = Now();
    auto make = [&](const std::string& id, const std::string& name, const std::string& optimizer,
                    double lr, double accuracy, double hours_ago, std::vector<std::string> tags) {
      track::RunInfo run;
      run.id = id;
      run.entity = "lab";
      run.project = "mnist";
      run.name = name;
      run.tags = std::move(tags);
      run.state = track::RunState::kFinished;
      run.config = {{"optimizer", {{"name", optimizer}, {"lr", lr}}}, {"epochs", 5}};
      run.summary = {{"test/accuracy", accuracy}, {"loss", 1 - accuracy}};
      run.host = "trainer";
      run.start_time = now - hours_ago * 3600;
      run.heartbeat_time = run.start_time + 125;
      run.end_time = run.start_time + 125;
      run.exit_code = 0;
      auto created = store->CreateRun(run);
      ASSERT_TRUE(created.ok()) << created.status().ToString();
      track::RunUpdate update;
      update.state = track::RunState::kFinished;
      update.end_time = run.end_time;
      update.exit_code = 0;
      ASSERT_TRUE(store->UpdateRun(id, update).ok());
    };
    make("adam0001", "adam-baseline", "adam", 0.001, 0.91, 3, {"baseline", "cnn"});
    make("sgd00002", "sgd-momentum", "sgd", 0.01, 0.87, 2, {"cnn"});
    make("adam0003", "adam, \"tuned\"", "adam", 0.0005, 0.93, 1, {});

    track::HistoryBatch batch;
    batch.keys = {"loss", "accuracy"};
    for (int step = 0; step < 10; ++step) {
      batch.points.push_back({0, step, 1.0 / (step + 1), 1000.0 + step});
      if (step % 2 == 0) batch.points.push_back({1, step, 0.5 + step * 0.01, 1000.0 + step});
    }
    ASSERT_TRUE(store->LogHistory("adam0001", batch).ok());

    WriteFile(dir_ + "/predictions.csv", PredictionsCsv());
    WriteFile(dir_ + "/model.lbm", "not really a model");
    track::NewArtifact predictions;
    predictions.entity = "lab";
    predictions.project = "mnist";
    predictions.name = "adam0001-predictions";
    predictions.type = "predictions";
    predictions.producer_run = "adam0001";
    predictions.files = {{"predictions.csv", dir_ + "/predictions.csv"}};
    ASSERT_TRUE(store->LogArtifact(predictions).ok());
    track::NewArtifact model;
    model.entity = "lab";
    model.project = "mnist";
    model.name = "cnn";
    model.type = "model";
    model.producer_run = "adam0001";
    model.aliases = {"best"};
    model.files = {{"model.lbm", dir_ + "/model.lbm"}, {"notes/readme.txt", dir_ + "/model.lbm"}};
    ASSERT_TRUE(store->LogArtifact(model).ok());
  }

  std::string dir_;
  std::string db_;
  std::string uri_;
};

TEST_F(RunsCliTest, ListShowsATableNewestFirst) {
  RecordRuns();
  CliResult r = Cli({"runs", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("id"), HasSubstr("name"), HasSubstr("state"),
                           HasSubstr("project"), HasSubstr("created"), HasSubstr("duration"),
                           HasSubstr("test/accuracy"), HasSubstr("2m 05s"), HasSubstr("3h ago"),
                           HasSubstr("finished"), HasSubstr("0.93")));
  size_t newest = r.out.find("adam0003");
  size_t middle = r.out.find("sgd00002");
  size_t oldest = r.out.find("adam0001");
  ASSERT_NE(oldest, std::string::npos);
  EXPECT_LT(newest, middle);
  EXPECT_LT(middle, oldest);
}

TEST_F(RunsCliTest, ListJsonHoldsFullRecords) {
  RecordRuns();
  CliResult r = Cli({"runs", "list", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json runs = json::parse(r.out);
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_THAT(Ids(runs), ElementsAre("adam0003", "sgd00002", "adam0001"));
  const json& oldest = runs[2];
  EXPECT_EQ(oldest["name"], "adam-baseline");
  EXPECT_EQ(oldest["state"], "finished");
  EXPECT_EQ(oldest["config"]["optimizer"]["name"], "adam");
  EXPECT_EQ(oldest["summary"]["test/accuracy"], 0.91);
  EXPECT_EQ(oldest["tags"], json({"baseline", "cnn"}));
  EXPECT_EQ(oldest["exit_code"], 0);
  EXPECT_DOUBLE_EQ(oldest["duration"].get<double>(), 125.0);
}

TEST_F(RunsCliTest, FilterSortAndLimit) {
  RecordRuns();
  CliResult adam = Cli({"runs", "list", "--json", "--filter",
                        "config.optimizer.name = 'adam' and summary.test.accuracy > 0.9", "--sort",
                        "-summary.test.accuracy"});
  ASSERT_EQ(adam.exit_code, 0) << adam.err;
  EXPECT_THAT(Ids(json::parse(adam.out)), ElementsAre("adam0003", "adam0001"));

  CliResult table = Cli({"runs", "list", "--sort", "-summary.test.accuracy"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  std::string header = table.out.substr(0, table.out.find('\n'));
  EXPECT_THAT(header, HasSubstr("test/accuracy"));
  EXPECT_EQ(header.find("accuracy"), header.rfind("accuracy")) << header;
  EXPECT_LT(table.out.find("adam0003"), table.out.find("adam0001"));

  CliResult ascending = Cli({"runs", "list", "--json", "--sort", "summary.test.accuracy"});
  ASSERT_EQ(ascending.exit_code, 0) << ascending.err;
  EXPECT_THAT(Ids(json::parse(ascending.out)), ElementsAre("sgd00002", "adam0001", "adam0003"));

  CliResult tagged = Cli({"runs", "list", "--json", "--filter", "tags contains 'cnn'"});
  EXPECT_THAT(Ids(json::parse(tagged.out)), ElementsAre("sgd00002", "adam0001"));

  CliResult limited = Cli({"runs", "list", "--limit", "1", "--sort", "name"});
  ASSERT_EQ(limited.exit_code, 0) << limited.err;
  EXPECT_THAT(limited.out,
              AllOf(HasSubstr("adam0003"), Not(HasSubstr("adam0001")), HasSubstr("1 of 3 runs")));

  CliResult none = Cli({"runs", "list", "--filter", "config.epochs > 5"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_THAT(none.out, HasSubstr("no runs match --filter config.epochs > 5 (3 runs"));

  CliResult other_project = Cli({"runs", "list", "--json", "--project", "cifar"});
  EXPECT_EQ(json::parse(other_project.out), json::array());
}

TEST_F(RunsCliTest, BadFilterOrSortKeyIsAUsageErrorNamingTheColumn) {
  RecordRuns();
  CliResult r = Cli({"runs", "list", "--filter", "summary.test.accuracy >"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--filter: column 24: expected a value after '>', found the end "
                               "of the filter"));
  CliResult unknown = Cli({"runs", "list", "--filter", "acuracy > 0.9"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("--filter: column 1: unknown field 'acuracy'"));
  CliResult sort = Cli({"runs", "export", "--sort", "-accuracy"});
  EXPECT_EQ(sort.exit_code, 2);
  EXPECT_THAT(sort.err, HasSubstr("--sort: unknown field 'accuracy'"));
}

TEST_F(RunsCliTest, AMissingStoreIsReportedNotCreated) {
  CliResult list = Cli({"runs", "list"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("no runs: " + db_ + " does not exist"));
  CliResult json_list = Cli({"runs", "list", "--json"});
  EXPECT_EQ(json::parse(json_list.out), json::array());
  CliResult show = Cli({"runs", "show", "abc12345"});
  EXPECT_EQ(show.exit_code, 3);
  EXPECT_THAT(show.err, HasSubstr(db_ + " does not exist"));
  CliResult artifacts = Cli({"artifacts", "list"});
  EXPECT_EQ(artifacts.exit_code, 0);
  EXPECT_THAT(artifacts.out, HasSubstr("no artifacts: " + db_ + " does not exist"));
  EXPECT_FALSE(fs::exists(db_));
  EXPECT_FALSE(fs::exists(dir_ + "/store"));
}

TEST_F(RunsCliTest, ShowPrintsEverythingAboutARunFoundByPrefix) {
  RecordRuns();
  CliResult r = Cli({"runs", "show", "adam0001"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out,
              AllOf(HasSubstr("Run adam0001 (adam-baseline)"), HasSubstr("finished (exit code 0)"),
                    HasSubstr("baseline, cnn"), HasSubstr("optimizer.name"),
                    HasSubstr("optimizer.lr"), HasSubstr("0.001"), HasSubstr("test/accuracy"),
                    HasSubstr("History"), HasSubstr("0..9"), HasSubstr("cnn:v0"),
                    HasSubstr("adam0001-predictions:v0"), HasSubstr("Artifacts used: none")));

  CliResult prefix = Cli({"runs", "show", "sgd", "--json"});
  ASSERT_EQ(prefix.exit_code, 0) << prefix.err;
  json run = json::parse(prefix.out);
  EXPECT_EQ(run["id"], "sgd00002");
  EXPECT_EQ(run["history"], json::array());

  CliResult with_history = Cli({"runs", "show", "adam0001", "--json"});
  json full = json::parse(with_history.out);
  ASSERT_EQ(full["history"].size(), 2u);
  for (const json& key : full["history"]) {
    if (key["key"] == "loss") {
      EXPECT_EQ(key["count"], 10);
      EXPECT_EQ(key["last_step"], 9);
      EXPECT_DOUBLE_EQ(key["last"].get<double>(), 0.1);
      EXPECT_DOUBLE_EQ(key["max"].get<double>(), 1.0);
    }
  }
  EXPECT_EQ(full["artifacts"]["produced"].size(), 2u);
}

TEST_F(RunsCliTest, UnknownRunIsNotFound) {
  RecordRuns();
  CliResult r = Cli({"runs", "show", "zzzz9999"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, HasSubstr("run 'zzzz9999' not found"));
  CliResult compare = Cli({"runs", "compare", "adam0001", "nope1234"});
  EXPECT_EQ(compare.exit_code, 3);
  EXPECT_THAT(compare.err, HasSubstr("run 'nope1234' not found"));
  CliResult history = Cli({"runs", "history", "missing1", "--key", "loss"});
  EXPECT_EQ(history.exit_code, 3);
}

TEST_F(RunsCliTest, CompareShowsConfigDifferencesAndSummaries) {
  RecordRuns();
  CliResult r = Cli({"runs", "compare", "adam0001", "sgd00002"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("Config differences (2 of 3 keys"),
                           HasSubstr("optimizer.name"), HasSubstr("sgd"), HasSubstr("0.01"),
                           HasSubstr("Summary"), HasSubstr("0.87"), HasSubstr("0.91")));
  EXPECT_THAT(r.out, Not(HasSubstr("epochs")));

  CliResult all = Cli({"runs", "compare", "adam0001", "sgd00002", "--all"});
  EXPECT_THAT(all.out, HasSubstr("epochs"));

  CliResult j = Cli({"runs", "compare", "adam0001", "sgd00002", "adam0003", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  json out = json::parse(j.out);
  EXPECT_EQ(out["runs"].size(), 3u);
  std::vector<std::string> differing;
  for (const json& key : out["config"]) differing.push_back(key["key"]);
  EXPECT_THAT(differing, ElementsAre("optimizer.lr", "optimizer.name"));
  EXPECT_EQ(out["config"][1]["values"], json({"adam", "sgd", "adam"}));

  CliResult one = Cli({"runs", "compare", "adam0001"});
  EXPECT_EQ(one.exit_code, 2);
  EXPECT_THAT(one.err, HasSubstr("expected at least two run ids"));
}

TEST_F(RunsCliTest, HistoryAsCsvAndTable) {
  RecordRuns();
  CliResult r = Cli({"runs", "history", "adam0001", "--key", "loss", "--key", "accuracy", "--csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto rows = ParseCsv(r.out);
  ASSERT_EQ(rows.size(), 11u);
  EXPECT_THAT(rows[0], ElementsAre("step", "wall_time", "loss", "accuracy"));
  EXPECT_THAT(rows[1], ElementsAre("0", "1000.000000", "1", "0.5"));
  EXPECT_THAT(rows[3], ElementsAre("2", "1002.000000", "0.3333333333333333", "0.52"));
  EXPECT_THAT(rows[4], ElementsAre("3", "1003.000000", "0.25", ""));

  CliResult ambiguous = Cli({"runs", "history", "adam", "--key", "loss"});
  EXPECT_EQ(ambiguous.exit_code, 2);
  EXPECT_THAT(ambiguous.err, HasSubstr("adam0001, adam0003"));

  CliResult table = Cli({"runs", "history", "adam0001", "--key", "loss"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, AllOf(HasSubstr("step"), HasSubstr("wall_time"), HasSubstr("0.333333"),
                               HasSubstr("1970-01-01 00:16:40")));

  CliResult keys = Cli({"runs", "history", "adam0001"});
  EXPECT_THAT(keys.out, AllOf(HasSubstr("loss"), HasSubstr("accuracy"), HasSubstr("--key")));

  CliResult unknown = Cli({"runs", "history", "adam0001", "--key", "los"});
  EXPECT_EQ(unknown.exit_code, 3);
  EXPECT_THAT(unknown.err, HasSubstr("has no history key 'los'; its keys: "));

  CliResult fewer =
      Cli({"runs", "history", "adam0001", "--key", "loss", "--csv", "--max-points", "4"});
  ASSERT_EQ(fewer.exit_code, 0) << fewer.err;
  EXPECT_LE(ParseCsv(fewer.out).size(), 5u);
}

TEST_F(RunsCliTest, ExportWritesOneQuotedRowPerRun) {
  RecordRuns();
  std::string out = dir_ + "/export/runs.csv";
  CliResult r = Cli({"runs", "export", "--project", "mnist", "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("3 runs"));
  auto rows = ParseCsv(ReadFile(out));
  ASSERT_EQ(rows.size(), 4u);
  const auto& header = rows[0];
  for (const auto& row : rows) EXPECT_EQ(row.size(), header.size());
  size_t name = ColumnOf(header, "name");
  size_t lr = ColumnOf(header, "config.optimizer.lr");
  size_t accuracy = ColumnOf(header, "summary.test/accuracy");
  size_t tags = ColumnOf(header, "tags");
  EXPECT_EQ(rows[1][name], "adam, \"tuned\"");
  EXPECT_EQ(rows[1][lr], "0.0005");
  EXPECT_EQ(rows[3][accuracy], "0.91");
  EXPECT_EQ(rows[3][tags], "baseline;cnn");
  EXPECT_THAT(ReadFile(out), HasSubstr("\"adam, \"\"tuned\"\"\""));

  CliResult filtered = Cli({"runs", "export", "--json", "--filter",
                            "state = 'finished' and "
                            "config.optimizer.lr < 0.001"});
  ASSERT_EQ(filtered.exit_code, 0) << filtered.err;
  json runs = json::parse(filtered.out);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["id"], "adam0003");
  EXPECT_EQ(runs[0]["config.optimizer.name"], "adam");
  EXPECT_EQ(runs[0]["summary.test/accuracy"], 0.93);
}

TEST_F(RunsCliTest, DeleteRemovesTheRunButKeepsItsArtifacts) {
  RecordRuns();
  CliResult r = Cli({"runs", "delete", "adam0001", "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("deleted run adam0001 (adam-baseline); the 2 artifact versions"));
  EXPECT_EQ(Cli({"runs", "show", "adam0001"}).exit_code, 3);
  CliResult artifacts = Cli({"artifacts", "list", "--json"});
  EXPECT_EQ(json::parse(artifacts.out).size(), 2u);
  // Standard input is not a terminal: no question asked.
  CliResult piped = Cli({"runs", "delete", "sgd00002"});
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_THAT(Ids(json::parse(Cli({"runs", "list", "--json"}).out)), ElementsAre("adam0003"));
}

TEST_F(RunsCliTest, DeadRunsShowAsCrashedAndLiveOnesAreNotDeleted) {
  auto store = Store();
  const double now = Now();
  track::RunInfo dead;
  dead.id = "dead0001";
  dead.entity = "lab";
  dead.project = "mnist";
  dead.host = "elsewhere";
  dead.start_time = now - 600;
  dead.heartbeat_time = now - 300;
  auto created = store->CreateRun(dead);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  track::RunInfo live;
  live.id = "live0001";
  live.entity = "lab";
  live.project = "mnist";
  live.host = track::ThisHost();
  live.pid = getpid();
  live.start_time = now - 1;
  live.heartbeat_time = now;
  ASSERT_TRUE(store->CreateRun(live).ok());
  store.reset();

  CliResult r = Cli({"runs", "list", "--json", "--filter", "state = 'crashed'"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(Ids(json::parse(r.out)), ElementsAre("dead0001"));
  CliResult del = Cli({"runs", "delete", "live0001", "--yes"});
  EXPECT_EQ(del.exit_code, 7);
  EXPECT_THAT(del.err, HasSubstr("is still running"));
  EXPECT_EQ(Cli({"runs", "delete", "live0001", "--yes", "--force"}).exit_code, 0);
}

TEST_F(RunsCliTest, PredictionsGoStraightIntoEval) {
  RecordRuns();
  std::string out = dir_ + "/fetched/preds.csv";
  CliResult r = Cli({"runs", "predictions", "adam0001", "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out,
              AllOf(HasSubstr("30 predictions, 3 classes"), HasSubstr("adam0001-predictions:v0")));
  EXPECT_EQ(ReadFile(out), PredictionsCsv());
  CliResult eval = RunCli({"eval", out, "--json", "--no-plots", "--out", dir_ + "/eval"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_EQ(json::parse(eval.out)["num_samples"], 30);

  CliResult none = Cli({"runs", "predictions", "sgd00002", "--out", dir_ + "/x.csv"});
  EXPECT_EQ(none.exit_code, 3);
  EXPECT_THAT(none.err, HasSubstr("run sgd00002 (sgd-momentum) produced no artifact of type "
                                  "'predictions'"));
}

TEST_F(RunsCliTest, ArtifactsListAndGet) {
  RecordRuns();
  CliResult list = Cli({"artifacts", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out,
              AllOf(HasSubstr("cnn"), HasSubstr("model"), HasSubstr("v0"), HasSubstr("best"),
                    HasSubstr("latest"), HasSubstr("adam0001"), HasSubstr("producer run")));
  json listed = json::parse(Cli({"artifacts", "list", "--json", "--project", "mnist"}).out);
  ASSERT_EQ(listed.size(), 2u);

  std::string out = dir_ + "/got";
  CliResult get = Cli({"artifacts", "get", "cnn:best", "--out", out});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_THAT(get.out, HasSubstr("wrote cnn:v0 (model, 2 files"));
  EXPECT_EQ(ReadFile(out + "/model.lbm"), "not really a model");
  EXPECT_EQ(ReadFile(out + "/notes/readme.txt"), "not really a model");

  CliResult missing = Cli({"artifacts", "get", "cnn:v7", "--out", out});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_THAT(missing.err, HasSubstr("artifact cnn:v7 not found in lab/mnist; its versions: v0"));
  CliResult unknown = Cli({"artifacts", "get", "resnet", "--out", out});
  EXPECT_EQ(unknown.exit_code, 3);
  EXPECT_THAT(unknown.err, HasSubstr("no artifact named 'resnet'"));
  CliResult bad = Cli({"artifacts", "get", "cnn:", "--out", out});
  EXPECT_EQ(bad.exit_code, 2);
}

TEST_F(RunsCliTest, CorruptBlobIsDataLoss) {
  RecordRuns();
  json listed = json::parse(Cli({"artifacts", "list", "--json"}).out);
  std::string sha;
  for (const json& artifact : listed) {
    if (artifact["name"] == "cnn") sha = artifact["files"][0]["sha256"];
  }
  ASSERT_FALSE(sha.empty());
  // The store keeps each file once, named by its digest, somewhere beside the database.
  int corrupted = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir_ + "/store")) {
    if (entry.is_regular_file() && entry.path().filename().string().find(sha) == 0) {
      fs::permissions(entry.path(), fs::perms::owner_write, fs::perm_options::add);
      std::ofstream(entry.path(), std::ios::binary | std::ios::trunc) << "tampered";
      ++corrupted;
    }
  }
  ASSERT_EQ(corrupted, 1);
  CliResult get = Cli({"artifacts", "get", "cnn", "--out", dir_ + "/got"});
  EXPECT_EQ(get.exit_code, 8);
  EXPECT_THAT(get.err, HasSubstr("artifact cnn:v0 file model.lbm"));
  EXPECT_FALSE(fs::exists(dir_ + "/got/model.lbm"));
}

TEST_F(RunsCliTest, RunsLoggedThroughTheSdk) {
  labbook::InitOptions options;
  options.project = "sdk";
  options.entity = "lab";
  options.name = "from-sdk";
  options.tags = {"sdk"};
  options.config = {{"optimizer", {{"name", "nadam"}}}, {"batch_size", 64}};
  options.store = uri_;
  options.system_metrics = false;
  options.handle_signals = false;
  Result<labbook::Run> run = labbook::Init(options);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  for (int step = 0; step < 5; ++step) run->Log({{"loss", 1.0 / (step + 1)}}, step);
  run->SetSummary("test/accuracy", 0.875);
  WriteFile(dir_ + "/predictions.csv", PredictionsCsv());
  Result<labbook::ArtifactRef> logged = run->LogArtifact(
      "sdk-predictions", "predictions", {{"predictions.csv", dir_ + "/predictions.csv"}});
  ASSERT_TRUE(logged.ok()) << logged.status().ToString();
  ASSERT_TRUE(run->Finish(0).ok());
  std::string id = run->id();

  CliResult r = Cli({"runs", "list", "--json", "--project", "sdk", "--filter",
                     "config.optimizer.name = 'nadam' and tags contains 'sdk'"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json runs = json::parse(r.out);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["id"], id);
  EXPECT_EQ(runs[0]["state"], "finished");
  EXPECT_EQ(runs[0]["summary"]["test/accuracy"], 0.875);

  CliResult history = Cli({"runs", "history", id, "--key", "loss", "--csv"});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  auto rows = ParseCsv(history.out);
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[5][2], "0.2");

  std::string out = dir_ + "/sdk.csv";
  ASSERT_EQ(Cli({"runs", "predictions", id, "--out", out}).exit_code, 0);
  EXPECT_EQ(RunCli({"eval", out, "--no-plots", "--out", dir_ + "/eval"}).exit_code, 0);
}

}  // namespace
}  // namespace labbook::testing
