// Generator: prefix reuse, chunked prefill, streaming decode with stop strings and cancel.
#include "engine/generator.h"

#include "common/assert.h"
#include "common/error.h"
#include "common/log.h"
#include "engine/model.h"
#include "engine/snapkv.h"
#include "engine/tokenizer.h"
#include "engine/unicode.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>

namespace nw {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Length of the longest suffix of `text` that is a proper prefix of a stop string.
std::size_t stopPrefixTail(std::string_view text, const std::vector<std::string> &stops)
{
    std::size_t longest = 0;
    for (const std::string &stop : stops)
        for (std::size_t len = std::min(stop.size() - 1, text.size()); len > longest; --len)
            if (text.substr(text.size() - len) == std::string_view(stop).substr(0, len)) {
                longest = len;
                break;
            }
    return longest;
}

} // namespace

std::string_view stopReasonName(StopReason reason)
{
    switch (reason) {
    case StopReason::Length:
        return "length";
    case StopReason::EndOfGeneration:
        return "eog";
    case StopReason::StopString:
        return "stop_string";
    case StopReason::Cancelled:
        return "cancelled";
    case StopReason::ContextFull:
        return "context_full";
    }
    return "?";
}

double GenerationResult::decodeTokensPerSecond() const
{
    // The first generated token comes from the prefill's logits; the rest each took a decode step.
    const std::size_t steps = generatedTokens.empty() ? 0 : generatedTokens.size() - 1;
    return decodeSeconds > 0 && steps > 0 ? static_cast<double>(steps) / decodeSeconds : 0.0;
}

Generator::Generator(Model &model, const Tokenizer &tokenizer, const KvModeSpec &kvMode, std::int64_t contextTokens)
    : m_model(model)
    , m_tokenizer(tokenizer)
    , m_cache(model.makeKvCache(kvMode, contextTokens))
{
}

Generator::~Generator() = default;

void Generator::reset()
{
    m_cache->clear();
    m_tokens.clear();
    m_logits.clear();
}

const std::vector<float> &Generator::prefill(
    std::span<const std::int32_t> tokens, int chunk, const std::function<void(std::int64_t, std::int64_t)> &progress)
{
    if (tokens.empty())
        fail("cannot prefill an empty prompt");
    const auto total = static_cast<std::int64_t>(tokens.size());
    if (total > m_cache->capacity())
        fail(Remedy::LargerContext, "the prompt has {} tokens but the context holds {}", total, m_cache->capacity());
    NW_ASSERT(static_cast<std::int64_t>(m_tokens.size()) == m_cache->positions());
    const auto mismatch = std::mismatch(m_tokens.begin(), m_tokens.end(), tokens.begin(), tokens.end());
    auto keep = static_cast<std::int64_t>(mismatch.first - m_tokens.begin());
    keep = std::min(keep, total - 1); // the last token is always run, for its logits
    // `+snapkv:B`: a prompt into a cache not compacted yet is compressed once it is in; its
    // observation window's queries must be computed, so those positions are run again. A
    // compacted cache only continues its own sequence: a prompt that is not a continuation of
    // what it holds goes back into the selection, which empties it (KvCache::truncate), and is
    // prefilled and compressed afresh; a continuation (the next turn, a question after a
    // document compressed before it) is kept as it is and its new tokens are not compressed.
    const std::int64_t budget = m_cache->layout().spec.snapkv;
    std::unique_lock lock(m_model.forwardMutex()); // released between chunks, so other generators get turns
    m_cache->truncate(std::max<std::int64_t>(0, keep - m_cache->positionOffset()));
    const bool compress = budget > 0 && !m_cache->compacted();
    if (compress)
        m_cache->truncate(std::min(m_cache->tokens(), total - std::min(kSnapKvWindow, total)));
    keep = m_cache->positions(); // a sliding-window layer may not be able to continue from there
    m_tokens.resize(static_cast<std::size_t>(keep));
    m_lastReused = keep;
    m_lastPrefilled = 0;
    chunk = std::max(chunk, 1);
    // Where recurrent states are saved (engine/recurrent_state.h): a batch ends there.
    const std::int64_t checkpointAt = m_cache->hasRecurrentLayers() ? total - kCheckpointTail : -1;
    std::vector<std::int32_t> positions;
    std::optional<SnapKvQueries> queries;
    if (compress)
        queries.emplace(m_cache->nLayers(), total);
    // The cache hands the observer to attention while this prefill runs, and never after it.
    struct Observing {
        KvCache &cache;
        ~Observing() { cache.observeQueries(nullptr); }
    } observing { *m_cache };
    m_cache->observeQueries(queries ? &*queries : nullptr);
    for (std::int64_t start = keep; start < total;) {
        if (m_cancel.load(std::memory_order_relaxed))
            break;
        if (!lock.owns_lock())
            lock.lock();
        std::int64_t len = std::min<std::int64_t>(chunk, total - start);
        if (start < checkpointAt && start + len > checkpointAt)
            len = checkpointAt - start;
        positions.resize(static_cast<std::size_t>(len));
        std::iota(positions.begin(), positions.end(), static_cast<std::int32_t>(start));
        const auto part = tokens.subspan(static_cast<std::size_t>(start), static_cast<std::size_t>(len));
        m_model.forward(part, positions, *m_cache, LogitsFor::Last, m_logits);
        m_tokens.insert(m_tokens.end(), part.begin(), part.end());
        start += len;
        m_lastPrefilled += len;
        if (start == checkpointAt)
            m_cache->checkpoint();
        lock.unlock();
        if (progress)
            progress(start, total);
    }
    // The prompt's last logits came from full attention, as SnapKV's do; the rest sees the selection.
    if (compress && static_cast<std::int64_t>(m_tokens.size()) == total)
        snapKvCompress(*m_cache, *queries, budget);
    return m_logits;
}

