// Image grids: dataset samples and per-class mean images.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>

#include "core/status_macros.hpp"
#include "report/canvas.hpp"
#include "report/plot.hpp"

namespace labbook::report {
namespace {

constexpr double kCaptionSize = 11;
constexpr double kRowLabelSize = 12;
constexpr double kColumnGap = 12;
constexpr double kRowGap = 10;
constexpr double kCaptionGap = 3;
constexpr double kRowLabelGap = 10;
constexpr double kMaxRowLabel = 190;  // longer row labels are shortened with an ellipsis
constexpr double kTitleGap = 12;
constexpr int kMaxScale = 32;
constexpr double kAutoImageSide = 80;
constexpr Rgb kImageFrame = HexColour(0xC8C8C8);

Status Validate(const ImageGridSpec& spec) {
  std::string name = PlotName("image grid", spec.title);
  if (spec.images.empty()) return InvalidArgument(name + ": images is empty");
  const GridImage& first = spec.images[0];
  for (size_t i = 0; i < spec.images.size(); ++i) {
    const GridImage& image = spec.images[i];
    std::string where = name + ": images[" + std::to_string(i) + "]";
    if (image.height < 1 || image.width < 1) {
      return InvalidArgument(where + " has no pixels (" + std::to_string(image.height) + "x" +
                             std::to_string(image.width) + ")");
    }
    if (image.height != first.height || image.width != first.width) {
      return InvalidArgument(where + " is " + std::to_string(image.height) + "x" +
                             std::to_string(image.width) + " but images[0] is " +
                             std::to_string(first.height) + "x" + std::to_string(first.width));
    }
    size_t expected = static_cast<size_t>(image.height) * static_cast<size_t>(image.width);
    if (image.pixels.size() != expected) {
      return InvalidArgument(where + " has " + std::to_string(image.pixels.size()) +
                             " pixels; height x width is " + std::to_string(expected));
    }
  }
  if (spec.columns < 0) return InvalidArgument(name + ": columns must be >= 0");
  if (!std::isfinite(spec.value_min) || !std::isfinite(spec.value_max) ||
      !(spec.value_min < spec.value_max)) {
    return InvalidArgument(name + ": value_min and value_max must be finite, min below max");
  }
  if (spec.scale < 0 || spec.scale > kMaxScale) {
    return InvalidArgument(name + ": scale " + std::to_string(spec.scale) +
                           " is outside 1..32 (or 0 for automatic)");
  }
  return Status::Ok();
}

struct SurfaceDeleter {
  void operator()(cairo_surface_t* surface) const { cairo_surface_destroy(surface); }
};
using SurfacePtr = std::unique_ptr<cairo_surface_t, SurfaceDeleter>;

// The picture magnified `scale` times by repeating pixels, so it stays crisp in both the PNG and
// the SVG (whose viewers would otherwise smooth a scaled-up image).
SurfacePtr MagnifiedGrey(const GridImage& image, const ImageGridSpec& spec, int scale) {
  int width = image.width * scale;
  int height = image.height * scale;
  SurfacePtr surface(cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height));
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS) return surface;
  cairo_surface_flush(surface.get());
  unsigned char* data = cairo_image_surface_get_data(surface.get());
  int stride = cairo_image_surface_get_stride(surface.get());
  double range = spec.value_max - spec.value_min;
  for (int y = 0; y < height; ++y) {
    auto* row = reinterpret_cast<std::uint32_t*>(data + static_cast<size_t>(y) * stride);
    const double* source = image.pixels.data() + static_cast<size_t>(y / scale) * image.width;
    for (int x = 0; x < width; ++x) {
      double v = source[x / scale];
      double t = std::isfinite(v) ? std::clamp((v - spec.value_min) / range, 0.0, 1.0) : 0.5;
      if (spec.invert) t = 1 - t;
      auto grey = static_cast<std::uint32_t>(std::lround(t * 255));
      row[x] = (grey << 16) | (grey << 8) | grey;
    }
  }
  cairo_surface_mark_dirty(surface.get());
  return surface;
}

}  // namespace

