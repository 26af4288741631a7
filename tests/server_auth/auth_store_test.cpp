// The SQLite auth store: key secrets, their storage and lifecycle, users and teams, roles,
// visibility, names, persistence and concurrent use.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <sqlite3.h>

#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "auth_test_util.hpp"

namespace labbook::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string ReadFileBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string Sha256Hex(const std::string& text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static const char kHex[] = "0123456789ABCDEF";
  std::string hex;
  for (const unsigned char byte : digest) {
    hex.push_back(kHex[byte >> 4]);
    hex.push_back(kHex[byte & 0xf]);
  }
  return hex;
}

bool IsAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

TEST(AuthNamesTest, RoleAndVisibilityNamesRoundTrip) {
  for (const Role role : {Role::kViewer, Role::kMember, Role::kAdmin}) {
    EXPECT_EQ(ParseRole(RoleName(role)), role);
  }
  EXPECT_EQ(RoleName(Role::kMember), "member");
  EXPECT_EQ(ParseRole("owner"), std::nullopt);
  EXPECT_EQ(ParseRole("Admin"), std::nullopt);
  EXPECT_EQ(ParseVisibility(VisibilityName(Visibility::kPublic)), Visibility::kPublic);
  EXPECT_EQ(ParseVisibility("private"), Visibility::kPrivate);
  EXPECT_EQ(ParseVisibility(""), std::nullopt);
}

TEST_F(AuthStoreTest, KeyHasThePrefixFortyAlphanumericsAndAHexId) {
  MakeUser("alice");
  const NewApiKey key = MakeKey("alice", "laptop");
  ASSERT_EQ(key.secret.size(), 43u);
  EXPECT_EQ(key.secret.substr(0, 3), "lb-");
  for (const char c : key.secret.substr(3)) EXPECT_TRUE(IsAlnum(c)) << key.secret;
  ASSERT_EQ(key.info.id.size(), 12u);
  for (const char c : key.info.id) {
    EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << key.info.id;
  }
  EXPECT_EQ(key.info.user, "alice");
  EXPECT_EQ(key.info.name, "laptop");
  EXPECT_EQ(key.info.created_time, now_.load());
  EXPECT_EQ(key.info.last_used_time, 0);
  EXPECT_FALSE(key.info.revoked);
}

TEST_F(AuthStoreTest, ThousandKeysAreDistinctAndUseTheWholeAlphabet) {
  MakeUser("alice");
  std::set<std::string> secrets;
  std::set<std::string> ids;
  std::map<char, int> counts;
  for (int i = 0; i < 1000; ++i) {
    const NewApiKey key = MakeKey("alice", "key " + std::to_string(i));
    secrets.insert(key.secret);
    ids.insert(key.info.id);
    for (const char c : key.secret.substr(3)) ++counts[c];
  }
  EXPECT_EQ(secrets.size(), 1000u);
  EXPECT_EQ(ids.size(), 1000u);
  // 40,000 uniform draws from 62 characters miss one with probability below 1e-250.
  EXPECT_EQ(counts.size(), 62u);
  // Chi-square against the uniform distribution, 61 degrees of freedom: mean 61, and above 130
  // with probability about 1e-8. A plain `byte % 62` makes 8 characters 25% likelier: about 260.
  const double expected = 40'000.0 / 62;
  double chi_square = 0;
  for (const auto& [c, count] : counts) {
    chi_square += (count - expected) * (count - expected) / expected;
  }
  EXPECT_LT(chi_square, 130) << "the characters of secrets are not uniform";
  Result<std::vector<ApiKeyInfo>> listed = store().ListKeys("alice");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(listed->size(), 1000u);
}

TEST_F(AuthStoreTest, OnlyTheSecretsDigestIsStored) {
  MakeUser("alice");
  const NewApiKey key = MakeKey("alice");
  const std::string random_part = key.secret.substr(3);
  store_.reset();  // checkpoints the WAL into the file

  std::string bytes = ReadFileBytes(db_path());
  ASSERT_FALSE(bytes.empty());
  for (const char* suffix : {"-wal", "-journal", "-shm"}) {
    bytes += ReadFileBytes(db_path().string() + suffix);
  }
  EXPECT_EQ(bytes.find(random_part), std::string::npos);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db_path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT hex(secret_sha256), id, user_name, name FROM api_keys",
                               -1, &stmt, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), Sha256Hex(key.secret));
  EXPECT_EQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1)), key.info.id);
  EXPECT_EQ(sqlite3_step(stmt), SQLITE_DONE);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(AuthStoreTest, AuthenticateNamesTheKeysUser) {
  MakeUser("alice");
  MakeUser("root", /*is_admin=*/true);
  const NewApiKey alice = MakeKey("alice");
  const NewApiKey root = MakeKey("root");
  Result<Principal> principal = store().Authenticate(alice.secret);
  ASSERT_TRUE(principal.ok()) << principal.status().ToString();
  EXPECT_EQ(principal->user, "alice");
  EXPECT_FALSE(principal->is_admin);
  EXPECT_EQ(principal->key_id, alice.info.id);
  principal = store().Authenticate(root.secret);
  ASSERT_TRUE(principal.ok()) << principal.status().ToString();
  EXPECT_EQ(principal->user, "root");
  EXPECT_TRUE(principal->is_admin);
}

