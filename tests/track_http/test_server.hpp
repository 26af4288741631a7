// A real `labbook serve` for the client's tests: server::Server on a loopback port, its data in
// a directory, with the users and teams the tests write as. Talking to it goes over HTTP, as a
// client would; nothing of the transport is mocked.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "server/server.hpp"

namespace labbook::track::http::test {

// Unsets the variables that point a client at a store, a server or a key (LABBOOK_STORE,
// LABBOOK_BASE_URL, LABBOOK_API_KEY, WANDB_API_KEY, LABBOOK_OFFLINE_STORE), so a test sees only
// what it sets itself.
void ClearClientEnvironment();

class TestServer {
 public:
  // Starts a server keeping its data in `data_dir` on a free port (or on `port`), with the server
  // admin "alice" (the key of key()), the user "bob" and the team "team" (alice its admin). A
  // directory that already holds a server's data is served as it is.
  static std::unique_ptr<TestServer> Start(const std::filesystem::path& data_dir, int port = 0);
  ~TestServer();

  // Stops serving (requests in flight are answered first) and frees the port.
  void Stop();
  // Serves the same data on the same port again.
  void Restart();

  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string& key() const { return key_; }
  server::Server* server() { return server_.get(); }

 private:
  TestServer() = default;
  void Open();
  void WaitUntilServing() const;

  std::filesystem::path data_dir_;
  int port_ = 0;
  std::string key_;
  std::unique_ptr<server::Server> server_;
};

}  // namespace labbook::track::http::test
