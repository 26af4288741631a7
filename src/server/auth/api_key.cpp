#include "server/auth/api_key.hpp"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdint>

namespace labbook::server {
namespace {

constexpr std::string_view kAlphabet =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
// The largest multiple of 62 that a byte can hold: bytes at or above it are drawn again, so that
// every character is equally likely (a plain `byte % 62` favours the first 8).
constexpr unsigned kAcceptBelow = 256 - 256 % kAlphabet.size();
static_assert(kAcceptBelow == 248);

Status RandomBytes(unsigned char* out, size_t size) {
  if (RAND_bytes(out, static_cast<int>(size)) != 1) {
    return Internal("cannot draw random bytes for an API key: OpenSSL's RAND_bytes failed");
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> GenerateApiKeySecret() {
  std::string secret(kApiKeyPrefix);
  // 48 bytes leave room for the about 3% that are rejected; a short draw just asks again.
  unsigned char bytes[48];
  while (secret.size() < kApiKeyPrefix.size() + kApiKeyRandomChars) {
    Status drawn = RandomBytes(bytes, sizeof(bytes));
    if (!drawn.ok()) return drawn;
    for (const unsigned char byte : bytes) {
      if (byte >= kAcceptBelow) continue;
      secret.push_back(kAlphabet[byte % kAlphabet.size()]);
      if (secret.size() == kApiKeyPrefix.size() + kApiKeyRandomChars) break;
    }
  }
  return secret;
}

Result<std::string> GenerateApiKeyId() {
  constexpr std::string_view kHex = "0123456789abcdef";
  unsigned char bytes[kApiKeyIdChars / 2];
  Status drawn = RandomBytes(bytes, sizeof(bytes));
  if (!drawn.ok()) return drawn;
  std::string id;
  for (const unsigned char byte : bytes) {
    id.push_back(kHex[byte >> 4]);
    id.push_back(kHex[byte & 0xf]);
  }
  return id;
}

bool LooksLikeApiKeySecret(std::string_view secret) {
  if (secret.size() != kApiKeyPrefix.size() + kApiKeyRandomChars ||
      !secret.starts_with(kApiKeyPrefix)) {
    return false;
  }
  return std::all_of(secret.begin() + kApiKeyPrefix.size(), secret.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
  });
}

SecretDigest DigestOfSecret(std::string_view secret) {
  SecretDigest digest;
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
         reinterpret_cast<unsigned char*>(digest.data()));
  return digest;
}

}  // namespace labbook::server
