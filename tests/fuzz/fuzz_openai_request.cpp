// Fuzz entry point for the server's request layer (server/openai_request.h): any body must give a
// typed request or an OpenAI error object, never a crash, an exception, or a request outside the
// ranges the parser promises. Each input is read as a chat body, a completions body, and the
// tokenize and detokenize bodies; accepted requests also go through the context budget.
#include "server/openai_request.h"

#include "fuzz_input.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace nw::server;

constexpr RequestLimits kLimits { .maxBodyBytes = 1 << 16, .contextTokens = 256, .maxTokens = 128 };

void checkError(const ApiError &e)
{
    if (e.status != 400 && e.status != 413)
        nw::fuzz::die("unexpected status " + std::to_string(e.status));
    const nlohmann::json body = nlohmann::json::parse(e.json(), nullptr, false);
    if (body.is_discarded() || !body.contains("error") || !body["error"]["message"].is_string()
        || body["error"]["message"].get<std::string>().empty() || !body["error"]["type"].is_string())
        nw::fuzz::die("malformed error object: " + e.json());
}

void checkCompletion(const CompletionRequest &r, std::uint64_t promptTokens)
{
    if (r.kind == CompletionKind::Chat && r.messages.empty())
        nw::fuzz::die("a chat request without messages");
    for (const nw::ChatMessage &m : r.messages)
        if (m.role != "system" && m.role != "user" && m.role != "assistant")
            nw::fuzz::die("role " + m.role);
    if (r.maxTokens && (*r.maxTokens < 1 || *r.maxTokens > kLimits.maxTokens))
        nw::fuzz::die("max_tokens out of range");
    if (!(r.temperature >= 0 && r.temperature <= 2) || !(r.topP >= 0 && r.topP <= 1))
        nw::fuzz::die("temperature or top_p out of range");
    if (r.stop.size() > 4)
        nw::fuzz::die("more than 4 stop strings");
    for (const std::string &s : r.stop)
        if (s.empty())
            nw::fuzz::die("an empty stop string");
    const nw::SamplerParams s = samplerParams(r, 1);
    if (!std::isfinite(s.temperature) || !std::isfinite(s.topP))
        nw::fuzz::die("a sampling value that is not finite");
    const Parsed<std::int64_t> budget = completionBudget(r, static_cast<std::int64_t>(promptTokens), kLimits);
    if (const std::int64_t *n = std::get_if<std::int64_t>(&budget)) {
        if (*n < 1 || static_cast<std::int64_t>(promptTokens) + *n > kLimits.contextTokens || *n > kLimits.maxTokens)
            nw::fuzz::die("a budget outside the context");
    } else {
        checkError(std::get<ApiError>(budget));
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    // The first two bytes pick a prompt length for the budget; the rest is the body.
    nw::fuzz::InputReader in(data, size);
    const std::uint64_t promptTokens = in.u16() % 300;
    const std::string body = in.rest();
    for (const CompletionKind kind : { CompletionKind::Chat, CompletionKind::Text }) {
        const Parsed<CompletionRequest> p = parseCompletionRequest(body, kind, kLimits);
        if (const ApiError *e = std::get_if<ApiError>(&p))
            checkError(*e);
        else
            checkCompletion(std::get<CompletionRequest>(p), promptTokens);
    }
    const Parsed<TokenizeRequest> tokenize = parseTokenizeRequest(body, kLimits);
    if (const ApiError *e = std::get_if<ApiError>(&tokenize))
        checkError(*e);
    const Parsed<std::vector<std::int32_t>> ids = parseDetokenizeRequest(body, kLimits, 512);
    if (const ApiError *e = std::get_if<ApiError>(&ids))
        checkError(*e);
    else
        for (const std::int32_t id : std::get<std::vector<std::int32_t>>(ids))
            if (id < 0 || id >= 512)
                nw::fuzz::die("a token id outside the vocabulary");
    return 0;
}

// Seeds: the bodies of the endpoints in their usual shapes, after two bytes of prompt length.
std::vector<std::vector<std::uint8_t>> nwFuzzSeeds()
{
    const std::string_view bodies[] = {
        R"({"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],)"
        R"("max_tokens":16,"temperature":0.7,"top_p":0.9,"stop":["\n","END"],"seed":42,"stream":true,)"
        R"("stream_options":{"include_usage":true}})",
        R"({"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],"n":1})",
        R"({"prompt":"Once upon a time","max_tokens":8,"temperature":0,"stop":"."})",
        R"({"prompt":["Once"],"max_completion_tokens":100,"seed":-3})",
        R"({"content":"Hello world","add_special":true})",
        R"({"tokens":[1,403,9,511]})",
    };
    std::vector<std::vector<std::uint8_t>> seeds;
    for (const std::string_view body : bodies) {
        std::vector<std::uint8_t> seed { 40, 0 };
        seed.insert(seed.end(), body.begin(), body.end());
        seeds.push_back(std::move(seed));
    }
    return seeds;
}
