// The directives of a report spec: fenced code blocks whose info string is `labbook NAME`, with
// one `key: value` option a line inside. Internal to the report document component.
//
//   ```labbook runs
//   filter: config.optimizer.name = 'adam'
//   sort: -summary.test.accuracy
//   ```
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labbook/status.hpp"

namespace labbook::report::document {

struct DirectiveOption {
  std::string key;
  std::string value;  // the rest of the line after "key:", trimmed; never empty
  int line = 0;
};

struct Directive {
  std::string name;  // "runs", as written after "labbook"
  int line = 0;      // of the opening fence
  std::vector<DirectiveOption> options;

  // The option named `key`, or nullptr.
  const DirectiveOption* Find(std::string_view key) const;
};

// Whether a fenced code block's info string makes it a directive: its first word is "labbook".
bool IsDirectiveInfo(std::string_view info);

// Parses a directive from its fence's info string and its body (the block's text, lines ended by
// '\n'); the fence is on line `line` of `spec_name`, the body starts on the next line. Blank
// lines and lines starting with '#' are skipped. InvalidArgument "<spec>:<line>: ..." for a
// missing name, words after the name, a line that is not `key: value`, an empty value or a key
// given twice. The name itself is checked by the caller, which knows the directives.
[[nodiscard]] Result<Directive> ParseDirective(std::string_view info, std::string_view body,
                                               int line, std::string_view spec_name);

}  // namespace labbook::report::document