std::string_view prefixSourceName(PrefixSource source)
{
    switch (source) {
    case PrefixSource::Cache:
        return "cache";
    case PrefixSource::Snapshot:
        return "snapshot";
    case PrefixSource::Prefill:
        return "prefill";
    }
    return "?";
}

KvSnapshotSaved Generator::saveSnapshot(
    const KvSnapshotIdentity &identity, const std::filesystem::path &path, double prefillSeconds) const
{
    return saveKvSnapshot(*m_cache, m_tokens, identity, path, prefillSeconds);
}

KvSnapshotLoaded Generator::loadSnapshot(
    std::span<const std::int32_t> tokens, const KvSnapshotIdentity &identity, const std::filesystem::path &path)
{
    m_tokens.clear();
    m_logits.clear(); // a snapshot has no logits: the next prefill runs at least one token
    KvSnapshotLoaded loaded = loadKvSnapshot(*m_cache, tokens, identity, path);
    if (loaded.ok()) {
        m_tokens.assign(tokens.begin(), tokens.end());
        m_cache->checkpoint(); // a recurrent state can come back here for the next question
    }
    return loaded;
}

PrefixResult Generator::prepareSnapshotPrefix(std::span<const std::int32_t> prefix, const KvSnapshotIdentity &identity,
    const std::filesystem::path &path, int chunk, const std::function<void(std::int64_t, std::int64_t)> &progress)
{
    // Prefilled alone, a SnapKV prefix would be compressed before the question comes (and a
    // compacted cache is not written anyway): the prompt goes whole into generate().
    if (m_cache->layout().spec.snapkv > 0)
        fail("KV snapshots do not hold +snapkv caches: the prefix would be compressed before the question; mode {}",
            m_cache->layout().spec.toString());
    PrefixResult result;
    result.tokens = static_cast<std::int64_t>(prefix.size());
    if (m_tokens.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), m_tokens.begin()))
        return result; // PrefixSource::Cache
    const KvSnapshotLoaded loaded = loadSnapshot(prefix, identity, path);
    if (loaded.ok()) {
        result.source = PrefixSource::Snapshot;
        result.bytes = loaded.bytes;
        result.seconds = loaded.seconds;
        result.prefillSeconds = loaded.prefillSeconds;
        return result;
    }
    if (loaded.problem != KvSnapshotProblem::Missing) {
        result.problem = loaded.message;
        log::get("engine")->warn("{}: not loaded ({}), prefilling the prefix again to replace it", loaded.message,
            kvSnapshotProblemName(loaded.problem));
    }
    result.source = PrefixSource::Prefill;
    m_cancel.store(false, std::memory_order_relaxed);
    const auto start = Clock::now();
    prefill(prefix, chunk, progress);
    result.seconds = secondsSince(start);
    result.prefillSeconds = result.seconds;
    if (m_tokens.size() != prefix.size())
        return result; // cancelled: nothing to save
    m_cache->checkpoint(); // as loadSnapshot does, so both ways leave the same checkpoints
    try {
        const KvSnapshotSaved saved = saveSnapshot(identity, path, result.seconds);
        result.saved = true;
        result.bytes = saved.bytes;
        result.saveSeconds = saved.seconds;
    } catch (const Error &e) {
        log::get("engine")->warn("KV snapshot not written: {}", e.what());
    }
    return result;
}

