// Scratch slots of the DeepSeek V3.2 blocks (the lightning indexer), after the shared ones of
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
    kScratchDeepseekCount
};

} // namespace nw
