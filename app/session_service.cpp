// Turns from ask results, and session exports.
#include "app/session_service.h"

#include "app/ask_report.h"
#include "common/error.h"

#include <nlohmann/json.hpp>

namespace nw::app {

store::TurnRecord turnFromResult(const AskResult &r)
{
    store::TurnRecord t;
    t.question = r.question;
    t.answer = r.answer;
    t.citationsJson = QString::fromStdString(citationsToJson(r.citations).dump());
    t.mode = askModeName(r.mode);
    t.model = r.model;
    t.kvMode = r.kvMode;
    t.kvBytes = static_cast<std::int64_t>(r.kvBytesUsed);
    t.kvBytesPerToken = static_cast<std::int64_t>(r.kvBytesPerToken);
    t.contextSource = r.contextSource;
    t.contextTokens = r.snapshotTokens;
    t.contextBytes = static_cast<std::int64_t>(r.snapshotBytes);
    t.contextSeconds = r.snapshotSeconds;
    t.contextPrefillSeconds = r.snapshotPrefillSeconds;
    t.promptTokens = r.promptTokens;
    t.generatedTokens = r.generatedTokens;
    t.prefillSeconds = r.prefillSeconds;
    t.decodeSeconds = r.decodeSeconds;
    return t;
}

std::int64_t SessionService::startSession(const QString &firstQuestion)
{
    QString title = firstQuestion.simplified();
    if (title.size() > 80)
        title = title.left(79) + QStringLiteral("…");
    return m_store.createSession(title);
}

std::int64_t SessionService::recordTurn(std::int64_t sessionId, const AskResult &result)
{
    return m_store.addTurn(sessionId, turnFromResult(result));
}

namespace {

// Where a whole-mode turn's documents came from, shaped as `ask --json` gives it (model.context);
// null when the turn did not say (retrieve mode, no model, turns before schema 8).
nlohmann::json turnContextJson(const store::TurnRecord &t)
{
    if (t.contextSource.isEmpty())
        return nullptr;
    return { { "source", t.contextSource.toStdString() }, { "tokens", t.contextTokens },
        { "snapshot_bytes", t.contextBytes }, { "snapshot_seconds", t.contextSeconds },
        { "prefill_seconds", t.contextPrefillSeconds } };
}

// The same words the ask and chat output use for it.
QString turnContextLine(const nlohmann::json &context)
{
    AskResult r;
    r.contextSource = QString::fromStdString(context["source"].get<std::string>());
    r.snapshotTokens = context["tokens"].get<int>();
    r.snapshotBytes = context["snapshot_bytes"].get<std::uint64_t>();
    r.snapshotSeconds = context["snapshot_seconds"].get<double>();
    r.snapshotPrefillSeconds = context["prefill_seconds"].get<double>();
    return contextSourceLine(r);
}

} // namespace

nlohmann::json SessionService::exportJson(std::int64_t sessionId)
{
    const store::SessionRecord s = m_store.requireSession(sessionId);
    nlohmann::json turns = nlohmann::json::array();
    for (const store::TurnRecord &t : m_store.turns(sessionId)) {
        nlohmann::json citations = nlohmann::json::parse(t.citationsJson.toStdString(), nullptr, false);
        if (citations.is_discarded())
            fail("session {}: turn {} has malformed citations", sessionId, t.index);
        turns.push_back({ { "index", t.index }, { "question", t.question.toStdString() },
            { "answer", t.answer.toStdString() }, { "citations", citations }, { "mode", t.mode.toStdString() },
            { "model", t.model.toStdString() }, { "kv_mode", t.kvMode.toStdString() }, { "kv_bytes", t.kvBytes },
            // null for turns recorded before it was (schema 7)
            { "kv_bytes_per_token", t.kvBytesPerToken > 0 ? nlohmann::json(t.kvBytesPerToken) : nlohmann::json() },
            { "prompt_tokens", t.promptTokens }, { "generated_tokens", t.generatedTokens },
            { "prefill_seconds", t.prefillSeconds }, { "decode_seconds", t.decodeSeconds },
            { "context", turnContextJson(t) }, { "created", t.created.toStdString() } });
    }
    return { { "id", s.id }, { "title", s.title.toStdString() }, { "created", s.created.toStdString() },
        { "updated", s.updated.toStdString() }, { "turns", turns } };
}

QString SessionService::exportMarkdown(std::int64_t sessionId)
{
    const nlohmann::json j = exportJson(sessionId);
    auto q = [](const nlohmann::json &v) { return QString::fromStdString(v.get<std::string>()); };
    QString md = QStringLiteral("# %1\n\nSession %2, started %3.\n")
                     .arg(q(j["title"]))
                     .arg(j["id"].get<std::int64_t>())
                     .arg(q(j["created"]));
    for (const auto &t : j["turns"]) {
        md += QStringLiteral("\n## Q%1: %2\n\n%3\n")
                  .arg(t["index"].get<int>() + 1)
                  .arg(q(t["question"]), q(t["answer"]));
        if (!t["citations"].empty()) {
            md += QStringLiteral("\n**Citations**\n\n");
            for (const auto &c : t["citations"])
                md += QStringLiteral("- %1\n").arg(citationLabel(citationFromJson(c)));
        }
        md += QStringLiteral("\n_%1 mode").arg(q(t["mode"]));
        if (!q(t["model"]).isEmpty())
            md += QStringLiteral(", %1, KV %2 (%3), %4 prompt tokens, prefill %5 s, %6 tokens in %7 s")
                      .arg(q(t["model"]), q(t["kv_mode"]), formatBytes(t["kv_bytes"].get<std::uint64_t>()))
                      .arg(t["prompt_tokens"].get<int>())
                      .arg(t["prefill_seconds"].get<double>(), 0, 'f', 2)
                      .arg(t["generated_tokens"].get<int>())
                      .arg(t["decode_seconds"].get<double>(), 0, 'f', 2);
        else
            md += QStringLiteral(", extractive (no model)");
        if (!t["context"].is_null())
            md += QStringLiteral("; ") + turnContextLine(t["context"]);
        md += QStringLiteral("_\n");
    }
    return md;
}

} // namespace nw::app
