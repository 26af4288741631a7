// The Status of a failed system call on a file, one mapping for every component that touches
// files: ENOENT/ENOTDIR are kNotFound ("<path>: no such file"), EACCES/EPERM/EROFS
// kPermissionDenied, ENOSPC/EDQUOT/ENOMEM kResourceExhausted, anything else kInternal; the message
// reads "<path>: cannot <action>: <strerror>".
#pragma once

#include <string>
#include <string_view>

#include "labbook/status.hpp"

namespace labbook {

Status StatusFromErrno(const std::string& path, std::string_view action, int err);

}  // namespace labbook
