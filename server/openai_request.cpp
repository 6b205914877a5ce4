// Reading the OpenAI-compatible request bodies (see openai_request.h).
#include "server/openai_request.h"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <limits>

namespace nw::server {
namespace {

using nlohmann::json;

// Deeper bodies are refused: no request of these endpoints nests more than a few levels, and a
// bound keeps a body of 8 MiB of '[' from building a tree that deep.
constexpr int kMaxDepth = 32;
constexpr std::size_t kMaxStopStrings = 4; // as OpenAI

ApiError invalid(std::string param, std::string message, std::string code = "invalid_value")
{
    return { .status = 400, .message = std::move(message), .param = std::move(param), .code = std::move(code) };
}

std::string_view typeName(const json &value)
{
    if (value.is_number_integer())
        return "an integer";
    if (value.is_number())
        return "a number";
    if (value.is_string())
        return "a string";
    if (value.is_boolean())
        return "a boolean";
    if (value.is_array())
        return "an array";
    if (value.is_object())
        return "an object";
    return "null";
}

ApiError wrongType(const std::string &param, std::string_view expected, const json &value)
{
    return invalid(param, fmt::format("'{}' must be {}, not {}", param, expected, typeName(value)), "invalid_type");
}

// The body as a JSON object, or the error for a body too large, not JSON, too deep or not an object.
Parsed<json> parseObject(std::string_view body, const RequestLimits &limits)
{
    if (body.size() > limits.maxBodyBytes)
        return ApiError { .status = 413,
            .message = fmt::format("the request body has {} bytes, more than the {} this server accepts", body.size(),
                limits.maxBodyBytes),
            .code = "request_too_large" };
    bool tooDeep = false;
    const json::parser_callback_t depthCheck = [&tooDeep](int depth, json::parse_event_t, json &) {
        if (depth > kMaxDepth)
            tooDeep = true;
        return !tooDeep; // past the bound nothing more is kept
    };
    json root = json::parse(body.begin(), body.end(), depthCheck, false);
    if (tooDeep)
        return invalid("", fmt::format("the JSON body nests deeper than {} levels", kMaxDepth), "invalid_json");
    if (root.is_discarded())
        return invalid("", "the body is not valid JSON (UTF-8, RFC 8259)", "invalid_json");
    if (!root.is_object())
        return invalid("", fmt::format("the body must be a JSON object, not {}", typeName(root)), "invalid_json");
    return root;
}

const json *field(const json &object, const char *name)
{
    const auto it = object.find(name);
    return it == object.end() || it->is_null() ? nullptr : &*it;
}

// A whole number (an integer, or a float with no fraction such as 16.0) in [min, max].
Parsed<std::int64_t> integerField(const json &value, const std::string &param, std::int64_t min, std::int64_t max)
{
    if (!value.is_number())
        return wrongType(param, "an integer", value);
    if (value.is_number_unsigned() && value.get<std::uint64_t>() > static_cast<std::uint64_t>(max))
        return invalid(param, fmt::format("'{}' must be from {} to {}", param, min, max));
    if (value.is_number_float()) {
        const double d = value.get<double>();
        if (!std::isfinite(d) || std::trunc(d) != d)
            return wrongType(param, "an integer", value);
        // Cast only where it is defined: a float beyond 2^53 is no exact integer anyway.
        if (std::fabs(d) >= 9007199254740992.0)
            return invalid(param, fmt::format("'{}' must be from {} to {}", param, min, max));
        const auto n = static_cast<std::int64_t>(d);
        if (n < min || n > max)
            return invalid(param, fmt::format("'{}' must be from {} to {}, not {}", param, min, max, n));
        return n;
    }
    const std::int64_t n = value.is_number_unsigned() ? static_cast<std::int64_t>(value.get<std::uint64_t>())
                                                      : value.get<std::int64_t>();
    if (n < min || n > max)
        return invalid(param, fmt::format("'{}' must be from {} to {}, not {}", param, min, max, n));
    return n;
}

Parsed<double> realField(const json &value, const std::string &param, double min, double max)
{
    if (!value.is_number())
        return wrongType(param, "a number", value);
    const double d = value.get<double>();
    if (!(d >= min && d <= max)) // NaN fails both
        return invalid(param, fmt::format("'{}' must be from {} to {}", param, min, max));
    return d;
}

Parsed<bool> boolField(const json &value, const std::string &param)
{
    if (!value.is_boolean())
        return wrongType(param, "a boolean", value);
    return value.get<bool>();
}

// content: a string, or an array of {"type": "text", "text": ...} parts (joined).
Parsed<std::string> messageContent(const json &value, const std::string &param)
{
    if (value.is_string())
        return value.get<std::string>();
    if (!value.is_array())
        return wrongType(param, "a string or an array of text parts", value);
    std::string text;
    for (std::size_t i = 0; i < value.size(); ++i) {
        const json &part = value[i];
        const std::string partParam = fmt::format("{}[{}]", param, i);
        if (!part.is_object())
            return wrongType(partParam, "an object", part);
        const json *type = field(part, "type");
        if (!type || !type->is_string() || type->get<std::string>() != "text")
            return invalid(
                partParam + ".type", "only text parts are supported (\"type\": \"text\")", "unsupported_value");
        const json *partText = field(part, "text");
        if (!partText || !partText->is_string())
            return wrongType(partParam + ".text", "a string", partText ? *partText : json());
        text += partText->get<std::string>();
    }
    return text;
}

Parsed<std::vector<ChatMessage>> parseMessages(const json *value)
{
    if (!value)
        return invalid("messages", "'messages' is required", "missing_required_parameter");
    if (!value->is_array())
        return wrongType("messages", "an array", *value);
    if (value->empty())
        return invalid("messages", "'messages' must hold at least one message");
    std::vector<ChatMessage> messages;
    for (std::size_t i = 0; i < value->size(); ++i) {
        const json &m = (*value)[i];
        const std::string param = fmt::format("messages[{}]", i);
        if (!m.is_object())
            return wrongType(param, "an object", m);
        const json *role = field(m, "role");
        if (!role || !role->is_string())
            return wrongType(param + ".role", "a string", role ? *role : json());
        std::string name = role->get<std::string>();
        if (name == "developer")
            name = "system"; // OpenAI's newer name for the same role
        if (name != "system" && name != "user" && name != "assistant")
            return invalid(param + ".role",
                fmt::format("role '{}' is not supported: use system, user or assistant", role->get<std::string>()),
                "unsupported_value");
        const json *content = field(m, "content");
        if (!content)
            return invalid(param + ".content", "'content' is required", "missing_required_parameter");
        Parsed<std::string> text = messageContent(*content, param + ".content");
        if (const ApiError *e = std::get_if<ApiError>(&text))
            return *e;
        messages.push_back({ std::move(name), std::get<std::string>(std::move(text)) });
    }
    return messages;
}

// prompt: a string, or an array of one string.
Parsed<std::string> parsePrompt(const json *value)
{
    if (!value)
        return invalid("prompt", "'prompt' is required", "missing_required_parameter");
    if (value->is_string())
        return value->get<std::string>();
    if (value->is_array() && value->size() == 1 && (*value)[0].is_string())
        return (*value)[0].get<std::string>();
    if (value->is_array())
        return invalid("prompt", "'prompt' must be a string or an array of exactly one string", "unsupported_value");
    return wrongType("prompt", "a string", *value);
}

Parsed<std::vector<std::string>> parseStop(const json &value)
{
    std::vector<std::string> stops;
    if (value.is_string()) {
        stops.push_back(value.get<std::string>());
    } else if (value.is_array()) {
        if (value.size() > kMaxStopStrings)
            return invalid("stop", fmt::format("'stop' may hold at most {} strings", kMaxStopStrings));
        for (const json &s : value) {
            if (!s.is_string())
                return wrongType("stop", "a string or an array of strings", s);
            stops.push_back(s.get<std::string>());
        }
    } else {
        return wrongType("stop", "a string or an array of strings", value);
    }
    for (const std::string &s : stops)
        if (s.empty())
            return invalid("stop", "stop strings must not be empty");
    return stops;
}

// Unpacks `parsed` into `out`, or returns its error from the enclosing function.
#define NW_TAKE(out, parsed)                                                                                           \
    do {                                                                                                               \
        auto nwParsed = (parsed);                                                                                      \
        if (const ApiError *nwError = std::get_if<ApiError>(&nwParsed))                                                \
            return *nwError;                                                                                           \
        (out) = std::move(std::get<0>(nwParsed));                                                                      \
    } while (false)

// continue_final_message: a bool, true only when the last message is the assistant's.
Parsed<bool> parseContinueFinalMessage(const json &root, const std::vector<ChatMessage> &messages)
{
    const json *v = field(root, "continue_final_message");
    if (!v)
        return false;
    bool on = false;
    NW_TAKE(on, boolField(*v, "continue_final_message"));
    if (on && (messages.empty() || messages.back().role != "assistant"))
        return invalid(
            "continue_final_message", "continue_final_message needs an assistant message last", "invalid_value");
    return on;
}

} // namespace

std::string ApiError::json() const
{
    const auto orNull = [](const std::string &s) { return s.empty() ? nlohmann::json() : nlohmann::json(s); };
    const nlohmann::json body = { { "error",
        { { "message", message }, { "type", type }, { "param", orNull(param) }, { "code", orNull(code) } } } };
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Parsed<CompletionRequest> parseCompletionRequest(
    std::string_view body, CompletionKind kind, const RequestLimits &limits)
{
    json root;
    NW_TAKE(root, parseObject(body, limits));
    CompletionRequest r;
    r.kind = kind;
    if (const json *v = field(root, "model")) {
        if (!v->is_string())
            return wrongType("model", "a string", *v);
        r.model = v->get<std::string>();
    }
    if (kind == CompletionKind::Chat)
        NW_TAKE(r.messages, parseMessages(field(root, "messages")));
    else
        NW_TAKE(r.prompt, parsePrompt(field(root, "prompt")));
    // max_completion_tokens is the newer name of max_tokens; it wins when both are sent.
    for (const char *name : { "max_tokens", "max_completion_tokens" })
        if (const json *v = field(root, name))
            NW_TAKE(r.maxTokens, integerField(*v, name, 1, limits.maxTokens));
    if (const json *v = field(root, "temperature"))
        NW_TAKE(r.temperature, realField(*v, "temperature", 0.0, 2.0));
    if (const json *v = field(root, "top_p"))
        NW_TAKE(r.topP, realField(*v, "top_p", 0.0, 1.0));
    if (const json *v = field(root, "stop"))
        NW_TAKE(r.stop, parseStop(*v));
    if (const json *v = field(root, "seed")) {
        std::int64_t seed = 0;
        if (v->is_number_unsigned())
            r.seed = v->get<std::uint64_t>();
        else {
            NW_TAKE(seed,
                integerField(
                    *v, "seed", std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()));
            r.seed = static_cast<std::uint64_t>(seed); // negative seeds wrap: any integer names one sequence
        }
    }
    if (const json *v = field(root, "n")) {
        std::int64_t n = 0;
        NW_TAKE(n, integerField(*v, "n", 1, std::numeric_limits<std::int64_t>::max()));
        if (n != 1)
            return invalid("n", "only n = 1 (one choice per request) is supported", "unsupported_value");
    }
    if (const json *v = field(root, "stream"))
        NW_TAKE(r.stream, boolField(*v, "stream"));
    if (const json *v = field(root, "stream_options")) {
        if (!v->is_object())
            return wrongType("stream_options", "an object", *v);
        if (const json *usage = field(*v, "include_usage"))
            NW_TAKE(r.includeUsage, boolField(*usage, "stream_options.include_usage"));
    }
    if (kind == CompletionKind::Chat)
        NW_TAKE(r.continueFinalMessage, parseContinueFinalMessage(root, r.messages));
    return r;
}

Parsed<std::int64_t> completionBudget(
    const CompletionRequest &request, std::int64_t promptTokens, const RequestLimits &limits)
{
    const std::int64_t room = limits.contextTokens - promptTokens;
    const std::optional<std::int64_t> &maxTokens = request.maxTokens;
    if (room < 1)
        return invalid(request.kind == CompletionKind::Chat ? "messages" : "prompt",
            fmt::format("This model's maximum context length is {} tokens. However, your prompt resulted in {} "
                        "tokens, which leaves no room for a completion.",
                limits.contextTokens, promptTokens),
            "context_length_exceeded");
    if (maxTokens && *maxTokens > room)
        return invalid("max_tokens",
            fmt::format("This model's maximum context length is {} tokens. However, you requested {} tokens ({} in "
                        "the prompt, {} in the completion).",
                limits.contextTokens, promptTokens + *maxTokens, promptTokens, *maxTokens),
            "context_length_exceeded");
    return maxTokens ? *maxTokens : std::min(room, limits.maxTokens);
}

SamplerParams samplerParams(const CompletionRequest &request, std::uint64_t fallbackSeed)
{
    SamplerParams s;
    s.greedy = request.temperature <= 0;
    s.temperature = static_cast<float>(request.temperature);
    s.topK = 0;
    s.topP = static_cast<float>(request.topP);
    s.minP = 0;
    s.repeatPenalty = 1;
    s.seed = request.seed.value_or(fallbackSeed);
    return s;
}

Parsed<TokenizeRequest> parseTokenizeRequest(std::string_view body, const RequestLimits &limits)
{
    json root;
    NW_TAKE(root, parseObject(body, limits));
    TokenizeRequest r;
    if (const json *messages = field(root, "messages")) {
        std::vector<ChatMessage> parsed;
        NW_TAKE(parsed, parseMessages(messages));
        r.messages = std::move(parsed);
        if (const json *v = field(root, "add_generation_prompt"))
            NW_TAKE(r.addGenerationPrompt, boolField(*v, "add_generation_prompt"));
        NW_TAKE(r.continueFinalMessage, parseContinueFinalMessage(root, *r.messages));
        return r;
    }
    const json *content = field(root, "content");
    if (!content)
        return invalid("content", "'content' (or 'messages') is required", "missing_required_parameter");
    if (!content->is_string())
        return wrongType("content", "a string", *content);
    r.content = content->get<std::string>();
    if (const json *v = field(root, "add_special"))
        NW_TAKE(r.addSpecial, boolField(*v, "add_special"));
    return r;
}

Parsed<std::vector<std::int32_t>> parseDetokenizeRequest(
    std::string_view body, const RequestLimits &limits, std::int32_t nVocab)
{
    json root;
    NW_TAKE(root, parseObject(body, limits));
    const json *tokens = field(root, "tokens");
    if (!tokens)
        return invalid("tokens", "'tokens' is required", "missing_required_parameter");
    if (!tokens->is_array())
        return wrongType("tokens", "an array of token ids", *tokens);
    std::vector<std::int32_t> ids;
    ids.reserve(tokens->size());
    for (std::size_t i = 0; i < tokens->size(); ++i) {
        std::int64_t id = 0;
        NW_TAKE(id, integerField((*tokens)[i], fmt::format("tokens[{}]", i), 0, std::int64_t(nVocab) - 1));
        ids.push_back(static_cast<std::int32_t>(id));
    }
    return ids;
}

} // namespace nw::server
