// The secrets and ids of API keys: how they are drawn, recognised and digested. Internal to the
// auth store; the tests check the format through CreateKey.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "labbook/status.hpp"

namespace labbook::server {

inline constexpr std::string_view kApiKeyPrefix = "lb-";
inline constexpr size_t kApiKeyRandomChars = 40;  // of [0-9A-Za-z]: about 238 bits
inline constexpr size_t kApiKeyIdChars = 12;      // of [0-9a-f]

using SecretDigest = std::array<std::byte, 32>;  // SHA-256

// "lb-" and 40 characters drawn uniformly from [0-9A-Za-z] with OpenSSL's RAND_bytes;
// kInternal when the generator fails (never a weaker fallback).
[[nodiscard]] Result<std::string> GenerateApiKeySecret();
// 12 random characters of [0-9a-f].
[[nodiscard]] Result<std::string> GenerateApiKeyId();

// Whether `secret` has the shape of a key, so that garbage is refused without a database lookup.
bool LooksLikeApiKeySecret(std::string_view secret);

SecretDigest DigestOfSecret(std::string_view secret);

}  // namespace labbook::server
