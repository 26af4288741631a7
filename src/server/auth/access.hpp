// Access decisions of the server, in one place: who reads and who writes a project. Every
// handler asks here before it touches the store.
//
// Rules: a public project is readable by anyone, with or without a key; a private one only by
// those with a role in its entity (viewer, member, admin) and by server admins, who read every
// project, also of entities the auth store does not know. Writing needs member or admin in the
// entity. A project the caller may not read does not exist for them:
// kNotFound, never kPermissionDenied, so private names do not leak. A readable project the caller
// may not write is kPermissionDenied.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "labbook/status.hpp"
#include "server/auth/auth_store.hpp"

namespace labbook::server {

// The credentials of a request, from `Authorization: Bearer <key>` or HTTP Basic (any user name,
// the key as password, as W&B clients send `api:<key>`). nullopt when the header is absent;
// kUnauthenticated for a malformed header or a key that is unknown or revoked.
[[nodiscard]] Result<std::optional<Principal>> AuthenticateHeader(
    AuthStore& auth, const std::string& authorization_header);

// Requires a principal: kUnauthenticated ("this route needs an API key") when there is none.
[[nodiscard]] Result<Principal> RequirePrincipal(const std::optional<Principal>& principal);

// Ok when `principal` (nullopt: anonymous) may read the project; kNotFound naming
// "project <entity>/<project>" otherwise.
[[nodiscard]] Status CanRead(AuthStore& auth, const std::optional<Principal>& principal,
                             const std::string& entity, const std::string& project);

// Ok when `principal` may write the project: kUnauthenticated without a key, kNotFound when it
// may not even read, kPermissionDenied when it may only read.
[[nodiscard]] Status CanWrite(AuthStore& auth, const std::optional<Principal>& principal,
                              const std::string& entity, const std::string& project);

// Ok for admins of the entity and server admins (team membership changes, visibility); the same
// kNotFound / kPermissionDenied rules as CanWrite.
[[nodiscard]] Status CanAdminister(AuthStore& auth, const std::optional<Principal>& principal,
                                   const std::string& entity);

}  // namespace labbook::server
