// The REST API against a real server on a loopback port: the door checks (404, 405, 413, 400
// with a byte position, 401), runs, history with downsampling, artifacts and blobs, tables,
// accounts, and a graceful stop with a request in flight.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

#include "server_test_util.hpp"
#include "track/http/wire.hpp"
#include "track/memory_store.hpp"

namespace labbook::server {
namespace {

using nlohmann::json;

using track::Sha256Hex;

using RestTest = ServerTest;

TEST_F(RestTest, HealthNeedsNoKey) {
  Reply reply = Get("/api/v1/health");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body["status"], "ok");
}

TEST_F(RestTest, UnknownRouteIs404WithJsonError) {
  Reply reply = Get("/api/v1/no/such/route");
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(reply.body["error"]["code"], "not_found");
  EXPECT_NE(reply.body["error"]["message"].get<std::string>().find("/api/v1/no/such/route"),
            std::string::npos);
}

TEST_F(RestTest, WrongMethodIs405WithAllow) {
  Reply reply = Send("POST", "/api/v1/health", "");
  EXPECT_EQ(reply.status, 405);
  EXPECT_EQ(reply.body["error"]["code"], "method_not_allowed");
  auto allow = reply.headers.find("Allow");
  ASSERT_NE(allow, reply.headers.end());
  EXPECT_EQ(allow->second, "GET, HEAD");

  reply = Send("PUT", "/api/v1/runs/abcdefgh", "{}", admin_key_);
  EXPECT_EQ(reply.status, 405);
  EXPECT_EQ(reply.headers.find("Allow")->second, "DELETE, GET, HEAD, PATCH");
}

// Sends `head` (a request line and headers) on a fresh connection, no body, and returns what
// the server answers.
std::string RawExchange(int port, const std::string& head) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return "";
  }
  (void)!::write(fd, head.data(), head.size());
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string answer;
  char buffer[4096];
  // Until the JSON body's end: the server may keep the connection open for the next request.
  for (ssize_t got;
       answer.find("}}") == std::string::npos && (got = ::read(fd, buffer, sizeof buffer)) > 0;) {
    answer.append(buffer, got);
  }
  ::close(fd);
  return answer;
}

TEST_F(RestTest, OversizedBodyIs413) {
  // The limit is checked against Content-Length before a byte of the body is read.
  const std::string answer = RawExchange(
      server_->port(),
      "POST /api/v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Content-Type: application/json\r\n"
      "Content-Length: " +
          std::to_string(33u << 20) + "\r\nAuthorization: Bearer " + admin_key_ + "\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;
  EXPECT_NE(answer.find("payload_too_large"), std::string::npos) << answer;
  EXPECT_NE(answer.find("32 MiB"), std::string::npos) << answer;
  // The server still answers afterwards.
  EXPECT_EQ(Get("/api/v1/health").status, 200);
}

TEST_F(RestTest, OversizedChunkedBodyIs413) {
  auto client = Client();
  size_t sent = 0;
  const std::string chunk(1u << 20, ' ');
  auto result = client.Post(
      "/api/v1/runs", Auth(admin_key_),
      [&](size_t, httplib::DataSink& sink) {
        if (sent >= (40u << 20)) {
          sink.done();
          return true;
        }
        sent += chunk.size();
        return sink.write(chunk.data(), chunk.size());
      },
      "application/json");
  // The server may close the connection once it has answered, before the client is done
  // sending, so the answer is checked where it is sure to be: the server's log.
  if (result) EXPECT_EQ(result->status, 413);
  bool logged = false;
  for (const std::string& line : Log())
    logged = logged || line.rfind("POST /api/v1/runs 413", 0) == 0;
  EXPECT_TRUE(logged);
  EXPECT_EQ(Get("/api/v1/health").status, 200);
}

TEST_F(RestTest, MalformedJsonIs400WithBytePosition) {
  Reply reply = Send("POST", "/api/v1/runs", R"({"entity": "root", "project": )", admin_key_);
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.body["error"]["code"], "invalid_argument");
  EXPECT_NE(reply.body["error"]["message"].get<std::string>().find("at byte 31"), std::string::npos)
      << reply.raw;
}

