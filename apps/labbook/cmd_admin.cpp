// labbook users, keys, team and project: the accounts of a team server (docs/server.md), over its
// REST API (docs/api.md) with the key that the other commands use (track/http/credentials.hpp).
// A new key's secret is the only thing printed on its line of stdout, so scripts can capture it;
// it appears nowhere else, and no key appears in a message.
#include <httplib.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "core/status_macros.hpp"
#include "report/text_table.hpp"
#include "track/http/credentials.hpp"
#include "track/http/wire.hpp"

namespace labbook::cli {
namespace {

namespace http = track::http;
using nlohmann::json;
using report::Align;
using report::TextTable;

// The server a command talks to and the key it talks with.
struct ServerOptions {
  std::string host;  // --host; empty: LABBOOK_BASE_URL or ./.env
};

// One JSON request to the API with the caller's key. Not thread-safe; one per command.
class AdminClient {
 public:
  static Result<AdminClient> Open(const ServerOptions& options) {
    const http::CredentialContext context = http::CredentialContext::FromProcess();
    std::string host = options.host;
    if (host.empty()) {
      LABBOOK_ASSIGN_OR_RETURN(std::optional<std::string> from_environment,
                               http::ResolveBaseUrl(context));
      if (!from_environment) {
        return InvalidArgument("no server: give --host http://host:port or set LABBOOK_BASE_URL");
      }
      host = *from_environment;
    }
    AdminClient client;
    LABBOOK_ASSIGN_OR_RETURN(client.base_url_, http::ParseBaseUrl(host));
    LABBOOK_ASSIGN_OR_RETURN(http::ApiKey key, http::ResolveApiKey(client.base_url_, context));
    if (key.secret.empty()) {
      return Status(ErrorCode::kUnauthenticated,
                    "no API key for " + client.base_url_.ToString() +
                        ": set LABBOOK_API_KEY or run `labbook login`");
    }
    client.key_ = std::move(key.secret);
    if (std::optional<std::string> ca = context.getenv("LABBOOK_CA_CERT"); ca && !ca->empty()) {
      client.ca_cert_file_ = *ca;
    }
    return client;
  }

  // `method` `route` (under /api/v1) with `body` (null: none): the answer's JSON document (null
  // for 204), or the Status of an error answer with its code and message.
  Result<json> Call(const std::string& method, const std::string& route,
                    const json& body = nullptr) {
    http::BaseUrl origin = base_url_;
    origin.path.clear();
    httplib::Client client(origin.ToString());
    client.set_url_encode(false);  // routes are encoded here, segment by segment
    client.set_connection_timeout(5, 0);
    client.set_read_timeout(60, 0);
    if (!ca_cert_file_.empty()) client.set_ca_cert_path(ca_cert_file_);
    client.enable_server_certificate_verification(true);
    const httplib::Headers headers{{"User-Agent", "labbook"}, {"Authorization", "Bearer " + key_}};
    const std::string path = base_url_.path + "/api/v1" + route;
    const std::string payload = body.is_null() ? "" : body.dump();
    auto send = [&]() -> httplib::Result {
      if (method == "GET") return client.Get(path, headers);
      if (method == "POST") return client.Post(path, headers, payload, "application/json");
      if (method == "PUT") return client.Put(path, headers, payload, "application/json");
      if (method == "PATCH") return client.Patch(path, headers, payload, "application/json");
      return client.Delete(path, headers);
    };
    httplib::Result result = send();
    const std::string what = method + " " + route.substr(0, route.find('?'));
    if (!result) {
      return Status(ErrorCode::kUnavailable, "cannot reach the server " + base_url_.ToString() +
                                                 " (" + what +
                                                 "): " + httplib::to_string(result.error()));
    }
    json document = json::parse(result->body, nullptr, /*allow_exceptions=*/false);
    if (result->status < 200 || result->status >= 300) {
      if (document.is_object() && document.contains("error") && document["error"].is_object()) {
        const json& error = document["error"];
        const std::string name = error.value("code", "");
        return Status(ErrorCodeNamed(name).value_or(ErrorCodeForHttpStatus(result->status)),
                      error.value("message", ""));
      }
      return Status(ErrorCodeForHttpStatus(result->status),
                    "the server " + base_url_.ToString() + " answered HTTP " +
                        std::to_string(result->status) + " to " + what);
    }
    if (result->status == 204 || result->body.empty()) return json(nullptr);
    if (document.is_discarded() || !document.is_object()) {
      return DataLoss("the server " + base_url_.ToString() + " answered " + what +
                      " with a body that is not a JSON object");
    }
    return document;
  }

