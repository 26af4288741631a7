// The trainer's output for people, after Keras' progress bar. On a terminal each epoch gets a
// bar redrawn in place with '\r' at most ten times a second ("211/422 [=====>....] - ETA: 6s -
// 4,512 samples/s - loss: 0.5123 - accuracy: 0.8190"), which becomes the epoch's summary line
// once validation is done ("422/422 [==========] - 12s - 4,498 samples/s - loss: 0.5011 -
// accuracy: 0.8232 - val_loss: 0.4620 - val_accuracy: 0.8390"). Elsewhere (a file, a pipe, a CI
// log) only the summary is written, one line per epoch: "Epoch 3/15 - 12s - 4,498 samples/s -
// loss: 0.5011 - ...".
#pragma once

#include <cstdio>
#include <functional>
#include <string>

#include "train/trainer.hpp"

namespace labbook::train {

class ProgressBar final : public Callback {
 public:
  // Seconds on a monotonic clock; replaceable so that tests control time.
  using Clock = std::function<double()>;
  static double SteadySeconds();

  // Writes to `out` (borrowed); `live` selects the redrawn bar (pass whether `out` is a
  // terminal).
  ProgressBar(std::FILE* out, bool live, Clock clock = &SteadySeconds);

  void OnTrainBegin(const TrainInfo& info) override;
  void OnEpochBegin(int epoch) override;
  void OnBatchEnd(int batch, const BatchLogs& logs) override;
  void OnEpochEnd(int epoch, const EpochLogs& logs) override;

 private:
  std::string Bar(int done) const;
  void Draw(const std::string& line);

  std::FILE* out_;
  bool live_;
  Clock clock_;
  TrainInfo info_;
  double epoch_start_ = 0;
  double last_draw_ = -1;
  double train_seconds_ = 0;  // the epoch's training time, validation excluded
  size_t drawn_width_ = 0;    // of the last live line, to blank what a shorter one leaves
};

}  // namespace labbook::train
