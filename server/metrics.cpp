// Rendering the server's metrics in the Prometheus text format (see metrics.h).
#include "server/metrics.h"

#include <fmt/format.h>

#include <cmath>
#include <string_view>

namespace nw::server {
namespace {

// Label values escape backslash, double quote and newline (the exposition format's rules).
std::string escapeLabel(std::string_view value)
{
    std::string out;
    for (const char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string number(double value)
{
    if (std::isnan(value))
        return "NaN";
    if (std::isinf(value))
        return value > 0 ? "+Inf" : "-Inf";
    return fmt::format("{}", value); // shortest form that reads back to the same double
}

class Writer {
public:
    void family(std::string_view name, std::string_view type, std::string_view help)
    {
        m_name = name;
        m_text += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    }
    void sample(std::string_view labels, std::string_view value)
    {
        m_text += labels.empty() ? fmt::format("{} {}\n", m_name, value)
                                 : fmt::format("{}{{{}}} {}\n", m_name, labels, value);
    }
    void sample(std::string_view labels, std::uint64_t value) { sample(labels, fmt::format("{}", value)); }
    void sample(std::string_view labels, std::int64_t value) { sample(labels, fmt::format("{}", value)); }
    void sample(std::string_view labels, double value) { sample(labels, number(value)); }
    std::string take() { return std::move(m_text); }

private:
    std::string m_name;
    std::string m_text;
};

} // namespace

std::string renderPrometheus(const ServerMetrics &m)
{
    Writer w;
    const std::string mode = escapeLabel(m.kvMode);
    const auto slotLabel = [](std::size_t slot) { return fmt::format("slot=\"{}\"", slot); };
    const auto kindLabels = [&](std::size_t slot, const KindKvBytes &k) {
        return fmt::format("slot=\"{}\",mode=\"{}\",kind=\"{}\"", slot, mode, escapeLabel(k.kind));
    };

    w.family("needlework_slots", "gauge", "Parallel sequences (--parallel), each with its own KV cache.");
    w.sample("", static_cast<std::uint64_t>(m.slotMemory.size()));
    w.family("needlework_weights_bytes", "gauge", "Bytes of the model's weights (mapped, plus the backend's copies).");
    w.sample("", m.weightsBytes);
    // A family with one sample per slot (or per slot and cache kind) of the slots' MemoryStats.
    const auto perSlot = [&](std::string_view name, std::string_view help, const auto &valueOf) {
        w.family(name, "gauge", help);
        for (std::size_t s = 0; s < m.slotMemory.size(); ++s)
            w.sample(slotLabel(s), valueOf(m.slotMemory[s]));
    };
    const auto perKind = [&](std::string_view name, std::string_view help, std::uint64_t KindKvBytes::*bytes) {
        w.family(name, "gauge", help);
        for (std::size_t s = 0; s < m.slotMemory.size(); ++s)
            for (const KindKvBytes &k : m.slotMemory[s].byKind())
                w.sample(kindLabels(s, k), k.*bytes);
    };
    perKind("needlework_kv_cache_used_bytes",
        "KV cache bytes the cached tokens occupy, per slot, KV mode and cache kind (engine MemoryStats).",
        &KindKvBytes::used);
    perKind("needlework_kv_cache_reserved_bytes",
        "KV cache bytes allocated (blocks in use), per slot, KV mode and cache kind.", &KindKvBytes::reserved);
    perSlot("needlework_kv_cache_mha_f16_baseline_bytes",
        "Bytes a plain multi-head attention f16 cache would need for the same tokens, per slot.",
        [](const MemoryStats &s) { return s.mhaF16Bytes; });
    perSlot("needlework_kv_cache_saving_ratio",
        "MHA f16 baseline bytes / KV bytes used, per slot (per token while the cache is empty).",
        [](const MemoryStats &s) { return s.savingVsMha(); });
    perSlot("needlework_kv_cache_tokens", "Token positions held in the KV cache, per slot.",
        [](const MemoryStats &s) { return s.tokens; });
    perSlot("needlework_kv_cache_capacity_tokens", "Token positions the KV cache can hold (--ctx), per slot.",
        [](const MemoryStats &s) { return s.capacityTokens; });

    w.family("needlework_requests_queued", "gauge", "Completion requests waiting for a free slot.");
    w.sample("", m.requestsQueued);
    w.family("needlework_requests_running", "gauge", "Completion requests holding a slot.");
    w.sample("", m.requestsRunning);
    w.family("needlework_requests_total", "counter", "Completion requests by outcome.");
    w.sample("outcome=\"finished\"", m.requestsFinished);
    w.sample("outcome=\"cancelled\"", m.requestsCancelled);
    w.sample("outcome=\"rejected\"", m.requestsRejected);
    w.family("needlework_prefix_cache_hits_total", "counter",
        "Requests whose prompt reused cached positions of their slot beyond the first token.");
    w.sample("", m.prefixCacheHits);
    w.family("needlework_prefix_cache_reused_tokens_total", "counter",
        "Prompt positions taken from a slot's cache instead of being prefilled.");
    w.sample("", m.prefixCacheReusedTokens);
    w.family("needlework_prompt_tokens_total", "counter", "Prompt tokens prefilled.");
    w.sample("", m.promptTokens);
    w.family("needlework_prompt_seconds_total", "counter", "Seconds spent prefilling prompts.");
    w.sample("", m.promptSeconds);
    w.family("needlework_generation_tokens_total", "counter", "Tokens generated.");
    w.sample("", m.generatedTokens);
    w.family("needlework_generation_seconds_total", "counter", "Seconds spent generating tokens.");
    w.sample("", m.generationSeconds);
    return w.take();
}

} // namespace nw::server
