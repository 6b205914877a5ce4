// Multi-head latent attention helpers (DeepSeek-V2 §2.1): the per-head up-projections of the
// latent c_kv in the two forms attention needs, the absorbed form (W_UK folded into the query,
// attention over the cached latent, W_UV applied after; §2.1.3) and the expanded form (per-head
// K and V rebuilt from the latent), which the tests hold equal.
#pragma once

#include "engine/graph/scratch.h"
#include "kernels/backend.h"

#include <cstdint>
#include <vector>

namespace nw {

// One layer's up-projections of the latent, as per-head WeightMatrix views. Every activation the
// functions below take is in the backend's memory; they move data only through backend ops.
class MlaProjections {
public:
    // From the combined GGUF tensor attn_kv_b {kvLoraRank, nHeads * (qkNope + vHeadDim)}: per
    // head qkNope K rows then vHeadDim V rows, each of kvLoraRank. The absorbed form needs W_UK
    // transposed, so that part is copied once, dequantized to f32.
    static MlaProjections fromKvB(const WeightMatrix &kvB, int nHeads, int qkNope, int vHeadDim);
    // From the split tensors attn_k_b {qkNope, kvLoraRank, nHeads} (W_UK already transposed per
    // head) and attn_v_b {kvLoraRank, vHeadDim, nHeads}; the expanded form's W_UK is the f32 copy.
    // `kB` / `vB` describe head 0, and heads follow each other densely.
    static MlaProjections fromSplit(const WeightMatrix &kB, const WeightMatrix &vB, int nHeads);

    int nHeads() const { return m_nHeads; }
    int qkNope() const { return m_qkNope; }
    int vHeadDim() const { return m_vHeadDim; }
    int kvLoraRank() const { return m_kvLoraRank; }

    const WeightMatrix &keyAbsorb(int head) const { return m_keyAbsorb[head]; } // [kvLoraRank, qkNope]
    const WeightMatrix &keyExpand(int head) const { return m_keyExpand[head]; } // [qkNope, kvLoraRank]
    const WeightMatrix &valueExpand(int head) const { return m_valueExpand[head]; } // [vHeadDim, kvLoraRank]
    // Bytes of the f32 transposed copy this layer owns (not in the file).
    std::size_t ownedBytes() const { return m_owned.size() * sizeof(float); }

private:
    int m_nHeads = 0, m_qkNope = 0, m_vHeadDim = 0, m_kvLoraRank = 0;
    std::vector<WeightMatrix> m_keyAbsorb;
    std::vector<WeightMatrix> m_keyExpand;
    std::vector<WeightMatrix> m_valueExpand;
    std::vector<float> m_owned; // [nHeads][rows][cols] transposed copies
};

// Scratch buffers reused between calls (one per model, used by one thread), in the backend's
// memory: one head's gathered inputs and outputs, the absorbed form's latent queries and outputs
// [nTokens, nHeads, kvLoraRank (+ rope)], the expanded form's rebuilt keys and values.
struct MlaScratch {
    ScratchBuffers buffers;
    std::vector<float> latents; // expanded form: every cached latent on the host, dequantized
    std::vector<std::int32_t> ends; // V3.2: the keys each query's indexer scores
};

// Absorbed query: for each head, q_lat = [W_UK^T q_nope, q_rope] so that q_lat · [c_kv, k_rope]
// equals q · k of the expanded form. q: [nTokens, nHeads, qkNope + qkRope] (rope part already
// rotated); qLatent: [nTokens, nHeads, kvLoraRank + qkRope].
void mlaAbsorbQuery(Backend &backend, const MlaProjections &proj, const float *q, int nTokens, int qkRope,
    float *qLatent, MlaScratch &scratch);

// Expands attention's latent output per head with W_UV: latent [nTokens, nHeads, kvLoraRank] →
// out [nTokens, nHeads * vHeadDim].
void mlaExpandValues(
    Backend &backend, const MlaProjections &proj, const float *latent, int nTokens, float *out, MlaScratch &scratch);

// The expanded form's per-head K = [W_UK c_kv, k_rope] and V = W_UV c_kv of n latent rows.
// latents: [n, kvLoraRank + qkRope] f32; keys: [n, nHeads, qkNope + qkRope];
// values: [n, nHeads, vHeadDim].
void mlaExpandKeysValues(Backend &backend, const MlaProjections &proj, const float *latents, int n, int qkRope,
    float *keys, float *values, MlaScratch &scratch);

// Absorbed MLA attention over the cache (rows [c_kv, k_rope], V = c_kv): q as for
// mlaAbsorbQuery, out: [nTokens, nHeads * vHeadDim]. `cache` is the layer's view as the KV
// cache gives it (nKvHeads 1, kHeadDim kvLoraRank + qkRope); its V is set to the K rows here.
void mlaAttentionAbsorbed(Backend &backend, const MlaProjections &proj, const KvLayerView &cache, const float *q,
    int nTokens, int qkRope, const std::int32_t *positions, float scale, float *out, MlaScratch &scratch);

// Absorbed MLA attention over chosen rows only (DeepSeek V3.2's sparse attention): query t
// attends to the cache rows selected[t · topK + i] (-1: none), selected in backend memory.
void mlaAttentionSelected(Backend &backend, const MlaProjections &proj, const KvLayerView &cache, const float *q,
    int nTokens, int qkRope, const std::int32_t *selected, int topK, float scale, float *out, MlaScratch &scratch);

// The same attention in the expanded form: per-head K = [W_UK c_kv, k_rope] and V = W_UV c_kv
// are rebuilt for every cached token 0..positions[nTokens-1] and attended with plain MHA. Reads
// the cached rows on the host: a host-memory backend only.
// Costs O(cached tokens × heads × (qkNope + vHeadDim) × kvLoraRank) per call: cheaper than the
// absorbed form for a long prefill, far dearer for decode.
void mlaAttentionExpanded(Backend &backend, const MlaProjections &proj, const KvLayerView &cache, const float *q,
    int nTokens, int qkRope, const std::int32_t *positions, float scale, float *out, MlaScratch &scratch);

} // namespace nw
