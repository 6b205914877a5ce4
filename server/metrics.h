// GET /metrics: the server's gauges and counters in the Prometheus text exposition format
// (version 0.0.4): HELP and TYPE lines, the needlework_ prefix, base units (bytes, seconds) and
// _total on counters. The KV figures are the engine's MemoryStats of each slot, one series per
// slot and cache kind, so nothing is estimated twice.
#pragma once

#include "engine/memory_stats.h"

#include <cstdint>
#include <string>
#include <vector>

namespace nw::server {

struct ServerMetrics {
    std::string kvMode; // "full", "mla", "latent:32+q8", ...
    std::uint64_t weightsBytes = 0;
    std::vector<MemoryStats> slotMemory; // [slot] (not "slots": a Qt keyword)
    std::int64_t requestsQueued = 0; // waiting for a slot
    std::int64_t requestsRunning = 0; // holding a slot
    std::uint64_t requestsFinished = 0; // completions that ran to an end (stop or length)
    std::uint64_t requestsCancelled = 0; // stopped because the client went away
    std::uint64_t requestsRejected = 0; // answered with a 4xx error
    // Requests whose prompt reused cached positions of their slot beyond the first token (which
    // every prompt that starts with BOS shares), and the positions reused in all.
    std::uint64_t prefixCacheHits = 0;
    std::uint64_t prefixCacheReusedTokens = 0;
    std::uint64_t promptTokens = 0; // prefilled (reused positions not counted)
    double promptSeconds = 0;
    std::uint64_t generatedTokens = 0;
    double generationSeconds = 0;
};

std::string renderPrometheus(const ServerMetrics &metrics);

} // namespace nw::server
