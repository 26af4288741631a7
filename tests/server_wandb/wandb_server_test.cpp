// The W&B ingest of a real server on a loopback port, over HTTP, as the W&B clients use it: the
// documents the npm and Python clients send (without operation names), file_stream's offsets,
// console replacement and completion, and the access rules of the REST API.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "track/store.hpp"
#include "wandb_test_util.hpp"

namespace labbook::server {
namespace {

using nlohmann::json;

class WandbIngestTest : public WandbServerTest {
 protected:
  void SetUp() override {
    WandbServerTest::SetUp();
    alice_ = CreateUser("alice");
  }

  track::RunInfo StoredRun(const std::string& id) {
    Result<track::RunInfo> run = store().GetRun(id);
    EXPECT_TRUE(run.ok()) << run.status().ToString();
    return run.ok() ? *run : track::RunInfo{};
  }

  track::Series History(const std::string& id, const std::string& key) {
    Result<track::Series> series = store().ReadHistory(id, key, {});
    EXPECT_TRUE(series.ok()) << series.status().ToString();
    return series.ok() ? *series : track::Series{};
  }

  std::string alice_;
};

TEST_F(WandbIngestTest, ViewerNamesTheKeysUserAndTeams) {
  ASSERT_TRUE(auth().CreateTeam("vision", "alice").ok());
  const json data = GraphQlData(
      "query Viewer { viewer { id entity username flags teams { edges { node { name } } } } }",
      json::object(), alice_);
  EXPECT_EQ(data["viewer"]["entity"], "alice");
  EXPECT_EQ(data["viewer"]["username"], "alice");
  EXPECT_TRUE(data["viewer"]["id"].is_string());
  EXPECT_EQ(data["viewer"]["teams"]["edges"], json::parse(R"([{"node": {"name": "vision"}}])"));
  // Exactly the fields asked for.
  EXPECT_EQ(data["viewer"].size(), 5u);
  // Without a key there is no viewer.
  EXPECT_TRUE(GraphQlData("{ viewer { entity } }", json::object(), "")["viewer"].is_null());
}

TEST_F(WandbIngestTest, WrongKeyIs401EverywhereAndNotRepeated) {
  const std::string wrong = "lb-0123456789012345678901234567890123456789";
  for (const Reply& reply : {GraphQl("{ viewer { entity } }", json::object(), wrong),
                             FileStream("alice", "p", "abcdefgh", json::object(), wrong)}) {
    EXPECT_EQ(reply.status, 401) << reply.raw;
    EXPECT_EQ(reply.raw.find(wrong), std::string::npos);
  }
}

TEST_F(WandbIngestTest, UpsertBucketCreatesTheRunWithUnwrappedConfig) {
  // The Python client wraps config values, the npm client does not; both unwrap to the value.
  const json config = {{"lr", {{"value", 0.01}, {"desc", nullptr}}},
                       {"layers", {{"value", 3}}},
                       {"optimizer", "adam"},
                       {"_wandb", {{"value", {{"cli_version", "0.18.0"}}}}}};
  const json answer = Upsert({{"name", "r7k2m9x1"},
                              {"project", "mnist"},
                              {"entity", "alice"},
                              {"displayName", "brisk-fog-3"},
                              {"tags", {"baseline"}},
                              {"config", config.dump()}},
                             alice_);
  EXPECT_EQ(answer["inserted"], true);
  const json& bucket = answer["bucket"];
  EXPECT_EQ(bucket["name"], "r7k2m9x1");
  EXPECT_EQ(bucket["displayName"], "brisk-fog-3");
  EXPECT_EQ(bucket["historyLineCount"], 0);
  EXPECT_EQ(bucket["project"]["name"], "mnist");
  EXPECT_EQ(bucket["project"]["entity"]["name"], "alice");
  // The config goes back as W&B clients read it: wrapped, as a JSON string.
  EXPECT_EQ(json::parse(bucket["config"].get<std::string>())["lr"]["value"], 0.01);

  // The W&B run id fits labbook's ids, so it is the labbook run's id.
  const track::RunInfo run = StoredRun("r7k2m9x1");
  EXPECT_EQ(run.entity, "alice");
  EXPECT_EQ(run.project, "mnist");
  EXPECT_EQ(run.name, "brisk-fog-3");
  EXPECT_EQ(run.state, track::RunState::kRunning);
  EXPECT_EQ(run.tags, std::vector<std::string>{"baseline"});
  EXPECT_EQ(run.config, json({{"lr", 0.01}, {"layers", 3}, {"optimizer", "adam"}}));
}

TEST_F(WandbIngestTest, UpsertBucketWithoutEntityOrProjectUsesTheViewerAndUncategorized) {
  const json answer = Upsert({{"name", "q1w2e3r4"}}, alice_);
  EXPECT_EQ(answer["bucket"]["project"]["name"], "uncategorized");
  EXPECT_EQ(answer["bucket"]["project"]["entity"]["name"], "alice");
  EXPECT_EQ(StoredRun("q1w2e3r4").name, "q1w2e3r4");  // no display name: the W&B id
}

TEST_F(WandbIngestTest, ANameThatIsNoLabbookIdGetsAFreshIdAndKeepsItsName) {
  const json answer =
      Upsert({{"name", "Long_Run-Name.2"}, {"project", "mnist"}, {"entity", "alice"}}, alice_);
  EXPECT_EQ(answer["inserted"], true);
  EXPECT_EQ(answer["bucket"]["name"], "Long_Run-Name.2");
  Result<std::vector<track::RunInfo>> runs = store().ListRuns({"alice", "mnist"});
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].id.size(), 8u);
  EXPECT_EQ((*runs)[0].name, "Long_Run-Name.2");
  // The W&B name addresses it in file_stream.
  Reply reply = FileStream(
      "alice", "mnist", "Long_Run-Name.2",
      {{"files", {{"wandb-history.jsonl", Lines(0, {{{"x", 1}, {"_step", 0}}})}}}}, alice_);
  EXPECT_EQ(reply.status, 200) << reply.raw;
  EXPECT_EQ(History((*runs)[0].id, "x").values, std::vector<double>{1});
}

