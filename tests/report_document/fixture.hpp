// The inputs of the report tests: a tiny IDX dataset (3 classes of 6x6 images) and a SQLite store
// with four runs (two finished runs of project "demo" with history and predictions, a running
// one, and one of another project), all with fixed ids, times and values, so the same fixture
// built in any directory renders the same report.
#pragma once

#include <string>

#include "report/document/report_document.hpp"

namespace labbook::report::document::testing {

struct ReportFixture {
  std::string dir;        // holds everything below
  std::string data_dir;   // the IDX files, for idx:DIR
  std::string store_uri;  // sqlite://DIR/labbook.db
};

// Writes the dataset and the store under `dir` (which must exist). Fails the current test (ASSERT)
// on an error.
ReportFixture MakeReportFixture(const std::string& dir);

// Sources reading the fixture's store, with the dataset loadable as "tiny" (its name and source
// as written in a report do not depend on `dir`).
ReportSources SourcesFor(const ReportFixture& fixture);

// A fresh directory under the system temp dir.
std::string NewTempDir();

std::string ReadText(const std::string& path);

}  // namespace labbook::report::document::testing
