// labbook report's engine: a spec rendered against a tiny dataset and a SQLite store built here,
// compared byte for byte with the golden files in tests/golden/report/ (reviewed as text), and
// rendered again, from another copy of the same inputs, to the same bytes. Regenerate the goldens
// after an intended change with
//   LABBOOK_UPDATE_GOLDEN=1 ctest --test-dir build -R report_document
// and review the diff.
#include "report/document/report_document.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "fixture.hpp"
#include "report/document/blocks.hpp"
#include "report/document/spec.hpp"
#include "report/format.hpp"
#include "report/plot.hpp"

namespace labbook::report::document {
namespace {

// Cairo and fontconfig keep their caches until told to let go; without this LeakSanitizer reports
// them at exit.
class ReleaseRenderingCachesAtExit : public ::testing::Environment {
 public:
  void TearDown() override { ReleaseRenderingCaches(); }
};
::testing::Environment* const kReleaseRenderingCaches =
    ::testing::AddGlobalTestEnvironment(new ReleaseRenderingCachesAtExit);

using ::testing::HasSubstr;
using testing::MakeReportFixture;
using testing::NewTempDir;
using ::testing::Not;
using testing::ReadText;
using testing::SourcesFor;
using ::testing::StartsWith;

const std::string kGoldenDir = std::string(LABBOOK_SOURCE_DIR) + "/tests/golden/report/";

// Compares `actual` with a golden file, or rewrites it when LABBOOK_UPDATE_GOLDEN is set.
void ExpectGolden(const std::string& name, const std::string& actual) {
  const std::string path = kGoldenDir + name;
  const char* update = std::getenv("LABBOOK_UPDATE_GOLDEN");
  if (update != nullptr && *update != '\0') {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  const std::string golden = ReadText(path);
  ASSERT_FALSE(golden.empty()) << path << " is missing; set LABBOOK_UPDATE_GOLDEN=1 to write it";
  // A whole-file EXPECT_EQ of half a megabyte is unreadable: report the first difference.
  if (golden == actual) return;
  size_t at = 0;
  while (at < golden.size() && at < actual.size() && golden[at] == actual[at]) ++at;
  size_t from = at < 200 ? 0 : at - 200;
  ADD_FAILURE() << name << " differs from the golden file at byte " << at << " (sizes "
                << golden.size() << " and " << actual.size() << ")\n--- golden:\n"
                << golden.substr(from, 400) << "\n--- actual:\n"
                << actual.substr(from, 400);
}

class ReportDocumentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fixture_ = MakeReportFixture(NewTempDir());
    sources_ = SourcesFor(fixture_);
  }
  void TearDown() override { std::filesystem::remove_all(fixture_.dir); }

  Result<RenderedReport> Render(const std::string& spec,
                                ReportFormat format = ReportFormat::kHtml) {
    return RenderReport(spec, "spec.md", format, "report", sources_);
  }

  // The error of rendering `spec`, which must fail.
  Status RenderError(const std::string& spec) {
    Result<RenderedReport> report = Render(spec);
    EXPECT_FALSE(report.ok()) << "rendered although an error was expected";
    return report.status();
  }

  testing::ReportFixture fixture_;
  ReportSources sources_;
};

// ---------------------------------------------------------------------------------------------
// Golden files and byte-identical output
// ---------------------------------------------------------------------------------------------

TEST_F(ReportDocumentTest, HtmlMatchesTheGoldenFile) {
  const std::string spec = ReadText(kGoldenDir + "spec.md");
  Result<RenderedReport> report = Render(spec);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->files.empty());
  ExpectGolden("report.html", report->text);
}

