// The server's parallel sequences: N slots, each a Generator with its own KV cache in the chosen
// mode, over one loaded model whose weights they share (Model::forwardMutex lets them take turns
// batch by batch). A request takes the free slot whose cache shares the longest prefix with its
// prompt, so a follow-up prefills only what is new; requests beyond N wait in order of arrival.
#pragma once

#include "engine/generator.h"
#include "server/metrics.h"

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace nw {
class Model;
class Tokenizer;
} // namespace nw

namespace nw::server {

class SlotPool {
public:
    // Makes `nSlots` caches of `contextTokens` each; throws nw::Error when the mode does not fit.
    SlotPool(
        Model &model, const Tokenizer &tokenizer, const KvModeSpec &kvMode, std::int64_t contextTokens, int nSlots);
    ~SlotPool();

    class Lease {
    public:
        Lease(SlotPool &pool, std::size_t slot)
            : m_pool(&pool)
            , m_slot(slot)
        {
        }
        Lease(Lease &&other) noexcept
            : m_pool(std::exchange(other.m_pool, nullptr))
            , m_slot(other.m_slot)
        {
        }
        Lease &operator=(Lease &&) = delete;
        ~Lease();
        Generator &generator() const;
        std::size_t slot() const { return m_slot; }

    private:
        SlotPool *m_pool;
        std::size_t m_slot;
    };

    // Waits for a free slot (first come, first served) and takes the one whose cache shares the
    // longest prefix with `prompt`, beyond a first token (BOS) that every prompt shares; ties, and
    // prompts that share nothing, take the slot idle longest (an unused one first).
    Lease acquire(std::span<const std::int32_t> prompt);
    // As acquire, unless the request would have to wait behind `maxWaiting` others already
    // waiting: then nothing (the server answers 429), and the pool is unchanged.
    std::optional<Lease> tryAcquire(std::span<const std::int32_t> prompt, std::size_t maxWaiting);

    // Counts a generation that ran in a slot (prefix reuse, tokens and seconds, its outcome).
    void record(const GenerationResult &result, bool cancelled);
    void recordRejected();

    std::int64_t contextTokens() const { return m_contextTokens; }
    std::size_t size() const { return m_slots.size(); }
    // Everything but the weights' bytes and the mode's name, which the caller knows.
    ServerMetrics metrics() const;

private:
    struct Slot {
        std::unique_ptr<Generator> generator;
        bool busy = false;
        std::uint64_t lastUsed = 0; // m_clock when it was last released
    };
    void release(std::size_t slot);

    std::int64_t m_contextTokens;
    std::vector<Slot> m_slots;
    mutable std::mutex m_mutex;
    std::condition_variable m_freed;
    std::uint64_t m_clock = 0;
    std::uint64_t m_nextTicket = 0; // waiters are served in ticket order
    std::uint64_t m_serving = 0;
    ServerMetrics m_counters; // the counters and queue figures, under m_mutex
};

} // namespace nw::server
