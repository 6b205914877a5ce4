// Attention over listed cache rows (DeepSeek V3.2's top-k tokens; V4's window rows plus the
// compressed entries it keeps), and the lightning indexer that lists them.
#pragma once

#include "kernels/backend.h"

namespace nw::cpu {

class ThreadPool;

// One online softmax over every row the sources list for a query (backend_args.h).
void sparseAttention(ThreadPool &pool, const SparseAttentionArgs &a);

// Index scores Σ_h w_h relu(q_h · k_j) over each query's keys and their top-k rows.
void lightningIndexer(ThreadPool &pool, const LightningIndexerArgs &a);

} // namespace nw::cpu
