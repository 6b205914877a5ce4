// Chat template families written out by hand from the templates their models ship (see
// tests/data/chat_templates/ for the Jinja originals the tests render). Each renderer follows
// its template line by line for the roles the workbench sends (system, user, assistant): the
// tool-calling branches are left out and those roles refused.
#include "engine/chat_template.h"

#include "common/error.h"

#include <array>
#include <chrono>
#include <ctime>
#include <regex>
#include <utility>

namespace nw {
namespace {

constexpr std::string_view kDeepSeekEos = "<｜end▁of▁sentence｜>";
constexpr std::string_view kDeepSeekUser = "<｜User｜>";
constexpr std::string_view kDeepSeekAssistant = "<｜Assistant｜>";
constexpr std::string_view kMistralEos = "</s>";
constexpr std::string_view kPhiEos = "<|endoftext|>";
constexpr std::string_view kQwenDefaultSystem = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

bool contains(std::string_view haystack, std::string_view needle)
{
    return haystack.find(needle) != std::string_view::npos;
}

// Python's str.isspace() for one code point given as its UTF-8 bytes at `at`; returns the byte
// length of the whitespace there, 0 if none. Jinja's `trim` filter is Python's str.strip().
std::size_t pythonSpaceAt(std::string_view text, std::size_t at)
{
    // ASCII: \t \n \v \f \r, \x1c-\x1f and space.
    const auto c = static_cast<unsigned char>(text[at]);
    if ((c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20))
        return 1;
    // U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
    static constexpr std::array<std::string_view, 19> kWide = {
        "\xC2\x85", "\xC2\xA0", "\xE1\x9A\x80", "\xE2\x80\x80", "\xE2\x80\x81", "\xE2\x80\x82", "\xE2\x80\x83",
        "\xE2\x80\x84", "\xE2\x80\x85", "\xE2\x80\x86", "\xE2\x80\x87", "\xE2\x80\x88", "\xE2\x80\x89",
        "\xE2\x80\x8A", "\xE2\x80\xA8", "\xE2\x80\xA9", "\xE2\x80\xAF", "\xE2\x81\x9F", "\xE3\x80\x80",
    };
    for (std::string_view space : kWide)
        if (text.substr(at, space.size()) == space)
            return space.size();
    return 0;
}

// Jinja's `trim` (Python str.strip()): Unicode whitespace at both ends.
std::string_view trimmed(std::string_view text)
{
    std::size_t begin = 0;
    while (begin < text.size()) {
        const std::size_t n = pythonSpaceAt(text, begin);
        if (n == 0)
            break;
        begin += n;
    }
    std::size_t end = text.size();
    while (end > begin) {
        // Step back over one UTF-8 character and test it.
        std::size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80)
            --start;
        if (pythonSpaceAt(text, start) != end - start)
            break;
        end = start;
    }
    return text.substr(begin, end - begin);
}

// Python's str.strip(chars) / lstrip / rstrip with one character.
std::string_view lstripped(std::string_view text, char c)
{
    const std::size_t first = text.find_first_not_of(c);
    return first == std::string_view::npos ? std::string_view() : text.substr(first);
}
std::string_view rstripped(std::string_view text, char c)
{
    const std::size_t last = text.find_last_not_of(c);
    return last == std::string_view::npos ? std::string_view() : text.substr(0, last + 1);
}

// Python's s.split(sep)[0] and s.split(sep)[-1].
std::string_view beforeFirst(std::string_view text, std::string_view sep)
{
    return text.substr(0, text.find(sep));
}
std::string_view afterLast(std::string_view text, std::string_view sep)
{
    const std::size_t at = text.rfind(sep);
    return at == std::string_view::npos ? text : text.substr(at + sep.size());
}

// Qwen's split of an assistant message that kept its reasoning: what follows the last </think>
// is the content, what sits between the last <think> and the first </think> the reasoning.
struct SplitReply {
    std::string_view reasoning;
    std::string_view content;
};
SplitReply splitThink(std::string_view content)
{
    if (!contains(content, "</think>"))
        return {{}, content};
    return {lstripped(afterLast(rstripped(beforeFirst(content, "</think>"), '\n'), "<think>"), '\n'),
            lstripped(afterLast(content, "</think>"), '\n')};
}

void requireRole(const ChatMessage &message, ChatFamily family)
{
    if (message.role != "system" && message.role != "user" && message.role != "assistant")
        fail("chat template {}: role '{}' is not supported (system, user and assistant are)",
             chatFamilyName(family), message.role);
}

// Each message must be a user one at even positions and an assistant one at odd positions, as
// the Mistral v1 and Gemma templates enforce with raise_exception (`offset`: messages before
// the span, for the error message).
void requireAlternation(std::span<const ChatMessage> turns, ChatFamily family, std::size_t offset)
{
    for (std::size_t i = 0; i < turns.size(); ++i)
        if ((turns[i].role == "user") != (i % 2 == 0))
            fail("chat template {}: after the optional system message, roles must alternate user/assistant "
                 "(message {} is '{}')", chatFamilyName(family), i + offset, turns[i].role);
}

std::string today()
{
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm local{};
    localtime_r(&now, &local);
    char buffer[16];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%d", &local);
    return buffer;
}

constexpr std::array<std::pair<ChatFamily, std::string_view>, 19> kNames = {{
    {ChatFamily::Plain, "plain"},
    {ChatFamily::DeepSeekV2, "deepseek-v2"},
    {ChatFamily::DeepSeekV3, "deepseek-v3"},
    {ChatFamily::DeepSeekR1, "deepseek-r1"},
    {ChatFamily::DeepSeekV32, "deepseek-v3.2"},
    {ChatFamily::DeepSeekV4, "deepseek-v4"},
    {ChatFamily::Llama3, "llama-3"},
    {ChatFamily::ChatMl, "chatml"},
    {ChatFamily::Qwen25, "qwen2.5"},
    {ChatFamily::Qwen3, "qwen3"},
    {ChatFamily::Qwen35, "qwen3.5"},
    {ChatFamily::Gemma3, "gemma-3"},
    {ChatFamily::Gemma4, "gemma-4"},
    {ChatFamily::Phi3, "phi-3.5"},
    {ChatFamily::Phi4Mini, "phi-4-mini"},
    {ChatFamily::Harmony, "gpt-oss"},
    {ChatFamily::MistralV1, "mistral-v1"},
    {ChatFamily::MistralV7, "mistral-v7"},
    {ChatFamily::Completion, "completion"},
}};

// A Completion template's generation prompt: the literal text between the
// `{% if add_generation_prompt %}` and `{% endif %}` that follow a loop printing only each
// message's content. nullopt for anything else (including whitespace-control `-` variants,
// whose effect on the text would need a real Jinja parser).
std::optional<std::string> completionPrompt(std::string_view t)
{
    static const std::regex pattern(
        R"(^\{%\s*for (\w+) in messages\s*%\}\{\{\s*\1\[['"]content['"]\]\s*\}\}\{%\s*endfor\s*%\})"
        R"(\{%\s*if add_generation_prompt\s*%\}([^{}%]*)\{%\s*endif\s*%\}$)");
    std::match_results<std::string_view::const_iterator> match;
    if (!std::regex_match(t.begin(), t.end(), match, pattern))
        return std::nullopt;
    return match[2].str();
}

std::optional<ChatFamily> familyFromTemplate(std::string_view t)
{
    if (t.empty())
        return std::nullopt;
    // Order matters: several families share markers (DeepSeek's <｜User｜>, ChatML's
    // <|im_start|>, Harmony's and Phi's <|end|>, Mistral's [INST]).
    if (contains(t, "<|channel|>") && contains(t, "<|start|>") && contains(t, "<|message|>"))
        return ChatFamily::Harmony;
    if (contains(t, kDeepSeekUser) && contains(t, kDeepSeekAssistant)) {
        // V3.2 and V4 write tool calls in DSML; V4 calls them tool_calls and can drop thinking.
        if (contains(t, "DSML") && contains(t, "drop_thinking"))
            return ChatFamily::DeepSeekV4;
        if (contains(t, "DSML"))
            return ChatFamily::DeepSeekV32;
        // R1's generation prompt opens the reasoning: '<｜Assistant｜><think>\n' (V3.1's closes it).
        if (contains(t, "<｜Assistant｜><think>\\n") || contains(t, "<｜Assistant｜><think>\n"))
            return ChatFamily::DeepSeekR1;
        return ChatFamily::DeepSeekV3;
    }
    if (contains(t, "'Assistant: ' + message['content'] + eos_token") ||
        (contains(t, "'User: '") && contains(t, "'Assistant:'")))
        return ChatFamily::DeepSeekV2;
    if (contains(t, "<|start_header_id|>") && contains(t, "<|end_header_id|>"))
        return ChatFamily::Llama3;
    if (contains(t, "<|im_start|>")) {
        if (contains(t, "<think>") && contains(t, "System message must be at the beginning"))
            return ChatFamily::Qwen35;
        if (contains(t, "<think>") && contains(t, "enable_thinking"))
            return ChatFamily::Qwen3;
        if (contains(t, kQwenDefaultSystem))
            return ChatFamily::Qwen25;
        return ChatFamily::ChatMl;
    }
    if (contains(t, "<|turn>") && contains(t, "<turn|>"))
        return ChatFamily::Gemma4;
    if (contains(t, "<start_of_turn>"))
        return ChatFamily::Gemma3;
    if (contains(t, "<|end|>") && contains(t, "'<|' + message['role'] + '|>'"))
        return ChatFamily::Phi4Mini;
    if (contains(t, "<|user|>") && contains(t, "<|end|>"))
        return ChatFamily::Phi3;
    if (contains(t, "[SYSTEM_PROMPT]"))
        return ChatFamily::MistralV7;
    if (contains(t, "[INST]"))
        return ChatFamily::MistralV1;
    return std::nullopt;
}

std::optional<ChatFamily> familyFromArchitecture(std::string_view arch)
{
    // GGUFs converted without a template: only architectures that have one chat format.
    // deepseek2 covers V2, V2-Lite and V3; V3 files always carry their template, so a bare
    // deepseek2 file is taken for V2 (whose chat models were converted before templates were).
    if (arch == "deepseek2")
        return ChatFamily::DeepSeekV2;
    if (arch == "deepseek32")
        return ChatFamily::DeepSeekV32;
    if (arch == "deepseek4")
        return ChatFamily::DeepSeekV4;
    if (arch == "qwen2" || arch == "qwen2moe")
        return ChatFamily::Qwen25;
    if (arch == "qwen3" || arch == "qwen3moe")
        return ChatFamily::Qwen3;
    if (arch == "qwen35" || arch == "qwen35moe")
        return ChatFamily::Qwen35;
    if (arch == "gemma3")
        return ChatFamily::Gemma3;
    if (arch == "gemma4")
        return ChatFamily::Gemma4;
    if (arch == "phi3")
        return ChatFamily::Phi3;
    if (arch == "gpt-oss")
        return ChatFamily::Harmony;
    return std::nullopt;
}

// --- one renderer per family ----------------------------------------------------------------

// deepseek-v3.2.jinja and deepseek-v4.jinja (no tools): every system message goes first, joined
// by blank lines; the assistant turn opens with </think>, or with a think block when thinking
// (these messages carry no reasoning, so the block is empty).
std::string deepSeekSystem(std::span<const ChatMessage> messages)
{
    std::string system;
    bool first = true;
    for (const ChatMessage &m : messages) {
        if (m.role != "system")
            continue;
        if (!first)
            system += "\n\n";
        system += m.content;
        first = false;
    }
    return system;
}

// deepseek-r1.jinja (no tools): only the last system message is kept; an assistant message keeps
// what follows its last </think>.
std::string applyDeepSeekR1(std::span<const ChatMessage> messages, bool addGenerationPrompt)
{
    std::string out;
    for (const ChatMessage &m : messages)
        if (m.role == "system")
            out = m.content;
    for (const ChatMessage &m : messages) {
        if (m.role == "user") {
            out += kDeepSeekUser;
            out += m.content;
        } else if (m.role == "assistant") {
            out += kDeepSeekAssistant;
            out += afterLast(m.content, "</think>");
            out += kDeepSeekEos;
        }
    }
    if (addGenerationPrompt) {
        out += kDeepSeekAssistant;
        out += "<think>\n";
    }
    return out;
}

std::string applyDeepSeekV32(std::span<const ChatMessage> messages, bool addGenerationPrompt, bool thinking)
{
    std::string out = deepSeekSystem(messages);
    std::size_t lastUser = std::string::npos;
    for (std::size_t i = 0; i < messages.size(); ++i)
        if (messages[i].role == "user")
            lastUser = i;
    bool pendingAssistant = false;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const ChatMessage &m = messages[i];
        if (m.role == "user") {
            out += kDeepSeekUser;
            out += m.content;
            pendingAssistant = true;
        } else if (m.role == "assistant") {
            if (pendingAssistant) {
                out += kDeepSeekAssistant;
                const bool afterLastUser = lastUser == std::string::npos || i > lastUser;
                out += afterLastUser && thinking ? "<think></think>" : "</think>";
            }
            pendingAssistant = false;
            out += m.content;
            out += kDeepSeekEos;
        }
    }
    // Only a conversation that ends with a user turn gets the generation prompt.
    if (addGenerationPrompt && pendingAssistant) {
        out += kDeepSeekAssistant;
        out += thinking ? "<think>" : "<think></think>";
    }
    return out;
}

