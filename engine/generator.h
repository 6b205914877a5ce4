// A generator over one model and one KV cache: prompt → tokens → prefill in chunks
// (progress) → decode with streaming text, stop on end-of-generation or stop strings, cancel
// from another thread, and prefix reuse (a prompt that shares a token prefix with what the
// cache holds keeps those positions and prefills only the rest).
#pragma once

#include "engine/kv_cache.h"
#include "engine/kv_snapshot.h"
#include "engine/memory_stats.h"
#include "engine/sampler.h"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nw {

class Model;
class Tokenizer;

struct GenerateOptions {
    int maxTokens = 256; // generated tokens at most (<= 0: until EOG or ctx full)
    SamplerParams sampler;
    std::vector<std::string> stopStrings; // generation stops before the first occurrence
    int prefillChunk = 512; // prompt tokens per forward pass
    bool addSpecial = true; // BOS as the vocabulary asks
    bool parseSpecial = false; // control tokens written in the prompt become ids
};

enum class StopReason { Length, EndOfGeneration, StopString, Cancelled, ContextFull };
std::string_view stopReasonName(StopReason reason);

struct GenerationResult {
    std::vector<std::int32_t> promptTokens;
    std::vector<std::int32_t> generatedTokens; // EOG not included
    std::string text; // generated text, cut before a stop string
    StopReason stop = StopReason::Length;
    std::int64_t reusedTokens = 0; // prompt positions kept from the cache
    std::int64_t prefilledTokens = 0; // prompt positions computed
    double prefillSeconds = 0.0;
    double decodeSeconds = 0.0;
    MemoryStats memory; // at the end

    double prefillTokensPerSecond() const
    {
        return prefillSeconds > 0 ? static_cast<double>(prefilledTokens) / prefillSeconds : 0.0;
    }
    double decodeTokensPerSecond() const;
};

struct GenerationCallbacks {
    std::function<void(std::int64_t done, std::int64_t total)> onPrefillProgress;
    // Streamed text: whole UTF-8 sequences, never part of a stop string.
    std::function<void(std::string_view text)> onText;
    // Every sampled token (before text is released), e.g. for --json output.
    std::function<void(std::int32_t id)> onToken;
};

// Where prepareSnapshotPrefix() found a prompt's prefix.
enum class PrefixSource {
    Cache, // the cache already held it (an earlier question of this session)
    Snapshot, // loaded from the snapshot file
    Prefill, // computed, then written to the snapshot file
};
std::string_view prefixSourceName(PrefixSource source); // "cache", "snapshot", "prefill"

struct PrefixResult {
    PrefixSource source = PrefixSource::Cache;
    std::int64_t tokens = 0; // of the prefix
    std::uint64_t bytes = 0; // the snapshot file's size (loaded or written)
    double seconds = 0; // loading it, or prefilling the prefix
    double saveSeconds = 0; // writing it (Prefill)
    // What prefilling the prefix took: now (Prefill), or when the snapshot was made (Snapshot; 0
    // when the file does not say): what the load saved.
    double prefillSeconds = 0;
    // Why a snapshot file there was not used ("" when it was, or there was none); it was replaced.
    std::string problem;
    bool saved = false; // Prefill: the snapshot was written (false when cancelled or the write failed)
};

class Generator {
public:
    static constexpr std::int64_t kCheckpointTail = 4;

    // A session with a fresh cache of `contextTokens` in mode `kvMode`. Model and tokenizer
    // must outlive it.
    Generator(Model &model, const Tokenizer &tokenizer, const KvModeSpec &kvMode, std::int64_t contextTokens);
    ~Generator();

    GenerationResult generate(
        std::string_view prompt, const GenerateOptions &options, const GenerationCallbacks &callbacks = {});
    GenerationResult generateFromTokens(std::span<const std::int32_t> prompt, const GenerateOptions &options,
        const GenerationCallbacks &callbacks = {});