TEST_F(ReportDocumentTest, MarkdownMatchesTheGoldenFileAndNamesItsPlots) {
  const std::string spec = ReadText(kGoldenDir + "spec.md");
  Result<RenderedReport> report = Render(spec, ReportFormat::kMarkdown);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ExpectGolden("report.md", report->text);
  std::vector<std::string> paths;
  for (const ReportFile& file : report->files) paths.push_back(file.relative_path);
  EXPECT_THAT(
      paths, ::testing::ElementsAre(
                 "report_files/01-label-distribution.png", "report_files/01-label-distribution.svg",
                 "report_files/02-class-means.png", "report_files/02-class-means.svg",
                 "report_files/03-pixel-histogram.png", "report_files/03-pixel-histogram.svg",
                 "report_files/04-samples.png", "report_files/04-samples.svg",
                 "report_files/05-curves-epoch-val-accuracy.png",
                 "report_files/05-curves-epoch-val-accuracy.svg",
                 "report_files/06-confusion-matrix.png", "report_files/06-confusion-matrix.svg",
                 "report_files/07-misclassified.png", "report_files/07-misclassified.svg"));
  for (const ReportFile& file : report->files) {
    if (file.relative_path.ends_with(".png")) {
      EXPECT_THAT(file.bytes, StartsWith("\x89PNG\r\n\x1a\n")) << file.relative_path;
    } else {
      EXPECT_THAT(file.bytes, StartsWith("<?xml")) << file.relative_path;
    }
    // Every plot is referenced from the text, relative to the .md file.
    if (file.relative_path.ends_with(".png")) {
      EXPECT_THAT(report->text, HasSubstr("](" + file.relative_path + ")"));
    }
  }
}

TEST_F(ReportDocumentTest, TheSameInputsElsewhereGiveTheSameBytes) {
  const std::string spec = ReadText(kGoldenDir + "spec.md");
  Result<RenderedReport> first = Render(spec);
  Result<RenderedReport> again = Render(spec);
  testing::ReportFixture copy = MakeReportFixture(NewTempDir());
  Result<RenderedReport> elsewhere =
      RenderReport(spec, "spec.md", ReportFormat::kHtml, "report", SourcesFor(copy));
  std::filesystem::remove_all(copy.dir);
  ASSERT_TRUE(first.ok() && again.ok() && elsewhere.ok());
  EXPECT_TRUE(first->text == again->text) << "a second render differs";
  EXPECT_TRUE(first->text == elsewhere->text) << "the same inputs in another directory differ";
  EXPECT_THAT(first->text, Not(HasSubstr(fixture_.dir)));

  Result<RenderedReport> md_first = Render(spec, ReportFormat::kMarkdown);
  Result<RenderedReport> md_again = Render(spec, ReportFormat::kMarkdown);
  ASSERT_TRUE(md_first.ok() && md_again.ok());
  EXPECT_TRUE(md_first->text == md_again->text);
  ASSERT_EQ(md_first->files.size(), md_again->files.size());
  for (size_t i = 0; i < md_first->files.size(); ++i) {
    EXPECT_TRUE(md_first->files[i].bytes == md_again->files[i].bytes)
        << md_first->files[i].relative_path;
  }
}

// ---------------------------------------------------------------------------------------------
// What the directives show
// ---------------------------------------------------------------------------------------------

TEST_F(ReportDocumentTest, HtmlIsOneSelfContainedPageWithUniqueSvgIds) {
  Result<RenderedReport> report = Render(ReadText(kGoldenDir + "spec.md"));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const std::string& html = report->text;
  EXPECT_THAT(html, StartsWith("<!DOCTYPE html>\n"));
  EXPECT_THAT(html, HasSubstr("<title>A tiny report</title>"));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<?xml")));
  EXPECT_THAT(html, Not(HasSubstr("src=\"http")));
  // The Markdown around the directives, tables included, and its text escaped.
  EXPECT_THAT(html, HasSubstr("<em>emphasis</em>"));
  EXPECT_THAT(html, HasSubstr("<a href=\"https://example.org/docs\">link</a>"));
  EXPECT_THAT(html, HasSubstr("&amp; &quot;scores&quot; &lt; 1"));
  EXPECT_THAT(html, HasSubstr("<td align=\"right\">1</td>"));
  EXPECT_THAT(html, Not(HasSubstr("```labbook")));

  // Seven plots, and no id defined twice across their SVGs.
  std::regex svg_open("<svg ");
  EXPECT_EQ(std::distance(std::sregex_iterator(html.begin(), html.end(), svg_open),
                          std::sregex_iterator()),
            7);
  std::regex id("id=\"([^\"]+)\"");
  std::set<std::string> ids;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), id); it != std::sregex_iterator();
       ++it) {
    EXPECT_TRUE(ids.insert((*it)[1]).second) << "id " << (*it)[1] << " is defined twice";
  }
  EXPECT_TRUE(ids.contains("p01-glyph0-1"));
  EXPECT_TRUE(ids.contains("p07-glyph0-1"));
}