std::string applyDeepSeekV4(std::span<const ChatMessage> messages, bool addGenerationPrompt, bool thinking)
{
    std::string out = deepSeekSystem(messages);
    std::size_t lastUser = std::string::npos;
    for (std::size_t i = 0; i < messages.size(); ++i)
        if (messages[i].role == "user")
            lastUser = i;
    bool inUser = false;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const ChatMessage &m = messages[i];
        if (m.role == "user") {
            out += inUser ? std::string_view("\n\n") : kDeepSeekUser;
            inUser = true;
            out += m.content;
        } else if (m.role == "assistant") {
            inUser = false;
            out += kDeepSeekAssistant;
            // drop_thinking (default true) keeps reasoning only after the last user turn.
            const bool afterLastUser = lastUser == std::string::npos || i > lastUser;
            out += thinking && afterLastUser ? "<think></think>" : "</think>";
            out += m.content;
            out += kDeepSeekEos;
        }
    }
    if (addGenerationPrompt) {
        out += kDeepSeekAssistant;
        out += thinking ? "<think>" : "</think>";
    }
    return out;
}

// qwen2.5.jinja (no tools): a default system prompt when the conversation has none.
std::string applyQwen25(std::span<const ChatMessage> messages, bool addGenerationPrompt)
{
    std::string out = "<|im_start|>system\n";
    out += !messages.empty() && messages[0].role == "system" ? std::string_view(messages[0].content) : kQwenDefaultSystem;
    out += "<|im_end|>\n";
    for (std::size_t i = 0; i < messages.size(); ++i) {
        if (i == 0 && messages[i].role == "system")
            continue;
        out += "<|im_start|>" + messages[i].role + "\n" + messages[i].content + "<|im_end|>\n";
    }
    if (addGenerationPrompt)
        out += "<|im_start|>assistant\n";
    return out;
}

