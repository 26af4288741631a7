#include "server/auth/auth_store.hpp"

#include <openssl/crypto.h>

#include <array>
#include <chrono>
#include <mutex>
#include <span>
#include <type_traits>
#include <utility>

#include "core/clock.hpp"
#include "core/status_macros.hpp"
#include "server/auth/api_key.hpp"
#include "server/auth/names.hpp"
#include "track/sqlite/connection.hpp"

namespace labbook::server {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kMember:
      return "member";
    case Role::kAdmin:
      return "admin";
  }
  return "viewer";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (const Role role : {Role::kViewer, Role::kMember, Role::kAdmin}) {
    if (name == RoleName(role)) return role;
  }
  return std::nullopt;
}

std::string_view VisibilityName(Visibility visibility) {
  switch (visibility) {
    case Visibility::kPrivate:
      return "private";
    case Visibility::kPublic:
      return "public";
  }
  return "private";
}

std::optional<Visibility> ParseVisibility(std::string_view name) {
  for (const Visibility visibility : {Visibility::kPrivate, Visibility::kPublic}) {
    if (name == VisibilityName(visibility)) return visibility;
  }
  return std::nullopt;
}

namespace {

namespace fs = std::filesystem;
using track::sqlite::Connection;
using track::sqlite::Statement;
using track::sqlite::Transaction;

// "LBAU" in the database header marks a labbook auth database (the run store has "LBBK").
constexpr int64_t kApplicationId = 0x4C424155;
// Fresh ids tried before giving up; with 16^12 ids a second try is already rare.
constexpr int kKeyIdAttempts = 8;
constexpr size_t kMaxKeyNameBytes = 128;

// The schema, one migration per element: user_version is the number applied. Times are seconds
// since the Unix epoch. Users and teams are rows of one table so that they share one namespace.
constexpr std::array<std::string_view, 1> kMigrations = {
    R"sql(
CREATE TABLE entities (
  name TEXT NOT NULL PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('user', 'team')),
  is_admin INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
  created_time REAL NOT NULL
);

CREATE TABLE members (
  team_name TEXT NOT NULL REFERENCES entities (name),
  user_name TEXT NOT NULL REFERENCES entities (name),
  role TEXT NOT NULL CHECK (role IN ('viewer', 'member', 'admin')),
  PRIMARY KEY (team_name, user_name)
);
CREATE INDEX members_by_user ON members (user_name, team_name);

-- Only the SHA-256 of a key's secret is kept: a copy of this file grants nothing.
CREATE TABLE api_keys (
  id TEXT NOT NULL PRIMARY KEY,
  user_name TEXT NOT NULL REFERENCES entities (name),
  name TEXT NOT NULL,
  secret_sha256 BLOB NOT NULL,
  created_time REAL NOT NULL,
  last_used_time REAL NOT NULL DEFAULT 0,  -- 0: never used
  revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
);
CREATE UNIQUE INDEX api_keys_by_digest ON api_keys (secret_sha256);
CREATE INDEX api_keys_by_user ON api_keys (user_name, created_time);

-- A project without a row is private.
CREATE TABLE projects (
  entity TEXT NOT NULL REFERENCES entities (name),
  project TEXT NOT NULL,
  visibility TEXT NOT NULL CHECK (visibility IN ('private', 'public')),
  PRIMARY KEY (entity, project)
);
CREATE INDEX projects_by_visibility ON projects (visibility, entity, project);
)sql",
};

Status AlreadyExists(std::string message) {
  return {ErrorCode::kAlreadyExists, std::move(message)};
}

Status Unauthenticated(std::string message) {
  return {ErrorCode::kUnauthenticated, std::move(message)};
}

std::string Quote(std::string_view name) { return "'" + std::string(name) + "'"; }

enum class EntityKind { kUser, kTeam };

struct EntityRow {
  EntityKind kind = EntityKind::kUser;
  bool is_admin = false;
  double created_time = 0;
};

