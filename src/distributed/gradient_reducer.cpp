#include "distributed/gradient_reducer.hpp"

#include <algorithm>
#include <chrono>

#include "core/status_macros.hpp"

namespace labbook::distributed {

GradientReducer::GradientReducer(Communicator* comm, std::vector<nn::ParamView> params,
                                 int64_t bucket_bytes)
    : comm_(comm), params_(std::move(params)) {
  const int64_t capacity = std::max<int64_t>(1, bucket_bytes / static_cast<int64_t>(sizeof(float)));
  Bucket current;
  for (size_t i = params_.size(); i-- > 0;) {
    const nn::ParamView& p = params_[i];
    if (p.size == 0 || Buffer(p) == nullptr) continue;
    if (current.floats > 0 && current.floats + p.size > capacity) {
      buckets_.push_back(std::move(current));
      current = Bucket();
    }
    current.slots.push_back({i, current.floats});
    current.floats += p.size;
  }
  if (current.floats > 0) buckets_.push_back(std::move(current));
  int64_t largest = 0;
  for (const Bucket& b : buckets_) largest = std::max(largest, b.floats);
  staging_.resize(static_cast<size_t>(largest));
}

int64_t GradientReducer::bytes_per_step() const {
  int64_t floats = 0;
  for (const Bucket& b : buckets_) floats += b.floats;
  return floats * static_cast<int64_t>(sizeof(float));
}

Status GradientReducer::Average(int64_t local_samples, int64_t global_samples) {
  if (global_samples <= 0) {
    return Internal("GradientReducer::Average: global_samples must be positive, got " +
                    std::to_string(global_samples));
  }
  const auto weight = static_cast<float>(local_samples);
  const float inverse = 1.0f / static_cast<float>(global_samples);
  double seconds = 0;
  for (const Bucket& bucket : buckets_) {
    float* staging = staging_.data();
    for (const Slot& slot : bucket.slots) {
      const nn::ParamView& p = params_[slot.param];
      const float* from = Buffer(p);
      float* to = staging + slot.offset;
      // A rank without samples contributes exact zeros, whatever its buffers hold.
      for (int64_t j = 0; j < p.size; ++j) to[j] = local_samples > 0 ? from[j] * weight : 0.0f;
    }
    const auto start = std::chrono::steady_clock::now();
    LABBOOK_RETURN_IF_ERROR(
        comm_->AllreduceSum(std::span<float>(staging, static_cast<size_t>(bucket.floats))));
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (const Slot& slot : bucket.slots) {
      const nn::ParamView& p = params_[slot.param];
      const float* from = staging + slot.offset;
      float* to = Buffer(p);
      for (int64_t j = 0; j < p.size; ++j) to[j] = from[j] * inverse;
    }
  }
  allreduce_seconds_ += seconds;
  ++steps_;
  return Status::Ok();
}

}  // namespace labbook::distributed