TEST_F(RestTest, BadFieldIs400NamingIt) {
  Reply reply =
      Post("/api/v1/runs", {{"entity", "root"}, {"project", "p"}, {"tags", {"a", 3}}}, admin_key_);
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(reply.raw.find("run.tags[1]"), std::string::npos) << reply.raw;
}

TEST_F(RestTest, WrongKeyIs401AndNotEchoed) {
  const std::string wrong = "lb-" + std::string(40, 'Q');
  Reply reply = Get("/api/v1/health", wrong);
  EXPECT_EQ(reply.status, 401);
  EXPECT_EQ(reply.body["error"]["code"], "unauthenticated");
  EXPECT_EQ(reply.raw.find(wrong), std::string::npos);
  EXPECT_EQ(reply.raw.find(std::string(40, 'Q')), std::string::npos);
  secrets_.push_back(wrong);
}

TEST_F(RestTest, WritingWithoutKeyIs401) {
  Reply reply = Post("/api/v1/runs", {{"entity", "root"}, {"project", "p"}});
  EXPECT_EQ(reply.status, 401);
}

TEST_F(RestTest, RunLifecycle) {
  const std::string id =
      CreateRun("root", "mnist", admin_key_,
                {{"name", "first"}, {"config", {{"lr", 0.01}}}, {"tags", {"cnn"}}});
  ASSERT_EQ(id.size(), 8u);
  Reply reply = Get("/api/v1/runs/" + id, admin_key_);
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body["run"]["name"], "first");
  EXPECT_EQ(reply.body["run"]["config"]["lr"], 0.01);
  // Sent without a start time, the run starts by the server's clock.
  const double now = std::chrono::duration<double>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_NEAR(reply.body["run"]["start_time"].get<double>(), now, 60.0) << reply.raw;
  const std::string dated = CreateRun("root", "mnist", admin_key_, {{"start_time", 1.5e9}});
  EXPECT_EQ(Get("/api/v1/runs/" + dated, admin_key_).body["run"]["start_time"], 1.5e9);

  // A unique prefix finds it too.
  EXPECT_EQ(Get("/api/v1/runs/" + id.substr(0, 5), admin_key_).body["run"]["id"], id);

  // The same id again is 409.
  reply = Post("/api/v1/runs", {{"entity", "root"}, {"project", "mnist"}, {"id", id}}, admin_key_);
  EXPECT_EQ(reply.status, 409);
  EXPECT_EQ(reply.body["error"]["code"], "already_exists");

  reply =
      Send("PATCH", "/api/v1/runs/" + id,
           json{{"state", "finished"}, {"exit_code", 0}, {"summary_patch", {{"acc", 0.98}}}}.dump(),
           admin_key_);
  ASSERT_EQ(reply.status, 200) << reply.raw;
  EXPECT_EQ(reply.body["run"]["state"], "finished");
  EXPECT_EQ(Get("/api/v1/runs/" + id + "/summary", admin_key_).body["summary"]["acc"], 0.98);

  reply = Send("DELETE", "/api/v1/runs/" + id, "", admin_key_);
  EXPECT_EQ(reply.status, 204);
  EXPECT_EQ(Get("/api/v1/runs/" + id, admin_key_).status, 404);
}

