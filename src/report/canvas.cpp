#include "report/canvas.hpp"

#include <cairo-svg.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <map>
#include <system_error>
#include <vector>

#include "core/status_macros.hpp"
#include "report/format.hpp"

namespace labbook::report {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kMaxPictureSide = 16384;

double Linearise(double c) { return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4); }

void SetSource(cairo_t* cr, Rgb c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); }

// Unhinted metrics keep text widths equal on the image and the SVG surface, so one layout serves
// both; slight outline hinting only sharpens the PNG's glyphs.
void ApplyFontOptions(cairo_t* cr) {
  cairo_font_options_t* options = cairo_font_options_create();
  cairo_font_options_set_antialias(options, CAIRO_ANTIALIAS_GRAY);
  cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_SLIGHT);
  cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF);
  cairo_set_font_options(cr, options);
  cairo_font_options_destroy(options);
}

// Length in bytes of the UTF-8 sequence that starts with `lead`.
size_t Utf8SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;  // a stray continuation byte: step over it alone
}

cairo_status_t AppendToString(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

Status CairoError(std::string_view what, cairo_status_t status) {
  return Internal("cairo failed to " + std::string(what) + ": " + cairo_status_to_string(status));
}

std::string InsertSvgTitle(std::string svg, std::string_view title) {
  if (title.empty()) return svg;
  size_t tag = svg.find("<svg");
  if (tag == std::string::npos) return svg;
  size_t end = svg.find('>', tag);
  if (end == std::string::npos) return svg;
  svg.insert(end + 1, "\n<title>" + EscapeMarkup(title) + "</title>");
  return svg;
}

Result<std::string> RenderPng(int width, int height, const std::function<void(Canvas&)>& draw) {
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  cairo_t* cr = cairo_create(surface);
  ApplyFontOptions(cr);
  SetSource(cr, theme::kBackground);
  cairo_paint(cr);
  Canvas canvas(cr);
  draw(canvas);
  cairo_status_t status = cairo_status(cr);
  cairo_destroy(cr);
  std::string png;
  if (status == CAIRO_STATUS_SUCCESS) {
    cairo_surface_flush(surface);
    status = cairo_surface_write_to_png_stream(surface, AppendToString, &png);
  }
  cairo_surface_destroy(surface);
  if (status != CAIRO_STATUS_SUCCESS) return CairoError("render the PNG", status);
  return png;
}

Result<std::string> RenderSvg(int width, int height, const std::function<void(Canvas&)>& draw) {
  std::string svg;
  cairo_surface_t* surface =
      cairo_svg_surface_create_for_stream(AppendToString, &svg, width, height);
  cairo_svg_surface_restrict_to_version(surface, CAIRO_SVG_VERSION_1_1);
  cairo_svg_surface_set_document_unit(surface, CAIRO_SVG_UNIT_PX);
  cairo_t* cr = cairo_create(surface);
  ApplyFontOptions(cr);
  SetSource(cr, theme::kBackground);
  cairo_paint(cr);
  Canvas canvas(cr);
  draw(canvas);
  cairo_status_t status = cairo_status(cr);
  cairo_destroy(cr);
  cairo_surface_finish(surface);
  if (status == CAIRO_STATUS_SUCCESS) status = cairo_surface_status(surface);
  cairo_surface_destroy(surface);
  if (status != CAIRO_STATUS_SUCCESS) return CairoError("render the SVG", status);
  return svg;
}

}  // namespace

double RelativeLuminance(Rgb colour) {
  return 0.2126 * Linearise(colour.r) + 0.7152 * Linearise(colour.g) + 0.0722 * Linearise(colour.b);
}

Canvas::Canvas(cairo_t* cr) : cr_(cr) { SetFont(theme::kTickLabelSize); }

void Canvas::SetFont(double size, bool bold) {
  cairo_select_font_face(cr_, theme::kFontFamily, CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr_, size);
}

