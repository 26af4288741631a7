// A real W&B ingest per test: the routes of wandb_routes.hpp installed by the server's Router on
// an httplib::Server on a free loopback port, over a SQLite run store and a SQLite auth store in
// the test's own directory; clients talk to it over HTTP as W&B clients do (GraphQL documents
// without an operation name, file_stream bodies, HTTP Basic "api:<key>"). Every access-log line
// is kept, so tests can check that no secret ever reaches the log.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "server/auth/auth_store.hpp"
#include "server/context.hpp"
#include "server/router.hpp"
#include "server/wandb/wandb_routes.hpp"
#include "track/store.hpp"

namespace labbook::server {

class WandbServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "labbook-wandb-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    Result<std::unique_ptr<track::RunStore>> store =
        track::OpenStore("sqlite://" + (dir_ / "labbook.db").string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    Result<std::unique_ptr<AuthStore>> auth = OpenSqliteAuthStore(dir_ / "auth.db");
    ASSERT_TRUE(auth.ok()) << auth.status().ToString();
    auth_ = std::move(*auth);

    http_ = std::make_unique<httplib::Server>();
    port_ = http_->bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    context_ = ServerContext{store_.get(), auth_.get(), dir_ / "data", base_url()};
    AddWandbRoutes(router_, context_);
    router_.SetLog([this](const std::string& line) {
      std::lock_guard<std::mutex> lock(log_mutex_);
      log_.push_back(line);
    });
    router_.Install(*http_, *auth_);
    listener_ = std::thread([this] { http_->listen_after_bind(); });
    // The socket is bound and listening already; requests wait in its backlog until the loop
    // runs, so there is nothing to wait for.
  }

  void TearDown() override {
    if (http_) http_->stop();
    if (listener_.joinable()) listener_.join();
    for (const std::string& line : Log()) {
      for (const std::string& secret : secrets_) {
        EXPECT_EQ(line.find(secret), std::string::npos) << "a key reached the log: " << line;
      }
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  track::RunStore& store() { return *store_; }
  AuthStore& auth() { return *auth_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::vector<std::string> Log() {
    std::lock_guard<std::mutex> lock(log_mutex_);
    return log_;
  }

  httplib::Client Client() const {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(30);
    return client;
  }

  // A new user and a key of theirs.
  std::string CreateUser(const std::string& name) {
    EXPECT_TRUE(auth_->CreateUser(name, false).ok());
    Result<NewApiKey> key = auth_->CreateKey(name, "test");
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    if (!key.ok()) return "";
    secrets_.push_back(key->secret);
    return key->secret;
  }

  struct Reply {
    int status = 0;
    nlohmann::json body;
    std::string raw;
  };

  static Reply ToReply(const httplib::Result& result) {
    Reply reply;
    if (!result) {
      ADD_FAILURE() << "no HTTP response: " << httplib::to_string(result.error());
      return reply;
    }
    reply.status = result->status;
    reply.raw = result->body;
    if (!result->body.empty() && result->get_header_value("Content-Type") == "application/json") {
      reply.body = nlohmann::json::parse(result->body);
    }
    return reply;
  }

  static std::string BasicAuth(const std::string& key) {
    const std::string credentials = "api:" + key;
    std::string encoded(4 * ((credentials.size() + 2) / 3) + 1, '\0');
    const int size = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                     reinterpret_cast<const unsigned char*>(credentials.data()),
                                     static_cast<int>(credentials.size()));
    encoded.resize(static_cast<size_t>(size));
    return "Basic " + encoded;
  }

  Reply PostAs(const std::string& path, const std::string& body, const std::string& key) {
    httplib::Headers headers;
    if (!key.empty()) headers.emplace("Authorization", BasicAuth(key));
    auto client = Client();
    return ToReply(client.Post(path, headers, body, "application/json"));
  }

  // A GraphQL request as the Python client sends it: query text and variables only.
  Reply GraphQl(const std::string& query, const nlohmann::json& variables, const std::string& key) {
    return PostAs("/graphql", nlohmann::json{{"query", query}, {"variables", variables}}.dump(),
                  key);
  }

  // The data of a GraphQL answer that must have succeeded.
  nlohmann::json GraphQlData(const std::string& query, const nlohmann::json& variables,
                             const std::string& key) {
    Reply reply = GraphQl(query, variables, key);
    EXPECT_EQ(reply.status, 200) << reply.raw;
    EXPECT_FALSE(reply.body.contains("errors")) << reply.raw;
    return reply.body.value("data", nlohmann::json());
  }

  static constexpr const char* kUpsertBucket = R"(
      mutation UpsertBucket($id: String, $name: String, $project: String, $entity: String,
                            $displayName: String, $config: JSONString, $tags: [String!],
                            $summaryMetrics: JSONString) {
        upsertBucket(input: {id: $id, name: $name, modelName: $project, entityName: $entity,
                             displayName: $displayName, config: $config, tags: $tags,
                             summaryMetrics: $summaryMetrics}) {
          bucket { id name displayName config historyLineCount
                   project { id name entity { id name } } }
          inserted
        }
      })";

  // Upserts a run and returns upsertBucket's answer.
  nlohmann::json Upsert(const nlohmann::json& variables, const std::string& key) {
    return GraphQlData(kUpsertBucket, variables, key).value("upsertBucket", nlohmann::json());
  }

  Reply FileStream(const std::string& entity, const std::string& project, const std::string& run,
                   const nlohmann::json& body, const std::string& key) {
    return PostAs("/files/" + entity + "/" + project + "/" + run + "/file_stream", body.dump(),
                  key);
  }

  // files["wandb-history.jsonl"] and friends.
  static nlohmann::json Lines(int64_t offset, const std::vector<nlohmann::json>& lines) {
    nlohmann::json content = nlohmann::json::array();
    for (const nlohmann::json& line : lines) content.push_back(line.dump());
    return {{"offset", offset}, {"content", content}};
  }
  static nlohmann::json TextLines(int64_t offset, const std::vector<std::string>& lines) {
    return {{"offset", offset}, {"content", lines}};
  }

  std::filesystem::path dir_;
  std::unique_ptr<track::RunStore> store_;
  std::unique_ptr<AuthStore> auth_;
  std::unique_ptr<httplib::Server> http_;
  int port_ = 0;
  ServerContext context_;
  Router router_;
  std::thread listener_;
  std::vector<std::string> secrets_;
  std::mutex log_mutex_;
  std::vector<std::string> log_;
};

}  // namespace labbook::server
