// Scratch slots of the DeepSeek V3.2 / V4 blocks (lightning indexer, compressed attention,
// hyper-connections), after the shared ones of forward_pass.h: only these architectures' blocks
// use them, one block at a time.
#pragma once

#include "engine/graph/forward_pass.h"

namespace nw {

enum DeepseekScratchSlot : std::size_t {
    kScratchIndexerQ = kScratchCount, // [n, indexer heads, indexer dim]
    kScratchIndexerWeights,           // [n, indexer heads]
    kScratchIndexerKeys,              // [n, indexer dim] (V3.2's per-token keys)
    kScratchRotated,                  // Hadamard rotation's output
    kScratchIndexerEnd,               // [n] keys each query scores (ints)
    kScratchSelected,                 // [n, topK] chosen rows (ints)
    kScratchV4Kv,                     // [n, head dim] V4's latent rows
    kScratchV4PoolRows,               // [ring + n, pool row] a compressor's source rows
    kScratchV4PoolScore,              // [n, pool width] compressor score rows
    kScratchV4Entries,                // [blocks, dim] pooled entries
    kScratchV4Ids,                    // pooling ids (ints)
    kScratchV4Rows,                   // attention row ranges and entry rows (ints)
    kScratchV4Positions,              // negated or entry positions (ints)
    kScratchV4Out,                    // [n, heads, head dim]
    kScratchV4Group,                  // grouped output projection rows
    kScratchHcStreams,                // [n, streams, nEmbd] the streams after a block
    kScratchHcMix,                    // [n, mix] mixing logits
    kScratchHcWeights,                // pre, post and comb weights
    kScratchDeepseekCount
};

} // namespace nw