TEST_F(WandbIngestTest, ResumeByRunIdReportsTheHistoryLineCount) {
  Upsert({{"name", "res00001"}, {"project", "mnist"}, {"entity", "alice"}}, alice_);
  Reply reply =
      FileStream("alice", "mnist", "res00001",
                 {{"files",
                   {{"wandb-history.jsonl",
                     Lines(0, {{{"loss", 1.0}, {"_step", 0}}, {{"loss", 0.5}, {"_step", 1}}})}}},
                  {"complete", true},
                  {"exitcode", 0}},
                 alice_);
  ASSERT_EQ(reply.status, 200) << reply.raw;
  EXPECT_EQ(StoredRun("res00001").state, track::RunState::kFinished);

  // The same W&B id again, as `wandb.init(id=..., resume="allow")` sends it.
  const json answer =
      Upsert({{"name", "res00001"}, {"project", "mnist"}, {"entity", "alice"}}, alice_);
  EXPECT_EQ(answer["inserted"], false);
  EXPECT_EQ(answer["bucket"]["historyLineCount"], 2);
  EXPECT_EQ(StoredRun("res00001").state, track::RunState::kRunning);
  // By the storage id the first upsert returned, without the name.
  const json by_id = Upsert({{"id", answer["bucket"]["id"]}}, alice_);
  EXPECT_EQ(by_id["inserted"], false);
  EXPECT_EQ(by_id["bucket"]["name"], "res00001");

  reply = FileStream(
      "alice", "mnist", "res00001",
      {{"files", {{"wandb-history.jsonl", Lines(2, {{{"loss", 0.25}, {"_step", 2}}})}}}}, alice_);
  ASSERT_EQ(reply.status, 200) << reply.raw;
  EXPECT_EQ(History("res00001", "loss").values, (std::vector<double>{1.0, 0.5, 0.25}));
  Result<std::vector<track::RunInfo>> runs = store().ListRuns({"alice", "mnist"});
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->size(), 1u);
}

