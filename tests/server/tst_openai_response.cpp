// The response bodies in the shapes of the OpenAI API reference: chat.completion, text_completion,
// the chat.completion.chunk events of a stream, the usage chunk, the model list.
#include "server/openai_response.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

using namespace nw::server;
using nlohmann::json;

namespace {

const CompletionIdentity kChat {
    .kind = CompletionKind::Chat, .id = "chatcmpl-1", .created = 1700000000, .model = "m"
};
const CompletionIdentity kText { .kind = CompletionKind::Text, .id = "cmpl-1", .created = 1700000000, .model = "m" };

json event(const std::string &text)
{
    REQUIRE(text.rfind("data: ", 0) == 0);
    REQUIRE(text.size() > 8);
    REQUIRE(text.substr(text.size() - 2) == "\n\n");
    return json::parse(text.substr(6, text.size() - 8));
}

} // namespace

TEST_CASE("finish reasons: stop for the end of generation and stop strings, length for the limits")
{
    CHECK(finishReason(nw::StopReason::EndOfGeneration) == "stop");
    CHECK(finishReason(nw::StopReason::StopString) == "stop");
    CHECK(finishReason(nw::StopReason::Length) == "length");
    CHECK(finishReason(nw::StopReason::ContextFull) == "length");
}

TEST_CASE("a whole chat completion and a whole text completion")
{
    const json c = json::parse(completionBody(kChat, "Hello", "stop", { .promptTokens = 12, .completionTokens = 3 }));
    CHECK(c["id"] == "chatcmpl-1");
    CHECK(c["object"] == "chat.completion");
    CHECK(c["created"] == 1700000000);
    CHECK(c["model"] == "m");
    REQUIRE(c["choices"].size() == 1);
    CHECK(c["choices"][0]["index"] == 0);
    CHECK(c["choices"][0]["message"] == json { { "role", "assistant" }, { "content", "Hello" } });
    CHECK(c["choices"][0]["finish_reason"] == "stop");
    CHECK(c["usage"] == json { { "prompt_tokens", 12 }, { "completion_tokens", 3 }, { "total_tokens", 15 } });

    const json t
        = json::parse(completionBody(kText, " upon a time", "length", { .promptTokens = 2, .completionTokens = 4 }));
    CHECK(t["object"] == "text_completion");
    CHECK(t["choices"][0]["text"] == " upon a time");
    CHECK(t["choices"][0]["logprobs"].is_null());
    CHECK(t["choices"][0]["finish_reason"] == "length");
    CHECK(t["usage"]["total_tokens"] == 6);
}

TEST_CASE("a text cut inside a UTF-8 character still makes valid JSON")
{
    const json c = json::parse(completionBody(kChat, "caf\xc3", "length", {}));
    CHECK(c["choices"][0]["message"]["content"] == "caf\xef\xbf\xbd"); // U+FFFD
}

TEST_CASE("stream events: the role first, text deltas, an empty delta with the finish reason, the usage")
{
    const json first = event(chunkEvent(kChat, "Hel", true, std::nullopt));
    CHECK(first["object"] == "chat.completion.chunk");
    CHECK(first["choices"][0]["delta"] == json { { "role", "assistant" }, { "content", "Hel" } });
    CHECK(first["choices"][0]["finish_reason"].is_null());
    const json next = event(chunkEvent(kChat, "lo", false, std::nullopt));
    CHECK(next["choices"][0]["delta"] == json { { "content", "lo" } });
    const json last = event(chunkEvent(kChat, "", false, "stop"));
    CHECK(last["choices"][0]["delta"] == json::object());
    CHECK(last["choices"][0]["finish_reason"] == "stop");
    const json usage = event(usageEvent(kChat, { .promptTokens = 5, .completionTokens = 2 }));
    CHECK(usage["choices"] == json::array());
    CHECK(usage["usage"]["total_tokens"] == 7);

    const json text = event(chunkEvent(kText, " once", false, std::nullopt));
    CHECK(text["object"] == "text_completion");
    CHECK(text["choices"][0]["text"] == " once");
    CHECK(kDoneEvent == "data: [DONE]\n\n");
}

TEST_CASE("models, tokens and content bodies")
{
    const json models = json::parse(modelsBody("stories260K", 1700000000));
    CHECK(models["object"] == "list");
    REQUIRE(models["data"].size() == 1);
    CHECK(models["data"][0]["id"] == "stories260K");
    CHECK(models["data"][0]["object"] == "model");
    CHECK_FALSE(models["data"][0].contains("max_model_len")); // no context given: none said
    CHECK(json::parse(modelsBody("m", 0, 1024))["data"][0]["max_model_len"] == 1024);
    const std::int32_t ids[] = { 1, 403, 9 };
    CHECK(json::parse(tokensBody(ids)) == json { { "tokens", { 1, 403, 9 } } });
    CHECK(json::parse(contentBody("Once")) == json { { "content", "Once" } });
}
