// DeepSeek V4's attention block (llama.cpp's deepseek4 build_attention_impl): one latent row per
// token serves as K and V for every head (the query a low-rank projection, each head RMS-normed,
// the last ropeDims of each row rotated); every layer attends to its sliding window of latent
// rows, and by its compression ratio also to compressed entries:
//   ratio 0    the window only;
//   ratio 4    CSA: every 4 tokens pool into one entry, each pooled with the previous block
//              (learned softmax gates per element, a position bias per slot), and the lightning
//              indexer keeps the top-k entries for each query (its keys pooled the same way);
//   ratio 128  HCA: every 128 tokens pool into one entry; every complete entry is attended.
// One softmax runs over the window rows and the entries, with per-head sinks; the output's rope
// dims are rotated back, and the heads go out through the grouped low-rank projection
// (wo_a per group of heads, then wo_b). Pending tokens of a block wait in the cache's ring
// (KvPart::AttentionPool / IndexerPool) until their block completes.
#pragma once

#include "engine/graph/forward_pass.h"
#include "engine/graph/lightning_indexer.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace nw {

class WeightLoader;

struct CompressedAttentionConfig {
    int nHeads = 0;
    int headDim = 0; // the latent row (attention.key_length)
    int qLoraRank = 0;
    int oGroups = 0; // attention.output_group_count
    int oLoraRank = 0; // attention.output_lora_rank
    int window = 0; // attention.sliding_window
    int ratio = 0; // 0, 4 (CSA) or 128 (HCA)
    RopeParams rope; // this layer's: rope.nDims rotated at the end of each row
    float normEps = 1e-6f;
    IndexerConfig indexer; // ratio 4
};

// One compressor: its tokens' [kv | score] rows (coff = 2 halves with the overlap, else 1) pool
// into entries of `dim`, RMS-normed, their rope dims rotated at the block's first position, and
// (indexer keys) Hadamard-rotated.
struct Compressor {
    WeightMatrix kv; // [coff · dim, nEmbd]
    WeightMatrix gate; // [coff · dim, nEmbd]
    const float *ape = nullptr; // [ratio, coff · dim] the score's bias by slot in the block
    const float *norm = nullptr; // [dim]
    int dim = 0;
    int ratio = 0;
    bool overlap = false;

    // blk.<layer>.<prefix>_kv / _gate / _ape / _norm.
    static Compressor load(
        WeightLoader &w, std::int64_t layer, const char *prefix, std::int64_t nEmbd, int dim, int ratio, bool overlap);
    // Pools the blocks that complete in this batch into store `entries` and keeps the batch's
    // rows in the ring `pool`; x: [nTokens, nEmbd] the block's input.
    void run(ForwardPass &pass, std::int64_t entries, std::int64_t pool, const float *x, const RopeParams &rope,
        const HadamardRotation *rotation, float normEps) const;
};

class CompressedAttention {
public:
    static CompressedAttention load(
        WeightLoader &w, std::int64_t layer, std::int64_t nEmbd, const CompressedAttentionConfig &config);

    // out = attention(x); x: the normed input [nTokens, nEmbd], out [nTokens, nEmbd].
    void forward(ForwardPass &pass, std::int64_t layer, const float *x, float *out) const;
    void collectMatrices(std::vector<WeightMatrix> &all) const;

private:
    CompressedAttentionConfig m_config;
    WeightMatrix m_qA; // [qLoraRank, nEmbd]
    const float *m_qANorm = nullptr; // [qLoraRank]
    WeightMatrix m_qB; // [nHeads · headDim, qLoraRank]
    WeightMatrix m_kv; // [headDim, nEmbd]
    const float *m_kvNorm = nullptr; // [headDim]
    const float *m_sinks = nullptr; // [nHeads]
    WeightMatrix m_oA; // [oGroups · oLoraRank, nHeads · headDim / oGroups]
    WeightMatrix m_oB; // [nEmbd, oGroups · oLoraRank]
    std::optional<Compressor> m_compressor; // ratio 4 and 128
    std::optional<Compressor> m_indexerCompressor; // ratio 4
    std::optional<LightningIndexer> m_indexer; // ratio 4
};

} // namespace nw
