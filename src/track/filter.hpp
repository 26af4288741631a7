// Which runs to show and in what order: the filter expressions of `labbook runs list --filter`
// and the sort keys of `--sort`, over the fields of a RunInfo.
//
// Fields:
//   config.<path>, summary.<path>   a value inside the run's config or summary; `config` and
//                                   `summary` alone name the whole object
//   id name state project entity group tags notes host pid git_commit
//   start_time heartbeat_time end_time duration exit_code
// A path's dots walk nested objects (and arrays, by index); a key that itself holds dots or
// slashes is found too, so `summary.test.accuracy` names {"test": {"accuracy": ..}} as well as
// the flat key "test/accuracy" or "test.accuracy". A key with other characters is written in
// backquotes: config.`batch size`. `duration` is end_time - start_time, or for a run without an
// end heartbeat_time - start_time; times are Unix seconds, and a time field compared with a date
// literal ('2024-05-01', '2024-05-01T12:30:00Z', UTC) compares with that instant.
//
// Grammar (keywords in any case):
//   filter     := or
//   or         := and ('or' and)*
//   and        := unary ('and' unary)*
//   unary      := 'not' unary | '(' or ')' | comparison
//   comparison := operand [op operand]         a lone operand holds when it is boolean true
//   op         := '=' | '==' | '!=' | '<' | '<=' | '>' | '>=' | 'contains'
//   operand    := field | 'single' or "double" quoted string | number | true | false | null
// A backslash in a string takes the next character as it is (\' \" \\). Nesting of 'not' and
// parentheses stops at 100 levels. `state` compared with a name that is no state is an error.
//
// Semantics: numbers compare with numbers and strings with strings (byte order); booleans,
// arrays and objects only with = and !=. A comparison whose field is missing, or whose two sides
// have different types, is false, whatever the operator: `config.opt != 'adam'` does not hold
// for a run without config.opt (`not config.opt = 'adam'` does). `= null` holds for a missing
// or null field and `!= null` for a present one. `contains` holds for a string containing the
// other string, an array with an element equal to the value, or an object with that key.
//
// RunFilter, RunField and RunSortKey are immutable values once built: safe to share between
// threads.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "labbook/status.hpp"
#include "track/store.hpp"

namespace labbook::track {

// The run attributes a filter or sort key can name, comma-separated, for help texts and errors.
std::string RunAttributeNames();

// A field of a run, resolved by name once and then read from any number of runs.
class RunField {
 public:
  // kInvalidArgument for an unknown attribute or a malformed path; the message names it and
  // lists the fields known.
  [[nodiscard]] static Result<RunField> Parse(std::string_view name);

  // The field's value in `run`, or nullptr when the run has none. Attribute values are built in
  // `scratch`; config and summary values point into `run`. Either way the pointer lives as long
  // as both.
  const nlohmann::json* Find(const RunInfo& run, nlohmann::json& scratch) const;

  const std::string& name() const { return name_; }
  // start_time, heartbeat_time or end_time: compared with a date literal as that instant.
  bool is_time() const;

 private:
  enum class Source { kConfig, kSummary, kAttribute };
  RunField(std::string name, Source source, int attribute, std::vector<std::string> path)
      : name_(std::move(name)), source_(source), attribute_(attribute), path_(std::move(path)) {}

  std::string name_;  // as written
  Source source_ = Source::kAttribute;
  int attribute_ = 0;              // kAttribute: index into the table of attributes
  std::vector<std::string> path_;  // kConfig, kSummary: the keys inside
};

// A compiled filter expression (grammar and semantics above).
class RunFilter {
 public:
  // kInvalidArgument for a syntax error or an unknown field: "column N: expected X after Y,
  // found Z" (columns count characters from 1).
  [[nodiscard]] static Result<RunFilter> Compile(std::string_view expression);

  bool Matches(const RunInfo& run) const;

  const std::string& expression() const { return expression_; }

  struct Node;

 private:
  RunFilter(std::string expression, std::shared_ptr<const Node> root)
      : expression_(std::move(expression)), root_(std::move(root)) {}

  std::string expression_;
  std::shared_ptr<const Node> root_;
};

// `--sort KEY` or `--sort -KEY`: a field, ascending unless prefixed by '-'.
struct RunSortKey {
  [[nodiscard]] static Result<RunSortKey> Parse(std::string_view spec);

  RunField field;
  bool descending = false;
};

// Sorts stably by `key`. Numbers come before strings, and runs without the field (or with a
// boolean, array or object there) come last in either direction.
void SortRuns(std::vector<RunInfo>& runs, const RunSortKey& key);

}  // namespace labbook::track