GenerationResult Generator::generate(
    std::string_view prompt, const GenerateOptions &options, const GenerationCallbacks &callbacks)
{
    const std::vector<std::int32_t> tokens = m_tokenizer.encode(prompt, options.addSpecial, options.parseSpecial);
    return generateFromTokens(tokens, options, callbacks);
}

GenerationResult Generator::generateFromTokens(
    std::span<const std::int32_t> prompt, const GenerateOptions &options, const GenerationCallbacks &callbacks)
{
    m_cancel.store(false, std::memory_order_relaxed);
    GenerationResult result;
    result.promptTokens.assign(prompt.begin(), prompt.end());

    const auto prefillStart = Clock::now();
    prefill(prompt, options.prefillChunk, callbacks.onPrefillProgress);
    result.prefillSeconds = secondsSince(prefillStart);
    result.reusedTokens = m_lastReused;
    result.prefilledTokens = m_lastPrefilled;
    if (m_cancel.load(std::memory_order_relaxed)) {
        result.stop = StopReason::Cancelled;
        result.memory = m_cache->memoryStats();
        return result;
    }

    Sampler sampler(options.sampler);
    std::vector<std::int32_t> history(prompt.begin(), prompt.end());
    std::string text; // everything generated so far
    std::size_t emitted = 0; // bytes of `text` already streamed
    auto release = [&](std::size_t end) {
        if (end > emitted && callbacks.onText)
            callbacks.onText(std::string_view(text).substr(emitted, end - emitted));
        emitted = std::max(emitted, end);
    };

    const auto decodeStart = Clock::now();
    result.stop = StopReason::Length;
    for (;;) {
        if (options.maxTokens > 0 && static_cast<int>(result.generatedTokens.size()) >= options.maxTokens)
            break; // StopReason::Length
        if (m_cancel.load(std::memory_order_relaxed)) {
            result.stop = StopReason::Cancelled;
            break;
        }
        const std::int32_t id = sampler.sample(m_logits, history);
        if (m_tokenizer.isEog(id)) {
            result.stop = StopReason::EndOfGeneration;
            break;
        }
        result.generatedTokens.push_back(id);
        history.push_back(id);
        if (callbacks.onToken)
            callbacks.onToken(id);
        const std::size_t before = text.size();
        text += m_tokenizer.tokenPiece(id);

        // A stop string may straddle earlier text: search from the first byte it could start at.
        std::size_t longestStop = 0;
        for (const std::string &stop : options.stopStrings)
            longestStop = std::max(longestStop, stop.size());
        const std::size_t from = before >= longestStop ? before - longestStop + 1 : 0;
        std::size_t cut = std::string::npos;
        for (const std::string &stop : options.stopStrings)
            if (!stop.empty())
                cut = std::min(cut, text.find(stop, from));
        if (cut != std::string::npos) {
            text.resize(cut);
            release(cut);
            result.stop = StopReason::StopString;
            break;
        }
        // Held back: what may still become a stop string or finish a UTF-8 character.
        const std::size_t unfinishedUtf8 = text.size() - unicode::completeUtf8Prefix(text);
        const std::size_t hold = std::max(stopPrefixTail(text, options.stopStrings), unfinishedUtf8);
        release(text.size() - hold);

        if (options.maxTokens > 0 && static_cast<int>(result.generatedTokens.size()) >= options.maxTokens)
            break; // StopReason::Length, without computing logits nobody will use
        if (m_cache->positions() >= m_cache->capacity()) {
            result.stop = StopReason::ContextFull;
            break;
        }
        const std::int32_t pos = static_cast<std::int32_t>(m_tokens.size());
        const std::int32_t one[] = { id };
        const std::int32_t at[] = { pos };
        {
            const std::lock_guard lock(m_model.forwardMutex());
            m_model.forward(one, at, *m_cache, LogitsFor::Last, m_logits);
        }
        m_tokens.push_back(id);
    }
    release(text.size());
    result.decodeSeconds = secondsSince(decodeStart);
    result.text = std::move(text);
    result.memory = m_cache->memoryStats();
    return result;
}

