// The wire format of the REST API (docs/api.md), shared by the server and its client so that
// both sides read and write exactly the same documents. JSON for everything, plus a compact
// binary form of a history batch for the SDK's ingest, where JSON would cost more than storing.
//
// Numbers that JSON cannot hold (NaN, infinities) travel as the strings "NaN", "Infinity" and
// "-Infinity". Readers validate every field: errors are kInvalidArgument naming the field path
// (e.g. "run.tags[2]: expected a string") so a 400 says exactly what was wrong.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "labbook/status.hpp"
#include "track/store.hpp"

namespace labbook::track::wire {

// The media type of the binary history batch.
inline constexpr std::string_view kHistoryBatchMediaType = "application/x-labbook-history";

nlohmann::json NumberToJson(double value);
[[nodiscard]] Result<double> NumberFromJson(const nlohmann::json& value, const std::string& where);

nlohmann::json RunToJson(const RunInfo& run);
[[nodiscard]] Result<RunInfo> RunFromJson(const nlohmann::json& value, const std::string& where);

nlohmann::json UpdateToJson(const RunUpdate& update);
[[nodiscard]] Result<RunUpdate> UpdateFromJson(const nlohmann::json& value,
                                               const std::string& where);

// {"keys": ["loss", ...], "points": [[key_index, step, value, wall_time], ...]}
nlohmann::json HistoryBatchToJson(const HistoryBatch& batch);
[[nodiscard]] Result<HistoryBatch> HistoryBatchFromJson(const nlohmann::json& value,
                                                        const std::string& where);

// Binary form, little-endian: "LBH1", u32 key count, per key u32 length + bytes, u64 point
// count, then per point u32 key, i64 step, f64 value, f64 wall time.
std::string EncodeHistoryBatch(const HistoryBatch& batch);
[[nodiscard]] Result<HistoryBatch> DecodeHistoryBatch(std::string_view bytes);

nlohmann::json KeyInfoToJson(const KeyInfo& key);
[[nodiscard]] Result<KeyInfo> KeyInfoFromJson(const nlohmann::json& value,
                                              const std::string& where);

nlohmann::json SeriesToJson(const Series& series);
[[nodiscard]] Result<Series> SeriesFromJson(const nlohmann::json& value, const std::string& where);

nlohmann::json ArtifactFileToJson(const ArtifactFile& file);
[[nodiscard]] Result<ArtifactFile> ArtifactFileFromJson(const nlohmann::json& value,
                                                        const std::string& where);

nlohmann::json ArtifactToJson(const ArtifactVersion& artifact);
[[nodiscard]] Result<ArtifactVersion> ArtifactFromJson(const nlohmann::json& value,
                                                       const std::string& where);

nlohmann::json RunArtifactsToJson(const RunArtifacts& artifacts);
[[nodiscard]] Result<RunArtifacts> RunArtifactsFromJson(const nlohmann::json& value,
                                                        const std::string& where);

// An artifact to create on the server: NewArtifact without local sources; each file names the
// blob (uploaded before) by sha256.
struct NewArtifactRequest {
  std::string entity;
  std::string project;
  std::string name;
  std::string type;
  std::string producer_run;
  nlohmann::json metadata = nlohmann::json::object();
  std::vector<std::string> aliases;
  std::vector<ArtifactFile> files;
};
nlohmann::json NewArtifactToJson(const NewArtifactRequest& artifact);
[[nodiscard]] Result<NewArtifactRequest> NewArtifactFromJson(const nlohmann::json& value,
                                                             const std::string& where);

// `text` with every byte but RFC 3986's unreserved characters written as %XX: one path segment
// or query value of a route.
std::string EncodeUrlComponent(std::string_view text);

// `data` in a gzip wrapper (RFC 1952), deflated at zlib's `level` (1 fastest to 9 smallest):
// request bodies at the default level, responses at kGzipFastLevel (level 6 took more than half of
// the time of a 1.9 MB history answer). kInternal when zlib fails.
inline constexpr int kGzipDefaultLevel = 6;
inline constexpr int kGzipFastLevel = 1;
[[nodiscard]] Result<std::string> Gzip(std::string_view data, int level);

// Parses `text` as JSON: kInvalidArgument "<where>: malformed JSON at byte N: ..." otherwise.
[[nodiscard]] Result<nlohmann::json> ParseJson(std::string_view text, const std::string& where);

}  // namespace labbook::track::wire
