#include "report/document/blocks.hpp"

#include <cstdio>
#include <utility>

#include "report/format.hpp"
#include "report/text_table.hpp"

namespace labbook::report::document {

Block Block::Text(std::string text) {
  Block block;
  block.kind = Kind::kText;
  block.text.text = std::move(text);
  return block;
}

Block Block::Table(TableBlock table) {
  Block block;
  block.kind = Kind::kTable;
  block.table = std::move(table);
  return block;
}

Block Block::Plot(std::string name, RenderedPlot plot, std::string caption) {
  Block block;
  block.kind = Kind::kPlot;
  block.plot = {std::move(name), std::move(caption), std::move(plot)};
  return block;
}

std::string EscapeMarkdown(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      out += ' ';
      continue;
    }
    if (std::string_view("\\`*_[]<>|#!~").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

std::string InlineSvg(std::string_view svg, std::string_view prefix) {
  if (svg.starts_with("<?xml")) {
    size_t end = svg.find("?>");
    svg.remove_prefix(end == std::string_view::npos ? 0 : end + 2);
    while (!svg.empty() && (svg.front() == '\n' || svg.front() == '\r')) svg.remove_prefix(1);
  }
  std::string out;
  out.reserve(svg.size() + svg.size() / 16);
  size_t i = 0;
  while (i < svg.size()) {
    size_t start = std::string_view::npos;
    for (std::string_view opening : {"id=\"", "href=\"#", "url(#"}) {
      if (svg.compare(i, opening.size(), opening) == 0) {
        start = i + opening.size();
        break;
      }
    }
    if (start == std::string_view::npos) {
      out += svg[i++];
      continue;
    }
    out.append(svg.substr(i, start - i));
    out.append(prefix);
    i = start;
  }
  return out;
}

namespace {

bool NumericColumn(const TableBlock& table, size_t column) {
  bool any = false;
  for (const auto& row : table.rows) {
    if (!LooksNumeric(row[column])) return false;
    any = any || !row[column].empty();
  }
  return any;
}

std::string PlotNumber(int number) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%02d", number);
  return buffer;
}

}  // namespace

std::string BlocksToHtml(const std::vector<Block>& blocks, std::string_view directive,
                         int& plot_count) {
  std::string html =
      "<section class=\"labbook-directive labbook-" + EscapeMarkup(directive) + "\">\n";
  for (const Block& block : blocks) {
    switch (block.kind) {
      case Block::Kind::kText:
        html += "<p>" + EscapeMarkup(block.text.text) + "</p>\n";
        break;
      case Block::Kind::kTable: {
        const TableBlock& table = block.table;
        std::vector<bool> numeric;
        for (size_t c = 0; c < table.header.size(); ++c) numeric.push_back(NumericColumn(table, c));
        html += "<table>\n";
        if (!table.caption.empty())
          html += "<caption>" + EscapeMarkup(table.caption) + "</caption>\n";
        html += "<thead><tr>";
        for (size_t c = 0; c < table.header.size(); ++c) {
          html += numeric[c] ? "<th class=\"num\">" : "<th>";
          html += EscapeMarkup(table.header[c]) + "</th>";
        }
        html += "</tr></thead>\n<tbody>\n";
        for (const auto& row : table.rows) {
          html += "<tr>";
          for (size_t c = 0; c < row.size(); ++c) {
            html += numeric[c] ? "<td class=\"num\">" : "<td>";
            html += EscapeMarkup(row[c]) + "</td>";
          }
          html += "</tr>\n";
        }
        html += "</tbody>\n</table>\n";
        break;
      }
      case Block::Kind::kPlot: {
        std::string prefix = "p";
        prefix += PlotNumber(++plot_count);
        prefix += '-';
        html += "<figure>\n";
        html += InlineSvg(block.plot.plot.svg, prefix);
        if (!html.empty() && html.back() != '\n') html += '\n';
        if (!block.plot.caption.empty()) {
          html += "<figcaption>" + EscapeMarkup(block.plot.caption) + "</figcaption>\n";
        }
        html += "</figure>\n";
        break;
      }
    }
  }
  html += "</section>\n";
  return html;
}

std::string BlocksToMarkdown(const std::vector<Block>& blocks, std::string_view files_dir,
                             int& plot_count, std::vector<ReportFile>& files) {
  std::string md;
  for (const Block& block : blocks) {
    if (!md.empty()) md += '\n';
    switch (block.kind) {
      case Block::Kind::kText:
        md += EscapeMarkdown(block.text.text) + "\n";
        break;
      case Block::Kind::kTable: {
        const TableBlock& table = block.table;
        if (!table.caption.empty()) md += "**" + EscapeMarkdown(table.caption) + "**\n\n";
        std::string rule = "|";
        md += "|";
        for (size_t c = 0; c < table.header.size(); ++c) {
          md += ' ';
          md += EscapeMarkdown(table.header[c]);
          md += " |";
          rule += NumericColumn(table, c) ? " ---: |" : " --- |";
        }
        md += '\n';
        md += rule;
        md += '\n';
        for (const auto& row : table.rows) {
          md += "|";
          for (const std::string& cell : row) {
            md += ' ';
            md += EscapeMarkdown(cell);
            md += " |";
          }
          md += "\n";
        }
        break;
      }
      case Block::Kind::kPlot: {
        const std::string stem =
            std::string(files_dir) + "/" + PlotNumber(++plot_count) + "-" + block.plot.name;
        files.push_back({stem + ".png", block.plot.plot.png});
        files.push_back({stem + ".svg", block.plot.plot.svg});
        std::string alt = block.plot.caption.empty() ? block.plot.name : block.plot.caption;
        std::string target = stem + ".png";
        if (target.find_first_of(" ()<>") != std::string::npos) target = "<" + target + ">";
        md += "![" + EscapeMarkdown(alt) + "](" + target + ")\n";
        if (!block.plot.caption.empty()) md += "\n*" + EscapeMarkdown(block.plot.caption) + "*\n";
        break;
      }
    }
  }
  return md;
}

}  // namespace labbook::report::document