// The last user message that is a query (not a tool response wrapped as one); when there is
// none, Qwen3 takes the last message and Qwen3.5 refuses.
std::optional<std::size_t> lastQwenQuery(std::span<const ChatMessage> messages, bool trim)
{
    for (std::size_t i = messages.size(); i-- > 0;) {
        if (messages[i].role != "user")
            continue;
        const std::string_view content = trim ? trimmed(messages[i].content) : std::string_view(messages[i].content);
        if (!(content.starts_with("<tool_response>") && content.ends_with("</tool_response>")))
            return i;
    }
    return std::nullopt;
}

// qwen3.jinja (no tools): reasoning is kept only in assistant turns after the last query.
std::string applyQwen3(std::span<const ChatMessage> messages, bool addGenerationPrompt, bool thinking)
{
    std::string out;
    if (!messages.empty() && messages[0].role == "system")
        out += "<|im_start|>system\n" + messages[0].content + "<|im_end|>\n";
    const std::size_t lastQuery = lastQwenQuery(messages, false).value_or(messages.size() - 1);
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const ChatMessage &m = messages[i];
        if (m.role == "user" || (m.role == "system" && i > 0)) {
            out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
        } else if (m.role == "assistant") {
            const SplitReply reply = splitThink(m.content);
            const bool last = i + 1 == messages.size();
            out += "<|im_start|>assistant\n";
            if (i > lastQuery && (last || !reply.reasoning.empty())) {
                out += "<think>\n";
                out += rstripped(lstripped(reply.reasoning, '\n'), '\n');
                out += "\n</think>\n\n";
                out += lstripped(reply.content, '\n');
            } else {
                out += reply.content;
            }
            out += "<|im_end|>\n";
        }
    }
    if (addGenerationPrompt) {
        out += "<|im_start|>assistant\n";
        if (!thinking)
            out += "<think>\n\n</think>\n\n";
    }
    return out;
}

