// The reply filter on replies laid out as the Harmony format (gpt-oss: channels, headers,
// <|end|> between messages) and think blocks (Qwen3, DeepSeek) define them, whole and streamed
// one byte at a time, so a marker split across pieces is never shown.
#include "engine/chat_reply.h"

#include <doctest/doctest.h>

#include <string>

using nw::ReplyFilter;
using nw::ReplyFormat;

namespace {

// The text a stream shows when the reply arrives one byte at a time: a marker split across
// pieces must not leak out a byte at a time.
std::string streamed(ReplyFormat format, bool startsInReasoning, std::string_view reply)
{
    ReplyFilter filter(format, startsInReasoning);
    std::string shown;
    for (char c : reply)
        shown += filter.push(std::string_view(&c, 1));
    shown += filter.finish();
    if (format != ReplyFormat::Plain)
        for (std::string_view marker : {"<|channel|>", "<|message|>", "<|end|>", "<|start|>", "<|return|>", "</think>"})
            CHECK(shown.find(marker) == std::string::npos);
    return shown;
}

// The answer, whole and streamed, which must agree.
std::string answer(ReplyFormat format, bool startsInReasoning, std::string_view reply)
{
    const std::string whole = ReplyFilter::answer(format, startsInReasoning, reply);
    CHECK(streamed(format, startsInReasoning, reply) == whole);
    return whole;
}

} // namespace

TEST_CASE("Harmony: only the final channel is shown")
{
    // What gpt-oss writes after the generation prompt "<|start|>assistant"; <|return|> is an
    // end-of-generation token, so the text usually stops before it.
    const std::string reply = "<|channel|>analysis<|message|>User asks 2+2. Answer: 4.<|end|>"
                              "<|start|>assistant<|channel|>final<|message|>2 + 2 = 4.";
    CHECK(answer(ReplyFormat::Harmony, false, reply) == "2 + 2 = 4.");
    CHECK(answer(ReplyFormat::Harmony, false, reply + "<|return|>") == "2 + 2 = 4.");
    CHECK(answer(ReplyFormat::Harmony, false, reply + "<|return|>more") == "2 + 2 = 4.");
    // A final message straight away, and one that closes with <|end|> before another message.
    CHECK(answer(ReplyFormat::Harmony, false, "<|channel|>final<|message|>Yes.") == "Yes.");
    CHECK(answer(ReplyFormat::Harmony, false,
                 "<|channel|>final<|message|>Part one.<|end|><|start|>assistant<|channel|>analysis<|message|>hmm<|end|>"
                 "<|start|>assistant<|channel|>final<|message|> Part two.") == "Part one. Part two.");
}

TEST_CASE("Harmony: tool calls and commentary stay hidden, headers with recipients included")
{
    const std::string call = "<|channel|>analysis<|message|>Need to search.<|end|>"
                             "<|start|>assistant to=functions.search<|channel|>commentary json<|message|>{\"q\": \"x\"}<|call|>";
    CHECK(answer(ReplyFormat::Harmony, false, call).empty());
    CHECK(answer(ReplyFormat::Harmony, false,
                 "<|channel|>commentary to=functions.f <|constrain|>json<|message|>{}<|end|>"
                 "<|start|>assistant<|channel|>final<|message|>Done.") == "Done.");
}

TEST_CASE("Harmony: a reply without markup is shown as it is; an unfinished one shows nothing")
{
    CHECK(answer(ReplyFormat::Harmony, false, "Plain text, no channels.") == "Plain text, no channels.");
    CHECK(answer(ReplyFormat::Harmony, false, "<|channel|>analysis<|message|>still thinking").empty());
    CHECK(answer(ReplyFormat::Harmony, false, "<|channel|>ana").empty());
    // Text that only looks like the start of a marker is shown once it is clearly not one.
    CHECK(answer(ReplyFormat::Harmony, false, "<|channel|>final<|message|>a <| b <|en d") == "a <| b <|en d");
}

TEST_CASE("Harmony: hiding() says when the stream is in hidden text")
{
    ReplyFilter filter(ReplyFormat::Harmony, false);
    CHECK(filter.push("<|channel|>analysis<|message|>think").empty());
    CHECK(filter.hiding());
    CHECK(filter.push("<|end|><|start|>assistant<|channel|>final<|message|>Ans").empty() == false);
    CHECK_FALSE(filter.hiding());
}

TEST_CASE("think blocks: reasoning and the newlines after it are hidden")
{
    CHECK(answer(ReplyFormat::ThinkBlock, false, "<think>\nLet me see.\n</think>\n\nThe answer.") == "The answer.");
    CHECK(answer(ReplyFormat::ThinkBlock, false, "\n<think>x</think>Answer") == "Answer");
    // The prompt ended with an open <think> (Qwen3.5, DeepSeek V3.2/V4 with thinking on).
    CHECK(answer(ReplyFormat::ThinkBlock, true, "reasoning...\n</think>\n\nAnswer.") == "Answer.");
    // No think block: the reply is the answer, including text that merely starts like one.
    CHECK(answer(ReplyFormat::ThinkBlock, false, "The answer.") == "The answer.");
    CHECK(answer(ReplyFormat::ThinkBlock, false, "  <thinking aloud> is fine") == "  <thinking aloud> is fine");
    CHECK(answer(ReplyFormat::ThinkBlock, false, "An answer that mentions <think> later.") ==
          "An answer that mentions <think> later.");
    // Reasoning that never ends shows nothing.
    CHECK(answer(ReplyFormat::ThinkBlock, false, "<think>going on and on").empty());
}

TEST_CASE("plain replies pass through; the filter follows the chat template")
{
    CHECK(answer(ReplyFormat::Plain, false, "<think>kept</think> as is") == "<think>kept</think> as is");
    const nw::ChatTemplate qwen35(nw::ChatFamily::Qwen35);
    nw::ChatOptions thinking;
    thinking.enableThinking = true;
    CHECK(qwen35.replyFormat() == ReplyFormat::ThinkBlock);
    CHECK(qwen35.replyStartsInReasoning(thinking));
    CHECK_FALSE(qwen35.replyStartsInReasoning({}));
    ReplyFilter filter(qwen35, thinking);
    std::string shown = filter.push("because\n</think>\n\nYes");
    shown += filter.finish();
    CHECK(shown == "Yes");
    // R1's prompt always ends with an open <think>.
    CHECK(nw::ChatTemplate(nw::ChatFamily::DeepSeekR1).replyStartsInReasoning({}));
    CHECK(nw::ChatTemplate(nw::ChatFamily::Harmony).replyFormat() == ReplyFormat::Harmony);
    CHECK(nw::ChatTemplate(nw::ChatFamily::Gemma3).replyFormat() == ReplyFormat::Plain);
}
