// labbook users, keys, team and project against a real server: a created user's printed key
// works, a revoked key stops working (exit code 6), team membership and project visibility
// change as asked, and no secret is ever printed on stderr.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <sstream>

#include "cli_runner.hpp"
#include "labbook/status.hpp"
#include "test_server.hpp"
#include "track/http/http_store.hpp"

namespace labbook::track::http {
namespace {

namespace fs = std::filesystem;
using labbook::testing::CliResult;
using labbook::testing::RunCli;
using ::testing::HasSubstr;
using ::testing::Not;

class AdminCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::ClearClientEnvironment();
    dir_ = labbook::testing::MakeTempDir("labbook-admin-cli");
    server_ = test::TestServer::Start(fs::path(dir_) / "server");
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }
  // The environment of a command using `key`, with the server in LABBOOK_BASE_URL.
  std::vector<std::string> Env(const std::string& key) const {
    return {"LABBOOK_API_KEY=" + key, "LABBOOK_BASE_URL=" + server_->base_url(),
            "XDG_CONFIG_HOME=" + dir_ + "/config", "NO_COLOR=1"};
  }
  // Runs `args`, expecting success and no secret on stderr.
  CliResult Ok(std::vector<std::string> args, const std::string& key) {
    CliResult result = RunCli(args, Env(key));
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_THAT(result.err, Not(HasSubstr("lb-")));
    return result;
  }
  // A client of the REST API with `key` (empty: anonymous).
  std::unique_ptr<HttpRunStore> Client(const std::string& key) const {
    HttpStoreOptions options;
    options.base_url = server_->base_url();
    options.api_key = key;
    options.retry.max_attempts = 1;
    Result<std::unique_ptr<HttpRunStore>> client = HttpRunStore::Open(options);
    EXPECT_TRUE(client.ok());
    return client.ok() ? std::move(*client) : nullptr;
  }

  std::string dir_;
  std::unique_ptr<test::TestServer> server_;
};

// The only line of `out`, which must be a key.
std::string SecretOf(const CliResult& result) {
  std::string secret = result.out;
  EXPECT_FALSE(secret.empty());
  if (!secret.empty() && secret.back() == '\n') secret.pop_back();
  EXPECT_EQ(secret.find('\n'), std::string::npos) << result.out;
  EXPECT_EQ(secret.rfind("lb-", 0), 0u) << result.out;
  return secret;
}

TEST_F(AdminCliTest, CreatedUsersKeyWorksUntilRevoked) {
  const CliResult created = Ok({"users", "create", "carol"}, server_->key());
  const std::string carol = SecretOf(created);

  const CliResult listed = Ok({"keys", "list", "--json"}, carol);
  nlohmann::json keys = nlohmann::json::parse(listed.out);
  ASSERT_TRUE(keys.is_array());
  ASSERT_EQ(keys.size(), 1u) << listed.out;
  EXPECT_EQ(keys[0]["user"], "carol");
  EXPECT_EQ(keys[0]["revoked"], false);
  EXPECT_THAT(listed.out, Not(HasSubstr("lb-")));
  const std::string carol_id = keys[0]["id"];

  const CliResult table = Ok({"keys", "list"}, carol);
  EXPECT_THAT(table.out, HasSubstr("last used"));
  EXPECT_THAT(table.out, HasSubstr(carol_id));
  EXPECT_THAT(table.out, Not(HasSubstr("lb-")));

  // A second key for herself, then the first one revoked: it fails at once, the second works.
  const std::string laptop = SecretOf(Ok({"keys", "create", "--name", "laptop"}, carol));
  EXPECT_NE(laptop, carol);
  const CliResult revoked = Ok({"keys", "revoke", carol_id}, carol);
  EXPECT_THAT(revoked.out, HasSubstr(carol_id));
  const CliResult refused = RunCli({"keys", "list"}, Env(carol));
  EXPECT_EQ(refused.exit_code, ExitCodeFor(ErrorCode::kUnauthenticated)) << refused.err;
  EXPECT_EQ(refused.exit_code, 6);
  EXPECT_THAT(refused.err, Not(HasSubstr(carol)));
  EXPECT_THAT(refused.out, Not(HasSubstr(carol)));

  const CliResult after = Ok({"keys", "list", "--json", "--user", "carol"}, server_->key());
  nlohmann::json both = nlohmann::json::parse(after.out);
  ASSERT_EQ(both.size(), 2u) << after.out;
  for (const nlohmann::json& key : both) {
    EXPECT_EQ(key["revoked"], key["id"] == carol_id) << key.dump();
  }
  Ok({"keys", "list"}, laptop);
}

