// Reading file_stream bodies and their lines (history, system metrics, summary, console), the
// console's line replacement on disk, and the upload tokens of CreateRunFiles.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "server/wandb/file_stream.hpp"
#include "server/wandb/history_lines.hpp"
#include "server/wandb/run_state.hpp"
#include "server/wandb/upload_token.hpp"

namespace labbook::server::wandb {
namespace {

using nlohmann::json;

TEST(WandbJson, NonFiniteTokensBecomeWireStrings) {
  Result<json> parsed =
      ParseWandbJson(R"({"a": NaN, "b": -Infinity, "c": [Infinity], "d": "NaN inside"})", "x");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ((*parsed)["a"], "NaN");
  EXPECT_EQ((*parsed)["b"], "-Infinity");
  EXPECT_EQ((*parsed)["c"][0], "Infinity");
  EXPECT_EQ((*parsed)["d"], "NaN inside");
}

TEST(WandbJson, MalformedNamesThePlace) {
  Result<json> parsed = ParseWandbJson("{\"a\": 1,", "line 4");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find("line 4"), std::string::npos);
}

TEST(HistoryLineParse, StepTimestampAndNumbers) {
  Result<HistoryLine> line = ParseHistoryLine(
      R"({"loss": 0.5, "acc": 1, "ok": true, "_step": 3, "_timestamp": 1700000000.25,
          "_runtime": 4.5, "note": "text", "img": {"_type": "image-file", "path": "a.png"},
          "val": {"acc": 0.75, "deep": {"x": 2}}, "bad": NaN, "list": [1, 2]})",
      0, LineKind::kHistory);
  ASSERT_TRUE(line.ok()) << line.status().ToString();
  EXPECT_EQ(line->step, 3);
  EXPECT_DOUBLE_EQ(line->wall_time, 1700000000.25);
  std::map<std::string, double> values(line->values.begin(), line->values.end());
  EXPECT_EQ(values.size(), 6u);
  EXPECT_DOUBLE_EQ(values["loss"], 0.5);
  EXPECT_DOUBLE_EQ(values["acc"], 1.0);
  EXPECT_DOUBLE_EQ(values["ok"], 1.0);
  EXPECT_DOUBLE_EQ(values["val/acc"], 0.75);
  EXPECT_DOUBLE_EQ(values["val/deep/x"], 2.0);
  EXPECT_TRUE(std::isnan(values["bad"]));
}

TEST(HistoryLineParse, WithoutStepOrTimestamp) {
  Result<HistoryLine> line = ParseHistoryLine(R"({"x": 1})", 9, LineKind::kHistory);
  ASSERT_TRUE(line.ok());
  EXPECT_FALSE(line->step.has_value());
  EXPECT_EQ(line->wall_time, 0);
}

TEST(HistoryLineParse, SystemMetricsGoUnderSystem) {
  Result<HistoryLine> line = ParseHistoryLine(
      R"({"system.cpu": 12.5, "system.gpu.0.temp": 60, "memory": 40, "_wandb": true,
          "_timestamp": 1700000001})",
      2, LineKind::kSystemMetrics);
  ASSERT_TRUE(line.ok()) << line.status().ToString();
  std::map<std::string, double> values(line->values.begin(), line->values.end());
  EXPECT_EQ(values.size(), 3u);
  EXPECT_DOUBLE_EQ(values["system/cpu"], 12.5);
  EXPECT_DOUBLE_EQ(values["system/gpu.0.temp"], 60);
  EXPECT_DOUBLE_EQ(values["system/memory"], 40);
}

TEST(HistoryLineParse, RefusesWhatIsNotALine) {
  for (const char* text : {"[1, 2]", "{\"_step\": 1.5}", "{\"_step\": \"3\"}", "not json"}) {
    Result<HistoryLine> line = ParseHistoryLine(text, 7, LineKind::kHistory);
    ASSERT_FALSE(line.ok()) << text;
    EXPECT_NE(line.status().message().find("line 7"), std::string::npos) << text;
  }
}

