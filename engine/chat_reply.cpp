// The reply filter as a small state machine over the pending text: each state consumes what it
// can decide and leaves the rest (a possible marker prefix) for the next piece.
#include "engine/chat_reply.h"

#include <algorithm>
#include <array>
#include <initializer_list>

namespace nw {
namespace {

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";
constexpr std::string_view kStart = "<|start|>";
constexpr std::string_view kChannel = "<|channel|>";
constexpr std::string_view kMessage = "<|message|>";
constexpr std::string_view kEnd = "<|end|>";
constexpr std::string_view kReturn = "<|return|>";
constexpr std::string_view kCall = "<|call|>";
constexpr std::string_view kWhitespace = " \t\r\n";

// A Harmony header longer than this is no header: the reply is shown as it is.
constexpr std::size_t kMaxHeader = 1024;

// The length of the longest end of `text` that is the start of one of `markers` (and not a
// whole marker): what must wait for the next piece.
std::size_t markerPrefixAtEnd(std::string_view text, std::initializer_list<std::string_view> markers)
{
    std::size_t held = 0;
    for (std::string_view marker : markers)
        for (std::size_t n = std::min(text.size(), marker.size() - 1); n > held; --n)
            if (text.substr(text.size() - n) == marker.substr(0, n)) {
                held = n;
                break;
            }
    return held;
}

// The first of `markers` in `text`: its position and which one; npos when none.
struct Found {
    std::size_t at = std::string_view::npos;
    std::string_view marker;
};
Found findFirst(std::string_view text, std::initializer_list<std::string_view> markers)
{
    Found first;
    for (std::string_view marker : markers) {
        const std::size_t at = text.find(marker);
        if (at < first.at)
            first = {at, marker};
    }
    return first;
}

// The channel a Harmony header names: "<|channel|>final", "<|channel|>commentary to=x json".
std::string_view headerChannel(std::string_view header)
{
    const std::size_t at = header.find(kChannel);
    if (at == std::string_view::npos)
        return {};
    const std::string_view rest = header.substr(at + kChannel.size());
    return rest.substr(0, std::min(rest.find(' '), rest.find('<')));
}

} // namespace

ReplyFilter::ReplyFilter(ReplyFormat format, bool startsInReasoning)
    : m_format(format),
      m_state(format == ReplyFormat::Harmony    ? State::Header
              : format == ReplyFormat::Plain    ? State::Answer
              : startsInReasoning               ? State::Reasoning
                                                : State::Opening)
{
}

std::string ReplyFilter::push(std::string_view text)
{
    m_pending.append(text);
    return step(false);
}

std::string ReplyFilter::finish()
{
    return step(true);
}

std::string ReplyFilter::answer(ReplyFormat format, bool startsInReasoning, std::string_view reply)
{
    ReplyFilter filter(format, startsInReasoning);
    std::string out = filter.push(reply);
    out += filter.finish();
    return out;
}

std::string ReplyFilter::step(bool final)
{
    std::string out;
    for (;;) {
        switch (m_state) {
        case State::Opening: {
            const std::size_t skip = std::min(m_pending.find_first_not_of(kWhitespace), m_pending.size());
            const std::string_view rest = std::string_view(m_pending).substr(skip);
            if (rest.starts_with(kThinkOpen)) {
                m_pending.erase(0, skip + kThinkOpen.size());
                m_state = State::Reasoning;
                continue;
            }
            if (!final && kThinkOpen.starts_with(rest))
                return out; // whitespace, or the start of <think>: wait
            m_state = State::Answer;
            continue;
        }
        case State::Reasoning: {
            const std::size_t at = m_pending.find(kThinkClose);
            if (at != std::string::npos) {
                m_pending.erase(0, at + kThinkClose.size());
                m_state = State::AfterThink;
                continue;
            }
            m_pending.erase(0, m_pending.size() - (final ? 0 : markerPrefixAtEnd(m_pending, {kThinkClose})));
            return out;
        }
        case State::AfterThink: {
            const std::size_t first = m_pending.find_first_not_of(kWhitespace);
            if (first == std::string::npos) {
                m_pending.clear();
                return out;
            }
            m_pending.erase(0, first);
            m_state = State::Answer;
            continue;
        }
        case State::Answer: {
            if (m_format != ReplyFormat::Harmony) {
                out += m_pending;
                m_pending.clear();
                return out;
            }
            // The final channel's text runs to the marker that ends or interrupts it.
            const Found found = findFirst(m_pending, {kEnd, kReturn, kCall, kStart, kChannel});
            if (found.at == std::string::npos) {
                const std::size_t held = final ? 0 : markerPrefixAtEnd(m_pending, {kEnd, kReturn, kCall, kStart, kChannel});
                out.append(m_pending, 0, m_pending.size() - held);
                m_pending.erase(0, m_pending.size() - held);
                return out;
            }
            out.append(m_pending, 0, found.at);
            if (found.marker == kReturn || found.marker == kCall) {
                m_state = State::Done;
            } else {
                // <|end|> closes the message; <|start|> and <|channel|> open the next header.
                m_pending.erase(0, found.at + (found.marker == kEnd ? found.marker.size() : 0));
                m_state = State::Header;
                continue;
            }
            m_pending.clear();
            return out;
        }
        case State::Header: {
            const std::size_t at = m_pending.find(kMessage);
            if (at != std::string::npos) {
                const bool finalChannel = headerChannel(std::string_view(m_pending).substr(0, at)) == "final";
                m_pending.erase(0, at + kMessage.size());
                m_state = finalChannel ? State::Answer : State::Hidden;
                continue;
            }
            // A header starts with a marker; anything else is a reply without Harmony markup.
            const bool headerLike = m_pending.starts_with("<|") || std::string_view("<|").starts_with(m_pending);
            if (!headerLike || m_pending.size() > kMaxHeader) {
                m_state = State::Answer;
                continue;
            }
            if (final)
                m_pending.clear(); // an unfinished header shows nothing
            return out;
        }
        case State::Hidden: {
            const Found found = findFirst(m_pending, {kEnd, kReturn, kCall, kStart});
            if (found.at == std::string::npos) {
                m_pending.erase(0, m_pending.size() - (final ? 0 : markerPrefixAtEnd(m_pending, {kEnd, kReturn, kCall, kStart})));
                return out;
            }
            if (found.marker == kReturn || found.marker == kCall) {
                m_state = State::Done;
                continue;
            }
            m_pending.erase(0, found.at + (found.marker == kEnd ? found.marker.size() : 0));
            m_state = State::Header;
            continue;
        }
        case State::Done:
            m_pending.clear();
            return out;
        }
    }
}

} // namespace nw
