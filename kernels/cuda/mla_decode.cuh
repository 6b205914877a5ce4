// MLA decode attention on the GPU (absorbed form, DeepSeek-V2 §2.1.3): one new query token per
// sequence attends over that sequence's paged latent cache, whose rows hold c_kv followed by the
// shared RoPE key; V is the first kvLoraRank elements of the same row.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace nw::cuda {

// Shapes this kernel is written for (DeepSeek-V2/V3: kv_lora_rank 512, qk_rope_head_dim 64).
inline constexpr int kMlaLoraRank = 512;
inline constexpr int kMlaRopeDim = 64;
inline constexpr int kMlaRowDim = kMlaLoraRank + kMlaRopeDim; // 576 elements per cache row
inline constexpr int kMlaBlockSize = 64;                      // tokens per cache block

enum class MlaQueryType { F32, BF16 };

enum class MlaPath {
    Auto,       // tensor cores (WMMA bf16) on sm_80+, the plain path otherwise
    TensorCore, // WMMA bf16 16x16x16, all heads of a 16-head group share one read of each block
    Plain,      // f32 FMA, one CTA per (sequence, split, head): simple and obviously right
};

// All pointers are device pointers.
struct MlaDecodeArgs {
    const void *q = nullptr;          // [batch, nHeads, kMlaRowDim] in qType (absorbed queries)
    MlaQueryType qType = MlaQueryType::BF16;
    const std::uint16_t *cache = nullptr; // bf16 rows: [nCacheBlocks, kMlaBlockSize, kMlaRowDim]
    std::int64_t nCacheBlocks = 0;        // physical blocks in `cache` (block ids must be below)
    const std::int32_t *blockTable = nullptr; // [batch, maxBlocksPerSeq] physical block ids
    int maxBlocksPerSeq = 0;
    const std::int32_t *seqLens = nullptr;    // [batch] tokens in each sequence's cache (>= 0)
    float *out = nullptr;             // [batch, nHeads, kMlaLoraRank] f32; 0 where seqLen is 0
    int batch = 0;
    int nHeads = 0;
    float scale = 1.f;                // softmax(scale * q·k)
    // Splits along the sequence (combined by log-sum-exp): 0 picks enough to fill the device.
    int nSplits = 0;
    MlaPath path = MlaPath::Auto;
    // Tensor-core path's block buffers: 0 = two (copy the next block while computing this one)
    // when shared memory allows (H100), else one (A100); 1 or 2 forces it (tests cover both).
    int stages = 0;
};

// Bytes of device workspace mlaDecode needs for `args` (partial outputs and log-sum-exps of the
// splits); depends on batch, nHeads and the number of splits it will use.
std::size_t mlaDecodeWorkspaceBytes(const MlaDecodeArgs &args);

// Validates the arguments (shapes, alignment, split count, workspace size) and launches the
// split kernel and the combine kernel on `stream`. workspace: device memory of at least
// mlaDecodeWorkspaceBytes(args) bytes, 16-byte aligned.
void mlaDecode(const MlaDecodeArgs &args, void *workspace, std::size_t workspaceBytes,
               cudaStream_t stream);

// The number of splits mlaDecode uses for `args` (args.nSplits, or its choice when 0).
int mlaDecodeSplits(const MlaDecodeArgs &args);

} // namespace nw::cuda
