#include "track/http/http_store.hpp"

#include <httplib.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <system_error>
#include <thread>

#include "core/random_id.hpp"
#include "core/errno_status.hpp"
#include "core/status_macros.hpp"
#include "track/http/wire.hpp"

namespace labbook::track::http {

namespace fs = std::filesystem;
using nlohmann::json;

struct HttpRunStore::Request {
  Request(std::string method_, std::string path_)
      : method(std::move(method_)), path(std::move(path_)) {}

  std::string method;  // GET, HEAD, POST, PUT, PATCH, DELETE
  std::string path;    // under /api/v1, with its query
  std::string body;
  std::string content_type;
  // A PUT streamed from this file, of `upload_size` bytes.
  fs::path upload;
  uint64_t upload_size = 0;
  // A 2xx body streamed here instead of kept in Reply::body; `restart` runs before each attempt
  // so a retried download starts over. A false return stops the download with `local_error`.
  std::function<bool(const char* data, size_t size)> receive;
  std::function<void()> restart;
  Status local_error;

  // "GET /api/v1/runs/abc" (the query left out), for messages.
  std::string Describe() const { return method + " " + path.substr(0, path.find('?')); }
};

struct HttpRunStore::Reply {
  int status = 0;
  std::string body;
  std::string content_length;
  int attempts = 0;
};

namespace {

constexpr size_t kStreamChunk = size_t{1} << 16;

// "?a=1&b=2" from the pairs whose value is not empty; "" when none is.
std::string Query(std::initializer_list<std::pair<const char*, std::string>> pairs) {
  std::string out;
  for (const auto& [name, value] : pairs) {
    if (value.empty()) continue;
    out += out.empty() ? "?" : "&";
    out += name;
    out += '=';
    out += wire::EncodeUrlComponent(value);
  }
  return out;
}

std::string RunPath(const std::string& run_id) {
  return "/api/v1/runs/" + wire::EncodeUrlComponent(run_id);
}

bool Retryable(int status) { return status >= 500 && status != 501 && status != 505; }

std::string Hex(const unsigned char* bytes, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 15]);
  }
  return out;
}

// Incremental sha256 of streamed bytes.
class Sha256 {
 public:
  Sha256() : context_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(context_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(context_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const char* data, size_t size) { EVP_DigestUpdate(context_, data, size); }
  std::string HexDigest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_DigestFinal_ex(context_, digest, &size);
    return Hex(digest, size);
  }

 private:
  EVP_MD_CTX* context_;
};

struct FileDigest {
  std::string sha256;
  uint64_t size = 0;
};

Result<FileDigest> DigestFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return StatusFromErrno(path.string(), "open", errno);
  Sha256 hash;
  FileDigest out;
  std::vector<char> buffer(kStreamChunk);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto n = static_cast<size_t>(in.gcount());
    hash.Update(buffer.data(), n);
    out.size += n;
  }
  if (in.bad()) return StatusFromErrno(path.string(), "read", errno);
  out.sha256 = hash.HexDigest();
  return out;
}

Result<json> Parse(const std::string& body, const HttpRunStore::Request& request) {
  return wire::ParseJson(body, "the answer to " + request.Describe());
}

// `document[field]`, which must be there.
Result<json> FieldOf(const json& document, const char* field,
                     const HttpRunStore::Request& request) {
  if (!document.is_object() || !document.contains(field)) {
    return InvalidArgument("the answer to " + request.Describe() + " has no field '" + field + "'");
  }
  return document[field];
}

std::atomic<uint64_t> download_counter{0};

