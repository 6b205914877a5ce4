// /metrics rendering: the whole exposition for a small server, written by hand from the Prometheus
// text format (HELP and TYPE per family, labels, _total counters), and the label escaping rules.
#include "server/metrics.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

using namespace nw::server;

namespace {

nw::MemoryStats slotStats()
{
    nw::MemoryStats m;
    // Three stores: two full layers and a sliding-window one between them (as Gemma 3 has).
    m.layers = { { .used = 100, .reserved = 200, .kind = "full", .layer = 0 },
        { .used = 50, .reserved = 100, .kind = "window", .layer = 1 },
        { .used = 100, .reserved = 200, .kind = "full", .layer = 2 } };
    m.kvBytesUsed = 250;
    m.kvBytesReserved = 500;
    m.mhaF16Bytes = 1000; // saving 1000 / 250 = 4
    m.tokens = 10;
    m.capacityTokens = 64;
    return m;
}

std::string lineOf(const std::string &text, const std::string &start)
{
    const std::size_t at = text.find("\n" + start);
    REQUIRE(at != std::string::npos);
    return text.substr(at + 1, text.find('\n', at + 1) - at - 1);
}

} // namespace

TEST_CASE("the exposition of one slot, whole")
{
    ServerMetrics m;
    m.kvMode = "full+q8";
    m.weightsBytes = 4096;
    m.slotMemory = { slotStats() };
    m.requestsQueued = 3;
    m.requestsRunning = 1;
    m.requestsFinished = 7;
    m.requestsCancelled = 2;
    m.requestsRejected = 5;
    m.prefixCacheHits = 4;
    m.prefixCacheReusedTokens = 120;
    m.promptTokens = 300;
    m.promptSeconds = 1.5;
    m.generatedTokens = 90;
    m.generationSeconds = 0.25;
    const std::string expected = R"(# HELP needlework_slots Parallel sequences (--parallel), each with its own KV cache.
# TYPE needlework_slots gauge
needlework_slots 1
# HELP needlework_weights_bytes Bytes of the model's weights (mapped, plus the backend's copies).
# TYPE needlework_weights_bytes gauge
needlework_weights_bytes 4096
# HELP needlework_kv_cache_used_bytes KV cache bytes the cached tokens occupy, per slot, KV mode and cache kind (engine MemoryStats).
# TYPE needlework_kv_cache_used_bytes gauge
needlework_kv_cache_used_bytes{slot="0",mode="full+q8",kind="full"} 200
needlework_kv_cache_used_bytes{slot="0",mode="full+q8",kind="window"} 50
# HELP needlework_kv_cache_reserved_bytes KV cache bytes allocated (blocks in use), per slot, KV mode and cache kind.
# TYPE needlework_kv_cache_reserved_bytes gauge
needlework_kv_cache_reserved_bytes{slot="0",mode="full+q8",kind="full"} 400
needlework_kv_cache_reserved_bytes{slot="0",mode="full+q8",kind="window"} 100
# HELP needlework_kv_cache_mha_f16_baseline_bytes Bytes a plain multi-head attention f16 cache would need for the same tokens, per slot.
# TYPE needlework_kv_cache_mha_f16_baseline_bytes gauge
needlework_kv_cache_mha_f16_baseline_bytes{slot="0"} 1000
# HELP needlework_kv_cache_saving_ratio MHA f16 baseline bytes / KV bytes used, per slot (per token while the cache is empty).
# TYPE needlework_kv_cache_saving_ratio gauge
needlework_kv_cache_saving_ratio{slot="0"} 4
# HELP needlework_kv_cache_tokens Token positions held in the KV cache, per slot.
# TYPE needlework_kv_cache_tokens gauge
needlework_kv_cache_tokens{slot="0"} 10
# HELP needlework_kv_cache_capacity_tokens Token positions the KV cache can hold (--ctx), per slot.
# TYPE needlework_kv_cache_capacity_tokens gauge
needlework_kv_cache_capacity_tokens{slot="0"} 64
# HELP needlework_requests_queued Completion requests waiting for a free slot.
# TYPE needlework_requests_queued gauge
needlework_requests_queued 3
# HELP needlework_requests_running Completion requests holding a slot.
# TYPE needlework_requests_running gauge
needlework_requests_running 1
# HELP needlework_requests_total Completion requests by outcome.
# TYPE needlework_requests_total counter
needlework_requests_total{outcome="finished"} 7
needlework_requests_total{outcome="cancelled"} 2
needlework_requests_total{outcome="rejected"} 5
# HELP needlework_prefix_cache_hits_total Requests whose prompt reused cached positions of their slot beyond the first token.
# TYPE needlework_prefix_cache_hits_total counter
needlework_prefix_cache_hits_total 4
# HELP needlework_prefix_cache_reused_tokens_total Prompt positions taken from a slot's cache instead of being prefilled.
# TYPE needlework_prefix_cache_reused_tokens_total counter
needlework_prefix_cache_reused_tokens_total 120
# HELP needlework_prompt_tokens_total Prompt tokens prefilled.
# TYPE needlework_prompt_tokens_total counter
needlework_prompt_tokens_total 300
# HELP needlework_prompt_seconds_total Seconds spent prefilling prompts.
# TYPE needlework_prompt_seconds_total counter
needlework_prompt_seconds_total 1.5
# HELP needlework_generation_tokens_total Tokens generated.
# TYPE needlework_generation_tokens_total counter
needlework_generation_tokens_total 90
# HELP needlework_generation_seconds_total Seconds spent generating tokens.
# TYPE needlework_generation_seconds_total counter
needlework_generation_seconds_total 0.25
)";
    CHECK(renderPrometheus(m) == expected);
}

