// The predictions CSV reader behind ReadPredictionsCsv, with its thread count exposed so tests can
// compare the parallel parse with the single-threaded one on small inputs. Internal to src/data.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "labbook/dataset.hpp"
#include "labbook/status.hpp"

namespace labbook::data {

struct CsvParseOptions {
  // Threads to parse with; 0 means std::thread::hardware_concurrency() (at least 1).
  int threads = 0;
  // Each thread gets at least this many bytes of rows, so small files stay single-threaded.
  size_t min_bytes_per_thread = size_t{1} << 20;
};

// Parses `text`, the whole content of the predictions CSV at `path` (used only in messages), as
// ReadPredictionsCsv documents. The rows are split at line ends into one chunk per thread; the
// result, and the message of the first bad field in the file, do not depend on the split.
[[nodiscard]] Result<PredictionTable> ParsePredictionsCsv(const std::string& path,
                                                          std::string_view text,
                                                          const CsvParseOptions& options = {});

}  // namespace labbook::data
