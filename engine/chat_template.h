// Chat templates: turns a conversation into the prompt text a model was trained on. The family
// is detected from GGUF metadata (`tokenizer.chat_template` and `general.architecture`) and each
// family is written out in C++, so no Jinja interpreter is needed at run time.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nw {

enum class ChatFamily {
    Plain,      // no known template: "System:/User:/Assistant:" paragraphs
    DeepSeekV2, // "User: ...\n\nAssistant: ...<｜end▁of▁sentence｜>"
    DeepSeekV3, // "<｜User｜>...<｜Assistant｜>...<｜end▁of▁sentence｜>" (also R1, V3.x without thinking)
    Llama3,     // "<|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>"
    ChatMl,     // "<|im_start|>role\n...<|im_end|>\n" (Qwen, OpenHermes, ...)
    MistralV1,  // " [INST] ... [/INST] ...</s>" (Mistral-7B-Instruct v0.1-v0.2 and [INST] templates)
    MistralV7,  // "[SYSTEM_PROMPT] ...[/SYSTEM_PROMPT][INST] ...[/INST] ...</s>" (Mistral Large 2411, Small 3)
    Completion, // the contents one after another, then a fixed generation prompt: templates of the form
                // {% for message in messages %}{{ message['content'] }}{% endfor %}{% if add_generation_prompt %}TEXT{% endif %}
                // (small task-trained models such as tests/data/recall-model.gguf)
};

struct ChatMessage {
    std::string role; // "system", "user" or "assistant"
    std::string content;
};

class ChatTemplate {
public:
    explicit ChatTemplate(ChatFamily family = ChatFamily::Plain, std::string generationPrompt = {})
        : m_family(family), m_generationPrompt(std::move(generationPrompt)) {}

    // Picks the family from the template text the model ships (may be empty) and, when that is
    // absent or unknown, from the architecture. Never fails: unknown models get Plain.
    static ChatTemplate detect(std::string_view templateText, std::string_view architecture);

    ChatFamily family() const { return m_family; }

    // The prompt for `messages`; with addGenerationPrompt, ends where the assistant's reply
    // begins. Follows the GGUF runtime convention: the tokenizer adds BOS, so the text never
    // starts with a BOS token even where the Jinja template writes `bos_token` first.
    // Throws nw::Error for a role the family cannot express (e.g. "tool").
    std::string apply(std::span<const ChatMessage> messages, bool addGenerationPrompt) const;

    // Text that ends the assistant's turn, for stopping generation on the text level as well
    // as on the EOS token id.
    std::vector<std::string> stopStrings() const;

private:
    ChatFamily m_family;
    std::string m_generationPrompt; // Completion: the TEXT after the contents
};

std::string_view chatFamilyName(ChatFamily family); // "deepseek-v3", "llama-3", ...
std::optional<ChatFamily> parseChatFamily(std::string_view name);

} // namespace nw
