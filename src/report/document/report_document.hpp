// `labbook report`: a Markdown spec with labbook directives rendered into one self-contained
// HTML file (styles inline, plots as inline SVG, no scripts), or into Markdown with PNG and SVG
// plots in a folder beside it. docs/report.md describes the spec.
//
// The output is a function of the spec, the run store's contents and the datasets: no times, no
// random ids and no paths of this machine go into it, so the same inputs give byte-identical
// files and a report diffs cleanly in git. Rendering is not safe to run from several threads at
// once (cmark-gfm's extension registry is process-wide); one report at a time per process.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "labbook/dataset.hpp"
#include "labbook/status.hpp"
#include "track/store.hpp"

namespace labbook::report::document {

enum class ReportFormat {
  kHtml,      // one .html file
  kMarkdown,  // a .md file and its plots in <stem>_files/
};

// Where a report's data comes from: the seams tests plug into.
struct ReportSources {
  // Opens the run store, called the first time a directive needs runs. Unset: directives that
  // need runs fail with FailedPrecondition.
  std::function<Result<std::unique_ptr<track::RunStore>>()> open_store;
  // Loads a dataset by name (LoadDataset's names); LoadDataset when unset.
  std::function<Result<Dataset>(std::string_view name, DatasetSplits splits)> load_dataset;
};

// A plot file of a Markdown report: its path relative to the .md file and its bytes.
struct ReportFile {
  std::string relative_path;  // "<stem>_files/03-label-distribution.png"
  std::string bytes;
};

struct RenderedReport {
  std::string text;               // the HTML or Markdown document
  std::vector<ReportFile> files;  // the plots of a Markdown report; empty for HTML
};

// Renders `spec` (Markdown text), read from `spec_name` (the path as the user gave it, used in
// error messages only). `out_stem` is the name of the output file without its extension
// ("report" for report.md), which names the plot folder of a Markdown report.
// Errors name the spec's file and line and what was expected there: InvalidArgument for a
// malformed directive (an unknown directive or option lists the valid ones); the store's and the
// datasets' own errors (NotFound for a missing run, ...) prefixed with the directive's place.
[[nodiscard]] Result<RenderedReport> RenderReport(std::string_view spec, std::string_view spec_name,
                                                  ReportFormat format, std::string_view out_stem,
                                                  const ReportSources& sources);

// Writes report.text to `out_path` (under a temporary name, then renamed) and report.files
// beside it, replacing plots of an earlier render that this one no longer has. Errors name the
// path.
[[nodiscard]] Status WriteReport(const RenderedReport& report, const std::string& out_path);

// The directive names, comma-separated, for help texts.
std::string DirectiveNames();

}  // namespace labbook::report::document
