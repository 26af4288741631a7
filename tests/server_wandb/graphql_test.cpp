// The GraphQL subset of the W&B ingest: documents as W&B clients write them (named and anonymous
// operations, variables with defaults, aliases, fragments), and the projection of answers onto
// what was selected.
#include "server/wandb/graphql.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace labbook::server::wandb {
namespace {

using nlohmann::json;

GqlOperation Parse(const std::string& document, const json& variables = json::object(),
                   const std::string& name = "") {
  Result<GqlOperation> operation = ParseGqlOperation(document, variables, name);
  EXPECT_TRUE(operation.ok()) << operation.status().ToString();
  return operation.ok() ? *operation : GqlOperation{};
}

TEST(GraphQlParse, NamedQueryWithNestedSelection) {
  GqlOperation op = Parse(R"(
    query Viewer {
      viewer { id entity teams { edges { node { name } } } }
    })");
  EXPECT_EQ(op.type, "query");
  EXPECT_EQ(op.name, "Viewer");
  ASSERT_EQ(op.selection.size(), 1u);
  const GqlField& viewer = op.selection[0];
  EXPECT_EQ(viewer.name, "viewer");
  EXPECT_EQ(viewer.alias, "viewer");
  ASSERT_EQ(viewer.selection.size(), 3u);
  ASSERT_NE(viewer.Child("teams"), nullptr);
  EXPECT_EQ(viewer.Child("teams")->Child("edges")->Child("node")->Child("name")->name, "name");
  EXPECT_EQ(viewer.Child("flags"), nullptr);
}

TEST(GraphQlParse, AnonymousShorthandQuery) {
  GqlOperation op = Parse("{ serverInfo { features { name isEnabled } } }");
  EXPECT_EQ(op.type, "query");
  EXPECT_EQ(op.name, "");
  ASSERT_EQ(op.selection.size(), 1u);
  EXPECT_EQ(op.selection[0].name, "serverInfo");
}

TEST(GraphQlParse, VariablesAreSubstitutedIntoInputObjects) {
  GqlOperation op = Parse(R"(
    mutation UpsertBucket($name: String, $project: String, $tags: [String!], $debug: Boolean) {
      upsertBucket(input: {name: $name, modelName: $project, tags: $tags, debug: $debug}) {
        bucket { id name }
        inserted
      }
    })",
                          json{{"name", "abc12345"}, {"project", "mnist"}, {"tags", {"a", "b"}}});
  EXPECT_EQ(op.type, "mutation");
  ASSERT_EQ(op.selection.size(), 1u);
  const json& input = op.selection[0].arguments["input"];
  EXPECT_EQ(input["name"], "abc12345");
  EXPECT_EQ(input["modelName"], "mnist");
  EXPECT_EQ(input["tags"], json({"a", "b"}));
  // A variable the client left out is null.
  EXPECT_TRUE(input["debug"].is_null());
}

TEST(GraphQlParse, DefaultsLiteralsAndEnums) {
  GqlOperation op = Parse(R"(
    query Q($n: Int = 7, $missing: String = "fallback") {
      a(n: $n, s: $missing, f: -1.5e2, b: true, z: null, e: ASC, l: [1, 2], k: "x\"y") { id }
    })",
                          json::object());
  const json& args = op.selection[0].arguments;
  EXPECT_EQ(args["n"], 7);
  EXPECT_EQ(args["s"], "fallback");
  EXPECT_DOUBLE_EQ(args["f"].get<double>(), -150.0);
  EXPECT_EQ(args["b"], true);
  EXPECT_TRUE(args["z"].is_null());
  EXPECT_EQ(args["e"], "ASC");
  EXPECT_EQ(args["l"], json({1, 2}));
  EXPECT_EQ(args["k"], "x\"y");
}

