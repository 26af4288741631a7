// Small helpers the commands share for writing files and formatting numbers.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "labbook/status.hpp"

namespace labbook::cli {

// Creates `dir` and its parents. Errors name the directory: PermissionDenied when it cannot be
// created, InvalidArgument when a file of that name is in the way.
Status EnsureDirectory(const std::string& dir);

// Writes `content` to `path` under a temporary name and renames it into place, so a reader never
// sees half a file. Errors name the path.
Status WriteTextFile(const std::string& path, std::string_view content);

// 1234567 -> "1,234,567".
std::string FormatCount(int64_t n);

// A double as JSON: NaN and infinities, which JSON cannot hold, become null.
nlohmann::json JsonNumber(double value);

// The last path component without its extension: "/a/b/preds.csv" -> "preds".
std::string FileStem(const std::string& path);

}  // namespace labbook::cli
