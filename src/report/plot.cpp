#include "report/plot.hpp"

#include <cairo.h>
#include <fontconfig/fontconfig.h>

#include "core/status_macros.hpp"
#include "report/canvas.hpp"

namespace labbook::report {
namespace {

template <typename Spec>
Status RenderAndWrite(const Spec& spec, const std::string& path_stem) {
  LABBOOK_ASSIGN_OR_RETURN(RenderedPlot plot, RenderPlot(spec));
  return WriteRenderedPlot(plot, path_stem);
}

}  // namespace

GridImage GridImage::FromBytes(int height, int width, std::span<const std::uint8_t> pixels,
                               std::string caption) {
  GridImage image;
  image.height = height;
  image.width = width;
  image.pixels.assign(pixels.begin(), pixels.end());
  image.caption = std::move(caption);
  return image;
}

Status WriteRenderedPlot(const RenderedPlot& plot, const std::string& path_stem) {
  if (path_stem.empty()) return InvalidArgument("plot path is empty");
  LABBOOK_RETURN_IF_ERROR(WriteFileBytes(path_stem + ".png", plot.png));
  return WriteFileBytes(path_stem + ".svg", plot.svg);
}

Status WritePlot(const HeatmapSpec& spec, const std::string& path_stem) {
  return RenderAndWrite(spec, path_stem);
}
Status WritePlot(const LineChartSpec& spec, const std::string& path_stem) {
  return RenderAndWrite(spec, path_stem);
}
Status WritePlot(const BarChartSpec& spec, const std::string& path_stem) {
  return RenderAndWrite(spec, path_stem);
}
Status WritePlot(const HistogramSpec& spec, const std::string& path_stem) {
  return RenderAndWrite(spec, path_stem);
}
Status WritePlot(const ImageGridSpec& spec, const std::string& path_stem) {
  return RenderAndWrite(spec, path_stem);
}

void ReleaseRenderingCaches() {
  cairo_debug_reset_static_data();
  FcFini();
}

}  // namespace labbook::report
