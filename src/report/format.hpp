// Number and text formatting shared by terminal tables, plots and reports. Internal to src/report.
#pragma once

#include <string>
#include <string_view>

namespace labbook::report {

// `value` with `decimals` digits after the point: FormatFixed(0.91349, 3) is "0.913". NaN is
// "n/a", infinities are "inf" and "-inf", and a value that rounds to zero is never "-0.000".
// Negative `decimals` count as 0.
std::string FormatFixed(double value, int decimals);

// `text` with &, <, > and " escaped, for the text and attribute values of HTML, SVG and XML.
std::string EscapeMarkup(std::string_view text);

}  // namespace labbook::report
