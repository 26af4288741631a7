// The predictions CSV: `index,label,predicted[,p_0,...,p_{K-1}]`, one row per sample.
//
// The reader maps the file and walks it once with std::from_chars, which neither allocates nor
// consults the locale; everything about the error path (field text, column counts) is worked out
// only once a field fails, so the loop over good rows is a few compares per field.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/status_macros.hpp"
#include "data/file_io.hpp"
#include "labbook/dataset.hpp"

namespace labbook {
namespace {

constexpr std::string_view kExpectedHeader = "index,label,predicted[,p_0,...,p_{K-1}]";
constexpr size_t kMaxQuotedField = 40;

bool IsFieldEnd(const char* p, const char* end) {
  return p == end || *p == ',' || *p == '\n' || *p == '\r';
}

// The field starting at `p`, shortened for messages.
std::string FieldText(const char* p, const char* end) {
  const char* q = p;
  while (!IsFieldEnd(q, end)) ++q;
  std::string text(p, std::min<size_t>(static_cast<size_t>(q - p), kMaxQuotedField));
  if (static_cast<size_t>(q - p) > kMaxQuotedField) text += "...";
  return text;
}

// Reads one file; `line` and `begin_of_line` follow the cursor for messages.
class PredictionsParser {
 public:
  PredictionsParser(const std::string& path, const char* begin, const char* end)
      : path_(path), p_(begin), end_(end) {}

  Result<PredictionTable> Parse() {
    if (p_ == end_) {
      return InvalidArgument(path_ + ":1: empty file; expected the header " +
                             std::string(kExpectedHeader));
    }
    LABBOOK_RETURN_IF_ERROR(ParseHeader());
    PredictionTable table;
    table.has_probabilities = num_probabilities_ > 0;
    table.num_classes = num_probabilities_;
    const size_t rows = CountRows();
    table.index.reserve(rows);
    table.labels.reserve(rows);
    table.predicted.reserve(rows);
    table.probabilities.reserve(rows * static_cast<size_t>(num_probabilities_));
    int32_t max_class = -1;
    while (p_ < end_) {
      ++line_;
      line_start_ = p_;
      if (*p_ == '\n' || *p_ == '\r') {
        LABBOOK_RETURN_IF_ERROR(CheckOnlyBlankLinesRemain());
        break;
      }
      int64_t index = 0;
      LABBOOK_RETURN_IF_ERROR(ParseInteger(0, &index, "a non-negative integer row index"));
      int64_t label = 0;
      LABBOOK_RETURN_IF_ERROR(ParseInteger(1, &label, "a non-negative integer class id"));
      int64_t predicted = 0;
      LABBOOK_RETURN_IF_ERROR(ParseInteger(2, &predicted, "a non-negative integer class id"));
      for (int k = 0; k < num_probabilities_; ++k) {
        const char* field = p_;
        double value;
        auto [ptr, ec] = std::from_chars(p_, end_, value);
        if (ec != std::errc() || !IsFieldEnd(ptr, end_) || !(value >= 0.0 && value <= 1.0)) {
          return FieldError(3 + k, field, "a finite probability in [0, 1]");
        }
        p_ = ptr;
        LABBOOK_RETURN_IF_ERROR(Delimiter(3 + k));
        table.probabilities.push_back(value);
      }
      if (table.has_probabilities) {
        if (label >= num_probabilities_) return ClassTooLarge(1, label);
        if (predicted >= num_probabilities_) return ClassTooLarge(2, predicted);
      }
      table.index.push_back(index);
      table.labels.push_back(static_cast<int32_t>(label));
      table.predicted.push_back(static_cast<int32_t>(predicted));
      max_class =
          std::max({max_class, static_cast<int32_t>(label), static_cast<int32_t>(predicted)});
    }
    if (!table.has_probabilities) table.num_classes = max_class + 1;
    return table;
  }

