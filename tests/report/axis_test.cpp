#include "report/axis.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace labbook::report {
namespace {

using ::testing::ElementsAre;

TEST(ReportNiceStepTest, PicksOneTwoOrFiveTimesAPowerOfTen) {
  EXPECT_DOUBLE_EQ(NiceStep(1, 5), 0.2);
  EXPECT_DOUBLE_EQ(NiceStep(7, 5), 1);
  EXPECT_DOUBLE_EQ(NiceStep(60000, 6), 10000);
  EXPECT_DOUBLE_EQ(NiceStep(0.003, 5), 0.0005);
  EXPECT_DOUBLE_EQ(NiceStep(0, 5), 1);  // an empty range still gets a usable step
}

TEST(ReportLinearAxisTest, FixedEndsKeepTheRangeWithTicksInside) {
  Axis axis = LinearAxis(0, 1, 5, false, false);
  EXPECT_EQ(axis.lo, 0);
  EXPECT_EQ(axis.hi, 1);
  EXPECT_THAT(axis.ticks.labels, ElementsAre("0.0", "0.2", "0.4", "0.6", "0.8", "1.0"));
}

TEST(ReportLinearAxisTest, WidenedEndsMoveOutToRoundTicks) {
  Axis axis = LinearAxis(0.13, 0.87, 5, true, true);
  EXPECT_NEAR(axis.lo, 0.1, 1e-12);
  EXPECT_NEAR(axis.hi, 0.9, 1e-12);
  EXPECT_NEAR(axis.ticks.values.front(), axis.lo, 1e-12);
  EXPECT_NEAR(axis.ticks.values.back(), axis.hi, 1e-12);
}

TEST(ReportLinearAxisTest, NegativeRangesHaveNoMinusZero) {
  Axis axis = LinearAxis(-1, 1, 4, true, true);
  EXPECT_THAT(axis.ticks.labels, ElementsAre("-1.0", "-0.5", "0.0", "0.5", "1.0"));
}

TEST(ReportLinearAxisTest, LargeValuesUseSuffixes) {
  EXPECT_THAT(LinearAxis(0, 4e6, 4, true, true).ticks.labels,
              ElementsAre("0", "1M", "2M", "3M", "4M"));
  EXPECT_THAT(LinearAxis(0, 25000, 5, true, true).ticks.labels,
              ElementsAre("0", "5k", "10k", "15k", "20k", "25k"));
  EXPECT_THAT(LinearAxis(0, 1000, 5, true, true).ticks.labels,
              ElementsAre("0", "200", "400", "600", "800", "1000"));
}

TEST(ReportLinearAxisTest, LabelsAreDistinctForManyRanges) {
  for (double hi : {0.001, 0.37, 1.0, 3.3, 17.0, 123.0, 9999.0, 12345.0, 2.5e7}) {
    Axis axis = LinearAxis(0, hi, 7, true, true);
    std::set<std::string> unique(axis.ticks.labels.begin(), axis.ticks.labels.end());
    EXPECT_EQ(unique.size(), axis.ticks.labels.size()) << "hi = " << hi;
    EXPECT_GE(axis.ticks.values.size(), 3u) << "hi = " << hi;
  }
}

TEST(ReportLinearAxisTest, DegenerateRangesBecomeUsable) {
  Axis same = LinearAxis(5, 5, 5, true, true);
  EXPECT_LT(same.lo, 5);
  EXPECT_GT(same.hi, 5);
  Axis broken = LinearAxis(NAN, 1, 5, true, true);
  EXPECT_EQ(broken.lo, 0);
  EXPECT_EQ(broken.hi, 1);
}

TEST(ReportLogAxisTest, TicksOnPowersOfTen) {
  Axis axis = LogAxis(3, 2.5e6);
  EXPECT_TRUE(axis.log);
  EXPECT_DOUBLE_EQ(axis.lo, 1);
  EXPECT_DOUBLE_EQ(axis.hi, 1e7);
  EXPECT_THAT(axis.ticks.labels, ElementsAre("1", "10", "100", "1k", "10k", "100k", "1M", "10M"));
  EXPECT_THAT(LogAxis(0.002, 0.5).ticks.labels, ElementsAre("0.001", "0.01", "0.1", "1"));
}

TEST(ReportLogAxisTest, ManyDecadesThinOut) {
  Axis axis = LogAxis(1e-12, 1e12);
  EXPECT_LE(axis.ticks.values.size(), 9u);
  EXPECT_EQ(axis.ticks.labels.front(), "1e-12");
}

TEST(ReportScaleTest, MapsEndsAndMiddles) {
  Axis linear = LinearAxis(0, 10, 5, false, false);
  Scale y(linear, 100, 0);  // y axes grow upwards
  EXPECT_DOUBLE_EQ(y(0), 100);
  EXPECT_DOUBLE_EQ(y(10), 0);
  EXPECT_DOUBLE_EQ(y(2.5), 75);

  Scale log(LogAxis(1, 100), 0, 200);
  EXPECT_DOUBLE_EQ(log(10), 100);
  EXPECT_DOUBLE_EQ(log(0), 0);  // zero sits on the bottom of a log axis
}

}  // namespace
}  // namespace labbook::report
