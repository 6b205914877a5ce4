// A remote engine's KV meter: a server's /metrics (the Prometheus text format) read into the
// figures the meter shows — our own `needlework serve` gauges in bytes, vLLM's and SGLang's
// usage fractions, running and waiting requests and prefix-cache hits, llama-server's gauges
// where it still exports them. Qt-free and network-free, so fixtures drive it in tests.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nw::app {

// One sample of the exposition format: name, labels, value (histogram buckets and all).
struct PrometheusSample {
    std::string name;
    std::map<std::string, std::string> labels;
    double value = 0;
};

// Parses the text format (version 0.0.4): comments and blank lines skipped, label values
// unescaped, NaN / +Inf / -Inf read, an optional timestamp after the value ignored. A line that
// does not parse is skipped (a meter shows what it can read rather than nothing).
std::vector<PrometheusSample> parsePrometheusText(std::string_view text);

enum class RemoteServerKind { Unknown, Needlework, Vllm, Sglang, LlamaServer };
std::string_view remoteServerKindName(RemoteServerKind kind); // "needlework", "vllm", ...

// What a remote server says of its KV cache and queue; a figure the server does not export
// stays empty. Sums over the series of one metric (slots, model names, data-parallel ranks),
// except fractions, which take the largest (the fullest rank is the one that preempts).
struct RemoteKvFigures {
    RemoteServerKind server = RemoteServerKind::Unknown;
    std::optional<double> usage; // KV cache in use, 0..1 (vLLM kv_cache_usage_perc, SGLang token_usage)
    std::optional<std::uint64_t> bytesUsed; // needlework: bytes, from the engine's MemoryStats
    std::optional<std::uint64_t> bytesReserved;
    std::optional<std::uint64_t> mhaF16Bytes; // needlework: the MHA f16 baseline of the same tokens
    std::optional<std::int64_t> tokensCached; // needlework kv_cache_tokens, SGLang num_used_tokens
    std::optional<std::int64_t> capacityTokens; // needlework kv_cache_capacity_tokens
    std::optional<std::int64_t> running;
    std::optional<std::int64_t> waiting;
    std::optional<double> prefixHits; // counters: vLLM prefix_cache_hits, needlework prefix hits
    std::optional<double> prefixQueries; // vLLM prefix_cache_queries (tokens)
    std::optional<double> prefixHitRate; // 0..1: SGLang cache_hit_rate, or hits / queries
    std::string kvMode; // needlework: the mode label of its series

    bool empty() const { return server == RemoteServerKind::Unknown; }
    // MHA f16 baseline / bytes used (needlework only); 0 when not known.
    double savingVsMha() const;
};

// Reads the figures from a /metrics body; server == Unknown when none of the known names is in it.
RemoteKvFigures remoteKvFigures(std::string_view metricsText);

// "vllm: KV 28% in use, 3 running, 1 waiting, prefix cache 41% hits" (one line for the CLI).
std::string remoteKvLine(const RemoteKvFigures &figures);

} // namespace nw::app
