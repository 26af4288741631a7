#include "server/auth/access.hpp"

#include <openssl/evp.h>

#include <cctype>
#include <vector>

#include "core/status_macros.hpp"

namespace labbook::server {
namespace {

Status Unauthenticated(std::string message) {
  return {ErrorCode::kUnauthenticated, std::move(message)};
}

// The messages below never quote the header: it carries a secret, even when malformed.
const char kExpectedHeader[] =
    "Authorization header: expected 'Bearer <API key>' or 'Basic <base64 of user:API key>'";

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view TrimSpaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool IsBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// Standard base64 with padding (RFC 4648 section 4), as HTTP Basic uses; nullopt for anything
// else. EVP_DecodeBlock skips surrounding whitespace and counts padding as zero bytes, so the
// shape is checked here and the padding taken off its answer.
std::optional<std::string> DecodeBase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  size_t padding = 0;
  if (text.back() == '=') ++padding;
  if (padding == 1 && text[text.size() - 2] == '=') ++padding;
  for (size_t i = 0; i < text.size() - padding; ++i) {
    if (!IsBase64Char(text[i])) return std::nullopt;
  }
  std::vector<unsigned char> decoded(text.size() / 4 * 3);
  const int size =
      EVP_DecodeBlock(decoded.data(), reinterpret_cast<const unsigned char*>(text.data()),
                      static_cast<int>(text.size()));
  if (size < 0 || static_cast<size_t>(size) < padding) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(decoded.data()),
                     static_cast<size_t>(size) - padding);
}

std::string ProjectRef(const std::string& entity, const std::string& project) {
  return "project " + entity + "/" + project;
}

}  // namespace

Result<std::optional<Principal>> AuthenticateHeader(AuthStore& auth,
                                                    const std::string& authorization_header) {
  const std::string_view header = TrimSpaces(authorization_header);
  if (header.empty()) return std::optional<Principal>();
  const size_t space = header.find_first_of(" \t");
  if (space == std::string_view::npos) return Unauthenticated(kExpectedHeader);
  const std::string_view scheme = header.substr(0, space);
  const std::string_view credentials = TrimSpaces(header.substr(space + 1));
  std::string secret;
  if (EqualsIgnoringCase(scheme, "Bearer")) {
    secret = std::string(credentials);
  } else if (EqualsIgnoringCase(scheme, "Basic")) {
    const std::optional<std::string> decoded = DecodeBase64(credentials);
    if (!decoded.has_value()) {
      return Unauthenticated(std::string(kExpectedHeader) +
                             "; the Basic credentials are not base64");
    }
    // The user part is not checked: the key alone says who the caller is (W&B sends "api").
    const size_t colon = decoded->find(':');
    if (colon == std::string::npos) {
      return Unauthenticated(std::string(kExpectedHeader) +
                             "; the Basic credentials have no ':' between user and key");
    }
    secret = decoded->substr(colon + 1);
  } else {
    return Unauthenticated(kExpectedHeader);
  }
  if (secret.empty()) return Unauthenticated(std::string(kExpectedHeader) + "; the key is empty");
  LABBOOK_ASSIGN_OR_RETURN(Principal principal, auth.Authenticate(secret));
  return std::optional<Principal>(std::move(principal));
}

Result<Principal> RequirePrincipal(const std::optional<Principal>& principal) {
  if (!principal.has_value()) return Unauthenticated("this route needs an API key");
  return *principal;
}

Status CanRead(AuthStore& auth, const std::optional<Principal>& principal,
               const std::string& entity, const std::string& project) {
  // Server admins see everything, also runs of entities the auth store does not know (a store
  // recorded locally and then served, as `labbook ui` does).
  if (principal.has_value() && principal->is_admin) return Status::Ok();
  LABBOOK_ASSIGN_OR_RETURN(Visibility visibility, auth.GetVisibility(entity, project));
  if (visibility == Visibility::kPublic) return Status::Ok();
  if (principal.has_value()) {
    LABBOOK_ASSIGN_OR_RETURN(std::optional<Role> role, auth.RoleIn(*principal, entity));
    if (role.has_value()) return Status::Ok();
  }
  return NotFound(ProjectRef(entity, project) + " not found");
}

Status CanWrite(AuthStore& auth, const std::optional<Principal>& principal,
                const std::string& entity, const std::string& project) {
  if (!principal.has_value()) {
    return Unauthenticated("writing to " + ProjectRef(entity, project) + " needs an API key");
  }
  LABBOOK_ASSIGN_OR_RETURN(std::optional<Role> role, auth.RoleIn(*principal, entity));
  if (role == Role::kMember || role == Role::kAdmin) return Status::Ok();
  // Without a role, a private project (or one not created yet) must look absent.
  if (!role.has_value()) LABBOOK_RETURN_IF_ERROR(CanRead(auth, principal, entity, project));
  return PermissionDenied(ProjectRef(entity, project) +
                          ": writing needs the member or admin role in '" + entity + "'; user '" +
                          principal->user + "' " +
                          (role.has_value() ? "is a viewer" : "has no role there"));
}

Status CanAdminister(AuthStore& auth, const std::optional<Principal>& principal,
                     const std::string& entity) {
  if (!principal.has_value()) {
    return Unauthenticated("administering '" + entity + "' needs an API key");
  }
  LABBOOK_ASSIGN_OR_RETURN(std::optional<Role> role, auth.RoleIn(*principal, entity));
  if (role == Role::kAdmin) return Status::Ok();
  // Entities have no visibility of their own: one the caller has no role in does not exist for
  // them, as a private project would not.
  if (!role.has_value()) return NotFound("entity '" + entity + "' not found");
  return PermissionDenied("administering '" + entity + "' needs the admin role; user '" +
                          principal->user + "' is a " + std::string(RoleName(*role)));
}

}  // namespace labbook::server
