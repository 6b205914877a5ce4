// Chat template families written out by hand from the templates their models ship (see
// tests/data/chat_templates/ for the Jinja originals the tests render).
#include "engine/chat_template.h"

#include "common/error.h"

#include <array>
#include <regex>
#include <utility>

namespace nw {
namespace {

constexpr std::string_view kDeepSeekEos = "<｜end▁of▁sentence｜>";
constexpr std::string_view kMistralEos = "</s>";

bool contains(std::string_view haystack, std::string_view needle)
{
    return haystack.find(needle) != std::string_view::npos;
}

// Jinja's `trim` (Python str.strip()): ASCII whitespace at both ends.
std::string_view trimmed(std::string_view text)
{
    constexpr std::string_view space = " \t\n\r\f\v";
    const auto first = text.find_first_not_of(space);
    if (first == std::string_view::npos)
        return {};
    const auto last = text.find_last_not_of(space);
    return text.substr(first, last - first + 1);
}

void requireRole(const ChatMessage &message, ChatFamily family)
{
    if (message.role != "system" && message.role != "user" && message.role != "assistant")
        fail("chat template {}: role '{}' is not supported (system, user and assistant are)",
             chatFamilyName(family), message.role);
}

constexpr std::array<std::pair<ChatFamily, std::string_view>, 8> kNames = {{
    {ChatFamily::Plain, "plain"},
    {ChatFamily::DeepSeekV2, "deepseek-v2"},
    {ChatFamily::DeepSeekV3, "deepseek-v3"},
    {ChatFamily::Llama3, "llama-3"},
    {ChatFamily::ChatMl, "chatml"},
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
    // Order matters: DeepSeek V3 templates mention "Assistant" too, Mistral v7 also has [INST].
    if (contains(t, "<｜User｜>") && contains(t, "<｜Assistant｜>"))
        return ChatFamily::DeepSeekV3;
    if (contains(t, "'Assistant: ' + message['content'] + eos_token") ||
        (contains(t, "'User: '") && contains(t, "'Assistant:'")))
        return ChatFamily::DeepSeekV2;
    if (contains(t, "<|start_header_id|>") && contains(t, "<|end_header_id|>"))
        return ChatFamily::Llama3;
    if (contains(t, "<|im_start|>"))
        return ChatFamily::ChatMl;
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
    if (arch == "qwen2" || arch == "qwen2moe" || arch == "qwen3" || arch == "qwen3moe")
        return ChatFamily::ChatMl;
    return std::nullopt;
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
        return {std::string(kDeepSeekEos)};
    case ChatFamily::Llama3:
        return {"<|eot_id|>", "<|end_of_text|>"};
    case ChatFamily::ChatMl:
        return {"<|im_end|>", "<|endoftext|>"};
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

std::string ChatTemplate::apply(std::span<const ChatMessage> messages, bool addGenerationPrompt) const
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

    case ChatFamily::DeepSeekV3: {
        // Every system message goes first, joined by blank lines, wherever it was in the list.
        bool firstSystem = true;
        for (const ChatMessage &m : messages) {
            if (m.role != "system")
                continue;
            if (!firstSystem)
                out += "\n\n";
            out += m.content;
            firstSystem = false;
        }
        for (const ChatMessage &m : messages) {
            if (m.role == "user")
                out += "<｜User｜>" + m.content;
            else if (m.role == "assistant")
                out += "<｜Assistant｜>" + m.content + std::string(kDeepSeekEos);
        }
        if (addGenerationPrompt)
            out += "<｜Assistant｜>";
        break;
    }

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
        for (std::size_t i = 0; i < turns.size(); ++i) {
            const ChatMessage &m = turns[i];
            if ((m.role == "user") != (i % 2 == 0))
                fail("chat template mistral-v1: after the optional system message, roles must alternate "
                     "user/assistant (message {} is '{}')", i + (hasSystem ? 1 : 0), m.role);
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
