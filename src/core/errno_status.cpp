#include "core/errno_status.hpp"

#include <cerrno>
#include <cstring>

namespace labbook {

Status StatusFromErrno(const std::string& path, std::string_view action, int err) {
  std::string message = path + ": cannot " + std::string(action) + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return NotFound(path + ": no such file");
    case EACCES:
    case EPERM:
    case EROFS:
      return PermissionDenied(std::move(message));
    case ENOSPC:
    case EDQUOT:
    case ENOMEM:
      return ResourceExhausted(std::move(message));
    default:
      return Internal(std::move(message));
  }
}

}  // namespace labbook
