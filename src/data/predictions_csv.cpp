// The predictions CSV: `index,label,predicted[,p_0,...,p_{K-1}]`, one row per sample.
//
// The reader maps the file, cuts the rows after the header into one chunk per thread at line ends,
// counts each chunk's lines (which gives every chunk its first row and its first line number),
// then parses the chunks in parallel straight into their slices of the table. Plain decimals take
// a short exact path, anything else std::from_chars, which neither allocates nor consults the
// locale; everything about the error path (field text, column counts) is worked out only once a
// field fails, so the loop over good rows is a few compares per field.
#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "core/run_on_threads.hpp"
#include "core/status_macros.hpp"
#include "data/file_io.hpp"
#include "data/predictions_csv.hpp"
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

// Parses the header line at the start of the file (after an optional BOM).
struct Header {
  int num_columns = 0;
  int num_probabilities = 0;
  const char* rows_begin = nullptr;  // the first byte after the header line
};

std::string ColumnName(int column) {
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

Result<Header> ParseHeader(const std::string& path, const char* p, const char* end) {
  if (p == end) {
    return InvalidArgument(path + ":1: empty file; expected the header " +
                           std::string(kExpectedHeader));
  }
  if (end - p >= 3 && std::memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
  const char* eol = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
  if (eol == nullptr) eol = end;
  std::string_view header(p, static_cast<size_t>(eol - p));
  if (!header.empty() && header.back() == '\r') header.remove_suffix(1);

  std::vector<std::string_view> names;
  for (size_t start = 0;;) {
    size_t comma = header.find(',', start);
    names.push_back(header.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (names.size() < 3) {
    return InvalidArgument(path + ":1: expected the header " + std::string(kExpectedHeader) +
                           ", got '" + std::string(header.substr(0, 80)) + "'");
  }
  for (size_t j = 0; j < names.size(); ++j) {
    std::string expected = ColumnName(static_cast<int>(j));
    if (names[j] != expected) {
      return InvalidArgument(path + ":1: column " + std::to_string(j + 1) +
                             ": expected the header name '" + expected + "', got '" +
                             std::string(names[j].substr(0, kMaxQuotedField)) +
                             "' (the header is " + std::string(kExpectedHeader) + ")");
    }
  }
  Header result;
  result.num_columns = static_cast<int>(names.size());
  result.num_probabilities = result.num_columns - 3;
  result.rows_begin = eol == end ? end : eol + 1;
  return result;
}

bool IsDigit(char c) { return static_cast<unsigned char>(c - '0') < 10; }

// Plain unsigned decimal integers of up to 18 digits, the common case, without from_chars'
// generality; nullptr when the field is anything else (from_chars then decides).
// The number of leading ASCII digits among the 8 bytes at p (which must all be readable), and
// the value of those digits, found with a few word-wide operations instead of a loop per byte.
int LeadingDigits8(const char* p, uint64_t* value) {
  uint64_t chunk;
  std::memcpy(&chunk, p, 8);
  const uint64_t x = chunk ^ 0x3030303030303030ULL;  // a digit byte becomes 0..9
  // A byte is not a digit when its high nibble is set or its low nibble is above 9 (then adding 6
  // carries into bit 4; no carry leaves a byte).
  const uint64_t not_digit =
      (x & 0xF0F0F0F0F0F0F0F0ULL) |
      (((x & 0x0F0F0F0F0F0F0F0FULL) + 0x0606060606060606ULL) & 0x1010101010101010ULL);
  const int count = not_digit == 0 ? 8 : std::countr_zero(not_digit) / 8;
  if (count == 0) return 0;
  // The digits moved to the top bytes (the first in the lowest of them), zeros below, then
  // combined pairwise: 8 digits, 4 pairs, 2 quads, 1 number.
  uint64_t v = x << (8 * (8 - count));
  v = (v * 2561) >> 8 & 0x00FF00FF00FF00FFULL;
  v = (v * 6553601) >> 16 & 0x0000FFFF0000FFFFULL;
  *value = (v * 42949672960001ULL) >> 32;
  return count;
}

// Plain unsigned decimal integers of up to 18 digits, the common case, without from_chars'
// generality; nullptr when the field is anything else (from_chars then decides).
const char* ParseSmallUnsigned(const char* p, const char* end, int64_t* value) {
  if (end - p >= 8) {
    uint64_t v = 0;
    const int count = LeadingDigits8(p, &v);
    if (count > 0 && count < 8) {
      if (!IsFieldEnd(p + count, end)) return nullptr;
      *value = static_cast<int64_t>(v);
      return p + count;
    }
  }
  uint64_t v = 0;
  const char* q = p;
  while (q < end && IsDigit(*q) && q - p < 18) v = v * 10 + static_cast<uint64_t>(*q++ - '0');
  if (q == p || !IsFieldEnd(q, end)) return nullptr;
  *value = static_cast<int64_t>(v);
  return q;
}

// "digits[.digits]" with at most 18 digits in all and a mantissa below 2^53, which is how
// pandas' float_format and most writers print probabilities: then mantissa / 10^decimals is one
// correctly rounded division of two exact doubles, the same double from_chars gives (Clinger's
// fast path). nullptr for anything else (exponents, '.5', 17 significant digits), which
// from_chars parses.
const char* ParseSimpleDecimal(const char* p, const char* end, double* value) {
  static constexpr double kPowersOf10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8, 1e9,
                                           1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};
  uint64_t mantissa = 0;
  int digits = 0;
  const char* q = p;
  while (q < end && IsDigit(*q) && digits < 18) {
    mantissa = mantissa * 10 + static_cast<uint64_t>(*q++ - '0');
    ++digits;
  }
  if (digits == 0) return nullptr;
  int decimals = 0;
  if (q < end && *q == '.') {
    ++q;
    uint64_t fraction = 0;
    const int count = end - q >= 8 ? LeadingDigits8(q, &fraction) : 0;
    if (count > 0 && count < 8 && digits + count <= 18) {
      mantissa = mantissa * static_cast<uint64_t>(kPowersOf10[count]) + fraction;
      digits += count;
      decimals = count;
      q += count;
    }
    while (q < end && IsDigit(*q) && digits < 18) {
      mantissa = mantissa * 10 + static_cast<uint64_t>(*q++ - '0');
      ++digits;
      ++decimals;
    }
    if (decimals == 0) return nullptr;
  }
  if (!IsFieldEnd(q, end) || mantissa > (uint64_t{1} << 53)) return nullptr;
  *value = static_cast<double>(mantissa) / kPowersOf10[decimals];
  return q;
}

// Where one chunk of rows goes: row r of the chunk is row `first_row + r` of the table.
struct RowSink {
  int64_t* index = nullptr;
  int32_t* labels = nullptr;
  int32_t* predicted = nullptr;
  double* probabilities = nullptr;  // num_probabilities values a row
};

// Parses the rows in [begin, stop), which starts at a line start, into a RowSink. `end` is the
// end of the file: fields and messages look up to it, and a blank line is only accepted when
// nothing but blank lines follows it up to the end of the file. `line_before` is the line number
// of the line before `begin` (1 for the header), so messages name the line in the file.
class RowParser {
 public:
  RowParser(const std::string& path, const Header& header, const char* begin, const char* stop,
            const char* end, int64_t line_before)
      : path_(path),
        p_(begin),
        stop_(stop),
        end_(end),
        line_(line_before),
        num_columns_(header.num_columns),
        num_probabilities_(header.num_probabilities) {}

  // Parses until `stop`, a blank line, or the first bad field.
  Status Parse(const RowSink& sink) {
    const bool has_probabilities = num_probabilities_ > 0;
    const auto k = static_cast<size_t>(num_probabilities_);
    while (p_ < stop_) {
      ++line_;
      line_start_ = p_;
      if (*p_ == '\n' || *p_ == '\r') return CheckOnlyBlankLinesRemain();
      int64_t index = 0;
      LABBOOK_RETURN_IF_ERROR(ParseInteger(0, &index, "a non-negative integer row index"));
      int64_t label = 0;
      LABBOOK_RETURN_IF_ERROR(ParseInteger(1, &label, "a non-negative integer class id"));
      int64_t predicted = 0;
      LABBOOK_RETURN_IF_ERROR(ParseInteger(2, &predicted, "a non-negative integer class id"));
      double* probabilities = sink.probabilities + rows_ * k;
      for (int j = 0; j < num_probabilities_; ++j) {
        const char* field = p_;
        double value;
        const char* ptr = ParseSimpleDecimal(p_, end_, &value);
        if (ptr == nullptr) {
          auto [parsed, ec] = std::from_chars(p_, end_, value);
          ptr = ec == std::errc() && IsFieldEnd(parsed, end_) ? parsed : nullptr;
        }
        if (ptr == nullptr || !(value >= 0.0 && value <= 1.0)) {
          return FieldError(3 + j, field, "a finite probability in [0, 1]");
        }
        p_ = ptr;
        LABBOOK_RETURN_IF_ERROR(Delimiter(3 + j));
        probabilities[j] = value;
      }
      if (has_probabilities) {
        if (label >= num_probabilities_) return ClassTooLarge(1, label);
        if (predicted >= num_probabilities_) return ClassTooLarge(2, predicted);
      }
      sink.index[rows_] = index;
      sink.labels[rows_] = static_cast<int32_t>(label);
      sink.predicted[rows_] = static_cast<int32_t>(predicted);
      max_class_ =
          std::max({max_class_, static_cast<int32_t>(label), static_cast<int32_t>(predicted)});
      ++rows_;
    }
    return Status::Ok();
  }

  size_t rows() const { return rows_; }
  int32_t max_class() const { return max_class_; }

 private:
  Status ParseInteger(int column, int64_t* value, std::string_view expected) {
    const char* field = p_;
    const char* ptr = ParseSmallUnsigned(p_, end_, value);
    if (ptr == nullptr) {
      auto [parsed, ec] = std::from_chars(p_, end_, *value);
      if (ec != std::errc() || !IsFieldEnd(parsed, end_))
        return FieldError(column, field, expected);
      ptr = parsed;
    }
    if (*value < 0 || (column > 0 && *value > INT32_MAX)) {
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
    p_ = stop_;
    return Status::Ok();
  }

  std::string Where() const { return path_ + ":" + std::to_string(line_) + ": "; }

  const std::string& path_;
  const char* p_;
  const char* const stop_;
  const char* const end_;
  const char* line_start_ = nullptr;
  int64_t line_;
  const int num_columns_;
  const int num_probabilities_;
  size_t rows_ = 0;
  int32_t max_class_ = -1;
};

size_t CountNewlines(const char* begin, const char* end) {
  size_t count = 0;
  for (const char* p = begin; p < end; ++p) count += *p == '\n';
  return count;
}

// Sizes `v` to n elements. The memory is hinted to transparent huge pages first: the zeroing
// then faults in a few hundred 2 MiB pages instead of tens of thousands of 4 KiB ones.
template <typename T>
void ResizeLarge(std::vector<T>& v, size_t n) {
  v.reserve(n);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
  const auto begin = reinterpret_cast<uintptr_t>(v.data());
  const uintptr_t first = (begin + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t last = (begin + n * sizeof(T)) & ~(kHugePage - 1);
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#endif
  v.resize(n);
}

// One thread's share of the rows.
struct Chunk {
  const char* begin = nullptr;
  const char* end = nullptr;
  size_t newlines = 0;
  size_t max_rows = 0;   // newlines, plus an unterminated last line
  size_t first_row = 0;  // where its rows go in the table
  size_t rows = 0;
  int32_t max_class = -1;
  Status status;
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

namespace data {

Result<PredictionTable> ParsePredictionsCsv(const std::string& path, std::string_view text,
                                            const CsvParseOptions& options) {
  const char* const file_end = text.data() + text.size();
  LABBOOK_ASSIGN_OR_RETURN(Header header, ParseHeader(path, text.data(), file_end));
  const auto k = static_cast<size_t>(header.num_probabilities);
  const auto bytes = static_cast<size_t>(file_end - header.rows_begin);

  int threads =
      options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
  const size_t min_bytes = std::max<size_t>(options.min_bytes_per_thread, 1);
  threads = static_cast<int>(
      std::clamp<size_t>(bytes / min_bytes, 1, static_cast<size_t>(std::max(threads, 1))));

  // Chunks end just after a newline, so no line is split and each starts at a line start.
  std::vector<Chunk> chunks(static_cast<size_t>(threads));
  const char* cut = header.rows_begin;
  for (int t = 0; t < threads; ++t) {
    Chunk& chunk = chunks[static_cast<size_t>(t)];
    chunk.begin = cut;
    if (t + 1 == threads) {
      cut = file_end;
    } else {
      const char* target =
          header.rows_begin + bytes / static_cast<size_t>(threads) * static_cast<size_t>(t + 1);
      if (target > cut) {
        const void* nl = std::memchr(target - 1, '\n', static_cast<size_t>(file_end - target + 1));
        cut = nl == nullptr ? file_end : static_cast<const char*>(nl) + 1;
      }
    }
    chunk.end = cut;
  }
  RunOnThreads(threads, [&](int t) {
    Chunk& chunk = chunks[static_cast<size_t>(t)];
    chunk.newlines = CountNewlines(chunk.begin, chunk.end);
    chunk.max_rows = chunk.newlines + (chunk.end > chunk.begin && chunk.end[-1] != '\n' ? 1 : 0);
  });
  size_t max_rows = 0;
  for (Chunk& chunk : chunks) {
    chunk.first_row = max_rows;
    max_rows += chunk.max_rows;
  }

  PredictionTable table;
  table.has_probabilities = k > 0;
  ResizeLarge(table.index, max_rows);
  ResizeLarge(table.labels, max_rows);
  ResizeLarge(table.predicted, max_rows);
  ResizeLarge(table.probabilities, max_rows * k);
  RunOnThreads(threads, [&](int t) {
    Chunk& chunk = chunks[static_cast<size_t>(t)];
    int64_t line_before = 1;
    for (int u = 0; u < t; ++u)
      line_before += static_cast<int64_t>(chunks[static_cast<size_t>(u)].newlines);
    RowParser parser(path, header, chunk.begin, chunk.end, file_end, line_before);
    RowSink sink{table.index.data() + chunk.first_row, table.labels.data() + chunk.first_row,
                 table.predicted.data() + chunk.first_row,
                 table.probabilities.data() + chunk.first_row * k};
    chunk.status = parser.Parse(sink);
    chunk.rows = parser.rows();
    chunk.max_class = parser.max_class();
  });

  // The chunks before the first failing one parsed completely, so its error is the file's first.
  int32_t max_class = -1;
  size_t rows = 0;
  for (const Chunk& chunk : chunks) {
    LABBOOK_RETURN_IF_ERROR(chunk.status);
    // Only a blank tail leaves a chunk short, and then the chunks after it hold no rows; moving
    // keeps the rows contiguous whatever happens.
    if (chunk.first_row != rows && chunk.rows > 0) {
      std::copy_n(table.index.begin() + chunk.first_row, chunk.rows, table.index.begin() + rows);
      std::copy_n(table.labels.begin() + chunk.first_row, chunk.rows, table.labels.begin() + rows);
      std::copy_n(table.predicted.begin() + chunk.first_row, chunk.rows,
                  table.predicted.begin() + rows);
      std::copy_n(table.probabilities.begin() + chunk.first_row * k, chunk.rows * k,
                  table.probabilities.begin() + rows * k);
    }
    rows += chunk.rows;
    max_class = std::max(max_class, chunk.max_class);
  }
  table.index.resize(rows);
  table.labels.resize(rows);
  table.predicted.resize(rows);
  table.probabilities.resize(rows * k);
  table.num_classes = table.has_probabilities ? header.num_probabilities : max_class + 1;
  return table;
}

}  // namespace data

Result<PredictionTable> ReadPredictionsCsv(const std::string& path) {
  LABBOOK_ASSIGN_OR_RETURN(data::MappedFile file, data::MappedFile::Open(path));
  return data::ParsePredictionsCsv(path, std::string_view(file.data(), file.size()));
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
  auto format_rows = [&](size_t first, size_t last, char* p) {
    for (size_t i = first; i < last; ++i) {
      p = std::to_chars(p, p + 21, table.index[i]).ptr;
      *p++ = ',';
      p = std::to_chars(p, p + 21, table.labels[i]).ptr;
      *p++ = ',';
      p = std::to_chars(p, p + 21, table.predicted[i]).ptr;
      const double* probs = table.probabilities.data() + i * k;
      for (size_t j = 0; j < k; ++j) {
        *p++ = ',';
        p = std::to_chars(p, p + 25, probs[j]).ptr;
      }
      *p++ = '\n';
    }
    return p;
  };
  // Shortest-form formatting is most of the cost, so each round threads format consecutive
  // slices of rows into their own buffers, which are then written in order: the bytes are those
  // of one thread formatting every row.
  const size_t rows = table.index.size();
  const size_t slice = std::max<size_t>((size_t{1} << 20) / max_row, 1);
  const int threads = static_cast<int>(
      std::clamp<size_t>(rows / (2 * slice), 1, std::max(std::thread::hardware_concurrency(), 1u)));
  std::vector<std::vector<char>> buffers(static_cast<size_t>(threads),
                                         std::vector<char>(slice * max_row));
  std::vector<size_t> filled(static_cast<size_t>(threads));
  for (size_t round = 0; round < rows; round += slice * static_cast<size_t>(threads)) {
    RunOnThreads(threads, [&](int t) {
      const size_t first = std::min(rows, round + slice * static_cast<size_t>(t));
      const size_t last = std::min(rows, first + slice);
      char* begin = buffers[static_cast<size_t>(t)].data();
      filled[static_cast<size_t>(t)] = static_cast<size_t>(format_rows(first, last, begin) - begin);
    });
    for (int t = 0; t < threads; ++t) {
      LABBOOK_RETURN_IF_ERROR(
          out.Write(buffers[static_cast<size_t>(t)].data(), filled[static_cast<size_t>(t)]));
    }
  }
  return out.Commit();
}

}  // namespace labbook