TEST_F(WandbIngestTest, HistoryOffsetsNeverDuplicatePoints) {
  Upsert({{"name", "hist0001"}, {"project", "mnist"}, {"entity", "alice"}}, alice_);
  const json chunk = {
      {"files",
       {{"wandb-history.jsonl",
         Lines(0, {{{"loss", 2.0}, {"_step", 0}, {"_timestamp", 1700000000.5}, {"_runtime", 1}},
                   {{"loss", 1.0}, {"acc", 0.5}, {"_step", 1}, {"_timestamp", 1700000001.5}}})}}}};
  ASSERT_EQ(FileStream("alice", "mnist", "hist0001", chunk, alice_).status, 200);
  // The answer was lost; the client sends the same chunk again.
  ASSERT_EQ(FileStream("alice", "mnist", "hist0001", chunk, alice_).status, 200);
  track::Series loss = History("hist0001", "loss");
  EXPECT_EQ(loss.steps, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(loss.values, (std::vector<double>{2.0, 1.0}));
  EXPECT_EQ(loss.wall_times, (std::vector<double>{1700000000.5, 1700000001.5}));
  // A chunk overlapping what was received replaces the lines it sends again, as a file's lines
  // at those offsets.
  const json overlapping = {{"files",
                             {{"wandb-history.jsonl", Lines(1, {{{"loss", 99.0}, {"_step", 1}},
                                                                {{"loss", 0.5}, {"_step", 5}}})}}}};
  ASSERT_EQ(FileStream("alice", "mnist", "hist0001", overlapping, alice_).status, 200);
  loss = History("hist0001", "loss");
  EXPECT_EQ(loss.steps, (std::vector<int64_t>{0, 1, 5}));
  EXPECT_EQ(loss.values, (std::vector<double>{2.0, 99.0, 0.5}));
  Result<std::vector<track::KeyInfo>> keys = store().HistoryKeys("hist0001");
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 2u);  // acc and loss; W&B's own keys are not history
  for (const track::KeyInfo& key : *keys) {
    EXPECT_EQ(key.count, key.key == "loss" ? 3 : 1) << key.key;
  }
  EXPECT_EQ(
      Upsert({{"name", "hist0001"}, {"project", "mnist"}}, alice_)["bucket"]["historyLineCount"],
      3);
}

TEST_F(WandbIngestTest, ChunksSentAtOnceAndOutOfOrderAllLand) {
  Upsert({{"name", "conc0001"}, {"project", "mnist"}, {"entity", "alice"}}, alice_);
  constexpr int kChunks = 8;
  constexpr int kLinesPerChunk = 5;
  // Four clients at once (the HTTP library listens with a backlog of 5 connections), each
  // sending two chunks twice, later chunks first.
  constexpr int kSenders = 4;
  std::vector<std::thread> senders;
  std::atomic<int> failures{0};
  for (int sender = 0; sender < kSenders; ++sender) {
    senders.emplace_back([&, sender] {
      for (int round = 0; round < 2; ++round) {
        for (int chunk : {kChunks - 1 - sender, kSenders - 1 - sender}) {
          std::vector<json> lines;
          for (int i = 0; i < kLinesPerChunk; ++i) {
            const int step = chunk * kLinesPerChunk + i;
            lines.push_back({{"x", step * 0.5}, {"_step", step}});
          }
          const json body = {
              {"files", {{"wandb-history.jsonl", Lines(chunk * kLinesPerChunk, lines)}}}};
          if (FileStream("alice", "mnist", "conc0001", body, alice_).status != 200) ++failures;
        }
      }
    });
  }
  for (std::thread& sender : senders) sender.join();
  EXPECT_EQ(failures.load(), 0);
  const track::Series x = History("conc0001", "x");
  ASSERT_EQ(x.steps.size(), static_cast<size_t>(kChunks * kLinesPerChunk));
  for (size_t i = 0; i < x.steps.size(); ++i) {
    EXPECT_EQ(x.steps[i], static_cast<int64_t>(i));
    EXPECT_DOUBLE_EQ(x.values[i], i * 0.5);
  }
  EXPECT_EQ(
      Upsert({{"name", "conc0001"}, {"project", "mnist"}}, alice_)["bucket"]["historyLineCount"],
      kChunks * kLinesPerChunk);
}

