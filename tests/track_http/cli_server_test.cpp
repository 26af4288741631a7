// The command line against a real server: `labbook runs list` and `runs show` print the same as
// against a local store holding the same runs; `labbook sync` uploads an offline run once however
// often it runs; `labbook login` checks the key and stores it for the next commands.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "cli_runner.hpp"
#include "labbook/run.hpp"
#include "synthetic_images.hpp"
#include "test_server.hpp"
#include "track/http/http_store.hpp"
#include "track/run_start.hpp"

namespace labbook::track::http {
namespace {

namespace fs = std::filesystem;
using labbook::testing::CliResult;
using labbook::testing::RunCli;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// JSON output with the artifact versions' creation times left out: each store stamps its own.
void DropArtifactTimes(nlohmann::json& value) {
  if (value.is_object()) {
    if (value.contains("digest")) {
      value.erase("created");
      value.erase("created_time");
    }
    for (auto& [key, item] : value.items()) DropArtifactTimes(item);
  } else if (value.is_array()) {
    for (auto& item : value) DropArtifactTimes(item);
  }
}

std::string Comparable(const std::string& out, const std::string& store_uri) {
  std::string text = Replace(out, store_uri, "STORE");
  if (text.empty() || (text[0] != '{' && text[0] != '[')) return text;
  nlohmann::json document = nlohmann::json::parse(text, nullptr, false);
  if (document.is_discarded()) return text;
  DropArtifactTimes(document);
  return document.dump(2);
}

class CliServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::ClearClientEnvironment();
    dir_ = labbook::testing::MakeTempDir("labbook-cli-server");
    server_ = test::TestServer::Start(fs::path(dir_) / "server");
    ASSERT_NE(server_, nullptr);
    HttpStoreOptions options;
    options.base_url = server_->base_url();
    options.api_key = server_->key();
    Result<std::unique_ptr<HttpRunStore>> remote = HttpRunStore::Open(options);
    ASSERT_TRUE(remote.ok());
    remote_ = std::move(*remote);
  }
  void TearDown() override {
    remote_.reset();
    server_.reset();
    fs::remove_all(dir_);
  }
  // The environment of a command talking to the server; no credentials file of the user's.
  std::vector<std::string> Env() const {
    return {"LABBOOK_API_KEY=" + server_->key(), "XDG_CONFIG_HOME=" + dir_ + "/config",
            "NO_COLOR=1"};
  }

  std::string dir_;
  std::unique_ptr<test::TestServer> server_;
  std::unique_ptr<HttpRunStore> remote_;
};

// The same runs, field for field, in any store: a finished one with history, an artifact and a
// failed one that used it.
void RecordRuns(RunStore& store, const std::string& files) {
  RunInfo first;
  first.id = "cli0run1";
  first.entity = "team";
  first.project = "vision";
  first.name = "baseline";
  first.tags = {"cnn", "small"};
  first.config = {{"lr", 0.001}, {"epochs", 3}};
  first.host = "trainer";
  first.pid = 4242;
  first.start_time = 1714557600;  // 2024-05-01, long enough ago to print as a date
  first.heartbeat_time = first.start_time + 60;
  ASSERT_TRUE(store.CreateRun(first).ok());
  HistoryBatch batch;
  batch.keys = {"loss", "val/accuracy"};
  for (int64_t step = 0; step < 300; ++step) {
    batch.points.push_back({0, step, 2.0 / static_cast<double>(step + 1), first.start_time});
    if (step % 100 == 99) batch.points.push_back({1, step, 0.8 + 0.001 * step, first.start_time});
  }
  ASSERT_TRUE(store.LogHistory(first.id, batch).ok());
  std::ofstream(files + "/model.lbm", std::ios::binary) << "weights";
  NewArtifact model;
  model.entity = "team";
  model.project = "vision";
  model.name = "cnn";
  model.type = "model";
  model.producer_run = first.id;
  model.files = {{"model.lbm", files + "/model.lbm"}};
  Result<ArtifactVersion> version = store.LogArtifact(model);
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  RunUpdate end;
  end.state = RunState::kFinished;
  end.end_time = first.start_time + 125;
  end.exit_code = 0;
  end.summary_patch = nlohmann::json{{"loss", 2.0 / 300}, {"test/accuracy", 0.91}};
  ASSERT_TRUE(store.UpdateRun(first.id, end).ok());

  RunInfo second = first;
  second.id = "cli0run2";
  second.name = "wider";
  second.tags = {};
  second.config = {{"lr", 0.01}, {"epochs", 3}};
  second.start_time = first.start_time + 3600;
  ASSERT_TRUE(store.CreateRun(second).ok());
  ASSERT_TRUE(store.UseArtifact(second.id, *version).ok());
  end.state = RunState::kFailed;
  end.end_time = second.start_time + 30;
  end.exit_code = 2;
  end.summary_patch = nlohmann::json{{"loss", 0.5}};
  ASSERT_TRUE(store.UpdateRun(second.id, end).ok());
}

