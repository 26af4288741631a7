// The part of GraphQL the W&B ingest needs: parsing one request's document into its operation's
// field tree (aliases, arguments with variables substituted, fragment spreads and inline
// fragments expanded), and projecting a resolver's JSON value onto a selection set, so that
// answers carry exactly the fields and aliases the client asked for.
//
// There is no schema: resolvers build plain JSON per top-level field and Project() keeps what was
// selected (a selected field the value lacks is null). Directives are parsed and ignored.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "labbook/status.hpp"

namespace labbook::server::wandb {

struct GqlField {
  std::string alias;  // the key of the field in the response (its name when there is no alias)
  std::string name;
  // Argument values with variables substituted; enum values become strings.
  nlohmann::json arguments = nlohmann::json::object();
  std::vector<GqlField> selection;  // empty for a scalar field

  // The first selected sub-field called `name`, or nullptr.
  const GqlField* Child(std::string_view name) const;
};

struct GqlOperation {
  std::string type;  // "query", "mutation" or "subscription"
  std::string name;  // empty for an anonymous operation
  std::vector<GqlField> selection;
};

// Parses `document` and returns the operation named `operation_name` (empty: the document's only
// operation, or its first). Missing variables take their declared default, else null.
// kInvalidArgument names the byte offset and what was expected.
[[nodiscard]] Result<GqlOperation> ParseGqlOperation(std::string_view document,
                                                     const nlohmann::json& variables,
                                                     std::string_view operation_name = {});

// `value` restricted to `selection`, recursively; arrays are projected element by element.
nlohmann::json ProjectSelection(const nlohmann::json& value,
                                const std::vector<GqlField>& selection);

}  // namespace labbook::server::wandb
