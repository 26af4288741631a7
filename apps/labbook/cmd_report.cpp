// `labbook report SPEC`: a Markdown spec with labbook directives rendered into one
// self-contained HTML file, or Markdown with its plots beside it (docs/report.md).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "commands.hpp"
#include "core/status_macros.hpp"
#include "output.hpp"
#include "report/document/report_document.hpp"
#include "track/store.hpp"

namespace labbook::cli {
namespace {

struct ReportOptions {
  std::string spec;
  std::string out;
  std::string format;
  std::string store;
};

Result<std::string> ReadSpec(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    return NotFound(path + ": no such spec file");
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) return PermissionDenied(path + ": cannot read the spec");
  return text.str();
}

Status RunReport(const ReportOptions& options) {
  using report::document::ReportFormat;
  std::string format = options.format;
  if (format.empty()) {
    format = !options.out.empty() && options.out.ends_with(".md") ? "md" : "html";
  }
  if (format != "html" && format != "md") {
    return InvalidArgument("--format: expected 'html' or 'md', got '" + format + "'");
  }
  std::string out = options.out;
  if (out.empty()) {
    out = "labbook-out/" + FileStem(options.spec) + (format == "md" ? ".md" : ".html");
  }
  std::error_code error;
  if (std::filesystem::equivalent(out, options.spec, error)) {
    return InvalidArgument("--out " + out + " is the spec itself; name another file");
  }
  LABBOOK_ASSIGN_OR_RETURN(std::string spec, ReadSpec(options.spec));

  report::document::ReportSources sources;
  const std::string uri = options.store.empty() ? track::DefaultStoreUri() : options.store;
  sources.open_store = [uri] { return track::OpenExistingStore(uri); };
  LABBOOK_ASSIGN_OR_RETURN(
      report::document::RenderedReport rendered,
      report::document::RenderReport(spec, options.spec,
                                     format == "md" ? ReportFormat::kMarkdown : ReportFormat::kHtml,
                                     FileStem(out), sources));
  std::filesystem::path parent = std::filesystem::path(out).parent_path();
  if (!parent.empty()) LABBOOK_RETURN_IF_ERROR(EnsureDirectory(parent.string()));
  LABBOOK_RETURN_IF_ERROR(report::document::WriteReport(rendered, out));
  if (rendered.files.empty()) {
    std::printf("wrote %s\n", out.c_str());
  } else {
    std::printf("wrote %s and %zu plot files in %s_files/\n", out.c_str(), rendered.files.size(),
                (parent / FileStem(out)).string().c_str());
  }
  return Status::Ok();
}

}  // namespace

void AddReportCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<ReportOptions>();
  CLI::App* command = app.add_subcommand(
      "report",
      "Render a Markdown spec with labbook directives (dataset statistics, runs, learning "
      "curves, confusion matrices, misclassified images) into one self-contained HTML file, or "
      "Markdown with PNG/SVG plots; the same inputs give byte-identical output");
  command->add_option("spec", options->spec, "The spec: Markdown with ```labbook blocks")
      ->required();
  command->add_option("--out", options->out,
                      "File to write (default labbook-out/SPEC-NAME.html, or .md)");
  command->add_option("--format", options->format,
                      "html (one file) or md (Markdown, plots in OUT-NAME_files/); default md "
                      "when --out ends in .md, else html");
  command->add_option("--store", options->store,
                      "Store URI of the runs (default: LABBOOK_STORE, else "
                      "sqlite://.labbook/labbook.db)");
  command->footer("Directives: " + report::document::DirectiveNames() +
                  ". docs/report.md describes them and their options.\n");
  command->callback([options, &action] { action = [options] { return RunReport(*options); }; });
}

}  // namespace labbook::cli