TEST_F(RestTest, SearchFiltersAndSortsLikeTheCli) {
  for (double lr : {0.1, 0.01, 0.001}) {
    CreateRun("root", "sweep", admin_key_, {{"config", {{"lr", lr}}}});
  }
  CreateRun("root", "other", admin_key_, {{"config", {{"lr", 0.5}}}});
  Reply reply =
      Get("/api/v1/runs?entity=root&project=sweep&filter=config.lr%20%3C%200.05"
          "&sort=config.lr",
          admin_key_);
  ASSERT_EQ(reply.status, 200) << reply.raw;
  ASSERT_EQ(reply.body["runs"].size(), 2u);
  EXPECT_EQ(reply.body["runs"][0]["config"]["lr"], 0.001);
  EXPECT_EQ(reply.body["runs"][1]["config"]["lr"], 0.01);

  reply = Get("/api/v1/runs?sort=-config.lr&limit=1", admin_key_);
  ASSERT_EQ(reply.body["runs"].size(), 1u);
  EXPECT_EQ(reply.body["runs"][0]["config"]["lr"], 0.5);

  reply = Get("/api/v1/runs?filter=config.lr%20%3C", admin_key_);
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(reply.raw.find("query parameter 'filter'"), std::string::npos) << reply.raw;
}

// GET /history: one key of many runs in one request, each series what the per-run route answers.
TEST_F(RestTest, HistoryOfManyRunsInOneRequest) {
  std::vector<std::string> ids;
  for (int r = 0; r < 3; ++r) {
    ids.push_back(CreateRun("root", "p", admin_key_));
    if (r == 2) break;  // the third run never logs "loss"
    json points = json::array();
    for (int step = 0; step < 400; ++step) {
      points.push_back({0, step, step == 100 * (r + 1) ? 50.0 : r + 1.0 / (1 + step), 1e9 + step});
    }
    ASSERT_EQ(Post("/api/v1/runs/" + ids.back() + "/history",
                   {{"keys", {"loss"}}, {"points", points}}, admin_key_)
                  .status,
              200);
  }
  const std::string list = ids[1] + "," + ids[0] + "," + ids[2];
  Reply reply = Get("/api/v1/history?runs=" + list + "&key=loss&samples=40", admin_key_);
  ASSERT_EQ(reply.status, 200) << reply.raw;
  ASSERT_EQ(reply.body["series"].size(), 3u) << reply.raw;
  const std::string order[] = {ids[1], ids[0], ids[2]};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(reply.body["series"][i]["run"], order[i]);
    if (i == 2) {
      EXPECT_EQ(reply.body["series"][i]["series"]["steps"].size(), 0u) << reply.raw;
      continue;
    }
    const Reply one = Get("/api/v1/runs/" + order[i] + "/history?key=loss&samples=40", admin_key_);
    EXPECT_EQ(reply.body["series"][i]["series"], one.body["series"]);
    EXPECT_LE(one.body["series"]["steps"].size(), 40u);
  }

  // Every run must be readable: a private run of someone else hides the whole answer.
  const std::string bob = CreateUser("bob");
  const std::string bobs = CreateRun("bob", "mine", bob);
  EXPECT_EQ(
      Get("/api/v1/history?runs=" + ids[0] + "," + bobs + "&key=loss", CreateUser("eve")).status,
      404);
  EXPECT_EQ(Get("/api/v1/history?runs=" + ids[0] + "&key=loss").status, 404);
  EXPECT_EQ(Get("/api/v1/history?runs=&key=loss", admin_key_).status, 400);
  EXPECT_EQ(Get("/api/v1/history?runs=" + ids[0], admin_key_).status, 400);
  std::string too_many;
  for (int i = 0; i < 201; ++i) too_many += (i ? "," : "") + ids[0];
  reply = Get("/api/v1/history?runs=" + too_many + "&key=loss", admin_key_);
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(reply.raw.find("at most 200"), std::string::npos) << reply.raw;
}

