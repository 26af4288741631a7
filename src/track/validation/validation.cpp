#include "track/validation/validation.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/status_macros.hpp"

namespace labbook::track::validation {
namespace {

constexpr size_t kMaxNameBytes = 128;
constexpr size_t kMaxKeyBytes = 512;
constexpr size_t kMaxPathBytes = 1024;

bool IsBase36(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'); }

bool HasControlCharacter(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
  });
}

// [A-Za-z0-9._-]+, at most 128 bytes.
bool IsArtifactWord(std::string_view text) {
  return !text.empty() && text.size() <= kMaxNameBytes &&
         std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
         });
}

Status CheckArtifactPath(std::string_view path) {
  auto invalid = [&](std::string_view why) {
    return InvalidArgument("artifact file path '" + std::string(path) + "' " + std::string(why));
  };
  if (path.empty() || path.size() > kMaxPathBytes) return invalid("must have 1 to 1024 bytes");
  if (HasControlCharacter(path) || path.find('\\') != std::string_view::npos) {
    return invalid("must not hold control characters or '\\'");
  }
  size_t start = 0;
  for (;;) {
    const size_t end = std::min(path.find('/', start), path.size());
    const std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return invalid("must be relative and '/'-separated, without empty, '.' or '..' parts");
    }
    if (end == path.size()) return Status::Ok();
    start = end + 1;
  }
}

Status CheckTime(std::string_view field, double time) {
  if (std::isfinite(time)) return Status::Ok();
  return InvalidArgument(std::string(field) + " must be a finite number of seconds");
}

}  // namespace

bool IsRunId(std::string_view id) {
  return id.size() == kRunIdLength && std::all_of(id.begin(), id.end(), IsBase36);
}

Status CheckRunId(std::string_view id) {
  if (IsRunId(id)) return Status::Ok();
  return InvalidArgument("run id '" + std::string(id) + "' must be 8 characters of [0-9a-z]");
}

Status CheckRunIdOrPrefix(std::string_view id) {
  if (id.size() >= kMinRunIdPrefix && id.size() <= kRunIdLength &&
      std::all_of(id.begin(), id.end(), IsBase36)) {
    return Status::Ok();
  }
  return InvalidArgument("run id '" + std::string(id) +
                         "' must be 8 characters of [0-9a-z], or a prefix of at least 3");
}

Status CheckProjectName(std::string_view field, std::string_view name) {
  if (!name.empty() && name.size() <= kMaxNameBytes && !HasControlCharacter(name) &&
      name.find('/') == std::string_view::npos) {
    return Status::Ok();
  }
  return InvalidArgument(std::string(field) + " '" + std::string(name) +
                         "' must have 1 to 128 bytes, without '/' or control characters");
}

Status CheckHistoryKey(std::string_view field, std::string_view key) {
  if (!key.empty() && key.size() <= kMaxKeyBytes && !HasControlCharacter(key)) {
    return Status::Ok();
  }
  return InvalidArgument(std::string(field) + " '" + std::string(key) +
                         "' must have 1 to 512 bytes, without control characters");
}

Status CheckNewRun(const RunInfo& run) {
  if (!run.id.empty()) LABBOOK_RETURN_IF_ERROR(CheckRunId(run.id));
  LABBOOK_RETURN_IF_ERROR(CheckProjectName("run.entity", run.entity));
  LABBOOK_RETURN_IF_ERROR(CheckProjectName("run.project", run.project));
  if (!run.config.is_object()) return InvalidArgument("run.config must be a JSON object");
  if (!run.summary.is_object()) return InvalidArgument("run.summary must be a JSON object");
  LABBOOK_RETURN_IF_ERROR(CheckTime("run.start_time", run.start_time));
  LABBOOK_RETURN_IF_ERROR(CheckTime("run.heartbeat_time", run.heartbeat_time));
  return CheckTime("run.end_time", run.end_time);
}

