// Chat templates against the strings the real Jinja templates produce (rendered with
// python3-jinja2 by tools/render_chat_templates.py from tests/data/chat_templates/), and
// family detection from those same template texts.
#include "engine/chat_template.h"

#include "common/error.h"
#include "tests/support/test_data.h"

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using nw::ChatFamily;
using nw::ChatMessage;
using nw::ChatTemplate;

namespace {

struct Golden {
    const char *family;
    const char *conversation;
    const char *expected;
};

// Output of tools/render_chat_templates.py (bos_token = "", the tokenizer adds BOS).
const Golden kGolden[] = {
    {"chatml", "full", "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n"},
    {"chatml", "no_system", "<|im_start|>user\nWhat does clause 7 say?<|im_end|>\n<|im_start|>assistant\nIt limits liability.<|im_end|>\n<|im_start|>user\nQuote it.<|im_end|>\n<|im_start|>assistant\n"},
    {"chatml", "no_generation_prompt", "<|im_start|>system\nAnswer from the sources.<|im_end|>\n<|im_start|>user\nWhere is \"Standard Version\" defined?<|im_end|>\n"},
    {"deepseek-v2", "full", "You are a helpful assistant\n\nUser: Hello\n\nAssistant: Hi there<｜end▁of▁sentence｜>User: Who are you\n\nAssistant:    I am an assistant   <｜end▁of▁sentence｜>User: Another question\n\nAssistant:"},
    {"deepseek-v2", "no_system", "User: What does clause 7 say?\n\nAssistant: It limits liability.<｜end▁of▁sentence｜>User: Quote it.\n\nAssistant:"},
    {"deepseek-v2", "no_generation_prompt", "Answer from the sources.\n\nUser: Where is \"Standard Version\" defined?\n\n"},
    {"deepseek-v3", "full", "You are a helpful assistant<｜User｜>Hello<｜Assistant｜>Hi there<｜end▁of▁sentence｜><｜User｜>Who are you<｜Assistant｜>   I am an assistant   <｜end▁of▁sentence｜><｜User｜>Another question<｜Assistant｜>"},
    {"deepseek-v3", "no_system", "<｜User｜>What does clause 7 say?<｜Assistant｜>It limits liability.<｜end▁of▁sentence｜><｜User｜>Quote it.<｜Assistant｜>"},
    {"deepseek-v3", "no_generation_prompt", "Answer from the sources.<｜User｜>Where is \"Standard Version\" defined?"},
    {"llama-3", "full", "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
    {"llama-3", "no_system", "<|start_header_id|>user<|end_header_id|>\n\nWhat does clause 7 say?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nIt limits liability.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nQuote it.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
    {"llama-3", "no_generation_prompt", "<|start_header_id|>system<|end_header_id|>\n\nAnswer from the sources.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhere is \"Standard Version\" defined?<|eot_id|>"},
    {"mistral-v1", "full", " [INST] You are a helpful assistant\n\nHello [/INST] Hi there</s> [INST] Who are you [/INST]    I am an assistant   </s> [INST] Another question [/INST]"},
    {"mistral-v1", "no_system", " [INST] What does clause 7 say? [/INST] It limits liability.</s> [INST] Quote it. [/INST]"},
    {"mistral-v1", "no_generation_prompt", " [INST] Answer from the sources.\n\nWhere is \"Standard Version\" defined? [/INST]"},
    {"mistral-v7", "full", "[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT][INST] Hello[/INST] Hi there</s>[INST] Who are you[/INST]    I am an assistant   </s>[INST] Another question[/INST]"},
    {"mistral-v7", "no_system", "[INST] What does clause 7 say?[/INST] It limits liability.</s>[INST] Quote it.[/INST]"},
    {"mistral-v7", "no_generation_prompt", "[SYSTEM_PROMPT] Answer from the sources.[/SYSTEM_PROMPT][INST] Where is \"Standard Version\" defined?[/INST]"},
};

std::vector<ChatMessage> conversation(const std::string &name)
{
    if (name == "full")
        return {{"system", "You are a helpful assistant"}, {"user", "Hello"}, {"assistant", "Hi there"},
                {"user", "Who are you"}, {"assistant", "   I am an assistant   "}, {"user", "Another question"}};
    if (name == "no_system")
        return {{"user", "What does clause 7 say?"}, {"assistant", "It limits liability."}, {"user", "Quote it."}};
    REQUIRE(name == "no_generation_prompt");
    return {{"system", "Answer from the sources."}, {"user", "Where is \"Standard Version\" defined?"}};
}

std::string readTemplate(const std::string &family)
{
    std::ifstream in(nw::test::sourceDir() / "tests/data/chat_templates" / (family + ".jinja"));
    REQUIRE(in.good());
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

} // namespace

TEST_CASE("each family renders exactly what its Jinja template renders")
{
    for (const Golden &golden : kGolden) {
        CAPTURE(golden.family);
        CAPTURE(golden.conversation);
        const auto family = nw::parseChatFamily(golden.family);
        REQUIRE(family.has_value());
        const std::string name = golden.conversation;
        const auto messages = conversation(name);
        CHECK(ChatTemplate(*family).apply(messages, name != "no_generation_prompt") == golden.expected);
    }
}

TEST_CASE("the family is detected from the template text the model ships")
{
    const std::map<std::string, ChatFamily> expected = {
        {"deepseek-v2", ChatFamily::DeepSeekV2}, {"deepseek-v3", ChatFamily::DeepSeekV3},
        {"llama-3", ChatFamily::Llama3},         {"chatml", ChatFamily::ChatMl},
        {"mistral-v1", ChatFamily::MistralV1},   {"mistral-v7", ChatFamily::MistralV7},
    };
    for (const auto &[file, family] : expected) {
        CAPTURE(file);
        // The architecture must not matter when the template is known (V3 is "deepseek2" too).
        CHECK(ChatTemplate::detect(readTemplate(file), "deepseek2").family() == family);
        CHECK(ChatTemplate::detect(readTemplate(file), "llama").family() == family);
    }
}

TEST_CASE("without a template the architecture decides, and unknown models get plain")
{
    CHECK(ChatTemplate::detect("", "deepseek2").family() == ChatFamily::DeepSeekV2);
    CHECK(ChatTemplate::detect("", "qwen2").family() == ChatFamily::ChatMl);
    CHECK(ChatTemplate::detect("", "llama").family() == ChatFamily::Plain);
    CHECK(ChatTemplate::detect("{{ messages }}", "gpt2").family() == ChatFamily::Plain);
}

TEST_CASE("plain fallback: system paragraph, then User:/Assistant: paragraphs (hand-written)")
{
    const std::vector<ChatMessage> messages = {{"system", "Cite pages."}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "Bye"}};
    CHECK(ChatTemplate(ChatFamily::Plain).apply(messages, true) ==
          "Cite pages.\n\nUser: Hi\n\nAssistant: Hello\n\nUser: Bye\n\nAssistant:");
    CHECK(ChatTemplate(ChatFamily::Plain).apply(messages, false) ==
          "Cite pages.\n\nUser: Hi\n\nAssistant: Hello\n\nUser: Bye\n\n");
}

TEST_CASE("roles a family cannot express are errors, not silent drops")
{
    const std::vector<ChatMessage> tool = {{"user", "x"}, {"tool", "{}"}};
    CHECK_THROWS_AS(ChatTemplate(ChatFamily::ChatMl).apply(tool, true), nw::Error);
    const std::vector<ChatMessage> twoUsers = {{"user", "a"}, {"user", "b"}};
    CHECK_THROWS_AS(ChatTemplate(ChatFamily::MistralV1).apply(twoUsers, true), nw::Error);
}

TEST_CASE("family names round-trip and stop strings end the assistant turn")
{
    for (ChatFamily f : {ChatFamily::Plain, ChatFamily::DeepSeekV2, ChatFamily::DeepSeekV3, ChatFamily::Llama3,
                         ChatFamily::ChatMl, ChatFamily::MistralV1, ChatFamily::MistralV7})
        CHECK(nw::parseChatFamily(nw::chatFamilyName(f)) == f);
    CHECK_FALSE(nw::parseChatFamily("jinja").has_value());
    CHECK(ChatTemplate(ChatFamily::Llama3).stopStrings().front() == "<|eot_id|>");
    CHECK(ChatTemplate(ChatFamily::DeepSeekV3).stopStrings().front() == "<｜end▁of▁sentence｜>");
}

TEST_CASE("completion templates: contents in order, then the template's own generation prompt (goldens from python3-jinja2)")
{
    // The recall model's template (tests/data/recall-model.md). Expected strings were rendered with
    // jinja2.Template(t).render(messages=..., add_generation_prompt=...).
    const std::string t = "{% for message in messages %}{{ message['content'] }}{% endfor %}"
                          "{% if add_generation_prompt %}\nAnswer: {% endif %}";
    const ChatTemplate chat = ChatTemplate::detect(t, "llama");
    CHECK(chat.family() == ChatFamily::Completion);
    const std::vector<ChatMessage> needle = {{"user", "Haystack.\nWhat is the pass key for abcde?"}};
    CHECK(chat.apply(needle, true) == "Haystack.\nWhat is the pass key for abcde?\nAnswer: ");
    const std::vector<ChatMessage> two = {{"system", "S "}, {"user", "U"}};
    CHECK(chat.apply(two, false) == "S U");
    CHECK(chat.stopStrings().empty());
    CHECK(nw::parseChatFamily("completion") == ChatFamily::Completion);
    // Other loop variables and quotes; anything more is not this family.
    CHECK(ChatTemplate::detect("{% for m in messages %}{{ m[\"content\"] }}{% endfor %}{% if add_generation_prompt %}A:{% endif %}", "")
              .apply(needle, true) == needle[0].content + "A:");
    CHECK(ChatTemplate::detect("{% for m in messages %}{{ m['role'] }}{{ m['content'] }}{% endfor %}", "llama").family() == ChatFamily::Plain);
    CHECK(ChatTemplate::detect("{%- for m in messages %}{{ m['content'] }}{% endfor %}{% if add_generation_prompt %}A{% endif %}", "llama")
              .family() == ChatFamily::Plain);
}