 private:
  Status ParseHeader() {
    if (end_ - p_ >= 3 && std::memcmp(p_, "\xEF\xBB\xBF", 3) == 0) p_ += 3;
    const char* eol =
        static_cast<const char*>(std::memchr(p_, '\n', static_cast<size_t>(end_ - p_)));
    if (eol == nullptr) eol = end_;
    std::string_view header(p_, static_cast<size_t>(eol - p_));
    if (!header.empty() && header.back() == '\r') header.remove_suffix(1);
    p_ = eol == end_ ? end_ : eol + 1;
    line_ = 1;

    std::vector<std::string_view> names;
    for (size_t start = 0;;) {
      size_t comma = header.find(',', start);
      names.push_back(
          header.substr(start, comma == std::string_view::npos ? comma : comma - start));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    if (names.size() < 3) {
      return InvalidArgument(path_ + ":1: expected the header " + std::string(kExpectedHeader) +
                             ", got '" + std::string(header.substr(0, 80)) + "'");
    }
    for (size_t j = 0; j < names.size(); ++j) {
      std::string expected = ColumnName(static_cast<int>(j));
      if (names[j] != expected) {
        return InvalidArgument(path_ + ":1: column " + std::to_string(j + 1) +
                               ": expected the header name '" + expected + "', got '" +
                               std::string(names[j].substr(0, kMaxQuotedField)) +
                               "' (the header is " + std::string(kExpectedHeader) + ")");
      }
    }
    num_columns_ = static_cast<int>(names.size());
    num_probabilities_ = num_columns_ - 3;
    return Status::Ok();
  }

  static std::string ColumnName(int column) {
    switch (column) {
      case 0:
        return "index";
      case 1:
        return "label";
      case 2:
        return "predicted";
      default:
        return "p_" + std::to_string(column - 3);
    }
  }

  // Upper bound of the data rows left, for reserving: newlines plus an unterminated last line.
  size_t CountRows() const {
    size_t rows = 0;
    for (const char* q = p_; q < end_;) {
      const void* nl = std::memchr(q, '\n', static_cast<size_t>(end_ - q));
      ++rows;
      if (nl == nullptr) break;
      q = static_cast<const char*>(nl) + 1;
    }
    return rows;
  }

  Status ParseInteger(int column, int64_t* value, std::string_view expected) {
    const char* field = p_;
    auto [ptr, ec] = std::from_chars(p_, end_, *value);
    if (ec != std::errc() || !IsFieldEnd(ptr, end_) || *value < 0 ||
        (column > 0 && *value > INT32_MAX)) {
      return FieldError(column, field, expected);
    }
    p_ = ptr;
    return Delimiter(column);
  }

  // Consumes what follows column `column` (0-based): a comma, or the line end after the last.
  Status Delimiter(int column) {
    const bool last = column == num_columns_ - 1;
    if (!last) {
      if (p_ < end_ && *p_ == ',') {
        ++p_;
        return Status::Ok();
      }
      return ColumnCountError();
    }
    if (p_ == end_) return Status::Ok();
    if (*p_ == '\n') {
      ++p_;
      return Status::Ok();
    }
    if (*p_ == '\r') {
      if (p_ + 1 == end_ || p_[1] == '\n') {
        p_ += p_ + 1 == end_ ? 1 : 2;
        return Status::Ok();
      }
      return InvalidArgument(Where() + "expected the line to end after column " +
                             std::to_string(num_columns_) +
                             ", got a carriage return without a newline");
    }
    return ColumnCountError();
  }

  Status FieldError(int column, const char* field, std::string_view expected) const {
    return InvalidArgument(Where() + "column " + std::to_string(column + 1) + " '" +
                           ColumnName(column) + "': expected " + std::string(expected) + ", got '" +
                           FieldText(field, end_) + "'");
  }

  Status ClassTooLarge(int column, int64_t value) const {
    return InvalidArgument(Where() + "column " + std::to_string(column + 1) + " '" +
                           ColumnName(column) + "': expected a class id below " +
                           std::to_string(num_probabilities_) +
                           " (the number of p_ columns), got '" + std::to_string(value) + "'");
  }

  Status ColumnCountError() const {
    int fields = 1;
    for (const char* q = line_start_; q < end_ && *q != '\n' && *q != '\r'; ++q) {
      if (*q == ',') ++fields;
    }
    return InvalidArgument(Where() + "expected " + std::to_string(num_columns_) + " columns (" +
                           (num_probabilities_ > 0 ? "index,label,predicted,p_0..p_" +
                                                         std::to_string(num_probabilities_ - 1)
                                                   : std::string("index,label,predicted")) +
                           "), got " + std::to_string(fields));
  }

  // A blank line may only be followed by more blank lines up to the end of the file.
  Status CheckOnlyBlankLinesRemain() {
    for (const char* q = p_; q < end_; ++q) {
      if (*q != '\n' && *q != '\r') {
        return InvalidArgument(Where() + "empty line; expected " + std::to_string(num_columns_) +
                               " columns");
      }
    }
    p_ = end_;
    return Status::Ok();
  }

  std::string Where() const { return path_ + ":" + std::to_string(line_) + ": "; }

  const std::string& path_;
  const char* p_;
  const char* end_;
  const char* line_start_ = nullptr;
  int64_t line_ = 0;
  int num_columns_ = 0;
  int num_probabilities_ = 0;
};

Status CheckTable(const std::string& path, const PredictionTable& table) {
  const size_t n = table.index.size();
  if (table.labels.size() != n || table.predicted.size() != n) {
    return InvalidArgument(path + ": the table has " + std::to_string(n) + " indices, " +
                           std::to_string(table.labels.size()) + " labels and " +
                           std::to_string(table.predicted.size()) +
                           " predictions; expected the same number of each");
  }
  const size_t k = static_cast<size_t>(std::max(table.num_classes, 0));
  if (table.has_probabilities) {
    if (table.num_classes < 1) {
      return InvalidArgument(path + ": num_classes is " + std::to_string(table.num_classes) +
                             "; expected at least 1 with probabilities");
    }
    if (table.probabilities.size() != n * k) {
      return InvalidArgument(path + ": " + std::to_string(table.probabilities.size()) +
                             " probabilities; expected rows x num_classes = " + std::to_string(n) +
                             "x" + std::to_string(k));
    }
  } else if (!table.probabilities.empty()) {
    return InvalidArgument(path + ": probabilities given but has_probabilities is false");
  }
  for (size_t i = 0; i < n; ++i) {
    const std::string row = path + ": row " + std::to_string(i) + ": ";
    if (table.index[i] < 0) return InvalidArgument(row + "negative index");
    if (table.labels[i] < 0) return InvalidArgument(row + "negative label");
    if (table.predicted[i] < 0) return InvalidArgument(row + "negative prediction");
    if (table.has_probabilities &&
        (table.labels[i] >= table.num_classes || table.predicted[i] >= table.num_classes)) {
      return InvalidArgument(row + "class id not below num_classes " +
                             std::to_string(table.num_classes));
    }
  }
  for (size_t j = 0; j < table.probabilities.size(); ++j) {
    const double p = table.probabilities[j];
    if (!(p >= 0.0 && p <= 1.0)) {
      return InvalidArgument(path + ": row " + std::to_string(j / k) + ": p_" +
                             std::to_string(j % k) + " is " + std::to_string(p) +
                             "; expected a finite probability in [0, 1]");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<PredictionTable> ReadPredictionsCsv(const std::string& path) {
  LABBOOK_ASSIGN_OR_RETURN(data::MappedFile file, data::MappedFile::Open(path));
  PredictionsParser parser(path, file.data(), file.data() + file.size());
  return parser.Parse();
}

Status WritePredictionsCsv(const std::string& path, const PredictionTable& table) {
  LABBOOK_RETURN_IF_ERROR(CheckTable(path, table));
  LABBOOK_ASSIGN_OR_RETURN(data::AtomicFileWriter out, data::AtomicFileWriter::Open(path));
  const size_t k = table.has_probabilities ? static_cast<size_t>(table.num_classes) : 0;
  std::string header = "index,label,predicted";
  for (size_t j = 0; j < k; ++j) header += ",p_" + std::to_string(j);
  header += '\n';
  LABBOOK_RETURN_IF_ERROR(out.Write(header.data(), header.size()));

  // An int64 takes at most 20 characters, a shortest-form double at most 24.
  const size_t max_row = 3 * 21 + k * 25 + 1;
  std::vector<char> buffer(std::max<size_t>(size_t{1} << 20, 2 * max_row));
  char* const begin = buffer.data();
  char* const limit = begin + buffer.size();
  char* p = begin;
  for (size_t i = 0; i < table.index.size(); ++i) {
    if (static_cast<size_t>(limit - p) < max_row) {
      LABBOOK_RETURN_IF_ERROR(out.Write(begin, static_cast<size_t>(p - begin)));
      p = begin;
    }
    p = std::to_chars(p, limit, table.index[i]).ptr;
    *p++ = ',';
    p = std::to_chars(p, limit, table.labels[i]).ptr;
    *p++ = ',';
    p = std::to_chars(p, limit, table.predicted[i]).ptr;
    const double* probs = table.probabilities.data() + i * k;
    for (size_t j = 0; j < k; ++j) {
      *p++ = ',';
      p = std::to_chars(p, limit, probs[j]).ptr;
    }
    *p++ = '\n';
  }
  LABBOOK_RETURN_IF_ERROR(out.Write(begin, static_cast<size_t>(p - begin)));
  return out.Commit();
}

}  // namespace labbook