Result<std::optional<EntityRow>> FindEntity(Connection& db, const std::string& name) {
  LABBOOK_ASSIGN_OR_RETURN(
      Statement find,
      db.Prepare("SELECT kind, is_admin, created_time FROM entities WHERE name = ?1"));
  find.BindText(1, name);
  LABBOOK_ASSIGN_OR_RETURN(bool found, find.Step());
  if (!found) return std::optional<EntityRow>();
  return std::optional<EntityRow>(EntityRow{
      find.Text(0) == "team" ? EntityKind::kTeam : EntityKind::kUser,
      find.Int(1) != 0,
      find.Double(2),
  });
}

// Ok when `name` is an entity of `kind`; kNotFound "<kind> 'name'" otherwise.
Status RequireEntity(Connection& db, EntityKind kind, const std::string& name) {
  LABBOOK_ASSIGN_OR_RETURN(std::optional<EntityRow> entity, FindEntity(db, name));
  const char* noun = kind == EntityKind::kUser ? "user" : "team";
  if (!entity.has_value()) return NotFound(std::string(noun) + " " + Quote(name) + " not found");
  if (entity->kind != kind) {
    return NotFound(std::string(noun) + " " + Quote(name) + " not found (it is a " +
                    (entity->kind == EntityKind::kUser ? "user" : "team") + ")");
  }
  return Status::Ok();
}

Status CheckKeyName(std::string_view name) {
  if (name.size() > kMaxKeyNameBytes) {
    return InvalidArgument("key name: expected at most " + std::to_string(kMaxKeyNameBytes) +
                           " bytes, not " + std::to_string(name.size()));
  }
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      return InvalidArgument("key name: expected no control characters");
    }
  }
  return Status::Ok();
}

// The columns every key query selects, in the order KeyFrom reads them.
constexpr std::string_view kKeyColumns =
    "id, user_name, name, created_time, last_used_time, revoked";

ApiKeyInfo KeyFrom(const Statement& row) {
  return ApiKeyInfo{row.Text(0),   row.Text(1),   row.Text(2),
                    row.Double(3), row.Double(4), row.Int(5) != 0};
}

Result<std::vector<Membership>> MembershipsFrom(Statement& rows) {
  std::vector<Membership> memberships;
  for (;;) {
    LABBOOK_ASSIGN_OR_RETURN(bool row, rows.Step());
    if (!row) return memberships;
    const std::string role_name = rows.Text(2);
    const std::optional<Role> role = ParseRole(role_name);
    if (!role.has_value()) {
      return DataLoss("team " + Quote(rows.Text(0)) + ": member " + Quote(rows.Text(1)) +
                      " has the unknown role " + Quote(role_name));
    }
    memberships.push_back(Membership{rows.Text(0), rows.Text(1), *role});
  }
}

class SqliteAuthStore final : public AuthStore {
 public:
  SqliteAuthStore(std::unique_ptr<Connection> db, std::function<double()> clock)
      : db_(std::move(db)), clock_(std::move(clock)) {}

