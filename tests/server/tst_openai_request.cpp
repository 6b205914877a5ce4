// The OpenAI request layer: the bodies the endpoints accept (in the forms the OpenAI API reference
// gives) and every refusal with its status, param and code; the context budget; the access rules.
#include "server/access.h"
#include "server/chat_prompt.h"
#include "server/openai_request.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

using namespace nw::server;

namespace {

RequestLimits limits()
{
    return { .maxBodyBytes = 4096, .contextTokens = 100, .maxTokens = 50 };
}

CompletionRequest chat(const std::string &body)
{
    Parsed<CompletionRequest> p = parseCompletionRequest(body, CompletionKind::Chat, limits());
    if (const ApiError *e = std::get_if<ApiError>(&p))
        FAIL("refused: " << e->message);
    return std::get<CompletionRequest>(p);
}

CompletionRequest text(const std::string &body)
{
    Parsed<CompletionRequest> p = parseCompletionRequest(body, CompletionKind::Text, limits());
    if (const ApiError *e = std::get_if<ApiError>(&p))
        FAIL("refused: " << e->message);
    return std::get<CompletionRequest>(p);
}

ApiError refusal(const std::string &body, CompletionKind kind = CompletionKind::Chat)
{
    Parsed<CompletionRequest> p = parseCompletionRequest(body, kind, limits());
    REQUIRE(std::holds_alternative<ApiError>(p));
    return std::get<ApiError>(p);
}

const std::string kHi = R"("messages":[{"role":"user","content":"hi"}])";

} // namespace

TEST_CASE("chat: the smallest request takes OpenAI's defaults")
{
    const CompletionRequest r = chat("{" + kHi + "}");
    CHECK(r.kind == CompletionKind::Chat);
    REQUIRE(r.messages.size() == 1);
    CHECK(r.messages[0].role == "user");
    CHECK(r.messages[0].content == "hi");
    CHECK_FALSE(r.maxTokens.has_value());
    CHECK(r.temperature == 1.0);
    CHECK(r.topP == 1.0);
    CHECK(r.stop.empty());
    CHECK_FALSE(r.seed.has_value());
    CHECK_FALSE(r.stream);
    CHECK_FALSE(r.includeUsage);
}

TEST_CASE("chat: every field the endpoint uses, unknown fields ignored")
{
    const CompletionRequest r = chat(R"({"model":"m","messages":[{"role":"developer","content":"be brief"},
        {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
        {"role":"assistant","content":"c"}],
        "max_tokens":7,"temperature":0,"top_p":0.5,"stop":["x","yz"],"seed":-1,"n":1,"stream":true,
        "stream_options":{"include_usage":true},"user":"u","frequency_penalty":0.3,"logit_bias":{"5":1}})");
    CHECK(r.model == "m");
    REQUIRE(r.messages.size() == 3);
    CHECK(r.messages[0].role == "system"); // developer is the newer name of system
    CHECK(r.messages[1].content == "ab");
    CHECK(r.messages[2].role == "assistant");
    CHECK(r.maxTokens == 7);
    CHECK(r.temperature == 0.0);
    CHECK(r.topP == 0.5);
    CHECK(r.stop == std::vector<std::string> { "x", "yz" });
    CHECK(r.seed == 0xffffffffffffffffull); // -1 wraps
    CHECK(r.stream);
    CHECK(r.includeUsage);
}

TEST_CASE("chat: null counts as absent; max_completion_tokens wins over max_tokens; a whole float is an integer")
{
    CHECK_FALSE(chat("{" + kHi + R"(,"max_tokens":null,"stop":null,"seed":null})").maxTokens.has_value());
    CHECK(chat("{" + kHi + R"(,"max_tokens":9,"max_completion_tokens":3})").maxTokens == 3);
    CHECK(chat("{" + kHi + R"(,"max_tokens":16.0})").maxTokens == 16);
    CHECK(chat("{" + kHi + R"(,"stop":"END"})").stop == std::vector<std::string> { "END" });
    CHECK(chat("{" + kHi + R"(,"seed":18446744073709551615})").seed == 18446744073709551615ull);
}

TEST_CASE("completions: a prompt string, or an array of one string")
{
    CHECK(text(R"({"prompt":"Once upon"})").prompt == "Once upon");
    CHECK(text(R"({"prompt":["Once upon"],"max_tokens":5})").prompt == "Once upon");
    CHECK(text(R"({"prompt":""})").prompt.empty());
}