Status CheckRunUpdate(const RunUpdate& update) {
  if (update.summary_patch && !update.summary_patch->is_object()) {
    return InvalidArgument("update.summary_patch must be a JSON object");
  }
  if (update.heartbeat_time) {
    LABBOOK_RETURN_IF_ERROR(CheckTime("update.heartbeat_time", *update.heartbeat_time));
  }
  if (update.end_time) LABBOOK_RETURN_IF_ERROR(CheckTime("update.end_time", *update.end_time));
  return Status::Ok();
}

Status CheckHistoryQuery(const HistoryQuery& query) {
  if (query.min_step <= query.max_step) return Status::Ok();
  return InvalidArgument("query.min_step " + std::to_string(query.min_step) +
                         " is after query.max_step " + std::to_string(query.max_step));
}

bool IsSha256Hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string VersionName(int version) {
  std::string name = std::to_string(version);
  name.insert(name.begin(), 'v');
  return name;
}

int ParseVersionName(std::string_view text) {
  if (text.size() < 2 || text.size() > 10 || text[0] != 'v') return -1;
  int version = 0;
  for (char c : text.substr(1)) {
    if (c < '0' || c > '9') return -1;
    version = version * 10 + (c - '0');
  }
  return version;
}

Status CheckNewArtifact(const NewArtifact& artifact) {
  LABBOOK_RETURN_IF_ERROR(CheckProjectName("artifact.entity", artifact.entity));
  LABBOOK_RETURN_IF_ERROR(CheckProjectName("artifact.project", artifact.project));
  if (!IsArtifactWord(artifact.name)) {
    return InvalidArgument("artifact.name '" + artifact.name +
                           "' must be 1 to 128 characters of [A-Za-z0-9._-]");
  }
  if (!IsArtifactWord(artifact.type)) {
    return InvalidArgument("artifact.type '" + artifact.type +
                           "' must be 1 to 128 characters of [A-Za-z0-9._-]");
  }
  if (!artifact.producer_run.empty()) {
    LABBOOK_RETURN_IF_ERROR(CheckRunId(artifact.producer_run));
  }
  if (!artifact.metadata.is_object() && !artifact.metadata.is_null()) {
    return InvalidArgument("artifact.metadata must be a JSON object (or null for none)");
  }
  for (const std::string& alias : artifact.aliases) {
    if (!IsArtifactWord(alias) || ParseVersionName(alias) >= 0) {
      return InvalidArgument("artifact alias '" + alias +
                             "' must be 1 to 128 characters of [A-Za-z0-9._-] and not look "
                             "like a version (v3)");
    }
  }
  std::set<std::string_view> paths;
  for (const NewArtifact::File& file : artifact.files) {
    LABBOOK_RETURN_IF_ERROR(CheckArtifactPath(file.path));
    if (!paths.insert(file.path).second) {
      return InvalidArgument("artifact file path '" + file.path + "' appears twice");
    }
  }
  return Status::Ok();
}

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(context_, EVP_sha256(), nullptr);
}

Sha256::~Sha256() { EVP_MD_CTX_free(context_); }

void Sha256::Update(const void* data, size_t size) { EVP_DigestUpdate(context_, data, size); }

std::string Sha256::HexDigest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context_, digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
}

std::string ArtifactDigest(std::vector<ArtifactFile>* files) {
  std::sort(files->begin(), files->end(),
            [](const ArtifactFile& a, const ArtifactFile& b) { return a.path < b.path; });
  Sha256 digest;
  for (const ArtifactFile& file : *files) {
    const std::string line = file.path + '\0' + file.sha256 + '\n';
    digest.Update(line.data(), line.size());
  }
  return digest.HexDigest();
}

void ApplyUpdate(const RunUpdate& update, RunInfo* run) {
  if (update.state) run->state = *update.state;
  if (update.summary_patch) {
    for (const auto& [key, value] : update.summary_patch->items()) {
      if (value.is_null()) {
        run->summary.erase(key);
      } else {
        run->summary[key] = value;
      }
    }
  }
  if (update.heartbeat_time) run->heartbeat_time = *update.heartbeat_time;
  if (update.end_time) run->end_time = *update.end_time;
  if (update.exit_code) run->exit_code = *update.exit_code;
  if (update.notes) run->notes = *update.notes;
  if (update.tags) run->tags = *update.tags;
}

}  // namespace labbook::track::validation