// qwen3.5.jinja (no tools): contents trimmed, a system message only first, every assistant turn
// after the last query with its think block.
std::string applyQwen35(std::span<const ChatMessage> messages, bool addGenerationPrompt, bool thinking)
{
    if (messages.empty())
        fail("chat template qwen3.5: no messages");
    const std::optional<std::size_t> lastQuery = lastQwenQuery(messages, true);
    if (!lastQuery)
        fail("chat template qwen3.5: the conversation has no user query");
    std::string out;
    if (messages[0].role == "system") {
        out += "<|im_start|>system\n";
        out += trimmed(messages[0].content);
        out += "<|im_end|>\n";
    }
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const ChatMessage &m = messages[i];
        const std::string_view content = trimmed(m.content);
        if (m.role == "system") {
            if (i > 0)
                fail("chat template qwen3.5: a system message must be the first one (message {} is)", i);
        } else if (m.role == "user") {
            out += "<|im_start|>user\n";
            out += content;
            out += "<|im_end|>\n";
        } else {
            const SplitReply reply = splitThink(content);
            out += "<|im_start|>assistant\n";
            if (i > *lastQuery) {
                out += "<think>\n";
                out += trimmed(reply.reasoning);
                out += "\n</think>\n\n";
            }
            out += reply.content;
            out += "<|im_end|>\n";
        }
    }
    if (addGenerationPrompt)
        out += thinking ? "<|im_start|>assistant\n<think>\n" : "<|im_start|>assistant\n<think>\n\n</think>\n\n";
    return out;
}

