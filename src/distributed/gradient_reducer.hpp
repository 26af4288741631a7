// Data-parallel gradient averaging. Each rank computes the mean gradient over its shard of a
// global batch; the step needs the mean over the whole batch, which is the sample-weighted mean
// of the ranks' means: sum_r n_r * g_r / N. GradientReducer scales by n_r, sums across ranks
// with Communicator::AllreduceSum and scales by 1 / N, so an uneven last batch (or a rank with no
// samples in it) averages correctly.
//
// Parameter tensors are packed into buckets of about `bucket_bytes` so that one allreduce carries
// many small tensors (biases) at once: per-message latency, not bandwidth, dominates small
// tensors. Buckets follow the parameters in reverse (the order Backward finishes them in).
// Non-trainable parameters (BatchNormalization's moving statistics, which each rank updates
// from its own shard) are averaged the same way, by value, so ranks never drift apart.
//
// Not thread-safe; one training loop drives it, on the thread that drives the Communicator.
#pragma once

#include <cstdint>
#include <vector>

#include "distributed/communicator.hpp"
#include "labbook/status.hpp"
#include "nn/backend.hpp"

namespace labbook::distributed {

inline constexpr int64_t kDefaultBucketBytes = int64_t{4} << 20;

class GradientReducer {
 public:
  // A slice of one parameter's buffer inside a bucket.
  struct Slot {
    size_t param = 0;    // index into the parameters given to the constructor
    int64_t offset = 0;  // first float of the bucket it occupies
  };
  struct Bucket {
    std::vector<Slot> slots;
    int64_t floats = 0;
  };

  // `comm` and the buffers of `params` are borrowed and must outlive the reducer. A tensor
  // larger than bucket_bytes gets a bucket of its own.
  GradientReducer(Communicator* comm, std::vector<nn::ParamView> params,
                  int64_t bucket_bytes = kDefaultBucketBytes);

  // Replaces every trainable gradient (and non-trainable value) by its sample-weighted mean over
  // the ranks, where this rank's samples are `local_samples` (0 allowed: its buffers are then
  // ignored) and all ranks' together `global_samples` (> 0, the same on every rank). Errors are
  // the Communicator's; the buffers are then undefined.
  [[nodiscard]] Status Average(int64_t local_samples, int64_t global_samples);

  const std::vector<Bucket>& buckets() const { return buckets_; }
  // Bytes one Average sends into the allreduce, summed over its buckets.
  int64_t bytes_per_step() const;
  // Wall time spent inside AllreduceSum over all Average calls, and their number.
  double allreduce_seconds() const { return allreduce_seconds_; }
  int64_t steps() const { return steps_; }

 private:
  float* Buffer(const nn::ParamView& p) const { return p.trainable ? p.grad : p.value; }

  Communicator* comm_;
  std::vector<nn::ParamView> params_;
  std::vector<Bucket> buckets_;
  std::vector<float> staging_;  // the largest bucket
  double allreduce_seconds_ = 0;
  int64_t steps_ = 0;
};

}  // namespace labbook::distributed