PerplexityResult measurePerplexity(Model &model, std::span<const std::int32_t> tokens, std::int64_t ctx,
    std::int32_t bos, const KvModeSpec &kvMode, int batch,
    const std::function<void(std::int64_t, std::int64_t, double)> &progress)
{
    if (ctx < 4)
        fail("perplexity needs a context of at least 4 tokens, got {}", ctx);
    const auto nChunks = static_cast<std::int64_t>(tokens.size()) / ctx;
    if (nChunks == 0)
        fail(
            "perplexity needs at least {} tokens (one chunk of the context size), the text has {}", ctx, tokens.size());
    batch = std::max(1, batch);
    const auto nVocab = static_cast<std::size_t>(model.hparams().nVocab);
    const std::int64_t first = ctx / 2;
    std::unique_ptr<KvCache> cache = model.makeKvCache(kvMode, ctx);
    PerplexityResult result;
    result.chunks = nChunks;
    double nll = 0.0, nll2 = 0.0;
    std::vector<std::int32_t> chunk(static_cast<std::size_t>(ctx));
    std::vector<std::int32_t> positions;
    std::vector<float> logits;
    const auto start = Clock::now();
    for (std::int64_t c = 0; c < nChunks; ++c) {
        std::copy_n(tokens.begin() + c * ctx, ctx, chunk.begin());
        if (bos >= 0)
            chunk[0] = bos;
        cache->clear();
        std::int64_t scoredFrom = 0;
        if (kvMode.snapkv > 0) {
            // SnapKV: the chunk's unscored first half is its prompt, compressed before the scored
            // half is read (each scored token sees the selection and the tokens after it).
            SnapKvQueries queries(model.hparams().nLayers, first);
            cache->observeQueries(&queries);
            for (std::int64_t b = 0; b < first; b += batch) {
                const std::int64_t len = std::min<std::int64_t>(batch, first - b);
                positions.resize(static_cast<std::size_t>(len));
                std::iota(positions.begin(), positions.end(), static_cast<std::int32_t>(b));
                model.forward(std::span<const std::int32_t>(chunk).subspan(
                                  static_cast<std::size_t>(b), static_cast<std::size_t>(len)),
                    positions, *cache, LogitsFor::Last, logits);
            }
            cache->observeQueries(nullptr);
            snapKvCompress(*cache, queries, kvMode.snapkv);
            scoredFrom = first;
        }
        for (std::int64_t b = scoredFrom; b < ctx; b += batch) {
            const std::int64_t len = std::min<std::int64_t>(batch, ctx - b);
            positions.resize(static_cast<std::size_t>(len));
            std::iota(positions.begin(), positions.end(), static_cast<std::int32_t>(b));
            model.forward(std::span<const std::int32_t>(chunk).subspan(
                              static_cast<std::size_t>(b), static_cast<std::size_t>(len)),
                positions, *cache, LogitsFor::All, logits);
            // Position j predicts chunk token j + 1; j runs over [first, ctx - 2].
            for (std::int64_t j = std::max(b, first); j < std::min(b + len, ctx - 1); ++j) {
                const float *row = logits.data() + static_cast<std::size_t>(j - b) * nVocab;
                const float maxLogit = *std::max_element(row, row + nVocab);
                double sum = 0.0;
                for (std::size_t v = 0; v < nVocab; ++v)
                    sum += std::exp(static_cast<double>(row[v]) - maxLogit);
                const auto target = static_cast<std::size_t>(tokens[static_cast<std::size_t>(c * ctx + j + 1)]);
                const double value = -(static_cast<double>(row[target]) - maxLogit - std::log(sum));
                nll += value;
                nll2 += value * value;
                ++result.scored;
            }
        }
        if (c == 0)
            result.memory = cache->memoryStats();
        if (progress)
            progress(c + 1, nChunks, std::exp(nll / static_cast<double>(result.scored)));
    }
    result.seconds = secondsSince(start);
    const auto count = static_cast<double>(result.scored);
    const double mean = nll / count;
    const double variance = nll2 / count - mean * mean;
    result.ppl = std::exp(mean);
    result.error = variance > 0 && count > 1 ? std::sqrt(variance / (count - 1)) * result.ppl : 0.0;
    return result;
}

} // namespace nw