TEST_F(WandbIngestTest, SummaryAndSystemMetricsLand) {
  Upsert({{"name", "summ0001"}, {"project", "mnist"}, {"entity", "alice"}}, alice_);
  Reply reply = FileStream(
      "alice", "mnist", "summ0001",
      {{"files",
        {{"wandb-summary.json",
          TextLines(0, {R"({"loss": 0.5, "best": 0.4, "_step": 3, "_runtime": 2.5})"})},
         {"wandb-events.jsonl",
          TextLines(0, {R"({"system.cpu": 12.5, "system.memory": 40, "_timestamp": 1700000002,
                            "_wandb": true})",
                        R"({"system.cpu": 20, "_timestamp": 1700000004})"})}}}},
      alice_);
  ASSERT_EQ(reply.status, 200) << reply.raw;
  EXPECT_EQ(StoredRun("summ0001").summary, json({{"loss", 0.5}, {"best", 0.4}}));
  track::Series cpu = History("summ0001", "system/cpu");
  EXPECT_EQ(cpu.values, (std::vector<double>{12.5, 20}));
  EXPECT_EQ(cpu.wall_times, (std::vector<double>{1700000002, 1700000004}));
  EXPECT_EQ(History("summ0001", "system/memory").values, std::vector<double>{40});

  // The next summary replaces the last: a key it dropped is gone; NaN survives as the wire's.
  reply =
      FileStream("alice", "mnist", "summ0001",
                 {{"files", {{"wandb-summary.json", TextLines(0, {R"({"loss": NaN})"})}}}}, alice_);
  ASSERT_EQ(reply.status, 200) << reply.raw;
  EXPECT_EQ(StoredRun("summ0001").summary, json({{"loss", "NaN"}}));
}

TEST_F(WandbIngestTest, OutputLogLinesAreReplacedByIndex) {
  Upsert({{"name", "outp0001"}, {"project", "mnist"}, {"entity", "alice"}}, alice_);
  ASSERT_EQ(
      FileStream("alice", "mnist", "outp0001",
                 {{"files", {{"output.log", TextLines(0, {"epoch 1", "progress 10%"})}}}}, alice_)
          .status,
      200);
  // A progress bar rewrites line 1.
  ASSERT_EQ(
      FileStream("alice", "mnist", "outp0001",
                 {{"files", {{"output.log", TextLines(1, {"progress 100%", "done"})}}}}, alice_)
          .status,
      200);
  const json resume = GraphQlData(
      R"(query RunResumeStatus($project: String, $entity: String, $name: String!) {
           model(name: $project, entityName: $entity) {
             bucket(name: $name, missingOk: true) { logLineCount } } })",
      {{"project", "mnist"}, {"entity", "alice"}, {"name", "outp0001"}}, alice_);
  EXPECT_EQ(resume["model"]["bucket"]["logLineCount"], 3);

  // At the end, the console is kept in the store with the run.
  ASSERT_EQ(FileStream("alice", "mnist", "outp0001", {{"complete", true}, {"exitcode", 0}}, alice_)
                .status,
            200);
  Result<track::RunArtifacts> artifacts = store().ArtifactsOfRun("outp0001");
  ASSERT_TRUE(artifacts.ok()) << artifacts.status().ToString();
  ASSERT_EQ(artifacts->produced.size(), 1u);
  const track::ArtifactVersion& console = artifacts->produced[0];
  EXPECT_EQ(console.type, "console");
  ASSERT_EQ(console.files.size(), 1u);
  const std::filesystem::path copy = dir_ / "output.log";
  ASSERT_TRUE(store().ReadArtifactFile(console.files[0], copy).ok());
  std::ifstream in(copy);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "epoch 1\nprogress 100%\ndone\n");
}

TEST_F(WandbIngestTest, CompleteWithExitcodeFinishesOrFailsTheRun) {
  for (const auto& [name, code, state] : {std::tuple{"done0001", 0, track::RunState::kFinished},
                                          std::tuple{"fail0001", 2, track::RunState::kFailed}}) {
    Upsert({{"name", name}, {"project", "mnist"}, {"entity", "alice"}}, alice_);
    Reply reply =
        FileStream("alice", "mnist", name, {{"complete", true}, {"exitcode", code}}, alice_);
    ASSERT_EQ(reply.status, 200) << reply.raw;
    EXPECT_TRUE(reply.body.contains("exitcode")) << reply.raw;
    const track::RunInfo run = StoredRun(name);
    EXPECT_EQ(run.state, state) << name;
    EXPECT_EQ(run.exit_code, code) << name;
    EXPECT_GT(run.end_time, 0) << name;
  }
}

