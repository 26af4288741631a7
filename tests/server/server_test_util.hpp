// A real server per test: its own data directory, a free loopback port, an admin key, and an
// HTTP client that talks to it as any client would. Every log line the server writes is kept so
// tests can check that no secret ever reaches the log.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/server.hpp"

namespace labbook::server {

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "labbook-server-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    StartServer();
    Result<std::string> secret = InitAdmin(server_->auth(), "root");
    ASSERT_TRUE(secret.ok()) << secret.status().ToString();
    admin_key_ = *secret;
    secrets_.push_back(admin_key_);
  }

  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
    for (const std::string& line : Log()) {
      for (const std::string& secret : secrets_) {
        EXPECT_EQ(line.find(secret), std::string::npos) << "a key reached the log: " << line;
      }
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Starts (again) on the same data directory; port 0 picks a free one the first time.
  void StartServer(int port = 0) {
    ServerOptions options;
    options.port = port;
    options.data_dir = dir_ / "data";
    options.threads = 16;
    options.log = [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(log_mutex_);
      log_.push_back(line);
    };
    Result<std::unique_ptr<Server>> created = Server::Create(options);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    server_ = std::move(*created);
    server_->Start();
  }

  std::vector<std::string> Log() {
    std::lock_guard<std::mutex> lock(log_mutex_);
    return log_;
  }

  httplib::Client Client() const {
    httplib::Client client("127.0.0.1", server_->port());
    client.set_read_timeout(30);
    return client;
  }

  static httplib::Headers Auth(const std::string& key) {
    if (key.empty()) return {};
    return {{"Authorization", "Bearer " + key}};
  }

  struct Reply {
    int status = 0;
    nlohmann::json body;
    std::string raw;
    httplib::Headers headers;
  };

  static Reply ToReply(const httplib::Result& result) {
    Reply reply;
    if (!result) {
      ADD_FAILURE() << "no HTTP response: " << httplib::to_string(result.error());
      return reply;
    }
    reply.status = result->status;
    reply.raw = result->body;
    reply.headers = result->headers;
    if (!result->body.empty() && result->get_header_value("Content-Type") == "application/json") {
      reply.body = nlohmann::json::parse(result->body);
    }
    return reply;
  }

  Reply Get(const std::string& path, const std::string& key = "") {
    auto client = Client();
    return ToReply(client.Get(path, Auth(key)));
  }
  Reply Send(const std::string& method, const std::string& path, const std::string& body,
             const std::string& key = "", const std::string& content_type = "application/json") {
    auto client = Client();
    if (method == "POST") return ToReply(client.Post(path, Auth(key), body, content_type));
    if (method == "PUT") return ToReply(client.Put(path, Auth(key), body, content_type));
    if (method == "PATCH") return ToReply(client.Patch(path, Auth(key), body, content_type));
    if (method == "DELETE") return ToReply(client.Delete(path, Auth(key), body, content_type));
    ADD_FAILURE() << "unknown method " << method;
    return {};
  }
  Reply Post(const std::string& path, const nlohmann::json& body, const std::string& key = "") {
    return Send("POST", path, body.dump(), key);
  }

  // A new user (made by the admin) and its key.
  std::string CreateUser(const std::string& name) {
    Reply reply = Post("/api/v1/users", {{"name", name}}, admin_key_);
    EXPECT_EQ(reply.status, 201) << reply.raw;
    std::string secret = reply.body.value("secret", "");
    secrets_.push_back(secret);
    return secret;
  }

  // A run in entity/project created with `key`; returns its id.
  std::string CreateRun(const std::string& entity, const std::string& project,
                        const std::string& key, nlohmann::json extra = nlohmann::json::object()) {
    extra["entity"] = entity;
    extra["project"] = project;
    Reply reply = Post("/api/v1/runs", extra, key);
    EXPECT_EQ(reply.status, 201) << reply.raw;
    return reply.body["run"].value("id", "");
  }

  std::filesystem::path dir_;
  std::unique_ptr<Server> server_;
  std::string admin_key_;
  std::vector<std::string> secrets_;
  std::mutex log_mutex_;
  std::vector<std::string> log_;
};

}  // namespace labbook::server
