// The filter language of `labbook runs list --filter` and the sort keys of `--sort`: parsing,
// evaluation over runs, and the columns and expectations its errors name.
#include "track/filter.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace labbook::track {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

RunInfo SampleRun() {
  RunInfo run;
  run.id = "a1b2c3d4";
  run.entity = "lab";
  run.project = "mnist";
  run.name = "adam-baseline";
  run.group = "sweep-1";
  run.tags = {"baseline", "cnn"};
  run.notes = "first try";
  run.state = RunState::kFinished;
  run.config = {{"optimizer", {{"name", "adam"}, {"lr", 0.001}}},
                {"epochs", 10},
                {"augment", true},
                {"dropout", nullptr},
                {"layers", {{{"units", 64}}, {{"units", 128}}}},
                {"data.dir", "/data"},
                {"batch size", 32}};
  run.summary = {{"test/accuracy", 0.93}, {"loss", 0.21}, {"val_loss", 0.25}, {"nan_seen", false}};
  run.host = "gpu-1";
  run.pid = 4242;
  run.git_commit = "deadbeef";
  run.start_time = 1714521600;  // 2024-05-01T00:00:00Z
  run.heartbeat_time = 1714521700;
  run.end_time = 1714521720;
  run.exit_code = 0;
  return run;
}

bool Matches(const std::string& expression, const RunInfo& run) {
  Result<RunFilter> filter = RunFilter::Compile(expression);
  EXPECT_TRUE(filter.ok()) << expression << ": " << filter.status().ToString();
  return filter.ok() && filter->Matches(run);
}

// The message of a filter that must not compile.
std::string ErrorOf(const std::string& expression) {
  Result<RunFilter> filter = RunFilter::Compile(expression);
  EXPECT_FALSE(filter.ok()) << expression << " compiled";
  if (filter.ok()) return "";
  EXPECT_EQ(filter.status().code(), ErrorCode::kInvalidArgument);
  return filter.status().message();
}

TEST(RunFilterTest, ConfigAndSummaryConditions) {
  RunInfo run = SampleRun();
  EXPECT_TRUE(Matches("config.optimizer.name = 'adam' and summary.test.accuracy > 0.9", run));
  EXPECT_FALSE(Matches("config.optimizer.name = 'sgd' and summary.test.accuracy > 0.9", run));
  EXPECT_FALSE(Matches("config.optimizer.name = 'adam' and summary.test.accuracy > 0.95", run));
}

TEST(RunFilterTest, NumberOperators) {
  RunInfo run = SampleRun();
  EXPECT_TRUE(Matches("config.epochs = 10", run));
  EXPECT_TRUE(Matches("config.epochs == 10.0", run));
  EXPECT_TRUE(Matches("config.epochs != 11", run));
  EXPECT_TRUE(Matches("config.epochs < 11", run));
  EXPECT_FALSE(Matches("config.epochs < 10", run));
  EXPECT_TRUE(Matches("config.epochs <= 10", run));
  EXPECT_TRUE(Matches("config.epochs > 9.5", run));
  EXPECT_FALSE(Matches("config.epochs > 10", run));
  EXPECT_TRUE(Matches("config.epochs >= 10", run));
  EXPECT_TRUE(Matches("config.optimizer.lr < 1e-2", run));
  EXPECT_TRUE(Matches("config.optimizer.lr > -.5", run));
  EXPECT_TRUE(Matches("config.optimizer.lr = +0.001", run));
  EXPECT_TRUE(Matches("config.optimizer.lr>=0.001 and config.epochs<=10", run));
}