TEST_F(CliServerTest, RunsListAndShowPrintTheSameAsForALocalStore) {
  const std::string local_uri = "sqlite://" + dir_ + "/local.db";
  Result<std::unique_ptr<RunStore>> local = OpenStore(local_uri);
  ASSERT_TRUE(local.ok());
  fs::create_directories(dir_ + "/files");
  RecordRuns(**local, dir_ + "/files");
  RecordRuns(*remote_, dir_ + "/files");
  local->reset();

  const std::vector<std::vector<std::string>> commands = {
      {"runs", "list"},
      {"runs", "list", "--json"},
      {"runs", "list", "--filter", "summary.loss < 0.1"},
      {"runs", "show", "cli0run1"},
      {"runs", "show", "cli0run2"},
      {"runs", "show", "cli0run1", "--json"},
      {"runs", "show", "cli0"},  // ambiguous
      {"runs", "history", "cli0run1", "--key", "loss", "--csv"},
      {"runs", "history", "cli0run1", "--max-points", "20"},
      {"artifacts", "list"},
      {"runs", "show", "cli0run9"},
  };
  for (std::vector<std::string> command : commands) {
    std::vector<std::string> against_local = command;
    against_local.insert(against_local.end(), {"--store", local_uri});
    std::vector<std::string> against_server = command;
    against_server.insert(against_server.end(), {"--store", server_->base_url()});
    const CliResult expected = RunCli(against_local, Env());
    const CliResult actual = RunCli(against_server, Env());
    std::string shown;
    for (const std::string& word : command) shown += word + " ";
    if (command.back() != "cli0run9" && command.back() != "cli0") {
      EXPECT_EQ(expected.exit_code, 0) << shown << expected.err;
      EXPECT_FALSE(expected.out.empty()) << shown;
    }
    EXPECT_EQ(actual.exit_code, expected.exit_code) << shown << actual.err;
    EXPECT_EQ(Comparable(actual.out, server_->base_url()), Comparable(expected.out, local_uri))
        << shown;
    EXPECT_EQ(Replace(actual.err, server_->base_url(), "STORE"),
              Replace(expected.err, local_uri, "STORE"))
        << shown;
  }
}

TEST_F(CliServerTest, LabbookBaseUrlMakesTheServerTheDefaultStore) {
  fs::create_directories(dir_ + "/files");
  RecordRuns(*remote_, dir_ + "/files");
  std::vector<std::string> env = Env();
  env.push_back("LABBOOK_BASE_URL=" + server_->base_url());
  const CliResult listed = RunCli({"runs", "list"}, env);
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr("cli0run1"));
  EXPECT_THAT(listed.out, HasSubstr("cli0run2"));
  EXPECT_THAT(listed.out + listed.err, Not(HasSubstr(server_->key())));
}

TEST_F(CliServerTest, SyncUploadsAnOfflineRunOnceHoweverOftenItRuns) {
  const std::string offline_uri = "sqlite://" + dir_ + "/offline.db";
  InitOptions options;
  options.entity = "team";
  options.project = "vision";
  options.mode = RunMode::kOffline;
  options.store = offline_uri;
  options.system_metrics = false;
  options.handle_signals = false;
  std::string id;
  {
    Result<labbook::Run> run = labbook::Init(options);
    ASSERT_TRUE(run.ok()) << run.status().ToString();
    id = run->id();
    for (int64_t step = 0; step < 1000; ++step) run->Log({{"loss", 1.0 / (step + 1)}}, step);
    ASSERT_TRUE(run->Finish(0).ok());
  }
  const std::vector<std::string> sync = {"sync", "--offline-store", offline_uri, "--store",
                                         server_->base_url()};
  const CliResult first = RunCli(sync, Env());
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("synced run " + id));
  EXPECT_THAT(first.out, HasSubstr("1000 points"));
  const CliResult second = RunCli(sync, Env());
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_THAT(second.out, HasSubstr("nothing to sync"));
  std::vector<std::string> named = sync;
  named.push_back(id);
  const CliResult again = RunCli(named, Env());
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("the run was there already"));

  Result<RunInfo> run = remote_->GetRun(id);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->state, RunState::kFinished);
  Result<std::vector<KeyInfo>> keys = remote_->HistoryKeys(id);
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].count, 1000);
  Result<std::vector<RunInfo>> runs = remote_->ListRuns({});
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->size(), 1u);
}

TEST_F(CliServerTest, SyncWithoutAServerSaysWhereToSendRuns) {
  const std::string offline_uri = "sqlite://" + dir_ + "/offline.db";
  Result<std::unique_ptr<RunStore>> offline = OpenStore(offline_uri);
  ASSERT_TRUE(offline.ok());
  RunInfo run;
  run.entity = "team";
  run.project = "vision";
  run.state = RunState::kFinished;
  run.start_time = 100;
  ASSERT_TRUE((*offline)->CreateRun(run).ok());
  const CliResult result = RunCli({"sync", "--offline-store", offline_uri}, {"NO_COLOR=1"});
  EXPECT_EQ(result.exit_code, ExitCodeFor(ErrorCode::kInvalidArgument));
  EXPECT_THAT(result.err, HasSubstr("LABBOOK_BASE_URL"));
}