// GET /compare: the runs and the keys each logged, as the per-run routes answer them.
TEST_F(RestTest, CompareReadsRunsAndTheirKeysInOneRequest) {
  const std::string a = CreateRun("root", "p", admin_key_, {{"name", "a"}});
  const std::string b = CreateRun("root", "p", admin_key_, {{"name", "b"}});
  ASSERT_EQ(Post("/api/v1/runs/" + a + "/history",
                 {{"keys", {"loss", "acc"}}, {"points", {{0, 1, 0.5, 1e9}, {1, 1, 0.7, 1e9}}}},
                 admin_key_)
                .status,
            200);
  Reply reply = Get("/api/v1/compare?runs=" + b + "," + a.substr(0, 6), admin_key_);
  ASSERT_EQ(reply.status, 200) << reply.raw;
  ASSERT_EQ(reply.body["runs"].size(), 2u);
  EXPECT_EQ(reply.body["runs"][0]["run"], Get("/api/v1/runs/" + b, admin_key_).body["run"]);
  EXPECT_EQ(reply.body["runs"][0]["keys"].size(), 0u);
  EXPECT_EQ(reply.body["runs"][1]["run"]["id"], a);
  EXPECT_EQ(reply.body["runs"][1]["keys"],
            Get("/api/v1/runs/" + a + "/keys", admin_key_).body["keys"]);
  EXPECT_EQ(Get("/api/v1/compare?runs=" + a).status, 404);
  EXPECT_EQ(Get("/api/v1/compare?runs=" + a + ",zzzzzzzz", admin_key_).status, 404);
  EXPECT_EQ(Get("/api/v1/compare", admin_key_).status, 400);
}

TEST_F(RestTest, HistoryJsonAndBinaryWithDownsampling) {
  const std::string id = CreateRun("root", "p", admin_key_);
  track::HistoryBatch batch;
  batch.keys = {"loss", "acc"};
  for (int64_t step = 0; step < 1000; ++step) {
    batch.points.push_back({0, step, step == 500 ? 100.0 : 1.0 / (1 + step), 1e9 + step});
  }
  batch.points.push_back({1, 7, std::nan(""), 1e9});
  Reply reply =
      Send("POST", "/api/v1/runs/" + id + "/history", track::wire::EncodeHistoryBatch(batch),
           admin_key_, std::string(track::wire::kHistoryBatchMediaType));
  ASSERT_EQ(reply.status, 200) << reply.raw;
  EXPECT_EQ(reply.body["points"], 1001);

  // JSON, one more point, and a step sent again keeps the later value.
  reply = Post("/api/v1/runs/" + id + "/history",
               {{"keys", {"acc"}}, {"points", {{0, 8, 0.5, 1e9}, {0, 7, 0.25, 1e9}}}}, admin_key_);
  ASSERT_EQ(reply.status, 200) << reply.raw;

  reply = Get("/api/v1/runs/" + id + "/keys", admin_key_);
  ASSERT_EQ(reply.body["keys"].size(), 2u);

  reply = Get("/api/v1/runs/" + id + "/history?key=loss&samples=50", admin_key_);
  ASSERT_EQ(reply.status, 200) << reply.raw;
  auto series = track::wire::SeriesFromJson(reply.body["series"], "series");
  ASSERT_TRUE(series.ok()) << series.status().ToString();
  EXPECT_TRUE(series->downsampled);
  EXPECT_LE(series->values.size(), 50u);
  EXPECT_EQ(series->points_in_range, 1000);
  EXPECT_NE(std::find(series->values.begin(), series->values.end(), 100.0), series->values.end())
      << "the spike survives downsampling";

  reply = Get("/api/v1/runs/" + id + "/history?key=acc", admin_key_);
  series = track::wire::SeriesFromJson(reply.body["series"], "series");
  ASSERT_TRUE(series.ok());
  ASSERT_EQ(series->values.size(), 2u);
  EXPECT_EQ(series->values[0], 0.25);

  EXPECT_EQ(Get("/api/v1/runs/" + id + "/history?key=loss&samples=x", admin_key_).status, 400);
  EXPECT_EQ(Get("/api/v1/runs/" + id + "/history", admin_key_).status, 400);
  EXPECT_EQ(Get("/api/v1/runs/" + id + "/history?key=nope", admin_key_).status, 404);

  reply = Send("POST", "/api/v1/runs/" + id + "/history", "LBH1garbage", admin_key_,
               std::string(track::wire::kHistoryBatchMediaType));
  EXPECT_EQ(reply.status, 400);
}