TEST_F(AuthStoreTest, RevocationTakesEffectAtOnce) {
  MakeUser("alice");
  const NewApiKey key = MakeKey("alice");
  const NewApiKey other = MakeKey("alice", "desktop");
  ASSERT_TRUE(store().Authenticate(key.secret).ok());
  ASSERT_TRUE(store().RevokeKey(key.info.id).ok());
  Result<Principal> principal = store().Authenticate(key.secret);
  ASSERT_FALSE(principal.ok());
  EXPECT_EQ(principal.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_THAT(principal.status().message(), HasSubstr("revoked"));
  EXPECT_THAT(principal.status().message(), Not(HasSubstr(key.secret.substr(3))));
  EXPECT_TRUE(store().Authenticate(other.secret).ok()) << "only the revoked key stops working";

  EXPECT_TRUE(store().RevokeKey(key.info.id).ok()) << "revoking twice is ok";
  Result<ApiKeyInfo> info = store().GetKey(key.info.id);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_TRUE(info->revoked);
  EXPECT_EQ(store().RevokeKey("000000000000").code(), ErrorCode::kNotFound);
  EXPECT_EQ(store().GetKey("000000000000").status().code(), ErrorCode::kNotFound);
}

TEST_F(AuthStoreTest, LastUsedTimeUpdatesAtMostOnceASecond) {
  MakeUser("alice");
  const NewApiKey key = MakeKey("alice");
  auto last_used = [&] {
    Result<ApiKeyInfo> info = store().GetKey(key.info.id);
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    return info.ok() ? info->last_used_time : -1;
  };
  EXPECT_EQ(last_used(), 0);
  const double start = now_.load();
  now_ = start + 5;
  ASSERT_TRUE(store().Authenticate(key.secret).ok());
  EXPECT_EQ(last_used(), start + 5);
  now_ = start + 5.9;
  ASSERT_TRUE(store().Authenticate(key.secret).ok());
  EXPECT_EQ(last_used(), start + 5) << "within a second of the last update";
  now_ = start + 6.5;
  ASSERT_TRUE(store().Authenticate(key.secret).ok());
  EXPECT_EQ(last_used(), start + 6.5);
}

TEST_F(AuthStoreTest, WrongKeysAreUnauthenticatedWithoutTheSecretInTheMessage) {
  MakeUser("alice");
  const NewApiKey key = MakeKey("alice");
  std::string near_miss = key.secret;
  near_miss.back() = near_miss.back() == 'a' ? 'b' : 'a';
  const std::string unknown = "lb-" + std::string(40, 'Q');
  for (const std::string& wrong :
       {near_miss, unknown, key.secret.substr(0, 42), key.secret + "x", key.secret.substr(3),
        "lb-" + std::string(39, 'Q') + "!", std::string(), std::string("hunter2hunter2")}) {
    Result<Principal> principal = store().Authenticate(wrong);
    ASSERT_FALSE(principal.ok()) << wrong;
    EXPECT_EQ(principal.status().code(), ErrorCode::kUnauthenticated) << wrong;
    if (wrong.size() > 3) {
      EXPECT_THAT(principal.status().message(), Not(HasSubstr(wrong.substr(3))));
    }
    EXPECT_THAT(principal.status().message(), Not(HasSubstr(key.secret.substr(3))));
  }
}

TEST_F(AuthStoreTest, KeysNeedAnExistingUser) {
  MakeUser("alice");
  ASSERT_TRUE(store().CreateTeam("vision", "alice").ok());
  EXPECT_EQ(store().CreateKey("nobody", "x").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store().CreateKey("vision", "x").status().code(), ErrorCode::kNotFound)
      << "a team holds no keys";
  EXPECT_EQ(store().CreateKey("alice", std::string(129, 'k')).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(store().ListKeys("nobody").status().code(), ErrorCode::kNotFound);
}

TEST_F(AuthStoreTest, ListKeysFiltersByUser) {
  MakeUser("alice");
  MakeUser("bob");
  MakeKey("alice", "a1");
  MakeKey("bob", "b1");
  MakeKey("alice", "a2");
  Result<std::vector<ApiKeyInfo>> alice = store().ListKeys("alice");
  ASSERT_TRUE(alice.ok()) << alice.status().ToString();
  ASSERT_EQ(alice->size(), 2u);
  for (const ApiKeyInfo& info : *alice) EXPECT_EQ(info.user, "alice");
  Result<std::vector<ApiKeyInfo>> all = store().ListKeys("");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->size(), 3u);
}

TEST_F(AuthStoreTest, UsersAndTeamsShareOneNamespace) {
  MakeUser("alice");
  ASSERT_TRUE(store().CreateTeam("vision", "alice").ok());
  Result<User> taken = store().CreateUser("vision", false);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.status().code(), ErrorCode::kAlreadyExists);
  EXPECT_THAT(taken.status().message(), HasSubstr("'vision' is taken by a team"));
  EXPECT_EQ(store().CreateTeam("alice", "alice").status().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(store().CreateUser("alice", true).status().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(store().CreateTeam("nlp", "nobody").status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(store().EntityExists("alice").ok());
  EXPECT_TRUE(store().EntityExists("vision").ok());
  EXPECT_EQ(store().EntityExists("nobody").code(), ErrorCode::kNotFound);
  EXPECT_EQ(store().GetUser("vision").status().code(), ErrorCode::kNotFound);
}

TEST_F(AuthStoreTest, NamesFollowTheRuleAndErrorsSayIt) {
  Result<User> bad = store().CreateUser("Bob!", false);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "user name 'Bob!': expected [a-z0-9][a-z0-9._-]{0,63}");
  for (const std::string& name :
       {std::string(), std::string(".alice"), std::string("-x"), std::string("_x"),
        std::string("a b"), std::string("al/ice"), std::string("ALICE"), std::string(65, 'a'),
        std::string("caf\xc3\xa9")}) {
    EXPECT_EQ(store().CreateUser(name, false).status().code(), ErrorCode::kInvalidArgument) << name;
  }
  for (const std::string& name : {std::string("a"), std::string("0"), std::string("a.b_c-d"),
                                  std::string(64, 'z'), std::string("9lives")}) {
    EXPECT_TRUE(store().CreateUser(name, false).ok()) << name;
  }
  Result<User> long_name = store().CreateUser(std::string(10'000, 'X'), false);
  ASSERT_FALSE(long_name.ok());
  EXPECT_LT(long_name.status().message().size(), 200u) << "a rejected name is echoed cut short";
  Result<Team> team = store().CreateTeam("Vision", "a");
  ASSERT_FALSE(team.ok());
  EXPECT_EQ(team.status().message(), "team name 'Vision': expected [a-z0-9][a-z0-9._-]{0,63}");
}

TEST_F(AuthStoreTest, ProjectNamesAreAnythingWithoutASlashUpTo128Characters) {
  MakeUser("alice");
  for (const std::string& project : {std::string("mnist"), std::string("My Project (v2)"),
                                     std::string(128, 'p'), std::string("\xc3\xa9t\xc3\xa9"), [] {
                                       std::string accents;
                                       for (int i = 0; i < 128; ++i) accents += "\xc3\xa9";
                                       return accents;
                                     }()}) {
    EXPECT_TRUE(store().SetVisibility("alice", project, Visibility::kPublic).ok()) << project;
  }
  for (const std::string& project :
       {std::string(), std::string("a/b"), std::string(129, 'p'), std::string("tab\there")}) {
    Status status = store().SetVisibility("alice", project, Visibility::kPublic);
    EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument) << project;
    EXPECT_THAT(status.message(), HasSubstr("project name")) << project;
  }
  EXPECT_EQ(store().GetVisibility("alice", "a/b").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store().SetVisibility("nobody", "mnist", Visibility::kPublic).code(),
            ErrorCode::kNotFound);
}

TEST_F(AuthStoreTest, VisibilityIsPrivateUntilMadePublic) {
  MakeUser("alice");
  MakeUser("bob");
  Result<Visibility> visibility = store().GetVisibility("alice", "mnist");
  ASSERT_TRUE(visibility.ok()) << visibility.status().ToString();
  EXPECT_EQ(*visibility, Visibility::kPrivate);
  ASSERT_TRUE(store().SetVisibility("alice", "mnist", Visibility::kPublic).ok());
  ASSERT_TRUE(store().SetVisibility("bob", "cifar", Visibility::kPublic).ok());
  ASSERT_TRUE(store().SetVisibility("alice", "secret", Visibility::kPrivate).ok());
  visibility = store().GetVisibility("alice", "mnist");
  ASSERT_TRUE(visibility.ok());
  EXPECT_EQ(*visibility, Visibility::kPublic);
  Result<std::vector<ProjectVisibility>> public_projects = store().PublicProjects();
  ASSERT_TRUE(public_projects.ok()) << public_projects.status().ToString();
  ASSERT_EQ(public_projects->size(), 2u);
  EXPECT_EQ((*public_projects)[0].entity, "alice");
  EXPECT_EQ((*public_projects)[0].project, "mnist");
  EXPECT_EQ((*public_projects)[1].entity, "bob");

  ASSERT_TRUE(store().SetVisibility("alice", "mnist", Visibility::kPrivate).ok());
  visibility = store().GetVisibility("alice", "mnist");
  ASSERT_TRUE(visibility.ok());
  EXPECT_EQ(*visibility, Visibility::kPrivate);
  public_projects = store().PublicProjects();
  ASSERT_TRUE(public_projects.ok());
  EXPECT_EQ(public_projects->size(), 1u);
}

TEST_F(AuthStoreTest, RolesComeFromTheOwnEntityTeamsAndServerAdmin) {
  MakeUser("alice");
  MakeUser("bob");
  MakeUser("carol");
  MakeUser("root", /*is_admin=*/true);
  ASSERT_TRUE(store().CreateTeam("vision", "alice").ok());
  ASSERT_TRUE(store().SetMember("vision", "bob", Role::kViewer).ok());
  const Principal alice = PrincipalOf("alice");
  const Principal bob = PrincipalOf("bob");
  const Principal carol = PrincipalOf("carol");
  const Principal root = PrincipalOf("root");
  auto role = [&](const Principal& principal, const std::string& entity) {
    Result<std::optional<Role>> found = store().RoleIn(principal, entity);
    EXPECT_TRUE(found.ok()) << found.status().ToString();
    return found.ok() ? *found : std::nullopt;
  };
  EXPECT_EQ(role(alice, "alice"), Role::kAdmin);
  EXPECT_EQ(role(alice, "vision"), Role::kAdmin) << "the creator administers the team";
  EXPECT_EQ(role(bob, "vision"), Role::kViewer);
  EXPECT_EQ(role(carol, "vision"), std::nullopt);
  EXPECT_EQ(role(carol, "alice"), std::nullopt);
  EXPECT_EQ(role(root, "alice"), Role::kAdmin);
  EXPECT_EQ(role(root, "vision"), Role::kAdmin);
  EXPECT_EQ(role(alice, "nobody"), std::nullopt);

  ASSERT_TRUE(store().SetMember("vision", "bob", Role::kMember).ok());
  EXPECT_EQ(role(bob, "vision"), Role::kMember);
  ASSERT_TRUE(store().RemoveMember("vision", "bob").ok());
  EXPECT_EQ(role(bob, "vision"), std::nullopt);
  EXPECT_EQ(store().RemoveMember("vision", "bob").code(), ErrorCode::kNotFound);
  EXPECT_EQ(store().SetMember("vision", "nobody", Role::kMember).code(), ErrorCode::kNotFound);
  EXPECT_EQ(store().SetMember("alice", "bob", Role::kMember).code(), ErrorCode::kNotFound)
      << "a user is not a team";
}

TEST_F(AuthStoreTest, MembersAndTeamsOfListMemberships) {
  MakeUser("alice");
  MakeUser("bob");
  ASSERT_TRUE(store().CreateTeam("vision", "alice").ok());
  ASSERT_TRUE(store().CreateTeam("nlp", "bob").ok());
  ASSERT_TRUE(store().SetMember("vision", "bob", Role::kMember).ok());
  Result<std::vector<Membership>> members = store().Members("vision");
  ASSERT_TRUE(members.ok()) << members.status().ToString();
  ASSERT_EQ(members->size(), 2u);
  EXPECT_EQ((*members)[0].user, "alice");
  EXPECT_EQ((*members)[0].role, Role::kAdmin);
  EXPECT_EQ((*members)[1].user, "bob");
  EXPECT_EQ((*members)[1].role, Role::kMember);
  Result<std::vector<Membership>> teams = store().TeamsOf("bob");
  ASSERT_TRUE(teams.ok()) << teams.status().ToString();
  ASSERT_EQ(teams->size(), 2u);
  EXPECT_EQ((*teams)[0].team, "nlp");
  EXPECT_EQ((*teams)[0].role, Role::kAdmin);
  EXPECT_EQ((*teams)[1].team, "vision");
  EXPECT_EQ((*teams)[1].role, Role::kMember);
  EXPECT_EQ(store().Members("alice").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store().TeamsOf("vision").status().code(), ErrorCode::kNotFound);
  Result<std::vector<Team>> all = store().ListTeams();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "nlp");
}

TEST_F(AuthStoreTest, EverythingSurvivesAReopen) {
  MakeUser("alice");
  MakeUser("root", /*is_admin=*/true);
  ASSERT_TRUE(store().CreateTeam("vision", "alice").ok());
  ASSERT_TRUE(store().SetMember("vision", "root", Role::kViewer).ok());
  ASSERT_TRUE(store().SetVisibility("vision", "mnist", Visibility::kPublic).ok());
  const NewApiKey kept = MakeKey("alice");
  const NewApiKey revoked = MakeKey("alice", "old");
  ASSERT_TRUE(store().RevokeKey(revoked.info.id).ok());

  Reopen();
  Result<std::vector<User>> users = store().ListUsers();
  ASSERT_TRUE(users.ok()) << users.status().ToString();
  ASSERT_EQ(users->size(), 2u);
  EXPECT_EQ((*users)[0].name, "alice");
  EXPECT_EQ((*users)[1].name, "root");
  EXPECT_TRUE((*users)[1].is_admin);
  EXPECT_EQ((*users)[0].created_time, now_.load());
  Result<int64_t> count = store().CountUsers();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 2);
  Result<Principal> principal = store().Authenticate(kept.secret);
  ASSERT_TRUE(principal.ok()) << principal.status().ToString();
  EXPECT_EQ(principal->user, "alice");
  EXPECT_EQ(store().Authenticate(revoked.secret).status().code(), ErrorCode::kUnauthenticated);
  Result<std::vector<Membership>> members = store().Members("vision");
  ASSERT_TRUE(members.ok());
  EXPECT_EQ(members->size(), 2u);
  Result<Visibility> visibility = store().GetVisibility("vision", "mnist");
  ASSERT_TRUE(visibility.ok());
  EXPECT_EQ(*visibility, Visibility::kPublic);
}

TEST_F(AuthStoreTest, TheFileIsAWalDatabaseWithASchemaVersion) {
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db_path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  auto pragma = [&](const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    EXPECT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    std::string value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    return value;
  };
  EXPECT_EQ(pragma("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(pragma("PRAGMA user_version"), "1");
  sqlite3_close(db);
}

TEST_F(AuthStoreTest, RefusesOtherDatabasesAndNewerSchemas) {
  store_.reset();
  const std::filesystem::path other = dir_ / "other.db";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(other.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  Result<std::unique_ptr<AuthStore>> opened = OpenSqliteAuthStore(other);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), ErrorCode::kDataLoss);
  EXPECT_THAT(opened.status().message(), HasSubstr("not a labbook auth database"));

  ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  opened = OpenSqliteAuthStore(db_path());
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(opened.status().message(), HasSubstr("schema version 99"));

  EXPECT_EQ(OpenSqliteAuthStore(dir_).status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(AuthStoreTest, ConcurrentAuthenticateFromSeveralThreads) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 200;
  std::vector<NewApiKey> keys;
  for (int i = 0; i < kThreads; ++i) {
    const std::string user = "user" + std::to_string(i);
    MakeUser(user);
    keys.push_back(MakeKey(user));
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        // Each thread moves the clock too, so last-used updates interleave with lookups.
        now_ = now_.load() + 0.25;
        const NewApiKey& key = keys[static_cast<size_t>((t + round) % kThreads)];
        Result<Principal> principal = store().Authenticate(key.secret);
        if (!principal.ok() || principal->user != key.info.user ||
            principal->key_id != key.info.id) {
          ++failures;
        }
        if (store().Authenticate("lb-" + std::string(40, 'z')).ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  for (const NewApiKey& key : keys) {
    Result<ApiKeyInfo> info = store().GetKey(key.info.id);
    ASSERT_TRUE(info.ok());
    EXPECT_GT(info->last_used_time, 0);
  }
}

}  // namespace
}  // namespace labbook::server