TEST(FileStreamParse, EveryFileAndTheEnd) {
  const json body = json::parse(R"({
    "files": {
      "wandb-history.jsonl": {"offset": 2, "content": ["{\"a\": 1}", "{\"a\": 2}"]},
      "wandb-events.jsonl": {"offset": 0, "content": ["{\"system.cpu\": 3}"]},
      "output.log": {"offset": 5, "content": ["line five"]},
      "wandb-summary.json": {"offset": 0, "content": ["{\"a\": 1}", "{\"a\": 2, \"_step\": 3}"]},
      "wandb-metadata.json": {"offset": 0, "content": ["{}"]}
    },
    "complete": true, "exitcode": 3, "preempting": false})");
  Result<FileStreamRequest> request = ParseFileStreamRequest(body, "POST /files/e/p/r");
  ASSERT_TRUE(request.ok()) << request.status().ToString();
  ASSERT_TRUE(request->history.has_value());
  EXPECT_EQ(request->history->offset, 2);
  EXPECT_EQ(request->history->content.size(), 2u);
  ASSERT_TRUE(request->events.has_value());
  EXPECT_EQ(request->events->content[0], "{\"system.cpu\": 3}");
  ASSERT_TRUE(request->output.has_value());
  EXPECT_EQ(request->output->offset, 5);
  ASSERT_TRUE(request->summary.has_value());
  EXPECT_EQ((*request->summary)["a"], 2);  // the last line is the newest
  EXPECT_TRUE(request->complete);
  EXPECT_EQ(request->exit_code, 3);
}

TEST(FileStreamParse, AnEmptyBodyIsAHeartbeat) {
  Result<FileStreamRequest> request = ParseFileStreamRequest(json::object(), "here");
  ASSERT_TRUE(request.ok());
  EXPECT_FALSE(request->history || request->events || request->output || request->summary);
  EXPECT_FALSE(request->complete);
  EXPECT_FALSE(request->exit_code.has_value());
}

TEST(FileStreamParse, ErrorsNameTheMember) {
  const std::pair<const char*, const char*> cases[] = {
      {R"([])", "must be a JSON object"},
      {R"({"files": []})", "\"files\" must be an object"},
      {R"({"files": {"wandb-history.jsonl": {"offset": -1, "content": []}}})", ".offset"},
      {R"({"files": {"wandb-history.jsonl": {"offset": 0}}})", ".content must be"},
      {R"({"files": {"output.log": {"offset": 0, "content": [1]}}})", ".content[0]"},
      {R"({"files": {"wandb-summary.json": {"content": ["[1]"]}}})", "wandb-summary.json"},
      {R"({"complete": "yes"})", "\"complete\""},
      {R"({"exitcode": 1.5})", "\"exitcode\""},
  };
  for (const auto& [text, expected] : cases) {
    Result<FileStreamRequest> request = ParseFileStreamRequest(json::parse(text), "POST /x");
    ASSERT_FALSE(request.ok()) << text;
    EXPECT_EQ(request.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(request.status().message().find(expected), std::string::npos)
        << text << " -> " << request.status().message();
    EXPECT_EQ(request.status().message().rfind("POST /x", 0), 0u) << request.status().message();
  }
}

TEST(SummaryPatchTest, DroppedKeysAreRemovedAndWandbKeysLeftOut) {
  const json previous = {{"loss", 1.0}, {"old", 2}, {"_step", 4}};
  const json current = {{"loss", 0.5}, {"acc", 0.9}, {"_runtime", 3}, {"_wandb", {{"x", 1}}}};
  EXPECT_EQ(SummaryPatch(previous, current), json({{"loss", 0.5}, {"acc", 0.9}, {"old", nullptr}}));
  EXPECT_EQ(SummaryPatch(json::object(), current), json({{"loss", 0.5}, {"acc", 0.9}}));
}

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "labbook-wandb-unit-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  static std::string Read(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  std::filesystem::path dir_;
};

using OutputLogTest = TempDirTest;