TEST_F(ReportDocumentTest, RunsAreFilteredByTheDefaultsAndSorted) {
  Result<RenderedReport> report = Render(
      "```labbook defaults\nproject: demo\n```\n\n"
      "```labbook runs\nsort: -summary.test.accuracy\ncolumns: name, summary.test/accuracy\n```\n");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const std::string& html = report->text;
  size_t sgd = html.find("<td>small-sgd</td><td class=\"num\">0.7778</td>");
  size_t adam = html.find("<td>small-adam</td><td class=\"num\">0.6667</td>");
  size_t running = html.find("<td>still-running</td><td class=\"num\"></td>");
  ASSERT_NE(sgd, std::string::npos) << html;
  ASSERT_NE(adam, std::string::npos);
  ASSERT_NE(running, std::string::npos);
  EXPECT_LT(sgd, adam);
  EXPECT_LT(adam, running);  // runs without the sort field come last
  EXPECT_THAT(html, Not(HasSubstr("other-project")));
}

TEST_F(ReportDocumentTest, DefaultRunColumnsAreNameIdStateAndTestResults) {
  Result<RenderedReport> report =
      Render("```labbook runs\nfilter: name = 'small-adam'\n```\n", ReportFormat::kMarkdown);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->text,
            "| name | id | state | summary.test/accuracy | summary.test/loss |\n"
            "| --- | --- | --- | ---: | ---: |\n"
            "| small-adam | aaaa0001 | finished | 0.6667 | 0.85 |\n");
}

TEST_F(ReportDocumentTest, NoMatchingRunIsSaidInTheRunsTable) {
  Result<RenderedReport> report =
      Render("```labbook runs\nfilter: name = 'nobody'\n```\n", ReportFormat::kMarkdown);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->text, "No run matches filter name = 'nobody'.\n");
}

TEST_F(ReportDocumentTest, TheBestRunIsTheFirstByTheSort) {
  Result<RenderedReport> report =
      Render("```labbook class-metrics\nproject: demo\n```\n", ReportFormat::kMarkdown);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  // small-sgd has the higher test accuracy: 7 of 9, wrong on images 5 (class 2) and 8 (class 2).
  EXPECT_THAT(report->text, HasSubstr("**Per-class scores: small-sgd (aaaa0002)**"));
  EXPECT_THAT(report->text, HasSubstr("| 2 | 2 | 1.0000 | 0.3333 | 0.5000 | 3 |"));
  EXPECT_THAT(report->text, HasSubstr("Accuracy 0.7778 on 9 test images."));

  Result<RenderedReport> chosen =
      Render("```labbook class-metrics\nrun: aaaa0001\n```\n", ReportFormat::kMarkdown);
  ASSERT_TRUE(chosen.ok()) << chosen.status().ToString();
  EXPECT_THAT(chosen->text, HasSubstr("small-adam (aaaa0001)"));
  EXPECT_THAT(chosen->text, HasSubstr("Accuracy 0.6667 on 9 test images."));
}

TEST_F(ReportDocumentTest, MisclassifiedCountsTheMistakes) {
  Result<RenderedReport> report = Render("```labbook misclassified\nrun: aaaa0001\n```\n");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_THAT(report->text, HasSubstr("3 of 9 test images misclassified; all shown, most "
                                      "confident first"));
}

TEST_F(ReportDocumentTest, LearningCurvesNameTheRunsWithoutTheKey) {
  Result<RenderedReport> report = Render(
      "```labbook learning-curves\nproject: demo\nkey: epoch/val_loss\n```\n"
      "```labbook learning-curves\nfilter: project = 'elsewhere'\nkey: epoch/val_loss\n```\n");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_THAT(report->text, HasSubstr("<figcaption>3 runs of project demo</figcaption>"));
  EXPECT_THAT(report->text,
              HasSubstr("<figcaption>1 run of filter project = 'elsewhere'</figcaption>"));
}

// ---------------------------------------------------------------------------------------------
// Errors name the place and what was expected
// ---------------------------------------------------------------------------------------------

TEST_F(ReportDocumentTest, AnUnknownDirectiveNamesItsLineAndListsTheDirectives) {
  Status status = RenderError("# Title\n\ntext\n\n```labbook confusion\nrun: best\n```\n");
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "spec.md:5: unknown directive 'labbook confusion'; the directives are dataset-stats, "
            "runs, learning-curves, confusion-matrix, class-metrics, misclassified, defaults");
}

