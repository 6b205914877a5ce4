// Reading a model's reply back: what of the generated text is the answer a reader should see,
// as the reply streams. Reasoning (<think>...</think>) and gpt-oss's Harmony channels other than
// `final` are hidden, with their markup.
#pragma once

#include "engine/chat_template.h"

#include <string>
#include <string_view>

namespace nw {

// A streaming filter over generated text (Generator's onText pieces, in order). Text that may
// still turn out to be part of a marker is held back until it is decided, so a marker split
// across tokens ("<|chan" + "nel|>") is never shown.
//
// Harmony (gpt-oss): the reply after the generation prompt "<|start|>assistant" is a series of
// messages, "<|channel|>NAME[ header...]<|message|>TEXT<|end|>" and, after <|end|>,
// "<|start|>assistant<|channel|>...". Only TEXT of the `final` channel is shown. The reply ends
// with <|return|> (or <|call|> for a tool call): both are end-of-generation tokens, and <|end|>
// is not, so generation runs on from the analysis message into the final one. A reply that
// does not open with a header is shown as it is.
//
// Think blocks (Qwen3/3.5, DeepSeek): a reply that opens with <think> (after whitespace), or
// that starts inside reasoning because the prompt ended with an open <think>, is hidden up to
// </think>; the newlines after it go too.
class ReplyFilter {
public:
    ReplyFilter(ReplyFormat format, bool startsInReasoning);
    explicit ReplyFilter(const ChatTemplate &chat, const ChatOptions &options = {})
        : ReplyFilter(chat.replyFormat(), chat.replyStartsInReasoning(options)) {}

    // Takes the next piece of generated text; returns the answer text that can be shown now.
    std::string push(std::string_view text);
    // At the end of generation: the held-back text that is answer after all.
    std::string finish();
    // Whether the reply is in hidden text now (reasoning, an analysis channel, a header), e.g.
    // for a "thinking…" indicator.
    bool hiding() const { return m_state != State::Answer; }

    // The answer in a whole reply.
    static std::string answer(ReplyFormat format, bool startsInReasoning, std::string_view reply);

private:
    enum class State {
        Answer,    // shown
        Opening,   // the start of a think-block reply: maybe whitespace and <think>
        Reasoning, // inside <think>...</think>
        AfterThink, // the newlines after </think>
        Header,    // a Harmony message header, up to <|message|>
        Hidden,    // a Harmony message on a channel other than final
        Done,      // after <|return|> / <|call|>
    };
    std::string step(bool final);

    ReplyFormat m_format;
    State m_state;
    std::string m_pending; // text not yet decided
};

} // namespace nw