  Result<User> CreateUser(const std::string& name, bool is_admin) override {
    LABBOOK_RETURN_IF_ERROR(CheckEntityName("user name", name));
    return Locked("create user " + Quote(name), [&](Connection& db) -> Result<User> {
      LABBOOK_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Write(db));
      LABBOOK_RETURN_IF_ERROR(RequireFreeName(db, "user name", name));
      const User user{name, is_admin, clock_()};
      LABBOOK_ASSIGN_OR_RETURN(Statement insert,
                               db.Prepare("INSERT INTO entities (name, kind, is_admin, "
                                          "created_time) VALUES (?1, 'user', ?2, ?3)"));
      insert.BindText(1, name).BindInt(2, is_admin ? 1 : 0).BindDouble(3, user.created_time);
      LABBOOK_RETURN_IF_ERROR(insert.Run());
      LABBOOK_RETURN_IF_ERROR(transaction.Commit());
      return user;
    });
  }

  Result<User> GetUser(const std::string& name) override {
    return Locked("read user " + Quote(name), [&](Connection& db) -> Result<User> {
      LABBOOK_RETURN_IF_ERROR(RequireEntity(db, EntityKind::kUser, name));
      LABBOOK_ASSIGN_OR_RETURN(std::optional<EntityRow> entity, FindEntity(db, name));
      return User{name, entity->is_admin, entity->created_time};
    });
  }

  Result<std::vector<User>> ListUsers() override {
    return Locked("list users", [&](Connection& db) -> Result<std::vector<User>> {
      LABBOOK_ASSIGN_OR_RETURN(Statement list,
                               db.Prepare("SELECT name, is_admin, created_time FROM entities "
                                          "WHERE kind = 'user' ORDER BY name"));
      std::vector<User> users;
      for (;;) {
        LABBOOK_ASSIGN_OR_RETURN(bool row, list.Step());
        if (!row) return users;
        users.push_back(User{list.Text(0), list.Int(1) != 0, list.Double(2)});
      }
    });
  }

  Result<int64_t> CountUsers() override {
    return Locked("count users", [&](Connection& db) -> Result<int64_t> {
      LABBOOK_ASSIGN_OR_RETURN(Statement count,
                               db.Prepare("SELECT count(*) FROM entities WHERE kind = 'user'"));
      LABBOOK_RETURN_IF_ERROR(count.Step().status());
      return count.Int(0);
    });
  }

  Result<NewApiKey> CreateKey(const std::string& user, const std::string& key_name) override {
    LABBOOK_RETURN_IF_ERROR(CheckKeyName(key_name));
    LABBOOK_ASSIGN_OR_RETURN(std::string secret, GenerateApiKeySecret());
    const SecretDigest digest = DigestOfSecret(secret);
    return Locked("create an API key for user " + Quote(user),
                  [&](Connection& db) -> Result<NewApiKey> {
                    LABBOOK_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Write(db));
                    LABBOOK_RETURN_IF_ERROR(RequireEntity(db, EntityKind::kUser, user));
                    LABBOOK_ASSIGN_OR_RETURN(std::string id, UnusedKeyId(db));
                    NewApiKey key{ApiKeyInfo{id, user, key_name, clock_(), 0, false}, secret};
                    LABBOOK_ASSIGN_OR_RETURN(
                        Statement insert,
                        db.Prepare("INSERT INTO api_keys (id, user_name, name, secret_sha256, "
                                   "created_time) VALUES (?1, ?2, ?3, ?4, ?5)"));
                    insert.BindText(1, id).BindText(2, user).BindText(3, key_name);
                    insert.BindBlob(4, digest).BindDouble(5, key.info.created_time);
                    LABBOOK_RETURN_IF_ERROR(insert.Run());
                    LABBOOK_RETURN_IF_ERROR(transaction.Commit());
                    return key;
                  });
  }

  Result<std::vector<ApiKeyInfo>> ListKeys(const std::string& user) override {
    return Locked("list API keys", [&](Connection& db) -> Result<std::vector<ApiKeyInfo>> {
      if (!user.empty()) LABBOOK_RETURN_IF_ERROR(RequireEntity(db, EntityKind::kUser, user));
      LABBOOK_ASSIGN_OR_RETURN(Statement list,
                               db.Prepare("SELECT " + std::string(kKeyColumns) +
                                          " FROM api_keys WHERE ?1 = '' OR user_name = ?1 "
                                          "ORDER BY user_name, created_time, id"));
      list.BindText(1, user);
      std::vector<ApiKeyInfo> keys;
      for (;;) {
        LABBOOK_ASSIGN_OR_RETURN(bool row, list.Step());
        if (!row) return keys;
        keys.push_back(KeyFrom(list));
      }
    });
  }

  Result<ApiKeyInfo> GetKey(const std::string& key_id) override {
    return Locked("read API key " + Quote(key_id),
                  [&](Connection& db) -> Result<ApiKeyInfo> { return FindKey(db, key_id); });
  }

  Status RevokeKey(const std::string& key_id) override {
    return Locked("revoke API key " + Quote(key_id), [&](Connection& db) -> Status {
      LABBOOK_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Write(db));
      LABBOOK_RETURN_IF_ERROR(FindKey(db, key_id).status());
      LABBOOK_ASSIGN_OR_RETURN(Statement revoke,
                               db.Prepare("UPDATE api_keys SET revoked = 1 WHERE id = ?1"));
      revoke.BindText(1, key_id);
      LABBOOK_RETURN_IF_ERROR(revoke.Run());
      return transaction.Commit();
    });
  }

  Result<Principal> Authenticate(std::string_view secret) override {
    // One message for every key that is not ours, so that a caller learns nothing from it; it
    // never quotes what was sent, which may be a real key pasted in the wrong place.
    const Status rejected = Unauthenticated(
        "API key not recognised: expected a key of this server ('lb-' and 40 characters of "
        "[0-9A-Za-z])");
    if (!LooksLikeApiKeySecret(secret)) return rejected;
    const SecretDigest digest = DigestOfSecret(secret);
    return Locked("authenticate an API key", [&](Connection& db) -> Result<Principal> {
      Principal principal;
      double last_used_time = 0;
      {
        LABBOOK_ASSIGN_OR_RETURN(
            Statement find,
            db.Prepare("SELECT k.id, k.user_name, k.secret_sha256, k.last_used_time, k.revoked, "
                       "e.is_admin FROM api_keys k JOIN entities e ON e.name = k.user_name "
                       "WHERE k.secret_sha256 = ?1"));
        find.BindBlob(1, digest);
        LABBOOK_ASSIGN_OR_RETURN(bool found, find.Step());
        if (!found) return rejected;
        // The index found the row by equality already; comparing in constant time as well keeps
        // the decision itself free of timing that depends on the secret.
        const std::span<const std::byte> stored = find.Blob(2);
        if (stored.size() != digest.size() ||
            CRYPTO_memcmp(stored.data(), digest.data(), digest.size()) != 0) {
          return rejected;
        }
        if (find.Int(4) != 0) return Unauthenticated("API key " + find.Text(0) + " is revoked");
        principal = Principal{find.Text(1), find.Int(5) != 0, find.Text(0)};
        last_used_time = find.Double(3);
      }
      const double now = clock_();
      // Once a second at most: a busy client would otherwise turn every request into a write.
      if (now - last_used_time >= 1.0) {
        LABBOOK_ASSIGN_OR_RETURN(
            Statement touch, db.Prepare("UPDATE api_keys SET last_used_time = ?2 WHERE id = ?1"));
        touch.BindText(1, principal.key_id).BindDouble(2, now);
        // The key is valid whatever happens to this bookkeeping; a locked or full database must
        // not turn a good key away.
        touch.Run().IgnoreError();
      }
      return principal;
    });
  }

  Result<Team> CreateTeam(const std::string& name, const std::string& creator) override {
    LABBOOK_RETURN_IF_ERROR(CheckEntityName("team name", name));
    return Locked("create team " + Quote(name), [&](Connection& db) -> Result<Team> {
      LABBOOK_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Write(db));
      LABBOOK_RETURN_IF_ERROR(RequireFreeName(db, "team name", name));
      LABBOOK_RETURN_IF_ERROR(
          RequireEntity(db, EntityKind::kUser, creator).WithContext("the team's creator"));
      const Team team{name, clock_()};
      {
        LABBOOK_ASSIGN_OR_RETURN(Statement insert,
                                 db.Prepare("INSERT INTO entities (name, kind, created_time) "
                                            "VALUES (?1, 'team', ?2)"));
        insert.BindText(1, name).BindDouble(2, team.created_time);
        LABBOOK_RETURN_IF_ERROR(insert.Run());
      }
      LABBOOK_RETURN_IF_ERROR(UpsertMember(db, name, creator, Role::kAdmin));
      LABBOOK_RETURN_IF_ERROR(transaction.Commit());
      return team;
    });
  }

  Result<std::vector<Team>> ListTeams() override {
    return Locked("list teams", [&](Connection& db) -> Result<std::vector<Team>> {
      LABBOOK_ASSIGN_OR_RETURN(Statement list, db.Prepare("SELECT name, created_time FROM entities "
                                                          "WHERE kind = 'team' ORDER BY name"));
      std::vector<Team> teams;
      for (;;) {
        LABBOOK_ASSIGN_OR_RETURN(bool row, list.Step());
        if (!row) return teams;
        teams.push_back(Team{list.Text(0), list.Double(1)});
      }
    });
  }

  Status SetMember(const std::string& team, const std::string& user, Role role) override {
    return Locked("set the role of " + Quote(user) + " in team " + Quote(team),
                  [&](Connection& db) -> Status {
                    LABBOOK_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Write(db));
                    LABBOOK_RETURN_IF_ERROR(RequireEntity(db, EntityKind::kTeam, team));
                    LABBOOK_RETURN_IF_ERROR(RequireEntity(db, EntityKind::kUser, user));
                    LABBOOK_RETURN_IF_ERROR(UpsertMember(db, team, user, role));
                    return transaction.Commit();
                  });
  }

  Status RemoveMember(const std::string& team, const std::string& user) override {
    return Locked(
        "remove " + Quote(user) + " from team " + Quote(team), [&](Connection& db) -> Status {
          LABBOOK_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Write(db));
          LABBOOK_RETURN_IF_ERROR(RequireEntity(db, EntityKind::kTeam, team));
          LABBOOK_ASSIGN_OR_RETURN(
              Statement remove,
              db.Prepare("DELETE FROM members WHERE team_name = ?1 AND user_name = ?2"));
          remove.BindText(1, team).BindText(2, user);
          LABBOOK_RETURN_IF_ERROR(remove.Run());
          if (sqlite3_changes(db.handle()) == 0) {
            return NotFound("user " + Quote(user) + " is not a member of team " + Quote(team));
          }
          return transaction.Commit();
        });
  }

  Result<std::vector<Membership>> Members(const std::string& team) override {
    return Locked("list the members of team " + Quote(team),
                  [&](Connection& db) -> Result<std::vector<Membership>> {
                    LABBOOK_ASSIGN_OR_RETURN(Transaction snapshot, Transaction::Read(db));
                    LABBOOK_RETURN_IF_ERROR(RequireEntity(db, EntityKind::kTeam, team));
                    LABBOOK_ASSIGN_OR_RETURN(
                        Statement list, db.Prepare("SELECT team_name, user_name, role FROM members "
                                                   "WHERE team_name = ?1 ORDER BY user_name"));
                    list.BindText(1, team);
                    return MembershipsFrom(list);
                  });
  }

  Result<std::vector<Membership>> TeamsOf(const std::string& user) override {
    return Locked("list the teams of user " + Quote(user),
                  [&](Connection& db) -> Result<std::vector<Membership>> {
                    LABBOOK_ASSIGN_OR_RETURN(Transaction snapshot, Transaction::Read(db));
                    LABBOOK_RETURN_IF_ERROR(RequireEntity(db, EntityKind::kUser, user));
                    LABBOOK_ASSIGN_OR_RETURN(
                        Statement list, db.Prepare("SELECT team_name, user_name, role FROM members "
                                                   "WHERE user_name = ?1 ORDER BY team_name"));
                    list.BindText(1, user);
                    return MembershipsFrom(list);
                  });
  }

  Status EntityExists(const std::string& name) override {
    return Locked("look up entity " + Quote(name), [&](Connection& db) -> Status {
      LABBOOK_ASSIGN_OR_RETURN(std::optional<EntityRow> entity, FindEntity(db, name));
      if (!entity.has_value()) return NotFound("entity " + Quote(name) + " not found");
      return Status::Ok();
    });
  }

  Result<std::optional<Role>> RoleIn(const Principal& principal,
                                     const std::string& entity) override {
    return Locked(
        "look up the role of " + Quote(principal.user) + " in " + Quote(entity),
        [&](Connection& db) -> Result<std::optional<Role>> {
          LABBOOK_ASSIGN_OR_RETURN(std::optional<EntityRow> row, FindEntity(db, entity));
          // An entity that does not exist has no admin, not even a server admin: nothing could
          // be written under a name that nobody owns.
          if (!row.has_value()) return std::optional<Role>();
          if (principal.is_admin) return std::optional<Role>(Role::kAdmin);
          if (row->kind == EntityKind::kUser) {
            return principal.user == entity ? std::optional<Role>(Role::kAdmin)
                                            : std::optional<Role>();
          }
          LABBOOK_ASSIGN_OR_RETURN(
              Statement find,
              db.Prepare("SELECT role FROM members WHERE team_name = ?1 AND user_name = ?2"));
          find.BindText(1, entity).BindText(2, principal.user);
          LABBOOK_ASSIGN_OR_RETURN(bool found, find.Step());
          if (!found) return std::optional<Role>();
          const std::optional<Role> role = ParseRole(find.Text(0));
          if (!role.has_value()) {
            return DataLoss("team " + Quote(entity) + ": member " + Quote(principal.user) +
                            " has the unknown role " + Quote(find.Text(0)));
          }
          return role;
        });
  }

  Result<Visibility> GetVisibility(const std::string& entity, const std::string& project) override {
    LABBOOK_RETURN_IF_ERROR(CheckEntityName("entity name", entity));
    LABBOOK_RETURN_IF_ERROR(CheckProjectName("project name", project));
    return Locked("read the visibility of project " + entity + "/" + project,
                  [&](Connection& db) -> Result<Visibility> {
                    LABBOOK_ASSIGN_OR_RETURN(Statement find,
                                             db.Prepare("SELECT visibility FROM projects "
                                                        "WHERE entity = ?1 AND project = ?2"));
                    find.BindText(1, entity).BindText(2, project);
                    LABBOOK_ASSIGN_OR_RETURN(bool found, find.Step());
                    if (!found) return Visibility::kPrivate;
                    const std::optional<Visibility> visibility = ParseVisibility(find.Text(0));
                    if (!visibility.has_value()) {
                      return DataLoss("project " + entity + "/" + project +
                                      " has the unknown visibility " + Quote(find.Text(0)));
                    }
                    return *visibility;
                  });
  }

  Status SetVisibility(const std::string& entity, const std::string& project,
                       Visibility visibility) override {
    LABBOOK_RETURN_IF_ERROR(CheckEntityName("entity name", entity));
    LABBOOK_RETURN_IF_ERROR(CheckProjectName("project name", project));
    return Locked(
        "set the visibility of project " + entity + "/" + project, [&](Connection& db) -> Status {
          LABBOOK_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Write(db));
          LABBOOK_ASSIGN_OR_RETURN(std::optional<EntityRow> row, FindEntity(db, entity));
          if (!row.has_value()) return NotFound("entity " + Quote(entity) + " not found");
          LABBOOK_ASSIGN_OR_RETURN(
              Statement upsert,
              db.Prepare("INSERT INTO projects (entity, project, visibility) VALUES (?1, ?2, ?3) "
                         "ON CONFLICT (entity, project) DO UPDATE SET visibility = ?3"));
          upsert.BindText(1, entity).BindText(2, project).BindText(3, VisibilityName(visibility));
          LABBOOK_RETURN_IF_ERROR(upsert.Run());
          return transaction.Commit();
        });
  }

  Result<std::vector<ProjectVisibility>> PublicProjects() override {
    return Locked(
        "list public projects", [&](Connection& db) -> Result<std::vector<ProjectVisibility>> {
          LABBOOK_ASSIGN_OR_RETURN(
              Statement list, db.Prepare("SELECT entity, project FROM projects "
                                         "WHERE visibility = 'public' ORDER BY entity, project"));
          std::vector<ProjectVisibility> projects;
          for (;;) {
            LABBOOK_ASSIGN_OR_RETURN(bool row, list.Step());
            if (!row) return projects;
            projects.push_back(ProjectVisibility{list.Text(0), list.Text(1), Visibility::kPublic});
          }
        });
  }

 private:
  // Runs `body` on the connection under the store's mutex, with `action` naming the work in the
  // connection's error messages.
  template <typename Body>
  std::invoke_result_t<Body, Connection&> Locked(std::string action, Body&& body) {
    std::lock_guard lock(mutex_);
    db_->set_action(std::move(action));
    return body(*db_);
  }

  // kAlreadyExists when a user or team already has `name` (one namespace for both).
  static Status RequireFreeName(Connection& db, std::string_view field, const std::string& name) {
    LABBOOK_ASSIGN_OR_RETURN(std::optional<EntityRow> entity, FindEntity(db, name));
    if (!entity.has_value()) return Status::Ok();
    return AlreadyExists(std::string(field) + " " + Quote(name) + " is taken by a " +
                         (entity->kind == EntityKind::kUser ? "user" : "team"));
  }

  static Result<ApiKeyInfo> FindKey(Connection& db, const std::string& key_id) {
    LABBOOK_ASSIGN_OR_RETURN(Statement find, db.Prepare("SELECT " + std::string(kKeyColumns) +
                                                        " FROM api_keys WHERE id = ?1"));
    find.BindText(1, key_id);
    LABBOOK_ASSIGN_OR_RETURN(bool found, find.Step());
    if (!found) return NotFound("API key " + Quote(key_id) + " not found");
    return KeyFrom(find);
  }

  static Result<std::string> UnusedKeyId(Connection& db) {
    for (int attempt = 0; attempt < kKeyIdAttempts; ++attempt) {
      LABBOOK_ASSIGN_OR_RETURN(std::string id, GenerateApiKeyId());
      LABBOOK_ASSIGN_OR_RETURN(Statement find, db.Prepare("SELECT 1 FROM api_keys WHERE id = ?1"));
      find.BindText(1, id);
      LABBOOK_ASSIGN_OR_RETURN(bool taken, find.Step());
      if (!taken) return id;
    }
    return Internal("no unused API key id after " + std::to_string(kKeyIdAttempts) + " draws");
  }

  static Status UpsertMember(Connection& db, const std::string& team, const std::string& user,
                             Role role) {
    LABBOOK_ASSIGN_OR_RETURN(
        Statement upsert,
        db.Prepare("INSERT INTO members (team_name, user_name, role) VALUES (?1, ?2, ?3) "
                   "ON CONFLICT (team_name, user_name) DO UPDATE SET role = ?3"));
    upsert.BindText(1, team).BindText(2, user).BindText(3, RoleName(role));
    return upsert.Run();
  }

  std::mutex mutex_;
  std::unique_ptr<Connection> db_;  // guarded by mutex_
  std::function<double()> clock_;
};