 private:
  AdminClient() = default;

  http::BaseUrl base_url_;
  std::string key_;
  std::string ca_cert_file_;
};

// document[name] when it is an object, else kDataLoss naming the field.
Result<json> ObjectField(const json& document, const char* name) {
  if (!document.is_object() || !document.contains(name) || !document[name].is_object()) {
    return DataLoss(std::string("the server's answer has no object \"") + name + "\"");
  }
  return document[name];
}

// The "secret" of an answer that created a key, alone on its line of stdout.
Status PrintSecret(const json& document) {
  if (!document.contains("secret") || !document["secret"].is_string()) {
    return DataLoss("the server's answer has no \"secret\"");
  }
  std::printf("%s\n", document["secret"].get<std::string>().c_str());
  return Status::Ok();
}

std::string KeyId(const json& document) {
  if (document.contains("key") && document["key"].is_object()) {
    return document["key"].value("id", "");
  }
  return "";
}

void AddHostOption(CLI::App* command, ServerOptions& options) {
  command->add_option("--host", options.host,
                      "The server, http(s)://host:port (default: LABBOOK_BASE_URL or ./.env)");
}

// ---- users ----

struct UsersCreateOptions {
  ServerOptions server;
  std::string name;
  bool admin = false;
};

Status UsersCreate(const UsersCreateOptions& options) {
  LABBOOK_ASSIGN_OR_RETURN(AdminClient client, AdminClient::Open(options.server));
  LABBOOK_ASSIGN_OR_RETURN(
      json answer,
      client.Call("POST", "/users", {{"name", options.name}, {"admin", options.admin}}));
  LABBOOK_RETURN_IF_ERROR(PrintSecret(answer));
  std::fprintf(stderr, "labbook: created %suser %s; their first key (id %s) is shown only once\n",
               options.admin ? "server admin " : "", options.name.c_str(), KeyId(answer).c_str());
  return Status::Ok();
}

// ---- keys ----

struct KeysCreateOptions {
  ServerOptions server;
  std::string name;
  std::string user;
};

Status KeysCreate(const KeysCreateOptions& options) {
  LABBOOK_ASSIGN_OR_RETURN(AdminClient client, AdminClient::Open(options.server));
  json body = json::object();
  if (!options.name.empty()) body["name"] = options.name;
  if (!options.user.empty()) body["user"] = options.user;
  LABBOOK_ASSIGN_OR_RETURN(json answer, client.Call("POST", "/keys", body));
  LABBOOK_RETURN_IF_ERROR(PrintSecret(answer));
  std::fprintf(stderr, "labbook: created key %s; it is shown only once\n", KeyId(answer).c_str());
  return Status::Ok();
}

struct KeysListOptions {
  ServerOptions server;
  std::string user;
  bool json = false;
};

double NumberOr0(const json& value, const char* name) {
  return value.contains(name) && value[name].is_number() ? value[name].get<double>() : 0.0;
}

Status KeysList(const KeysListOptions& options) {
  LABBOOK_ASSIGN_OR_RETURN(AdminClient client, AdminClient::Open(options.server));
  std::string route = "/keys";
  if (!options.user.empty()) route += "?user=" + track::wire::EncodeUrlComponent(options.user);
  LABBOOK_ASSIGN_OR_RETURN(json answer, client.Call("GET", route));
  if (!answer.is_object() || !answer.contains("keys") || !answer["keys"].is_array()) {
    return DataLoss("the server's answer has no array \"keys\"");
  }
  json keys = json::array();
  for (const json& key : answer["keys"]) {
    if (!key.is_object()) return DataLoss("keys: expected objects");
    json shown = key;
    shown.erase("secret");  // never printed, whatever a server sends
    keys.push_back(std::move(shown));
  }
  if (options.json) {
    PrintJson(keys);
    return Status::Ok();
  }
  if (keys.empty()) {
    std::printf("no keys\n");
    return Status::Ok();
  }
  const double now = UnixSeconds();
  TextTable table({{"id", Align::kLeft},
                   {"user", Align::kLeft},
                   {"name", Align::kLeft},
                   {"created", Align::kLeft},
                   {"last used", Align::kLeft},
                   {"revoked", Align::kLeft}});
  for (const json& key : keys) {
    const double last_used = NumberOr0(key, "last_used_time");
    LABBOOK_RETURN_IF_ERROR(
        table.AddRow({key.value("id", ""), key.value("user", ""), key.value("name", ""),
                      FormatAge(NumberOr0(key, "created_time"), now),
                      last_used > 0 ? FormatAge(last_used, now) : "never",
                      key.value("revoked", false) ? "yes" : "no"}));
  }
  std::fputs(table.Render(/*colour=*/false).c_str(), stdout);
  return Status::Ok();
}

struct KeysRevokeOptions {
  ServerOptions server;
  std::string id;
};

Status KeysRevoke(const KeysRevokeOptions& options) {
  LABBOOK_ASSIGN_OR_RETURN(AdminClient client, AdminClient::Open(options.server));
  LABBOOK_RETURN_IF_ERROR(
      client.Call("DELETE", "/keys/" + track::wire::EncodeUrlComponent(options.id)).status());
  std::printf("revoked key %s\n", options.id.c_str());
  return Status::Ok();
}

// ---- team ----

struct TeamOptions {
  ServerOptions server;
  std::string team;
  std::string user;
  std::string role = "member";
};

Status TeamCreate(const TeamOptions& options) {
  LABBOOK_ASSIGN_OR_RETURN(AdminClient client, AdminClient::Open(options.server));
  LABBOOK_RETURN_IF_ERROR(client.Call("POST", "/teams", {{"name", options.team}}).status());
  std::printf("created team %s\n", options.team.c_str());
  return Status::Ok();
}

std::string MemberRoute(const TeamOptions& options) {
  return "/teams/" + track::wire::EncodeUrlComponent(options.team) + "/members/" +
         track::wire::EncodeUrlComponent(options.user);
}

Status TeamAdd(const TeamOptions& options) {
  LABBOOK_ASSIGN_OR_RETURN(AdminClient client, AdminClient::Open(options.server));
  LABBOOK_ASSIGN_OR_RETURN(json answer,
                           client.Call("PUT", MemberRoute(options), {{"role", options.role}}));
  std::string role = options.role;
  if (Result<json> member = ObjectField(answer, "member"); member.ok()) {
    role = member->value("role", role);
  }
  std::printf("%s is %s %s of team %s\n", options.user.c_str(), role == "admin" ? "an" : "a",
              role.c_str(), options.team.c_str());
  return Status::Ok();
}

Status TeamRemove(const TeamOptions& options) {
  LABBOOK_ASSIGN_OR_RETURN(AdminClient client, AdminClient::Open(options.server));
  LABBOOK_RETURN_IF_ERROR(client.Call("DELETE", MemberRoute(options)).status());
  std::printf("removed %s from team %s\n", options.user.c_str(), options.team.c_str());
  return Status::Ok();
}

// ---- project ----

struct VisibilityOptions {
  ServerOptions server;
  std::string project;  // ENTITY/PROJECT
  std::string visibility;
};

Status ProjectVisibility(const VisibilityOptions& options) {
  const size_t slash = options.project.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == options.project.size() ||
      options.project.find('/', slash + 1) != std::string::npos) {
    return InvalidArgument("expected ENTITY/PROJECT, got '" + options.project + "'");
  }
  const std::string entity = options.project.substr(0, slash);
  const std::string project = options.project.substr(slash + 1);
  LABBOOK_ASSIGN_OR_RETURN(AdminClient client, AdminClient::Open(options.server));
  LABBOOK_ASSIGN_OR_RETURN(
      json answer, client.Call("PATCH",
                               "/projects/" + track::wire::EncodeUrlComponent(entity) + "/" +
                                   track::wire::EncodeUrlComponent(project),
                               {{"visibility", options.visibility}}));
  std::string visibility = options.visibility;
  if (Result<json> shown = ObjectField(answer, "project"); shown.ok()) {
    visibility = shown->value("visibility", visibility);
  }
  std::printf("%s/%s is now %s\n", entity.c_str(), project.c_str(), visibility.c_str());
  return Status::Ok();
}

}  // namespace