// Runs `labbook login ARGS` with `input` on standard input.
CliResult Login(const std::vector<std::string>& args, const std::string& input,
                const std::string& dir, const std::string& config_home) {
  const std::string input_path = dir + "/login-input";
  std::ofstream(input_path) << input;
  std::string command = "XDG_CONFIG_HOME='" + config_home + "' '" + LABBOOK_CLI + "' login";
  for (const std::string& arg : args) command += " '" + arg + "'";
  command += " < '" + input_path + "' > '" + dir + "/login-out' 2> '" + dir + "/login-err'";
  const int status = std::system(command.c_str());
  CliResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = labbook::testing::ReadFile(dir + "/login-out");
  result.err = labbook::testing::ReadFile(dir + "/login-err");
  return result;
}

TEST_F(CliServerTest, LoginChecksTheKeyAndStoresItForTheNextCommands) {
  const std::string config = dir_ + "/config";
  const CliResult refused = Login({"--host", server_->base_url(), "--key-stdin"},
                                  "lb-not-a-key-of-this-server\n", dir_, config);
  EXPECT_EQ(refused.exit_code, ExitCodeFor(ErrorCode::kUnauthenticated)) << refused.err;
  EXPECT_THAT(refused.err, Not(HasSubstr("lb-not-a-key-of-this-server")));
  EXPECT_FALSE(fs::exists(config + "/labbook/credentials"));

  const CliResult login =
      Login({"--host", server_->base_url(), "--key-stdin"}, server_->key() + "\n", dir_, config);
  ASSERT_EQ(login.exit_code, 0) << login.err;
  EXPECT_EQ(login.out, "logged in to " + server_->base_url() + " as alice\n");
  EXPECT_THAT(login.out + login.err, Not(HasSubstr(server_->key())));
  struct stat info {};
  ASSERT_EQ(stat((config + "/labbook/credentials").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);

  fs::create_directories(dir_ + "/files");
  RecordRuns(*remote_, dir_ + "/files");
  const CliResult listed = RunCli({"runs", "list", "--store", server_->base_url()},
                                  {"XDG_CONFIG_HOME=" + config, "NO_COLOR=1"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr("cli0run1"));
}

TEST_F(CliServerTest, TrainRecordsItsRunOnTheServer) {
  const std::string data = dir_ + "/stripes";
  fs::create_directories(data);
  ASSERT_TRUE(labbook::testing::WriteIdxDataset(labbook::testing::MakeStripesDataset(), data).ok());
  const std::string config = dir_ + "/tiny.yaml";
  labbook::testing::WriteFile(config, "dataset: idx:" + data +
                                          "\n"
                                          "layers:\n"
                                          "  - {type: Flatten}\n"
                                          "  - {type: Dense, units: 2, activation: softmax}\n"
                                          "loss: sparse_categorical_crossentropy\n"
                                          "optimizer: {name: adam, learning_rate: 0.01}\n"
                                          "batch_size: 32\n"
                                          "epochs: 2\n"
                                          "seed: 3\n"
                                          "backend: reference\n");
  std::vector<std::string> env = Env();
  env.push_back("LABBOOK_ENTITY=team");
  env.push_back("LABBOOK_OFFLINE_STORE=" + dir_ + "/offline.db");
  const CliResult train = RunCli({"train", config, "--store", server_->base_url(), "--project",
                                  "stripes", "--model-out", dir_ + "/tiny.lbm"},
                                 env);
  ASSERT_EQ(train.exit_code, 0) << train.err << train.out;
  EXPECT_EQ(train.err, "");
  EXPECT_THAT(train.out, HasSubstr("in " + server_->base_url()));
  Result<std::vector<RunInfo>> runs = remote_->ListRuns({"team", "stripes"});
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  ASSERT_EQ(runs->size(), 1u);
  const RunInfo& run = (*runs)[0];
  EXPECT_EQ(run.state, RunState::kFinished);
  Result<std::vector<KeyInfo>> keys = remote_->HistoryKeys(run.id);
  ASSERT_TRUE(keys.ok());
  EXPECT_FALSE(keys->empty());
  Result<RunArtifacts> artifacts = remote_->ArtifactsOfRun(run.id);
  ASSERT_TRUE(artifacts.ok());
  EXPECT_FALSE(artifacts->produced.empty());
  const CliResult shown = RunCli({"runs", "show", run.id, "--store", server_->base_url()}, env);
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("stripes"));
  EXPECT_FALSE(fs::exists(dir_ + "/offline.db")) << "nothing needed the offline store";
}

}  // namespace
}  // namespace labbook::track::http
