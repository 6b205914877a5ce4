// Prompt assembly with a token budget.
#include "app/prompt_builder.h"

#include <algorithm>
#include <cmath>

namespace nw::app {

int estimateTokens(const QString &text)
{
    return static_cast<int>(std::ceil(static_cast<double>(text.size()) / 4.0));
}

QString systemInstructions()
{
    return QStringLiteral(
        "You answer questions about the user's documents using only the numbered sources given. "
        "After each claim, cite the source it comes from as [n]. When you rely on exact wording, quote it "
        "in double quotes exactly as the source writes it. If the sources do not answer the question, say so.");
}

std::vector<Source> passageSources(const std::vector<Passage> &passages)
{
    std::vector<Source> out;
    for (std::size_t i = 0; i < passages.size(); ++i) {
        const Passage &p = passages[i];
        QString text;
        if (!p.before.isEmpty())
            text += QStringLiteral("[…] ") + p.before.simplified()
                + QStringLiteral("\n[page %1]\n").arg(p.citation.page);
        text += p.text.trimmed();
        if (!p.after.isEmpty())
            text += QStringLiteral("\n[page %1] ").arg(p.citation.page + 1) + p.after.simplified()
                + QStringLiteral(" […]");
        out.push_back({ citationLabel(p.citation), text, static_cast<int>(i) });
    }
    return out;
}

std::vector<ChatMessage> promptMessages(const QString &question, const std::vector<Source> &sources)
{
    QString user = QStringLiteral("Sources:\n");
    for (std::size_t i = 0; i < sources.size(); ++i)
        user += QStringLiteral("\n[%1] %2\n%3\n").arg(i + 1).arg(sources[i].label, sources[i].text);
    user += QStringLiteral("\nQuestion: ") + question;
    return { { "system", systemInstructions().toStdString() }, { "user", user.toStdString() } };
}

namespace {

// A prompt's text and its tokens, for the sources kept so far.
using Render = std::function<QString(const QString &question, const std::vector<Source> &sources)>;

BuiltPrompt pack(const QString &question, const std::vector<Source> &sources, int budgetTokens, const Render &render,
    const TokenCounter &count)
{
    // The best sources first, as many as fit: once one does not fit, it and every source ranked
    // below it are left out (a lower-ranked source never takes the place of a better one).
    BuiltPrompt built;
    std::vector<Source> kept;
    built.text = render(question, kept);
    built.tokens = count(built.text);
    for (const Source &source : sources) {
        kept.push_back(source);
        const QString text = render(question, kept);
        const int tokens = count(text);
        if (tokens > budgetTokens) {
            kept.pop_back();
            break;
        }
        built.text = text;
        built.tokens = tokens;
    }
    built.droppedSources = static_cast<int>(sources.size() - kept.size());
    // Where this question's prompt leaves that of an empty question.
    const QString unasked = render(QString(), kept);
    const auto shared = std::mismatch(built.text.begin(), built.text.end(), unasked.begin(), unasked.end());
    built.questionAt = static_cast<int>(shared.first - built.text.begin());
    built.sources = std::move(kept);
    return built;
}

} // namespace

BuiltPrompt buildPrompt(const ChatTemplate &chat, const QString &question, const std::vector<Source> &sources,
    int budgetTokens, const TokenCounter &count)
{
    const Render render = [&chat](const QString &q, const std::vector<Source> &kept) {
        return QString::fromStdString(chat.apply(promptMessages(q, kept), true));
    };
    return pack(question, sources, budgetTokens, render, count);
}

BuiltPrompt buildMessagesPrompt(
    const QString &question, const std::vector<Source> &sources, int budgetTokens, const MessageCounter &count)
{
    // The text packed is the user message; the count is of both messages as the server sees them.
    const Render render = [](const QString &q, const std::vector<Source> &kept) {
        return QString::fromStdString(promptMessages(q, kept).back().content);
    };
    const TokenCounter counter = [&count](const QString &user) {
        return count({ { "system", systemInstructions().toStdString() }, { "user", user.toStdString() } });
    };
    return pack(question, sources, budgetTokens, render, counter);
}

} // namespace nw::app
