// `labbook gc`: removes the artifact contents of a SQLite store that no artifact version
// references any more, the leftovers of interrupted copies, and (with --server-data) the second
// copies a team server keeps of uploaded blobs. Safe while other processes write: the protocol is
// in track/sqlite/sqlite_store.hpp (CollectGarbage) and server/blob_uploads.hpp.
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "commands.hpp"
#include "core/status_macros.hpp"
#include "server/blob_uploads.hpp"
#include "track/sqlite/sqlite_store.hpp"
#include "track/store.hpp"

namespace labbook::cli {
namespace {

struct GcOptions {
  std::string store;
  std::string grace = "1h";
  std::string server_data;
  bool dry_run = false;
  bool json = false;
};

// "3600", "90s", "30m", "1h", "2d" as seconds.
Result<std::chrono::seconds> ParseGrace(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  const std::string unit = text.substr(digits);
  int64_t scale = 0;
  if (unit.empty() || unit == "s") scale = 1;
  if (unit == "m") scale = 60;
  if (unit == "h") scale = 3600;
  if (unit == "d") scale = 86400;
  if (digits == 0 || digits > 9 || scale == 0) {
    return InvalidArgument("--grace: expected a duration such as 3600, 90s, 30m, 1h or 2d, got '" +
                           text + "'");
  }
  return std::chrono::seconds(std::stoll(text.substr(0, digits)) * scale);
}

// "3 unreferenced blobs (1.5 KiB)"
std::string Count(int64_t count, const std::string& what, int64_t bytes) {
  return std::to_string(count) + " " + what + (count == 1 ? "" : "s") + " (" + FormatBytes(bytes) +
         ")";
}

Status RunGc(const GcOptions& options) {
  const std::string uri = options.store.empty() ? track::DefaultStoreUri() : options.store;
  if (track::IsServerUri(uri)) {
    return FailedPrecondition(
        "labbook gc runs where the store is, not over HTTP: on the host of the server " + uri +
        ", run labbook gc --store <the store of its --store> --server-data <its --data "
        "directory>");
  }
  std::string path = uri;
  if (path.rfind("sqlite://", 0) == 0) path = path.substr(9);
  LABBOOK_ASSIGN_OR_RETURN(std::chrono::seconds grace, ParseGrace(options.grace));
  track::sqlite::GarbageOptions garbage_options;
  garbage_options.grace = grace;
  garbage_options.dry_run = options.dry_run;
  LABBOOK_ASSIGN_OR_RETURN(track::sqlite::GarbageReport report,
                           track::sqlite::CollectGarbage(path, garbage_options));
  std::optional<server::BlobUploads::Garbage> uploads;
  if (!options.server_data.empty()) {
    const server::BlobUploads directory(std::filesystem::path(options.server_data) / "uploads");
    LABBOOK_ASSIGN_OR_RETURN(uploads, directory.CollectGarbage(grace, options.dry_run));
  }
  int64_t freed = report.blob_bytes + report.temporary_bytes;
  if (uploads) freed += uploads->upload_bytes + uploads->temporary_bytes;

  if (options.json) {
    nlohmann::json out = {
        {"store", "sqlite://" + path},
        {"dry_run", options.dry_run},
        {"grace_seconds", grace.count()},
        {"blobs",
         {{"removed", report.blobs_removed},
          {"bytes", report.blob_bytes},
          {"referenced", report.blobs_referenced},
          {"kept_young", report.kept_young}}},
        {"temporary", {{"removed", report.temporary_removed}, {"bytes", report.temporary_bytes}}},
        {"uploads", nullptr},
        {"freed_bytes", freed},
    };
    if (uploads) {
      out["uploads"] = {{"removed", uploads->uploads_removed},
                        {"bytes", uploads->upload_bytes},
                        {"temporary_removed", uploads->temporary_removed},
                        {"temporary_bytes", uploads->temporary_bytes},
                        {"kept_young", uploads->kept_young}};
    }
    PrintJson(out);
    return Status::Ok();
  }
  std::printf("%s %s and %s from sqlite://%s\n", options.dry_run ? "would remove" : "removed",
              Count(report.blobs_removed, "unreferenced blob", report.blob_bytes).c_str(),
              Count(report.temporary_removed, "temporary file", report.temporary_bytes).c_str(),
              path.c_str());
  if (uploads) {
    std::printf(
        "%s %s and %s from %s/uploads\n", options.dry_run ? "would remove" : "removed",
        Count(uploads->uploads_removed, "upload", uploads->upload_bytes).c_str(),
        Count(uploads->temporary_removed, "temporary file", uploads->temporary_bytes).c_str(),
        options.server_data.c_str());
  }
  std::printf("kept %lld referenced blob%s and %lld file%s younger than %s\n",
              static_cast<long long>(report.blobs_referenced),
              report.blobs_referenced == 1 ? "" : "s",
              static_cast<long long>(report.kept_young + (uploads ? uploads->kept_young : 0)),
              report.kept_young + (uploads ? uploads->kept_young : 0) == 1 ? "" : "s",
              options.grace.c_str());
  std::printf("%s %s\n", options.dry_run ? "would free" : "freed", FormatBytes(freed).c_str());
  return Status::Ok();
}

}  // namespace

void AddGcCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<GcOptions>();
  CLI::App* cmd = app.add_subcommand(
      "gc",
      "Remove artifact contents no artifact references (and a server's spent uploads), safely "
      "while others write");
  cmd->add_option("--store", options->store,
                  "SQLite store (default: LABBOOK_STORE, else sqlite://.labbook/labbook.db); a "
                  "server's store is collected on its host");
  cmd->add_option("--grace", options->grace,
                  "Keep files younger than this, referenced or not: 3600, 90s, 30m, 1h (default), "
                  "2d");
  cmd->add_option("--server-data", options->server_data,
                  "Also the uploads of the labbook serve whose --data is this directory");
  cmd->add_flag("--dry-run", options->dry_run, "Count what would be removed; remove nothing");
  cmd->add_flag("--json", options->json, "Print the report as JSON");
  cmd->callback([options, &action] { action = [options] { return RunGc(*options); }; });
}

}  // namespace labbook::cli