// gemma-3.jinja: no system role; its text and a blank line open the first user turn.
std::string applyGemma3(std::span<const ChatMessage> messages, bool addGenerationPrompt)
{
    std::span<const ChatMessage> turns = messages;
    std::string prefix;
    if (!turns.empty() && turns.front().role == "system") {
        prefix = turns.front().content + "\n\n";
        turns = turns.subspan(1);
    }
    requireAlternation(turns, ChatFamily::Gemma3, messages.size() - turns.size());
    std::string out;
    for (std::size_t i = 0; i < turns.size(); ++i) {
        out += "<start_of_turn>";
        out += turns[i].role == "assistant" ? "model" : turns[i].role;
        out += "\n";
        if (i == 0)
            out += prefix;
        out += trimmed(turns[i].content);
        out += "<end_of_turn>\n";
    }
    if (addGenerationPrompt)
        out += "<start_of_turn>model\n";
    return out;
}

// gemma-4.jinja's strip_thinking: drops <|channel>...<channel|> thought segments, then trims.
std::string gemma4StripThinking(std::string_view text)
{
    std::string result;
    for (std::size_t from = 0;;) {
        const std::size_t end = text.find("<channel|>", from);
        const std::string_view part = text.substr(from, end == std::string_view::npos ? std::string_view::npos : end - from);
        result += beforeFirst(part, "<|channel>");
        if (end == std::string_view::npos)
            break;
        from = end + std::string_view("<channel|>").size();
    }
    return std::string(trimmed(result));
}

