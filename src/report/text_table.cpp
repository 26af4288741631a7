#include "report/text_table.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace labbook::report {
namespace {

constexpr std::string_view kColumnGap = "  ";
constexpr std::string_view kBold = "\x1b[1m";
constexpr std::string_view kHighlight = "\x1b[1;32m";
constexpr std::string_view kReset = "\x1b[0m";

void TrimTrailingSpaces(std::string& line) {
  size_t end = line.find_last_not_of(' ');
  line.erase(end == std::string::npos ? 0 : end + 1);
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

size_t CodePointCount(std::string_view text) {
  size_t count = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
  }
  return count;
}

bool LooksNumeric(std::string_view text) {
  if (text.empty() || text == "n/a" || text == "nan" || text == "inf" || text == "-inf") {
    return true;
  }
  size_t i = 0;
  if (text[i] == '-' || text[i] == '+') ++i;
  size_t digits = 0;
  while (i < text.size() && (IsDigit(text[i]) || (text[i] == ',' && digits > 0))) {
    digits += IsDigit(text[i]) ? 1 : 0;
    ++i;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && IsDigit(text[i])) {
      ++digits;
      ++i;
    }
  }
  if (digits == 0) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
    size_t exponent_digits = 0;
    while (i < text.size() && IsDigit(text[i])) {
      ++exponent_digits;
      ++i;
    }
    if (exponent_digits == 0) return false;
  }
  if (i < text.size() && text[i] == '%') ++i;
  return i == text.size();
}

TextTable::TextTable(std::vector<Column> columns) : columns_(std::move(columns)) {}

Status TextTable::AddRow(std::vector<std::string> cells) {
  if (cells.size() != columns_.size()) {
    return InvalidArgument("table row " + std::to_string(rows_.size()) + " has " +
                           std::to_string(cells.size()) + " cells for " +
                           std::to_string(columns_.size()) + " columns");
  }
  rows_.push_back(std::move(cells));
  highlighted_.emplace_back(columns_.size(), false);
  return Status::Ok();
}

Status TextTable::Highlight(size_t row, size_t column) {
  if (row >= rows_.size() || column >= columns_.size()) {
    return InvalidArgument("no table cell (" + std::to_string(row) + ", " + std::to_string(column) +
                           ") in " + std::to_string(rows_.size()) + " rows x " +
                           std::to_string(columns_.size()) + " columns");
  }
  highlighted_[row][column] = true;
  return Status::Ok();
}

bool TextTable::RightAligned(size_t column) const {
  switch (columns_[column].align) {
    case Align::kLeft:
      return false;
    case Align::kRight:
      return true;
    case Align::kAuto:
      break;
  }
  bool any_number = false;
  for (const std::vector<std::string>& row : rows_) {
    if (!LooksNumeric(row[column])) return false;
    any_number = any_number || !row[column].empty();
  }
  return any_number;
}

std::string TextTable::Render(bool colour) const {
  std::string out;
  if (!title_.empty()) {
    out += colour ? std::string(kBold) + title_ + std::string(kReset) : title_;
    out += '\n';
  }
  if (columns_.empty()) return out;

  std::vector<size_t> widths;
  std::vector<bool> right;
  for (size_t c = 0; c < columns_.size(); ++c) {
    size_t width = CodePointCount(columns_[c].header);
    for (const std::vector<std::string>& row : rows_) {
      width = std::max(width, CodePointCount(row[c]));
    }
    widths.push_back(width);
    right.push_back(RightAligned(c));
  }

  // Escapes wrap the text only, so padding stays plain and widths stay exact.
  auto append_cell = [&](std::string& line, size_t c, const std::string& text,
                         std::string_view style) {
    if (c > 0) line += kColumnGap;
    std::string padding(widths[c] - CodePointCount(text), ' ');
    if (right[c]) line += padding;
    if (!style.empty() && !text.empty()) {
      line.append(style).append(text).append(kReset);
    } else {
      line += text;
    }
    if (!right[c]) line += padding;
  };

  std::string line;
  for (size_t c = 0; c < columns_.size(); ++c) {
    append_cell(line, c, columns_[c].header, colour ? kBold : std::string_view());
  }
  TrimTrailingSpaces(line);
  out += line + '\n';

  line.clear();
  for (size_t c = 0; c < columns_.size(); ++c) {
    if (c > 0) line += kColumnGap;
    line += std::string(widths[c], '-');
  }
  out += line + '\n';

  for (size_t r = 0; r < rows_.size(); ++r) {
    line.clear();
    for (size_t c = 0; c < columns_.size(); ++c) {
      bool highlight = colour && highlighted_[r][c];
      append_cell(line, c, rows_[r][c], highlight ? kHighlight : std::string_view());
    }
    TrimTrailingSpaces(line);
    out += line + '\n';
  }
  return out;
}

bool WantsColour(bool is_terminal, const char* term, const char* no_color) {
  if (!is_terminal) return false;
  if (no_color != nullptr && no_color[0] != '\0') return false;
  return term == nullptr || std::strcmp(term, "dumb") != 0;
}

bool StdoutWantsColour() {
  return WantsColour(isatty(STDOUT_FILENO) == 1, std::getenv("TERM"), std::getenv("NO_COLOR"));
}

}  // namespace labbook::report
