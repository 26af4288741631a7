// Checks of what callers hand a run store, before anything is written, shared by the SQLite and
// PostgreSQL stores so both refuse the same inputs with the same words. Each Check returns
// kInvalidArgument naming the field and the expectation.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "labbook/status.hpp"
#include "track/store.hpp"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace labbook::track::validation {

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

// True for 64 lower-case hex digits (a sha256 as the stores write it).
bool IsSha256Hex(std::string_view text);

// Incremental sha256, lower-case hex.
class Sha256 {
 public:
  Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  ~Sha256();

  void Update(const void* data, size_t size);
  std::string HexDigest();

 private:
  evp_md_ctx_st* context_;
};

// Sorts `files` by path and returns the artifact's digest (store.hpp's ArtifactVersion::digest).
std::string ArtifactDigest(std::vector<ArtifactFile>* files);

// `update`'s fields applied to `run` (the summary patched key by key, null removing a key).
void ApplyUpdate(const RunUpdate& update, RunInfo* run);

// "v3" -> 3; anything else -> -1.
int ParseVersionName(std::string_view text);
// 3 -> "v3". (ArtifactVersion::VersionName, inlined, trips GCC 12's -Wrestrict false positive.)
std::string VersionName(int version);

}  // namespace labbook::track::validation
