// Scratch slots of the DeepSeek V3.2 / V4 blocks (the lightning indexer, V4's hyper-connections
// and compressed attention), after the shared ones of
// forward_pass.h: only these architectures' blocks use them, one block at a time.
#pragma once

#include "engine/graph/forward_pass.h"

namespace nw {

enum DeepseekScratchSlot : std::size_t {
    kScratchIndexerQ = kScratchCount, // [n, indexer heads, indexer dim]
    kScratchIndexerWeights, // [n, indexer heads]
    kScratchIndexerKeys, // [n, indexer dim] (V3.2's per-token keys)
    kScratchRotated, // Hadamard rotation's output
    kScratchIndexerEnd, // [n] keys each query scores (ints)
    kScratchSelected, // [n, topK] chosen rows (ints)
    // DeepSeek V4 (hyper-connections, compressors, compressed attention)
    kScratchHcNormed, // [n, streams · nEmbd] the normed streams, then the expanded ones
    kScratchHcMixes, // [n, mix] mixing logits
    kScratchHcPre, // [n, streams]
    kScratchHcPost, // [n, streams]
    kScratchHcComb, // [n, streams, streams]
    kScratchPoolRows, // [ring + n, 2 · coff · dim] a compressor's [kv | score] rows
    kScratchPoolKv, // [n, coff · dim]
    kScratchPoolScore, // [n, coff · dim]
    kScratchPoolIds, // [blocks, 2 · ratio] rows each entry pools (ints)
    kScratchPoolOut, // [blocks, dim] pooled entries
    kScratchPoolRotated, // [blocks, dim] indexer keys after the Hadamard rotation
    kScratchRowIds, // [n] store rows to write (ints)
    kScratchRanges, // [4, n] row ranges of the attention sources (ints)
    kScratchGroup, // [n, group width] one output group's heads
    kScratchGroupOut, // [n, groups · rank]
    kScratchDeepseekCount
};

} // namespace nw
