// The `latent:R` KV mode for MHA/GQA models: per layer, rank-R factors of the key projection
// (before RoPE) and of the value projection from a truncated SVD of the model's own weights, so
// the cache holds R numbers per token for K and R for V (Palu, arXiv:2407.21118; Eigen Attention,
// arXiv:2408.05646). The factors are computed once and kept in a cache file keyed by the hash
// of the K/V weights and R, so later loads read them instead of recomputing.
#pragma once

#include "kernels/backend.h"

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

namespace nw {

// One layer's factors: W_k ≈ kUp · kDown and W_v ≈ vUp · vDown (row-major f32).
struct LatentLayerFactors {
    std::vector<float> kDown; // [rank, nEmbd]: c_k = kDown · x, what the cache stores
    std::vector<float> kUp;   // [kDim, rank]:  k before RoPE ≈ kUp · c_k
    std::vector<float> vDown; // [rank, nEmbd]
    std::vector<float> vUp;   // [vDim, rank]
};

struct LatentFactors {
    std::int64_t rank = 0;
    std::int64_t nEmbd = 0;
    std::int64_t kDim = 0; // nKvHeads × headDimK
    std::int64_t vDim = 0; // nKvHeads × headDimV
    std::vector<LatentLayerFactors> layers; // [nLayers]
};

// Rank-`rank` truncated SVD of every layer's W_k and W_v (any type dequantizeRow reads), in
// double precision: W = U S Vᵀ gives up = U_R S_R and down = V_Rᵀ. Ranks past the matrix rank
// are zero columns, so rank = min(rows, cols) reproduces W to float precision.
LatentFactors factorizeKv(std::span<const WeightMatrix> wk, std::span<const WeightMatrix> wv, std::int64_t rank);

// A 64-bit FNV-1a hash of the K/V weights' types, shapes and bytes: the cache file's key.
std::uint64_t kvWeightsHash(std::span<const WeightMatrix> wk, std::span<const WeightMatrix> wv);

// $XDG_CACHE_HOME/needlework/latent, or ~/.cache/needlework/latent.
std::filesystem::path latentCacheDir();

// Reads `path`; throws nw::Error when it is not a factor file of this rank and shape.
LatentFactors readLatentFactors(const std::filesystem::path &path, std::int64_t rank, std::int64_t nLayers,
                                std::int64_t nEmbd, std::int64_t kDim, std::int64_t vDim);
// Writes through a temporary file and a rename, so a reader never sees half a file.
void writeLatentFactors(const LatentFactors &factors, const std::filesystem::path &path);

// The factors from `dir`/<hash>-r<rank>.nwlat when that file is valid, else computed and
// written there (a write failure is logged, not fatal). `loadedFromCache` tells which happened.
LatentFactors loadOrFactorizeKv(std::span<const WeightMatrix> wk, std::span<const WeightMatrix> wv,
                                std::int64_t rank, const std::filesystem::path &dir,
                                bool *loadedFromCache = nullptr);

} // namespace nw
