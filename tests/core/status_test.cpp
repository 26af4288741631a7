#include "labbook/status.hpp"

#include <gtest/gtest.h>

#include <set>

#include "core/status_macros.hpp"

namespace labbook {
namespace {

constexpr ErrorCode kAllCodes[] = {
    ErrorCode::kInvalidArgument,  ErrorCode::kNotFound,          ErrorCode::kAlreadyExists,
    ErrorCode::kPermissionDenied, ErrorCode::kUnauthenticated,   ErrorCode::kFailedPrecondition,
    ErrorCode::kDataLoss,         ErrorCode::kResourceExhausted, ErrorCode::kUnavailable,
    ErrorCode::kUnimplemented,    ErrorCode::kInternal,          ErrorCode::kPayloadTooLarge,
    ErrorCode::kMethodNotAllowed,
};

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
  EXPECT_EQ(ExitCodeFor(s.code()), 0);
  EXPECT_EQ(HttpStatusFor(s.code()), 200);
}

TEST(StatusTest, EveryCodeHasItsOwnNameExitCodeAndAnErrorHttpStatus) {
  std::set<std::string_view> names;
  std::set<int> exit_codes;
  std::set<int> http_statuses;
  for (ErrorCode code : kAllCodes) {
    names.insert(ErrorCodeName(code));
    int exit_code = ExitCodeFor(code);
    EXPECT_GT(exit_code, 1);
    EXPECT_LT(exit_code, 64);
    exit_codes.insert(exit_code);
    int http = HttpStatusFor(code);
    EXPECT_GE(http, 400);
    EXPECT_LT(http, 600);
    http_statuses.insert(http);
  }
  EXPECT_EQ(names.size(), std::size(kAllCodes));
  EXPECT_EQ(exit_codes.size(), std::size(kAllCodes));
  EXPECT_EQ(http_statuses.size(), std::size(kAllCodes));
  EXPECT_EQ(HttpStatusFor(ErrorCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kPayloadTooLarge), 413);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kMethodNotAllowed), 405);
}

TEST(StatusTest, ContextIsPrependedAndCodeKept) {
  Status s = NotFound("no such file").WithContext("data/x.idx");
  EXPECT_EQ(s.code(), ErrorCode::kNotFound);
  EXPECT_EQ(s.message(), "data/x.idx: no such file");
  EXPECT_EQ(s.ToString(), "not_found: data/x.idx: no such file");
  EXPECT_TRUE(Status::Ok().WithContext("ignored").ok());
}

Result<int> ParsePositive(int v) {
  if (v <= 0) return InvalidArgument("expected a positive number, got " + std::to_string(v));
  return v;
}

Result<int> Doubled(int v) {
  LABBOOK_ASSIGN_OR_RETURN(int x, ParsePositive(v));
  return 2 * x;
}

Status CheckBoth(int a, int b) {
  LABBOOK_RETURN_IF_ERROR(ParsePositive(a).status());
  LABBOOK_RETURN_IF_ERROR(ParsePositive(b).status());
  return Status::Ok();
}

TEST(ResultTest, ValueOrError) {
  Result<int> good = Doubled(4);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 8);
  Result<int> bad = Doubled(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "expected a positive number, got -1");
  EXPECT_TRUE(CheckBoth(1, 2).ok());
  EXPECT_EQ(CheckBoth(1, 0).message(), "expected a positive number, got 0");
}

TEST(StatusTest, CodesComeBackFromTheirNamesAndHttpStatuses) {
  for (int i = 1; i <= static_cast<int>(ErrorCode::kMethodNotAllowed); ++i) {
    const auto code = static_cast<ErrorCode>(i);
    EXPECT_EQ(ErrorCodeNamed(ErrorCodeName(code)), code);
    EXPECT_EQ(ErrorCodeForHttpStatus(HttpStatusFor(code)), code);
  }
  EXPECT_EQ(ErrorCodeNamed("ok"), std::nullopt);
  EXPECT_EQ(ErrorCodeNamed("teapot"), std::nullopt);
  EXPECT_EQ(ErrorCodeForHttpStatus(502), ErrorCode::kUnavailable);
  EXPECT_EQ(ErrorCodeForHttpStatus(504), ErrorCode::kUnavailable);
  EXPECT_EQ(ErrorCodeForHttpStatus(505), ErrorCode::kInternal);
  EXPECT_EQ(ErrorCodeForHttpStatus(418), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace labbook