// gemma-4.jinja (no tools, text contents): a system turn when there is a system message or
// thinking is on; consecutive assistant messages share one model turn.
std::string applyGemma4(std::span<const ChatMessage> messages, bool addGenerationPrompt, bool thinking)
{
    std::string out;
    std::span<const ChatMessage> turns = messages;
    const bool system = !turns.empty() && turns.front().role == "system";
    if (thinking || system) {
        out += "<|turn>system\n";
        if (thinking)
            out += "<|think|>\n";
        if (system) {
            out += trimmed(turns.front().content);
            turns = turns.subspan(1);
        }
        out += "<turn|>\n";
    }
    for (std::size_t i = 0; i < turns.size(); ++i) {
        const ChatMessage &m = turns[i];
        const bool model = m.role == "assistant";
        if (!(model && i > 0 && turns[i - 1].role == "assistant"))
            out += "<|turn>" + (model ? std::string("model") : m.role) + "\n";
        out += model ? gemma4StripThinking(m.content) : std::string(trimmed(m.content));
        out += "<turn|>\n";
    }
    if (addGenerationPrompt) {
        out += "<|turn>model\n";
        if (!thinking)
            out += "<|channel>thought\n<channel|>";
    }
    return out;
}

// phi-3.5.jinja: an empty system message is left out; without a generation prompt the text
// ends with EOS.
std::string applyPhi3(std::span<const ChatMessage> messages, bool addGenerationPrompt)
{
    std::string out;
    for (const ChatMessage &m : messages) {
        if (m.role == "system" && m.content.empty())
            continue;
        out += "<|" + m.role + "|>\n" + m.content + "<|end|>\n";
    }
    out += addGenerationPrompt ? std::string_view("<|assistant|>\n") : kPhiEos;
    return out;
}

// phi-4-mini.jinja: the same tags without newlines.
std::string applyPhi4Mini(std::span<const ChatMessage> messages, bool addGenerationPrompt)
{
    std::string out;
    for (const ChatMessage &m : messages)
        out += "<|" + m.role + "|>" + m.content + "<|end|>";
    out += addGenerationPrompt ? std::string_view("<|assistant|>") : kPhiEos;
    return out;
}

// gpt-oss.jinja (no tools, no builtin tools): the system message the template writes with its
// defaults, the first system message as the developer's instructions, and every assistant
// message on the final channel (earlier reasoning is never shown to the model again). A system
// message after the first is not rendered, as in the template.
std::string applyHarmony(std::span<const ChatMessage> messages, bool addGenerationPrompt, const ChatOptions &options)
{
    std::string out = "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
                      "Knowledge cutoff: 2024-06\nCurrent date: ";
    out += options.currentDate.empty() ? today() : options.currentDate;
    out += "\n\nReasoning: ";
    out += options.reasoningEffort.empty() ? std::string("medium") : options.reasoningEffort;
    out += "\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|>";
    std::span<const ChatMessage> turns = messages;
    if (!turns.empty() && turns.front().role == "system") {
        if (!turns.front().content.empty())
            out += "<|start|>developer<|message|># Instructions\n\n" + turns.front().content + "\n\n<|end|>";
        turns = turns.subspan(1);
    }
    for (std::size_t i = 0; i < turns.size(); ++i) {
        const ChatMessage &m = turns[i];
        if (m.role == "assistant") {
            if (contains(m.content, "<|channel|>analysis<|message|>") || contains(m.content, "<|channel|>final<|message|>"))
                fail("chat template gpt-oss: an assistant message holds <|channel|> markup; pass only its final text");
            // <|return|> ends a finished reply (training); in a conversation going on, <|end|>.
            const bool last = i + 1 == turns.size();
            out += "<|start|>assistant<|channel|>final<|message|>" + m.content +
                   (last && !addGenerationPrompt ? "<|return|>" : "<|end|>");
        } else if (m.role == "user") {
            out += "<|start|>user<|message|>" + m.content + "<|end|>";
        }
    }
    if (addGenerationPrompt)
        out += "<|start|>assistant";
    return out;
}

} // namespace