TEST_F(RestTest, ArtifactUploadDownloadAndRange) {
  const std::string run = CreateRun("root", "p", admin_key_);
  const std::string content = "0123456789abcdefghij model bytes";
  const std::string sha = Sha256Hex(content);
  const std::string blob = "/api/v1/projects/root/p/blobs/" + sha;

  auto client = Client();
  auto head = client.Head(blob, Auth(admin_key_));
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 404);

  // Bytes that do not match the digest are refused and not kept.
  Reply reply = Send("PUT", blob, content + "x", admin_key_, "application/octet-stream");
  EXPECT_EQ(reply.status, 422);
  EXPECT_EQ(reply.body["error"]["code"], "data_loss");
  head = client.Head(blob, Auth(admin_key_));
  EXPECT_EQ(head->status, 404);

  reply = Send("PUT", blob, content, admin_key_, "application/octet-stream");
  ASSERT_EQ(reply.status, 201) << reply.raw;
  head = client.Head(blob, Auth(admin_key_));
  EXPECT_EQ(head->status, 200);

  json file = {{"path", "model.lbm"}, {"sha256", sha}, {"size", content.size()}};
  reply = Post("/api/v1/artifacts",
               {{"entity", "root"},
                {"project", "p"},
                {"name", "cnn"},
                {"type", "model"},
                {"producer_run", run},
                {"files", {file}}},
               admin_key_);
  ASSERT_EQ(reply.status, 201) << reply.raw;
  EXPECT_EQ(reply.body["artifact"]["version"], 0);

  // The same contents again add no version.
  reply = Post(
      "/api/v1/artifacts",
      {{"entity", "root"}, {"project", "p"}, {"name", "cnn"}, {"type", "model"}, {"files", {file}}},
      admin_key_);
  EXPECT_EQ(reply.body["artifact"]["version"], 0);

  reply = Get("/api/v1/artifacts/root/p/cnn/latest", admin_key_);
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body["artifact"]["files"][0]["sha256"], sha);

  auto whole = client.Get("/api/v1/artifacts/root/p/cnn/v0/files/model.lbm", Auth(admin_key_));
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->status, 200);
  EXPECT_EQ(whole->body, content);

  httplib::Headers range = Auth(admin_key_);
  range.emplace("Range", "bytes=10-19");
  auto part = client.Get("/api/v1/artifacts/root/p/cnn/v0/files/model.lbm", range);
  ASSERT_TRUE(part);
  EXPECT_EQ(part->status, 206);
  EXPECT_EQ(part->body, "abcdefghij");

  auto by_digest = client.Get("/api/v1/blobs/" + sha, Auth(admin_key_));
  ASSERT_TRUE(by_digest);
  EXPECT_EQ(by_digest->body, content);

  reply = Get("/api/v1/runs/" + run + "/artifacts", admin_key_);
  ASSERT_EQ(reply.body["produced"].size(), 1u);
}

