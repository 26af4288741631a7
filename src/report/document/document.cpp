// The report as a whole: the spec parsed by cmark-gfm (CommonMark with GitHub's tables,
// strikethrough and autolinks), its directive blocks replaced by what they render, and the
// result wrapped in one HTML page or written back as Markdown.
#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm-extension_api.h>
#include <cmark-gfm.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <utility>

#include "core/errno_status.hpp"
#include "core/status_macros.hpp"
#include "report/document/blocks.hpp"
#include "report/format.hpp"
#include "report/document/directives.hpp"
#include "report/document/report_document.hpp"
#include "report/document/spec.hpp"

namespace labbook::report::document {
namespace {

// Light, print-friendly and readable without a network: system fonts only.
constexpr const char* kStyle = R"css(
body { margin: 0; background: #fff; color: #222;
  font: 16px/1.5 "DejaVu Sans", system-ui, -apple-system, "Segoe UI", sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 24px 20px 64px; }
h1, h2, h3 { line-height: 1.25; margin: 1.6em 0 0.6em; }
h1 { font-size: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.3em; }
h2 { font-size: 1.5em; border-bottom: 1px solid #eee; padding-bottom: 0.2em; }
a { color: #0b62a4; }
code, pre { font-family: "DejaVu Sans Mono", ui-monospace, monospace; font-size: 0.9em;
  background: #f5f5f5; border-radius: 4px; }
code { padding: 0.1em 0.3em; }
pre { padding: 12px; overflow-x: auto; }
pre code { padding: 0; background: none; }
blockquote { margin: 0; padding: 0 1em; color: #555; border-left: 4px solid #ddd; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
caption { text-align: left; font-weight: bold; padding-bottom: 0.4em; }
th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f5f5f5; }
tbody tr:nth-child(even) { background: #fafafa; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.2em 0; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9em; margin-top: 0.3em; }
@media print { main { max-width: none; } figure, table { break-inside: avoid; } }
)css";

struct NodeDeleter {
  void operator()(cmark_node* node) const { cmark_node_free(node); }
};
struct ParserDeleter {
  void operator()(cmark_parser* parser) const { cmark_parser_free(parser); }
};

// The text of a node's inline children: a heading's words without their markup.
std::string PlainText(cmark_node* node) {
  std::string text;
  for (cmark_node* child = cmark_node_first_child(node); child != nullptr;
       child = cmark_node_next(child)) {
    cmark_node_type type = cmark_node_get_type(child);
    if (type == CMARK_NODE_TEXT || type == CMARK_NODE_CODE) {
      const char* literal = cmark_node_get_literal(child);
      if (literal != nullptr) text += literal;
    } else if (type == CMARK_NODE_SOFTBREAK || type == CMARK_NODE_LINEBREAK) {
      text += ' ';
    } else {
      text += PlainText(child);
    }
  }
  return text;
}

// A directive block of the spec and the node it came from.
struct DirectiveBlock {
  cmark_node* node = nullptr;
  int end_line = 0;
  Directive directive;
};

std::string FileStem(std::string_view path) {
  std::string name = std::filesystem::path(std::string(path)).filename().string();
  size_t dot = name.rfind('.');
  return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

// The spec's lines, each with its line end, numbered from 1.
std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t end = text.find('\n');
    size_t length = end == std::string_view::npos ? text.size() : end + 1;
    lines.push_back(text.substr(0, length));
    text.remove_prefix(length);
  }
  return lines;
}

}  // namespace

std::string DirectiveNames() { return DirectiveNameList(); }

Result<RenderedReport> RenderReport(std::string_view spec, std::string_view spec_name,
                                    ReportFormat format, std::string_view out_stem,
                                    const ReportSources& sources) {
  static std::once_flag registered;
  std::call_once(registered, [] { cmark_gfm_core_extensions_ensure_registered(); });

  std::unique_ptr<cmark_parser, ParserDeleter> parser(cmark_parser_new(CMARK_OPT_DEFAULT));
  for (const char* name : {"table", "strikethrough", "autolink"}) {
    if (cmark_syntax_extension* extension = cmark_find_syntax_extension(name)) {
      cmark_parser_attach_syntax_extension(parser.get(), extension);
    }
  }
  cmark_parser_feed(parser.get(), spec.data(), spec.size());
  std::unique_ptr<cmark_node, NodeDeleter> root(cmark_parser_finish(parser.get()));
  if (!root) return Internal(std::string(spec_name) + ": the Markdown parser failed");

  std::vector<DirectiveBlock> blocks;
  std::string title;
  cmark_iter* iter = cmark_iter_new(root.get());
  Status found = Status::Ok();
  for (cmark_event_type event; (event = cmark_iter_next(iter)) != CMARK_EVENT_DONE;) {
    if (event != CMARK_EVENT_ENTER) continue;
    cmark_node* node = cmark_iter_get_node(iter);
    cmark_node_type type = cmark_node_get_type(node);
    if (type == CMARK_NODE_HEADING && title.empty() && cmark_node_get_heading_level(node) == 1) {
      title = PlainText(node);
    }
    if (type != CMARK_NODE_CODE_BLOCK) continue;
    const char* info = cmark_node_get_fence_info(node);
    if (info == nullptr || !IsDirectiveInfo(info)) continue;
    const int line = cmark_node_get_start_line(node);
    if (cmark_node_parent(node) != root.get()) {
      found = InvalidArgument(std::string(spec_name) + ":" + std::to_string(line) +
                              ": a labbook directive must stand at the top level of the "
                              "document, not inside a list or a quote");
      break;
    }
    const char* literal = cmark_node_get_literal(node);
    Result<Directive> directive =
        ParseDirective(info, literal == nullptr ? "" : literal, line, spec_name);
    if (!directive.ok()) {
      found = directive.status();
      break;
    }
    blocks.push_back({node, cmark_node_get_end_line(node), std::move(directive).value()});
  }
  cmark_iter_free(iter);
  LABBOOK_RETURN_IF_ERROR(found);
  if (title.empty()) title = FileStem(spec_name);

  // Each directive's output, in document order; defaults directives have none.
  ReportData data(sources);
  DefaultOptions defaults;
  RenderedReport report;
  std::vector<std::string> outputs;
  int plot_count = 0;
  const std::string files_dir = std::string(out_stem) + "_files";
  for (const DirectiveBlock& block : blocks) {
    if (block.directive.name == "defaults") {
      LABBOOK_RETURN_IF_ERROR(ApplyDefaults(block.directive, spec_name, defaults));
      outputs.emplace_back();
      continue;
    }
    LABBOOK_ASSIGN_OR_RETURN(std::vector<Block> rendered,
                             RenderDirective(block.directive, spec_name, defaults, data));
    outputs.push_back(format == ReportFormat::kHtml
                          ? BlocksToHtml(rendered, block.directive.name, plot_count)
                          : BlocksToMarkdown(rendered, files_dir, plot_count, report.files));
  }

  if (format == ReportFormat::kMarkdown) {
    // The spec's own text stays as written; only the directive blocks' lines are replaced.
    std::vector<std::string_view> lines = Lines(spec);
    size_t next = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
      const int number = static_cast<int>(i) + 1;
      if (next < blocks.size() && number == blocks[next].directive.line) {
        report.text += outputs[next];
        i = static_cast<size_t>(std::max(blocks[next].end_line, number)) - 1;
        ++next;
        continue;
      }
      report.text += lines[i];
    }
    if (!report.text.empty() && report.text.back() != '\n') report.text += '\n';
    return report;
  }

  for (size_t i = 0; i < blocks.size(); ++i) {
    cmark_node* html = cmark_node_new(CMARK_NODE_HTML_BLOCK);
    cmark_node_set_literal(html, outputs[i].c_str());
    cmark_node_insert_before(blocks[i].node, html);
    cmark_node_unlink(blocks[i].node);
    cmark_node_free(blocks[i].node);
  }
  char* body = cmark_render_html(root.get(), CMARK_OPT_UNSAFE,
                                 cmark_parser_get_syntax_extensions(parser.get()));
  if (body == nullptr) return Internal(std::string(spec_name) + ": the HTML renderer failed");
  report.text =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta name=\"generator\" content=\"labbook report\">\n<title>" +
      EscapeMarkup(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n<main>\n" +
      body + "</main>\n</body>\n</html>\n";
  free(body);
  return report;
}

namespace {

Status WriteFileAtomically(const std::filesystem::path& path, std::string_view bytes) {
  const std::string target = path.string();
  const std::string temporary = target + ".tmp-" + std::to_string(getpid());
  int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return StatusFromErrno(target, "write", errno);
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int error = errno;
      close(fd);
      unlink(temporary.c_str());
      return StatusFromErrno(target, "write", error);
    }
    written += static_cast<size_t>(n);
  }
  if (close(fd) != 0 || rename(temporary.c_str(), target.c_str()) != 0) {
    int error = errno;
    unlink(temporary.c_str());
    return StatusFromErrno(target, "write", error);
  }
  return Status::Ok();
}

// Whether a file name is one a Markdown report writes: "NN-name.png" or "NN-name.svg".
bool IsPlotFileName(const std::string& name) {
  return name.size() > 7 && std::isdigit(static_cast<unsigned char>(name[0])) &&
         std::isdigit(static_cast<unsigned char>(name[1])) && name[2] == '-' &&
         (name.ends_with(".png") || name.ends_with(".svg"));
}

}  // namespace

Status WriteReport(const RenderedReport& report, const std::string& out_path) {
  const std::filesystem::path out(out_path);
  const std::filesystem::path directory = out.parent_path();
  std::set<std::filesystem::path> written;
  for (const ReportFile& file : report.files) {
    const std::filesystem::path path = directory / file.relative_path;
    std::error_code error;
    std::filesystem::create_directories(path.parent_path(), error);
    if (error) return StatusFromErrno(path.parent_path().string(), "create", error.value());
    LABBOOK_RETURN_IF_ERROR(WriteFileAtomically(path, file.bytes));
    written.insert(path);
  }
  // Plots of an earlier render that this one no longer has would be left behind unreferenced.
  std::set<std::filesystem::path> folders;
  for (const std::filesystem::path& path : written) folders.insert(path.parent_path());
  for (const std::filesystem::path& folder : folders) {
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
      if (IsPlotFileName(entry.path().filename().string()) && !written.contains(entry.path())) {
        std::filesystem::remove(entry.path(), error);
      }
    }
  }
  return WriteFileAtomically(out, report.text);
}

}  // namespace labbook::report::document
