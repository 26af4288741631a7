#include "report/plot.hpp"

#include <cairo.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "report/canvas.hpp"
#include "report/format.hpp"
#include "report/palette.hpp"

namespace labbook::report {
namespace {

namespace fs = std::filesystem;

// cairo and fontconfig keep font caches for the life of the process. Freeing them once all tests
// have run leaves LeakSanitizer (in the sanitizer build) reporting only real leaks.
class FontCacheRelease : public ::testing::Environment {
 public:
  void TearDown() override { ReleaseRenderingCaches(); }
};
[[maybe_unused]] ::testing::Environment* const kFontCacheRelease =
    ::testing::AddGlobalTestEnvironment(new FontCacheRelease);

const std::vector<std::string> kFashionClasses = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                  "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                  "Bag",         "Ankle boot"};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// A fresh directory for one test's files, removed at the end.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = ::testing::TempDir() + "labbook-report-XXXXXX";
    char* made = mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::permissions(path_, fs::perms::owner_all, ignored);
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }
  std::string Stem(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// A decoded PNG: size and 0xRRGGBB pixels.
struct Picture {
  int width = 0;
  int height = 0;
  std::vector<std::uint32_t> pixels;

  std::uint32_t At(int x, int y) const { return pixels[static_cast<size_t>(y) * width + x]; }
};

Picture DecodePng(const fs::path& path) {
  Picture picture;
  cairo_surface_t* surface = cairo_image_surface_create_from_png(path.c_str());
  EXPECT_EQ(cairo_surface_status(surface), CAIRO_STATUS_SUCCESS) << path;
  if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(surface);
    return picture;
  }
  picture.width = cairo_image_surface_get_width(surface);
  picture.height = cairo_image_surface_get_height(surface);
  const unsigned char* data = cairo_image_surface_get_data(surface);
  int stride = cairo_image_surface_get_stride(surface);
  for (int y = 0; y < picture.height; ++y) {
    const auto* row = reinterpret_cast<const std::uint32_t*>(data + y * stride);
    for (int x = 0; x < picture.width; ++x) picture.pixels.push_back(row[x] & 0xFFFFFF);
  }
  cairo_surface_destroy(surface);
  return picture;
}

std::uint32_t Packed(Rgb c) {
  auto byte = [](double v) { return static_cast<std::uint32_t>(std::lround(v * 255)); };
  return (byte(c.r) << 16) | (byte(c.g) << 8) | byte(c.b);
}

// Whether two 0xRRGGBB colours differ by at most `tolerance` in every channel.
bool Near(std::uint32_t a, std::uint32_t b, int tolerance) {
  for (int shift : {0, 8, 16}) {
    int ca = static_cast<int>((a >> shift) & 0xFF);
    int cb = static_cast<int>((b >> shift) & 0xFF);
    if (std::abs(ca - cb) > tolerance) return false;
  }
  return true;
}

size_t CountOccurrences(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

// Checks the two files WritePlot made for `stem`: a PNG of the expected size (0: any) and an SVG
// document titled `title` with at least one glyph per letter of it.
void ExpectPlotFiles(const std::string& stem, const std::string& title, int width = 0,
                     int height = 0) {
  std::string png = ReadFile(stem + ".png");
  ASSERT_GE(png.size(), 8u) << stem;
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  Picture picture = DecodePng(stem + ".png");
  EXPECT_GT(picture.width, 100);
  EXPECT_GT(picture.height, 100);
  if (width > 0) {
    EXPECT_EQ(picture.width, width);
  }
  if (height > 0) {
    EXPECT_EQ(picture.height, height);
  }

  std::string svg = ReadFile(stem + ".svg");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u) << "SVG must start with an XML declaration";
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("<title>" + title + "</title>"), std::string::npos);
  EXPECT_NE(svg.find("width=\"" + std::to_string(picture.width) + "px\""), std::string::npos);
  size_t letters = 0;
  for (char c : title) letters += c != ' ' ? 1 : 0;
  EXPECT_GE(CountOccurrences(svg, "<use xlink:href=\"#glyph"), letters);
}