TEST_F(RestTest, NamesAndPathsCannotEscapeTheBlobDirectory) {
  const std::string content = "secret-free bytes";
  const std::string sha = Sha256Hex(content);
  ASSERT_EQ(Send("PUT", "/api/v1/projects/root/p/blobs/" + sha, content, admin_key_,
                 "application/octet-stream")
                .status,
            201);
  for (const std::string& bad :
       std::vector<std::string>{"..%2F..%2Fauth.db", "..", "auth.db", sha.substr(0, 63) + "/"}) {
    Reply reply = Send("PUT", "/api/v1/projects/root/p/blobs/" + bad, content, admin_key_,
                       "application/octet-stream");
    EXPECT_TRUE(reply.status == 400 || reply.status == 404) << bad << ": " << reply.raw;
    EXPECT_EQ(Get("/api/v1/blobs/" + bad, admin_key_).status == 200, false) << bad;
  }
  for (const std::string& path :
       std::vector<std::string>{"../escape.txt", "/etc/passwd", "a/../../b", "a\\b"}) {
    Reply reply = Post("/api/v1/artifacts",
                       {{"entity", "root"},
                        {"project", "p"},
                        {"name", "bad"},
                        {"type", "model"},
                        {"files", {{{"path", path}, {"sha256", sha}, {"size", content.size()}}}}},
                       admin_key_);
    EXPECT_EQ(reply.status, 400) << path << ": " << reply.raw;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ / "escape.txt"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "data" / "escape.txt"));
  // A blob never uploaded is a precondition failure, not a path lookup.
  Reply reply = Post("/api/v1/artifacts",
                     {{"entity", "root"},
                      {"project", "p"},
                      {"name", "m"},
                      {"type", "model"},
                      {"files", {{{"path", "x"}, {"sha256", std::string(64, 'a')}, {"size", 1}}}}},
                     admin_key_);
  EXPECT_EQ(reply.status, 412) << reply.raw;
}

TEST_F(RestTest, TablesAreCsv) {
  const std::string run = CreateRun("root", "p", admin_key_);
  const std::string csv = "index,label,predicted\n0,7,7\n1,2,1\n";
  const std::string sha = Sha256Hex(csv);
  ASSERT_EQ(Send("PUT", "/api/v1/projects/root/p/blobs/" + sha, csv, admin_key_, "text/csv").status,
            201);
  ASSERT_EQ(
      Post("/api/v1/artifacts",
           {{"entity", "root"},
            {"project", "p"},
            {"name", "predictions"},
            {"type", "table"},
            {"producer_run", run},
            {"files", {{{"path", "predictions.csv"}, {"sha256", sha}, {"size", csv.size()}}}}},
           admin_key_)
          .status,
      201);
  Reply reply = Get("/api/v1/runs/" + run + "/tables", admin_key_);
  ASSERT_EQ(reply.body["tables"].size(), 1u);
  EXPECT_EQ(reply.body["tables"][0]["name"], "predictions");
  reply = Get("/api/v1/runs/" + run + "/tables/predictions", admin_key_);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.raw, csv);
  EXPECT_EQ(Get("/api/v1/runs/" + run + "/tables/nope", admin_key_).status, 404);
}

TEST_F(RestTest, KeysAreListedWithoutSecretsAndRevokedAtOnce) {
  const std::string alice = CreateUser("alice");
  Reply reply = Post("/api/v1/keys", {{"name", "laptop"}}, alice);
  ASSERT_EQ(reply.status, 201) << reply.raw;
  const std::string laptop = reply.body["secret"];
  const std::string laptop_id = reply.body["key"]["id"];
  secrets_.push_back(laptop);
  EXPECT_GE(laptop.size(), 40u);

  EXPECT_EQ(Get("/api/v1/viewer", laptop).body["user"], "alice");
  reply = Get("/api/v1/keys", alice);
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body["keys"].size(), 2u);
  EXPECT_EQ(reply.raw.find(laptop), std::string::npos);
  EXPECT_EQ(reply.raw.find(alice), std::string::npos);
  bool seen_used = false;
  for (const auto& key : reply.body["keys"]) {
    if (key["id"] == laptop_id) seen_used = key["last_used_time"].get<double>() > 0;
  }
  EXPECT_TRUE(seen_used);

  // alice may not make keys for others, nor list users.
  EXPECT_EQ(Post("/api/v1/keys", {{"user", "root"}}, alice).status, 403);
  EXPECT_EQ(Get("/api/v1/users", alice).status, 403);
  EXPECT_EQ(Get("/api/v1/users", admin_key_).body["users"].size(), 2u);

  EXPECT_EQ(Send("DELETE", "/api/v1/keys/" + laptop_id, "", alice).status, 204);
  EXPECT_EQ(Get("/api/v1/viewer", laptop).status, 401);
  EXPECT_EQ(Get("/api/v1/viewer", alice).status, 200);
  // No key at all is a visitor: no user, nothing to refuse.
  const Reply visitor = Get("/api/v1/viewer");
  EXPECT_EQ(visitor.status, 200) << visitor.raw;
  EXPECT_TRUE(visitor.body["user"].is_null()) << visitor.raw;
  EXPECT_EQ(visitor.body["admin"], false);
  // Another user's key id looks absent.
  const std::string bob = CreateUser("bob");
  reply = Get("/api/v1/keys", alice);
  EXPECT_EQ(
      Send("DELETE", "/api/v1/keys/" + reply.body["keys"][0]["id"].get<std::string>(), "", bob)
          .status,
      404);
}

