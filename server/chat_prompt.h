// The prompt text a chat completion or a /tokenize of messages renders: the model's chat template,
// or, with continue_final_message, the template up to the generation prompt and then the
// assistant's begun reply. Apart from openai_request.* so the request parser stays engine-free
// (the fuzz target builds it alone).
#pragma once

#include "engine/chat_template.h"

#include <string>
#include <vector>

namespace nw::server {

// continueFinalMessage: the last message is the start of the assistant's reply (vLLM's
// continue_final_message): the template over the messages before it with its generation prompt,
// then that message's text, its end of turn not written. Throws nw::Error from the template.
std::string renderChatPrompt(const ChatTemplate &chat, const std::vector<ChatMessage> &messages,
    bool addGenerationPrompt, bool continueFinalMessage);

} // namespace nw::server
