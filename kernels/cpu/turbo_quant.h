// TurboQuant KV rows, `+tq2` / `+tq3` / `+tq4` (Zandieh, Daliri, Hadian & Mirrokni 2025,
// arXiv:2504.19874, TurboQuant_mse): each head vector x is stored as an f16 scale and the b-bit
// codes of its rotated unit vector. A fixed random rotation R = H·D (D: random ±1 signs
// from a fixed seed, H: the Walsh–Hadamard transform, kernels/cpu/hadamard.h) makes every
// coordinate of R·x/|x| close to N(0, 1/dim) whatever x was, so one scalar Lloyd–Max codebook
// for that distribution (the standard normal's levels / √dim, Max 1960) quantizes every
// coordinate near-optimally in mean squared error.
// The scale is |x| / |ŷ|, ŷ the decoded unit vector, so a decoded head has exactly the norm of x
// (norm correction; the paper stores |x|, which shrinks every decoded head by |ŷ| ≈ √(1 − D_mse),
// by a different factor per head). A key's own component then carries no error of scale, which
// is the error that grows with the score: on the recall model it lifts tq3 from 42/55 to 52/55
// (tests/data/recall-model.md).
// Attention never rebuilds x: q·x = q'·(R x) with q' = R q rotated once per query head, and the
// softmax-weighted sum of values is taken in the rotated domain and rotated back once per output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace nw {

constexpr int kTurboMinBits = 2;
constexpr int kTurboMaxBits = 4;

// The 2^bits Lloyd–Max reconstruction levels of the standard normal, ascending (Max 1960,
// Table I; bits 2..4).
std::span<const float> lloydMaxLevels(int bits);

// Bytes of one head of `dim` coordinates at `bits` bits: the f16 scale, then dim·bits/8 bytes
// of codes packed tightly (code i in bits [i·bits, (i+1)·bits) of the little-endian stream;
// tq3: 8 codes in 3 bytes). dim must be a multiple of 8.
std::size_t turboHeadBytes(int bits, std::int64_t dim);

// x ← R x and x ← Rᵀ x for one head of `dim` coordinates (R orthonormal; the Hadamard block is
// hadamardBlock(dim)).
void turboRotate(float *x, std::size_t dim);
void turboRotateBack(float *x, std::size_t dim);

// Packs n codes (each < 2^bits) into n·bits/8 bytes, and back; n a multiple of 8.
void packTurboCodes(int bits, const std::uint8_t *codes, std::size_t n, std::byte *dst);
void unpackTurboCodes(int bits, const std::byte *src, std::size_t n, std::uint8_t *codes);

// Stores one head x[0, dim) as turboHeadBytes(bits, dim) bytes at dst.
void turboEncodeHead(int bits, const float *x, std::size_t dim, std::byte *dst);
// y ← scale · level[code_i] / √dim: the head as stored, in the rotated domain (y ≈ R x); the
// AVX2 kernel when the CPU has it, else the scalar one.
void turboDecodeRotated(int bits, const std::byte *src, std::size_t dim, float *y);
using TurboDecodeFn = void (*)(int bits, const std::byte *src, std::size_t dim, float *y);
TurboDecodeFn turboDecodeScalar(); // the portable kernel
TurboDecodeFn turboDecodeAvx2(); // null when this build or CPU has none
// Every head of a row of nHeads heads of dim, back in the original domain (Rᵀ y): for the
// paths that rebuild rows (latent:R's expanded form) and for tests.
void turboDequantizeRow(int bits, const std::byte *src, std::size_t nHeads, std::size_t dim, float *dst);

} // namespace nw