TEST_CASE("refused: the body itself")
{
    const ApiError big = refusal(std::string(5000, ' '));
    CHECK(big.status == 413);
    CHECK(big.code == "request_too_large");
    for (const char *body : { "", "{", "{\"messages\":[}", "nan", "{\"a\":NaN}", "{\"a\":1e999}", "\"\xff\"",
             "{\"messages\":[{\"role\":\"user\",\"content\":\"\xc3\x28\"}]}" }) {
        CAPTURE(body);
        const ApiError e = refusal(body);
        CHECK(e.status == 400);
        CHECK(e.code == "invalid_json");
        CHECK(e.type == "invalid_request_error");
    }
    for (const char *body : { "[]", "3", "\"text\"", "null" }) {
        CAPTURE(body);
        CHECK(refusal(body).code == "invalid_json");
    }
    const ApiError deep = refusal(std::string(40, '[') + std::string(40, ']'));
    CHECK(deep.code == "invalid_json");
    CHECK(deep.message.find("deeper") != std::string::npos);
}

TEST_CASE("refused: messages")
{
    struct Row {
        const char *body;
        const char *param;
        const char *code;
    };
    const Row rows[] = {
        { "{}", "messages", "missing_required_parameter" },
        { R"({"messages":"hi"})", "messages", "invalid_type" },
        { R"({"messages":[]})", "messages", "invalid_value" },
        { R"({"messages":[1]})", "messages[0]", "invalid_type" },
        { R"({"messages":[{"content":"hi"}]})", "messages[0].role", "invalid_type" },
        { R"({"messages":[{"role":7,"content":"hi"}]})", "messages[0].role", "invalid_type" },
        { R"({"messages":[{"role":"tool","content":"hi"}]})", "messages[0].role", "unsupported_value" },
        { R"({"messages":[{"role":"user"}]})", "messages[0].content", "missing_required_parameter" },
        { R"({"messages":[{"role":"user","content":5}]})", "messages[0].content", "invalid_type" },
        { R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]})",
            "messages[0].content[0].type", "unsupported_value" },
        { R"({"messages":[{"role":"user","content":[{"type":"text","text":3}]}]})", "messages[0].content[0].text",
            "invalid_type" },
    };
    for (const Row &row : rows) {
        CAPTURE(row.body);
        const ApiError e = refusal(row.body);
        CHECK(e.status == 400);
        CHECK(e.param == row.param);
        CHECK(e.code == row.code);
    }
}

TEST_CASE("refused: the prompt of /v1/completions")
{
    CHECK(refusal("{}", CompletionKind::Text).param == "prompt");
    CHECK(refusal(R"({"prompt":3})", CompletionKind::Text).code == "invalid_type");
    CHECK(refusal(R"({"prompt":["a","b"]})", CompletionKind::Text).code == "unsupported_value");
    CHECK(refusal(R"({"prompt":[1,2,3]})", CompletionKind::Text).code == "unsupported_value");
}

TEST_CASE("refused: sampling fields of the wrong type or out of range")
{
    struct Row {
        const char *fields;
        const char *param;
        const char *code;
    };
    const Row rows[] = {
        { R"("max_tokens":0)", "max_tokens", "invalid_value" },
        { R"("max_tokens":-5)", "max_tokens", "invalid_value" },
        { R"("max_tokens":51)", "max_tokens", "invalid_value" }, // over limits().maxTokens
        { R"("max_tokens":1e300)", "max_tokens", "invalid_value" },
        { R"("max_tokens":18446744073709551615)", "max_tokens", "invalid_value" },
        { R"("max_tokens":2.5)", "max_tokens", "invalid_type" },
        { R"("max_tokens":"10")", "max_tokens", "invalid_type" },
        { R"("max_completion_tokens":true)", "max_completion_tokens", "invalid_type" },
        { R"("temperature":-0.1)", "temperature", "invalid_value" },
        { R"("temperature":2.01)", "temperature", "invalid_value" },
        { R"("temperature":"hot")", "temperature", "invalid_type" },
        { R"("top_p":1.5)", "top_p", "invalid_value" },
        { R"("top_p":[0.5])", "top_p", "invalid_type" },
        { R"("stop":5)", "stop", "invalid_type" },
        { R"("stop":["a",1])", "stop", "invalid_type" },
        { R"("stop":["a","b","c","d","e"])", "stop", "invalid_value" },
        { R"("stop":"")", "stop", "invalid_value" },
        { R"("seed":1.5)", "seed", "invalid_type" },
        { R"("seed":"1")", "seed", "invalid_type" },
        { R"("n":2)", "n", "unsupported_value" },
        { R"("n":0)", "n", "invalid_value" },
        { R"("stream":"yes")", "stream", "invalid_type" },
        { R"("stream_options":true)", "stream_options", "invalid_type" },
        { R"("stream_options":{"include_usage":1})", "stream_options.include_usage", "invalid_type" },
        { R"("model":5)", "model", "invalid_type" },
    };
    for (const Row &row : rows) {
        CAPTURE(row.fields);
        const ApiError e = refusal("{" + kHi + "," + row.fields + "}");
        CHECK(e.status == 400);
        CHECK(e.param == row.param);
        CHECK(e.code == row.code);
    }
}

