// The prompt for a question: numbered, labelled sources (retrieved passages with their
// neighbouring context, or whole documents) packed up to a token budget, then the question,
// all through the model's chat template.
#pragma once

#include "app/retriever.h"
#include "engine/chat_template.h"

#include <QString>

#include <functional>
#include <vector>

namespace nw::app {

// Counts tokens of a text: the model's tokenizer, or an estimate without one.
using TokenCounter = std::function<int(const QString &)>;
// Without a tokenizer: about four characters a token (English text, BPE vocabularies).
int estimateTokens(const QString &text);

struct Source {
    QString label; // "GPL-3, p. 5, §6. Conveying Non-Source Forms"
    QString text;
    int origin = -1; // the caller's index of what it came from (a passage, a page), kept through the budget cut
};

struct BuiltPrompt {
    QString text; // after the chat template
    std::vector<Source> sources; // those that fit, numbered from 1 in this order
    int tokens = 0; // of `text`, by the counter
    int droppedSources = 0; // the lowest-ranked sources, left out to fit the budget
    // Characters of `text` before the question: what every question over the same sources shares
    // (a whole-documents prompt's prefix, which KV snapshots keep).
    int questionAt = 0;
};

// The instructions the model gets: answer from the sources only, cite [n], quote exactly.
QString systemInstructions();

// Sources from passages: "...previous page end ... | page text | ... next page start".
std::vector<Source> passageSources(const std::vector<Passage> &passages);

// The chat messages of a question over numbered sources: the instructions, then one user message
// with the sources and the question (what a chat template renders, here or on a remote server).
std::vector<ChatMessage> promptMessages(const QString &question, const std::vector<Source> &sources);

// Packs the sources, best first (in the order given), while the prompt stays within `budgetTokens`;
// the first source that does not fit and all after it are dropped (BuiltPrompt::droppedSources).
// With no source kept the prompt holds the question alone.
BuiltPrompt buildPrompt(const ChatTemplate &chat, const QString &question, const std::vector<Source> &sources,
    int budgetTokens, const TokenCounter &count = estimateTokens);

// The same packing for a remote engine, whose server applies its own chat template: `count` gets
// the messages (RemoteEngine::countTokens); BuiltPrompt::text is then the user message.
using MessageCounter = std::function<int(const std::vector<ChatMessage> &)>;
BuiltPrompt buildMessagesPrompt(
    const QString &question, const std::vector<Source> &sources, int budgetTokens, const MessageCounter &count);

} // namespace nw::app