TEST(RunFilterTest, StringOperatorsAndQuotes) {
  RunInfo run = SampleRun();
  EXPECT_TRUE(Matches("name = \"adam-baseline\"", run));
  EXPECT_TRUE(Matches("name != 'other'", run));
  EXPECT_TRUE(Matches("name < 'b'", run));
  EXPECT_TRUE(Matches("name >= 'adam'", run));
  EXPECT_TRUE(Matches("notes = 'first try'", run));
  run.name = "it's \"quoted\"";
  EXPECT_TRUE(Matches(R"(name = 'it\'s "quoted"')", run));
  EXPECT_TRUE(Matches(R"(name = "it's \"quoted\"")", run));
}

TEST(RunFilterTest, MissingFieldsMakeEveryComparisonFalse) {
  RunInfo run = SampleRun();
  for (const char* op : {"=", "!=", "<", "<=", ">", ">=", "contains"}) {
    EXPECT_FALSE(Matches(std::string("config.momentum ") + op + " 0.9", run)) << op;
    EXPECT_FALSE(Matches(std::string("summary.nothing.here ") + op + " 'x'", run)) << op;
  }
  EXPECT_TRUE(Matches("not config.momentum = 0.9", run));
  EXPECT_TRUE(Matches("not (config.momentum != 0.9)", run));
}

TEST(RunFilterTest, TypeMismatchesAreFalseNotErrors) {
  RunInfo run = SampleRun();
  EXPECT_FALSE(Matches("config.epochs = '10'", run));
  EXPECT_FALSE(Matches("config.epochs != '10'", run));
  EXPECT_FALSE(Matches("config.optimizer.name > 3", run));
  EXPECT_FALSE(Matches("config.augment = 1", run));
  EXPECT_FALSE(Matches("config.optimizer < 1", run));
  EXPECT_FALSE(Matches("tags = 'baseline'", run));
}

TEST(RunFilterTest, BooleansCompareByEqualityOnly) {
  RunInfo run = SampleRun();
  EXPECT_TRUE(Matches("config.augment = true", run));
  EXPECT_TRUE(Matches("config.augment != false", run));
  EXPECT_FALSE(Matches("config.augment > false", run));
  EXPECT_TRUE(Matches("summary.nan_seen = FALSE", run));
}

TEST(RunFilterTest, NullTestsPresence) {
  RunInfo run = SampleRun();
  EXPECT_TRUE(Matches("config.momentum = null", run));
  EXPECT_FALSE(Matches("config.momentum != null", run));
  EXPECT_TRUE(Matches("config.dropout = null", run));  // present but null
  EXPECT_FALSE(Matches("config.dropout != null", run));
  EXPECT_TRUE(Matches("config.epochs != null", run));
  EXPECT_FALSE(Matches("config.epochs = null", run));
  EXPECT_TRUE(Matches("null = config.momentum", run));
  EXPECT_FALSE(Matches("config.epochs < null", run));
  EXPECT_FALSE(Matches("config.dropout = 0", run));
  EXPECT_TRUE(Matches("exit_code != null", run));
  run.exit_code.reset();
  EXPECT_TRUE(Matches("exit_code = null", run));
}

TEST(RunFilterTest, Contains) {
  RunInfo run = SampleRun();
  EXPECT_TRUE(Matches("tags contains 'baseline'", run));
  EXPECT_FALSE(Matches("tags contains 'base'", run));
  EXPECT_TRUE(Matches("name contains 'base'", run));
  EXPECT_FALSE(Matches("name contains 'Base'", run));
  EXPECT_TRUE(Matches("config contains 'epochs'", run));
  EXPECT_TRUE(Matches("config.optimizer contains 'lr'", run));
  EXPECT_FALSE(Matches("config.optimizer contains 'momentum'", run));
  EXPECT_TRUE(Matches("summary CONTAINS 'test/accuracy'", run));
  run.config["seeds"] = {1, 2, 3};
  EXPECT_TRUE(Matches("config.seeds contains 2", run));
  EXPECT_TRUE(Matches("config.seeds contains 2.0", run));
  EXPECT_FALSE(Matches("config.seeds contains '2'", run));
  EXPECT_FALSE(Matches("config.epochs contains 1", run));
  EXPECT_FALSE(Matches("config.seeds contains null", run));
}

TEST(RunFilterTest, PrecedenceNotAndOr) {
  RunInfo run = SampleRun();
  // and binds tighter than or: true or (false and false).
  EXPECT_TRUE(Matches("config.epochs = 10 or config.epochs = 1 and name = 'x'", run));
  EXPECT_FALSE(Matches("(config.epochs = 10 or config.epochs = 1) and name = 'x'", run));
  // not binds tighter than and: (not false) and true.
  EXPECT_TRUE(Matches("not name = 'x' and config.epochs = 10", run));
  EXPECT_FALSE(Matches("not (name = 'x' or config.epochs = 10)", run));
  EXPECT_TRUE(Matches("not not config.epochs = 10", run));
  EXPECT_TRUE(Matches("((config.epochs = 10))", run));
  EXPECT_TRUE(Matches("NOT name = 'x' AnD config.epochs = 10 OR false", run));
}

TEST(RunFilterTest, LoneOperandsHoldWhenBooleanTrue) {
  RunInfo run = SampleRun();
  EXPECT_TRUE(Matches("config.augment", run));
  EXPECT_FALSE(Matches("not config.augment", run));
  EXPECT_FALSE(Matches("config.epochs", run));  // a number is not a condition
  EXPECT_FALSE(Matches("config.momentum", run));
  EXPECT_TRUE(Matches("true", run));
  EXPECT_FALSE(Matches("false or (config.augment and false)", run));
}

TEST(RunFilterTest, PathsFindNestedFlatAndDottedKeys) {
  RunInfo run = SampleRun();
  EXPECT_TRUE(Matches("summary.test.accuracy = 0.93", run));
  EXPECT_TRUE(Matches("summary.test/accuracy = 0.93", run));
  EXPECT_TRUE(Matches("config.data.dir = '/data'", run));
  EXPECT_TRUE(Matches("config.`data.dir` = '/data'", run));
  EXPECT_TRUE(Matches("config.`batch size` = 32", run));
  EXPECT_TRUE(Matches("config.layers.1.units = 128", run));
  EXPECT_FALSE(Matches("config.layers.2.units = 128", run));
  EXPECT_FALSE(Matches("config.layers.x.units = 128", run));
  // A nested object wins only where the flat key is absent, and both are searched.
  run.summary["test"] = {{"loss", 0.3}};
  EXPECT_TRUE(Matches("summary.test.accuracy = 0.93", run));
  EXPECT_TRUE(Matches("summary.test.loss = 0.3", run));
}

TEST(RunFilterTest, RunAttributes) {
  RunInfo run = SampleRun();
  EXPECT_TRUE(Matches("id = 'a1b2c3d4'", run));
  EXPECT_TRUE(Matches("state = 'finished'", run));
  EXPECT_TRUE(Matches("state != 'running'", run));
  EXPECT_TRUE(Matches("project = 'mnist' and entity = 'lab'", run));
  EXPECT_TRUE(Matches("group = 'sweep-1'", run));
  EXPECT_TRUE(Matches("host = 'gpu-1' and pid = 4242", run));
  EXPECT_TRUE(Matches("git_commit = 'deadbeef'", run));
  EXPECT_TRUE(Matches("exit_code = 0", run));
  EXPECT_TRUE(Matches("duration = 120", run));
  run.end_time = 0;
  EXPECT_TRUE(Matches("duration = 100", run));  // up to the last heartbeat
  EXPECT_TRUE(Matches("end_time = null", run));
  run.heartbeat_time = 0;
  EXPECT_TRUE(Matches("duration = null", run));
  run.group.clear();
  EXPECT_TRUE(Matches("group = ''", run));
}

TEST(RunFilterTest, TimesCompareWithDates) {
  RunInfo run = SampleRun();
  EXPECT_TRUE(Matches("start_time = '2024-05-01'", run));
  EXPECT_TRUE(Matches("start_time >= '2024-05-01T00:00:00Z'", run));
  EXPECT_FALSE(Matches("start_time > '2024-05-01T00:00'", run));
  EXPECT_TRUE(Matches("start_time < '2024-05-01 00:00:00.5'", run));
  EXPECT_TRUE(Matches("end_time < '2024-05-02'", run));
  EXPECT_TRUE(Matches("'2024-04-30' < start_time", run));
  EXPECT_TRUE(Matches("start_time = 1714521600", run));
  run.start_time = 1714566615;  // 2024-05-01T12:30:15Z
  EXPECT_TRUE(Matches("start_time = '2024-05-01T12:30:15Z'", run));
  EXPECT_THAT(ErrorOf("start_time > 'yesterday'"),
              HasSubstr("column 14: expected a date such as '2024-05-01'"));
  EXPECT_THAT(ErrorOf("start_time > '2024-02-30'"), HasSubstr("found '2024-02-30'"));
  EXPECT_THAT(ErrorOf("end_time < '2024-05-01T25:00'"), StartsWith("column 12: expected a date"));
}

TEST(RunFilterTest, FieldsCompareWithFields) {
  RunInfo run = SampleRun();
  EXPECT_TRUE(Matches("summary.loss < summary.val_loss", run));
  EXPECT_FALSE(Matches("summary.loss > summary.val_loss", run));
  EXPECT_FALSE(Matches("summary.missing = summary.also_missing", run));
  EXPECT_TRUE(Matches("config.optimizer = config.optimizer", run));
}

TEST(RunFilterTest, ErrorsNameTheColumnAndTheExpectation) {
  EXPECT_EQ(ErrorOf("config.optimizer.name = 'adam' and summary.test.accuracy >"),
            "column 59: expected a value after '>', found the end of the filter");
  EXPECT_EQ(ErrorOf("config.optimizer.name = 'adam' and summary.test.accuracy > and"),
            "column 60: expected a value after '>', found 'and'");
  EXPECT_EQ(ErrorOf(""),
            "column 1: expected a condition such as summary.accuracy > 0.9, found an empty "
            "filter");
  EXPECT_EQ(ErrorOf("   "),
            "column 4: expected a condition such as summary.accuracy > 0.9, found an empty "
            "filter");
  EXPECT_EQ(ErrorOf("state = 'running' and"),
            "column 22: expected a condition after 'and', found the end of the filter");
  EXPECT_EQ(ErrorOf("state = 'running' or )"),
            "column 22: expected a condition after 'or', found ')'");
  EXPECT_EQ(ErrorOf("not"),
            "column 4: expected a condition after 'not', found the end of the "
            "filter");
  EXPECT_EQ(ErrorOf("()"), "column 2: expected a condition after '(', found ')'");
  EXPECT_EQ(ErrorOf("(state = 'running'"),
            "column 19: expected 'and', 'or' or ')' to close the '(' at column 1, found the end "
            "of the filter");
  EXPECT_EQ(ErrorOf("state = 'running')"), "column 18: found ')' without a matching '('");
  EXPECT_EQ(ErrorOf("config.lr 0.1"),
            "column 11: expected an operator (=, !=, <, <=, >, >=, contains) after "
            "'config.lr', found '0.1'");
  EXPECT_EQ(ErrorOf("'adam'"),
            "column 7: expected an operator (=, !=, <, <=, >, >=, contains) after 'adam', found "
            "the end of the filter");
  EXPECT_EQ(ErrorOf("config.lr < 0.1 < 1"),
            "column 17: expected 'and', 'or' or the end of the filter, found '<'");
  EXPECT_EQ(ErrorOf("config.lr ! 3"),
            "column 11: expected '!=' after '!' (negate a condition with 'not')");
  EXPECT_EQ(ErrorOf("name = 'abc"),
            "column 8: expected a closing ' for the string that starts here, found the end of "
            "the filter");
  EXPECT_EQ(ErrorOf("config.lr < 1e"),
            "column 13: expected a number such as 42, -0.5 or 1e-3, found '1e'");
  EXPECT_EQ(ErrorOf("config.lr < 3x"),
            "column 13: expected a number such as 42, -0.5 or 1e-3, found '3x'");
  EXPECT_EQ(ErrorOf("config.lr < 0.1and true"),
            "column 13: expected a number such as 42, -0.5 or 1e-3, found '0.1and'");
  EXPECT_EQ(ErrorOf("config. = 1"), "column 7: expected a key after 'config.'");
  EXPECT_EQ(ErrorOf("config.`a b = 1"),
            "column 8: expected a closing ` for the key that starts here, found the end of the "
            "filter");
  EXPECT_EQ(ErrorOf("config.lr # 3"),
            "column 11: unexpected character '#'; expected a field, a value, an operator, "
            "'and', 'or', 'not' or a parenthesis");
  EXPECT_EQ(ErrorOf("state = 'finshed'"),
            "column 9: expected a run state (running, finished, failed, crashed), found "
            "'finshed'");
}

TEST(RunFilterTest, UnknownFieldsAreErrorsWithTheFieldsKnown) {
  std::string message = ErrorOf("state = 'running' and nmae = 'x'");
  EXPECT_THAT(message, StartsWith("column 23: unknown field 'nmae'; expected config.<path>, "
                                  "summary.<path> or one of id, name, state,"));
  EXPECT_THAT(message, HasSubstr("tags"));
  EXPECT_THAT(ErrorOf("state.x = 1"),
              StartsWith("column 1: field 'state.x': the run attribute 'state' has no keys"));
  EXPECT_THAT(ErrorOf("Config.lr = 1"), HasSubstr("unknown field 'Config'"));
}

TEST(RunFilterTest, ColumnsCountCharactersNotBytes) {
  EXPECT_EQ(ErrorOf("name = 'é' and"),
            "column 15: expected a condition after 'and', found the end of the filter");
  RunInfo run = SampleRun();
  run.name = "café";
  EXPECT_TRUE(Matches("name = 'café'", run));
  run.summary["ñ"] = 1;
  EXPECT_TRUE(Matches("summary.ñ = 1", run));
}

TEST(RunFilterTest, DeepNestingIsAnErrorNotACrash) {
  std::string open(1000, '(');
  EXPECT_THAT(ErrorOf(open + "true" + std::string(1000, ')')),
              HasSubstr("expected at most 100 nested 'not' and '('"));
  std::string nots;
  for (int i = 0; i < 1000; ++i) nots += "not ";
  EXPECT_THAT(ErrorOf(nots + "true"), HasSubstr("nested"));
  std::string ok = std::string(50, '(') + "config.epochs = 10" + std::string(50, ')');
  EXPECT_TRUE(Matches(ok, SampleRun()));
}

TEST(RunFilterTest, CopiesShareTheCompiledExpression) {
  Result<RunFilter> filter = RunFilter::Compile("tags contains 'cnn'");
  ASSERT_TRUE(filter.ok());
  RunFilter copy = *filter;
  EXPECT_EQ(copy.expression(), "tags contains 'cnn'");
  EXPECT_TRUE(copy.Matches(SampleRun()));
  RunInfo other = SampleRun();
  other.tags.clear();
  EXPECT_FALSE(copy.Matches(other));
}

TEST(RunFieldTest, FindsValuesAndReportsMissingOnes) {
  RunInfo run = SampleRun();
  nlohmann::json scratch;
  Result<RunField> field = RunField::Parse("summary.test.accuracy");
  ASSERT_TRUE(field.ok());
  const nlohmann::json* value = field->Find(run, scratch);
  ASSERT_NE(value, nullptr);
  EXPECT_EQ(*value, 0.93);
  Result<RunField> state = RunField::Parse("state");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(*state->Find(run, scratch), "finished");
  Result<RunField> whole = RunField::Parse("config");
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->Find(run, scratch), &run.config);
  Result<RunField> missing = RunField::Parse("config.nothing");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->Find(run, scratch), nullptr);
  EXPECT_TRUE(RunField::Parse("start_time")->is_time());
  EXPECT_FALSE(RunField::Parse("duration")->is_time());
}

