// Row softmax for the cuBLAS baseline of bench_mla_decode: f32 scores in, normalised bf16 out.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace nw::bench {

// p[r, :] = softmax(scale * s[r, :]) as bf16 bits;  s: [rows, cols] f32, p: [rows, cols] bf16.
void softmaxRowsToBf16(const float *s, std::uint16_t *p, int rows, int cols, float scale,
                       cudaStream_t stream);

} // namespace nw::bench
