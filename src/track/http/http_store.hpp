// HttpRunStore: the RunStore interface over the REST API of `labbook serve` (docs/api.md), so
// that the SDK and the command line work against a team server exactly as against a local
// store. Documents are the codecs of wire.hpp; history batches travel in the binary form,
// request bodies over a kilobyte gzip-compressed. Artifact files are uploaded once per sha256
// (HEAD, then a streamed PUT when the server lacks the blob) and downloaded streamed into a
// temporary file that is renamed once its digest is checked.
//
// Failures: connection errors, timeouts and 5xx answers (but 501) are retried with exponential
// backoff, within RetryPolicy; 4xx never. An error answer `{"error": {"code", "message"}}`
// becomes the Status of that code with the server's message, so callers print what they would
// print for a local store. When the retries are exhausted, a server that could not be reached is
// kUnavailable naming the server and the route. Every request is safe to repeat: CreateRun
// chooses the run's id before the first try, so a retry that meets its own run (409) returns it.
//
// The API key goes in an Authorization header and nowhere else: not in uri(), URLs or messages.
//
// Thread safety: every call may come from any thread; each takes a connection from a small pool,
// so the SDK's writer thread and the caller's thread do not wait for each other.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "track/http/credentials.hpp"
#include "track/store.hpp"

namespace httplib {
class Client;
}  // namespace httplib

namespace labbook::track::http {

struct RetryPolicy {
  int max_attempts = 8;  // 1: no retry
  std::chrono::milliseconds first_backoff{250};
  std::chrono::milliseconds max_backoff{4000};
  // No further attempt once the sleeps would add up to more than this.
  std::chrono::milliseconds max_total_backoff{15000};
};

struct HttpStoreOptions {
  std::string base_url;  // http(s)://host[:port][/prefix]
  std::string api_key;   // empty: anonymous (public projects, read-only)
  RetryPolicy retry;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds read_timeout{60000};
  // PEM certificates to trust for https instead of the system's; empty: the system's.
  std::filesystem::path ca_cert_file;
  // Request bodies of at least this many bytes are sent gzip-compressed.
  size_t compress_from_bytes = 1024;
};

// GET /api/v1/viewer: who the key belongs to.
struct Viewer {
  std::string user;
  bool admin = false;
};

class HttpRunStore final : public RunStore {
 public:
  // kInvalidArgument for a malformed base URL (see ParseBaseUrl). Nothing is sent yet.
  [[nodiscard]] static Result<std::unique_ptr<HttpRunStore>> Open(HttpStoreOptions options);
  ~HttpRunStore() override;

  // The server's base URL, e.g. "http://127.0.0.1:8080".
  std::string uri() const override;

  Result<RunInfo> CreateRun(RunInfo run) override;
  Status UpdateRun(const std::string& run_id, const RunUpdate& update) override;
  Result<RunInfo> GetRun(const std::string& run_id) override;
  Result<std::vector<RunInfo>> ListRuns(const RunQuery& query) override;
  Status DeleteRun(const std::string& run_id) override;

  Status LogHistory(const std::string& run_id, const HistoryBatch& batch) override;
  Result<std::vector<KeyInfo>> HistoryKeys(const std::string& run_id) override;
  Result<Series> ReadHistory(const std::string& run_id, const std::string& key,
                             const HistoryQuery& query) override;

  Result<ArtifactVersion> LogArtifact(const NewArtifact& artifact) override;
  Result<ArtifactVersion> GetArtifact(const std::string& entity, const std::string& project,
                                      const std::string& name,
                                      const std::string& version_or_alias) override;
  Result<std::vector<ArtifactVersion>> ListArtifacts(const RunQuery& query) override;
  Status UseArtifact(const std::string& run_id, const ArtifactVersion& artifact) override;
  Result<RunArtifacts> ArtifactsOfRun(const std::string& run_id) override;
  Status ReadArtifactFile(const ArtifactFile& file,
                          const std::filesystem::path& destination) override;

  // The key's user; kUnauthenticated for a wrong or revoked key or none.
  [[nodiscard]] Result<Viewer> GetViewer();
  // GET /api/v1/health, tried once: ok when the server answers.
  [[nodiscard]] Status CheckHealth();
  // A JSON request to any route (`path` from /api/v1 on, with its query; `body` null for none),
  // with the key, retries and error mapping of the calls above: the parsed answer (null for an
  // empty one). For the server's routes beyond the RunStore interface (sweeps).
  [[nodiscard]] Result<nlohmann::json> CallJson(const std::string& method, const std::string& path,
                                                const nlohmann::json* body);

  const BaseUrl& base_url() const { return base_url_; }

  struct Request;
  struct Reply;

 private:
  HttpRunStore(HttpStoreOptions options, BaseUrl base_url);

  // Sends `request`, retrying as RetryPolicy allows; a reply of any status, or the transport
  // error once retries are exhausted.
  Result<Reply> Send(Request& request, const RetryPolicy& retry);
  // Send with options_.retry: a 2xx reply, or the Status of the answer (ErrorOf).
  Result<Reply> Call(Request& request);
  // The Status of a non-2xx answer: the code and message of its error body, else one made from
  // the HTTP status.
  Status ErrorOf(const Reply& reply, const Request& request) const;
  std::unique_ptr<httplib::Client> TakeConnection();
  void ReturnConnection(std::unique_ptr<httplib::Client> connection);

  const HttpStoreOptions options_;
  const BaseUrl base_url_;
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<httplib::Client>> idle_;
};

// Opens the server named by `uri` ("http://..." or "https://...") with the key that
// ResolveApiKey finds for it.
[[nodiscard]] Result<std::unique_ptr<HttpRunStore>> OpenHttpRunStore(
    const std::string& uri, const CredentialContext& context = CredentialContext::FromProcess(),
    RetryPolicy retry = {});

}  // namespace labbook::track::http
