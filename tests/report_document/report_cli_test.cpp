// `labbook report` as a user runs it: exit codes, messages and the files it writes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "../cli/cli_runner.hpp"
#include "fixture.hpp"

namespace labbook::report::document {
namespace {

using labbook::testing::RunCli;
using labbook::testing::WriteFile;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class ReportCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fixture_ = testing::MakeReportFixture(testing::NewTempDir());
    spec_ = fixture_.dir + "/spec.md";
    WriteFile(spec_,
              "# CLI report\n\n```labbook dataset-stats\ndataset: idx:" + fixture_.data_dir +
                  "\nshow: table, labels\n```\n\n```labbook confusion-matrix\nproject: demo\n"
                  "dataset: idx:" +
                  fixture_.data_dir + "\n```\n");
  }
  void TearDown() override { std::filesystem::remove_all(fixture_.dir); }

  testing::ReportFixture fixture_;
  std::string spec_;
};

TEST_F(ReportCliTest, WritesTheSameHtmlTwice) {
  const std::string out = fixture_.dir + "/out/report.html";
  auto first = RunCli({"report", spec_, "--out", out, "--store", fixture_.store_uri});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out, "wrote " + out + "\n");
  const std::string html = testing::ReadText(out);
  EXPECT_THAT(html, StartsWith("<!DOCTYPE html>"));
  EXPECT_THAT(html, HasSubstr("Confusion matrix: small-sgd (aaaa0002)"));
  auto second = RunCli({"report", spec_, "--out", out, "--store", fixture_.store_uri});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_TRUE(testing::ReadText(out) == html) << "a second run wrote other bytes";
}

TEST_F(ReportCliTest, MarkdownByExtensionWithPlotsBeside) {
  const std::string out = fixture_.dir + "/md/analysis.md";
  auto result = RunCli({"report", spec_, "--out", out}, {"LABBOOK_STORE=" + fixture_.store_uri});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("and 4 plot files in"));
  EXPECT_THAT(testing::ReadText(out), HasSubstr("](analysis_files/01-label-distribution.png)"));
  EXPECT_TRUE(std::filesystem::exists(fixture_.dir + "/md/analysis_files/02-confusion-matrix.svg"));
}

TEST_F(ReportCliTest, ErrorsExitWithTheirCodes) {
  const std::string out = fixture_.dir + "/report.html";
  auto missing = RunCli({"report", fixture_.dir + "/nope.md", "--out", out});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_THAT(missing.err, HasSubstr("labbook: error: " + fixture_.dir + "/nope.md: no such spec"));

  const std::string bad = fixture_.dir + "/bad.md";
  WriteFile(bad, "# Bad\n\n```labbook runz\n```\n");
  auto directive = RunCli({"report", bad, "--out", out, "--store", fixture_.store_uri});
  EXPECT_EQ(directive.exit_code, 2);
  EXPECT_THAT(directive.err, StartsWith("labbook: error: " + bad +
                                        ":3: unknown directive 'labbook runz'; the directives "
                                        "are dataset-stats, runs,"));
  EXPECT_FALSE(std::filesystem::exists(out));

  auto format = RunCli({"report", spec_, "--out", out, "--format", "pdf"});
  EXPECT_EQ(format.exit_code, 2);
  EXPECT_THAT(format.err, HasSubstr("--format: expected 'html' or 'md', got 'pdf'"));

  auto itself = RunCli({"report", spec_, "--out", spec_});
  EXPECT_EQ(itself.exit_code, 2);
  EXPECT_THAT(itself.err, HasSubstr("is the spec itself"));

  auto no_store =
      RunCli({"report", spec_, "--out", out, "--store", "sqlite://" + fixture_.dir + "/none.db"});
  EXPECT_EQ(no_store.exit_code, 3);
  EXPECT_THAT(no_store.err, HasSubstr("spec.md:8: labbook confusion-matrix: store "));
  EXPECT_FALSE(std::filesystem::exists(fixture_.dir + "/none.db"));
}

}  // namespace
}  // namespace labbook::report::document
