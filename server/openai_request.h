// The bodies of the OpenAI-compatible endpoints, read and checked before any model work: a typed
// request, or the OpenAI-style error the client gets instead (status, message, type, param, code).
// Pure functions of the bytes and the limits, so every rejection is unit-tested and fuzzed.
#pragma once

#include "engine/chat_template.h"
#include "engine/sampler.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace nw::server {

// {"error": {"message", "type", "param", "code"}} with its HTTP status.
struct ApiError {
    int status = 400;
    std::string message;
    std::string type = "invalid_request_error";
    std::string param; // the field at fault; "" is null
    std::string code; // "" is null
    std::string json() const;
};

// Parsed<T>: the request, or why it was refused.
template <typename T> using Parsed = std::variant<T, ApiError>;

struct RequestLimits {
    std::size_t maxBodyBytes = 8u << 20;
    std::int64_t contextTokens = 4096; // one slot's context: prompt and completion together
    std::int64_t maxTokens = 4096; // the most one request may generate
};

enum class CompletionKind {
    Chat, // POST /v1/chat/completions: messages through the model's chat template
    Text, // POST /v1/completions: the prompt as it is
};

struct CompletionRequest {
    CompletionKind kind = CompletionKind::Chat;
    std::string model; // as the client named it ("" when absent); one model is served whatever the name
    std::vector<ChatMessage> messages; // Chat ("developer" is read as "system")
    std::string prompt; // Text
    std::optional<std::int64_t> maxTokens; // max_completion_tokens or max_tokens; absent: see completionBudget
    double temperature = 1.0; // [0, 2]; 0 is greedy
    double topP = 1.0; // [0, 1]
    std::vector<std::string> stop; // at most 4, none empty
    std::optional<std::uint64_t> seed;
    bool stream = false;
    bool includeUsage = false; // stream_options.include_usage: a last chunk with the usage
    // Chat: the last message is the start of the assistant's reply, which the model continues
    // (vLLM's continue_final_message): the prompt is the template over the messages before it
    // with the generation prompt, then that message's text, its end-of-turn not written.
    bool continueFinalMessage = false;
};

// Fields the endpoints do not use (user, logprobs, frequency_penalty, ...) are ignored; a field
// they use must have its type and range, and n (several choices) must be 1.
Parsed<CompletionRequest> parseCompletionRequest(
    std::string_view body, CompletionKind kind, const RequestLimits &limits);

// The tokens `request` may generate once its prompt is tokenized: max_tokens, or when absent the
// rest of the context up to limits.maxTokens. A prompt that leaves no room, or prompt + max_tokens
// over the context, is refused (context_length_exceeded, as OpenAI words it).
Parsed<std::int64_t> completionBudget(
    const CompletionRequest &request, std::int64_t promptTokens, const RequestLimits &limits);

// OpenAI's sampling: the temperature and top_p only (top-k, min-p and the repetition penalty off);
// temperature 0 is greedy. `fallbackSeed` when the request names none.
SamplerParams samplerParams(const CompletionRequest &request, std::uint64_t fallbackSeed);

// POST /tokenize and /detokenize, in llama-server's shape: {"content": "text", "add_special":
// false} and {"tokens": [ids]}. Control tokens written in the content become their ids. Or, as
// vLLM's /tokenize takes them, chat messages: {"messages": [...], "add_generation_prompt": true}
// — rendered through the chat template and tokenized as a chat completion's prompt is, so a
// remote client counts exactly the tokens its request will take.
struct TokenizeRequest {
    std::string content;
    bool addSpecial = false;
    std::optional<std::vector<ChatMessage>> messages;
    bool addGenerationPrompt = true;
    bool continueFinalMessage = false; // as CompletionRequest's
};
Parsed<TokenizeRequest> parseTokenizeRequest(std::string_view body, const RequestLimits &limits);
// Ids must lie in [0, nVocab).
Parsed<std::vector<std::int32_t>> parseDetokenizeRequest(
    std::string_view body, const RequestLimits &limits, std::int32_t nVocab);

} // namespace nw::server
