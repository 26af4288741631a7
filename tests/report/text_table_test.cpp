#include "report/text_table.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "report/format.hpp"

namespace labbook::report {
namespace {

TextTable MetricsTable() {
  TextTable table({{"class"}, {"precision"}, {"support", Align::kRight}});
  table.SetTitle("Per-class metrics");
  EXPECT_TRUE(table.AddRow({"T-shirt/top", FormatFixed(0.81249, 3), "1000"}).ok());
  EXPECT_TRUE(table.AddRow({"Bag", FormatFixed(0.975, 3), "1000"}).ok());
  EXPECT_TRUE(table.AddRow({"Ankle boot", FormatFixed(NAN, 3), "998"}).ok());
  return table;
}

TEST(ReportTextTableTest, PlainLayout) {
  EXPECT_EQ(MetricsTable().Render(false),
            "Per-class metrics\n"
            "class        precision  support\n"
            "-----------  ---------  -------\n"
            "T-shirt/top      0.812     1000\n"
            "Bag              0.975     1000\n"
            "Ankle boot         n/a      998\n");
}

TEST(ReportTextTableTest, ColourMakesTitleAndHeaderBoldAndHighlightsCells) {
  TextTable table = MetricsTable();
  ASSERT_TRUE(table.Highlight(1, 1).ok());
  EXPECT_EQ(table.Render(true),
            "\x1b[1mPer-class metrics\x1b[0m\n"
            "\x1b[1mclass\x1b[0m        \x1b[1mprecision\x1b[0m  \x1b[1msupport\x1b[0m\n"
            "-----------  ---------  -------\n"
            "T-shirt/top      0.812     1000\n"
            "Bag              \x1b[1;32m0.975\x1b[0m     1000\n"
            "Ankle boot         n/a      998\n");
  // Without colour, a highlight changes nothing.
  EXPECT_EQ(table.Render(false), MetricsTable().Render(false));
}

TEST(ReportTextTableTest, WidthsCountCodePointsNotBytes) {
  TextTable table({{"name"}, {"note", Align::kLeft}});
  ASSERT_TRUE(table.AddRow({"Café", "naïve"}).ok());
  ASSERT_TRUE(table.AddRow({"Tea", "x"}).ok());
  EXPECT_EQ(table.Render(false),
            "name  note\n"
            "----  -----\n"
            "Café  naïve\n"
            "Tea   x\n");
}

TEST(ReportTextTableTest, AutoAlignmentRightAlignsOnlyNumericColumns) {
  TextTable table({{"run"}, {"loss"}, {"state"}, {"left", Align::kLeft}});
  ASSERT_TRUE(table.AddRow({"a1", "0.5", "finished", "7"}).ok());
  ASSERT_TRUE(table.AddRow({"b22", "12.25", "crashed", "10"}).ok());
  ASSERT_TRUE(table.AddRow({"c", "", "running", "1"}).ok());
  EXPECT_EQ(table.Render(false),
            "run   loss  state     left\n"
            "---  -----  --------  ----\n"
            "a1     0.5  finished  7\n"
            "b22  12.25  crashed   10\n"
            "c           running   1\n");
}

TEST(ReportTextTableTest, EmptyTableHasHeaderAndRule) {
  TextTable table({{"key"}, {"value"}});
  EXPECT_EQ(table.Render(false), "key  value\n---  -----\n");
  EXPECT_EQ(table.row_count(), 0u);
}

TEST(ReportTextTableTest, RejectsRowsOfTheWrongWidthAndMissingCells) {
  TextTable table({{"a"}, {"b"}});
  Status short_row = table.AddRow({"only one"});
  EXPECT_EQ(short_row.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(short_row.message().find("1 cells for 2 columns"), std::string::npos);
  EXPECT_EQ(table.row_count(), 0u);
  ASSERT_TRUE(table.AddRow({"x", "y"}).ok());
  EXPECT_EQ(table.Highlight(1, 0).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(table.Highlight(0, 2).code(), ErrorCode::kInvalidArgument);
}

TEST(ReportLooksNumericTest, NumbersAndTheirSpellings) {
  for (const char* text : {"0", "-3", "+2.5", "0.913", "1,024", "12.5%", "1e-5", "3E+08", "n/a",
                           "nan", "inf", "-inf", "", ".5"}) {
    EXPECT_TRUE(LooksNumeric(text)) << text;
  }
  for (const char* text : {"abc", "1.2.3", "1e", "-", "%", "12 apples", "v2", ",5"}) {
    EXPECT_FALSE(LooksNumeric(text)) << text;
  }
}

TEST(ReportCodePointCountTest, CountsUtf8Sequences) {
  EXPECT_EQ(CodePointCount(""), 0u);
  EXPECT_EQ(CodePointCount("abc"), 3u);
  EXPECT_EQ(CodePointCount("naïve"), 5u);
  EXPECT_EQ(CodePointCount("\u2026"), 1u);
  EXPECT_EQ(CodePointCount("\U0001F600x"), 2u);
}

TEST(ReportWantsColourTest, TerminalWithoutOptOut) {
  EXPECT_TRUE(WantsColour(true, "xterm-256color", nullptr));
  EXPECT_TRUE(WantsColour(true, nullptr, nullptr));
  EXPECT_TRUE(WantsColour(true, "xterm", ""));  // an empty NO_COLOR does not count
  EXPECT_FALSE(WantsColour(false, "xterm", nullptr));
  EXPECT_FALSE(WantsColour(true, "dumb", nullptr));
  EXPECT_FALSE(WantsColour(true, "xterm", "1"));
}

TEST(ReportFormatFixedTest, DecimalsNanInfinityAndNegativeZero) {
  EXPECT_EQ(FormatFixed(0.91349, 3), "0.913");
  EXPECT_EQ(FormatFixed(2.5, 0), "2");  // round half to even, as printf does
  EXPECT_EQ(FormatFixed(1234.5678, 2), "1234.57");
  EXPECT_EQ(FormatFixed(-0.0001, 3), "0.000");
  EXPECT_EQ(FormatFixed(-0.25, 2), "-0.25");
  EXPECT_EQ(FormatFixed(std::numeric_limits<double>::quiet_NaN(), 3), "n/a");
  EXPECT_EQ(FormatFixed(std::numeric_limits<double>::infinity(), 3), "inf");
  EXPECT_EQ(FormatFixed(-std::numeric_limits<double>::infinity(), 3), "-inf");
  EXPECT_EQ(FormatFixed(3.14159, -2), "3");
  EXPECT_EQ(FormatFixed(1e300, 1).size(), 303u);
}

}  // namespace
}  // namespace labbook::report