std::string_view chatFamilyName(ChatFamily family)
{
    for (const auto &[f, name] : kNames)
        if (f == family)
            return name;
    return "plain";
}

std::optional<ChatFamily> parseChatFamily(std::string_view name)
{
    for (const auto &[f, n] : kNames)
        if (n == name)
            return f;
    return std::nullopt;
}

ChatTemplate ChatTemplate::detect(std::string_view templateText, std::string_view architecture)
{
    if (auto prompt = completionPrompt(templateText))
        return ChatTemplate(ChatFamily::Completion, std::move(*prompt));
    if (auto family = familyFromTemplate(templateText))
        return ChatTemplate(*family);
    if (auto family = familyFromArchitecture(architecture))
        return ChatTemplate(*family);
    return ChatTemplate(ChatFamily::Plain);
}

std::vector<std::string> ChatTemplate::stopStrings() const
{
    switch (m_family) {
    case ChatFamily::DeepSeekV2:
    case ChatFamily::DeepSeekV3:
    case ChatFamily::DeepSeekR1:
    case ChatFamily::DeepSeekV32:
    case ChatFamily::DeepSeekV4:
        return {std::string(kDeepSeekEos)};
    case ChatFamily::Llama3:
        return {"<|eot_id|>", "<|end_of_text|>"};
    case ChatFamily::ChatMl:
    case ChatFamily::Qwen25:
    case ChatFamily::Qwen3:
    case ChatFamily::Qwen35:
        return {"<|im_end|>", "<|endoftext|>"};
    case ChatFamily::Gemma3:
        return {"<end_of_turn>"};
    case ChatFamily::Gemma4:
        return {"<turn|>"};
    case ChatFamily::Phi3:
    case ChatFamily::Phi4Mini:
        return {"<|end|>", std::string(kPhiEos)};
    case ChatFamily::Harmony:
        // <|return|> and <|call|> end generation by id; <|end|> only closes the analysis
        // message before the final one, so it must not stop anything.
        return {};
    case ChatFamily::MistralV1:
    case ChatFamily::MistralV7:
        return {std::string(kMistralEos)};
    case ChatFamily::Plain:
        return {"\n\nUser:"};
    case ChatFamily::Completion:
        return {}; // the model's end-of-generation token ends it
    }
    return {};
}

ReplyFormat ChatTemplate::replyFormat() const
{
    switch (m_family) {
    case ChatFamily::Harmony:
        return ReplyFormat::Harmony;
    case ChatFamily::Qwen3:
    case ChatFamily::Qwen35:
    case ChatFamily::DeepSeekR1:
    case ChatFamily::DeepSeekV32:
    case ChatFamily::DeepSeekV4:
        return ReplyFormat::ThinkBlock;
    default:
        return ReplyFormat::Plain;
    }
}

bool ChatTemplate::replyStartsInReasoning(const ChatOptions &options) const
{
    // These generation prompts end with an open <think>: R1's always, the others' when thinking
    // is on.
    if (m_family == ChatFamily::DeepSeekR1)
        return true;
    return options.enableThinking &&
           (m_family == ChatFamily::Qwen35 || m_family == ChatFamily::DeepSeekV32 || m_family == ChatFamily::DeepSeekV4);
}

