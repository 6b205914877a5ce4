// Chat templates against the strings the real Jinja templates produce (rendered with
// python3-jinja2 by tools/render_chat_templates.py from tests/data/chat_templates/), and
// family detection from those same template texts.
#include "engine/chat_template.h"

#include "common/error.h"
#include "tests/support/test_data.h"

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <regex>
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
    bool thinking;
    const char *expected; // nullptr: the template refuses the conversation (raise_exception)
};

// Output of tools/render_chat_templates.py (bos_token = "", the tokenizer adds BOS; gpt-oss's
// date fixed at 2026-01-15).
const Golden kGolden[] = {
    { "chatml", "full", false,
        "<|im_start|>system\nYou are a helpful "
        "assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi "
        "there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   "
        "<|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n" },
    { "chatml", "no_system", false,
        "<|im_start|>user\nWhat does clause 7 say?<|im_end|>\n<|im_start|>assistant\nIt limits "
        "liability.<|im_end|>\n<|im_start|>user\nQuote it.<|im_end|>\n<|im_start|>assistant\n" },
    { "chatml", "no_generation_prompt", false,
        "<|im_start|>system\nAnswer from the sources.<|im_end|>\n<|im_start|>user\nWhere is \"Standard Version\" "
        "defined?<|im_end|>\n" },
    { "chatml", "ends_with_assistant", false,
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n" },
    { "chatml", "reasoning_in_history", false,
        "<|im_start|>system\nCite pages.<|im_end|>\n<|im_start|>user\n  "
        "Q1?\n<|im_end|>\n<|im_start|>assistant\n<think>\nfirst thoughts\n</think>\n\nA1 [p. "
        "3]<|im_end|>\n<|im_start|>user\nQ2?<|im_end|>\n<|im_start|>assistant\n" },
    { "chatml", "empty_system", false,
        "<|im_start|>system\n<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n" },
    { "chatml", "two_users", false,
        "<|im_start|>user\nPart one.<|im_end|>\n<|im_start|>user\nPart two.<|im_end|>\n<|im_start|>assistant\n" },
    { "deepseek-r1", "full", false,
        "You are a helpful assistant<｜User｜>Hello<｜Assistant｜>Hi there<｜end▁of▁sentence｜><｜User｜>Who are "
        "you<｜Assistant｜>   I am an assistant   <｜end▁of▁sentence｜><｜User｜>Another "
        "question<｜Assistant｜><think>\n" },
    { "deepseek-r1", "no_system", false,
        "<｜User｜>What does clause 7 say?<｜Assistant｜>It limits liability.<｜end▁of▁sentence｜><｜User｜>Quote "
        "it.<｜Assistant｜><think>\n" },
    { "deepseek-r1", "no_generation_prompt", false,
        "Answer from the sources.<｜User｜>Where is \"Standard Version\" defined?" },
    { "deepseek-r1", "ends_with_assistant", false, "<｜User｜>What is 2+2?<｜Assistant｜>4<｜end▁of▁sentence｜>" },
    { "deepseek-r1", "reasoning_in_history", false,
        "Cite pages.<｜User｜>  Q1?\n<｜Assistant｜>\n\nA1 [p. "
        "3]<｜end▁of▁sentence｜><｜User｜>Q2?<｜Assistant｜><think>\n" },
    { "deepseek-r1", "empty_system", false, "<｜User｜>Hi<｜Assistant｜><think>\n" },
    { "deepseek-r1", "two_users", false, "<｜User｜>Part one.<｜User｜>Part two.<｜Assistant｜><think>\n" },
    { "deepseek-v2", "full", false,
        "You are a helpful assistant\n\nUser: Hello\n\nAssistant: Hi there<｜end▁of▁sentence｜>User: Who are "
        "you\n\nAssistant:    I am an assistant   <｜end▁of▁sentence｜>User: Another question\n\nAssistant:" },
    { "deepseek-v2", "no_system", false,
        "User: What does clause 7 say?\n\nAssistant: It limits liability.<｜end▁of▁sentence｜>User: Quote "
        "it.\n\nAssistant:" },
    { "deepseek-v2", "no_generation_prompt", false,
        "Answer from the sources.\n\nUser: Where is \"Standard Version\" defined?\n\n" },
    { "deepseek-v2", "ends_with_assistant", false, "User: What is 2+2?\n\nAssistant: 4<｜end▁of▁sentence｜>" },
    { "deepseek-v2", "reasoning_in_history", false,
        "Cite pages.\n\nUser:   Q1?\n\n\nAssistant: <think>\nfirst thoughts\n</think>\n\nA1 [p. "
        "3]<｜end▁of▁sentence｜>User: Q2?\n\nAssistant:" },
    { "deepseek-v2", "empty_system", false, "\n\nUser: Hi\n\nAssistant:" },
    { "deepseek-v2", "two_users", false, "User: Part one.\n\nUser: Part two.\n\nAssistant:" },
    { "deepseek-v3", "full", false,
        "You are a helpful assistant<｜User｜>Hello<｜Assistant｜>Hi there<｜end▁of▁sentence｜><｜User｜>Who are "
        "you<｜Assistant｜>   I am an assistant   <｜end▁of▁sentence｜><｜User｜>Another question<｜Assistant｜>" },
    { "deepseek-v3", "no_system", false,
        "<｜User｜>What does clause 7 say?<｜Assistant｜>It limits liability.<｜end▁of▁sentence｜><｜User｜>Quote "
        "it.<｜Assistant｜>" },
    { "deepseek-v3", "no_generation_prompt", false,
        "Answer from the sources.<｜User｜>Where is \"Standard Version\" defined?" },
    { "deepseek-v3", "ends_with_assistant", false, "<｜User｜>What is 2+2?<｜Assistant｜>4<｜end▁of▁sentence｜>" },
    { "deepseek-v3", "reasoning_in_history", false,
        "Cite pages.<｜User｜>  Q1?\n<｜Assistant｜><think>\nfirst thoughts\n</think>\n\nA1 [p. "
        "3]<｜end▁of▁sentence｜><｜User｜>Q2?<｜Assistant｜>" },
    { "deepseek-v3", "empty_system", false, "<｜User｜>Hi<｜Assistant｜>" },
    { "deepseek-v3", "two_users", false, "<｜User｜>Part one.<｜User｜>Part two.<｜Assistant｜>" },
    { "deepseek-v3.2", "full", false,
        "You are a helpful assistant<｜User｜>Hello<｜Assistant｜></think>Hi there<｜end▁of▁sentence｜><｜User｜>Who "
        "are you<｜Assistant｜></think>   I am an assistant   <｜end▁of▁sentence｜><｜User｜>Another "
        "question<｜Assistant｜><think></think>" },
    { "deepseek-v3.2", "no_system", false,
        "<｜User｜>What does clause 7 say?<｜Assistant｜></think>It limits "
        "liability.<｜end▁of▁sentence｜><｜User｜>Quote it.<｜Assistant｜><think></think>" },
    { "deepseek-v3.2", "no_generation_prompt", false,
        "Answer from the sources.<｜User｜>Where is \"Standard Version\" defined?" },
    { "deepseek-v3.2", "ends_with_assistant", false,
        "<｜User｜>What is 2+2?<｜Assistant｜></think>4<｜end▁of▁sentence｜>" },
    { "deepseek-v3.2", "reasoning_in_history", false,
        "Cite pages.<｜User｜>  Q1?\n<｜Assistant｜></think><think>\nfirst thoughts\n</think>\n\nA1 [p. "
        "3]<｜end▁of▁sentence｜><｜User｜>Q2?<｜Assistant｜><think></think>" },
    { "deepseek-v3.2", "empty_system", false, "<｜User｜>Hi<｜Assistant｜><think></think>" },
    { "deepseek-v3.2", "two_users", false, "<｜User｜>Part one.<｜User｜>Part two.<｜Assistant｜><think></think>" },
    { "deepseek-v3.2", "full", true,
        "You are a helpful assistant<｜User｜>Hello<｜Assistant｜></think>Hi there<｜end▁of▁sentence｜><｜User｜>Who "
        "are you<｜Assistant｜></think>   I am an assistant   <｜end▁of▁sentence｜><｜User｜>Another "
        "question<｜Assistant｜><think>" },
    { "deepseek-v3.2", "no_system", true,
        "<｜User｜>What does clause 7 say?<｜Assistant｜></think>It limits "
        "liability.<｜end▁of▁sentence｜><｜User｜>Quote it.<｜Assistant｜><think>" },
    { "deepseek-v3.2", "no_generation_prompt", true,
        "Answer from the sources.<｜User｜>Where is \"Standard Version\" defined?" },
    { "deepseek-v3.2", "ends_with_assistant", true,
        "<｜User｜>What is 2+2?<｜Assistant｜><think></think>4<｜end▁of▁sentence｜>" },
    { "deepseek-v3.2", "reasoning_in_history", true,
        "Cite pages.<｜User｜>  Q1?\n<｜Assistant｜></think><think>\nfirst thoughts\n</think>\n\nA1 [p. "
        "3]<｜end▁of▁sentence｜><｜User｜>Q2?<｜Assistant｜><think>" },
    { "deepseek-v3.2", "empty_system", true, "<｜User｜>Hi<｜Assistant｜><think>" },
    { "deepseek-v3.2", "two_users", true, "<｜User｜>Part one.<｜User｜>Part two.<｜Assistant｜><think>" },
    { "deepseek-v4", "full", false,
        "You are a helpful assistant<｜User｜>Hello<｜Assistant｜></think>Hi there<｜end▁of▁sentence｜><｜User｜>Who "
        "are you<｜Assistant｜></think>   I am an assistant   <｜end▁of▁sentence｜><｜User｜>Another "
        "question<｜Assistant｜></think>" },
    { "deepseek-v4", "no_system", false,
        "<｜User｜>What does clause 7 say?<｜Assistant｜></think>It limits "
        "liability.<｜end▁of▁sentence｜><｜User｜>Quote it.<｜Assistant｜></think>" },
    { "deepseek-v4", "no_generation_prompt", false,
        "Answer from the sources.<｜User｜>Where is \"Standard Version\" defined?" },
    { "deepseek-v4", "ends_with_assistant", false,
        "<｜User｜>What is 2+2?<｜Assistant｜></think>4<｜end▁of▁sentence｜>" },
    { "deepseek-v4", "reasoning_in_history", false,
        "Cite pages.<｜User｜>  Q1?\n<｜Assistant｜></think><think>\nfirst thoughts\n</think>\n\nA1 [p. "
        "3]<｜end▁of▁sentence｜><｜User｜>Q2?<｜Assistant｜></think>" },
    { "deepseek-v4", "empty_system", false, "<｜User｜>Hi<｜Assistant｜></think>" },
    { "deepseek-v4", "two_users", false, "<｜User｜>Part one.\n\nPart two.<｜Assistant｜></think>" },
    { "deepseek-v4", "full", true,
        "You are a helpful assistant<｜User｜>Hello<｜Assistant｜></think>Hi there<｜end▁of▁sentence｜><｜User｜>Who "
        "are you<｜Assistant｜></think>   I am an assistant   <｜end▁of▁sentence｜><｜User｜>Another "
        "question<｜Assistant｜><think>" },
    { "deepseek-v4", "no_system", true,
        "<｜User｜>What does clause 7 say?<｜Assistant｜></think>It limits "
        "liability.<｜end▁of▁sentence｜><｜User｜>Quote it.<｜Assistant｜><think>" },
    { "deepseek-v4", "no_generation_prompt", true,
        "Answer from the sources.<｜User｜>Where is \"Standard Version\" defined?" },
    { "deepseek-v4", "ends_with_assistant", true,
        "<｜User｜>What is 2+2?<｜Assistant｜><think></think>4<｜end▁of▁sentence｜>" },
    { "deepseek-v4", "reasoning_in_history", true,
        "Cite pages.<｜User｜>  Q1?\n<｜Assistant｜></think><think>\nfirst thoughts\n</think>\n\nA1 [p. "
        "3]<｜end▁of▁sentence｜><｜User｜>Q2?<｜Assistant｜><think>" },
    { "deepseek-v4", "empty_system", true, "<｜User｜>Hi<｜Assistant｜><think>" },
    { "deepseek-v4", "two_users", true, "<｜User｜>Part one.\n\nPart two.<｜Assistant｜><think>" },
    { "gemma-3", "full", false,
        "<start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n<start_of_turn>model\nHi "
        "there<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model\nI am an "
        "assistant<end_of_turn>\n<start_of_turn>user\nAnother question<end_of_turn>\n<start_of_turn>model\n" },
    { "gemma-3", "no_system", false,
        "<start_of_turn>user\nWhat does clause 7 say?<end_of_turn>\n<start_of_turn>model\nIt limits "
        "liability.<end_of_turn>\n<start_of_turn>user\nQuote it.<end_of_turn>\n<start_of_turn>model\n" },
    { "gemma-3", "no_generation_prompt", false,
        "<start_of_turn>user\nAnswer from the sources.\n\nWhere is \"Standard Version\" defined?<end_of_turn>\n" },
    { "gemma-3", "ends_with_assistant", false,
        "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n4<end_of_turn>\n" },
    { "gemma-3", "reasoning_in_history", false,
        "<start_of_turn>user\nCite pages.\n\nQ1?<end_of_turn>\n<start_of_turn>model\n<think>\nfirst "
        "thoughts\n</think>\n\nA1 [p. 3]<end_of_turn>\n<start_of_turn>user\nQ2?<end_of_turn>\n<start_of_turn>model\n" },
    { "gemma-3", "empty_system", false, "<start_of_turn>user\n\n\nHi<end_of_turn>\n<start_of_turn>model\n" },
    { "gemma-3", "two_users", false, nullptr },
    { "gemma-4", "full", false,
        "<|turn>system\nYou are a helpful assistant<turn|>\n<|turn>user\nHello<turn|>\n<|turn>model\nHi "
        "there<turn|>\n<|turn>user\nWho are you<turn|>\n<|turn>model\nI am an assistant<turn|>\n<|turn>user\nAnother "
        "question<turn|>\n<|turn>model\n<|channel>thought\n<channel|>" },
    { "gemma-4", "no_system", false,
        "<|turn>user\nWhat does clause 7 say?<turn|>\n<|turn>model\nIt limits liability.<turn|>\n<|turn>user\nQuote "
        "it.<turn|>\n<|turn>model\n<|channel>thought\n<channel|>" },
    { "gemma-4", "no_generation_prompt", false,
        "<|turn>system\nAnswer from the sources.<turn|>\n<|turn>user\nWhere is \"Standard Version\" "
        "defined?<turn|>\n" },
    { "gemma-4", "ends_with_assistant", false, "<|turn>user\nWhat is 2+2?<turn|>\n<|turn>model\n4<turn|>\n" },
    { "gemma-4", "reasoning_in_history", false,
        "<|turn>system\nCite pages.<turn|>\n<|turn>user\nQ1?<turn|>\n<|turn>model\n<think>\nfirst "
        "thoughts\n</think>\n\nA1 [p. "
        "3]<turn|>\n<|turn>user\nQ2?<turn|>\n<|turn>model\n<|channel>thought\n<channel|>" },
    { "gemma-4", "empty_system", false,
        "<|turn>system\n<turn|>\n<|turn>user\nHi<turn|>\n<|turn>model\n<|channel>thought\n<channel|>" },
    { "gemma-4", "two_users", false,
        "<|turn>user\nPart one.<turn|>\n<|turn>user\nPart two.<turn|>\n<|turn>model\n<|channel>thought\n<channel|>" },
    { "gemma-4", "full", true,
        "<|turn>system\n<|think|>\nYou are a helpful assistant<turn|>\n<|turn>user\nHello<turn|>\n<|turn>model\nHi "
        "there<turn|>\n<|turn>user\nWho are you<turn|>\n<|turn>model\nI am an assistant<turn|>\n<|turn>user\nAnother "
        "question<turn|>\n<|turn>model\n" },
    { "gemma-4", "no_system", true,
        "<|turn>system\n<|think|>\n<turn|>\n<|turn>user\nWhat does clause 7 say?<turn|>\n<|turn>model\nIt limits "
        "liability.<turn|>\n<|turn>user\nQuote it.<turn|>\n<|turn>model\n" },
    { "gemma-4", "no_generation_prompt", true,
        "<|turn>system\n<|think|>\nAnswer from the sources.<turn|>\n<|turn>user\nWhere is \"Standard Version\" "
        "defined?<turn|>\n" },
    { "gemma-4", "ends_with_assistant", true,
        "<|turn>system\n<|think|>\n<turn|>\n<|turn>user\nWhat is 2+2?<turn|>\n<|turn>model\n4<turn|>\n" },
    { "gemma-4", "reasoning_in_history", true,
        "<|turn>system\n<|think|>\nCite pages.<turn|>\n<|turn>user\nQ1?<turn|>\n<|turn>model\n<think>\nfirst "
        "thoughts\n</think>\n\nA1 [p. 3]<turn|>\n<|turn>user\nQ2?<turn|>\n<|turn>model\n" },
    { "gemma-4", "empty_system", true, "<|turn>system\n<|think|>\n<turn|>\n<|turn>user\nHi<turn|>\n<|turn>model\n" },
    { "gemma-4", "two_users", true,
        "<|turn>system\n<|think|>\n<turn|>\n<|turn>user\nPart one.<turn|>\n<|turn>user\nPart "
        "two.<turn|>\n<|turn>model\n" },
    { "gpt-oss", "full", false,
        "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: "
        "2024-06\nCurrent date: 2026-01-15\n\nReasoning: medium\n\n# Valid channels: analysis, commentary, final. "
        "Channel must be included for every message.<|end|><|start|>developer<|message|># Instructions\n\nYou are a "
        "helpful "
        "assistant\n\n<|end|><|start|>user<|message|>Hello<|end|><|start|>assistant<|channel|>final<|message|>Hi "
        "there<|end|><|start|>user<|message|>Who are you<|end|><|start|>assistant<|channel|>final<|message|>   I am an "
        "assistant   <|end|><|start|>user<|message|>Another question<|end|><|start|>assistant" },
    { "gpt-oss", "no_system", false,
        "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: "
        "2024-06\nCurrent date: 2026-01-15\n\nReasoning: medium\n\n# Valid channels: analysis, commentary, final. "
        "Channel must be included for every message.<|end|><|start|>user<|message|>What does clause 7 "
        "say?<|end|><|start|>assistant<|channel|>final<|message|>It limits "
        "liability.<|end|><|start|>user<|message|>Quote it.<|end|><|start|>assistant" },
    { "gpt-oss", "no_generation_prompt", false,
        "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: "
        "2024-06\nCurrent date: 2026-01-15\n\nReasoning: medium\n\n# Valid channels: analysis, commentary, final. "
        "Channel must be included for every message.<|end|><|start|>developer<|message|># Instructions\n\nAnswer from "
        "the sources.\n\n<|end|><|start|>user<|message|>Where is \"Standard Version\" defined?<|end|>" },
    { "gpt-oss", "ends_with_assistant", false,
        "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: "
        "2024-06\nCurrent date: 2026-01-15\n\nReasoning: medium\n\n# Valid channels: analysis, commentary, final. "
        "Channel must be included for every message.<|end|><|start|>user<|message|>What is "
        "2+2?<|end|><|start|>assistant<|channel|>final<|message|>4<|return|>" },
    { "gpt-oss", "reasoning_in_history", false,
        "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: "
        "2024-06\nCurrent date: 2026-01-15\n\nReasoning: medium\n\n# Valid channels: analysis, commentary, final. "
        "Channel must be included for every message.<|end|><|start|>developer<|message|># Instructions\n\nCite "
        "pages.\n\n<|end|><|start|>user<|message|>  "
        "Q1?\n<|end|><|start|>assistant<|channel|>final<|message|><think>\nfirst thoughts\n</think>\n\nA1 [p. "
        "3]<|end|><|start|>user<|message|>Q2?<|end|><|start|>assistant" },
    { "gpt-oss", "empty_system", false,
        "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: "
        "2024-06\nCurrent date: 2026-01-15\n\nReasoning: medium\n\n# Valid channels: analysis, commentary, final. "
        "Channel must be included for every message.<|end|><|start|>user<|message|>Hi<|end|><|start|>assistant" },
    { "gpt-oss", "two_users", false,
        "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: "
        "2024-06\nCurrent date: 2026-01-15\n\nReasoning: medium\n\n# Valid channels: analysis, commentary, final. "
        "Channel must be included for every message.<|end|><|start|>user<|message|>Part "
        "one.<|end|><|start|>user<|message|>Part two.<|end|><|start|>assistant" },
    { "llama-3", "full", false,
        "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful "
        "assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|"
        "end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are "
        "you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nI am an "
        "assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnother "
        "question<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n" },
    { "llama-3", "no_system", false,
        "<|start_header_id|>user<|end_header_id|>\n\nWhat does clause 7 "
        "say?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nIt limits "
        "liability.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nQuote "
        "it.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n" },
    { "llama-3", "no_generation_prompt", false,
        "<|start_header_id|>system<|end_header_id|>\n\nAnswer from the "
        "sources.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhere is \"Standard Version\" "
        "defined?<|eot_id|>" },
    { "llama-3", "ends_with_assistant", false,
        "<|start_header_id|>user<|end_header_id|>\n\nWhat is "
        "2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|>" },
    { "llama-3", "reasoning_in_history", false,
        "<|start_header_id|>system<|end_header_id|>\n\nCite "
        "pages.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nQ1?<|eot_id|><|start_header_id|>assistant<|end_"
        "header_id|>\n\n<think>\nfirst thoughts\n</think>\n\nA1 [p. "
        "3]<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nQ2?<|eot_id|><|start_header_id|>assistant<|end_header_"
        "id|>\n\n" },
    { "llama-3", "empty_system", false,
        "<|start_header_id|>system<|end_header_id|>\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_"
        "id|><|start_header_id|>assistant<|end_header_id|>\n\n" },
    { "llama-3", "two_users", false,
        "<|start_header_id|>user<|end_header_id|>\n\nPart "
        "one.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nPart "
        "two.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n" },
    { "mistral-v1", "full", false,
        " [INST] You are a helpful assistant\n\nHello [/INST] Hi there</s> [INST] Who are you [/INST]    I am an "
        "assistant   </s> [INST] Another question [/INST]" },
    { "mistral-v1", "no_system", false,
        " [INST] What does clause 7 say? [/INST] It limits liability.</s> [INST] Quote it. [/INST]" },
    { "mistral-v1", "no_generation_prompt", false,
        " [INST] Answer from the sources.\n\nWhere is \"Standard Version\" defined? [/INST]" },
    { "mistral-v1", "ends_with_assistant", false, " [INST] What is 2+2? [/INST] 4</s>" },
    { "mistral-v1", "reasoning_in_history", false,
        " [INST] Cite pages.\n\n  Q1?\n [/INST] <think>\nfirst thoughts\n</think>\n\nA1 [p. 3]</s> [INST] Q2? "
        "[/INST]" },
    { "mistral-v1", "empty_system", false, " [INST] \n\nHi [/INST]" },
    { "mistral-v1", "two_users", false, nullptr },
    { "mistral-v7", "full", false,
        "[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT][INST] Hello[/INST] Hi there</s>[INST] Who are "
        "you[/INST]    I am an assistant   </s>[INST] Another question[/INST]" },
    { "mistral-v7", "no_system", false,
        "[INST] What does clause 7 say?[/INST] It limits liability.</s>[INST] Quote it.[/INST]" },
    { "mistral-v7", "no_generation_prompt", false,
        "[SYSTEM_PROMPT] Answer from the sources.[/SYSTEM_PROMPT][INST] Where is \"Standard Version\" "
        "defined?[/INST]" },
    { "mistral-v7", "ends_with_assistant", false, "[INST] What is 2+2?[/INST] 4</s>" },
    { "mistral-v7", "reasoning_in_history", false,
        "[SYSTEM_PROMPT] Cite pages.[/SYSTEM_PROMPT][INST]   Q1?\n[/INST] <think>\nfirst thoughts\n</think>\n\nA1 [p. "
        "3]</s>[INST] Q2?[/INST]" },
    { "mistral-v7", "empty_system", false, "[SYSTEM_PROMPT] [/SYSTEM_PROMPT][INST] Hi[/INST]" },
    { "mistral-v7", "two_users", false, "[INST] Part one.[/INST][INST] Part two.[/INST]" },
    { "phi-3.5", "full", false,
        "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi "
        "there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother "
        "question<|end|>\n<|assistant|>\n" },
    { "phi-3.5", "no_system", false,
        "<|user|>\nWhat does clause 7 say?<|end|>\n<|assistant|>\nIt limits liability.<|end|>\n<|user|>\nQuote "
        "it.<|end|>\n<|assistant|>\n" },
    { "phi-3.5", "no_generation_prompt", false,
        "<|system|>\nAnswer from the sources.<|end|>\n<|user|>\nWhere is \"Standard Version\" "
        "defined?<|end|>\n<|endoftext|>" },
    { "phi-3.5", "ends_with_assistant", false,
        "<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n4<|end|>\n<|endoftext|>" },
    { "phi-3.5", "reasoning_in_history", false,
        "<|system|>\nCite pages.<|end|>\n<|user|>\n  Q1?\n<|end|>\n<|assistant|>\n<think>\nfirst "
        "thoughts\n</think>\n\nA1 [p. 3]<|end|>\n<|user|>\nQ2?<|end|>\n<|assistant|>\n" },
    { "phi-3.5", "empty_system", false, "<|user|>\nHi<|end|>\n<|assistant|>\n" },
    { "phi-3.5", "two_users", false, "<|user|>\nPart one.<|end|>\n<|user|>\nPart two.<|end|>\n<|assistant|>\n" },
    { "phi-4-mini", "full", false,
        "<|system|>You are a helpful assistant<|end|><|user|>Hello<|end|><|assistant|>Hi there<|end|><|user|>Who are "
        "you<|end|><|assistant|>   I am an assistant   <|end|><|user|>Another question<|end|><|assistant|>" },
    { "phi-4-mini", "no_system", false,
        "<|user|>What does clause 7 say?<|end|><|assistant|>It limits liability.<|end|><|user|>Quote "
        "it.<|end|><|assistant|>" },
    { "phi-4-mini", "no_generation_prompt", false,
        "<|system|>Answer from the sources.<|end|><|user|>Where is \"Standard Version\" defined?<|end|><|endoftext|>" },
    { "phi-4-mini", "ends_with_assistant", false, "<|user|>What is 2+2?<|end|><|assistant|>4<|end|><|endoftext|>" },
    { "phi-4-mini", "reasoning_in_history", false,
        "<|system|>Cite pages.<|end|><|user|>  Q1?\n<|end|><|assistant|><think>\nfirst thoughts\n</think>\n\nA1 [p. "
        "3]<|end|><|user|>Q2?<|end|><|assistant|>" },
    { "phi-4-mini", "empty_system", false, "<|system|><|end|><|user|>Hi<|end|><|assistant|>" },
    { "phi-4-mini", "two_users", false, "<|user|>Part one.<|end|><|user|>Part two.<|end|><|assistant|>" },
    { "qwen2.5", "full", false,
        "<|im_start|>system\nYou are a helpful "
        "assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi "
        "there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   "
        "<|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n" },
    { "qwen2.5", "no_system", false,
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
        "assistant.<|im_end|>\n<|im_start|>user\nWhat does clause 7 say?<|im_end|>\n<|im_start|>assistant\nIt limits "
        "liability.<|im_end|>\n<|im_start|>user\nQuote it.<|im_end|>\n<|im_start|>assistant\n" },
    { "qwen2.5", "no_generation_prompt", false,
        "<|im_start|>system\nAnswer from the sources.<|im_end|>\n<|im_start|>user\nWhere is \"Standard Version\" "
        "defined?<|im_end|>\n" },
    { "qwen2.5", "ends_with_assistant", false,
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
        "assistant.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n" },
    { "qwen2.5", "reasoning_in_history", false,
        "<|im_start|>system\nCite pages.<|im_end|>\n<|im_start|>user\n  "
        "Q1?\n<|im_end|>\n<|im_start|>assistant\n<think>\nfirst thoughts\n</think>\n\nA1 [p. "
        "3]<|im_end|>\n<|im_start|>user\nQ2?<|im_end|>\n<|im_start|>assistant\n" },
    { "qwen2.5", "empty_system", false,
        "<|im_start|>system\n<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n" },
    { "qwen2.5", "two_users", false,
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
        "assistant.<|im_end|>\n<|im_start|>user\nPart one.<|im_end|>\n<|im_start|>user\nPart "
        "two.<|im_end|>\n<|im_start|>assistant\n" },
    { "qwen3", "full", false,
        "<|im_start|>system\nYou are a helpful "
        "assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi "
        "there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   "
        "<|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n" },
    { "qwen3", "no_system", false,
        "<|im_start|>user\nWhat does clause 7 say?<|im_end|>\n<|im_start|>assistant\nIt limits "
        "liability.<|im_end|>\n<|im_start|>user\nQuote it.<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n" },
    { "qwen3", "no_generation_prompt", false,
        "<|im_start|>system\nAnswer from the sources.<|im_end|>\n<|im_start|>user\nWhere is \"Standard Version\" "
        "defined?<|im_end|>\n" },
    { "qwen3", "ends_with_assistant", false,
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n4<|im_end|>\n" },
    { "qwen3", "reasoning_in_history", false,
        "<|im_start|>system\nCite pages.<|im_end|>\n<|im_start|>user\n  Q1?\n<|im_end|>\n<|im_start|>assistant\nA1 [p. "
        "3]<|im_end|>\n<|im_start|>user\nQ2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n" },
    { "qwen3", "empty_system", false,
        "<|im_start|>system\n<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</"
        "think>\n\n" },
    { "qwen3", "two_users", false,
        "<|im_start|>user\nPart one.<|im_end|>\n<|im_start|>user\nPart "
        "two.<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n" },
    { "qwen3", "full", true,
        "<|im_start|>system\nYou are a helpful "
        "assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi "
        "there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   "
        "<|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n" },
    { "qwen3", "no_system", true,
        "<|im_start|>user\nWhat does clause 7 say?<|im_end|>\n<|im_start|>assistant\nIt limits "
        "liability.<|im_end|>\n<|im_start|>user\nQuote it.<|im_end|>\n<|im_start|>assistant\n" },
    { "qwen3", "no_generation_prompt", true,
        "<|im_start|>system\nAnswer from the sources.<|im_end|>\n<|im_start|>user\nWhere is \"Standard Version\" "
        "defined?<|im_end|>\n" },
    { "qwen3", "ends_with_assistant", true,
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n4<|im_end|>\n" },
    { "qwen3", "reasoning_in_history", true,
        "<|im_start|>system\nCite pages.<|im_end|>\n<|im_start|>user\n  Q1?\n<|im_end|>\n<|im_start|>assistant\nA1 [p. "
        "3]<|im_end|>\n<|im_start|>user\nQ2?<|im_end|>\n<|im_start|>assistant\n" },
    { "qwen3", "empty_system", true,
        "<|im_start|>system\n<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n" },
    { "qwen3", "two_users", true,
        "<|im_start|>user\nPart one.<|im_end|>\n<|im_start|>user\nPart two.<|im_end|>\n<|im_start|>assistant\n" },
    { "qwen3.5", "full", false,
        "<|im_start|>system\nYou are a helpful "
        "assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi "
        "there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\nI am an "
        "assistant<|im_end|>\n<|im_start|>user\nAnother "
        "question<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n" },
    { "qwen3.5", "no_system", false,
        "<|im_start|>user\nWhat does clause 7 say?<|im_end|>\n<|im_start|>assistant\nIt limits "
        "liability.<|im_end|>\n<|im_start|>user\nQuote it.<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n" },
    { "qwen3.5", "no_generation_prompt", false,
        "<|im_start|>system\nAnswer from the sources.<|im_end|>\n<|im_start|>user\nWhere is \"Standard Version\" "
        "defined?<|im_end|>\n" },
    { "qwen3.5", "ends_with_assistant", false,
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n4<|im_end|>\n" },
    { "qwen3.5", "reasoning_in_history", false,
        "<|im_start|>system\nCite pages.<|im_end|>\n<|im_start|>user\nQ1?<|im_end|>\n<|im_start|>assistant\nA1 [p. "
        "3]<|im_end|>\n<|im_start|>user\nQ2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n" },
    { "qwen3.5", "empty_system", false,
        "<|im_start|>system\n<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</"
        "think>\n\n" },
    { "qwen3.5", "two_users", false,
        "<|im_start|>user\nPart one.<|im_end|>\n<|im_start|>user\nPart "
        "two.<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n" },
    { "qwen3.5", "full", true,
        "<|im_start|>system\nYou are a helpful "
        "assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi "
        "there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\nI am an "
        "assistant<|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n<think>\n" },
    { "qwen3.5", "no_system", true,
        "<|im_start|>user\nWhat does clause 7 say?<|im_end|>\n<|im_start|>assistant\nIt limits "
        "liability.<|im_end|>\n<|im_start|>user\nQuote it.<|im_end|>\n<|im_start|>assistant\n<think>\n" },
    { "qwen3.5", "no_generation_prompt", true,
        "<|im_start|>system\nAnswer from the sources.<|im_end|>\n<|im_start|>user\nWhere is \"Standard Version\" "
        "defined?<|im_end|>\n" },
    { "qwen3.5", "ends_with_assistant", true,
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n4<|im_end|>\n" },
    { "qwen3.5", "reasoning_in_history", true,
        "<|im_start|>system\nCite pages.<|im_end|>\n<|im_start|>user\nQ1?<|im_end|>\n<|im_start|>assistant\nA1 [p. "
        "3]<|im_end|>\n<|im_start|>user\nQ2?<|im_end|>\n<|im_start|>assistant\n<think>\n" },
    { "qwen3.5", "empty_system", true,
        "<|im_start|>system\n<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n" },
    { "qwen3.5", "two_users", true,
        "<|im_start|>user\nPart one.<|im_end|>\n<|im_start|>user\nPart "
        "two.<|im_end|>\n<|im_start|>assistant\n<think>\n" },
};

std::vector<ChatMessage> conversation(const std::string &name)
{
    if (name == "full")
        return { { "system", "You are a helpful assistant" }, { "user", "Hello" }, { "assistant", "Hi there" },
            { "user", "Who are you" }, { "assistant", "   I am an assistant   " }, { "user", "Another question" } };
    if (name == "no_system")
        return { { "user", "What does clause 7 say?" }, { "assistant", "It limits liability." },
            { "user", "Quote it." } };
    if (name == "no_generation_prompt")
        return { { "system", "Answer from the sources." }, { "user", "Where is \"Standard Version\" defined?" } };
    if (name == "ends_with_assistant")
        return { { "user", "What is 2+2?" }, { "assistant", "4" } };
    if (name == "reasoning_in_history")
        return { { "system", "Cite pages." }, { "user", "  Q1?\n" },
            { "assistant", "<think>\nfirst thoughts\n</think>\n\nA1 [p. 3]" }, { "user", "Q2?" } };
    if (name == "empty_system")
        return { { "system", "" }, { "user", "Hi" } };
    REQUIRE(name == "two_users");
    return { { "user", "Part one." }, { "user", "Part two." } };
}

bool addsGenerationPrompt(const std::string &conversation)
{
    return conversation != "no_generation_prompt" && conversation != "ends_with_assistant";
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
        CAPTURE(golden.thinking);
        const auto family = nw::parseChatFamily(golden.family);
        REQUIRE(family.has_value());
        const std::string name = golden.conversation;
        const auto messages = conversation(name);
        nw::ChatOptions options;
        options.enableThinking = golden.thinking;
        options.currentDate = "2026-01-15";
        if (golden.expected)
            CHECK(ChatTemplate(*family).apply(messages, addsGenerationPrompt(name), options) == golden.expected);
        else
            CHECK_THROWS_AS(ChatTemplate(*family).apply(messages, addsGenerationPrompt(name), options), nw::Error);
    }
}

TEST_CASE("the family is detected from the template text the model ships")
{
    const std::map<std::string, ChatFamily> expected = {
        { "deepseek-v2", ChatFamily::DeepSeekV2 },
        { "deepseek-v3", ChatFamily::DeepSeekV3 },
        { "deepseek-r1", ChatFamily::DeepSeekR1 },
        { "deepseek-v3.2", ChatFamily::DeepSeekV32 },
        { "deepseek-v4", ChatFamily::DeepSeekV4 },
        { "llama-3", ChatFamily::Llama3 },
        { "chatml", ChatFamily::ChatMl },
        { "qwen2.5", ChatFamily::Qwen25 },
        { "qwen3", ChatFamily::Qwen3 },
        { "qwen3.5", ChatFamily::Qwen35 },
        { "gemma-3", ChatFamily::Gemma3 },
        { "gemma-4", ChatFamily::Gemma4 },
        { "phi-3.5", ChatFamily::Phi3 },
        { "phi-4-mini", ChatFamily::Phi4Mini },
        { "gpt-oss", ChatFamily::Harmony },
        { "mistral-v1", ChatFamily::MistralV1 },
        { "mistral-v7", ChatFamily::MistralV7 },
    };
    for (const auto &[file, family] : expected) {
        const std::string templateFile = file; // clang 14 lets no lambda (CAPTURE's) refer to a structured binding
        CAPTURE(templateFile);
        // The architecture must not matter when the template is known (V3 is "deepseek2" too).
        CHECK(ChatTemplate::detect(readTemplate(file), "deepseek2").family() == family);
        CHECK(ChatTemplate::detect(readTemplate(file), "llama").family() == family);
    }
}

TEST_CASE("without a template the architecture decides, and unknown models get plain")
{
    CHECK(ChatTemplate::detect("", "deepseek2").family() == ChatFamily::DeepSeekV2);
    CHECK(ChatTemplate::detect("", "deepseek32").family() == ChatFamily::DeepSeekV32);
    CHECK(ChatTemplate::detect("", "deepseek4").family() == ChatFamily::DeepSeekV4);
    CHECK(ChatTemplate::detect("", "qwen2").family() == ChatFamily::Qwen25);
    CHECK(ChatTemplate::detect("", "qwen3moe").family() == ChatFamily::Qwen3);
    CHECK(ChatTemplate::detect("", "qwen35moe").family() == ChatFamily::Qwen35);
    CHECK(ChatTemplate::detect("", "gemma3").family() == ChatFamily::Gemma3);
    CHECK(ChatTemplate::detect("", "gemma4").family() == ChatFamily::Gemma4);
    CHECK(ChatTemplate::detect("", "phi3").family() == ChatFamily::Phi3);
    CHECK(ChatTemplate::detect("", "gpt-oss").family() == ChatFamily::Harmony);
    CHECK(ChatTemplate::detect("", "llama").family() == ChatFamily::Plain);
    CHECK(ChatTemplate::detect("{{ messages }}", "gpt2").family() == ChatFamily::Plain);
}

TEST_CASE("plain fallback: system paragraph, then User:/Assistant: paragraphs (hand-written)")
{
    const std::vector<ChatMessage> messages
        = { { "system", "Cite pages." }, { "user", "Hi" }, { "assistant", "Hello" }, { "user", "Bye" } };
    CHECK(ChatTemplate(ChatFamily::Plain).apply(messages, true)
        == "Cite pages.\n\nUser: Hi\n\nAssistant: Hello\n\nUser: Bye\n\nAssistant:");
    CHECK(ChatTemplate(ChatFamily::Plain).apply(messages, false)
        == "Cite pages.\n\nUser: Hi\n\nAssistant: Hello\n\nUser: Bye\n\n");
}

TEST_CASE("roles a family cannot express are errors, not silent drops")
{
    const std::vector<ChatMessage> tool = { { "user", "x" }, { "tool", "{}" } };
    CHECK_THROWS_AS(ChatTemplate(ChatFamily::ChatMl).apply(tool, true), nw::Error);
    const std::vector<ChatMessage> twoUsers = { { "user", "a" }, { "user", "b" } };
    CHECK_THROWS_AS(ChatTemplate(ChatFamily::MistralV1).apply(twoUsers, true), nw::Error);
}

TEST_CASE("family names round-trip and stop strings end the assistant turn")
{
    for (ChatFamily f : { ChatFamily::Plain, ChatFamily::DeepSeekV2, ChatFamily::DeepSeekV3, ChatFamily::DeepSeekR1,
             ChatFamily::DeepSeekV32, ChatFamily::DeepSeekV4, ChatFamily::Llama3, ChatFamily::ChatMl,
             ChatFamily::Qwen25, ChatFamily::Qwen3, ChatFamily::Qwen35, ChatFamily::Gemma3, ChatFamily::Gemma4,
             ChatFamily::Phi3, ChatFamily::Phi4Mini, ChatFamily::Harmony, ChatFamily::MistralV1, ChatFamily::MistralV7,
             ChatFamily::Completion })
        CHECK(nw::parseChatFamily(nw::chatFamilyName(f)) == f);
    CHECK_FALSE(nw::parseChatFamily("jinja").has_value());
    CHECK(ChatTemplate(ChatFamily::Llama3).stopStrings().front() == "<|eot_id|>");
    CHECK(ChatTemplate(ChatFamily::DeepSeekV3).stopStrings().front() == "<｜end▁of▁sentence｜>");
    CHECK(ChatTemplate(ChatFamily::Gemma3).stopStrings().front() == "<end_of_turn>");
    CHECK(ChatTemplate(ChatFamily::Gemma4).stopStrings().front() == "<turn|>");
    // <|end|> closes gpt-oss's analysis message before the final one: it must not stop a reply.
    CHECK(ChatTemplate(ChatFamily::Harmony).stopStrings().empty());
}

TEST_CASE("gpt-oss writes today's date and the reasoning effort asked for")
{
    const std::vector<ChatMessage> messages = { { "user", "Hi" } };
    nw::ChatOptions options;
    options.reasoningEffort = "low";
    const std::string prompt = ChatTemplate(ChatFamily::Harmony).apply(messages, true, options);
    CHECK(prompt.find("Reasoning: low\n\n") != std::string::npos);
    const std::size_t at = prompt.find("Current date: ");
    REQUIRE(at != std::string::npos);
    const std::string date = prompt.substr(at + 14, 10);
    CAPTURE(date);
    CHECK(std::regex_match(date, std::regex("20[0-9]{2}-[01][0-9]-[0-3][0-9]")));
}

TEST_CASE(
    "completion templates: contents in order, then the template's own generation prompt (goldens from python3-jinja2)")
{
    // The recall model's template (tests/data/recall-model.md). Expected strings were rendered with
    // jinja2.Template(t).render(messages=..., add_generation_prompt=...).
    const std::string t = "{% for message in messages %}{{ message['content'] }}{% endfor %}"
                          "{% if add_generation_prompt %}\nAnswer: {% endif %}";
    const ChatTemplate chat = ChatTemplate::detect(t, "llama");
    CHECK(chat.family() == ChatFamily::Completion);
    const std::vector<ChatMessage> needle = { { "user", "Haystack.\nWhat is the pass key for abcde?" } };
    CHECK(chat.apply(needle, true) == "Haystack.\nWhat is the pass key for abcde?\nAnswer: ");
    const std::vector<ChatMessage> two = { { "system", "S " }, { "user", "U" } };
    CHECK(chat.apply(two, false) == "S U");
    CHECK(chat.stopStrings().empty());
    CHECK(nw::parseChatFamily("completion") == ChatFamily::Completion);
    // Other loop variables and quotes; anything more is not this family.
    CHECK(ChatTemplate::detect(
              "{% for m in messages %}{{ m[\"content\"] }}{% endfor %}{% if add_generation_prompt %}A:{% endif %}", "")
              .apply(needle, true)
        == needle[0].content + "A:");
    CHECK(ChatTemplate::detect("{% for m in messages %}{{ m['role'] }}{{ m['content'] }}{% endfor %}", "llama").family()
        == ChatFamily::Plain);
    CHECK(
        ChatTemplate::detect(
            "{%- for m in messages %}{{ m['content'] }}{% endfor %}{% if add_generation_prompt %}A{% endif %}", "llama")
            .family()
        == ChatFamily::Plain);
}
