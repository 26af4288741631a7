// Mini-batches as the model takes them: uint8 NHWC images scaled to float NCHW in [0, 1], with
// int32 labels, prepared on a helper thread while the model computes the batch before.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "labbook/dataset.hpp"

namespace labbook::train {

// Writes images `indices` of `set` to `pixels` ((n, channels, rows, cols) floats, pixel / 255)
// and their labels to `labels` (n; 0 for a set without labels).
void ConvertImages(const ImageSet& set, std::span<const int64_t> indices, float* pixels,
                   int32_t* labels);

// The batches of one pass over `order` (image indices into `set`), batch_size at a time (the
// last may be smaller). A helper thread fills the next batch while the caller works on the
// current one. One consumer thread; `set` must outlive the pipeline.
class BatchPipeline {
 public:
  struct Batch {
    const float* pixels = nullptr;
    const int32_t* labels = nullptr;
    int size = 0;
  };

  BatchPipeline(const ImageSet& set, std::vector<int64_t> order, int batch_size);
  // Batches of the given sizes (they sum to order.size(); a size may be 0: a data-parallel
  // rank's share of a last batch smaller than the world), each at most max_batch.
  BatchPipeline(const ImageSet& set, std::vector<int64_t> order, std::vector<int> batch_sizes,
                int max_batch);
  ~BatchPipeline();  // stops the helper, even in the middle of a pass
  BatchPipeline(const BatchPipeline&) = delete;
  BatchPipeline& operator=(const BatchPipeline&) = delete;

  int num_batches() const { return num_batches_; }

  // The next batch in order; blocks until it is ready. Its buffers stay valid until the next
  // call. Must not be called more than num_batches() times.
  Batch Next();

 private:
  struct Slot {
    std::vector<float> pixels;
    std::vector<int32_t> labels;
    int size = 0;
    bool ready = false;
  };

  void Produce();

  const ImageSet& set_;
  std::vector<int64_t> order_;
  std::vector<int64_t> batch_begin_;  // num_batches_ + 1 offsets into order_
  int max_batch_;
  int num_batches_;
  int64_t sample_size_;
  Slot slots_[2];
  int next_ = 0;  // the batch Next() returns next
  bool stop_ = false;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::thread helper_;
};

}  // namespace labbook::train