TEST(RunFieldTest, ParseErrors) {
  EXPECT_THAT(RunField::Parse("").status().message(), HasSubstr("expected a field name"));
  EXPECT_THAT(RunField::Parse("config.").status().message(),
              HasSubstr("expected a key after the last '.'"));
  EXPECT_THAT(RunField::Parse("config..lr").status().message(),
              HasSubstr("expected a key after '.' at character 8"));
  EXPECT_THAT(RunField::Parse("config.a b").status().message(),
              HasSubstr("unexpected ' ' at character 9"));
  EXPECT_THAT(RunField::Parse("config.`a").status().message(), HasSubstr("is not closed"));
  EXPECT_THAT(RunField::Parse("accuracy").status().message(),
              HasSubstr("unknown field 'accuracy'; expected config.<path>, summary.<path>"));
  EXPECT_EQ(RunField::Parse("accuracy").status().code(), ErrorCode::kInvalidArgument);
}

std::vector<std::string> Ids(const std::vector<RunInfo>& runs) {
  std::vector<std::string> ids;
  for (const RunInfo& run : runs) ids.push_back(run.id);
  return ids;
}

std::vector<RunInfo> RunsForSorting() {
  std::vector<RunInfo> runs(5);
  const char* ids[] = {"r1", "r2", "r3", "r4", "r5"};
  for (int i = 0; i < 5; ++i) runs[i].id = ids[i];
  runs[0].summary["accuracy"] = 0.8;
  runs[1].summary["accuracy"] = 0.9;
  runs[2].summary["accuracy"] = "n/a";  // a string sorts after every number
  // runs[3] has none: last in either direction.
  runs[4].summary["accuracy"] = 0.8;  // equal to r1: stays after it
  runs[0].name = "beta";
  runs[1].name = "alpha";
  runs[2].name = "gamma";
  runs[3].name = "alpha";
  runs[4].name = "delta";
  return runs;
}