TEST_F(RestTest, TeamsAndMembers) {
  const std::string alice = CreateUser("alice");
  const std::string bob = CreateUser("bob");
  ASSERT_EQ(Post("/api/v1/teams", {{"name", "vision"}}, alice).status, 201);
  EXPECT_EQ(Post("/api/v1/teams", {{"name", "vision"}}, bob).status, 409);
  EXPECT_EQ(Get("/api/v1/teams/vision/members", bob).status, 404);
  EXPECT_EQ(Send("PUT", "/api/v1/teams/vision/members/bob", R"({"role": "viewer"})", bob).status,
            404);
  Reply reply = Send("PUT", "/api/v1/teams/vision/members/bob", R"({"role": "viewer"})", alice);
  ASSERT_EQ(reply.status, 200) << reply.raw;
  reply = Get("/api/v1/teams/vision/members", bob);
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body["members"].size(), 2u);
  EXPECT_EQ(Send("PUT", "/api/v1/teams/vision/members/bob", R"({"role": "boss"})", alice).status,
            400);
  // A viewer reads but does not write.
  const std::string run = CreateRun("vision", "cnn", alice);
  EXPECT_EQ(Get("/api/v1/runs/" + run, bob).status, 200);
  EXPECT_EQ(Post("/api/v1/runs", {{"entity", "vision"}, {"project", "cnn"}}, bob).status, 403);
  EXPECT_EQ(Send("DELETE", "/api/v1/teams/vision/members/bob", "", alice).status, 204);
  EXPECT_EQ(Get("/api/v1/runs/" + run, bob).status, 404);
}

