// The directives a report spec may hold (docs/report.md), each a function from its options and
// the report's sources to blocks of text, tables and plots. Internal to the report document
// component.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "labbook/dataset.hpp"
#include "labbook/status.hpp"
#include "report/document/blocks.hpp"
#include "report/document/report_document.hpp"
#include "report/document/spec.hpp"
#include "track/store.hpp"

namespace labbook::report::document {

// The data of one report, each piece fetched once however many directives use it: the store,
// dataset splits, their statistics and runs' predictions. Not thread-safe.
class ReportData {
 public:
  explicit ReportData(const ReportSources& sources) : sources_(sources) {}

  Result<track::RunStore*> Store();
  // The train or the test split of `name` (`test` false: train).
  Result<const Dataset*> Split(const std::string& name, bool test);
  Result<const DatasetStats*> Stats(const std::string& name, bool test);
  // The newest predictions artifact the run produced, read as a predictions CSV.
  Result<const PredictionTable*> Predictions(const track::RunInfo& run);

 private:
  const ReportSources& sources_;
  std::unique_ptr<track::RunStore> store_;
  std::map<std::string, std::unique_ptr<Dataset>> splits_;
  std::map<std::string, std::unique_ptr<DatasetStats>> stats_;
  std::map<std::string, std::unique_ptr<PredictionTable>> predictions_;
};

// Options set by `labbook defaults` directives, by key, for the directives after them.
using DefaultOptions = std::map<std::string, DirectiveOption, std::less<>>;

// The directive names, comma-separated, "defaults" included.
std::string DirectiveNameList();

// Checks a `labbook defaults` directive and merges its options into `defaults`. Errors as for
// RenderDirective.
[[nodiscard]] Status ApplyDefaults(const Directive& directive, std::string_view spec_name,
                                   DefaultOptions& defaults);

// Renders one directive. Errors read "<spec>:<line>: labbook NAME: ...", the line being that of
// the option at fault or else of the directive; an unknown directive or option lists the valid
// ones.
[[nodiscard]] Result<std::vector<Block>> RenderDirective(const Directive& directive,
                                                         std::string_view spec_name,
                                                         const DefaultOptions& defaults,
                                                         ReportData& data);

}  // namespace labbook::report::document
