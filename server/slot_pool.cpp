// Slots of the server: acquisition in order of arrival, prefix-aware choice, counters.
#include "server/slot_pool.h"

#include "common/assert.h"
#include "engine/model.h"

#include <algorithm>
#include <limits>

namespace nw::server {

SlotPool::SlotPool(
    Model &model, const Tokenizer &tokenizer, const KvModeSpec &kvMode, std::int64_t contextTokens, int nSlots)
    : m_contextTokens(contextTokens)
{
    NW_ASSERT(nSlots >= 1);
    m_slots.resize(static_cast<std::size_t>(nSlots));
    for (Slot &slot : m_slots)
        slot.generator = std::make_unique<Generator>(model, tokenizer, kvMode, contextTokens);
}

SlotPool::~SlotPool() = default;

SlotPool::Lease::~Lease()
{
    if (m_pool)
        m_pool->release(m_slot);
}

Generator &SlotPool::Lease::generator() const
{
    return *m_pool->m_slots[m_slot].generator;
}

SlotPool::Lease SlotPool::acquire(std::span<const std::int32_t> prompt)
{
    return *tryAcquire(prompt, std::numeric_limits<std::size_t>::max());
}

std::optional<SlotPool::Lease> SlotPool::tryAcquire(std::span<const std::int32_t> prompt, std::size_t maxWaiting)
{
    std::unique_lock lock(m_mutex);
    const auto isFree = [](const Slot &s) { return !s.busy; };
    const bool servedNow = m_nextTicket == m_serving && std::any_of(m_slots.begin(), m_slots.end(), isFree);
    if (!servedNow && static_cast<std::size_t>(m_counters.requestsQueued) >= maxWaiting)
        return std::nullopt;
    const std::uint64_t ticket = m_nextTicket++;
    ++m_counters.requestsQueued;
    m_freed.wait(lock, [&] { return ticket == m_serving && std::any_of(m_slots.begin(), m_slots.end(), isFree); });
    ++m_serving;
    --m_counters.requestsQueued;
    ++m_counters.requestsRunning;
    std::size_t best = m_slots.size();
    std::size_t bestShared = 0;
    for (std::size_t i = 0; i < m_slots.size(); ++i) {
        const Slot &s = m_slots[i];
        if (s.busy)
            continue;
        const std::span<const std::int32_t> cached = s.generator->tokens();
        auto shared = static_cast<std::size_t>(
            std::mismatch(cached.begin(), cached.end(), prompt.begin(), prompt.end()).first - cached.begin());
        if (shared <= 1)
            shared = 0; // a BOS every prompt starts with is no reason to evict this slot's cache

        if (best == m_slots.size() || shared > bestShared
            || (shared == bestShared && s.lastUsed < m_slots[best].lastUsed)) {
            best = i;
            bestShared = shared;
        }
    }
    m_slots[best].busy = true;
    lock.unlock();
    m_freed.notify_all(); // the next ticket may find another free slot
    return std::optional<Lease>(std::in_place, *this, best);
}

void SlotPool::release(std::size_t slot)
{
    {
        const std::lock_guard lock(m_mutex);
        m_slots[slot].busy = false;
        m_slots[slot].lastUsed = ++m_clock;
        --m_counters.requestsRunning;
    }
    m_freed.notify_all();
}

void SlotPool::record(const GenerationResult &result, bool cancelled)
{
    const std::lock_guard lock(m_mutex);
    ServerMetrics &c = m_counters;
    ++(cancelled ? c.requestsCancelled : c.requestsFinished);
    if (result.reusedTokens > 1)
        ++c.prefixCacheHits;
    c.prefixCacheReusedTokens += static_cast<std::uint64_t>(result.reusedTokens);
    c.promptTokens += static_cast<std::uint64_t>(result.prefilledTokens);
    c.promptSeconds += result.prefillSeconds;
    c.generatedTokens += result.generatedTokens.size();
    c.generationSeconds += result.decodeSeconds;
}

void SlotPool::recordRejected()
{
    const std::lock_guard lock(m_mutex);
    ++m_counters.requestsRejected;
}

ServerMetrics SlotPool::metrics() const
{
    ServerMetrics m;
    {
        const std::lock_guard lock(m_mutex);
        m = m_counters;
    }
    // MemoryStats snapshots are lock-free and consistent on their own (engine/memory_stats.h).
    for (const Slot &s : m_slots)
        m.slotMemory.push_back(s.generator->memoryStats());
    return m;
}

} // namespace nw::server
