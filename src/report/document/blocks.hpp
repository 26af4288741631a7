// What a directive produces, independent of the output format: paragraphs of plain text, tables
// and plots, and the two writers that turn them into HTML or Markdown. Internal to the report
// document component.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "report/document/report_document.hpp"
#include "report/plot.hpp"

namespace labbook::report::document {

// Text, escaped by the writer: it may hold any characters.
struct TextBlock {
  std::string text;
};

struct TableBlock {
  std::string caption;  // may be empty
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each as long as header
};

struct PlotBlock {
  std::string name;     // file-name part of a Markdown report's plot: "label-distribution"
  std::string caption;  // may be empty
  RenderedPlot plot;
};

struct Block {
  enum class Kind { kText, kTable, kPlot };
  Kind kind = Kind::kText;
  TextBlock text;
  TableBlock table;
  PlotBlock plot;

  static Block Text(std::string text);
  static Block Table(TableBlock table);
  static Block Plot(std::string name, RenderedPlot plot, std::string caption = "");
};

// `text` with the characters Markdown would read as markup escaped by a backslash, and line
// breaks as spaces, for a paragraph or a table cell.
std::string EscapeMarkdown(std::string_view text);

// An SVG document made fit to sit inside HTML beside others: the XML declaration dropped and
// every id, and every reference to one (href="#..", url(#..)), prefixed by `prefix`, so the glyph
// and clip ids cairo gives each picture do not collide in one page.
std::string InlineSvg(std::string_view svg, std::string_view prefix);

// Renders blocks as HTML inside `<section class="labbook-directive DIRECTIVE">`. Plots are
// numbered across the document, from the `plot_count` given; it is advanced.
std::string BlocksToHtml(const std::vector<Block>& blocks, std::string_view directive,
                         int& plot_count);

// Renders blocks as Markdown: GFM tables, and plots as images `files_dir/NN-name.png` (both the
// PNG and the SVG are appended to `files`). `plot_count` as for BlocksToHtml.
std::string BlocksToMarkdown(const std::vector<Block>& blocks, std::string_view files_dir,
                             int& plot_count, std::vector<ReportFile>& files);

}  // namespace labbook::report::document