TEST_F(WandbIngestTest, UnknownOperationsAreGraphQlErrors) {
  Reply reply = GraphQl("query Nope { launchAgent(id: 1) { id } }", json::object(), alice_);
  EXPECT_EQ(reply.status, 200) << reply.raw;
  ASSERT_TRUE(reply.body.contains("errors")) << reply.raw;
  ASSERT_TRUE(reply.body["errors"].is_array());
  EXPECT_NE(reply.body["errors"][0]["message"].get<std::string>().find("launchAgent"),
            std::string::npos);
  EXPECT_FALSE(reply.body.contains("data"));

  reply = GraphQl("mutation { deleteEverything { ok } }", json::object(), alice_);
  ASSERT_TRUE(reply.body.contains("errors")) << reply.raw;
  // A document with a known and an unknown mutation runs neither.
  reply = GraphQl(R"(mutation {
                       upsertBucket(input: {name: "half0001", modelName: "p"}) { inserted }
                       deleteEverything { ok } })",
                  json::object(), alice_);
  ASSERT_TRUE(reply.body.contains("errors")) << reply.raw;
  EXPECT_FALSE(store().GetRun("half0001").ok());

  // Documents that do not parse, and bodies that are no GraphQL request, answer the same shape.
  reply = GraphQl("query {", json::object(), alice_);
  ASSERT_TRUE(reply.body.contains("errors")) << reply.raw;
  EXPECT_NE(reply.body["errors"][0]["message"].get<std::string>().find("byte"), std::string::npos);
  reply = PostAs("/graphql", "not json", alice_);
  EXPECT_EQ(reply.status, 400) << reply.raw;
  ASSERT_TRUE(reply.body.contains("errors")) << reply.raw;
  reply = PostAs("/graphql", R"({"variables": {}})", alice_);
  EXPECT_EQ(reply.status, 400) << reply.raw;
  ASSERT_TRUE(reply.body.contains("errors")) << reply.raw;
}

TEST_F(WandbIngestTest, AnotherTeamsPrivateProjectIsNotVisible) {
  const std::string bob = CreateUser("bob");
  ASSERT_TRUE(auth().CreateTeam("vision", "bob").ok());
  Upsert({{"name", "priv0001"}, {"project", "secret"}, {"entity", "vision"}}, bob);
  ASSERT_TRUE(StoredRun("priv0001").project == "secret");

  // Alice cannot write there, read it, or learn that it exists.
  Reply reply = GraphQl(
      kUpsertBucket, {{"name", "mine0001"}, {"project", "secret"}, {"entity", "vision"}}, alice_);
  ASSERT_TRUE(reply.body.contains("errors")) << reply.raw;
  EXPECT_NE(reply.body["errors"][0]["message"].get<std::string>().find("not"), std::string::npos);
  EXPECT_TRUE(reply.body["data"]["upsertBucket"].is_null()) << reply.raw;
  EXPECT_FALSE(store().GetRun("mine0001").ok());

  const char* kResume =
      R"(query RunResumeStatus($project: String, $entity: String, $name: String!) {
      model(name: $project, entityName: $entity) { name bucket(name: $name) { name } } })";
  const json variables = {{"project", "secret"}, {"entity", "vision"}, {"name", "priv0001"}};
  EXPECT_TRUE(GraphQlData(kResume, variables, alice_)["model"].is_null());
  EXPECT_EQ(GraphQlData(kResume, variables, bob)["model"]["bucket"]["name"], "priv0001");

  reply = FileStream("vision", "secret", "priv0001",
                     {{"files", {{"wandb-history.jsonl", Lines(0, {{{"x", 1}}})}}}}, alice_);
  EXPECT_EQ(reply.status, 404) << reply.raw;
  EXPECT_EQ(store().HistoryKeys("priv0001")->size(), 0u);
  // A viewer of the team may read but not write: 403 on file_stream.
  ASSERT_TRUE(auth().SetMember("vision", "alice", Role::kViewer).ok());
  reply = FileStream("vision", "secret", "priv0001", json::object(), alice_);
  EXPECT_EQ(reply.status, 403) << reply.raw;
  // And without a key nothing is written anywhere.
  reply = FileStream("vision", "secret", "priv0001", json::object(), "");
  EXPECT_EQ(reply.status, 401) << reply.raw;
  reply = GraphQl(kUpsertBucket, {{"name", "anon0001"}, {"project", "p"}, {"entity", "alice"}}, "");
  EXPECT_EQ(reply.status, 401) << reply.raw;
}