double Canvas::TextWidth(std::string_view text) const {
  cairo_text_extents_t extents;
  cairo_text_extents(cr_, std::string(text).c_str(), &extents);
  return extents.x_advance;
}

double Canvas::Ascent() const {
  cairo_font_extents_t extents;
  cairo_font_extents(cr_, &extents);
  return extents.ascent;
}

double Canvas::Descent() const {
  cairo_font_extents_t extents;
  cairo_font_extents(cr_, &extents);
  return extents.descent;
}

double Canvas::CapHeight() const {
  cairo_text_extents_t extents;
  cairo_text_extents(cr_, "H", &extents);
  return -extents.y_bearing;
}

void Canvas::Text(std::string_view text, double x, double y, HAlign h, VAlign v, Rgb colour,
                  double degrees) {
  if (text.empty()) return;
  std::string owned(text);
  double width = TextWidth(owned);
  double dx = h == HAlign::kLeft ? 0 : h == HAlign::kCenter ? -width / 2 : -width;
  double dy = 0;
  switch (v) {
    case VAlign::kTop:
      dy = Ascent();
      break;
    case VAlign::kMiddle:
      dy = CapHeight() / 2;
      break;
    case VAlign::kBaseline:
      dy = 0;
      break;
    case VAlign::kBottom:
      dy = -Descent();
      break;
  }
  cairo_save(cr_);
  cairo_translate(cr_, x, y);
  if (degrees != 0) cairo_rotate(cr_, degrees * kPi / 180);
  cairo_move_to(cr_, dx, dy);
  SetSource(cr_, colour);
  cairo_show_text(cr_, owned.c_str());
  cairo_new_path(cr_);
  cairo_restore(cr_);
}

std::string Canvas::Ellipsize(std::string_view text, double max_width) const {
  if (TextWidth(text) <= max_width) return std::string(text);
  static constexpr std::string_view kEllipsis = "\u2026";
  // Code-point boundaries, so a cut never splits a UTF-8 sequence.
  std::vector<size_t> ends;
  for (size_t i = 0; i < text.size();) {
    i += Utf8SequenceLength(static_cast<unsigned char>(text[i]));
    ends.push_back(std::min(i, text.size()));
  }
  for (size_t n = ends.size(); n-- > 0;) {
    std::string candidate(text.substr(0, ends[n]));
    candidate += kEllipsis;
    if (TextWidth(candidate) <= max_width) return candidate;
  }
  return std::string(kEllipsis);
}

void Canvas::FillRect(const Rect& rect, Rgb colour) {
  cairo_rectangle(cr_, rect.x, rect.y, rect.width, rect.height);
  SetSource(cr_, colour);
  cairo_fill(cr_);
}

void Canvas::StrokeCrispRect(const Rect& rect, Rgb colour) {
  cairo_save(cr_);
  cairo_rectangle(cr_, std::round(rect.x) + 0.5, std::round(rect.y) + 0.5,
                  std::round(rect.width) - 1, std::round(rect.height) - 1);
  SetSource(cr_, colour);
  cairo_set_line_width(cr_, 1);
  cairo_stroke(cr_);
  cairo_restore(cr_);
}

void Canvas::CrispHLine(double x0, double x1, double y, Rgb colour) {
  cairo_save(cr_);
  double py = std::floor(y) + 0.5;
  cairo_move_to(cr_, x0, py);
  cairo_line_to(cr_, x1, py);
  SetSource(cr_, colour);
  cairo_set_line_width(cr_, 1);
  cairo_stroke(cr_);
  cairo_restore(cr_);
}

void Canvas::CrispVLine(double x, double y0, double y1, Rgb colour) {
  cairo_save(cr_);
  double px = std::floor(x) + 0.5;
  cairo_move_to(cr_, px, y0);
  cairo_line_to(cr_, px, y1);
  SetSource(cr_, colour);
  cairo_set_line_width(cr_, 1);
  cairo_stroke(cr_);
  cairo_restore(cr_);
}

