// The `latent:R` KV mode for MHA/GQA models: per layer, rank-R factors of the key projection
// (before RoPE) and of the value projection from the model's own weights (Palu,
// arXiv:2407.21118; Eigen Attention, arXiv:2408.05646), so the cache holds R numbers per token
// for K and R for V instead of nKvHeads × headDim each; and attention that works on those R
// numbers directly (the absorbed form, as MLA's decode, DeepSeek-V2 §2.1.3) instead of
// rebuilding every cached key. The factors are computed once and kept in a cache file keyed by
// the hash of the K/V weights, the head geometry and R, so later loads read them.
#pragma once

#include "kernels/backend.h"

#include <complex>
#include <cstdint>
#include <filesystem>
#include <span>
#include <utility>
#include <vector>

namespace nw {

class KvCache;

// How a K row splits into heads and RoPE pairs: the factorisation keeps each latent pair on one
// RoPE frequency so that rotating the latent equals rotating the key (see latent_kv.cpp).
struct LatentKeyGeometry {
    std::int64_t nKvHeads = 1;
    std::int64_t headDimK = 0; // even
    std::int64_t headDimV = 0;
    std::int64_t ropeDims = 0; // rotated dims at the start of each K head (hp.nRot), even
    bool neox = false; // RoPE pairs are halves (x[i], x[i + ropeDims/2]), not neighbours

    std::int64_t kDim() const { return nKvHeads * headDimK; }
    std::int64_t vDim() const { return nKvHeads * headDimV; }
    // The two dims of a K head that RoPE rotates together as pair p (0 ≤ p < headDimK/2); pairs
    // past ropeDims/2 are the unrotated dims taken two by two.
    std::pair<int, int> pairDims(int p) const;
};

// One layer's factors: K before RoPE ≈ kUp · kDown · x and V ≈ vUp · vDown · x (row-major f32).
// Latent pair m (K latent elements 2m, 2m+1) feeds only pair kPairs[m] of each K head, through a
// 2×2 rotation-scaling block, so RoPE can be applied to the latent itself.
struct LatentLayerFactors {
    std::vector<float> kDown; // [rank, nEmbd]: c_k = kDown · x, rotated, is what the cache stores
    std::vector<float> kUp; // [kDim, rank]: orthonormal columns
    std::vector<std::int32_t> kPairs; // [rank / 2]: the RoPE pair (frequency) of each latent pair
    std::vector<float> vDown; // [rank, nEmbd]
    std::vector<float> vUp; // [vDim, rank]: orthonormal columns
    // Derived, not in the file: kUp's rows of each KV head transposed, the absorbed query's
    // projection q̃ = kUpᵀ_g q.
    std::vector<float> kUpT; // [nKvHeads, rank, headDimK]
};

struct LatentFactors {
    std::int64_t rank = 0;
    std::int64_t nEmbd = 0;
    LatentKeyGeometry geometry;
    std::vector<LatentLayerFactors> layers; // [nLayers]
};

// A model's latent:R state for one rank: the factors, and per layer its K / V projection biases
// seen through them (kUpᵀ b_k and vUpᵀ b_v, since kDown = kUpᵀ W_k: the latent of W_k x + b_k is
// kDown x + kUpᵀ b_k), empty for layers without biases.
struct LatentKv {
    LatentFactors factors;
    std::vector<std::vector<float>> kBias; // [nLayers][rank] or [nLayers][0]
    std::vector<std::vector<float>> vBias;
};

// Activation-aware factors (as ASVD / SVD-LLM / Palu weight the SVD by the inputs): the second
// moments of each layer's keys before RoPE and of its values on a text the user gives. With them
// the factors keep the directions the model's real keys and values use most (the leading
// eigenvectors of W C Wᵀ, C the inputs' covariance) instead of those of the weights alone.
class LatentCalibration {
public:
    LatentCalibration(const LatentKeyGeometry &geometry, std::int64_t nLayers);
    // k: [nTokens, kDim] before RoPE; v: [nTokens, vDim].
    void add(std::size_t layer, const float *k, const float *v, int nTokens);