TEST_F(WandbIngestTest, FileStreamOfARunNeverCreatedIs404) {
  Reply reply = FileStream("alice", "mnist", "nope0001", json::object(), alice_);
  EXPECT_EQ(reply.status, 404) << reply.raw;
}

// The documents of the Python client (wandb-core, 0.18 and later), sent as it sends them: the
// query text only, no operationName.
TEST_F(WandbIngestTest, PythonClientCapabilityProbes) {
  json data = GraphQlData(R"(
      query ProbeServerCapabilities {
        QueryType: __type(name: "Query") { ...fieldData }
        MutationType: __type(name: "Mutation") { ...fieldData }
        ServerInfoType: __type(name: "ServerInfo") { ...fieldData }
      }
      fragment fieldData on __Type { fields { name } })",
                          json::object(), alice_);
  auto names = [](const json& type) {
    std::vector<std::string> out;
    for (const json& field : type["fields"]) out.push_back(field["name"]);
    return out;
  };
  EXPECT_THAT(names(data["QueryType"]), ::testing::Contains("viewer"));
  EXPECT_THAT(names(data["MutationType"]), ::testing::Contains("upsertBucket"));
  EXPECT_THAT(names(data["MutationType"]), ::testing::Contains("createRunFiles"));
  EXPECT_THAT(names(data["ServerInfoType"]), ::testing::Contains("features"));
  // A type labbook does not have is null, as GraphQL answers for an unknown type.
  data = GraphQlData(R"(query TypeFields($typeName: String!) {
                          TypeInfo: __type(name: $typeName) { fields { name } } })",
                     {{"typeName", "ArtifactSequence"}}, alice_);
  EXPECT_TRUE(data["TypeInfo"].is_null());

  data = GraphQlData("query ServerFeaturesQuery { serverInfo { features { name isEnabled } } }",
                     json::object(), alice_);
  EXPECT_EQ(data["serverInfo"]["features"], json::array());
  data = GraphQlData(
      "query ServerInfo { serverInfo { cliVersionInfo latestLocalVersionInfo { outOfDate } } }",
      json::object(), alice_);
  EXPECT_TRUE(data["serverInfo"].contains("cliVersionInfo"));
}

TEST_F(WandbIngestTest, PythonClientResumeAndStopStatus) {
  const char* kResumeStatus = R"(
      query RunResumeStatus($project: String, $entity: String, $name: String!) {
        model(name: $project, entityName: $entity) {
          id name entity { id name }
          bucket(name: $name, missingOk: true) {
            id name summaryMetrics displayName logLineCount historyLineCount eventsLineCount
            historyTail eventsTail config tags wandbConfig(keys: ["t"]) runInfo { args }
          }
        }
      })";
  json data = GraphQlData(
      kResumeStatus, {{"project", "mnist"}, {"entity", "alice"}, {"name", "pyrn0001"}}, alice_);
  EXPECT_EQ(data["model"]["name"], "mnist");
  EXPECT_TRUE(data["model"]["bucket"].is_null());  // a new run

  Upsert({{"name", "pyrn0001"},
          {"project", "mnist"},
          {"entity", "alice"},
          {"config", json({{"lr", {{"value", 0.1}}}}).dump()}},
         alice_);
  ASSERT_EQ(FileStream("alice", "mnist", "pyrn0001",
                       {{"files",
                         {{"wandb-history.jsonl", Lines(0, {{{"loss", 1}, {"_step", 0}}})},
                          {"wandb-events.jsonl", Lines(0, {{{"system.cpu", 5}}})},
                          {"wandb-summary.json", Lines(0, {{{"loss", 1}, {"_step", 0}}})}}}},
                       alice_)
                .status,
            200);
  data = GraphQlData(kResumeStatus,
                     {{"project", "mnist"}, {"entity", "alice"}, {"name", "pyrn0001"}}, alice_);
  const json& bucket = data["model"]["bucket"];
  EXPECT_EQ(bucket["historyLineCount"], 1);
  EXPECT_EQ(bucket["eventsLineCount"], 1);
  EXPECT_EQ(bucket["logLineCount"], 0);
  EXPECT_EQ(json::parse(bucket["historyTail"].get<std::string>()).size(), 1u);
  EXPECT_EQ(json::parse(bucket["summaryMetrics"].get<std::string>())["_step"], 0);
  EXPECT_EQ(json::parse(bucket["config"].get<std::string>())["lr"]["value"], 0.1);
  EXPECT_FALSE(bucket["runInfo"].is_null());
  EXPECT_TRUE(bucket["wandbConfig"].is_string());

  data = GraphQlData(R"(
      query RunStoppedStatus($entityName: String, $projectName: String, $runId: String!) {
        project(name: $projectName, entityName: $entityName) { run(name: $runId) { stopped } }
      })",
                     {{"entityName", "alice"}, {"projectName", "mnist"}, {"runId", "pyrn0001"}},
                     alice_);
  EXPECT_EQ(data["project"]["run"]["stopped"], false);
}

