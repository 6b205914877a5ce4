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
    Plain,       // no known template: "System:/User:/Assistant:" paragraphs
    DeepSeekV2,  // "User: ...\n\nAssistant: ...<｜end▁of▁sentence｜>"
    DeepSeekV3,  // "<｜User｜>...<｜Assistant｜>...<｜end▁of▁sentence｜>" (V3; V3.1 templates are read as V3)
    DeepSeekR1,  // as V3, replies open with <think>\n and earlier reasoning is cut (R1 and its Qwen/Llama distills)
    DeepSeekV32, // V3.2: as V3, the assistant turn opens with </think> (a think block when thinking)
    DeepSeekV4,  // V4: as V3.2, consecutive user messages share one <｜User｜> turn
    Llama3,      // "<|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>"
    ChatMl,      // "<|im_start|>role\n...<|im_end|>\n" (OpenHermes and other plain ChatML)
    Qwen25,      // ChatML with Qwen's default system prompt (Qwen2.5)
    Qwen3,       // ChatML with <think> blocks (Qwen3, Qwen3 MoE)
    Qwen35,      // ChatML with <think> blocks and trimmed contents (Qwen3.5, Qwen3.6)
    Gemma3,      // "<start_of_turn>user\n...<end_of_turn>\n", the system prompt folded into the first user turn
    Gemma4,      // "<|turn>role\n...<turn|>\n" with a system turn and an empty thought channel
    Phi3,        // "<|user|>\n...<|end|>\n" (Phi-3.5)
    Phi4Mini,    // "<|user|>...<|end|>" (Phi-4-mini)
    Harmony,     // gpt-oss: "<|start|>role<|message|>...<|end|>", a system and a developer message
    MistralV1,   // " [INST] ... [/INST] ...</s>" (Mistral-7B-Instruct v0.1-v0.2 and [INST] templates)
    MistralV7,   // "[SYSTEM_PROMPT] ...[/SYSTEM_PROMPT][INST] ...[/INST] ...</s>" (Mistral Large 2411, Small 3)
    Completion,  // the contents one after another, then a fixed generation prompt: templates of the form
                 // {% for message in messages %}{{ message['content'] }}{% endfor %}{% if add_generation_prompt %}TEXT{% endif %}
                 // (small task-trained models such as tests/data/recall-model.gguf)
};

struct ChatMessage {
    std::string role; // "system", "user" or "assistant"
    std::string content;
};

// What the template's variables would be set to. The workbench answers questions with citations
// from a context that is mostly documents, so it asks for no thinking: reasoning would spend
// context and time on text nobody reads (Qwen3/3.5 then get an empty think block, Gemma 4 an
// empty thought channel, DeepSeek V3.2/V4 a closed </think>). gpt-oss always reasons in its
// analysis channel; ReplyFilter (engine/chat_reply.h) hides it.
struct ChatOptions {
    bool enableThinking = false;           // enable_thinking / thinking
    std::string currentDate;               // gpt-oss "Current date: YYYY-MM-DD"; empty: today (local time)
    std::string reasoningEffort = "medium"; // gpt-oss "Reasoning: ..." (low, medium, high)
};

// How a family's replies are laid out, for showing only the answer (see engine/chat_reply.h).
enum class ReplyFormat {
    Plain,      // the reply is the answer
    ThinkBlock, // <think>reasoning</think> may come before the answer (Qwen3/3.5, DeepSeek V3.x/V4)
    Harmony,    // channels: <|channel|>analysis<|message|>...<|end|><|start|>assistant<|channel|>final<|message|>...
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
    // Throws nw::Error for a role the family cannot express (e.g. "tool") and for conversations
    // the template refuses (roles that must alternate, a system message after the first).
    std::string apply(std::span<const ChatMessage> messages, bool addGenerationPrompt,
                      const ChatOptions &options = {}) const;

    // Text that ends the assistant's turn, for stopping generation on the text level as well
    // as on the end-of-generation token ids (which the tokenizer's vocabulary defines).
    std::vector<std::string> stopStrings() const;

    // How the reply is laid out after apply()'s generation prompt with these options, and
    // whether it starts inside the reasoning (a prompt that ends with an open <think>).
    ReplyFormat replyFormat() const;
    bool replyStartsInReasoning(const ChatOptions &options) const;

private:
    ChatFamily m_family;
    std::string m_generationPrompt; // Completion: the TEXT after the contents
};

std::string_view chatFamilyName(ChatFamily family); // "deepseek-v3", "llama-3", ...
std::optional<ChatFamily> parseChatFamily(std::string_view name);

} // namespace nw
