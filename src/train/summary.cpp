#include "train/summary.hpp"

#include <algorithm>

namespace labbook::train {
namespace {

std::string Count(int64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string Pad(std::string text, size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}

std::string RightTrimmed(std::string text) {
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

}  // namespace

std::string KerasShape(const nn::SampleShape& shape) {
  if (shape.flat) return "(None, " + std::to_string(shape.channels) + ")";
  return "(None, " + std::to_string(shape.height) + ", " + std::to_string(shape.width) + ", " +
         std::to_string(shape.channels) + ")";
}

std::string FormatModelSummary(const std::vector<nn::LayerInfo>& layers,
                               const std::string& model_name) {
  struct Row {
    std::string layer, shape, params;
  };
  std::vector<Row> rows;
  int64_t total = 0;
  for (const nn::LayerInfo& layer : layers) {
    rows.push_back({" " + layer.name + " (" + layer.type + ")", KerasShape(layer.output),
                    std::to_string(layer.param_count())});
    total += layer.param_count();
  }
  const int64_t trainable = nn::TrainableParamCount(layers);

  // Keras' default column stops are 29, 55 and 65 characters.
  size_t first = 29, second = 26;
  for (const Row& row : rows) {
    first = std::max(first, row.layer.size() + 2);
    second = std::max(second, row.shape.size() + 2);
  }
  const size_t width = std::max<size_t>(65, first + second + 10);
  std::string out = "Model: \"" + model_name + "\"\n";
  out += std::string(width, '_') + "\n";
  out += RightTrimmed(Pad(" Layer (type)", first) + Pad("Output Shape", second) + "Param #") + "\n";
  out += std::string(width, '=') + "\n";
  for (const Row& row : rows) {
    out += RightTrimmed(Pad(row.layer, first) + Pad(row.shape, second) + row.params) + "\n";
  }
  out += std::string(width, '=') + "\n";
  out += "Total params: " + Count(total) + "\n";
  out += "Trainable params: " + Count(trainable) + "\n";
  out += "Non-trainable params: " + Count(total - trainable) + "\n";
  out += std::string(width, '_') + "\n";
  return out;
}

}  // namespace labbook::train
