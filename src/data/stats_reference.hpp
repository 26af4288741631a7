// The plain-loop definition of dataset statistics that the fast ComputeStats is tested against,
// and the input check both share.
#pragma once

#include "labbook/dataset.hpp"

namespace labbook::data {

// InvalidArgument when `images` is inconsistent (vector sizes against count and shape) or a
// label is outside 0..num_classes-1; num_classes must be 1..256 since labels are bytes.
Status CheckStatsInput(const ImageSet& images, int num_classes);

// Same contract and results as ComputeStats, one pixel at a time in double precision: slow and
// obviously right.
Result<DatasetStats> ComputeStatsReference(const ImageSet& images, int num_classes);

}  // namespace labbook::data