TEST(GraphQlParse, AliasesAndFragmentsAsInTheCapabilityProbe) {
  GqlOperation op = Parse(R"(
    query ProbeServerCapabilities {
      QueryType: __type(name: "Query") { ...fieldData }
      MutationType: __type(name: "Mutation") { ...fieldData }
    }
    fragment fieldData on __Type { fields { name } })");
  ASSERT_EQ(op.selection.size(), 2u);
  EXPECT_EQ(op.selection[0].alias, "QueryType");
  EXPECT_EQ(op.selection[0].name, "__type");
  EXPECT_EQ(op.selection[0].arguments["name"], "Query");
  EXPECT_EQ(op.selection[1].arguments["name"], "Mutation");
  ASSERT_EQ(op.selection[1].selection.size(), 1u);
  EXPECT_EQ(op.selection[1].selection[0].name, "fields");
}

TEST(GraphQlParse, InlineFragmentsCommentsAndDirectives) {
  GqlOperation op = Parse(R"(
    # a comment
    query { viewer @include(if: true) { ... on User { id } ... { entity } } })");
  ASSERT_EQ(op.selection.size(), 1u);
  ASSERT_EQ(op.selection[0].selection.size(), 2u);
  EXPECT_EQ(op.selection[0].selection[0].name, "id");
  EXPECT_EQ(op.selection[0].selection[1].name, "entity");
}

TEST(GraphQlParse, OperationNameChoosesAmongSeveral) {
  const std::string document = "query A { viewer { id } } query B { serverInfo { features } }";
  EXPECT_EQ(Parse(document, json::object(), "B").selection[0].name, "serverInfo");
  // Without a name, the first: the Python client sends none.
  EXPECT_EQ(Parse(document).selection[0].name, "viewer");
  Result<GqlOperation> missing = ParseGqlOperation(document, json::object(), "C");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("'C'"), std::string::npos);
}

TEST(GraphQlParse, SyntaxErrorsNameTheByte) {
  for (const char* document : {"query {", "query { a(b: ) }", "mutation M { x(y: \"open) }",
                               "subscriptio { a }", "", "{ a { ...missing } }"}) {
    Result<GqlOperation> op = ParseGqlOperation(document, json::object());
    EXPECT_FALSE(op.ok()) << document;
    if (!op.ok()) {
      EXPECT_EQ(op.status().code(), ErrorCode::kInvalidArgument) << document;
    }
  }
  Result<GqlOperation> op = ParseGqlOperation("query { a(b: ) }", json::object());
  EXPECT_NE(op.status().message().find("byte 13"), std::string::npos) << op.status().message();
}

TEST(GraphQlParse, FragmentCyclesAreRefused) {
  Result<GqlOperation> op = ParseGqlOperation(
      "query { a { ...F } } fragment F on T { b { ...G } } fragment G on T { c { ...F } }",
      json::object());
  ASSERT_FALSE(op.ok());
  EXPECT_NE(op.status().message().find("cycle"), std::string::npos);
}

TEST(GraphQlProject, KeepsWhatWasSelectedUnderItsAlias) {
  GqlOperation op = Parse(R"(
    { model { id other: name missing bucket { edges { node { name } } } } })");
  const json value = {
      {"id", "UHJvamVjdA=="},
      {"name", "mnist"},
      {"secret", "not selected"},
      {"bucket",
       {{"edges",
         {{{"node", {{"name", "a"}, {"url", "u"}}}}, {{"node", {{"name", "b"}, {"url", "v"}}}}}}}}};
  const json projected = ProjectSelection(value, op.selection[0].selection);
  EXPECT_EQ(projected, json::parse(R"({
    "id": "UHJvamVjdA==", "other": "mnist", "missing": null,
    "bucket": {"edges": [{"node": {"name": "a"}}, {"node": {"name": "b"}}]}})"));
}

TEST(GraphQlProject, ScalarsAndNullsPassThrough) {
  GqlOperation op = Parse("{ a { b } }");
  EXPECT_TRUE(ProjectSelection(nullptr, op.selection[0].selection).is_null());
  EXPECT_EQ(ProjectSelection("{\"k\": 1}", {}), "{\"k\": 1}");
}

}  // namespace
}  // namespace labbook::server::wandb
