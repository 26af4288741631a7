// Where the client finds its server and key: the order of the sources, .env parsing, and the
// credentials file `labbook login` writes (mode 0600, one key per server).
#include "track/http/credentials.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>

namespace labbook::track::http {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

BaseUrl Url(const std::string& text) {
  Result<BaseUrl> url = ParseBaseUrl(text);
  EXPECT_TRUE(url.ok()) << url.status().ToString();
  return url.ok() ? *url : BaseUrl{};
}

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    root_ = fs::temp_directory_path() / ("labbook-credentials-test-" + std::to_string(getpid()) +
                                         "-" + std::to_string(counter++));
    fs::remove_all(root_);
    fs::create_directories(root_ / "work");
    environment_["HOME"] = (root_ / "home").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  CredentialContext Context() const {
    CredentialContext context;
    context.getenv = [this](const std::string& name) -> std::optional<std::string> {
      auto it = environment_.find(name);
      if (it == environment_.end()) return std::nullopt;
      return it->second;
    };
    context.working_directory = root_ / "work";
    return context;
  }
  void WriteDotEnv(const std::string& text) const {
    std::ofstream(root_ / "work" / ".env", std::ios::binary) << text;
  }
  fs::path root_;
  std::map<std::string, std::string> environment_;
};

TEST(DotEnvTest, ReadsCommentsQuotesAndExportPrefixes) {
  const std::string text =
      "# the team server\n"
      "\n"
      "LABBOOK_BASE_URL=http://lab:8080\n"
      "export LABBOOK_API_KEY = 'lb-single # not a comment'\n"
      "  WANDB_API_KEY=\"with \\\"escapes\\\"\\n\"  # a comment\n"
      "PLAIN=value # a comment\n"
      "HASH=a#b\n"
      "EMPTY=\n"
      "MULTI=\"first\n"
      "second\"\n"
      "WINDOWS=crlf\r\n";
  Result<std::map<std::string, std::string>> values = ParseDotEnv(text, ".env");
  ASSERT_TRUE(values.ok()) << values.status().ToString();
  EXPECT_EQ(values->at("LABBOOK_BASE_URL"), "http://lab:8080");
  EXPECT_EQ(values->at("LABBOOK_API_KEY"), "lb-single # not a comment");
  EXPECT_EQ(values->at("WANDB_API_KEY"), "with \"escapes\"\n");
  EXPECT_EQ(values->at("PLAIN"), "value");
  EXPECT_EQ(values->at("HASH"), "a#b");
  EXPECT_EQ(values->at("EMPTY"), "");
  EXPECT_EQ(values->at("MULTI"), "first\nsecond");
  EXPECT_EQ(values->at("WINDOWS"), "crlf");
  EXPECT_EQ(values->size(), 8u);
}

TEST(DotEnvTest, ErrorsNameTheLineButNeverItsText) {
  for (const std::string& text :
       {std::string("OK=1\nlb-secret-key\n"), std::string("OK=1\nlb secret=key\n"),
        std::string("OK=1\nKEY='lb-secret-key\n"), std::string("OK=1\nKEY=\"lb-secret\" key\n")}) {
    Result<std::map<std::string, std::string>> values = ParseDotEnv(text, "/w/.env");
    ASSERT_FALSE(values.ok()) << text;
    EXPECT_EQ(values.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(values.status().message(), HasSubstr("/w/.env:2: "));
    EXPECT_THAT(values.status().message(), Not(HasSubstr("secret")));
  }
}

TEST(BaseUrlTest, OneSpellingPerServer) {
  EXPECT_EQ(Url("HTTP://Lab.Example:80/").ToString(), "http://lab.example");
  EXPECT_EQ(Url("https://lab.example:443").ToString(), "https://lab.example");
  EXPECT_EQ(Url("http://127.0.0.1:8080/labbook/").ToString(), "http://127.0.0.1:8080/labbook");
  EXPECT_EQ(Url("http://[::1]:9000").host, "[::1]");
  EXPECT_EQ(Url("http://[::1]:9000").port, 9000);
  EXPECT_FALSE(ParseBaseUrl("ftp://lab").ok());
  EXPECT_FALSE(ParseBaseUrl("http://lab:99999").ok());
  EXPECT_FALSE(ParseBaseUrl("http://lab?x=1").ok());
  Result<BaseUrl> with_key = ParseBaseUrl("http://api:lb-secret@lab:8080");
  ASSERT_FALSE(with_key.ok());
  EXPECT_THAT(with_key.status().message(), Not(HasSubstr("lb-secret")));
}

TEST_F(CredentialsTest, TheKeyComesFromTheFirstSourceThatHasOne) {
  const BaseUrl server = Url("http://lab:8080");
  ASSERT_TRUE(StoreApiKey(server, "from-file", "alice", Context()).ok());
  auto resolved = [&] {
    Result<ApiKey> key = ResolveApiKey(server, Context());
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    return key.ok() ? key->secret : "<error>";
  };
  EXPECT_EQ(resolved(), "from-file");
  WriteDotEnv("WANDB_API_KEY=dotenv-wandb\n");
  EXPECT_EQ(resolved(), "dotenv-wandb");
  WriteDotEnv("WANDB_API_KEY=dotenv-wandb\nLABBOOK_API_KEY=dotenv-labbook\n");
  EXPECT_EQ(resolved(), "dotenv-labbook");
  environment_["WANDB_API_KEY"] = "env-wandb";
  EXPECT_EQ(resolved(), "env-wandb");
  environment_["LABBOOK_API_KEY"] = "env-labbook";
  EXPECT_EQ(resolved(), "env-labbook");
  Result<ApiKey> key = ResolveApiKey(server, Context());
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->source, "LABBOOK_API_KEY");
  // An empty variable counts as unset.
  environment_["LABBOOK_API_KEY"] = "";
  EXPECT_EQ(resolved(), "env-wandb");
}

