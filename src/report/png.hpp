// Raw images as PNG files: dataset samples served by `labbook serve` and drawn into reports.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "labbook/status.hpp"

namespace labbook::report {

// Encodes a height x width image of unsigned bytes, `pixels` in (height, width, channels) order,
// as the bytes of a PNG file: 8-bit greyscale for 1 channel, 8-bit RGB for 3. Each pixel becomes
// a `scale` x `scale` block (nearest neighbour), so small images stay crisp when enlarged.
// InvalidArgument when channels is not 1 or 3, a side or the scale is below 1, the enlarged image
// is wider or higher than 16384 pixels, or pixels.size() is not height * width * channels;
// Internal when cairo fails. Thread-safe.
[[nodiscard]] Result<std::string> EncodePng(std::span<const std::uint8_t> pixels, int height,
                                            int width, int channels, int scale = 1);

}  // namespace labbook::report
