// The response bodies of the OpenAI-compatible endpoints (see openai_response.h).
#include "server/openai_response.h"

#include <nlohmann/json.hpp>

namespace nw::server {
namespace {

using nlohmann::json;

// Generated text may end inside a UTF-8 sequence when max_tokens cuts a character in two: such
// bytes become U+FFFD rather than failing the dump.
std::string dump(const json &value)
{
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

json usageJson(const Usage &usage)
{
    return { { "prompt_tokens", usage.promptTokens }, { "completion_tokens", usage.completionTokens },
        { "total_tokens", usage.promptTokens + usage.completionTokens } };
}

json envelope(const CompletionIdentity &identity, bool chunk)
{
    const bool chat = identity.kind == CompletionKind::Chat;
    return { { "id", identity.id },
        { "object", chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion" },
        { "created", identity.created }, { "model", identity.model } };
}

json finishJson(std::optional<std::string_view> finish)
{
    return finish ? json(std::string(*finish)) : json();
}

} // namespace

std::string_view finishReason(StopReason reason)
{
    return reason == StopReason::Length || reason == StopReason::ContextFull ? "length" : "stop";
}

std::string completionBody(
    const CompletionIdentity &identity, std::string_view text, std::string_view finish, const Usage &usage)
{
    json body = envelope(identity, false);
    json choice = { { "index", 0 }, { "finish_reason", std::string(finish) } };
    if (identity.kind == CompletionKind::Chat) {
        choice["message"] = { { "role", "assistant" }, { "content", std::string(text) } };
    } else {
        choice["text"] = std::string(text);
        choice["logprobs"] = nullptr;
    }
    body["choices"] = json::array({ choice });
    body["usage"] = usageJson(usage);
    return dump(body);
}

std::string chunkEvent(
    const CompletionIdentity &identity, std::string_view text, bool first, std::optional<std::string_view> finish)
{
    json body = envelope(identity, true);
    json choice = { { "index", 0 }, { "finish_reason", finishJson(finish) } };
    if (identity.kind == CompletionKind::Chat) {
        json delta = json::object();
        if (first)
            delta["role"] = "assistant";
        if (!text.empty() || (first && !finish))
            delta["content"] = std::string(text);
        choice["delta"] = delta;
    } else {
        choice["text"] = std::string(text);
        choice["logprobs"] = nullptr;
    }
    body["choices"] = json::array({ choice });
    return "data: " + dump(body) + "\n\n";
}

std::string usageEvent(const CompletionIdentity &identity, const Usage &usage)
{
    json body = envelope(identity, true);
    body["choices"] = json::array();
    body["usage"] = usageJson(usage);
    return "data: " + dump(body) + "\n\n";
}

std::string modelsBody(std::string_view modelId, std::int64_t created, std::int64_t contextTokens)
{
    json model = { { "id", std::string(modelId) }, { "object", "model" }, { "created", created },
        { "owned_by", "needlework" } };
    if (contextTokens > 0)
        model["max_model_len"] = contextTokens;
    return dump({ { "object", "list" }, { "data", json::array({ model }) } });
}

std::string tokensBody(std::span<const std::int32_t> tokens)
{
    return dump({ { "tokens", json(std::vector<std::int32_t>(tokens.begin(), tokens.end())) } });
}

std::string contentBody(std::string_view content)
{
    return dump({ { "content", std::string(content) } });
}

} // namespace nw::server