TEST_F(CredentialsTest, TheCredentialsFileKeepsOneKeyPerServer) {
  ASSERT_TRUE(StoreApiKey(Url("http://lab:8080"), "key-lab", "alice", Context()).ok());
  ASSERT_TRUE(StoreApiKey(Url("https://other"), "key-other", "bob", Context()).ok());
  ASSERT_TRUE(StoreApiKey(Url("http://LAB:8080/"), "key-lab-2", "alice", Context()).ok());
  Result<ApiKey> lab = ResolveApiKey(Url("http://lab:8080"), Context());
  ASSERT_TRUE(lab.ok());
  EXPECT_EQ(lab->secret, "key-lab-2");
  Result<ApiKey> other = ResolveApiKey(Url("https://other:443"), Context());
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->secret, "key-other");
  Result<ApiKey> none = ResolveApiKey(Url("http://elsewhere"), Context());
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->secret, "");
}

TEST_F(CredentialsTest, TheCredentialsFileIsReadableByItsOwnerOnly) {
  const fs::path file = root_ / "home" / ".config" / "labbook" / "credentials";
  // A file left readable by others is tightened when rewritten.
  fs::create_directories(file.parent_path());
  std::ofstream(file) << "{\"servers\": {}}";
  fs::permissions(file, fs::perms(0644));
  const mode_t old_umask = umask(0);
  const Status stored = StoreApiKey(Url("http://lab:8080"), "secret", "alice", Context());
  umask(old_umask);
  ASSERT_TRUE(stored.ok()) << stored.ToString();
  struct stat info {};
  ASSERT_EQ(stat(file.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);

  fs::remove_all(root_ / "home");
  ASSERT_TRUE(StoreApiKey(Url("http://lab:8080"), "secret", "alice", Context()).ok());
  ASSERT_EQ(stat(file.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(file.parent_path().c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
}

TEST_F(CredentialsTest, XdgConfigHomeWinsOverHome) {
  environment_["XDG_CONFIG_HOME"] = (root_ / "xdg").string();
  Result<fs::path> path = CredentialsFilePath(Context());
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(*path, root_ / "xdg" / "labbook" / "credentials");
  environment_.erase("XDG_CONFIG_HOME");
  path = CredentialsFilePath(Context());
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(*path, root_ / "home" / ".config" / "labbook" / "credentials");
}

TEST_F(CredentialsTest, ABrokenCredentialsFileIsNamedWithoutItsText) {
  const fs::path file = root_ / "home" / ".config" / "labbook" / "credentials";
  fs::create_directories(file.parent_path());
  std::ofstream(file) << "{\"servers\": {\"http://lab:8080\": lb-secret";
  Result<ApiKey> key = ResolveApiKey(Url("http://lab:8080"), Context());
  ASSERT_FALSE(key.ok());
  EXPECT_THAT(key.status().message(), HasSubstr(file.string()));
  EXPECT_THAT(key.status().message(), Not(HasSubstr("lb-secret")));
}

TEST_F(CredentialsTest, TheBaseUrlComesFromTheEnvironmentThenDotEnv) {
  Result<std::optional<std::string>> url = ResolveBaseUrl(Context());
  ASSERT_TRUE(url.ok());
  EXPECT_FALSE(url->has_value());
  WriteDotEnv("LABBOOK_BASE_URL=http://from-dotenv:8080\n");
  url = ResolveBaseUrl(Context());
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->value_or(""), "http://from-dotenv:8080");
  environment_["LABBOOK_BASE_URL"] = "http://from-env:8080";
  url = ResolveBaseUrl(Context());
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->value_or(""), "http://from-env:8080");
}

}  // namespace
}  // namespace labbook::track::http
