// The fixed-size state a recurrent layer (Gated DeltaNet: Qwen3.5 / Qwen3.6) carries in place of
// a KV cache: the short convolution's last kernel − 1 input rows and one delta-rule matrix per
// value head, in f32 as llama.cpp keeps them (llama_memory_recurrent, r and s in F32). Its size
// does not grow with the context; what it cannot do is forget its last tokens, so rolling back
// means restoring a copy taken earlier (a checkpoint).
//
// What the reference does: llama_memory_recurrent::seq_rm refuses to remove a sequence's tail
// (beyond the few per-token snapshots of --n-rs-seq for speculative decoding), so llama-server
// keeps "context checkpoints" of the non-rollbackable memory per slot (--ctx-checkpoints, 32 by
// default): made a few tokens before the end of each prompt (4 + n_ubatch and 4 tokens before it)
// and at user-message starts; a new prompt restores the newest checkpoint at or before the point
// where it leaves the cached tokens and recomputes from there, or starts over when none fits.
// KvCache does the same with these checkpoints (KvCache::checkpoint, truncate); the Generator
// takes one Generator::kCheckpointTail (4) tokens before each prompt's end, as llama-server does
// (not yet at user-message starts: it does not see the messages). Each checkpoint is a full copy
// of the states, counted in MemoryStats (Qwen3.6-27B: 150 MiB).
#pragma once

#include <cstdint>
#include <vector>

namespace nw {

struct HParams;

struct RecurrentStateShape {
    std::int64_t convRows = 0; // kernel − 1 input rows carried by the short convolution
    std::int64_t convChannels = 0; // q, k and v channels: 2 · key heads · head dim + value heads · head dim
    std::int64_t heads = 0; // value heads, one state matrix each
    std::int64_t keyDim = 0; // state rows (key head dim)
    std::int64_t valueDim = 0; // state columns (value head dim)

    std::int64_t convFloats() const { return convRows * convChannels; }
    std::int64_t stateFloats() const { return heads * keyDim * valueDim; }
    std::uint64_t bytes() const { return std::uint64_t(convFloats() + stateFloats()) * sizeof(float); }
    bool empty() const { return bytes() == 0; }

    // From the ssm.* hyperparameters of a Gated DeltaNet model; empty when it has none.
    static RecurrentStateShape forModel(const HParams &hp);
};

// The live states of the recurrent layers of one cache and the checkpoints kept of them. Layers
// are the cache's; a layer with an empty shape has no state. Memory is allocated on first use.
class RecurrentStates {
public:
    explicit RecurrentStates(std::vector<RecurrentStateShape> layers);

    bool any() const { return m_liveFloats > 0; }
    // Allocates the live states (zeros) if they are not yet; an empty sequence's state.
    void allocate();
    bool allocated() const { return !m_live.empty(); }
    // Layer `layer`'s conv rows [convRows, convChannels] and state [heads, keyDim, valueDim].
    float *conv(std::int64_t layer);
    float *state(std::int64_t layer);

    // Zeros every live state (the state before the first token).
    void reset();
    // Saves a copy of the live states as the state after `tokens` tokens, replacing one at the
    // same count; keeps at most maxCheckpoints, dropping the oldest.
    void checkpoint(std::int64_t tokens);
    // Restores the newest checkpoint at or before `tokens` and returns its token count, dropping
    // every checkpoint after it; without one, resets and returns 0.
    std::int64_t restore(std::int64_t tokens);
    // Forgets the checkpoints taken after `tokens` tokens (their past is no longer the cache's).
    void dropAfter(std::int64_t tokens);

    void setMaxCheckpoints(int n);
    int maxCheckpoints() const { return m_maxCheckpoints; }
    std::vector<std::int64_t> checkpointTokens() const; // oldest first

    // Bytes of layer `layer`'s live state (its shape, once allocated) and of its copies in the
    // checkpoints.
    std::uint64_t liveBytes(std::int64_t layer) const;
    std::uint64_t checkpointBytes(std::int64_t layer) const;
    // Everything allocated: the live states and every checkpoint.
    std::uint64_t allocatedBytes() const;

private:
    struct Checkpoint {
        std::int64_t tokens = 0;
        std::vector<float> data; // a copy of m_live
    };

    std::vector<RecurrentStateShape> m_shapes; // [nLayers]
    std::vector<std::size_t> m_offsets; // [nLayers] into m_live
    std::size_t m_liveFloats = 0;
    std::vector<float> m_live; // every layer's conv rows then state, back to back
    std::vector<Checkpoint> m_checkpoints; // oldest first
    int m_maxCheckpoints = 4;
};

} // namespace nw
