// `labbook sweep` and `labbook agent` as a user runs them: on the local store and through a
// team server, two agents at once on a grid, an agent killed with SIGKILL mid-trial, hyperband
// stopping trials that are behind, pause/resume/stop, and sweep files with mistakes.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../train/synthetic_images.hpp"
#include "cli_runner.hpp"

extern char** environ;

namespace labbook::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// A process started in the background (an agent to kill, a server), its output in a file.
class Background {
 public:
  Background(const std::vector<std::string>& args, const std::string& log,
             const std::vector<std::string>& env = {}) {
    std::vector<std::string> all = {LABBOOK_CLI};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> environment;
    for (char** e = environ; *e != nullptr; ++e) environment.emplace_back(*e);
    environment.insert(environment.end(), env.begin(), env.end());
    std::vector<char*> envp;
    for (std::string& e : environment) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data()), 0);
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Background() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  void Kill(int signal) {
    kill(pid_, signal);
    waitpid(pid_, &status_, 0);
    pid_ = -1;
  }
  int Wait() {
    waitpid(pid_, &status_, 0);
    pid_ = -1;
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
};

class SweepCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("labbook-sweep-cli");
    store_ = "sqlite://" + dir_ + "/labbook.db";
    data_ = dir_ + "/stripes";
    fs::create_directories(data_);
    ASSERT_TRUE(WriteIdxDataset(MakeStripesDataset(), data_).ok());
    WriteBase(2);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void WriteBase(int epochs) {
    config_ = dir_ + "/tiny.yaml";
    WriteFile(config_, TinyTrainConfig(data_, epochs));
  }

  std::string Create(const std::string& sweep_yaml, const std::vector<std::string>& extra = {}) {
    const std::string file = dir_ + "/sweep.yaml";
    WriteFile(file, sweep_yaml);
    std::vector<std::string> args = {"sweep", "create", file, "--config", config_, "--store",
                                     store_};
    args.insert(args.end(), extra.begin(), extra.end());
    CliResult r = RunCli(args, Env());
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    std::string id = r.out;
    while (!id.empty() && id.back() == '\n') id.pop_back();
    EXPECT_EQ(id.size(), 8u) << r.out;
    return id;
  }

  json Show(const std::string& id) {
    CliResult r = RunCli({"sweep", "show", id, "--json", "--store", store_}, Env());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }

  std::vector<std::string> Env() const {
    // Each agent's model files go to its working directory's labbook-out/; keep them here.
    return {"LABBOOK_ENTITY=tester"};
  }

  std::string dir_, store_, data_, config_;
};

constexpr const char* kGrid = R"(method: grid
metric:
  name: test/accuracy
  goal: maximize
parameters:
  optimizer.learning_rate:
    values: [0.01, 0.003]
  layers:
    parameters:
      0.filters:
        values: [2, 4]
)";

