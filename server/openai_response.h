// The bodies the OpenAI-compatible endpoints answer with: a completion, the server-sent-event
// chunks of a streamed one (`data: {...}` events, then `data: [DONE]`), the model list and the
// usage counts, in the shapes the OpenAI API reference gives for chat and text completions.
#pragma once

#include "engine/generator.h"
#include "server/openai_request.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace nw::server {

struct Usage {
    std::int64_t promptTokens = 0;
    std::int64_t completionTokens = 0;
};

// What every chunk of one completion repeats.
struct CompletionIdentity {
    CompletionKind kind = CompletionKind::Chat;
    std::string id; // "chatcmpl-…" or "cmpl-…"
    std::int64_t created = 0; // Unix seconds
    std::string model;
};

// "stop" (end of generation or a stop string) or "length" (max_tokens or the context).
std::string_view finishReason(StopReason reason);

// The whole completion: chat.completion or text_completion, one choice, with usage.
std::string completionBody(
    const CompletionIdentity &identity, std::string_view text, std::string_view finish, const Usage &usage);

// One server-sent event of a stream: "data: JSON\n\n". A chat stream's first chunk carries the
// role; the last one an empty delta and the finish reason.
std::string chunkEvent(
    const CompletionIdentity &identity, std::string_view text, bool first, std::optional<std::string_view> finish);
// The chunk with no choices and the usage, after the last one (stream_options.include_usage).
std::string usageEvent(const CompletionIdentity &identity, const Usage &usage);
inline constexpr std::string_view kDoneEvent = "data: [DONE]\n\n";

// GET /v1/models: the one model served, with its context per request as vLLM names it
// (max_model_len; left out when 0), so remote clients fit their prompts to it.
std::string modelsBody(std::string_view modelId, std::int64_t created, std::int64_t contextTokens = 0);

// POST /tokenize and /detokenize answers (llama-server's shape).
std::string tokensBody(std::span<const std::int32_t> tokens);
std::string contentBody(std::string_view content);

} // namespace nw::server
