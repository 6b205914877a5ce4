// Chat prompts as the server renders them.
#include "server/chat_prompt.h"

namespace nw::server {

std::string renderChatPrompt(const ChatTemplate &chat, const std::vector<ChatMessage> &messages,
    bool addGenerationPrompt, bool continueFinalMessage)
{
    if (!continueFinalMessage || messages.empty())
        return chat.apply(messages, addGenerationPrompt);
    const std::vector<ChatMessage> before(messages.begin(), messages.end() - 1);
    return chat.apply(before, true) + messages.back().content;
}

} // namespace nw::server
