// Reading a remote server's Prometheus /metrics into the KV meter's figures (see remote_metrics.h).
#include "app/remote_metrics.h"

#include "common/byte_format.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace nw::app {
namespace {

bool isNameChar(char c, bool first)
{
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    return alpha || (!first && c >= '0' && c <= '9');
}

void skipBlanks(std::string_view line, std::size_t &at)
{
    while (at < line.size() && (line[at] == ' ' || line[at] == '\t'))
        ++at;
}

std::optional<double> parseValue(std::string_view text)
{
    if (text == "NaN")
        return std::numeric_limits<double>::quiet_NaN();
    if (text == "+Inf" || text == "Inf")
        return std::numeric_limits<double>::infinity();
    if (text == "-Inf")
        return -std::numeric_limits<double>::infinity();
    if (!text.empty() && text.front() == '+')
        text.remove_prefix(1);
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

// `{a="x",b="y\"z"}` from `at` (on the brace); false when it is malformed.
bool parseLabels(std::string_view line, std::size_t &at, std::map<std::string, std::string> &labels)
{
    ++at; // '{'
    for (;;) {
        skipBlanks(line, at);
        if (at < line.size() && line[at] == '}') {
            ++at;
            return true;
        }
        const std::size_t nameStart = at;
        while (at < line.size() && isNameChar(line[at], at == nameStart))
            ++at;
        if (at == nameStart)
            return false;
        const std::string name(line.substr(nameStart, at - nameStart));
        skipBlanks(line, at);
        if (at >= line.size() || line[at] != '=')
            return false;
        ++at;
        skipBlanks(line, at);
        if (at >= line.size() || line[at] != '"')
            return false;
        ++at;
        std::string value;
        for (;;) {
            if (at >= line.size())
                return false;
            const char c = line[at++];
            if (c == '"')
                break;
            if (c == '\\' && at < line.size()) {
                const char escaped = line[at++];
                value += escaped == 'n' ? '\n' : escaped;
            } else {
                value += c;
            }
        }
        labels[name] = std::move(value);
        skipBlanks(line, at);
        if (at < line.size() && line[at] == ',')
            ++at;
    }
}

std::optional<PrometheusSample> parseLine(std::string_view line)
{
    std::size_t at = 0;
    skipBlanks(line, at);
    if (at >= line.size() || line[at] == '#')
        return std::nullopt;
    PrometheusSample sample;
    const std::size_t nameStart = at;
    while (at < line.size() && isNameChar(line[at], at == nameStart))
        ++at;
    if (at == nameStart)
        return std::nullopt;
    sample.name = std::string(line.substr(nameStart, at - nameStart));
    if (at < line.size() && line[at] == '{' && !parseLabels(line, at, sample.labels))
        return std::nullopt;
    skipBlanks(line, at);
    const std::size_t valueStart = at;
    while (at < line.size() && line[at] != ' ' && line[at] != '\t')
        ++at;
    const std::optional<double> value = parseValue(line.substr(valueStart, at - valueStart));
    if (!value)
        return std::nullopt;
    sample.value = *value;
    return sample; // a timestamp may follow: the meter shows the latest scrape anyway
}

class Samples {
public:
    explicit Samples(std::vector<PrometheusSample> samples)
        : m_samples(std::move(samples))
    {
    }
    bool has(std::string_view name) const
    {
        return std::any_of(m_samples.begin(), m_samples.end(), [&](const auto &s) { return s.name == name; });
    }
    // The sum over the series of the first of `names` that is present.
    std::optional<double> sum(std::initializer_list<std::string_view> names) const
    {
        for (std::string_view name : names) {
            std::optional<double> total;
            for (const PrometheusSample &s : m_samples)
                if (s.name == name && std::isfinite(s.value))
                    total = total.value_or(0) + s.value;
            if (total)
                return total;
        }
        return std::nullopt;
    }
    std::optional<double> largest(std::initializer_list<std::string_view> names) const
    {
        for (std::string_view name : names) {
            std::optional<double> top;
            for (const PrometheusSample &s : m_samples)
                if (s.name == name && std::isfinite(s.value))
                    top = std::max(top.value_or(s.value), s.value);
            if (top)
                return top;
        }
        return std::nullopt;
    }
    std::string label(std::string_view name, const std::string &label) const
    {
        for (const PrometheusSample &s : m_samples)
            if (s.name == name)
                if (const auto it = s.labels.find(label); it != s.labels.end())
                    return it->second;
        return {};
    }

private:
    std::vector<PrometheusSample> m_samples;
};

std::optional<std::int64_t> count(std::optional<double> value)
{
    if (!value)
        return std::nullopt;
    return static_cast<std::int64_t>(std::llround(*value));
}

std::optional<std::uint64_t> bytes(std::optional<double> value)
{
    if (!value || *value < 0)
        return std::nullopt;
    return static_cast<std::uint64_t>(std::llround(*value));
}

std::string percent(double fraction)
{
    return fmt::format("{:.0f}%", fraction * 100);
}

} // namespace

std::vector<PrometheusSample> parsePrometheusText(std::string_view text)
{
    std::vector<PrometheusSample> samples;
    while (!text.empty()) {
        const std::size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view {} : text.substr(end + 1);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        if (std::optional<PrometheusSample> sample = parseLine(line))
            samples.push_back(std::move(*sample));
    }
    return samples;
}

std::string_view remoteServerKindName(RemoteServerKind kind)
{
    switch (kind) {
    case RemoteServerKind::Needlework:
        return "needlework";
    case RemoteServerKind::Vllm:
        return "vllm";
    case RemoteServerKind::Sglang:
        return "sglang";
    case RemoteServerKind::LlamaServer:
        return "llama-server";
    case RemoteServerKind::Unknown:
        break;
    }
    return "unknown";
}

double RemoteKvFigures::savingVsMha() const
{
    if (!bytesUsed || !mhaF16Bytes || *bytesUsed == 0)
        return 0;
    return static_cast<double>(*mhaF16Bytes) / static_cast<double>(*bytesUsed);
}

RemoteKvFigures remoteKvFigures(std::string_view metricsText)
{
    const Samples m(parsePrometheusText(metricsText));
    RemoteKvFigures f;
    if (m.has("needlework_kv_cache_used_bytes") || m.has("needlework_slots")) {
        // Our own server (server/metrics.cpp): bytes per slot and cache kind, summed.
        f.server = RemoteServerKind::Needlework;
        f.bytesUsed = bytes(m.sum({ "needlework_kv_cache_used_bytes" }));
        f.bytesReserved = bytes(m.sum({ "needlework_kv_cache_reserved_bytes" }));
        f.mhaF16Bytes = bytes(m.sum({ "needlework_kv_cache_mha_f16_baseline_bytes" }));
        f.tokensCached = count(m.sum({ "needlework_kv_cache_tokens" }));
        f.capacityTokens = count(m.sum({ "needlework_kv_cache_capacity_tokens" }));
        if (f.tokensCached && f.capacityTokens && *f.capacityTokens > 0)
            f.usage = static_cast<double>(*f.tokensCached) / static_cast<double>(*f.capacityTokens);
        f.running = count(m.sum({ "needlework_requests_running" }));
        f.waiting = count(m.sum({ "needlework_requests_queued" }));
        f.prefixHits = m.sum({ "needlework_prefix_cache_hits_total" });
        f.kvMode = m.label("needlework_kv_cache_used_bytes", "mode");
        return f;
    }
    if (m.has("vllm:kv_cache_usage_perc") || m.has("vllm:gpu_cache_usage_perc") || m.has("vllm:num_requests_running")) {
        // vLLM: usage as a fraction of its KV blocks (the older V0 name second); prefix caching
        // counts tokens queried and hit, as counters (exported with _total).
        f.server = RemoteServerKind::Vllm;
        f.usage = m.largest({ "vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc" });
        f.running = count(m.sum({ "vllm:num_requests_running" }));
        f.waiting = count(m.sum({ "vllm:num_requests_waiting" }));
        f.prefixHits = m.sum({ "vllm:prefix_cache_hits_total", "vllm:prefix_cache_hits" });
        f.prefixQueries = m.sum({ "vllm:prefix_cache_queries_total", "vllm:prefix_cache_queries" });
        if (f.prefixHits && f.prefixQueries && *f.prefixQueries > 0)
            f.prefixHitRate = *f.prefixHits / *f.prefixQueries;
        return f;
    }
    if (m.has("sglang:token_usage") || m.has("sglang:num_running_reqs")) {
        // SGLang: token_usage is the share of its KV token pool in use; cache_hit_rate its radix
        // cache's share of prompt tokens found cached.
        f.server = RemoteServerKind::Sglang;
        f.usage = m.largest({ "sglang:token_usage" });
        f.tokensCached = count(m.sum({ "sglang:num_used_tokens" }));
        f.running = count(m.sum({ "sglang:num_running_reqs" }));
        f.waiting = count(m.sum({ "sglang:num_queue_reqs" }));
        f.prefixHitRate = m.largest({ "sglang:cache_hit_rate" });
        return f;
    }
    if (m.has("llamacpp:requests_processing") || m.has("llamacpp:kv_cache_usage_ratio")) {
        // llama-server: its KV gauges were removed (llama.cpp PR #13660); older builds still have them.
        f.server = RemoteServerKind::LlamaServer;
        f.usage = m.largest({ "llamacpp:kv_cache_usage_ratio" });
        f.tokensCached = count(m.sum({ "llamacpp:kv_cache_tokens" }));
        f.running = count(m.sum({ "llamacpp:requests_processing" }));
        f.waiting = count(m.sum({ "llamacpp:requests_deferred" }));
        return f;
    }
    return f;
}

std::string remoteKvLine(const RemoteKvFigures &f)
{
    if (f.empty())
        return "the server's /metrics names no KV figure this workbench knows";
    std::vector<std::string> parts;
    if (f.bytesUsed)
        parts.push_back(
            fmt::format("KV {}{} used{}{}", f.kvMode.empty() ? "" : f.kvMode + " ", formatBytes(*f.bytesUsed),
                f.bytesReserved ? " / " + formatBytes(*f.bytesReserved) + " reserved" : std::string(),
                f.savingVsMha() > 0 ? ", " + formatSaving(f.savingVsMha()) + " less than MHA f16" : std::string()));
    if (f.usage)
        parts.push_back(fmt::format("KV {} in use", percent(*f.usage)));
    if (f.tokensCached)
        parts.push_back(fmt::format("{} tokens cached", *f.tokensCached));
    if (f.running)
        parts.push_back(fmt::format("{} running", *f.running));
    if (f.waiting)
        parts.push_back(fmt::format("{} waiting", *f.waiting));
    if (f.prefixHitRate)
        parts.push_back(fmt::format("prefix cache {} hits", percent(*f.prefixHitRate)));
    else if (f.prefixHits)
        parts.push_back(fmt::format("{:.0f} prefix-cache hits", *f.prefixHits));
    std::string line(remoteServerKindName(f.server));
    line += ":";
    for (std::size_t i = 0; i < parts.size(); ++i)
        line += (i == 0 ? " " : ", ") + parts[i];
    return line;
}

} // namespace nw::app