// Refuses files that are not auth databases, and auth databases newer than this labbook.
Status CheckIsAuthDatabase(Connection& db) {
  db.set_action("read the auth database's schema");
  Result<int64_t> objects = [&]() -> Result<int64_t> {
    LABBOOK_ASSIGN_OR_RETURN(Statement count, db.Prepare("SELECT count(*) FROM sqlite_schema"));
    LABBOOK_RETURN_IF_ERROR(count.Step().status());
    return count.Int(0);
  }();
  if (!objects.ok() && objects.status().code() == ErrorCode::kDataLoss) {
    return DataLoss(db.path() + ": not a labbook auth database: not a SQLite database, or corrupt");
  }
  if (!objects.ok()) return objects.status();
  LABBOOK_ASSIGN_OR_RETURN(int64_t application_id, db.PragmaInt("application_id"));
  if (*objects > 0 && application_id != kApplicationId) {
    return DataLoss(db.path() +
                    ": not a labbook auth database: a SQLite database of another application "
                    "(is it the run store?)");
  }
  LABBOOK_ASSIGN_OR_RETURN(int64_t version, db.PragmaInt("user_version"));
  if (version > static_cast<int64_t>(kMigrations.size())) {
    return FailedPrecondition(db.path() + ": the auth database has schema version " +
                              std::to_string(version) + ", newer than this labbook knows (" +
                              std::to_string(kMigrations.size()) + "); use a newer labbook");
  }
  return Status::Ok();
}