TEST_F(SweepCliTest, TwoAgentsAtOnceCoverAFourPointGridOnce) {
  const std::string id = Create(kGrid, {"--project", "grid"});
  CliResult a, b;
  std::thread first([&] { a = RunCli({"agent", id, "--store", store_, "--poll", "0.2"}, Env()); });
  std::thread second([&] { b = RunCli({"agent", id, "--store", store_, "--poll", "0.2"}, Env()); });
  first.join();
  second.join();
  ASSERT_EQ(a.exit_code, 0) << a.err << a.out;
  ASSERT_EQ(b.exit_code, 0) << b.err << b.out;
  EXPECT_THAT(a.out + b.out, HasSubstr("is finished"));

  const json shown = Show(id);
  ASSERT_TRUE(shown.is_object());
  EXPECT_EQ(shown["state"], "finished");
  ASSERT_EQ(shown["trials"].size(), 4u) << shown.dump(2);
  std::set<int64_t> points;
  std::set<std::string> params;
  std::set<std::string> agents;
  for (const json& t : shown["trials"]) {
    EXPECT_EQ(t["state"], "finished") << t.dump();
    EXPECT_EQ(t["attempts"], 1);
    points.insert(t["grid_index"].get<int64_t>());
    params.insert(t["params"].dump());
    agents.insert(t["agent"].get<std::string>());
    EXPECT_TRUE(t["metric"].is_number()) << t.dump();
    // The trial's run holds the trial's parameters in its config and the sweep in its summary.
    CliResult run = RunCli({"runs", "show", t["run"].get<std::string>(), "--json", "--store",
                            store_}, Env());
    ASSERT_EQ(run.exit_code, 0) << run.err;
    const json r = json::parse(run.out);
    EXPECT_EQ(r["project"], "grid");
    EXPECT_EQ(r["entity"], "tester");
    EXPECT_EQ(r["config"]["optimizer"]["learning_rate"], t["params"]["optimizer.learning_rate"]);
    EXPECT_EQ(r["config"]["layers"][0]["filters"], t["params"]["layers.0.filters"]);
    EXPECT_EQ(r["summary"]["sweep/id"], id);
    EXPECT_EQ(r["summary"]["test/accuracy"], t["metric"]);
  }
  EXPECT_EQ(points, (std::set<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(params.size(), 4u);
  EXPECT_EQ(agents.size(), 2u) << "both agents ran trials";
  ASSERT_TRUE(shown["best"].is_object());

  CliResult text = RunCli({"sweep", "show", id, "--store", store_}, Env());
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("4 trials"));
  EXPECT_THAT(text.out, HasSubstr("best so far: trial"));
  EXPECT_THAT(text.out, HasSubstr("Parameter importance"));
  EXPECT_THAT(text.out, HasSubstr("optimizer.learning_rate"));
}

TEST_F(SweepCliTest, AKilledAgentsTrialIsRunAgainAfterItsLease) {
  WriteBase(400);  // a few seconds of training: long enough to kill the agent in the middle
  const std::string id = Create(R"(method: grid
metric: {name: epoch/val_loss, goal: minimize}
parameters:
  optimizer.learning_rate: {values: [0.01, 0.003]}
)");
  {
    Background doomed({"agent", id, "--store", store_, "--lease", "3"}, dir_ + "/doomed.log",
                      Env());
    // Killed once its trial's run has started.
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    bool started = false;
    while (!started && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const json shown = Show(id);
      started = shown.is_object() && shown["trials"].size() == 1 &&
                !shown["trials"][0]["run"].get<std::string>().empty();
    }
    ASSERT_TRUE(started) << ReadFile(dir_ + "/doomed.log");
    doomed.Kill(SIGKILL);
  }
  CliResult rescuer =
      RunCli({"agent", id, "--store", store_, "--lease", "3", "--poll", "0.5"}, Env());
  ASSERT_EQ(rescuer.exit_code, 0) << rescuer.err << rescuer.out;
  EXPECT_THAT(rescuer.out, HasSubstr("(attempt 2)"));
  const json shown = Show(id);
  ASSERT_EQ(shown["trials"].size(), 2u) << shown.dump(2);
  const json& first = shown["trials"][0];
  EXPECT_EQ(first["state"], "finished") << first.dump();
  EXPECT_EQ(first["attempts"], 2);
  EXPECT_EQ(first["grid_index"], 0);
  EXPECT_EQ(shown["trials"][1]["state"], "finished");
  EXPECT_EQ(shown["state"], "finished");
}

TEST_F(SweepCliTest, HyperbandStopsTrialsThatAreBehindAndTheirRunsSayWhy) {
  WriteBase(6);
  // The first trial sets the bar at epoch 1; the far smaller learning rates are behind it there.
  const std::string id = Create(R"(method: grid
metric: {name: epoch/val_loss, goal: minimize}
early_terminate: {type: hyperband, min_iter: 1, eta: 3, s: 2}
parameters:
  optimizer.learning_rate: {values: [0.01, 0.00001, 0.000001]}
)");
  CliResult agent = RunCli({"agent", id, "--store", store_}, Env());
  ASSERT_EQ(agent.exit_code, 0) << agent.err << agent.out;
  const json shown = Show(id);
  ASSERT_EQ(shown["trials"].size(), 3u) << shown.dump(2);
  EXPECT_EQ(shown["trials"][0]["state"], "finished");
  int stopped = 0;
  for (size_t i = 1; i < 3; ++i) {
    const json& t = shown["trials"][i];
    if (t["state"] != "stopped") continue;
    ++stopped;
    EXPECT_THAT(t["reason"].get<std::string>(), HasSubstr("hyperband: epoch/val_loss"));
    CliResult run = RunCli({"runs", "show", t["run"].get<std::string>(), "--json", "--store",
                            store_}, Env());
    const json r = json::parse(run.out);
    EXPECT_EQ(r["state"], "finished");
    EXPECT_THAT(r["summary"]["sweep/stopped"].get<std::string>(), HasSubstr("hyperband"));
    EXPECT_LT(r["summary"]["epoch"].get<int>(), 6) << "stopped before its last epoch";
  }
  EXPECT_EQ(stopped, 2) << shown.dump(2);
}

TEST_F(SweepCliTest, PauseResumeAndStop) {
  const std::string id = Create(kGrid);
  auto state = [&] { return Show(id)["state"].get<std::string>(); };
  ASSERT_EQ(RunCli({"sweep", "pause", id, "--store", store_}, Env()).exit_code, 0);
  EXPECT_EQ(state(), "paused");
  {
    Background waiting({"agent", id, "--store", store_, "--poll", "0.2"}, dir_ + "/agent.log",
                       Env());
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    EXPECT_THAT(ReadFile(dir_ + "/agent.log"), HasSubstr("is paused"));
    EXPECT_EQ(Show(id)["trials"].size(), 0u) << "a paused sweep hands out nothing";
    ASSERT_EQ(RunCli({"sweep", "stop", id, "--store", store_}, Env()).exit_code, 0);
    EXPECT_EQ(waiting.Wait(), 0);
    EXPECT_THAT(ReadFile(dir_ + "/agent.log"), HasSubstr("is stopped"));
  }
  CliResult resume = RunCli({"sweep", "resume", id, "--store", store_}, Env());
  EXPECT_NE(resume.exit_code, 0);
  EXPECT_THAT(resume.err, HasSubstr("is stopped; it cannot become running"));
  const std::string other = Create(kGrid);
  ASSERT_EQ(RunCli({"sweep", "pause", other, "--store", store_}, Env()).exit_code, 0);
  ASSERT_EQ(RunCli({"sweep", "resume", other, "--store", store_}, Env()).exit_code, 0);
  EXPECT_EQ(Show(other)["state"], "running");
  CliResult listed = RunCli({"sweep", "list", "--store", store_}, Env());
  EXPECT_THAT(listed.out, HasSubstr(id));
  EXPECT_THAT(listed.out, HasSubstr(other));
}

TEST_F(SweepCliTest, MistakesInASweepFileNameTheLineAndField) {
  const std::string file = dir_ + "/bad.yaml";
  struct Case {
    std::string yaml;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"method: grid\nparameters:\n  optimizer.learning_rate:\n    min: 0.1\n    max: 0.5\n",
       ":3: parameters.optimizer.learning_rate: a grid needs values"},
      {"method: random\nparameters:\n  optimizer.learning_rate:\n    distribution: "
       "log_uniform_values\n    min: 0.5\n    max: 0.1\n",
       ":6: parameters.optimizer.learning_rate.max: expected a number above min (0.5), got 0.1"},
      {"method: random\nparamters:\n  a: {values: [1]}\n", ":2: paramters: unknown key"},
      {"method: bayes\nparameters:\n  optimizer.learning_rate: {values: [0.1]}\n",
       "method: bayes needs a metric"},
      {"method: random\nmetric: {name: test/accuracy, goal: up}\nparameters:\n  x: {values: [1]}\n",
       ":2: metric.goal: expected one of minimize, maximize"},
      {"method: random\nparameters:\n  optimizer.learning_rate:\n    distribution: normal\n"
       "    mu: 0\n    sigma: 1\n    values: [1, 2]\n",
       ":7: parameters.optimizer.learning_rate.values: not used by distribution normal"},
      {"method: random\nparameters:\n  optimizer.learning_rate:\n    values: [0.1]\n"
       "    probabilities: [1]\n    bogus: 1\n",
       ":6: parameters.optimizer.learning_rate.bogus: unknown key"},
      {"method: random\nmetric: {name: test/accuracy}\nearly_terminate: {type: hyperband, "
       "min_iter: 1}\nparameters:\n  optimizer.learning_rate: {values: [0.1]}\n",
       "early_terminate judges trials by a metric logged every epoch"},
      {"method: random\nparameters:\n  optimizer.no_such_field: {values: [1]}\n",
       "parameters: the base config does not take them"},
  };
  for (const Case& c : cases) {
    WriteFile(file, c.yaml);
    CliResult r =
        RunCli({"sweep", "create", file, "--config", config_, "--store", store_}, Env());
    EXPECT_NE(r.exit_code, 0) << c.yaml;
    EXPECT_THAT(r.err, HasSubstr(c.expected)) << c.yaml;
    EXPECT_EQ(r.out, "") << c.yaml;
  }
  CliResult missing = RunCli({"agent", "zzzzzzzz", "--store", store_}, Env());
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_THAT(missing.err, HasSubstr("no sweep 'zzzzzzzz'"));
}