HeatmapSpec ConfusionMatrix() {
  HeatmapSpec spec;
  spec.title = "Confusion matrix";
  spec.row_labels = kFashionClasses;
  spec.column_labels = kFashionClasses;
  for (size_t i = 0; i < 10; ++i) {
    for (size_t j = 0; j < 10; ++j) {
      double count = i == j ? 800 + 15 * i : (i + j) % 7 == 0 ? 40 : 3;
      spec.values.push_back(count);
      spec.annotations.push_back(FormatFixed(count, 0));
    }
  }
  spec.colour_bar_label = "Count";
  return spec;
}

LineChartSpec RocCurves(size_t series, size_t points) {
  LineChartSpec spec;
  spec.title = "ROC curves";
  spec.x_label = "False positive rate";
  spec.y_label = "True positive rate";
  spec.x_min = 0;
  spec.x_max = 1;
  spec.y_min = 0;
  spec.y_max = 1;
  spec.diagonal = true;
  for (size_t s = 0; s < series; ++s) {
    LineSeries line;
    line.name = kFashionClasses[s % 10] + " (AUC = 0.9" + std::to_string(s % 10) + ")";
    for (size_t i = 0; i < points; ++i) {
      double x = static_cast<double>(i) / (points - 1);
      line.x.push_back(x);
      line.y.push_back(1 - std::pow(1 - x, 3.0 + s));
    }
    spec.series.push_back(std::move(line));
  }
  return spec;
}

BarChartSpec LabelCounts() {
  BarChartSpec spec;
  spec.title = "Label distribution";
  spec.x_label = "Class";
  spec.y_label = "Images";
  spec.categories = kFashionClasses;
  BarSeries train{"train", {}};
  for (size_t i = 0; i < 10; ++i) train.values.push_back(5800 + 40 * i);
  spec.series.push_back(train);
  return spec;
}

HistogramSpec PixelHistogram() {
  HistogramSpec spec;
  spec.title = "Pixel values";
  spec.x_label = "Pixel value";
  for (int i = 0; i < 256; ++i) {
    spec.counts.push_back(i == 0 ? 4e6 : i % 17 == 0 ? 0 : 1e4 + 50.0 * i);
  }
  spec.log_y = true;
  return spec;
}

ImageGridSpec SampleGrid() {
  ImageGridSpec spec;
  spec.title = "Samples";
  spec.columns = 8;
  spec.row_labels = kFashionClasses;
  for (int c = 0; c < 10; ++c) {
    for (int k = 0; k < 8; ++k) {
      std::vector<std::uint8_t> pixels(28 * 28);
      for (int p = 0; p < 28 * 28; ++p)
        pixels[p] = static_cast<std::uint8_t>((p * (c + 1) + k) % 256);
      spec.images.push_back(GridImage::FromBytes(28, 28, pixels, ""));
    }
  }
  return spec;
}

TEST(ReportWritePlotTest, HeatmapWritesPngAndSvg) {
  ScratchDir dir;
  ASSERT_TRUE(WritePlot(ConfusionMatrix(), dir.Stem("confusion")).ok());
  ExpectPlotFiles(dir.Stem("confusion"), "Confusion matrix");
}

TEST(ReportWritePlotTest, LineChartWritesPngAndSvgOfTheRequestedSize) {
  ScratchDir dir;
  LineChartSpec spec = RocCurves(3, 50);
  spec.width = 640;
  spec.height = 480;
  ASSERT_TRUE(WritePlot(spec, dir.Stem("roc")).ok());
  ExpectPlotFiles(dir.Stem("roc"), "ROC curves", 640, 480);
}

TEST(ReportWritePlotTest, BarChartWritesPngAndSvg) {
  ScratchDir dir;
  BarChartSpec spec = LabelCounts();
  spec.series.push_back({"test", std::vector<double>(10, 1000)});
  ASSERT_TRUE(WritePlot(spec, dir.Stem("labels")).ok());
  ExpectPlotFiles(dir.Stem("labels"), "Label distribution", spec.width, spec.height);
}

TEST(ReportWritePlotTest, HistogramWritesPngAndSvg) {
  ScratchDir dir;
  ASSERT_TRUE(WritePlot(PixelHistogram(), dir.Stem("pixels")).ok());
  ExpectPlotFiles(dir.Stem("pixels"), "Pixel values", 720, 420);
}