bool IsSha256(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

HttpRunStore::HttpRunStore(HttpStoreOptions options, BaseUrl base_url)
    : options_(std::move(options)), base_url_(std::move(base_url)) {}

HttpRunStore::~HttpRunStore() = default;

Result<std::unique_ptr<HttpRunStore>> HttpRunStore::Open(HttpStoreOptions options) {
  LABBOOK_ASSIGN_OR_RETURN(BaseUrl base_url, ParseBaseUrl(options.base_url));
  if (options.retry.max_attempts < 1) options.retry.max_attempts = 1;
  return std::unique_ptr<HttpRunStore>(new HttpRunStore(std::move(options), std::move(base_url)));
}

std::string HttpRunStore::uri() const { return base_url_.ToString(); }

std::unique_ptr<httplib::Client> HttpRunStore::TakeConnection() {
  {
    std::lock_guard lock(pool_mutex_);
    if (!idle_.empty()) {
      std::unique_ptr<httplib::Client> client = std::move(idle_.back());
      idle_.pop_back();
      return client;
    }
  }
  BaseUrl origin = base_url_;
  origin.path.clear();
  auto client = std::make_unique<httplib::Client>(origin.ToString());
  client->set_keep_alive(true);
  client->set_url_encode(false);  // paths are encoded here, segment by segment
  client->set_connection_timeout(options_.connect_timeout);
  client->set_read_timeout(options_.read_timeout);
  client->set_write_timeout(options_.read_timeout);
  if (!options_.ca_cert_file.empty()) client->set_ca_cert_path(options_.ca_cert_file.string());
  client->enable_server_certificate_verification(true);
  return client;
}

void HttpRunStore::ReturnConnection(std::unique_ptr<httplib::Client> connection) {
  std::lock_guard lock(pool_mutex_);
  if (idle_.size() < 4) idle_.push_back(std::move(connection));
}

Result<HttpRunStore::Reply> HttpRunStore::Send(Request& request, const RetryPolicy& retry) {
  httplib::Headers headers{{"User-Agent", "labbook"}, {"Accept-Encoding", "gzip"}};
  if (!options_.api_key.empty()) {
    headers.emplace("Authorization", "Bearer " + options_.api_key);
  }
  std::string body = std::move(request.body);
  if (!body.empty() && body.size() >= options_.compress_from_bytes) {
    LABBOOK_ASSIGN_OR_RETURN(body, wire::Gzip(body, wire::kGzipDefaultLevel));
    headers.emplace("Content-Encoding", "gzip");
  }
  const std::string path = base_url_.path + request.path;

  std::chrono::milliseconds backoff = retry.first_backoff;
  std::chrono::milliseconds slept{0};
  std::mt19937_64 jitter{std::random_device{}()};
  std::string last_problem;
  int attempt = 0;
  while (true) {
    ++attempt;
    if (request.restart) request.restart();
    std::unique_ptr<httplib::Client> client = TakeConnection();
    Reply reply;
    reply.attempts = attempt;
    httplib::Result result{nullptr, httplib::Error::Unknown};
    if (request.method == "GET" && request.receive) {
      result = client->Get(
          path, headers,
          [&](const httplib::Response& response) {
            reply.status = response.status;
            return true;
          },
          [&](const char* data, size_t size) {
            if (reply.status >= 200 && reply.status < 300) return request.receive(data, size);
            reply.body.append(data, size);
            return true;
          });
    } else if (request.method == "GET") {
      result = client->Get(path, headers);
    } else if (request.method == "HEAD") {
      result = client->Head(path, headers);
    } else if (request.method == "DELETE") {
      result = client->Delete(path, headers);
    } else if (request.method == "PUT" && !request.upload.empty()) {
      std::ifstream in(request.upload, std::ios::binary);
      std::vector<char> buffer(kStreamChunk);
      result = client->Put(
          path, headers, request.upload_size,
          [&](size_t offset, size_t length, httplib::DataSink& sink) {
            in.clear();
            in.seekg(static_cast<std::streamoff>(offset));
            in.read(buffer.data(), static_cast<std::streamsize>(std::min(length, buffer.size())));
            const auto n = static_cast<size_t>(in.gcount());
            if (n == 0) {
              request.local_error = StatusFromErrno(request.upload.string(), "read", errno);
              return false;
            }
            sink.write(buffer.data(), n);
            return true;
          },
          "application/octet-stream");
    } else {
      const std::string content_type =
          request.content_type.empty() ? "application/json" : request.content_type;
      if (request.method == "POST") {
        result = client->Post(path, headers, body, content_type);
      } else if (request.method == "PUT") {
        result = client->Put(path, headers, body, content_type);
      } else {
        result = client->Patch(path, headers, body, content_type);
      }
    }

    if (!request.local_error.ok()) return request.local_error;
    if (result) {
      ReturnConnection(std::move(client));
      reply.status = result->status;
      if (!request.receive) reply.body = std::move(result->body);
      reply.content_length = result->get_header_value("Content-Length");
      if (!Retryable(reply.status)) return reply;
      last_problem = "HTTP " + std::to_string(reply.status);
      if (attempt >= retry.max_attempts || slept + backoff > retry.max_total_backoff) return reply;
    } else {
      last_problem = httplib::to_string(result.error());
      if (attempt >= retry.max_attempts || slept + backoff > retry.max_total_backoff) break;
    }
    // Half to all of the backoff, so clients that failed together do not retry together.
    std::uniform_int_distribution<int64_t> pick(backoff.count() / 2, backoff.count());
    const std::chrono::milliseconds sleep{pick(jitter)};
    std::this_thread::sleep_for(sleep);
    slept += sleep;
    backoff = std::min(backoff * 2, retry.max_backoff);
  }
  return Status(ErrorCode::kUnavailable, "cannot reach the server " + uri() + " (" +
                                             request.Describe() + "): " + last_problem + " after " +
                                             std::to_string(attempt) +
                                             (attempt == 1 ? " attempt" : " attempts"));
}

Status HttpRunStore::ErrorOf(const Reply& reply, const Request& request) const {
  json document = json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  if (document.is_object() && document.contains("error") && document["error"].is_object()) {
    const json& error = document["error"];
    const std::string name = error.value("code", "");
    if (std::optional<ErrorCode> code = ErrorCodeNamed(name)) {
      return Status(*code, error.value("message", ""));
    }
  }
  std::string message = "the server " + uri() + " answered HTTP " + std::to_string(reply.status) +
                        " to " + request.Describe();
  if (reply.attempts > 1) message += " after " + std::to_string(reply.attempts) + " attempts";
  return Status(ErrorCodeForHttpStatus(reply.status), message);
}

Result<HttpRunStore::Reply> HttpRunStore::Call(Request& request) {
  LABBOOK_ASSIGN_OR_RETURN(Reply reply, Send(request, options_.retry));
  if (reply.status >= 200 && reply.status < 300) return reply;
  return ErrorOf(reply, request);
}

Result<RunInfo> HttpRunStore::CreateRun(RunInfo run) {
  // The id is chosen here, before the first try: a retry whose first try was stored meets its
  // own run instead of creating a second one.
  const bool chosen_here = run.id.empty();
  if (chosen_here) run.id = RandomId();
  Request request("POST", "/api/v1/runs");
  request.body = wire::RunToJson(run).dump();
  Result<Reply> reply = Send(request, options_.retry);
  if (reply.ok() && reply->status == 409 && reply->attempts > 1) {
    Result<RunInfo> existing = GetRun(run.id);
    if (existing.ok() && existing->entity == run.entity && existing->project == run.project &&
        existing->host == run.host && existing->pid == run.pid &&
        existing->start_time == run.start_time) {
      return existing;
    }
  }
  if (!reply.ok()) return reply.status();
  if (reply->status < 200 || reply->status >= 300) return ErrorOf(*reply, request);
  LABBOOK_ASSIGN_OR_RETURN(json document, Parse(reply->body, request));
  LABBOOK_ASSIGN_OR_RETURN(json field, FieldOf(document, "run", request));
  return wire::RunFromJson(field, "run");
}

Status HttpRunStore::UpdateRun(const std::string& run_id, const RunUpdate& update) {
  Request request("PATCH", RunPath(run_id));
  request.body = wire::UpdateToJson(update).dump();
  return Call(request).status();
}

Result<RunInfo> HttpRunStore::GetRun(const std::string& run_id) {
  Request request("GET", RunPath(run_id));
  LABBOOK_ASSIGN_OR_RETURN(Reply reply, Call(request));
  LABBOOK_ASSIGN_OR_RETURN(json document, Parse(reply.body, request));
  LABBOOK_ASSIGN_OR_RETURN(json field, FieldOf(document, "run", request));
  return wire::RunFromJson(field, "run");
}

Result<std::vector<RunInfo>> HttpRunStore::ListRuns(const RunQuery& query) {
  Request request("GET",
                  "/api/v1/runs" + Query({{"entity", query.entity}, {"project", query.project}}));
  LABBOOK_ASSIGN_OR_RETURN(Reply reply, Call(request));
  LABBOOK_ASSIGN_OR_RETURN(json document, Parse(reply.body, request));
  LABBOOK_ASSIGN_OR_RETURN(json runs, FieldOf(document, "runs", request));
  if (!runs.is_array()) return InvalidArgument("runs: expected an array");
  std::vector<RunInfo> out;
  for (size_t i = 0; i < runs.size(); ++i) {
    LABBOOK_ASSIGN_OR_RETURN(RunInfo run,
                             wire::RunFromJson(runs[i], "runs[" + std::to_string(i) + "]"));
    out.push_back(std::move(run));
  }
  return out;
}

Status HttpRunStore::DeleteRun(const std::string& run_id) {
  Request request("DELETE", RunPath(run_id));
  LABBOOK_ASSIGN_OR_RETURN(Reply reply, Send(request, options_.retry));
  // A retry after a delete that went through but whose answer was lost.
  if (reply.status == 404 && reply.attempts > 1) return Status::Ok();
  if (reply.status >= 200 && reply.status < 300) return Status::Ok();
  return ErrorOf(reply, request);
}

Status HttpRunStore::LogHistory(const std::string& run_id, const HistoryBatch& batch) {
  // The binary form cannot say which point is wrong the way the stores do; checked here.
  for (size_t i = 0; i < batch.points.size(); ++i) {
    if (batch.points[i].key >= batch.keys.size()) {
      return InvalidArgument("history of run " + run_id + ": points[" + std::to_string(i) +
                             "].key is " + std::to_string(batch.points[i].key) +
                             "; expected an index of keys (" + std::to_string(batch.keys.size()) +
                             " keys)");
    }
  }
  Request request("POST", RunPath(run_id) + "/history");
  request.body = wire::EncodeHistoryBatch(batch);
  request.content_type = std::string(wire::kHistoryBatchMediaType);
  return Call(request).status();
}

Result<std::vector<KeyInfo>> HttpRunStore::HistoryKeys(const std::string& run_id) {
  Request request("GET", RunPath(run_id) + "/keys");
  LABBOOK_ASSIGN_OR_RETURN(Reply reply, Call(request));
  LABBOOK_ASSIGN_OR_RETURN(json document, Parse(reply.body, request));
  LABBOOK_ASSIGN_OR_RETURN(json keys, FieldOf(document, "keys", request));
  if (!keys.is_array()) return InvalidArgument("keys: expected an array");
  std::vector<KeyInfo> out;
  for (size_t i = 0; i < keys.size(); ++i) {
    LABBOOK_ASSIGN_OR_RETURN(KeyInfo key,
                             wire::KeyInfoFromJson(keys[i], "keys[" + std::to_string(i) + "]"));
    out.push_back(std::move(key));
  }
  return out;
}

Result<Series> HttpRunStore::ReadHistory(const std::string& run_id, const std::string& key,
                                         const HistoryQuery& query) {
  const std::string min_step =
      query.min_step == std::numeric_limits<int64_t>::min() ? "" : std::to_string(query.min_step);
  const std::string max_step =
      query.max_step == std::numeric_limits<int64_t>::max() ? "" : std::to_string(query.max_step);
  const std::string samples = query.max_points == 0 ? "" : std::to_string(query.max_points);
  Request request("GET", RunPath(run_id) + "/history" +
                             Query({{"key", key},
                                    {"min_step", min_step},
                                    {"max_step", max_step},
                                    {"samples", samples}}));
  LABBOOK_ASSIGN_OR_RETURN(Reply reply, Call(request));
  LABBOOK_ASSIGN_OR_RETURN(json document, Parse(reply.body, request));
  LABBOOK_ASSIGN_OR_RETURN(json series, FieldOf(document, "series", request));
  return wire::SeriesFromJson(series, "series");
}

Result<ArtifactVersion> HttpRunStore::LogArtifact(const NewArtifact& artifact) {
  wire::NewArtifactRequest create;
  create.entity = artifact.entity;
  create.project = artifact.project;
  create.name = artifact.name;
  create.type = artifact.type;
  create.producer_run = artifact.producer_run;
  create.metadata = artifact.metadata;
  create.aliases = artifact.aliases;
  std::vector<std::pair<FileDigest, fs::path>> blobs;
  for (const NewArtifact::File& file : artifact.files) {
    std::error_code error;
    if (!fs::is_regular_file(file.source, error)) {
      return NotFound("artifact '" + artifact.name + "': file '" + file.path + "' has no source " +
                      file.source.string());
    }
    LABBOOK_ASSIGN_OR_RETURN(FileDigest digest, DigestFile(file.source));
    create.files.push_back({file.path, digest.sha256, static_cast<int64_t>(digest.size)});
    bool seen = false;
    for (const auto& [known, source] : blobs) seen = seen || known.sha256 == digest.sha256;
    if (!seen) blobs.emplace_back(digest, file.source);
  }
  const std::string blob_root = "/api/v1/projects/" + wire::EncodeUrlComponent(artifact.entity) +
                                "/" + wire::EncodeUrlComponent(artifact.project) + "/blobs/";
  // A second round uploads every blob: the server answers 412 when one it had was collected as
  // garbage (`labbook gc --server-data`) between the HEAD and the artifact's creation.
  Result<Reply> created = Internal("the artifact was not sent");
  for (int round = 0; round < 2; ++round) {
    for (const auto& [digest, source] : blobs) {
      if (round == 0) {
        Request head("HEAD", blob_root + digest.sha256);
        LABBOOK_ASSIGN_OR_RETURN(Reply found, Send(head, options_.retry));
        if (found.status == 200) continue;
        if (found.status != 404) return ErrorOf(found, head);
      }
      Request put("PUT", blob_root + digest.sha256);
      put.upload = source;
      put.upload_size = digest.size;
      LABBOOK_RETURN_IF_ERROR(Call(put).status());
    }
    Request request("POST", "/api/v1/artifacts");
    request.body = wire::NewArtifactToJson(create).dump();
    created = Call(request);
    if (created.ok() || created.status().code() != ErrorCode::kFailedPrecondition) break;
  }
  Request request("POST", "/api/v1/artifacts");
  LABBOOK_ASSIGN_OR_RETURN(Reply reply, std::move(created));
  LABBOOK_ASSIGN_OR_RETURN(json document, Parse(reply.body, request));
  LABBOOK_ASSIGN_OR_RETURN(json field, FieldOf(document, "artifact", request));
  return wire::ArtifactFromJson(field, "artifact");
}

Result<ArtifactVersion> HttpRunStore::GetArtifact(const std::string& entity,
                                                  const std::string& project,
                                                  const std::string& name,
                                                  const std::string& version_or_alias) {
  Request request("GET", "/api/v1/artifacts/" + wire::EncodeUrlComponent(entity) + "/" +
                             wire::EncodeUrlComponent(project) + "/" +
                             wire::EncodeUrlComponent(name) + "/" +
                             wire::EncodeUrlComponent(version_or_alias));
  LABBOOK_ASSIGN_OR_RETURN(Reply reply, Call(request));
  LABBOOK_ASSIGN_OR_RETURN(json document, Parse(reply.body, request));
  LABBOOK_ASSIGN_OR_RETURN(json field, FieldOf(document, "artifact", request));
  return wire::ArtifactFromJson(field, "artifact");
}

Result<std::vector<ArtifactVersion>> HttpRunStore::ListArtifacts(const RunQuery& query) {
  Request request(
      "GET", "/api/v1/artifacts" + Query({{"entity", query.entity}, {"project", query.project}}));
  LABBOOK_ASSIGN_OR_RETURN(Reply reply, Call(request));
  LABBOOK_ASSIGN_OR_RETURN(json document, Parse(reply.body, request));
  LABBOOK_ASSIGN_OR_RETURN(json list, FieldOf(document, "artifacts", request));
  if (!list.is_array()) return InvalidArgument("artifacts: expected an array");
  std::vector<ArtifactVersion> out;
  for (size_t i = 0; i < list.size(); ++i) {
    LABBOOK_ASSIGN_OR_RETURN(
        ArtifactVersion artifact,
        wire::ArtifactFromJson(list[i], "artifacts[" + std::to_string(i) + "]"));
    out.push_back(std::move(artifact));
  }
  return out;
}

Status HttpRunStore::UseArtifact(const std::string& run_id, const ArtifactVersion& artifact) {
  Request request("POST", RunPath(run_id) + "/used");
  std::string version = "v";
  version += std::to_string(artifact.version);
  request.body = json{
      {"entity", artifact.entity},
      {"project", artifact.project},
      {"name", artifact.name},
      {"version",
       version}}.dump();
  return Call(request).status();
}

Result<RunArtifacts> HttpRunStore::ArtifactsOfRun(const std::string& run_id) {
  Request request("GET", RunPath(run_id) + "/artifacts");
  LABBOOK_ASSIGN_OR_RETURN(Reply reply, Call(request));
  LABBOOK_ASSIGN_OR_RETURN(json document, Parse(reply.body, request));
  return wire::RunArtifactsFromJson(document, "artifacts");
}

Status HttpRunStore::ReadArtifactFile(const ArtifactFile& file, const fs::path& destination) {
  if (!IsSha256(file.sha256)) {
    return InvalidArgument("artifact file '" + file.path + "': sha256 '" + file.sha256 +
                           "' is not 64 lower-case hex digits");
  }
  std::error_code error;
  if (destination.has_parent_path()) fs::create_directories(destination.parent_path(), error);
  const fs::path partial = destination.string() + ".partial-" + std::to_string(::getpid()) + "-" +
                           std::to_string(download_counter++);
  std::ofstream out;
  std::unique_ptr<Sha256> hash;
  uint64_t size = 0;
  Request request("GET", "/api/v1/blobs/" + wire::EncodeUrlComponent(file.sha256));
  request.restart = [&] {
    out.close();
    out.clear();
    out.open(partial, std::ios::binary | std::ios::trunc);
    hash = std::make_unique<Sha256>();
    size = 0;
  };
  request.receive = [&](const char* data, size_t n) {
    out.write(data, static_cast<std::streamsize>(n));
    if (!out) {
      request.local_error = StatusFromErrno(partial.string(), "write", errno);
      return false;
    }
    hash->Update(data, n);
    size += n;
    return true;
  };
  Result<Reply> reply = Call(request);
  out.close();
  if (!reply.ok()) {
    fs::remove(partial, error);
    return reply.status();
  }
  if (!out) {
    fs::remove(partial, error);
    return StatusFromErrno(partial.string(), "write", errno);
  }
  const std::string digest = hash->HexDigest();
  if (digest != file.sha256 || static_cast<int64_t>(size) != file.size) {
    fs::remove(partial, error);
    return DataLoss("artifact file '" + file.path + "' from " + uri() + " has sha256 " + digest +
                    " (" + std::to_string(size) + " bytes), not " + file.sha256 + " (" +
                    std::to_string(file.size) + " bytes)");
  }
  fs::rename(partial, destination, error);
  if (error) {
    fs::remove(partial, error);
    return StatusFromErrno(destination.string(), "write", error.value());
  }
  return Status::Ok();
}

Result<Viewer> HttpRunStore::GetViewer() {
  Request request("GET", "/api/v1/viewer");
  LABBOOK_ASSIGN_OR_RETURN(Reply reply, Call(request));
  LABBOOK_ASSIGN_OR_RETURN(json document, Parse(reply.body, request));
  if (!document.is_object() || !document.contains("user") || !document["user"].is_string()) {
    return InvalidArgument("the answer to " + request.Describe() + " names no user");
  }
  Viewer viewer;
  viewer.user = document["user"].get<std::string>();
  viewer.admin = document.value("admin", false);
  return viewer;
}

Result<json> HttpRunStore::CallJson(const std::string& method, const std::string& path,
                                    const json* body) {
  Request request(method, path);
  if (body != nullptr) request.body = body->dump();
  LABBOOK_ASSIGN_OR_RETURN(Reply reply, Call(request));
  if (reply.body.empty()) return json();
  return Parse(reply.body, request);
}

Status HttpRunStore::CheckHealth() {
  Request request("GET", "/api/v1/health");
  RetryPolicy once;
  once.max_attempts = 1;
  LABBOOK_ASSIGN_OR_RETURN(Reply reply, Send(request, once));
  if (reply.status == 200) return Status::Ok();
  return Status(ErrorCode::kUnavailable, "the server " + uri() + " answered HTTP " +
                                             std::to_string(reply.status) + " to " +
                                             request.Describe());
}

Result<std::unique_ptr<HttpRunStore>> OpenHttpRunStore(const std::string& uri,
                                                       const CredentialContext& context,
                                                       RetryPolicy retry) {
  LABBOOK_ASSIGN_OR_RETURN(BaseUrl base_url, ParseBaseUrl(uri));
  LABBOOK_ASSIGN_OR_RETURN(ApiKey key, ResolveApiKey(base_url, context));
  HttpStoreOptions options;
  options.base_url = base_url.ToString();
  options.api_key = key.secret;
  options.retry = retry;
  if (std::optional<std::string> ca = context.getenv("LABBOOK_CA_CERT"); ca && !ca->empty()) {
    options.ca_cert_file = *ca;
  }
  return HttpRunStore::Open(std::move(options));
}

}  // namespace labbook::track::http