Result<RenderedPlot> RenderPlot(const ImageGridSpec& spec) {
  LABBOOK_RETURN_IF_ERROR(Validate(spec));
  const size_t count = spec.images.size();
  const size_t columns =
      spec.columns > 0 ? static_cast<size_t>(spec.columns)
                       : static_cast<size_t>(std::ceil(std::sqrt(static_cast<double>(count))));
  const size_t rows = (count + columns - 1) / columns;
  std::string name = PlotName("image grid", spec.title);
  if (!spec.row_labels.empty() && spec.row_labels.size() != rows) {
    return InvalidArgument(name + ": row_labels has " + std::to_string(spec.row_labels.size()) +
                           " entries for " + std::to_string(rows) + " rows");
  }
  const GridImage& first = spec.images[0];
  int scale = spec.scale > 0
                  ? spec.scale
                  : std::max(1, static_cast<int>(std::lround(kAutoImageSide /
                                                             std::max(first.height, first.width))));
  const double image_width = first.width * scale;
  const double image_height = first.height * scale;

  MeasuringCanvas measuring;
  Canvas& m = measuring.canvas();
  bool captions = std::any_of(spec.images.begin(), spec.images.end(),
                              [](const GridImage& image) { return !image.caption.empty(); });
  m.SetFont(kCaptionSize);
  double caption_block = captions ? kCaptionGap + m.LineHeight() : 0;
  std::vector<std::string> caption_text;
  for (const GridImage& image : spec.images) {
    caption_text.push_back(m.Ellipsize(image.caption, image_width + kColumnGap - 4));
  }
  m.SetFont(kRowLabelSize);
  double row_labels_width = 0;
  std::vector<std::string> row_labels;
  for (const std::string& label : spec.row_labels) {
    row_labels.push_back(m.Ellipsize(label, kMaxRowLabel));
    row_labels_width = std::max(row_labels_width, m.TextWidth(row_labels.back()));
  }

  double left = theme::kMargin + (spec.row_labels.empty() ? 0 : row_labels_width + kRowLabelGap);
  double top = theme::kMargin;
  std::string title;
  double grid_width = columns * (image_width + kColumnGap) - kColumnGap;
  if (!spec.title.empty()) {
    m.SetFont(theme::kTitleSize, true);
    title = m.Ellipsize(spec.title, std::max(grid_width, 600.0));
    top += m.LineHeight() + kTitleGap;
  }
  double content_right = left + grid_width + theme::kMargin;
  double title_right = m.TextWidth(title) + 2 * theme::kMargin;
  int width = static_cast<int>(std::ceil(std::max(content_right, title_right)));
  double cell_height = image_height + caption_block + kRowGap;
  int height = static_cast<int>(std::ceil(top + rows * cell_height - kRowGap + theme::kMargin));
  left = std::round(left);
  top = std::round(top);

  std::vector<SurfacePtr> surfaces;
  for (const GridImage& image : spec.images) {
    surfaces.push_back(MagnifiedGrey(image, spec, scale));
    cairo_status_t status = cairo_surface_status(surfaces.back().get());
    if (status != CAIRO_STATUS_SUCCESS) {
      return Internal(name + ": cairo could not make an image: " + cairo_status_to_string(status));
    }
  }

  return RenderPicture(width, height, spec.title, [&](Canvas& canvas) {
    cairo_t* cr = canvas.cr();
    for (size_t k = 0; k < count; ++k) {
      double x = left + (k % columns) * (image_width + kColumnGap);
      double y = top + (k / columns) * cell_height;
      cairo_save(cr);
      cairo_set_source_surface(cr, surfaces[k].get(), x, y);
      cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
      cairo_rectangle(cr, x, y, image_width, image_height);
      cairo_fill(cr);
      cairo_restore(cr);
      canvas.StrokeCrispRect({x - 1, y - 1, image_width + 2, image_height + 2}, kImageFrame);
      if (!caption_text[k].empty()) {
        canvas.SetFont(kCaptionSize);
        canvas.Text(caption_text[k], x + image_width / 2, y + image_height + kCaptionGap,
                    HAlign::kCenter, VAlign::kTop, theme::kText);
      }
    }
    canvas.SetFont(kRowLabelSize);
    for (size_t r = 0; r < row_labels.size(); ++r) {
      canvas.Text(row_labels[r], left - kRowLabelGap, top + r * cell_height + image_height / 2,
                  HAlign::kRight, VAlign::kMiddle, theme::kText);
    }
    if (!title.empty()) {
      canvas.SetFont(theme::kTitleSize, true);
      double half = canvas.TextWidth(title) / 2;
      double centre =
          std::clamp(left + grid_width / 2, theme::kMargin + half, width - theme::kMargin - half);
      canvas.Text(title, centre, theme::kMargin, HAlign::kCenter, VAlign::kTop, theme::kText);
    }
  });
}

}  // namespace labbook::report
