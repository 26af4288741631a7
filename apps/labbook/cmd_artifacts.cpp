// `labbook artifacts`: list the artifact versions of a store and fetch one's files.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "core/status_macros.hpp"
#include "output.hpp"
#include "report/text_table.hpp"
#include "track/store.hpp"

namespace labbook::cli {

using nlohmann::json;

json ArtifactJson(const track::ArtifactVersion& artifact) {
  json files = json::array();
  int64_t size = 0;
  for (const track::ArtifactFile& file : artifact.files) {
    files.push_back({{"path", file.path}, {"sha256", file.sha256}, {"size", file.size}});
    size += file.size;
  }
  return {
      {"entity", artifact.entity},
      {"project", artifact.project},
      {"name", artifact.name},
      {"type", artifact.type},
      {"version", artifact.version},
      {"reference", artifact.name + ":" + artifact.VersionName()},
      {"digest", artifact.digest},
      {"aliases", artifact.aliases},
      {"files", std::move(files)},
      {"size", size},
      {"metadata", artifact.metadata},
      {"producer_run", artifact.producer_run},
      {"created_time", artifact.created_time == 0 ? json(nullptr) : json(artifact.created_time)},
      {"created", IsoUtc(artifact.created_time)}};
}

namespace {

using report::Align;
using report::TextTable;

struct ArtifactsListOptions {
  std::string store;
  std::string project;
  std::string entity;
  bool json = false;
};

struct ArtifactsGetOptions {
  std::string store;
  std::string reference;
  std::string project;
  std::string entity;
  std::string out;
};

std::string StoreUri(const std::string& option) {
  return option.empty() ? track::DefaultStoreUri() : option;
}

void AddStoreOption(CLI::App* command, std::string& store) {
  command->add_option("--store", store,
                      "Store URI: sqlite:///abs/path.db, sqlite://rel/path.db or a file path "
                      "(default: LABBOOK_STORE, else sqlite://.labbook/labbook.db)");
}

Status RunArtifactsList(const ArtifactsListOptions& options, bool colour) {
  const std::string uri = StoreUri(options.store);
  if (std::optional<std::string> missing = track::MissingStoreFile(uri)) {
    if (options.json) {
      PrintJson(json::array());
    } else {
      std::printf("no artifacts: %s does not exist\n", missing->c_str());
    }
    return Status::Ok();
  }
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<track::RunStore> store, track::OpenStore(uri));
  LABBOOK_ASSIGN_OR_RETURN(std::vector<track::ArtifactVersion> artifacts,
                           store->ListArtifacts({options.entity, options.project}));
  if (options.json) {
    json array = json::array();
    for (const auto& artifact : artifacts) array.push_back(ArtifactJson(artifact));
    PrintJson(array);
    return Status::Ok();
  }
  if (artifacts.empty()) {
    std::printf("no artifacts in %s%s\n", store->uri().c_str(),
                options.project.empty() ? "" : (" for project " + options.project).c_str());
    return Status::Ok();
  }
  std::set<std::string> projects;
  for (const auto& artifact : artifacts) projects.insert(artifact.entity + "/" + artifact.project);
  const bool show_project = projects.size() > 1;
  std::vector<TextTable::Column> columns = {{"name", Align::kLeft}, {"type", Align::kLeft}};
  if (show_project) columns.push_back({"project", Align::kLeft});
  columns.insert(columns.end(), {{"version", Align::kLeft},
                                 {"aliases", Align::kLeft},
                                 {"size", Align::kRight},
                                 {"files", Align::kRight},
                                 {"producer run", Align::kLeft},
                                 {"created", Align::kLeft}});
  TextTable table(columns);
  const double now = UnixSeconds();
  for (const auto& artifact : artifacts) {
    int64_t size = 0;
    for (const auto& file : artifact.files) size += file.size;
    std::string aliases;
    for (const std::string& alias : artifact.aliases) {
      aliases += (aliases.empty() ? "" : ", ") + alias;
    }
    std::vector<std::string> row = {artifact.name, artifact.type};
    if (show_project) row.push_back(artifact.entity + "/" + artifact.project);
    row.insert(row.end(), {artifact.VersionName(), aliases, FormatBytes(size),
                           FormatCount(static_cast<int64_t>(artifact.files.size())),
                           artifact.producer_run.empty() ? "-" : artifact.producer_run,
                           FormatAge(artifact.created_time, now)});
    LABBOOK_RETURN_IF_ERROR(table.AddRow(std::move(row)));
  }
  std::fputs(table.Render(colour).c_str(), stdout);
  return Status::Ok();
}

// "name", "name:alias" or "name:v3" into the name and the version or alias ("latest" when
// none).
Result<std::pair<std::string, std::string>> ParseReference(const std::string& reference) {
  size_t colon = reference.rfind(':');
  std::string name = reference.substr(0, colon);
  std::string version = colon == std::string::npos ? "latest" : reference.substr(colon + 1);
  bool name_ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
  if (!name_ok || version.empty()) {
    return InvalidArgument("artifact reference '" + reference +
                           "': expected NAME, NAME:ALIAS or NAME:vN with a name of letters, "
                           "digits, '.', '_' and '-'");
  }
  return std::make_pair(name, version);
}

Status RunArtifactsGet(const ArtifactsGetOptions& options) {
  LABBOOK_ASSIGN_OR_RETURN(auto parsed, ParseReference(options.reference));
  const auto& [name, version] = parsed;
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<track::RunStore> store,
                           track::OpenExistingStore(StoreUri(options.store)));
  // An empty --project (or --entity) leaves it open: the one project holding the name.
  LABBOOK_ASSIGN_OR_RETURN(
      const track::ArtifactVersion found,
      track::FindArtifact(*store, options.entity, options.project, name, version));
  const track::ArtifactVersion& artifact = found;
  const std::string reference = artifact.name + ":" + artifact.VersionName();
  LABBOOK_RETURN_IF_ERROR(EnsureDirectory(options.out));
  int64_t size = 0;
  for (const track::ArtifactFile& file : artifact.files) {
    LABBOOK_ASSIGN_OR_RETURN(std::filesystem::path destination,
                             track::ArtifactFileDestination(options.out, reference, file.path));
    LABBOOK_RETURN_IF_ERROR(EnsureDirectory(destination.parent_path().string()));
    Status read = store->ReadArtifactFile(file, destination);
    if (!read.ok()) return read.WithContext("artifact " + reference + " file " + file.path);
    size += file.size;
  }
  std::printf("wrote %s (%s, %s file%s, %s, digest %s) to %s/\n", reference.c_str(),
              artifact.type.c_str(),
              FormatCount(static_cast<int64_t>(artifact.files.size())).c_str(),
              artifact.files.size() == 1 ? "" : "s", FormatBytes(size).c_str(),
              artifact.digest.substr(0, 12).c_str(), options.out.c_str());
  for (const track::ArtifactFile& file : artifact.files) {
    std::printf("  %s\n", file.path.c_str());
  }
  return Status::Ok();
}

}  // namespace

