// A tiny image dataset that any working trainer separates within a few epochs: 8x8 grey images
// of horizontal stripes (class 0) or vertical stripes (class 1), with a random phase and noise.
// Shared by the trainer tests (in memory) and the CLI tests (as an idx:DIR directory).
#pragma once

#include <cstdint>
#include <string>

#include "labbook/dataset.hpp"
#include "nn/random.hpp"

namespace labbook::testing {

inline ImageSet MakeStripes(int64_t count, uint64_t seed, int size = 8) {
  ImageSet set;
  set.count = count;
  set.rows = size;
  set.cols = size;
  set.channels = 1;
  nn::Xoshiro256 rng(seed);
  for (int64_t i = 0; i < count; ++i) {
    const int label = static_cast<int>(rng.Next() % 2);
    const int phase = static_cast<int>(rng.Next() % 2);
    for (int r = 0; r < size; ++r) {
      for (int c = 0; c < size; ++c) {
        const int coordinate = label == 0 ? r : c;
        const double base = (coordinate + phase) % 2 == 0 ? 200.0 : 40.0;
        const double value = base + (rng.Uniform() - 0.5) * 80.0;
        set.pixels.push_back(static_cast<uint8_t>(value < 0 ? 0 : value > 255 ? 255 : value));
      }
    }
    set.labels.push_back(static_cast<uint8_t>(label));
  }
  return set;
}

inline Dataset MakeStripesDataset(int64_t train_count = 400, int64_t test_count = 100) {
  Dataset d;
  d.name = "stripes";
  d.class_names = {"horizontal", "vertical"};
  d.num_classes = 2;
  d.train = MakeStripes(train_count, 11);
  d.test = MakeStripes(test_count, 12);
  return d;
}

// Writes `dataset` as the four MNIST-named IDX files in `dir` (which must exist), so that
// LoadDataset("idx:" + dir) reads it back.
inline Status WriteIdxDataset(const Dataset& dataset, const std::string& dir) {
  auto write = [&dir](const std::string& name, const ImageSet& set, bool labels) {
    IdxArray array;
    if (labels) {
      array.dims = {static_cast<int32_t>(set.count)};
      array.bytes = set.labels;
    } else {
      array.dims = {static_cast<int32_t>(set.count), set.rows, set.cols};
      array.bytes = set.pixels;
    }
    return WriteIdx(dir + "/" + name, array, /*gzip=*/false);
  };
  for (const Status& s : {write("train-images-idx3-ubyte", dataset.train, false),
                          write("train-labels-idx1-ubyte", dataset.train, true),
                          write("t10k-images-idx3-ubyte", dataset.test, false),
                          write("t10k-labels-idx1-ubyte", dataset.test, true)}) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace labbook::testing
