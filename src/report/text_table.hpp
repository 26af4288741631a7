// Plain-text tables for the terminal: per-class metrics, run comparisons.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "labbook/status.hpp"

namespace labbook::report {

// kAuto right-aligns a column when all its cells look like numbers ("0.913", "-3", "1,024",
// "12.5%", "n/a", empty), and left-aligns it otherwise.
enum class Align { kAuto, kLeft, kRight };

// A table of text: an optional title, a header row, a rule of dashes under it, then the rows.
// Columns are separated by two spaces and lines carry no trailing spaces. Widths count UTF-8 code
// points, which is right for text without wide (East Asian) or combining characters. Rendering
// makes no I/O and no colour decision: the caller passes StdoutWantsColour() or its own choice.
// A TextTable is a plain value; it is not safe to mutate from several threads at once.
class TextTable {
 public:
  struct Column {
    std::string header;
    Align align = Align::kAuto;
  };

  explicit TextTable(std::vector<Column> columns);

  void SetTitle(std::string title) { title_ = std::move(title); }

  // Appends a row. InvalidArgument unless it has exactly one cell per column.
  Status AddRow(std::vector<std::string> cells);

  // Marks a cell (row and column from 0, counting data rows only) to stand out when rendered in
  // colour. InvalidArgument if there is no such cell.
  Status Highlight(size_t row, size_t column);

  size_t row_count() const { return rows_.size(); }

  // The table, each line ended by '\n'. With `colour`, the title and header are bold and
  // highlighted cells bold green, through ANSI escapes that the column widths leave out.
  std::string Render(bool colour) const;

 private:
  bool RightAligned(size_t column) const;

  std::vector<Column> columns_;
  std::string title_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<std::vector<bool>> highlighted_;
};

// Number of UTF-8 code points in `text`: the width a table gives it.
size_t CodePointCount(std::string_view text);

// Whether `text` reads as a number for Align::kAuto.
bool LooksNumeric(std::string_view text);

// The colour rule on given facts: a terminal, TERM not "dumb", and NO_COLOR unset or empty (as
// no-color.org specifies). Null pointers mean unset variables.
bool WantsColour(bool is_terminal, const char* term, const char* no_color);

// WantsColour for standard output and this process's environment.
bool StdoutWantsColour();

}  // namespace labbook::report