TEST_CASE("one series per slot; an empty cache's saving is per token; label values escaped")
{
    ServerMetrics m;
    m.kvMode = "odd\"mode\\with\nnewline";
    nw::MemoryStats empty;
    empty.layers = { { .kind = "full", .layer = 0 } };
    empty.bytesPerToken = 64;
    empty.mhaF16BytesPerToken = 256; // 4× per token before any token is cached
    empty.capacityTokens = 64;
    m.slotMemory = { slotStats(), empty };
    const std::string text = renderPrometheus(m);
    CHECK(lineOf(text, "needlework_slots ") == "needlework_slots 2");
    CHECK(lineOf(text, "needlework_kv_cache_used_bytes{slot=\"1\"")
        == R"(needlework_kv_cache_used_bytes{slot="1",mode="odd\"mode\\with\nnewline",kind="full"} 0)");
    CHECK(lineOf(text, "needlework_kv_cache_tokens{slot=\"1\"}") == "needlework_kv_cache_tokens{slot=\"1\"} 0");
    CHECK(lineOf(text, "needlework_kv_cache_saving_ratio{slot=\"1\"}")
        == "needlework_kv_cache_saving_ratio{slot=\"1\"} 4");
    CHECK(lineOf(text, "needlework_kv_cache_saving_ratio{slot=\"0\"}")
        == "needlework_kv_cache_saving_ratio{slot=\"0\"} 4");
    // Every sample line belongs to the family its HELP/TYPE lines announced just before.
    std::string family;
    std::size_t start = 0;
    while (start < text.size()) {
        const std::size_t end = text.find('\n', start);
        const std::string line = text.substr(start, end - start);
        start = end + 1;
        if (line.rfind("# TYPE ", 0) == 0) {
            family = line.substr(7, line.find(' ', 7) - 7);
        } else if (line.rfind("# HELP ", 0) != 0) {
            CAPTURE(line);
            CHECK(line.rfind(family, 0) == 0);
            CHECK((line[family.size()] == ' ' || line[family.size()] == '{'));
        }
    }
}

TEST_CASE("fractions print in the shortest form that reads back")
{
    ServerMetrics m;
    m.promptSeconds = 0.1;
    m.generationSeconds = 1e-7;
    const std::string text = renderPrometheus(m);
    CHECK(lineOf(text, "needlework_prompt_seconds_total ") == "needlework_prompt_seconds_total 0.1");
    CHECK(std::stod(lineOf(text, "needlework_generation_seconds_total ").substr(36)) == 1e-7);
}