TEST(RunSortTest, AscendingAndDescendingKeepMissingValuesLast) {
  std::vector<RunInfo> runs = RunsForSorting();
  Result<RunSortKey> up = RunSortKey::Parse("summary.accuracy");
  ASSERT_TRUE(up.ok());
  EXPECT_FALSE(up->descending);
  SortRuns(runs, *up);
  EXPECT_THAT(Ids(runs), ElementsAre("r1", "r5", "r2", "r3", "r4"));

  runs = RunsForSorting();
  Result<RunSortKey> down = RunSortKey::Parse("-summary.accuracy");
  ASSERT_TRUE(down.ok());
  EXPECT_TRUE(down->descending);
  EXPECT_EQ(down->field.name(), "summary.accuracy");
  SortRuns(runs, *down);
  EXPECT_THAT(Ids(runs), ElementsAre("r2", "r1", "r5", "r3", "r4"));
}

TEST(RunSortTest, SortsByAttributesStably) {
  std::vector<RunInfo> runs = RunsForSorting();
  Result<RunSortKey> key = RunSortKey::Parse("+name");
  ASSERT_TRUE(key.ok());
  SortRuns(runs, *key);
  EXPECT_THAT(Ids(runs), ElementsAre("r2", "r4", "r1", "r5", "r3"));
}

TEST(RunSortTest, BadKeysAreInvalidArguments) {
  EXPECT_THAT(RunSortKey::Parse("-").status().message(), HasSubstr("expected a field to sort by"));
  EXPECT_THAT(RunSortKey::Parse("").status().message(), HasSubstr("expected a field to sort by"));
  EXPECT_THAT(RunSortKey::Parse("-acc").status().message(), HasSubstr("unknown field 'acc'"));
}

TEST(RunSortTest, NanSortsWithTheMissing) {
  std::vector<RunInfo> runs(2);
  runs[0].id = "nan";
  runs[0].summary["loss"] = std::numeric_limits<double>::quiet_NaN();
  runs[1].id = "one";
  runs[1].summary["loss"] = 1.0;
  SortRuns(runs, *RunSortKey::Parse("summary.loss"));
  EXPECT_THAT(Ids(runs), ElementsAre("one", "nan"));
}

}  // namespace
}  // namespace labbook::track