MeasuringCanvas::MeasuringCanvas()
    : surface_(cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1)),
      cr_(cairo_create(surface_)),
      canvas_(cr_) {
  ApplyFontOptions(cr_);
}

MeasuringCanvas::~MeasuringCanvas() {
  cairo_destroy(cr_);
  cairo_surface_destroy(surface_);
}

Result<RenderedPlot> RenderPicture(int width, int height, std::string_view title,
                                   const std::function<void(Canvas&)>& draw) {
  if (width < 1 || height < 1 || width > kMaxPictureSide || height > kMaxPictureSide) {
    return InvalidArgument("picture size " + std::to_string(width) + "x" + std::to_string(height) +
                           " is outside 1.." + std::to_string(kMaxPictureSide) + " pixels a side");
  }
  RenderedPlot plot;
  LABBOOK_ASSIGN_OR_RETURN(plot.png, RenderPng(width, height, draw));
  LABBOOK_ASSIGN_OR_RETURN(std::string svg, RenderSvg(width, height, draw));
  plot.svg = InsertSvgTitle(NormaliseSvgIds(svg), title);
  return plot;
}

std::string NormaliseSvgIds(std::string_view svg) {
  // Only whole ids of the form <letters><digits> are renumbered; glyph ids ("glyph0-3") are
  // already per document.
  std::map<std::string, int, std::less<>> next_number;      // per prefix
  std::map<std::string, std::string, std::less<>> renamed;  // old id -> new id
  std::string out;
  out.reserve(svg.size());
  size_t i = 0;
  auto is_lower = [](char c) { return c >= 'a' && c <= 'z'; };
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  while (i < svg.size()) {
    size_t start = std::string_view::npos;
    if (svg[i] == '#') {
      start = i + 1;
    } else if (svg.compare(i, 4, "id=\"") == 0) {
      start = i + 4;
    }
    if (start == std::string_view::npos) {
      out += svg[i++];
      continue;
    }
    size_t p = start;
    while (p < svg.size() && is_lower(svg[p])) ++p;
    size_t digits = p;
    while (p < svg.size() && is_digit(svg[p])) ++p;
    bool whole_id =
        digits > start && p > digits && (p == svg.size() || svg[p] == '"' || svg[p] == ')');
    out.append(svg.substr(i, start - i));
    if (whole_id) {
      std::string old_id(svg.substr(start, p - start));
      auto it = renamed.find(old_id);
      if (it == renamed.end()) {
        std::string prefix(svg.substr(start, digits - start));
        int number = ++next_number[prefix];
        it = renamed.emplace(old_id, prefix + std::to_string(number)).first;
      }
      out += it->second;
      i = p;
    } else {
      i = start;
    }
  }
  return out;
}

std::string PlotName(std::string_view kind, std::string_view title) {
  std::string name(kind);
  if (!title.empty()) name += " \"" + std::string(title) + "\"";
  return name;
}

Status WriteFileBytes(const std::string& path, std::string_view bytes) {
  auto failure = [&path](int error) -> Status {
    std::string message =
        "cannot write '" + path + "': " + std::error_code(error, std::generic_category()).message();
    switch (error) {
      case ENOENT:
      case ENOTDIR:
        return NotFound(message);
      case EACCES:
      case EPERM:
      case EROFS:
        return PermissionDenied(message);
      case ENOSPC:
      case EDQUOT:
      case EFBIG:
        return ResourceExhausted(message);
      case EISDIR:
        return InvalidArgument(message);
      default:
        return Status(ErrorCode::kUnavailable, message);
    }
  };
  if (path.empty()) return InvalidArgument("cannot write a file with an empty path");
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return failure(errno);
  size_t written = std::fwrite(bytes.data(), 1, bytes.size(), file);
  int write_error = written == bytes.size() ? 0 : errno;
  if (std::fclose(file) != 0 && write_error == 0) write_error = errno;
  if (write_error != 0) return failure(write_error);
  return Status::Ok();
}

}  // namespace labbook::report
