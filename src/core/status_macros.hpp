// Early-return helpers for Status and Result, internal to labbook's implementation.
#pragma once

#include "labbook/status.hpp"

#define LABBOOK_CONCAT_INNER(a, b) a##b
#define LABBOOK_CONCAT(a, b) LABBOOK_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` (a Status) is not ok.
#define LABBOOK_RETURN_IF_ERROR(expr)              \
  do {                                             \
    ::labbook::Status labbook_status_ = (expr);    \
    if (!labbook_status_.ok()) return labbook_status_; \
  } while (0)

// `LABBOOK_ASSIGN_OR_RETURN(auto x, ResultExpr())`: binds the value or returns the error.
#define LABBOOK_ASSIGN_OR_RETURN(lhs, rexpr) \
  LABBOOK_ASSIGN_OR_RETURN_IMPL(LABBOOK_CONCAT(labbook_result_, __LINE__), lhs, rexpr)
#define LABBOOK_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                  \
  if (!tmp.ok()) return tmp.status();                  \
  lhs = std::move(tmp).value()
