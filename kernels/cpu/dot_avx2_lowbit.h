// AVX2 dot products of the 2- to 4-bit weight types that low-memory GGUF files are made of
// (Q2_K, Q3_K, IQ4_NL, IQ4_XS, MXFP4, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S), defined in dot_avx2_lowbit.cpp;
// dot_avx2.cpp's kernel table holds them. Signatures as DotKernel's dot and dotMany (dot_products.h).
#pragma once

#if defined(__x86_64__)

#include <cstddef>
#include <cstdint>

namespace nw::cpu::avx2 {

float dotQ2_K(const std::byte *w, const std::byte *x, std::int64_t cols);
float dotQ3_K(const std::byte *w, const std::byte *x, std::int64_t cols);
float dotIQ4_NL(const std::byte *w, const std::byte *x, std::int64_t cols);
float dotIQ4_XS(const std::byte *w, const std::byte *x, std::int64_t cols);
float dotMXFP4(const std::byte *w, const std::byte *x, std::int64_t cols);
float dotIQ2_XXS(const std::byte *w, const std::byte *x, std::int64_t cols);
float dotIQ2_XS(const std::byte *w, const std::byte *x, std::int64_t cols);
float dotIQ2_S(const std::byte *w, const std::byte *x, std::int64_t cols);
float dotIQ3_XXS(const std::byte *w, const std::byte *x, std::int64_t cols);
float dotIQ3_S(const std::byte *w, const std::byte *x, std::int64_t cols);

void dotManyQ2_K(const std::byte *w, const std::byte *x, std::size_t xStride, int nx, std::int64_t cols, float *out);
void dotManyQ3_K(const std::byte *w, const std::byte *x, std::size_t xStride, int nx, std::int64_t cols, float *out);
void dotManyIQ4_XS(const std::byte *w, const std::byte *x, std::size_t xStride, int nx, std::int64_t cols, float *out);
void dotManyIQ4_NL(const std::byte *w, const std::byte *x, std::size_t xStride, int nx, std::int64_t cols, float *out);
void dotManyMXFP4(const std::byte *w, const std::byte *x, std::size_t xStride, int nx, std::int64_t cols, float *out);
void dotManyIQ2_XXS(const std::byte *w, const std::byte *x, std::size_t xStride, int nx, std::int64_t cols, float *out);
void dotManyIQ2_XS(const std::byte *w, const std::byte *x, std::size_t xStride, int nx, std::int64_t cols, float *out);
void dotManyIQ2_S(const std::byte *w, const std::byte *x, std::size_t xStride, int nx, std::int64_t cols, float *out);
void dotManyIQ3_XXS(const std::byte *w, const std::byte *x, std::size_t xStride, int nx, std::int64_t cols, float *out);
void dotManyIQ3_S(const std::byte *w, const std::byte *x, std::size_t xStride, int nx, std::int64_t cols, float *out);

} // namespace nw::cpu::avx2

#endif