TEST(ReportWritePlotTest, ImageGridWritesPngAndSvg) {
  ScratchDir dir;
  ASSERT_TRUE(WritePlot(SampleGrid(), dir.Stem("samples")).ok());
  ExpectPlotFiles(dir.Stem("samples"), "Samples");
  // The SVG carries each picture as an embedded PNG.
  EXPECT_EQ(CountOccurrences(ReadFile(dir.Stem("samples") + ".svg"), "data:image/png;base64,"),
            80u);
}

TEST(ReportWritePlotTest, TitlesAreEscapedInSvg) {
  LineChartSpec spec = RocCurves(1, 10);
  spec.title = "Loss < 0.5 & \"best\"";
  Result<RenderedPlot> plot = RenderPlot(spec);
  ASSERT_TRUE(plot.ok()) << plot.status().ToString();
  EXPECT_NE(plot->svg.find("<title>Loss &lt; 0.5 &amp; &quot;best&quot;</title>"),
            std::string::npos);
}

TEST(ReportRenderPlotTest, SameSpecGivesIdenticalBytes) {
  // Other plots in between advance cairo's process-wide surface and image counters.
  Result<RenderedPlot> grid_a = RenderPlot(SampleGrid());
  Result<RenderedPlot> heatmap_a = RenderPlot(ConfusionMatrix());
  Result<RenderedPlot> line_a = RenderPlot(RocCurves(4, 200));
  Result<RenderedPlot> bars_a = RenderPlot(LabelCounts());
  Result<RenderedPlot> histogram_a = RenderPlot(PixelHistogram());
  Result<RenderedPlot> grid_b = RenderPlot(SampleGrid());
  Result<RenderedPlot> heatmap_b = RenderPlot(ConfusionMatrix());
  Result<RenderedPlot> line_b = RenderPlot(RocCurves(4, 200));
  Result<RenderedPlot> bars_b = RenderPlot(LabelCounts());
  Result<RenderedPlot> histogram_b = RenderPlot(PixelHistogram());
  const std::pair<Result<RenderedPlot>*, Result<RenderedPlot>*> pairs[] = {
      {&grid_a, &grid_b},
      {&heatmap_a, &heatmap_b},
      {&line_a, &line_b},
      {&bars_a, &bars_b},
      {&histogram_a, &histogram_b}};
  for (const auto& [a, b] : pairs) {
    ASSERT_TRUE(a->ok() && b->ok());
    EXPECT_EQ((*a)->png, (*b)->png);
    EXPECT_EQ((*a)->svg, (*b)->svg);
  }
  EXPECT_NE(grid_b->svg.find("id=\"image1\""), std::string::npos);
  EXPECT_NE(grid_b->svg.find("id=\"surface1\""), std::string::npos);
}