TEST_CASE("the error object has OpenAI's four fields, null where there is nothing to say")
{
    const nlohmann::json body = nlohmann::json::parse(refusal(R"({"messages":[],"x":1})").json());
    REQUIRE(body.contains("error"));
    const nlohmann::json &e = body["error"];
    CHECK(e["message"].is_string());
    CHECK(e["type"] == "invalid_request_error");
    CHECK(e["param"] == "messages");
    CHECK(e["code"] == "invalid_value");
    const nlohmann::json none = nlohmann::json::parse(ApiError { .status = 500, .message = "m", .type = "t" }.json());
    CHECK(none["error"]["param"].is_null());
    CHECK(none["error"]["code"].is_null());
}

TEST_CASE("budget: the rest of the context up to the limit, or max_tokens when it fits")
{
    CompletionRequest r;
    const RequestLimits l = limits(); // context 100, at most 50 per request
    CHECK(std::get<std::int64_t>(completionBudget(r, 10, l)) == 50);
    CHECK(std::get<std::int64_t>(completionBudget(r, 80, l)) == 20);
    CHECK(std::get<std::int64_t>(completionBudget(r, 99, l)) == 1);
    r.maxTokens = 20;
    CHECK(std::get<std::int64_t>(completionBudget(r, 80, l)) == 20);

    const ApiError over = std::get<ApiError>(completionBudget(r, 81, l));
    CHECK(over.status == 400);
    CHECK(over.code == "context_length_exceeded");
    CHECK(over.param == "max_tokens");
    CHECK(over.message.find("101 tokens (81 in the prompt, 20 in the completion)") != std::string::npos);

    r.maxTokens.reset();
    for (std::int64_t prompt : { 100, 5000 }) {
        const ApiError full = std::get<ApiError>(completionBudget(r, prompt, l));
        CHECK(full.code == "context_length_exceeded");
        CHECK(full.param == "messages");
    }
    r.kind = CompletionKind::Text;
    CHECK(std::get<ApiError>(completionBudget(r, 100, l)).param == "prompt");
}

TEST_CASE("sampling: temperature and top_p only; temperature 0 is greedy; the seed given or the fallback")
{
    CompletionRequest r;
    r.temperature = 0.7;
    r.topP = 0.9;
    nw::SamplerParams s = samplerParams(r, 42);
    CHECK_FALSE(s.greedy);
    CHECK(s.temperature == doctest::Approx(0.7));
    CHECK(s.topP == doctest::Approx(0.9));
    CHECK(s.topK == 0);
    CHECK(s.minP == 0);
    CHECK(s.repeatPenalty == 1);
    CHECK(s.seed == 42);
    r.temperature = 0;
    r.seed = 7;
    s = samplerParams(r, 42);
    CHECK(s.greedy);
    CHECK(s.seed == 7);
}

TEST_CASE("continue_final_message: the reply starts with the last assistant message")
{
    const std::string continued
        = R"({"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":" The key is"}],)"
          R"("continue_final_message":true})";
    const auto chat = std::get<CompletionRequest>(parseCompletionRequest(continued, CompletionKind::Chat, limits()));
    CHECK(chat.continueFinalMessage);
    CHECK_FALSE(std::get<CompletionRequest>(
        parseCompletionRequest(R"({"messages":[{"role":"user","content":"hi"}]})", CompletionKind::Chat, limits()))
                    .continueFinalMessage);
    // Only after an assistant message, and only a bool.
    CHECK(std::get<ApiError>(
              parseCompletionRequest(R"({"messages":[{"role":"user","content":"hi"}],"continue_final_message":true})",
                  CompletionKind::Chat, limits()))
              .param
        == "continue_final_message");
    CHECK(std::get<ApiError>(parseCompletionRequest(
                                 R"({"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"x"}],)"
                                 R"("continue_final_message":"yes"})",
                                 CompletionKind::Chat, limits()))
              .code
        == "invalid_type");
    const auto tok = std::get<TokenizeRequest>(parseTokenizeRequest(continued, limits()));
    CHECK(tok.continueFinalMessage);

    // The plain template's documented layout ("User: ...\n\nAssistant:"): the generation prompt,
    // then the assistant's text as it was given, no end of turn after it.
    const nw::ChatTemplate plain(nw::ChatFamily::Plain);
    const std::vector<nw::ChatMessage> messages { { "user", "hi" }, { "assistant", " The key is" } };
    CHECK(renderChatPrompt(plain, messages, false, true) == "User: hi\n\nAssistant: The key is");
    CHECK(renderChatPrompt(plain, messages, true, true) == "User: hi\n\nAssistant: The key is");
    CHECK(renderChatPrompt(plain, messages, false, false) == "User: hi\n\nAssistant:  The key is\n\n");
}

