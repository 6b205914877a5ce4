// Causal attention over a paged KV cache with an online softmax (flash-attention style: a
// running max and sum per query head, no [T, T] score matrix, O(chunk) scratch), GQA head
// sharing and MLA's shared-row view; plus the writes of new K/V rows into the cache.
#pragma once

#include "kernels/backend.h"

namespace nw::cpu {

class ThreadPool;

void attention(ThreadPool &pool, const AttentionArgs &a);

void storeKv(ThreadPool &pool, const KvLayerView &kv, const float *k, const float *v, int nTokens,
             const std::int32_t *positions);

// Checks a cache view once at the entry (types, head counts, strides). Throws nw::Error.
void checkKvView(const KvLayerView &kv, const char *op);

} // namespace nw::cpu
