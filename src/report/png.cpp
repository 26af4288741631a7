#include "report/png.hpp"

#include <cairo.h>

#include <memory>

namespace labbook::report {
namespace {

constexpr int kMaxSide = 16384;

cairo_status_t AppendToString(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

struct SurfaceDeleter {
  void operator()(cairo_surface_t* surface) const { cairo_surface_destroy(surface); }
};

}  // namespace

Result<std::string> EncodePng(std::span<const std::uint8_t> pixels, int height, int width,
                              int channels, int scale) {
  if (channels != 1 && channels != 3) {
    return InvalidArgument("PNG encoding: channels is " + std::to_string(channels) +
                           "; expected 1 (greyscale) or 3 (RGB)");
  }
  if (height < 1 || width < 1 || scale < 1) {
    return InvalidArgument("PNG encoding: height " + std::to_string(height) + ", width " +
                           std::to_string(width) + " and scale " + std::to_string(scale) +
                           " must all be at least 1");
  }
  if (static_cast<int64_t>(height) * scale > kMaxSide ||
      static_cast<int64_t>(width) * scale > kMaxSide) {
    return InvalidArgument("PNG encoding: " + std::to_string(height) + "x" + std::to_string(width) +
                           " scaled " + std::to_string(scale) + " times is over " +
                           std::to_string(kMaxSide) + " pixels a side");
  }
  const size_t expected =
      static_cast<size_t>(height) * static_cast<size_t>(width) * static_cast<size_t>(channels);
  if (pixels.size() != expected) {
    return InvalidArgument("PNG encoding: " + std::to_string(pixels.size()) + " bytes for a " +
                           std::to_string(height) + "x" + std::to_string(width) + "x" +
                           std::to_string(channels) + " image; expected " +
                           std::to_string(expected));
  }
  // cairo writes an A8 surface as an 8-bit greyscale PNG (the alpha bytes as grey levels) and an
  // RGB24 surface as 8-bit RGB.
  const int out_height = height * scale;
  const int out_width = width * scale;
  std::unique_ptr<cairo_surface_t, SurfaceDeleter> surface(cairo_image_surface_create(
      channels == 1 ? CAIRO_FORMAT_A8 : CAIRO_FORMAT_RGB24, out_width, out_height));
  cairo_status_t status = cairo_surface_status(surface.get());
  if (status != CAIRO_STATUS_SUCCESS) {
    return Internal(std::string("cairo failed to create a PNG surface: ") +
                    cairo_status_to_string(status));
  }
  cairo_surface_flush(surface.get());
  unsigned char* data = cairo_image_surface_get_data(surface.get());
  const int stride = cairo_image_surface_get_stride(surface.get());
  for (int y = 0; y < out_height; ++y) {
    unsigned char* row = data + static_cast<size_t>(y) * static_cast<size_t>(stride);
    const std::uint8_t* source =
        pixels.data() + static_cast<size_t>(y / scale) * static_cast<size_t>(width) * channels;
    for (int x = 0; x < out_width; ++x) {
      const std::uint8_t* pixel = source + static_cast<size_t>(x / scale) * channels;
      if (channels == 1) {
        row[x] = pixel[0];
      } else {
        reinterpret_cast<std::uint32_t*>(row)[x] =
            (std::uint32_t{pixel[0]} << 16) | (std::uint32_t{pixel[1]} << 8) | pixel[2];
      }
    }
  }
  cairo_surface_mark_dirty(surface.get());
  std::string png;
  status = cairo_surface_write_to_png_stream(surface.get(), AppendToString, &png);
  if (status != CAIRO_STATUS_SUCCESS) {
    return Internal(std::string("cairo failed to write a PNG: ") + cairo_status_to_string(status));
  }
  return png;
}

}  // namespace labbook::report
