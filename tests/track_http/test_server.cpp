#include "test_server.hpp"

#include <stdlib.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <fstream>
#include <thread>

namespace labbook::track::http::test {

void ClearClientEnvironment() {
  for (const char* name : {"LABBOOK_STORE", "LABBOOK_BASE_URL", "LABBOOK_API_KEY", "WANDB_API_KEY",
                           "LABBOOK_OFFLINE_STORE"}) {
    ::unsetenv(name);
  }
}

namespace fs = std::filesystem;

std::unique_ptr<TestServer> TestServer::Start(const fs::path& data_dir, int port) {
  std::unique_ptr<TestServer> out(new TestServer());
  out->data_dir_ = data_dir;
  out->port_ = port;
  out->Open();
  if (out->server_ == nullptr) return nullptr;
  const fs::path key_file = data_dir / "test-admin-key";
  if (fs::exists(key_file)) {
    std::ifstream(key_file) >> out->key_;
    return out;
  }
  server::AuthStore& auth = out->server_->auth();
  Result<std::string> secret = server::InitAdmin(auth, "alice");
  if (!secret.ok()) {
    ADD_FAILURE() << secret.status().ToString();
    return nullptr;
  }
  out->key_ = *secret;
  std::ofstream(key_file) << out->key_;
  EXPECT_TRUE(auth.CreateUser("bob", false).ok());
  EXPECT_TRUE(auth.CreateTeam("team", "alice").ok());
  return out;
}

TestServer::~TestServer() { Stop(); }

void TestServer::Open() {
  server::ServerOptions options;
  options.host = "127.0.0.1";
  options.port = port_;
  options.data_dir = data_dir_;
  options.threads = 8;
  // A port just given up may stay taken for a moment.
  for (int attempt = 0; attempt < 100; ++attempt) {
    Result<std::unique_ptr<server::Server>> created = server::Server::Create(options);
    if (created.ok()) {
      server_ = std::move(*created);
      port_ = server_->port();
      server_->Start();
      WaitUntilServing();
      return;
    }
    if (attempt == 99 || created.status().code() != ErrorCode::kUnavailable) {
      ADD_FAILURE() << created.status().ToString();
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void TestServer::WaitUntilServing() const {
  // Until the server answers, a Stop() could leave its port bound but never served.
  httplib::Client client("127.0.0.1", port_);
  for (int attempt = 0; attempt < 500; ++attempt) {
    if (httplib::Result health = client.Get("/api/v1/health"); health && health->status == 200) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "the server on port " << port_ << " does not answer";
}

void TestServer::Stop() {
  if (server_ == nullptr) return;
  server_->Stop();
  server_.reset();
}

void TestServer::Restart() {
  Stop();
  Open();
}

}  // namespace labbook::track::http::test