std::string ChatTemplate::apply(std::span<const ChatMessage> messages, bool addGenerationPrompt,
                                const ChatOptions &options) const
{
    std::string out;
    for (const ChatMessage &m : messages)
        requireRole(m, m_family);

    switch (m_family) {
    case ChatFamily::DeepSeekV2:
        for (const ChatMessage &m : messages) {
            if (m.role == "user")
                out += "User: " + m.content + "\n\n";
            else if (m.role == "assistant")
                out += "Assistant: " + m.content + std::string(kDeepSeekEos);
            else
                out += m.content + "\n\n";
        }
        if (addGenerationPrompt)
            out += "Assistant:";
        break;

    case ChatFamily::DeepSeekV3:
        out = deepSeekSystem(messages);
        for (const ChatMessage &m : messages) {
            if (m.role == "user")
                out += std::string(kDeepSeekUser) + m.content;
            else if (m.role == "assistant")
                out += std::string(kDeepSeekAssistant) + m.content + std::string(kDeepSeekEos);
        }
        if (addGenerationPrompt)
            out += kDeepSeekAssistant;
        break;

    case ChatFamily::DeepSeekR1:
        out = applyDeepSeekR1(messages, addGenerationPrompt);
        break;

    case ChatFamily::DeepSeekV32:
        out = applyDeepSeekV32(messages, addGenerationPrompt, options.enableThinking);
        break;

    case ChatFamily::DeepSeekV4:
        out = applyDeepSeekV4(messages, addGenerationPrompt, options.enableThinking);
        break;

    case ChatFamily::Llama3:
        for (const ChatMessage &m : messages)
            out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + std::string(trimmed(m.content)) + "<|eot_id|>";
        if (addGenerationPrompt)
            out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
        break;

    case ChatFamily::ChatMl:
        for (const ChatMessage &m : messages)
            out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
        if (addGenerationPrompt)
            out += "<|im_start|>assistant\n";
        break;

    case ChatFamily::Qwen25:
        out = applyQwen25(messages, addGenerationPrompt);
        break;

    case ChatFamily::Qwen3:
        out = applyQwen3(messages, addGenerationPrompt, options.enableThinking);
        break;

    case ChatFamily::Qwen35:
        out = applyQwen35(messages, addGenerationPrompt, options.enableThinking);
        break;

    case ChatFamily::Gemma3:
        out = applyGemma3(messages, addGenerationPrompt);
        break;

    case ChatFamily::Gemma4:
        out = applyGemma4(messages, addGenerationPrompt, options.enableThinking);
        break;

    case ChatFamily::Phi3:
        out = applyPhi3(messages, addGenerationPrompt);
        break;

    case ChatFamily::Phi4Mini:
        out = applyPhi4Mini(messages, addGenerationPrompt);
        break;

    case ChatFamily::Harmony:
        out = applyHarmony(messages, addGenerationPrompt, options);
        break;

    case ChatFamily::MistralV1: {
        // An optional leading system message is folded into the first user turn; after it the
        // roles must alternate user/assistant, as the template enforces with raise_exception.
        std::span<const ChatMessage> turns = messages;
        std::string system;
        bool hasSystem = false;
        if (!turns.empty() && turns.front().role == "system") {
            system = turns.front().content;
            hasSystem = true;
            turns = turns.subspan(1);
        }
        requireAlternation(turns, m_family, hasSystem ? 1 : 0);
        for (std::size_t i = 0; i < turns.size(); ++i) {
            const ChatMessage &m = turns[i];
            if (m.role == "user") {
                if (i == 0 && hasSystem)
                    out += " [INST] " + system + "\n\n" + m.content + " [/INST]";
                else
                    out += " [INST] " + m.content + " [/INST]";
            } else {
                out += " " + m.content + std::string(kMistralEos);
            }
        }
        // The template has no generation prompt: the reply starts right after [/INST].
        break;
    }

    case ChatFamily::MistralV7:
        for (const ChatMessage &m : messages) {
            if (m.role == "user")
                out += "[INST] " + m.content + "[/INST]";
            else if (m.role == "system")
                out += "[SYSTEM_PROMPT] " + m.content + "[/SYSTEM_PROMPT]";
            else
                out += " " + m.content + std::string(kMistralEos);
        }
        break;

    case ChatFamily::Completion:
        for (const ChatMessage &m : messages)
            out += m.content;
        if (addGenerationPrompt)
            out += m_generationPrompt;
        break;

    case ChatFamily::Plain:
        for (const ChatMessage &m : messages) {
            if (m.role == "system")
                out += m.content + "\n\n";
            else if (m.role == "user")
                out += "User: " + m.content + "\n\n";
            else
                out += "Assistant: " + m.content + "\n\n";
        }
        if (addGenerationPrompt)
            out += "Assistant:";
        break;
    }
    return out;
}

} // namespace nw
