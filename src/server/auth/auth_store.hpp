// Who may do what on the server: users, teams (W&B calls both "entities"), their members and
// roles, API keys, and each project's visibility. Kept in its own SQLite database in the
// server's data directory (`labbook serve --data DIR`, file DIR/auth.db), apart from the run
// store, so that any RunStore can serve as the server's store.
//
// API keys: "lb-" followed by 40 characters of [0-9A-Za-z] drawn from OpenSSL's RAND_bytes
// (about 238 bits). Only the secret's SHA-256 is stored; Authenticate compares digests with
// CRYPTO_memcmp (constant time). A key is shown once, by CreateKey, and never again; a revoked
// key fails Authenticate from the moment RevokeKey returns. Messages of errors never contain a
// secret.
//
// Thread safety: every method may be called from several threads at once (the server's request
// threads); the implementation serialises what needs it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labbook/status.hpp"

namespace labbook::server {

// Roles within an entity. A user is the admin of the entity named after them.
enum class Role { kViewer, kMember, kAdmin };

// "viewer", "member", "admin".
std::string_view RoleName(Role role);
std::optional<Role> ParseRole(std::string_view name);

enum class Visibility { kPrivate, kPublic };

// "private", "public".
std::string_view VisibilityName(Visibility visibility);
std::optional<Visibility> ParseVisibility(std::string_view name);

struct User {
  std::string name;       // [a-z0-9][a-z0-9._-]{0,63}; also the name of the user's own entity
  bool is_admin = false;  // server administrator: may create users and teams, sees everything
  double created_time = 0;
};

struct Team {
  std::string name;  // same rules as user names; users and teams share one namespace
  double created_time = 0;
};

struct Membership {
  std::string team;
  std::string user;
  Role role = Role::kViewer;
};

// What is known of a key, never its secret.
struct ApiKeyInfo {
  std::string id;    // 12 characters of [0-9a-f], public: used to list and revoke
  std::string user;  // the key acts as this user
  std::string name;  // the user's label, e.g. "laptop"
  double created_time = 0;
  double last_used_time = 0;  // 0: never used
  bool revoked = false;
};

// CreateKey's answer: the only time the secret is available.
struct NewApiKey {
  ApiKeyInfo info;
  std::string secret;
};

// The caller a key authenticated.
struct Principal {
  std::string user;
  bool is_admin = false;
  std::string key_id;
};

struct ProjectVisibility {
  std::string entity;
  std::string project;
  Visibility visibility = Visibility::kPrivate;
};

class AuthStore {
 public:
  virtual ~AuthStore() = default;

  // Users. CreateUser: kAlreadyExists when the name is taken by a user or a team,
  // kInvalidArgument naming the rule a bad name breaks.
  virtual Result<User> CreateUser(const std::string& name, bool is_admin) = 0;
  virtual Result<User> GetUser(const std::string& name) = 0;  // kNotFound
  virtual Result<std::vector<User>> ListUsers() = 0;
  virtual Result<int64_t> CountUsers() = 0;

  // Keys. ListKeys("") lists every user's keys. RevokeKey: kNotFound for an unknown id; revoking
  // twice is ok.
  virtual Result<NewApiKey> CreateKey(const std::string& user, const std::string& key_name) = 0;
  virtual Result<std::vector<ApiKeyInfo>> ListKeys(const std::string& user) = 0;
  virtual Result<ApiKeyInfo> GetKey(const std::string& key_id) = 0;
  virtual Status RevokeKey(const std::string& key_id) = 0;
  // The principal of a valid, unrevoked secret (updating its last-used time, at most once a
  // second per key); kUnauthenticated otherwise, with a message that does not repeat the secret.
  virtual Result<Principal> Authenticate(std::string_view secret) = 0;

  // Teams. CreateTeam makes `creator` the team's admin. SetMember adds or changes a role;
  // RemoveMember of a non-member is kNotFound.
  virtual Result<Team> CreateTeam(const std::string& name, const std::string& creator) = 0;
  virtual Result<std::vector<Team>> ListTeams() = 0;
  virtual Status SetMember(const std::string& team, const std::string& user, Role role) = 0;
  virtual Status RemoveMember(const std::string& team, const std::string& user) = 0;
  virtual Result<std::vector<Membership>> Members(const std::string& team) = 0;
  // The teams a user belongs to, with their role in each.
  virtual Result<std::vector<Membership>> TeamsOf(const std::string& user) = 0;
  // Whether `name` is a user or team: kNotFound otherwise.
  virtual Status EntityExists(const std::string& name) = 0;

  // The role of `principal` in `entity`: admin of their own user entity, their team role in a
  // team, admin everywhere for a server admin, nullopt when they have none.
  virtual Result<std::optional<Role>> RoleIn(const Principal& principal,
                                             const std::string& entity) = 0;

  // Projects are private until made public.
  virtual Result<Visibility> GetVisibility(const std::string& entity,
                                           const std::string& project) = 0;
  virtual Status SetVisibility(const std::string& entity, const std::string& project,
                               Visibility visibility) = 0;
  virtual Result<std::vector<ProjectVisibility>> PublicProjects() = 0;
};

// Opens (creating when missing) the SQLite database at `path`.
[[nodiscard]] Result<std::unique_ptr<AuthStore>> OpenSqliteAuthStore(
    const std::filesystem::path& path);

// The same with the store's seams exposed; the defaults are what the one-argument form uses.
struct SqliteAuthStoreOptions {
  // How long a call waits for another process (e.g. `labbook` adding a user) holding the lock.
  int busy_timeout_ms = 5000;
  // Seconds since the Unix epoch, for created and last-used times; empty: the system clock.
  // Tests pass their own to check the once-a-second last-used rule without sleeping.
  std::function<double()> clock;
};
[[nodiscard]] Result<std::unique_ptr<AuthStore>> OpenSqliteAuthStore(
    const std::filesystem::path& path, const SqliteAuthStoreOptions& options);

}  // namespace labbook::server
