// The official npm client (@wandb/sdk, pinned in package.json) logs a run to the ingest end to
// end: tests/server_wandb/wandb_sdk_client.mjs runs under node against the server on a loopback
// port, and the run, its config, history and summary must be in the store afterwards. The
// package comes from `npm ci` (scripts/install-deps); nothing is fetched here.
#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>

#include <array>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "track/store.hpp"
#include "wandb_test_util.hpp"

namespace labbook::server {
namespace {

using nlohmann::json;

const std::filesystem::path kSourceDir = LABBOOK_SOURCE_DIR;

struct Command {
  int status = -1;
  std::string output;
};

// Runs `command` through the shell in the source directory, stdout and stderr together.
Command RunInSourceDir(const std::string& command) {
  Command result;
  const std::string line = "cd '" + kSourceDir.string() + "' && " + command + " 2>&1";
  FILE* pipe = popen(line.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.output.append(buffer.data(), n);
  result.status = pclose(pipe);
  return result;
}

using WandbSdkTest = WandbServerTest;

TEST_F(WandbSdkTest, NpmClientInitLogFinishLandsInTheStore) {
  if (!std::filesystem::exists(kSourceDir / "node_modules" / "@wandb" / "sdk" / "package.json")) {
    GTEST_SKIP() << "node_modules/@wandb/sdk is absent, so the npm client cannot be tested end to "
                    "end; scripts/install-deps installs it (npm ci)";
  }
  const std::string key = CreateUser("alice");
  // The client's settings come from the environment only; the key never goes on a command line.
  setenv("WANDB_BASE_URL", base_url().c_str(), 1);
  setenv("WANDB_API_KEY", key.c_str(), 1);
  setenv("LABBOOK_WANDB_PROJECT", "sdk-e2e", 1);
  setenv("HOME", dir_.c_str(), 1);  // no ~/.netrc of the user's
  unsetenv("WANDB_MODE");
  unsetenv("WANDB_ENTITY");

  // The client retries failed requests for minutes; a bounded run fails instead of hanging.
  const Command node = RunInSourceDir("timeout 120 node tests/server_wandb/wandb_sdk_client.mjs");
  ASSERT_EQ(node.status, 0) << node.output;
  EXPECT_EQ(node.output.find(key), std::string::npos);
  // The client reports failed requests on the console and carries on; none may fail.
  EXPECT_EQ(node.output.find("rror"), std::string::npos) << node.output;
  const std::string last_line =
      node.output.substr(node.output.find_last_of('\n', node.output.size() - 2) + 1);
  const json printed = json::parse(last_line, nullptr, false);
  ASSERT_TRUE(printed.is_object()) << node.output;
  const std::string id = printed.value("id", "");
  EXPECT_EQ(printed["entity"], "alice") << node.output;

  // The client's run id is 8 characters of [0-9a-z], so it is the labbook run's id.
  Result<track::RunInfo> run = store().GetRun(id);
  ASSERT_TRUE(run.ok()) << run.status().ToString() << "\n" << node.output;
  EXPECT_EQ(run->entity, "alice");
  EXPECT_EQ(run->project, "sdk-e2e");
  EXPECT_EQ(run->name, "sdk end to end");
  EXPECT_EQ(run->state, track::RunState::kFinished) << node.output;
  EXPECT_EQ(run->exit_code, 0);
  EXPECT_EQ(run->config, json({{"lr", 0.01}, {"layers", 2}, {"optimizer", "adam"}}));
  EXPECT_DOUBLE_EQ(run->summary.value("loss", 0.0), 0.2);
  EXPECT_DOUBLE_EQ(run->summary.value("accuracy", 0.0), 0.8);

  Result<track::Series> loss = store().ReadHistory(id, "loss", {});
  ASSERT_TRUE(loss.ok()) << loss.status().ToString();
  EXPECT_EQ(loss->steps, (std::vector<int64_t>{0, 1, 2, 3, 4}));
  ASSERT_EQ(loss->values.size(), 5u);
  for (int step = 0; step < 5; ++step) {
    EXPECT_DOUBLE_EQ(loss->values[step], 1.0 / (step + 1));
    EXPECT_GT(loss->wall_times[step], 1.6e9);  // the client's _timestamp
  }
  Result<std::vector<track::KeyInfo>> keys = store().HistoryKeys(id);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->size(), 2u);  // loss and accuracy; _step, _runtime, _timestamp are W&B's
}

}  // namespace
}  // namespace labbook::server