TEST_F(AdminCliTest, OnlyServerAdminsCreateUsers) {
  const std::string carol = SecretOf(Ok({"users", "create", "carol"}, server_->key()));
  const CliResult refused = RunCli({"users", "create", "dave"}, Env(carol));
  EXPECT_EQ(refused.exit_code, ExitCodeFor(ErrorCode::kPermissionDenied)) << refused.err;
  EXPECT_THAT(refused.err, Not(HasSubstr("lb-")));
  EXPECT_TRUE(refused.out.empty()) << refused.out;
  const CliResult again = RunCli({"users", "create", "carol"}, Env(server_->key()));
  EXPECT_EQ(again.exit_code, ExitCodeFor(ErrorCode::kAlreadyExists)) << again.err;
}

TEST_F(AdminCliTest, TeamMembersGetTheirRoleAndLoseItWhenRemoved) {
  const std::string carol = SecretOf(Ok({"users", "create", "carol"}, server_->key()));
  Ok({"team", "create", "vision"}, server_->key());
  const CliResult added = Ok({"team", "add", "vision", "carol"}, server_->key());
  EXPECT_THAT(added.out, HasSubstr("member"));

  // As a member, carol records a run in the team's project.
  std::unique_ptr<HttpRunStore> as_carol = Client(carol);
  ASSERT_NE(as_carol, nullptr);
  RunInfo run;
  run.id = "adm0run1";
  run.entity = "vision";
  run.project = "cnn";
  run.host = "trainer";
  run.start_time = 1714557600;
  run.heartbeat_time = run.start_time;
  Result<RunInfo> created = as_carol->CreateRun(run);
  ASSERT_TRUE(created.ok()) << created.status().message();

  Ok({"team", "add", "vision", "carol", "--role", "viewer"}, server_->key());
  run.id = "adm0run2";
  EXPECT_EQ(as_carol->CreateRun(run).status().code(), ErrorCode::kPermissionDenied);

  Ok({"team", "remove", "vision", "carol"}, server_->key());
  Result<RunInfo> hidden = as_carol->GetRun("adm0run1");
  EXPECT_EQ(hidden.status().code(), ErrorCode::kNotFound);

  const CliResult bad_role =
      RunCli({"team", "add", "vision", "carol", "--role", "owner"}, Env(server_->key()));
  EXPECT_EQ(bad_role.exit_code, ExitCodeFor(ErrorCode::kInvalidArgument));
}

TEST_F(AdminCliTest, ProjectVisibilityMakesAProjectReadableByAnyone) {
  std::unique_ptr<HttpRunStore> as_admin = Client(server_->key());
  ASSERT_NE(as_admin, nullptr);
  RunInfo run;
  run.id = "adm0run3";
  run.entity = "team";
  run.project = "cnn";
  run.host = "trainer";
  run.start_time = 1714557600;
  run.heartbeat_time = run.start_time;
  Result<RunInfo> created = as_admin->CreateRun(run);
  ASSERT_TRUE(created.ok()) << created.status().message();

  std::unique_ptr<HttpRunStore> anonymous = Client("");
  ASSERT_NE(anonymous, nullptr);
  EXPECT_FALSE(anonymous->GetRun(run.id).ok());

  const CliResult made =
      Ok({"project", "visibility", "team/cnn", "public", "--host", server_->base_url()},
         server_->key());
  EXPECT_THAT(made.out, HasSubstr("public"));
  Result<RunInfo> seen = anonymous->GetRun(run.id);
  ASSERT_TRUE(seen.ok()) << seen.status().message();
  EXPECT_EQ(seen->project, "cnn");

  Ok({"project", "visibility", "team/cnn", "private"}, server_->key());
  EXPECT_FALSE(anonymous->GetRun(run.id).ok());

  const CliResult malformed =
      RunCli({"project", "visibility", "cnn", "public"}, Env(server_->key()));
  EXPECT_EQ(malformed.exit_code, ExitCodeFor(ErrorCode::kInvalidArgument));
}

TEST_F(AdminCliTest, NoKeyIsUnauthenticatedWithoutAskingTheServer) {
  const CliResult result = RunCli({"keys", "list"}, {"LABBOOK_BASE_URL=" + server_->base_url(),
                                                     "XDG_CONFIG_HOME=" + dir_ + "/config"});
  EXPECT_EQ(result.exit_code, ExitCodeFor(ErrorCode::kUnauthenticated)) << result.err;
  EXPECT_THAT(result.err, HasSubstr("LABBOOK_API_KEY"));
}

}  // namespace
}  // namespace labbook::track::http