    // Brings the cache to hold exactly `tokens`, reusing the longest common prefix with what
    // it holds (at least the last token is recomputed, for its logits). Returns the logits of
    // the last token; throws nw::Error when the tokens do not fit the context. A cache with
    // recurrent layers can only go back to a checkpoint of their states: prefill takes one
    // kCheckpointTail tokens before the end of each prompt (as llama-server does), where a
    // follow-up prompt that re-renders the conversation usually starts to differ (a chat
    // template drops the thinking of earlier turns, or ends them differently). A `+snapkv:B` cache
    // is compressed once the prompt is in (engine/snapkv.h), after its last logits: prefilling a
    // document alone compresses it before the question is known; a later prompt that continues
    // it keeps the selection and adds its tokens uncompressed.
    const std::vector<float> &prefill(std::span<const std::int32_t> tokens, int chunk = 512,
        const std::function<void(std::int64_t, std::int64_t)> &progress = {});
    std::int64_t lastReusedTokens() const { return m_lastReused; }
    std::int64_t lastPrefilledTokens() const { return m_lastPrefilled; }

    // The tokens of positions [0, n) of the sequence the cache holds (after SnapKV, rows for
    // some of them only).
    std::span<const std::int32_t> tokens() const { return m_tokens; }
    // KV snapshots (engine/kv_snapshot.h): writes what the cache holds to `path`, or loads the
    // snapshot at `path` when it holds exactly `tokens` (otherwise the cache is empty and the
    // result says why). Throws / fails as saveKvSnapshot / loadKvSnapshot do.
    KvSnapshotSaved saveSnapshot(
        const KvSnapshotIdentity &identity, const std::filesystem::path &path, double prefillSeconds = 0) const;
    KvSnapshotLoaded loadSnapshot(
        std::span<const std::int32_t> tokens, const KvSnapshotIdentity &identity, const std::filesystem::path &path);
    // Brings the cache to hold `prefix` (the start a prompt shares with later ones, e.g. the
    // documents before a question): kept when the cache holds it already, else loaded from the
    // snapshot at `path`, else prefilled and written there (a file that does not load is logged
    // and replaced). A prompt that starts with `prefix` then prefills only the rest. The cache
    // must be on the host; throws nw::Error for a `+snapkv:B` cache (its prefix would be compressed
    // before the question).
    PrefixResult prepareSnapshotPrefix(std::span<const std::int32_t> prefix, const KvSnapshotIdentity &identity,
        const std::filesystem::path &path, int chunk = 512,
        const std::function<void(std::int64_t, std::int64_t)> &progress = {});

    // Asks a running generate()/prefill() to stop at the next token or chunk; callable from any
    // thread. The flag is cleared when the next generate() starts.
    void cancel() { m_cancel.store(true, std::memory_order_relaxed); }
    void reset(); // empties the cache

    KvCache &cache() { return *m_cache; }
    MemoryStats memoryStats() const { return m_cache->memoryStats(); }
    Model &model() { return m_model; }
    const Tokenizer &tokenizer() const { return m_tokenizer; }

private:
    Model &m_model;
    const Tokenizer &m_tokenizer;
    std::unique_ptr<KvCache> m_cache;
    std::vector<std::int32_t> m_tokens; // what positions [0, n) of the cache hold
    std::vector<float> m_logits; // of the last token fed
    std::atomic<bool> m_cancel { false };
    std::int64_t m_lastReused = 0;
    std::int64_t m_lastPrefilled = 0;
};

// Perplexity as llama.cpp's `perplexity` tool computes it: the tokens are cut into
// non-overlapping chunks of `ctx` (a tail shorter than ctx is dropped), each chunk starts with
// BOS in place of its first token (when bos >= 0), and only the second half of each chunk is
// scored (every scored token then has at least ctx/2 tokens of context). A `+snapkv:B` cache
// compresses each chunk's first half (its prompt) before the scored half runs.
// PPL = exp(mean NLL); ± = PPL × sqrt((mean(NLL²) - mean(NLL)²) / (count - 1)).
struct PerplexityResult {
    double ppl = 0.0;
    double error = 0.0; // the ± above
    std::int64_t chunks = 0;
    std::int64_t scored = 0; // tokens whose NLL entered the mean
    double seconds = 0.0;
    MemoryStats memory; // of one chunk's cache at its fullest
};

PerplexityResult measurePerplexity(Model &model, std::span<const std::int32_t> tokens, std::int64_t ctx,
    std::int32_t bos, const KvModeSpec &kvMode, int batch = 512,
    const std::function<void(std::int64_t chunk, std::int64_t chunks, double ppl)> &progress = {});

} // namespace nw
