// Keras' model.summary() for a labbook model: one row per layer with its output shape, written
// as Keras writes it ((None, height, width, channels), channels last, although labbook computes
// in NCHW), so the table compares line by line with Keras'; then the parameter totals.
#pragma once

#include <string>
#include <vector>

#include "labbook/status.hpp"
#include "nn/spec.hpp"

namespace labbook::train {

// The summary table of a model with the given layers (from nn::InferShapes). Columns widen to fit
// long names instead of wrapping them; lines carry no trailing spaces.
std::string FormatModelSummary(const std::vector<nn::LayerInfo>& layers,
                               const std::string& model_name = "sequential");

// "(None, 26, 26, 32)" or "(None, 10)".
std::string KerasShape(const nn::SampleShape& shape);

}  // namespace labbook::train