void AddUsersCommand(CLI::App& app, Action& action) {
  CLI::App* users = app.add_subcommand("users", "Manage the users of a labbook server");
  users->require_subcommand(1);
  auto create_options = std::make_shared<UsersCreateOptions>();
  CLI::App* create = users->add_subcommand(
      "create", "Create a user (server admins); prints their first key once, alone on a line");
  create->add_option("NAME", create_options->name, "The user's name")->required();
  create->add_flag("--admin", create_options->admin, "Make the user a server admin");
  AddHostOption(create, create_options->server);
  create->callback([create_options, &action] {
    action = [create_options] { return UsersCreate(*create_options); };
  });
}

void AddKeysCommand(CLI::App& app, Action& action) {
  CLI::App* keys = app.add_subcommand("keys", "Manage API keys on a labbook server");
  keys->require_subcommand(1);

  auto create_options = std::make_shared<KeysCreateOptions>();
  CLI::App* create =
      keys->add_subcommand("create", "Create a key; prints it once, alone on a line");
  create->add_option("--name", create_options->name, "What the key is for, e.g. laptop");
  create->add_option("--user", create_options->user,
                     "Whose key (server admins; default: your own)");
  AddHostOption(create, create_options->server);
  create->callback([create_options, &action] {
    action = [create_options] { return KeysCreate(*create_options); };
  });

  auto list_options = std::make_shared<KeysListOptions>();
  CLI::App* list = keys->add_subcommand(
      "list", "List keys: id, user, name, created, last used, revoked (never the secrets)");
  list->add_option("--user", list_options->user, "Only this user's keys (server admins)");
  list->add_flag("--json", list_options->json, "Print JSON instead of a table");
  AddHostOption(list, list_options->server);
  list->callback(
      [list_options, &action] { action = [list_options] { return KeysList(*list_options); }; });

  auto revoke_options = std::make_shared<KeysRevokeOptions>();
  CLI::App* revoke = keys->add_subcommand("revoke", "Revoke a key; it stops working at once");
  revoke->add_option("ID", revoke_options->id, "The key's id (from `labbook keys list`)")
      ->required();
  AddHostOption(revoke, revoke_options->server);
  revoke->callback([revoke_options, &action] {
    action = [revoke_options] { return KeysRevoke(*revoke_options); };
  });
}