TEST_F(SweepCliTest, TheExampleSweepFitsTheExampleConfig) {
  CliResult r = RunCli({"sweep", "create", LABBOOK_SOURCE_DIR "/examples/sweep.yaml", "--config",
                        LABBOOK_SOURCE_DIR "/examples/keras-cnn.yaml", "--store", store_},
                       Env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string id = r.out.substr(0, 8);
  const json shown = Show(id);
  EXPECT_EQ(shown["spec"]["method"], "bayes");
  EXPECT_EQ(shown["project"], "keras-cnn");
  EXPECT_EQ(shown["entity"], "tester");
  EXPECT_EQ(shown["base_name"], "keras-cnn.yaml");
  CliResult text = RunCli({"sweep", "show", id, "--store", store_}, Env());
  EXPECT_THAT(text.out, HasSubstr("hyperband at epochs 1 3 9"));
  EXPECT_THAT(text.out, HasSubstr("no trials yet: labbook agent " + id));
}

// Agents on two "hosts" share a sweep through the team server.
TEST_F(SweepCliTest, AgentsThroughTheServerCoverTheGridOnce) {
  const std::string data = dir_ + "/server";
  Background server({"serve", "--port", "0", "--data", data, "--init-admin"},
                    dir_ + "/server.log");
  std::string key, base;
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while ((key.empty() || base.empty()) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::string log = ReadFile(dir_ + "/server.log");
    const size_t k = log.find("lb-");
    if (k != std::string::npos && log.find('\n', k) != std::string::npos) {
      key = log.substr(k, log.find('\n', k) - k);
    }
    const size_t at = log.find("listening on http://");
    if (at != std::string::npos) {
      const size_t begin = at + std::string("listening on ").size();
      const size_t end = log.find_first_of(" \n", begin);
      if (end != std::string::npos) base = log.substr(begin, end - begin);
    }
  }
  ASSERT_FALSE(key.empty()) << ReadFile(dir_ + "/server.log");
  ASSERT_FALSE(base.empty()) << ReadFile(dir_ + "/server.log");
  const std::vector<std::string> env = {"LABBOOK_API_KEY=" + key, "LABBOOK_ENTITY=admin",
                                        "LABBOOK_OFFLINE_STORE=sqlite://" + dir_ + "/offline.db",
                                        "HOME=" + dir_};
  const std::string sweep_file = dir_ + "/grid.yaml";
  WriteFile(sweep_file, kGrid);
  CliResult created = RunCli({"sweep", "create", sweep_file, "--config", config_, "--store", base,
                              "--project", "remote"},
                             env);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string id = created.out.substr(0, 8);
  CliResult a, b;
  std::thread first([&] { a = RunCli({"agent", id, "--store", base, "--poll", "0.2"}, env); });
  std::thread second([&] { b = RunCli({"agent", id, "--store", base, "--poll", "0.2"}, env); });
  first.join();
  second.join();
  ASSERT_EQ(a.exit_code, 0) << a.err << a.out;
  ASSERT_EQ(b.exit_code, 0) << b.err << b.out;
  CliResult shown = RunCli({"sweep", "show", id, "--json", "--store", base}, env);
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const json s = json::parse(shown.out);
  ASSERT_EQ(s["trials"].size(), 4u) << s.dump(2);
  std::set<int64_t> points;
  for (const json& t : s["trials"]) {
    EXPECT_EQ(t["state"], "finished") << t.dump();
    EXPECT_TRUE(t["metric"].is_number()) << "read back from the run on the server: " << t.dump();
    EXPECT_FALSE(t["run"].get<std::string>().empty()) << t.dump();
    points.insert(t["grid_index"].get<int64_t>());
  }
  EXPECT_EQ(points, (std::set<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(s["state"], "finished");
  // The key never shows in what the commands print.
  for (const CliResult* r : {&created, &a, &b, &shown}) {
    EXPECT_EQ(r->out.find(key), std::string::npos);
    EXPECT_EQ(r->err.find(key), std::string::npos);
  }
}

}  // namespace
}  // namespace labbook::testing