TEST_F(RestTest, PrivateProjectsAreInvisibleAndPublicOnesReadOnly) {
  const std::string alice = CreateUser("alice");
  const std::string bob = CreateUser("bob");
  ASSERT_EQ(Post("/api/v1/teams", {{"name", "vision"}}, alice).status, 201);
  const std::string run = CreateRun("vision", "cnn", alice);
  ASSERT_EQ(Post("/api/v1/runs/" + run + "/history",
                 {{"keys", {"loss"}}, {"points", {{0, 0, 1.0, 1e9}}}}, alice)
                .status,
            200);

  // Private: the same 404 as a run that does not exist, for anonymous callers and outsiders.
  for (const std::string& key : {std::string(), bob}) {
    Reply missing = Get("/api/v1/runs/zzzzzzzz", key);
    Reply hidden = Get("/api/v1/runs/" + run, key);
    EXPECT_EQ(hidden.status, 404);
    EXPECT_EQ(hidden.body["error"]["code"], missing.body["error"]["code"]);
    EXPECT_EQ(Get("/api/v1/runs/" + run + "/history?key=loss", key).status, 404);
    EXPECT_EQ(Get("/api/v1/projects/vision/cnn", key).status, 404);
    EXPECT_EQ(Get("/api/v1/runs?entity=vision&project=cnn", key).status, 404);
    EXPECT_EQ(Get("/api/v1/runs", key).body["runs"].size(), 0u);
    EXPECT_EQ(Get("/api/v1/projects", key).body["projects"].size(), 0u);
  }
  EXPECT_EQ(Post("/api/v1/runs/" + run + "/history",
                 {{"keys", {"loss"}}, {"points", {{0, 1, 1.0, 1e9}}}}, bob)
                .status,
            404);
  // Only the entity's admins change visibility.
  EXPECT_EQ(Send("PATCH", "/api/v1/projects/vision/cnn", R"({"visibility": "public"})", bob).status,
            404);
  Reply made_public =
      Send("PATCH", "/api/v1/projects/vision/cnn", R"({"visibility": "public"})", alice);
  ASSERT_EQ(made_public.status, 200) << made_public.raw;
  EXPECT_EQ(made_public.body["project"]["visibility"], "public");

  // Public: anyone reads, outsiders still do not write.
  for (const std::string& key : {std::string(), bob}) {
    EXPECT_EQ(Get("/api/v1/runs/" + run, key).status, 200);
    EXPECT_EQ(Get("/api/v1/runs/" + run + "/history?key=loss", key).status, 200);
    EXPECT_EQ(Get("/api/v1/projects", key).body["projects"].size(), 1u);
  }
  EXPECT_EQ(
      Post("/api/v1/runs/" + run + "/history", {{"keys", {"loss"}}, {"points", {{0, 1, 1.0, 1e9}}}})
          .status,
      401);
  EXPECT_EQ(Post("/api/v1/runs/" + run + "/history",
                 {{"keys", {"loss"}}, {"points", {{0, 1, 1.0, 1e9}}}}, bob)
                .status,
            403);
  EXPECT_EQ(Send("PATCH", "/api/v1/runs/" + run, R"({"notes": "mine"})", bob).status, 403);
  EXPECT_EQ(Send("DELETE", "/api/v1/runs/" + run, "", bob).status, 403);
  EXPECT_EQ(Post("/api/v1/runs", {{"entity", "vision"}, {"project", "cnn"}}, bob).status, 403);
}

TEST_F(RestTest, AccessLogNamesPathsNotQueriesOrKeys) {
  const std::string alice = CreateUser("alice");
  Get("/api/v1/runs?filter=name%20%3D%20%27x%27", alice);
  bool found = false;
  for (const std::string& line : Log()) {
    if (line.rfind("GET /api/v1/runs ", 0) == 0) {
      found = true;
      EXPECT_EQ(line.find("filter"), std::string::npos) << line;
      EXPECT_NE(line.find(" 200 "), std::string::npos) << line;
      EXPECT_NE(line.find("alice"), std::string::npos) << line;
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(RestTest, StopFinishesTheRequestInFlight) {
  const std::string content(8u << 20, 'z');
  const std::string sha = Sha256Hex(content);
  std::atomic<bool> halfway{false};
  std::thread uploader([&] {
    auto client = Client();
    size_t offset = 0;
    auto result = client.Put(
        "/api/v1/projects/root/p/blobs/" + sha, Auth(admin_key_), content.size(),
        [&](size_t at, size_t length, httplib::DataSink& sink) {
          const size_t chunk = std::min<size_t>(length, 1u << 20);
          if (at >= content.size() / 2) {
            halfway = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
          }
          offset = at + chunk;
          return sink.write(content.data() + at, chunk);
        },
        "application/octet-stream");
    ASSERT_TRUE(result) << httplib::to_string(result.error());
    EXPECT_EQ(result->status, 201);
  });
  while (!halfway) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  server_->Stop();
  uploader.join();
  EXPECT_EQ(std::filesystem::file_size(dir_ / "data" / "uploads" / sha), content.size());
  // A stopped server takes no new connections.
  httplib::Client late("127.0.0.1", server_->port());
  late.set_connection_timeout(1);
  EXPECT_FALSE(late.Get("/api/v1/health"));
}

TEST_F(RestTest, ATakenPortIsAnError) {
  ServerOptions options;
  options.port = server_->port();
  options.data_dir = dir_ / "second";
  Result<std::unique_ptr<Server>> second = Server::Create(options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(second.status().message().find(std::to_string(server_->port())), std::string::npos);
}

}  // namespace
}  // namespace labbook::server