TEST_F(ReportDocumentTest, AnUnknownOptionNamesItsLineAndListsTheOptions) {
  Status status = RenderError("```labbook dataset-stats\ndataset: tiny\nsplt: test\n```\n");
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "spec.md:3: labbook dataset-stats: unknown option 'splt'; the options of "
            "dataset-stats are dataset, split, show, samples");
}

TEST_F(ReportDocumentTest, BadOptionValuesNameTheirLine) {
  Status filter = RenderError("\n```labbook runs\nsort: name\nfilter: config.x =\n```\n");
  EXPECT_EQ(filter.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(filter.message(), StartsWith("spec.md:4: labbook runs: filter: "));

  Status split = RenderError("```labbook dataset-stats\ndataset: tiny\nsplit: validation\n```\n");
  EXPECT_EQ(split.message(),
            "spec.md:3: labbook dataset-stats: split: expected one of train, test, got "
            "'validation'");

  Status number = RenderError("```labbook misclassified\nlimit: many\n```\n");
  EXPECT_EQ(number.message(),
            "spec.md:2: labbook misclassified: limit: expected a whole number from 1 to 1000, "
            "got 'many'");

  Status dataset = RenderError("```labbook dataset-stats\ndataset: missing\n```\n");
  EXPECT_EQ(dataset.code(), ErrorCode::kNotFound);
  EXPECT_THAT(dataset.message(), StartsWith("spec.md:2: labbook dataset-stats: dataset: "));
}

TEST_F(ReportDocumentTest, MalformedBlocksNameTheirLine) {
  EXPECT_EQ(RenderError("```labbook runs\nfilter = x\n```\n").message(),
            "spec.md:2: expected 'key: value' (a key of a-z, 0-9 and '-'), got 'filter = x'");
  EXPECT_EQ(RenderError("```labbook runs sort=-name\n```\n").message(),
            "spec.md:1: unexpected 'sort=-name' after 'labbook runs': options go inside the "
            "block, one 'key: value' a line");
  EXPECT_EQ(RenderError("```labbook\n```\n").message(),
            "spec.md:1: expected a directive name after 'labbook', as in ```labbook runs");
  EXPECT_EQ(RenderError("```labbook runs\nsort: name\nsort: id\n```\n").message(),
            "spec.md:3: option 'sort' is given twice (first on line 2)");
  EXPECT_EQ(RenderError("```labbook runs\nsort:\n```\n").message(),
            "spec.md:2: option 'sort' has no value; leave the line out for the default");
  EXPECT_EQ(RenderError("- item\n\n  ```labbook runs\n  ```\n").message(),
            "spec.md:3: a labbook directive must stand at the top level of the document, not "
            "inside a list or a quote");
  Status required = RenderError("```labbook dataset-stats\nsplit: test\n```\n");
  EXPECT_EQ(required.message(),
            "spec.md:1: labbook dataset-stats: needs option 'dataset', e.g. 'dataset: "
            "fashion-mnist'");
}

TEST_F(ReportDocumentTest, MissingRunsAndKeysAreNotFound) {
  Status run = RenderError("```labbook confusion-matrix\nrun: zzzz9999\n```\n");
  EXPECT_EQ(run.code(), ErrorCode::kNotFound);
  EXPECT_THAT(run.message(), StartsWith("spec.md:2: labbook confusion-matrix: run: "));

  Status best = RenderError("```labbook confusion-matrix\nproject: nobody\n```\n");
  EXPECT_EQ(best.code(), ErrorCode::kNotFound);
  EXPECT_EQ(best.message(),
            "spec.md:1: labbook confusion-matrix: no run matches project nobody, so there is no "
            "best run");

  Status predictions = RenderError("```labbook confusion-matrix\nrun: aaaa0003\n```\n");
  EXPECT_EQ(predictions.code(), ErrorCode::kNotFound);
  EXPECT_THAT(predictions.message(), HasSubstr("produced no artifact of type 'predictions'"));

  Status key = RenderError("```labbook learning-curves\nproject: demo\nkey: epoch/val_acc\n```\n");
  EXPECT_EQ(key.code(), ErrorCode::kNotFound);
  EXPECT_EQ(key.message(),
            "spec.md:3: labbook learning-curves: key: none of the 3 runs selected logged "
            "'epoch/val_acc'");
}

TEST_F(ReportDocumentTest, AReportWithoutAStoreFailsOnlyWhenItNeedsRuns) {
  ReportSources no_store = sources_;
  no_store.open_store = nullptr;
  Result<RenderedReport> data_only = RenderReport("```labbook dataset-stats\ndataset: tiny\n```\n",
                                                  "spec.md", ReportFormat::kHtml, "r", no_store);
  EXPECT_TRUE(data_only.ok()) << data_only.status().ToString();
  Result<RenderedReport> runs =
      RenderReport("```labbook runs\n```\n", "spec.md", ReportFormat::kHtml, "r", no_store);
  ASSERT_FALSE(runs.ok());
  EXPECT_EQ(runs.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(runs.status().message(), StartsWith("spec.md:1: labbook runs: "));
}

// ---------------------------------------------------------------------------------------------
// Writing, and the pieces
// ---------------------------------------------------------------------------------------------

TEST_F(ReportDocumentTest, WriteReportWritesPlotsBesideTheMarkdownAndDropsStaleOnes) {
  const std::string out_dir = fixture_.dir + "/out";
  std::filesystem::create_directories(out_dir + "/report_files");
  std::ofstream(out_dir + "/report_files/09-old-plot.png") << "stale";
  std::ofstream(out_dir + "/report_files/notes.txt") << "mine";
  Result<RenderedReport> report = Render(
      "```labbook dataset-stats\ndataset: tiny\nshow: labels\n```\n", ReportFormat::kMarkdown);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_TRUE(WriteReport(*report, out_dir + "/report.md").ok());
  EXPECT_EQ(ReadText(out_dir + "/report.md"), report->text);
  EXPECT_EQ(ReadText(out_dir + "/report_files/01-label-distribution.svg"), report->files[1].bytes);
  EXPECT_TRUE(std::filesystem::exists(out_dir + "/report_files/01-label-distribution.png"));
  EXPECT_FALSE(std::filesystem::exists(out_dir + "/report_files/09-old-plot.png"));
  EXPECT_TRUE(std::filesystem::exists(out_dir + "/report_files/notes.txt"));

  RenderedReport html;
  html.text = "<!DOCTYPE html>\n";
  Status missing = WriteReport(html, fixture_.dir + "/no/such/dir/report.html");
  EXPECT_EQ(missing.code(), ErrorCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("/no/such/dir/report.html"));
}

TEST(ReportDocumentPiecesTest, InlineSvgPrefixesIdsAndReferencesOnly) {
  EXPECT_EQ(InlineSvg("<?xml version=\"1.0\"?>\n<svg><symbol id=\"glyph0-1\"/>"
                      "<use xlink:href=\"#glyph0-1\"/><g clip-path=\"url(#clip1)\"/>"
                      "<image xlink:href=\"data:image/png;base64,AA\"/></svg>",
                      "p03-"),
            "<svg><symbol id=\"p03-glyph0-1\"/><use xlink:href=\"#p03-glyph0-1\"/>"
            "<g clip-path=\"url(#p03-clip1)\"/><image xlink:href=\"data:image/png;base64,AA\"/>"
            "</svg>");
}

TEST(ReportDocumentPiecesTest, EscapesForHtmlAndMarkdown) {
  EXPECT_EQ(EscapeMarkup("a < b & \"c\" > d"), "a &lt; b &amp; &quot;c&quot; &gt; d");
  EXPECT_EQ(EscapeMarkdown("my_run | *x*\nnext"), "my\\_run \\| \\*x\\* next");
}

TEST(ReportDocumentPiecesTest, DirectiveOptionsKeepTheirLines) {
  Result<Directive> directive = ParseDirective(
      "labbook runs", "# a comment\n\nfilter: a = 'b: c'\nsort:  -name  \n", 10, "s.md");
  ASSERT_TRUE(directive.ok()) << directive.status().ToString();
  EXPECT_EQ(directive->name, "runs");
  ASSERT_EQ(directive->options.size(), 2u);
  EXPECT_EQ(directive->options[0].key, "filter");
  EXPECT_EQ(directive->options[0].value, "a = 'b: c'");
  EXPECT_EQ(directive->options[0].line, 13);
  EXPECT_EQ(directive->options[1].value, "-name");
  EXPECT_EQ(directive->options[1].line, 14);
  EXPECT_TRUE(IsDirectiveInfo("labbook runs"));
  EXPECT_TRUE(IsDirectiveInfo("labbook"));
  EXPECT_FALSE(IsDirectiveInfo("labbooks"));
  EXPECT_FALSE(IsDirectiveInfo("python"));
}

}  // namespace
}  // namespace labbook::report::document