TEST(ReportRenderPlotTest, ThreadsRenderingAtOnceGiveTheSameBytes) {
  Result<RenderedPlot> alone = RenderPlot(ConfusionMatrix());
  ASSERT_TRUE(alone.ok());
  std::vector<std::string> svgs(4);
  std::vector<std::string> pngs(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < svgs.size(); ++t) {
    threads.emplace_back([t, &svgs, &pngs] {
      if (t % 2 == 1) (void)RenderPlot(SampleGrid());  // other counters move meanwhile
      Result<RenderedPlot> plot = RenderPlot(ConfusionMatrix());
      if (!plot.ok()) return;
      svgs[t] = plot->svg;
      pngs[t] = plot->png;
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (size_t t = 0; t < svgs.size(); ++t) {
    EXPECT_EQ(svgs[t], alone->svg) << "thread " << t;
    EXPECT_EQ(pngs[t], alone->png) << "thread " << t;
  }
}

TEST(ReportRenderPlotTest, WrittenFilesAreIdenticalAcrossRuns) {
  ScratchDir dir;
  ASSERT_TRUE(WritePlot(ConfusionMatrix(), dir.Stem("a")).ok());
  ASSERT_TRUE(WritePlot(ConfusionMatrix(), dir.Stem("b")).ok());
  EXPECT_EQ(ReadFile(dir.Stem("a") + ".png"), ReadFile(dir.Stem("b") + ".png"));
  EXPECT_EQ(ReadFile(dir.Stem("a") + ".svg"), ReadFile(dir.Stem("b") + ".svg"));
}

// Finds the square of cells drawn in `colour` (the largest run of such pixels in a row and in a
// column) and returns its top-left corner and side.
struct Square {
  int x = -1;
  int y = -1;
  int side = 0;
};

Square FindSquare(const Picture& picture, std::uint32_t colour) {
  Square square;
  int best = 0;
  for (int y = 0; y < picture.height; ++y) {
    int run = 0;
    for (int x = 0; x < picture.width; ++x) {
      run = Near(picture.At(x, y), colour, 1) ? run + 1 : 0;
      if (run > best) {
        best = run;
        square.x = x - run + 1;
        square.y = y;
      }
    }
  }
  square.side = best;
  // Walk up to the first row of the square.
  while (square.y > 0 && Near(picture.At(square.x + 1, square.y - 1), colour, 1)) --square.y;
  return square;
}

TEST(ReportHeatmapTest, CellsTakeTheirColoursFromTheScale) {
  HeatmapSpec spec;
  spec.title = "Scale";
  spec.row_labels = {"a", "b", "c"};
  spec.column_labels = {"x", "y", "z"};
  spec.values = {0, 1, 2, 3, 4, 8, 5, 6, 7};  // the maximum sits at row 1, column 2
  spec.cell_size = 40;
  ScratchDir dir;
  ASSERT_TRUE(WritePlot(spec, dir.Stem("scale")).ok());
  Picture picture = DecodePng(dir.Stem("scale") + ".png");

  std::uint32_t darkest = Packed(SequentialBlue(1));
  Square max_cell = FindSquare(picture, darkest);
  ASSERT_GE(max_cell.side, 38) << "the maximum cell is drawn in the darkest colour";
  ASSERT_LE(max_cell.side, 40);
  // The cell's left edge: cells are 40 pixels wide; the frame may cover one pixel of the edge.
  int x0 = max_cell.x + max_cell.side - 40 - 2 * 40;  // left edge of column 0
  int y0 = max_cell.y - 40;                           // top edge of row 0
  for (int row = 0; row < 3; ++row) {
    for (int column = 0; column < 3; ++column) {
      double value = spec.values[row * 3 + column];
      std::uint32_t expected = Packed(SequentialBlue(value / 8));
      std::uint32_t actual = picture.At(x0 + 40 * column + 20, y0 + 40 * row + 20);
      EXPECT_TRUE(Near(actual, expected, 2))
          << "cell (" << row << ", " << column << "): " << std::hex << actual << " vs " << expected;
    }
  }
  // The lowest value is drawn almost white.
  EXPECT_GT(RelativeLuminance(SequentialBlue(0)), 0.9);
}

TEST(ReportHeatmapTest, AnnotationsAreWhiteOnDarkCellsAndDarkOnLightCells) {
  HeatmapSpec spec;
  spec.title = "Annotated";
  spec.row_labels = {"a", "b"};
  spec.column_labels = {"x", "y"};
  spec.values = {100, 0, 0, 0};
  spec.annotations = {"888", "888", "888", "888"};
  spec.cell_size = 60;
  Result<RenderedPlot> plot = RenderPlot(spec);
  ASSERT_TRUE(plot.ok());
  ScratchDir dir;
  ASSERT_TRUE(WriteRenderedPlot(*plot, dir.Stem("annotated")).ok());
  Picture picture = DecodePng(dir.Stem("annotated") + ".png");
  Square dark = FindSquare(picture, Packed(SequentialBlue(1)));
  ASSERT_GE(dark.side, 30);
  size_t white_in_dark = 0;
  size_t dark_in_light = 0;
  for (int y = dark.y; y < dark.y + 58; ++y) {
    for (int x = dark.x; x < dark.x + 58; ++x) {
      white_in_dark += Near(picture.At(x, y), 0xFFFFFF, 20) ? 1 : 0;
      dark_in_light += RelativeLuminance(HexColour(picture.At(x + 60, y))) < 0.1 ? 1 : 0;
    }
  }
  EXPECT_GT(white_in_dark, 20u);
  EXPECT_GT(dark_in_light, 20u);
}

TEST(ReportHeatmapTest, TwentyLongClassNamesFit) {
  HeatmapSpec spec;
  spec.title = "Twenty classes";
  for (int i = 0; i < 20; ++i) {
    spec.row_labels.push_back(kFashionClasses[i % 10] + " variant " + std::to_string(i));
    spec.column_labels.push_back(spec.row_labels.back());
  }
  for (int i = 0; i < 400; ++i) {
    spec.values.push_back(i % 21 == 0 ? 0.9 : 0.01);
    spec.annotations.push_back(FormatFixed(spec.values.back(), 2));
  }
  Result<RenderedPlot> plot = RenderPlot(spec);
  ASSERT_TRUE(plot.ok()) << plot.status().ToString();
  EXPECT_GT(plot->png.size(), 1000u);
}

TEST(ReportHeatmapTest, RejectsInconsistentSpecs) {
  HeatmapSpec spec = ConfusionMatrix();
  spec.values.pop_back();
  Status status = RenderPlot(spec).status();
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(status.message().find("heatmap \"Confusion matrix\": values has 99 entries"),
            std::string::npos)
      << status.message();

  spec = ConfusionMatrix();
  spec.annotations.resize(3);
  EXPECT_NE(RenderPlot(spec).status().message().find("annotations"), std::string::npos);
  spec = ConfusionMatrix();
  spec.colour_min = 5;
  spec.colour_max = 1;
  EXPECT_EQ(RenderPlot(spec).status().code(), ErrorCode::kInvalidArgument);
}

TEST(ReportLineChartTest, DrawsSeriesInPaletteColours) {
  LineChartSpec spec = RocCurves(2, 100);
  ScratchDir dir;
  ASSERT_TRUE(WritePlot(spec, dir.Stem("roc")).ok());
  Picture picture = DecodePng(dir.Stem("roc") + ".png");
  size_t first = 0;
  size_t second = 0;
  for (std::uint32_t pixel : picture.pixels) {
    first += Near(pixel, Packed(SeriesStyleFor(0).colour), 8) ? 1 : 0;
    second += Near(pixel, Packed(SeriesStyleFor(1).colour), 8) ? 1 : 0;
  }
  EXPECT_GT(first, 300u);
  EXPECT_GT(second, 300u);
}

TEST(ReportLineChartTest, TenSeriesOfAHundredThousandPointsAreFastAndSmall) {
  LineChartSpec spec;
  spec.title = "Loss per step";
  for (int s = 0; s < 10; ++s) {
    LineSeries series;
    series.name = "run " + std::to_string(s);
    series.step = s % 2 == 1;
    for (int i = 0; i < 100000; ++i) {
      series.x.push_back(i);
      series.y.push_back(std::exp(-i / (5000.0 + 1000 * s)) + 0.05 * std::sin(i * 0.7 + s));
    }
    spec.series.push_back(std::move(series));
  }
  auto start = std::chrono::steady_clock::now();
  Result<RenderedPlot> plot = RenderPlot(spec);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(plot.ok()) << plot.status().ToString();
  EXPECT_LT(seconds, 5.0);  // about 0.3 s in a release build; generous for sanitizers
  // Undecimated, 2 million points would take over 20 MB of SVG path data.
  EXPECT_LT(plot->svg.size(), 2u << 20);
}

TEST(ReportLineChartTest, HandlesGapsEmptySeriesAndExplicitRanges) {
  LineChartSpec spec;
  spec.title = "Gaps";
  spec.series.push_back({"with gap", {0, 1, 2, 3, 4}, {1, 2, NAN, 4, 5}, false, true});
  spec.series.push_back({"empty", {}, {}, false, false});
  spec.series.push_back({"", {0, 4}, {100, -100}, true, false});  // far outside the y range
  spec.y_min = 0;
  spec.y_max = 6;
  spec.legend = LegendPosition::kOutsideRight;
  Result<RenderedPlot> plot = RenderPlot(spec);
  ASSERT_TRUE(plot.ok()) << plot.status().ToString();
}

TEST(ReportLineChartTest, RejectsInconsistentSpecs) {
  LineChartSpec spec = RocCurves(2, 10);
  spec.series[1].y.pop_back();
  Status status = RenderPlot(spec).status();
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(status.message().find("series[1]"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("10 x values but 9 y values"), std::string::npos);

  spec = RocCurves(1, 10);
  spec.x_min = 1;
  spec.x_max = 0;
  EXPECT_NE(RenderPlot(spec).status().message().find("x_min"), std::string::npos);
  spec = RocCurves(1, 10);
  spec.width = 10;
  EXPECT_EQ(RenderPlot(spec).status().code(), ErrorCode::kInvalidArgument);
  spec.series.clear();
  EXPECT_EQ(RenderPlot(LineChartSpec{}).status().code(), ErrorCode::kInvalidArgument);
}

TEST(ReportBarChartTest, LogAxisNegativeValuesAndManyCategories) {
  BarChartSpec spec = LabelCounts();
  spec.log_y = true;
  spec.series[0].values[3] = 0;
  ASSERT_TRUE(RenderPlot(spec).ok());

  spec = LabelCounts();
  spec.series[0].values[2] = -500;
  ASSERT_TRUE(RenderPlot(spec).ok());

  spec = LabelCounts();
  spec.categories.clear();
  spec.series[0].values.clear();
  for (int i = 0; i < 47; ++i) {
    spec.categories.push_back("category number " + std::to_string(i));
    spec.series[0].values.push_back(100 + i);
  }
  ASSERT_TRUE(RenderPlot(spec).ok());
}

TEST(ReportBarChartTest, RejectsInconsistentSpecs) {
  BarChartSpec spec = LabelCounts();
  spec.series.push_back({"test", {1, 2, 3}});
  Status status = RenderPlot(spec).status();
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(status.message().find("series[1] (\"test\") has 3 values for 10 categories"),
            std::string::npos)
      << status.message();
  spec = LabelCounts();
  spec.series[0].values[0] = NAN;
  EXPECT_NE(RenderPlot(spec).status().message().find("values[0] is not finite"), std::string::npos);
}

TEST(ReportHistogramTest, LinearAndLogAxes) {
  HistogramSpec spec = PixelHistogram();
  ASSERT_TRUE(RenderPlot(spec).ok());
  spec.log_y = false;
  ASSERT_TRUE(RenderPlot(spec).ok());
  spec.counts.assign(10, 0);  // nothing counted at all
  ASSERT_TRUE(RenderPlot(spec).ok());
  spec.log_y = true;
  ASSERT_TRUE(RenderPlot(spec).ok());
}

TEST(ReportHistogramTest, RejectsBadBinsAndCounts) {
  HistogramSpec spec = PixelHistogram();
  spec.counts[7] = -1;
  Status status = RenderPlot(spec).status();
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(status.message().find("counts[7]"), std::string::npos) << status.message();
  spec = PixelHistogram();
  spec.bin_width = 0;
  EXPECT_EQ(RenderPlot(spec).status().code(), ErrorCode::kInvalidArgument);
}

TEST(ReportImageGridTest, PixelsAreMagnifiedWithoutBlending) {
  ImageGridSpec spec;
  spec.scale = 10;
  const std::uint8_t checkerboard[] = {0, 255, 255, 0};
  spec.images.push_back(GridImage::FromBytes(2, 2, checkerboard, "check"));
  ScratchDir dir;
  ASSERT_TRUE(WritePlot(spec, dir.Stem("grid")).ok());
  Picture picture = DecodePng(dir.Stem("grid") + ".png");
  size_t black = 0;
  size_t grey = 0;
  for (std::uint32_t pixel : picture.pixels) {
    black += pixel == 0 ? 1 : 0;
    std::uint32_t blue = pixel & 0xFF;
    bool neutral = pixel == (blue * 0x010101);
    grey += neutral && blue > 40 && blue < 180 ? 1 : 0;  // a blend of black and white
  }
  EXPECT_EQ(black, 2u * 10 * 10);  // two black pixels, 10 x 10 each, and nothing else black
  EXPECT_LT(grey, 60u);            // only the caption's anti-aliased edges
}

TEST(ReportImageGridTest, MeanImagesUseTheValueRangeAndInvert) {
  ImageGridSpec spec;
  spec.value_min = 0;
  spec.value_max = 1;
  spec.invert = true;
  spec.scale = 4;
  GridImage mean;
  mean.height = 1;
  mean.width = 3;
  mean.pixels = {0, 0.5, NAN};
  spec.images.push_back(mean);
  ASSERT_TRUE(RenderPlot(spec).ok());
}

TEST(ReportImageGridTest, RejectsInconsistentSpecs) {
  ImageGridSpec spec = SampleGrid();
  spec.images[5].pixels.pop_back();
  Status status = RenderPlot(spec).status();
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(status.message().find("images[5] has 783 pixels"), std::string::npos)
      << status.message();

  spec = SampleGrid();
  spec.row_labels.pop_back();
  EXPECT_NE(RenderPlot(spec).status().message().find("row_labels has 9 entries for 10 rows"),
            std::string::npos);
  spec = SampleGrid();
  spec.images[3] = GridImage::FromBytes(1, 1, std::vector<std::uint8_t>{0}, "");
  EXPECT_NE(RenderPlot(spec).status().message().find("images[3] is 1x1"), std::string::npos);
  EXPECT_EQ(RenderPlot(ImageGridSpec{}).status().code(), ErrorCode::kInvalidArgument);
}

TEST(ReportWritePlotErrorTest, MissingDirectoryIsNotFoundAndNamesThePath) {
  ScratchDir dir;
  std::string stem = dir.Stem("no-such-dir/plot");
  Status status = WritePlot(LabelCounts(), stem);
  EXPECT_EQ(status.code(), ErrorCode::kNotFound);
  EXPECT_NE(status.message().find(stem + ".png"), std::string::npos) << status.message();
}

TEST(ReportWritePlotErrorTest, AFileInPlaceOfTheDirectoryIsNotFound) {
  ScratchDir dir;
  std::ofstream(dir.path() / "file") << "not a directory";
  Status status = WritePlot(LabelCounts(), dir.Stem("file/plot"));
  EXPECT_EQ(status.code(), ErrorCode::kNotFound);
  EXPECT_NE(status.message().find("file/plot.png"), std::string::npos) << status.message();
}

TEST(ReportWritePlotErrorTest, ReadOnlyDirectoryIsPermissionDenied) {
  if (geteuid() == 0) GTEST_SKIP() << "root writes into read-only directories";
  ScratchDir dir;
  fs::create_directory(dir.path() / "read-only");
  fs::permissions(dir.path() / "read-only", fs::perms::owner_read | fs::perms::owner_exec);
  std::string stem = dir.Stem("read-only/plot");
  Status status = WritePlot(LabelCounts(), stem);
  EXPECT_EQ(status.code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(status.message().find(stem + ".png"), std::string::npos) << status.message();
  fs::permissions(dir.path() / "read-only", fs::perms::owner_all);
}

TEST(ReportWritePlotErrorTest, ADirectoryInPlaceOfTheFileIsInvalid) {
  ScratchDir dir;
  fs::create_directory(dir.path() / "plot.png");
  Status status = WritePlot(LabelCounts(), dir.Stem("plot"));
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(status.message().find("plot.png"), std::string::npos);
  EXPECT_EQ(WriteRenderedPlot(RenderedPlot{}, "").code(), ErrorCode::kInvalidArgument);
}

TEST(ReportNormaliseSvgIdsTest, RenumbersProcessWideIdsInOrderOfAppearance) {
  std::string svg =
      "<image id=\"image42\"/><use xlink:href=\"#image42\"/><use xlink:href=\"#glyph0-3\"/>"
      "<g id=\"surface17\"><path style=\"fill:url(#pattern9);\"/><image id=\"image7\"/></g>";
  EXPECT_EQ(NormaliseSvgIds(svg),
            "<image id=\"image1\"/><use xlink:href=\"#image1\"/><use xlink:href=\"#glyph0-3\"/>"
            "<g id=\"surface1\"><path style=\"fill:url(#pattern1);\"/><image id=\"image2\"/></g>");
}

}  // namespace
}  // namespace labbook::report
