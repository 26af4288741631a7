// HttpRunStore against the RunStore conformance suite (tests/track_sqlite/store_conformance.hpp),
// talking to a real server on a loopback port: whatever holds for the local store holds over
// HTTP.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <mutex>

#include "store_conformance.hpp"
#include "test_server.hpp"
#include "track/http/http_store.hpp"

namespace labbook::track::http {
namespace {

namespace fs = std::filesystem;

// One server per directory; opening another directory stops the previous one (each test has
// its own), reopening the same directory gives a new client of the same server.
test::TestServer* ServerOf(const fs::path& dir) {
  static std::mutex mutex;
  static auto* servers = new std::map<fs::path, std::unique_ptr<test::TestServer>>;
  std::lock_guard lock(mutex);
  for (auto it = servers->begin(); it != servers->end();) {
    it = it->first == dir ? std::next(it) : servers->erase(it);
  }
  auto& server = (*servers)[dir];
  if (!server) server = test::TestServer::Start(dir);
  return server.get();
}

std::unique_ptr<RunStore> OpenInDirectory(const fs::path& dir) {
  test::TestServer* server = ServerOf(dir);
  if (server == nullptr) return nullptr;
  HttpStoreOptions options;
  options.base_url = server->base_url();
  options.api_key = server->key();
  Result<std::unique_ptr<HttpRunStore>> store = HttpRunStore::Open(options);
  if (!store.ok()) {
    ADD_FAILURE() << store.status().ToString();
    return nullptr;
  }
  return std::move(store).value();
}

// Flips the bits of the first byte of the server's copies (the store's and the one it received),
// as a failing disk would.
void CorruptBlob(const fs::path& dir, const std::string& sha256) {
  for (const fs::path& blob :
       {dir / "labbook.db.blobs" / sha256.substr(0, 2) / sha256, dir / "uploads" / sha256}) {
    std::fstream file(blob, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(file) << blob;
    char first = 0;
    file.read(&first, 1);
    first = static_cast<char>(first ^ 0x5a);
    file.seekp(0);
    file.write(&first, 1);
  }
}

using conformance::StoreConformanceTest;

INSTANTIATE_TEST_SUITE_P(Http, StoreConformanceTest,
                         ::testing::Values(conformance::StoreUnderTest{"http", OpenInDirectory,
                                                                       CorruptBlob}),
                         conformance::StoreName);

}  // namespace
}  // namespace labbook::track::http
