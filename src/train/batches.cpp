#include "train/batches.hpp"

#include <algorithm>

namespace labbook::train {

void ConvertImages(const ImageSet& set, std::span<const int64_t> indices, float* pixels,
                   int32_t* labels) {
  const int64_t plane = int64_t{set.rows} * set.cols;
  const int channels = set.channels;
  const int64_t sample = plane * channels;
  // Division, not multiplication by 1/255, so the values equal numpy's x.astype(float32) / 255.
  for (size_t i = 0; i < indices.size(); ++i) {
    const uint8_t* in = set.pixels.data() + indices[i] * sample;
    float* out = pixels + static_cast<int64_t>(i) * sample;
    if (channels == 1) {
      for (int64_t p = 0; p < plane; ++p) out[p] = static_cast<float>(in[p]) / 255.0f;
    } else {
      for (int64_t p = 0; p < plane; ++p) {
        for (int c = 0; c < channels; ++c) {
          out[c * plane + p] = static_cast<float>(in[p * channels + c]) / 255.0f;
        }
      }
    }
    labels[i] = set.labels.empty() ? 0 : set.labels[static_cast<size_t>(indices[i])];
  }
}

namespace {

std::vector<int> EqualBatches(int64_t count, int batch_size) {
  std::vector<int> sizes;
  for (int64_t begin = 0; begin < count; begin += batch_size) {
    sizes.push_back(static_cast<int>(std::min<int64_t>(batch_size, count - begin)));
  }
  return sizes;
}

}  // namespace

BatchPipeline::BatchPipeline(const ImageSet& set, std::vector<int64_t> order, int batch_size)
    : BatchPipeline(set, order, EqualBatches(static_cast<int64_t>(order.size()), batch_size),
                    batch_size) {}

BatchPipeline::BatchPipeline(const ImageSet& set, std::vector<int64_t> order,
                             std::vector<int> batch_sizes, int max_batch)
    : set_(set),
      order_(std::move(order)),
      max_batch_(max_batch),
      num_batches_(static_cast<int>(batch_sizes.size())),
      sample_size_(int64_t{set.rows} * set.cols * set.channels) {
  batch_begin_.push_back(0);
  for (int size : batch_sizes) batch_begin_.push_back(batch_begin_.back() + size);
  for (Slot& slot : slots_) {
    slot.pixels.resize(static_cast<size_t>(max_batch_ * sample_size_));
    slot.labels.resize(static_cast<size_t>(max_batch_));
  }
  if (num_batches_ > 0) helper_ = std::thread([this] { Produce(); });
}

BatchPipeline::~BatchPipeline() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  if (helper_.joinable()) helper_.join();
}

void BatchPipeline::Produce() {
  for (int b = 0; b < num_batches_; ++b) {
    Slot& slot = slots_[b % 2];
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return stop_ || !slot.ready; });
      if (stop_) return;
    }
    const int64_t begin = batch_begin_[static_cast<size_t>(b)];
    const int64_t end = batch_begin_[static_cast<size_t>(b) + 1];
    std::span<const int64_t> indices(order_.data() + begin, static_cast<size_t>(end - begin));
    ConvertImages(set_, indices, slot.pixels.data(), slot.labels.data());
    {
      std::lock_guard<std::mutex> lock(mutex_);
      slot.size = static_cast<int>(end - begin);
      slot.ready = true;
    }
    changed_.notify_all();
  }
}

BatchPipeline::Batch BatchPipeline::Next() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (next_ > 0) {
    // The caller is done with the batch before: its slot may be refilled.
    slots_[(next_ - 1) % 2].ready = false;
    changed_.notify_all();
  }
  Slot& slot = slots_[next_ % 2];
  changed_.wait(lock, [&] { return slot.ready; });
  ++next_;
  return {slot.pixels.data(), slot.labels.data(), slot.size};
}

}  // namespace labbook::train
