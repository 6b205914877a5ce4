// Per-type dot products of one weight row (in its file type) with one activation row, and the
// activation quantizers they pair with as ggml-cpu does (vec_dot_type): Q8_0 for Q4_0, Q5_0,
// Q8_0, IQ4_NL and MXFP4, Q8_1 for Q4_1/Q5_1, Q8_K for the K-quants and IQ4_XS, plain f32 for
// F32/F16/BF16 — the inner loops of matmul. A scalar set always
// exists; AVX2 (+FMA, F16C) versions are chosen at run time when the CPU has them.
#pragma once

#include "kernels/tensor_type.h"

#include <cstddef>
#include <cstdint>

namespace nw::cpu {

// The form an activation row takes for a weight type's dot product.
enum class ActivationFormat { F32, Q8_0, Q8_1, Q8_K };

// Bytes of one activation row of `cols` elements in `format` (cols is a multiple of its block).
std::size_t activationRowBytes(ActivationFormat format, std::int64_t cols);

struct DotKernel {
    ActivationFormat activation = ActivationFormat::F32;
    // sum_c w[c] * x[c] over `cols` elements; w: one weight row, x: one activation row.
    float (*dot)(const std::byte *w, const std::byte *x, std::int64_t cols) = nullptr;
    // x: [cols] f32 → out: activationRowBytes(activation, cols) bytes. Null for F32.
    void (*quantize)(const float *x, std::byte *out, std::int64_t cols) = nullptr;
    // Optional: the dot products of one weight row with nx activation rows xStride bytes apart
    // (out[i] = dot(w, x + i * xStride)); unpacks each weight block once for all of them.
    void (*dotMany)(const std::byte *w, const std::byte *x, std::size_t xStride, int nx, std::int64_t cols, float *out)
        = nullptr;
    const char *isa = "scalar"; // "scalar" or "avx2", for logs and benchmarks
};

// The fastest kernel this CPU runs for a weight type; asserts the type is supported.
const DotKernel &dotKernel(TensorType type);
// The portable scalar kernel (the fallback, and what tests compare the SIMD kernels with).
const DotKernel &scalarDotKernel(TensorType type);
// The AVX2 kernel, or null when this build or CPU has none for the type.
const DotKernel *avx2DotKernel(TensorType type);

// Whether matmul can compute with weights of this type.
bool matmulSupports(TensorType type);

} // namespace nw::cpu
