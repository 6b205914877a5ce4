// RMSNorm on the GPU: y[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * weight[:].
#pragma once

#include <cuda_runtime.h>

namespace nw::cuda {

// x, y: [rows, cols] row-major f32 on the device (may alias); weight: [cols] f32, or null for
// no weight (as Backend::rmsNorm).
void rmsNorm(const float *x, const float *weight, float *y, int rows, int cols, float eps,
             cudaStream_t stream);

} // namespace nw::cuda