TEST_F(WandbIngestTest, CreateRunFilesHandsOutUploadUrlsWithTheirOwnToken) {
  Upsert({{"name", "file0001"}, {"project", "mnist"}, {"entity", "alice"}}, alice_);
  const json data = GraphQlData(R"(
      mutation CreateRunFiles($entity: String!, $project: String!, $run: String!,
                              $files: [String!]!) {
        createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run,
                               files: $files}) {
          runID uploadHeaders files { name uploadUrl }
        }
      })",
                                {{"entity", "alice"},
                                 {"project", "mnist"},
                                 {"run", "file0001"},
                                 {"files", {"config.yaml", "media/a%41 b.txt"}}},
                                alice_);
  const json& files = data["createRunFiles"]["files"];
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0]["name"], "config.yaml");
  const std::string url = files[0]["uploadUrl"];
  const std::string base = base_url();
  ASSERT_EQ(url.rfind(base, 0), 0u) << url;
  EXPECT_EQ(url.find(alice_), std::string::npos);
  EXPECT_NE(url.find("token="), std::string::npos);

  // The PUT carries no API key: the URL's token is the proof.
  auto client = Client();
  auto put = client.Put(url.substr(base.size()), "lr: 0.1\n", "application/octet-stream");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 200) << put->body;
  std::ifstream in(dir_ / "data" / "wandb" / "runs" / "file0001" / "files" / "config.yaml");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "lr: 0.1\n");
  // Names with spaces and percent signs arrive as they were named.
  const std::string second = files[1]["uploadUrl"];
  put = client.Put(second.substr(base.size()), "x", "text/plain");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 200) << second;
  EXPECT_TRUE(std::filesystem::exists(dir_ / "data" / "wandb" / "runs" / "file0001" / "files" /
                                      "media" / "a%41 b.txt"));

  // A token is for its own file only, and is never written to the access log.
  const std::string token = url.substr(url.find("token=") + 6);
  put = client.Put("/wandb/upload/file0001/other.txt?token=" + token, "x", "text/plain");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 403) << put->body;
  put = client.Put("/wandb/upload/file0001/config.yaml", "x", "text/plain");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 401) << put->body;
  for (const std::string& line : Log()) {
    EXPECT_EQ(line.find(token), std::string::npos) << line;
  }
}

TEST_F(WandbIngestTest, NpmClientUploadUrlQuery) {
  Upsert({{"name", "file0002"}, {"project", "mnist"}, {"entity", "alice"}}, alice_);
  const json data = GraphQlData(R"(
      query RunUploadUrls($name: String!, $files: [String]!, $entity: String, $run: String!) {
        model(name: $name, entityName: $entity) {
          bucket(name: $run) {
            id
            files(names: $files) { uploadHeaders edges { node { name url(upload: true) } } }
          }
        }
      })",
                                {{"name", "mnist"},
                                 {"entity", "alice"},
                                 {"run", "file0002"},
                                 {"files", {"wandb-metadata.json"}}},
                                alice_);
  const json& edges = data["model"]["bucket"]["files"]["edges"];
  ASSERT_EQ(edges.size(), 1u);
  EXPECT_EQ(edges[0]["node"]["name"], "wandb-metadata.json");
  EXPECT_NE(edges[0]["node"]["url"].get<std::string>().find("token="), std::string::npos);
}

}  // namespace
}  // namespace labbook::server