void AddTeamCommand(CLI::App& app, Action& action) {
  CLI::App* team = app.add_subcommand("team", "Manage the teams of a labbook server");
  team->require_subcommand(1);

  auto create_options = std::make_shared<TeamOptions>();
  CLI::App* create = team->add_subcommand("create", "Create a team; you become its admin");
  create->add_option("NAME", create_options->team, "The team's name")->required();
  AddHostOption(create, create_options->server);
  create->callback([create_options, &action] {
    action = [create_options] { return TeamCreate(*create_options); };
  });

  auto add_options = std::make_shared<TeamOptions>();
  CLI::App* add = team->add_subcommand("add", "Add a user to a team, or change their role");
  add->add_option("TEAM", add_options->team, "The team")->required();
  add->add_option("USER", add_options->user, "The user")->required();
  add->add_option("--role", add_options->role, "viewer, member or admin (default member)")
      ->check(CLI::IsMember({"viewer", "member", "admin"}));
  AddHostOption(add, add_options->server);
  add->callback(
      [add_options, &action] { action = [add_options] { return TeamAdd(*add_options); }; });

  auto remove_options = std::make_shared<TeamOptions>();
  CLI::App* remove = team->add_subcommand("remove", "Remove a user from a team");
  remove->add_option("TEAM", remove_options->team, "The team")->required();
  remove->add_option("USER", remove_options->user, "The user")->required();
  AddHostOption(remove, remove_options->server);
  remove->callback([remove_options, &action] {
    action = [remove_options] { return TeamRemove(*remove_options); };
  });
}

void AddProjectCommand(CLI::App& app, Action& action) {
  CLI::App* project = app.add_subcommand("project", "Manage projects on a labbook server");
  project->require_subcommand(1);
  auto options = std::make_shared<VisibilityOptions>();
  CLI::App* visibility = project->add_subcommand(
      "visibility", "Make a project public (readable by anyone) or private (entity admins)");
  visibility->add_option("PROJECT", options->project, "ENTITY/PROJECT")->required();
  visibility->add_option("VISIBILITY", options->visibility, "public or private")
      ->required()
      ->check(CLI::IsMember({"public", "private"}));
  AddHostOption(visibility, options->server);
  visibility->callback(
      [options, &action] { action = [options] { return ProjectVisibility(*options); }; });
}

}  // namespace labbook::cli
