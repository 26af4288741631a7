"""labbook's exceptions: one class per error code, each a subclass of labbook.Error.

The classes come from the C++ module, which raises them for every failing call with the message
the command line prints after "labbook: error: ". `make_error` builds the same exceptions for
the checks done here in Python, so a caller sees one kind of error whichever side found it.
"""

from __future__ import annotations

from labbook import _labbook

Error = _labbook.Error
InvalidArgument = _labbook.InvalidArgument
NotFound = _labbook.NotFound
AlreadyExists = _labbook.AlreadyExists
PermissionDenied = _labbook.PermissionDenied
Unauthenticated = _labbook.Unauthenticated
FailedPrecondition = _labbook.FailedPrecondition
DataLoss = _labbook.DataLoss
ResourceExhausted = _labbook.ResourceExhausted
Unavailable = _labbook.Unavailable
Internal = _labbook.Internal
Unimplemented = _labbook.Unimplemented
PayloadTooLarge = _labbook.PayloadTooLarge
MethodNotAllowed = _labbook.MethodNotAllowed

# The code names of labbook's ErrorCode enum ("not_found"), as Error.code holds them.
ERROR_CLASSES: dict[str, type[Exception]] = {
    "invalid_argument": InvalidArgument,
    "not_found": NotFound,
    "already_exists": AlreadyExists,
    "permission_denied": PermissionDenied,
    "unauthenticated": Unauthenticated,
    "failed_precondition": FailedPrecondition,
    "data_loss": DataLoss,
    "resource_exhausted": ResourceExhausted,
    "unavailable": Unavailable,
    "internal": Internal,
    "unimplemented": Unimplemented,
    "payload_too_large": PayloadTooLarge,
    "method_not_allowed": MethodNotAllowed,
}


def make_error(code: str, message: str) -> Exception:
    """The exception the C++ module would raise for `code` and `message`."""
    error = ERROR_CLASSES[code](message)
    error.code = code  # type: ignore[attr-defined]
    error.message = message  # type: ignore[attr-defined]
    return error