TEST_F(OutputLogTest, LinesAreReplacedByIndexNotAppended) {
  WandbRunStates states(dir_);
  Result<int64_t> count = states.ReplaceOutputLines("abc12345", 0, {"epoch 1", "progress 10%"});
  ASSERT_TRUE(count.ok()) << count.status().ToString();
  EXPECT_EQ(*count, 2);
  // A progress bar rewrites its line; a resent chunk rewrites the same lines.
  count = states.ReplaceOutputLines("abc12345", 1, {"progress 100%", "epoch 2"});
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 3);
  count = states.ReplaceOutputLines("abc12345", 1, {"progress 100%", "epoch 2"});
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 3);
  EXPECT_EQ(Read(states.OutputLog("abc12345")), "epoch 1\nprogress 100%\nepoch 2\n");
  // A gap is kept as empty lines, so that later indexes keep their meaning.
  count = states.ReplaceOutputLines("abc12345", 4, {"after\ra gap"});
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 5);
  EXPECT_EQ(Read(states.OutputLog("abc12345")), "epoch 1\nprogress 100%\nepoch 2\n\nafter a gap\n");
}

using RunStateTest = TempDirTest;

TEST_F(RunStateTest, SavedStateIsFoundByItsWandbName) {
  WandbRunStates states(dir_);
  WandbRunState state;
  state.run_id = "r0000001";
  state.entity = "alice";
  state.project = "mnist";
  state.name = "a long W&B run id";
  state.history_lines = 12;
  state.history_tail = "{\"_step\": 11}";
  state.config = {{"lr", 0.1}};
  ASSERT_TRUE(states.Save(state).ok());
  Result<std::optional<WandbRunState>> found = states.Find("alice", "mnist", "a long W&B run id");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->run_id, "r0000001");
  EXPECT_EQ((*found)->history_lines, 12);
  EXPECT_EQ((*found)->history_tail, "{\"_step\": 11}");
  EXPECT_EQ((*found)->config, json({{"lr", 0.1}}));
  // Names are per project.
  found = states.Find("alice", "other", "a long W&B run id");
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
}

using UploadTokenTest = TempDirTest;

TEST_F(UploadTokenTest, SignedForOneResourceUntilItsExpiry) {
  Result<UploadTokenSigner> signer = UploadTokenSigner::Open(dir_ / "wandb" / "upload-secret");
  ASSERT_TRUE(signer.ok()) << signer.status().ToString();
  EXPECT_EQ(std::filesystem::file_size(dir_ / "wandb" / "upload-secret"), 32u);
  EXPECT_EQ(std::filesystem::status(dir_ / "wandb" / "upload-secret").permissions() &
                std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const std::string token = signer->Sign("r0000001/config.yaml", 1000);
  EXPECT_TRUE(signer->Verify("r0000001/config.yaml", token, 999).ok());
  EXPECT_TRUE(signer->Verify("r0000001/config.yaml", token, 1000).ok());
  const Status expired = signer->Verify("r0000001/config.yaml", token, 1001);
  EXPECT_EQ(expired.code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(signer->Verify("r0000002/config.yaml", token, 999).code(),
            ErrorCode::kPermissionDenied);
  // A stretched expiry breaks the signature.
  std::string stretched = token;
  stretched.replace(0, 4, "9999");
  EXPECT_EQ(signer->Verify("r0000001/config.yaml", stretched, 999).code(),
            ErrorCode::kPermissionDenied);
  for (const Status& status : {expired, signer->Verify("r0000001/config.yaml", "garbage", 1)}) {
    EXPECT_EQ(status.message().find(token.substr(5)), std::string::npos);
  }
  // The same secret after a restart: tokens handed out before stay valid.
  Result<UploadTokenSigner> reopened = UploadTokenSigner::Open(dir_ / "wandb" / "upload-secret");
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE(reopened->Verify("r0000001/config.yaml", token, 999).ok());
}

}  // namespace
}  // namespace labbook::server::wandb