TEST_CASE("tokenize and detokenize bodies")
{
    const auto tok = std::get<TokenizeRequest>(parseTokenizeRequest(R"({"content":"hi there"})", limits()));
    CHECK(tok.content == "hi there");
    CHECK_FALSE(tok.addSpecial);
    CHECK(std::get<TokenizeRequest>(parseTokenizeRequest(R"({"content":"","add_special":true})", limits())).addSpecial);
    CHECK(std::get<ApiError>(parseTokenizeRequest("{}", limits())).code == "missing_required_parameter");
    CHECK(std::get<ApiError>(parseTokenizeRequest(R"({"content":[1]})", limits())).code == "invalid_type");
    CHECK(std::get<ApiError>(parseTokenizeRequest(R"({"content":"a","add_special":1})", limits())).param
        == "add_special");

    // vLLM's shape: chat messages, rendered by the server's template before they are counted.
    const auto chat = std::get<TokenizeRequest>(parseTokenizeRequest(
        R"({"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]})",
        limits()));
    REQUIRE(chat.messages.has_value());
    REQUIRE(chat.messages->size() == 2);
    CHECK((*chat.messages)[1].role == "user");
    CHECK((*chat.messages)[1].content == "hi");
    CHECK(chat.addGenerationPrompt);
    CHECK_FALSE(std::get<TokenizeRequest>(
        parseTokenizeRequest(
            R"({"messages":[{"role":"user","content":"hi"}],"add_generation_prompt":false})", limits()))
                    .addGenerationPrompt);
    CHECK(std::get<ApiError>(parseTokenizeRequest(R"({"messages":[]})", limits())).param == "messages");
    CHECK(std::get<ApiError>(parseTokenizeRequest(R"({"messages":[{"role":"tool","content":"x"}]})", limits())).param
        == "messages[0].role");
    CHECK(std::get<ApiError>(
              parseTokenizeRequest(
                  R"({"messages":[{"role":"user","content":"x"}],"add_generation_prompt":"yes"})", limits()))
              .param
        == "add_generation_prompt");

    CHECK(std::get<std::vector<std::int32_t>>(parseDetokenizeRequest(R"({"tokens":[0,5,511]})", limits(), 512))
        == std::vector<std::int32_t> { 0, 5, 511 });
    CHECK(std::get<std::vector<std::int32_t>>(parseDetokenizeRequest(R"({"tokens":[]})", limits(), 512)).empty());
    CHECK(std::get<ApiError>(parseDetokenizeRequest(R"({"tokens":[512]})", limits(), 512)).param == "tokens[0]");
    CHECK(std::get<ApiError>(parseDetokenizeRequest(R"({"tokens":[1,-1]})", limits(), 512)).param == "tokens[1]");
    CHECK(std::get<ApiError>(parseDetokenizeRequest(R"({"tokens":["a"]})", limits(), 512)).code == "invalid_type");
    CHECK(std::get<ApiError>(parseDetokenizeRequest(R"({"tokens":5})", limits(), 512)).code == "invalid_type");
    CHECK(std::get<ApiError>(parseDetokenizeRequest("{}", limits(), 512)).code == "missing_required_parameter");
}

TEST_CASE("access: loopback hosts, and the bearer key")
{
    for (const char *host : { "127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]" }) {
        CAPTURE(host);
        CHECK(isLoopbackHost(host));
    }
    for (const char *host : { "0.0.0.0", "192.168.1.5", "::", "10.0.0.1", "128.0.0.1", "example.com", "" }) {
        CAPTURE(host);
        CHECK_FALSE(isLoopbackHost(host));
    }
    CHECK_FALSE(checkAuthorization("Bearer s3cret", "s3cret").has_value());
    for (const char *header : { "", "Bearer", "Bearer ", "bearer s3cret", "Basic s3cret", "Bearer s3cre",
             "Bearer s3cret2", "Bearer S3cret" }) {
        CAPTURE(header);
        const std::optional<ApiError> e = checkAuthorization(header, "s3cret");
        REQUIRE(e.has_value());
        CHECK(e->status == 401);
        CHECK(e->code == "invalid_api_key");
    }
}