void AddArtifactsCommand(CLI::App& app, Action& action) {
  CLI::App* artifacts = app.add_subcommand(
      "artifacts", "Versioned files logged by runs: models, datasets, predictions, tables");
  artifacts->require_subcommand(1);

  auto list_options = std::make_shared<ArtifactsListOptions>();
  CLI::App* list = artifacts->add_subcommand("list", "Every version of every artifact");
  AddStoreOption(list, list_options->store);
  list->add_option("--project", list_options->project, "Only artifacts of this project");
  list->add_option("--entity", list_options->entity, "Only artifacts of this entity");
  list->add_flag("--json", list_options->json, "Print the versions as a JSON array");
  list->callback([list_options, &action] {
    action = [list_options] {
      return RunArtifactsList(*list_options, report::StdoutWantsColour());
    };
  });

  auto get_options = std::make_shared<ArtifactsGetOptions>();
  CLI::App* get = artifacts->add_subcommand(
      "get", "Write an artifact version's files under a directory, their digests verified");
  get->add_option("reference", get_options->reference,
                  "NAME (the latest version), NAME:ALIAS or NAME:vN")
      ->required();
  AddStoreOption(get, get_options->store);
  get->add_option("--project", get_options->project,
                  "The artifact's project (needed when several projects use the name)");
  get->add_option("--entity", get_options->entity, "The artifact's entity");
  get->add_option("--out", get_options->out, "Directory to write the files under")->required();
  get->callback(
      [get_options, &action] { action = [get_options] { return RunArtifactsGet(*get_options); }; });
}

}  // namespace labbook::cli