Status Configure(Connection& db) {
  if (db.read_only()) {
    return PermissionDenied(db.path() +
                            ": the auth database is read-only, but authenticating writes to it "
                            "(keys' last-used times)");
  }
  db.set_action("switch the auth database to WAL mode");
  LABBOOK_ASSIGN_OR_RETURN(std::string mode, db.SwitchToWal());
  if (mode != "wal") {
    return FailedPrecondition(db.path() + ": cannot switch the auth database to WAL mode (it is " +
                              mode + ")");
  }
  db.set_action("configure the auth database");
  LABBOOK_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous = NORMAL"));
  return db.Exec("PRAGMA foreign_keys = ON");
}

// Applies the migrations the database lacks, each in its own transaction. Another process may be
// opening the same file: the version is read again under the write lock.
Status Migrate(Connection& db) {
  for (;;) {
    LABBOOK_ASSIGN_OR_RETURN(int64_t version, db.PragmaInt("user_version"));
    if (version >= static_cast<int64_t>(kMigrations.size())) return Status::Ok();
    db.set_action("create the auth database's schema version " + std::to_string(version + 1));
    LABBOOK_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Write(db));
    LABBOOK_ASSIGN_OR_RETURN(int64_t current, db.PragmaInt("user_version"));
    if (current == version) {
      LABBOOK_RETURN_IF_ERROR(db.Exec(std::string(kMigrations[static_cast<size_t>(version)])));
      LABBOOK_RETURN_IF_ERROR(db.Exec("PRAGMA user_version = " + std::to_string(version + 1)));
      LABBOOK_RETURN_IF_ERROR(db.Exec("PRAGMA application_id = " + std::to_string(kApplicationId)));
    }
    LABBOOK_RETURN_IF_ERROR(transaction.Commit());
  }
}

}  // namespace

Result<std::unique_ptr<AuthStore>> OpenSqliteAuthStore(const fs::path& path) {
  return OpenSqliteAuthStore(path, SqliteAuthStoreOptions{});
}

Result<std::unique_ptr<AuthStore>> OpenSqliteAuthStore(const fs::path& path,
                                                       const SqliteAuthStoreOptions& options) {
  if (path.empty()) return InvalidArgument("the auth database's path is empty");
  std::error_code error;
  if (fs::is_directory(path, error)) {
    return InvalidArgument(path.string() + ": is a directory, not an auth database file");
  }
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<Connection> db,
                           Connection::Open(path.string(), false, options.busy_timeout_ms));
  db->set_action("open the auth database");
  LABBOOK_RETURN_IF_ERROR(CheckIsAuthDatabase(*db));
  LABBOOK_RETURN_IF_ERROR(Configure(*db));
  LABBOOK_RETURN_IF_ERROR(Migrate(*db));
  return std::unique_ptr<AuthStore>(new SqliteAuthStore(
      std::move(db), options.clock ? options.clock : std::function<double()>(&UnixSeconds)));
}

}  // namespace labbook::server
