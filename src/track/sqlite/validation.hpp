// Checks of what callers hand the store, before anything is written. Each returns
// kInvalidArgument naming the field and the expectation.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "labbook/status.hpp"
#include "track/store.hpp"

namespace labbook::track::sqlite {

inline constexpr size_t kRunIdLength = 8;
inline constexpr size_t kMinRunIdPrefix = 3;

// 8 characters of [0-9a-z].
bool IsRunId(std::string_view id);
[[nodiscard]] Status CheckRunId(std::string_view id);
// A whole id, or a prefix of 3 to 7 characters of [0-9a-z].
[[nodiscard]] Status CheckRunIdOrPrefix(std::string_view id);

// An entity or project: 1 to 128 bytes, no '/' and no control character.
[[nodiscard]] Status CheckProjectName(std::string_view field, std::string_view name);
// A history key: 1 to 512 bytes, no control character.
[[nodiscard]] Status CheckHistoryKey(std::string_view field, std::string_view key);
// The fields CreateRun stores as given (the id may be empty).
[[nodiscard]] Status CheckNewRun(const RunInfo& run);
[[nodiscard]] Status CheckRunUpdate(const RunUpdate& update);
[[nodiscard]] Status CheckHistoryQuery(const HistoryQuery& query);
// Names, type, aliases, file paths (relative, '/'-separated, no "." or "..", each once) and
// metadata of an artifact to log.
[[nodiscard]] Status CheckNewArtifact(const NewArtifact& artifact);

}  // namespace labbook::track::sqlite
