// The program's surface: help, version, usage errors and exit codes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli_runner.hpp"

namespace labbook::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(CliTest, HelpListsEveryCommand) {
  CliResult r = RunCli({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, AllOf(HasSubstr("data"), HasSubstr("eval"), HasSubstr("--version"),
                           HasSubstr("LABBOOK_DATA"), HasSubstr("Exit codes")));
}

TEST(CliTest, VersionPrintsTheProjectVersion) {
  CliResult r = RunCli({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("labbook 0."));
}

TEST(CliTest, EveryCommandDescribesItsOptions) {
  CliResult data = RunCli({"data", "--help"});
  EXPECT_EQ(data.exit_code, 0);
  EXPECT_THAT(data.out, AllOf(HasSubstr("info"), HasSubstr("stats")));

  CliResult stats = RunCli({"data", "stats", "--help"});
  EXPECT_EQ(stats.exit_code, 0);
  EXPECT_THAT(stats.out, AllOf(HasSubstr("--split"), HasSubstr("--json"), HasSubstr("--out"),
                               HasSubstr("--samples")));

  CliResult info = RunCli({"data", "info", "--help"});
  EXPECT_EQ(info.exit_code, 0);
  EXPECT_THAT(info.out, HasSubstr("idx:DIR"));

  CliResult eval = RunCli({"eval", "--help"});
  EXPECT_EQ(eval.exit_code, 0);
  EXPECT_THAT(eval.out, AllOf(HasSubstr("--json"), HasSubstr("--out"), HasSubstr("--class-names"),
                              HasSubstr("--tradeoff-class"), HasSubstr("--thresholds"),
                              HasSubstr("index,label,predicted")));
}

TEST(CliTest, NoCommandOrUnknownCommandIsAUsageError) {
  CliResult none = RunCli({});
  EXPECT_EQ(none.exit_code, 2) << none.err;
  EXPECT_FALSE(none.err.empty());

  CliResult unknown = RunCli({"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("frobnicate"));

  CliResult bad_option = RunCli({"data", "stats", "fashion-mnist", "--bogus"});
  EXPECT_EQ(bad_option.exit_code, 2);
  EXPECT_THAT(bad_option.err, HasSubstr("--bogus"));
}

}  // namespace
}  // namespace labbook::testing
