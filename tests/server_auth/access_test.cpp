// The access rules (access.hpp) on a real auth store: header parsing, and who reads, writes and
// administers which project.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <map>
#include <vector>

#include "auth_test_util.hpp"
#include "server/auth/access.hpp"

namespace labbook::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Base64(const std::string& text) {
  std::vector<unsigned char> out(4 * ((text.size() + 2) / 3) + 1);
  const int size = EVP_EncodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                   static_cast<int>(text.size()));
  return std::string(reinterpret_cast<const char*>(out.data()), static_cast<size_t>(size));
}

TEST_F(AuthStoreTest, HeaderAcceptsBearerAndBasicWithAnyUser) {
  MakeUser("alice");
  const NewApiKey key = MakeKey("alice");
  for (const std::string& header :
       {"Bearer " + key.secret, "bearer " + key.secret, "Bearer   " + key.secret + " ",
        "Basic " + Base64("api:" + key.secret), "basic " + Base64("alice:" + key.secret),
        "Basic " + Base64(":" + key.secret), "Basic " + Base64("someone else:" + key.secret)}) {
    Result<std::optional<Principal>> principal = AuthenticateHeader(store(), header);
    ASSERT_TRUE(principal.ok()) << header << ": " << principal.status().ToString();
    ASSERT_TRUE(principal->has_value()) << header;
    EXPECT_EQ((*principal)->user, "alice");
    EXPECT_EQ((*principal)->key_id, key.info.id);
  }
}