    const LatentKeyGeometry &geometry() const { return m_geometry; }
    std::int64_t tokens() const { return m_tokens; }
    // Σ k_p k_pᴴ of RoPE pair p, k_p the pair as complex numbers across KV heads:
    // [headDimK / 2][nKvHeads, nKvHeads].
    const std::vector<std::complex<double>> &keyMoments(std::size_t layer) const { return m_key[layer]; }
    // Σ v vᵀ: [vDim, vDim].
    const std::vector<double> &valueMoments(std::size_t layer) const { return m_value[layer]; }
    // FNV-1a of the moments, part of the factor file's name.
    std::uint64_t hash() const;

private:
    LatentKeyGeometry m_geometry;
    std::int64_t m_tokens = 0; // counted on layer 0
    std::vector<std::vector<std::complex<double>>> m_key; // [nLayers]
    std::vector<std::vector<double>> m_value; // [nLayers]
};

// Rank-`rank` factors of every layer's W_k and W_v (any type dequantizeRow reads), in double
// precision. `rank` must be even (K latents come in rotated pairs) and at most the K and V
// widths; at that full rank the factors reproduce W_k and W_v to float precision.
// With `calibration`, the factors minimise the error on the calibration text's keys and values
// (still exact at full rank).
LatentFactors factorizeKv(std::span<const WeightMatrix> wk, std::span<const WeightMatrix> wv,
    const LatentKeyGeometry &geometry, std::int64_t rank, const LatentCalibration *calibration = nullptr);

// A 64-bit FNV-1a hash of the K/V weights' types, shapes and bytes and of the head geometry:
// the cache file's key.
std::uint64_t kvWeightsHash(
    std::span<const WeightMatrix> wk, std::span<const WeightMatrix> wv, const LatentKeyGeometry &geometry);

// $XDG_CACHE_HOME/needlework/latent, or ~/.cache/needlework/latent.
std::filesystem::path latentCacheDir();

// Reads `path`; throws nw::Error when it is not a factor file of this rank and shape.
LatentFactors readLatentFactors(const std::filesystem::path &path, std::int64_t rank, std::int64_t nLayers,
    std::int64_t nEmbd, const LatentKeyGeometry &geometry);
// Writes through a temporary file and a rename, so a reader never sees half a file.
void writeLatentFactors(const LatentFactors &factors, const std::filesystem::path &path);

// The factors from `dir`/<hash>-r<rank>[-c<calibration hash>].nwlat when that file is valid,
// else computed and written there (a write failure is logged, not fatal). `loadedFromCache`
// tells which happened.
LatentFactors loadOrFactorizeKv(std::span<const WeightMatrix> wk, std::span<const WeightMatrix> wv,
    const LatentKeyGeometry &geometry, std::int64_t rank, const std::filesystem::path &dir,
    bool *loadedFromCache = nullptr, const LatentCalibration *calibration = nullptr);

// Which form latentAttention computes. Absorbed: scores q̃ · c_k and the weighted sum of the
// cached V latents, one up-projection per query head; O(cached × heads × rank) — the decode
// form. Expanded: every cached K/V row rebuilt with kUp / vUp, then plain attention;
// O(cached × (kDim + vDim) × rank) once per call — cheaper for a long prefill. Both are exact
// forms of the same attention; Auto picks the one with fewer multiply-adds.
enum class LatentForm { Auto, Absorbed, Expanded };

// One layer's latent:R attention: stores the new tokens' K latents (rotated) and V latents in
// the cache, then attends over the cache.
struct LatentAttentionArgs {
    const float *x = nullptr; // [nTokens, nEmbd] the normed layer input
    const float *q = nullptr; // [nTokens, nHeads, headDimK] after RoPE
    float *out = nullptr; // [nTokens, nHeads, headDimV]
    int nTokens = 0;
    int nHeads = 0;
    const std::int32_t *positions = nullptr; // [nTokens], consecutive; the cache holds 0..positions[0]-1
    float scale = 1.f; // softmax(scale · q·k)
    int window = 0; // sliding window of the layer (AttentionArgs::window), 0: none
    int sinkTokens = 0; // tokens kept before the window (AttentionArgs::sinkTokens)
    const float *sinks = nullptr; // [nHeads] attention sinks (AttentionArgs::sinks), or null
    // Added to the new latents (kUpᵀ b_k and vUpᵀ b_v: a K / V projection bias, as Qwen2 has, seen
    // through the factors), or null.
    const float *kLatentBias = nullptr; // [rank]
    const float *vLatentBias = nullptr; // [rank]
};

class LatentAttention {
public:
    // `rope` is the model's (the same call rotates its queries); `factors` outlive this object.
    void run(Backend &backend, const LatentFactors &factors, std::size_t layer, const RopeParams &rope, KvCache &cache,
        const LatentAttentionArgs &a, LatentForm form = LatentForm::Auto);

    LatentForm lastForm() const { return m_lastForm; }

private:
    void absorbed(Backend &be, const LatentFactors &f, const LatentLayerFactors &lf, const KvLayerView &view,
        const LatentAttentionArgs &a);
    void expanded(Backend &be, const LatentFactors &f, const LatentLayerFactors &lf, std::size_t layer, KvCache &cache,
        const LatentAttentionArgs &a);
    // dst rows [t, h ∈ group g] ← W · src rows [t, h ∈ group g], for every KV head group g;
    // group g's matrix [outDim, inDim] starts at weights + g · groupStride.
    void perGroup(Backend &be, const float *src, int inDim, float *dst, int outDim, int nTokens, int nHeads,
        int nGroups, const float *weights, std::size_t groupStride);

    LatentForm m_lastForm = LatentForm::Auto;
    std::vector<float> m_ck, m_cv; // [nTokens, rank] new latents; expanded: [cached, rank]
    std::vector<float> m_probe; // [nTokens, headDimK] RoPE's (cos, sin) per pair
    std::vector<float> m_qLatent; // [nTokens, nHeads, rank] absorbed queries
    std::vector<float> m_outLatent; // [nTokens, nHeads, rank] attention over V latents
    std::vector<float> m_in, m_out; // one group's gathered rows
    std::vector<float> m_kAll, m_vAll; // expanded: [cached, kDim] roped keys, [cached, vDim]
};

} // namespace nw