TEST_F(AuthStoreTest, NoHeaderIsAnonymous) {
  Result<std::optional<Principal>> principal = AuthenticateHeader(store(), "");
  ASSERT_TRUE(principal.ok()) << principal.status().ToString();
  EXPECT_FALSE(principal->has_value());
  Result<Principal> required = RequirePrincipal(*principal);
  ASSERT_FALSE(required.ok());
  EXPECT_EQ(required.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_THAT(required.status().message(), HasSubstr("needs an API key"));
}

TEST_F(AuthStoreTest, MalformedOrWrongHeadersAreUnauthenticatedWithoutTheSecret) {
  MakeUser("alice");
  const NewApiKey key = MakeKey("alice");
  const NewApiKey revoked = MakeKey("alice", "old");
  ASSERT_TRUE(store().RevokeKey(revoked.info.id).ok());
  std::string basic_body = Base64("api:" + key.secret);
  for (const std::string& header : {
           key.secret,                                    // no scheme
           "Token " + key.secret,                         // unknown scheme
           std::string("Bearer"),                         // no credentials
           std::string("Bearer "),                        //
           "Basic " + basic_body.substr(1),               // not a multiple of 4
           "Basic !" + basic_body.substr(1),              // not base64
           "Basic " + Base64(key.secret),                 // no ':'
           "Basic " + Base64("api:"),                     // empty key
           "Basic " + Base64("api:" + key.secret + "x"),  // wrong key
           "Bearer " + revoked.secret,                    // revoked key
           "Bearer lb-" + std::string(40, 'A'),           // unknown key
       }) {
    Result<std::optional<Principal>> principal = AuthenticateHeader(store(), header);
    ASSERT_FALSE(principal.ok()) << header;
    EXPECT_EQ(principal.status().code(), ErrorCode::kUnauthenticated) << header;
    EXPECT_THAT(principal.status().message(), Not(HasSubstr(key.secret.substr(3)))) << header;
    EXPECT_THAT(principal.status().message(), Not(HasSubstr(revoked.secret.substr(3)))) << header;
    EXPECT_THAT(principal.status().message(), Not(HasSubstr(basic_body.substr(4)))) << header;
  }
}

// alice owns the team "vision", bob is a viewer in it, carol a member, dave an outsider, root a
// server admin. vision/public-proj is public, vision/private-proj private.
class AccessTest : public AuthStoreTest {
 protected:
  void SetUp() override {
    AuthStoreTest::SetUp();
    for (const char* name : {"alice", "bob", "carol", "dave"}) MakeUser(name);
    MakeUser("root", /*is_admin=*/true);
    ASSERT_TRUE(store().CreateTeam("vision", "alice").ok());
    ASSERT_TRUE(store().SetMember("vision", "bob", Role::kViewer).ok());
    ASSERT_TRUE(store().SetMember("vision", "carol", Role::kMember).ok());
    ASSERT_TRUE(store().SetVisibility("vision", "public-proj", Visibility::kPublic).ok());
    ASSERT_TRUE(store().SetVisibility("vision", "private-proj", Visibility::kPrivate).ok());
    for (const char* name : {"alice", "bob", "carol", "dave", "root"}) {
      principals_[name] = PrincipalOf(name);
    }
  }

  std::optional<Principal> As(const std::string& name) { return principals_.at(name); }

  ErrorCode Read(const std::optional<Principal>& who, const std::string& project,
                 const std::string& entity = "vision") {
    return CanRead(store(), who, entity, project).code();
  }
  ErrorCode Write(const std::optional<Principal>& who, const std::string& project,
                  const std::string& entity = "vision") {
    return CanWrite(store(), who, entity, project).code();
  }
  ErrorCode Administer(const std::optional<Principal>& who, const std::string& entity = "vision") {
    return CanAdminister(store(), who, entity).code();
  }

  std::map<std::string, Principal> principals_;
  const std::optional<Principal> anonymous_;
};

TEST_F(AccessTest, PrivateProjectsDoNotExistForOutsiders) {
  EXPECT_EQ(Read(anonymous_, "private-proj"), ErrorCode::kNotFound);
  EXPECT_EQ(Read(As("dave"), "private-proj"), ErrorCode::kNotFound);
  EXPECT_EQ(Write(As("dave"), "private-proj"), ErrorCode::kNotFound);
  Status status = CanRead(store(), As("dave"), "vision", "private-proj");
  EXPECT_THAT(status.message(), HasSubstr("project vision/private-proj"));
  // Another user's own entity is private to everyone else too.
  EXPECT_EQ(Read(As("dave"), "mnist", "alice"), ErrorCode::kNotFound);
  EXPECT_EQ(Write(As("dave"), "mnist", "alice"), ErrorCode::kNotFound);
}

TEST_F(AccessTest, MembersOfTheEntityReadPrivateProjects) {
  for (const char* name : {"alice", "bob", "carol", "root"}) {
    EXPECT_EQ(Read(As(name), "private-proj"), ErrorCode::kOk) << name;
  }
}

TEST_F(AccessTest, PublicProjectsAreReadableByAllAndWritableByMembers) {
  EXPECT_EQ(Read(anonymous_, "public-proj"), ErrorCode::kOk);
  EXPECT_EQ(Read(As("dave"), "public-proj"), ErrorCode::kOk);
  EXPECT_EQ(Write(anonymous_, "public-proj"), ErrorCode::kUnauthenticated);
  EXPECT_EQ(Write(As("dave"), "public-proj"), ErrorCode::kPermissionDenied);
  Status status = CanWrite(store(), As("dave"), "vision", "public-proj");
  EXPECT_THAT(status.message(), HasSubstr("member or admin"));
  EXPECT_EQ(Write(As("carol"), "public-proj"), ErrorCode::kOk);
}

TEST_F(AccessTest, ViewersReadButDoNotWrite) {
  EXPECT_EQ(Read(As("bob"), "private-proj"), ErrorCode::kOk);
  EXPECT_EQ(Write(As("bob"), "private-proj"), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Write(As("bob"), "public-proj"), ErrorCode::kPermissionDenied);
  Status status = CanWrite(store(), As("bob"), "vision", "private-proj");
  EXPECT_THAT(status.message(), HasSubstr("is a viewer"));
}

TEST_F(AccessTest, MembersAndAdminsWrite) {
  for (const char* name : {"alice", "carol", "root"}) {
    EXPECT_EQ(Write(As(name), "private-proj"), ErrorCode::kOk) << name;
    EXPECT_EQ(Write(As(name), "public-proj"), ErrorCode::kOk) << name;
  }
  EXPECT_EQ(Write(As("dave"), "mnist", "dave"), ErrorCode::kOk) << "a user owns their entity";
}

TEST_F(AccessTest, ProjectsNotCreatedYetFollowThePrivateRules) {
  EXPECT_EQ(Write(As("carol"), "new-proj"), ErrorCode::kOk) << "a member creates it by writing";
  EXPECT_EQ(Read(As("bob"), "new-proj"), ErrorCode::kOk);
  EXPECT_EQ(Write(As("bob"), "new-proj"), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Read(As("dave"), "new-proj"), ErrorCode::kNotFound);
  EXPECT_EQ(Write(As("dave"), "new-proj"), ErrorCode::kNotFound);
  EXPECT_EQ(Read(anonymous_, "new-proj"), ErrorCode::kNotFound);
}

TEST_F(AccessTest, VisibilityChangesApplyAtOnce) {
  EXPECT_EQ(Read(anonymous_, "private-proj"), ErrorCode::kNotFound);
  ASSERT_TRUE(store().SetVisibility("vision", "private-proj", Visibility::kPublic).ok());
  EXPECT_EQ(Read(anonymous_, "private-proj"), ErrorCode::kOk);
  ASSERT_TRUE(store().SetVisibility("vision", "private-proj", Visibility::kPrivate).ok());
  EXPECT_EQ(Read(anonymous_, "private-proj"), ErrorCode::kNotFound);
}

TEST_F(AccessTest, OnlyAdminsAdministerTheEntity) {
  EXPECT_EQ(Administer(As("alice")), ErrorCode::kOk);
  EXPECT_EQ(Administer(As("root")), ErrorCode::kOk);
  EXPECT_EQ(Administer(As("carol")), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Administer(As("bob")), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Administer(As("dave")), ErrorCode::kNotFound);
  EXPECT_EQ(Administer(anonymous_), ErrorCode::kUnauthenticated);
  EXPECT_EQ(Administer(As("dave"), "dave"), ErrorCode::kOk);
  EXPECT_EQ(Administer(As("dave"), "alice"), ErrorCode::kNotFound);
}

TEST_F(AccessTest, BadNamesAreInvalidArguments) {
  EXPECT_EQ(Read(As("alice"), "a/b"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(Read(As("alice"), "mnist", "Vision"), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace labbook::server
