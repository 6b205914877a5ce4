// JSON and text renderings of AskResult.
#include "app/ask_report.h"

#include "app/page_numbers.h"
#include "app/remote_metrics.h"

#include <nlohmann/json.hpp>

namespace nw::app {

nlohmann::json citationsToJson(const std::vector<Citation> &citations)
{
    nlohmann::json array = nlohmann::json::array();
    for (const Citation &c : citations)
        array.push_back(citationToJson(c));
    return array;
}

nlohmann::json remoteKvToJson(const RemoteKvFigures &f)
{
    nlohmann::json j = { { "server", std::string(remoteServerKindName(f.server)) } };
    const auto put = [&j](const char *name, const auto &value) {
        if (value)
            j[name] = *value;
    };
    put("kv_usage", f.usage);
    put("kv_bytes_used", f.bytesUsed);
    put("kv_bytes_reserved", f.bytesReserved);
    put("mha_f16_baseline_bytes", f.mhaF16Bytes);
    if (f.savingVsMha() > 0)
        j["saving_vs_mha_f16"] = f.savingVsMha();
    put("tokens_cached", f.tokensCached);
    put("capacity_tokens", f.capacityTokens);
    put("requests_running", f.running);
    put("requests_waiting", f.waiting);
    put("prefix_cache_hits", f.prefixHits);
    put("prefix_cache_queries", f.prefixQueries);
    put("prefix_cache_hit_rate", f.prefixHitRate);
    if (!f.kvMode.empty())
        j["kv_mode"] = f.kvMode;
    return j;
}

nlohmann::json askResultToJson(const AskResult &r)
{
    nlohmann::json passages = nlohmann::json::array();
    for (const Passage &p : r.passages)
        passages.push_back({ { "citation", citationToJson(p.citation) }, { "bm25", p.bm25 }, { "coverage", p.coverage },
            { "score", p.score } });
    nlohmann::json quotes = nlohmann::json::array();
    for (const QuoteCheck &q : r.quotes)
        quotes.push_back(
            { { "quote", q.quote.toStdString() }, { "supported", q.supported }, { "source", q.sourceIndex + 1 } });
    nlohmann::json j = {
        { "question", r.question.toStdString() },
        { "mode", askModeName(r.mode).toStdString() },
        { "answer", r.answer.toStdString() },
        { "extractive", r.extractive },
        { "citations", citationsToJson(r.citations) },
        { "passages", passages },
        { "quotes", quotes },
    };
    if (!r.extractive) {
        j["model"] = { { "file", r.model.toStdString() }, { "chat_template", r.chatFamily.toStdString() },
            { "kv_mode", r.kvMode.toStdString() }, { "context_tokens", r.contextTokens },
            { "prompt_tokens", r.promptTokens }, { "reused_tokens", r.reusedTokens },
            { "generated_tokens", r.generatedTokens }, { "prefill_seconds", r.prefillSeconds },
            { "decode_seconds", r.decodeSeconds }, { "kv_bytes_used", r.kvBytesUsed },
            { "kv_bytes_per_token", r.kvBytesPerToken }, { "kv_bytes_reserved", r.kvBytesReserved },
            { "saving_vs_mha_f16", r.savingVsMha }, { "stop", r.stopReason.toStdString() },
            { "sources", static_cast<int>(r.sources.size()) }, { "sources_dropped", r.droppedSources },
            { "best_source_cut", r.bestSourceCut }, { "token_count", r.tokenCount.toStdString() } };
        if (!r.engineUrl.isEmpty()) {
            // A remote engine: where, and what its /metrics said after the answer (null: unreachable).
            j["engine"] = { { "url", r.engineUrl.toStdString() }, { "model", r.model.toStdString() },
                { "context_tokens", r.contextTokens }, { "context_source", r.contextFrom.toStdString() },
                { "token_count", r.tokenCount.toStdString() } };
            j["remote_kv"] = r.remoteKv ? remoteKvToJson(*r.remoteKv) : nlohmann::json();
        }
        if (!r.contextSource.isEmpty())
            j["model"]["context"] = { { "source", r.contextSource.toStdString() }, { "tokens", r.snapshotTokens },
                { "snapshot_bytes", r.snapshotBytes }, { "snapshot_seconds", r.snapshotSeconds },
                { "prefill_seconds", r.snapshotPrefillSeconds },
                { "snapshot_problem", r.snapshotProblem.toStdString() } };
    }
    if (r.tooLarge) {
        nlohmann::json needs = nlohmann::json::array();
        for (const KvNeed &n : r.kvNeeds)
            needs.push_back(
                { { "kv_mode", n.mode.toStdString() }, { "bytes", n.bytes }, { "saving_vs_mha_f16", n.savingVsMha } });
        j["too_large"] = { { "needed_tokens", r.neededTokens }, { "context_tokens", r.contextTokens },
            { "kv_needs", needs }, { "suggestion", "use --mode retrieve" } };
    }
    return j;
}

void printCitations(QTextStream &out, const AskResult &r)
{
    if (r.tooLarge) {
        out << "\nKV cache the whole documents would need (" << r.neededTokens << " tokens):\n";
        for (const KvNeed &n : r.kvNeeds)
            out << "  " << n.mode.leftJustified(12) << formatBytes(n.bytes).rightJustified(12)
                << QStringLiteral("  (%1 less than MHA f16)").arg(formatSaving(n.savingVsMha)) << '\n';
        out << "Suggestion: needlework ask --mode retrieve \"" << r.question << "\"\n";
        return;
    }
    if (!r.extractive) {
        if (!r.citations.empty()) {
            out << "\nCitations:\n";
            for (std::size_t i = 0; i < r.citations.size(); ++i)
                out << "  " << citationLabel(r.citations[i])
                    << QStringLiteral(" (chars %1-%2, %3 word boxes)")
                           .arg(r.citations[i].start)
                           .arg(r.citations[i].start + r.citations[i].length)
                           .arg(r.citations[i].boxes.size())
                    << '\n';
        } else {
            out << "\n(The answer cites no source.)\n";
        }
        for (const QuoteCheck &q : r.quotes)
            if (!q.supported)
                out << "  UNSUPPORTED QUOTE (not in any source): \"" << q.quote << "\"\n";
        if (const QString fit = contextFitNote(r); !fit.isEmpty())
            out << '\n' << fit << '\n';
        if (!r.engineUrl.isEmpty()) {
            out << QStringLiteral("\n[%1 at %2: context %3 tokens (%4), prompt %5 tokens (%6), %7 tokens in %8 s "
                                  "after %9 s to the first]\n")
                       .arg(r.model, r.engineUrl)
                       .arg(r.contextTokens)
                       .arg(r.contextFrom == QLatin1String("server") ? QStringLiteral("the server's")
                               : r.contextFrom == QLatin1String("option")
                               ? QStringLiteral("--ctx")
                               : QStringLiteral("assumed: the server does not say"))
                       .arg(r.promptTokens)
                       .arg(r.tokenCount == QLatin1String("estimate")
                               ? QStringLiteral("fitted by an estimate, characters / 4: the server has no /tokenize")
                               : QStringLiteral("fitted with the server's tokenizer"))
                       .arg(r.generatedTokens)
                       .arg(r.decodeSeconds, 0, 'f', 2)
                       .arg(r.prefillSeconds, 0, 'f', 2);
            out << QStringLiteral("[server KV: %1]\n")
                       .arg(r.remoteKv ? QString::fromStdString(remoteKvLine(*r.remoteKv))
                                       : QStringLiteral("no /metrics there"));
            return;
        }
        out << QStringLiteral(
            "\n[%1, %2, KV %3: %4 used / %5 reserved, %6 less than MHA f16; prompt %7 tokens (%8 reused), "
            "prefill %9 s, %10 tokens in %11 s]\n")
                   .arg(r.model, r.chatFamily, r.kvMode, formatBytes(r.kvBytesUsed), formatBytes(r.kvBytesReserved))
                   .arg(formatSaving(r.savingVsMha))
                   .arg(r.promptTokens)
                   .arg(r.reusedTokens)
                   .arg(r.prefillSeconds, 0, 'f', 2)
                   .arg(r.generatedTokens)
                   .arg(r.decodeSeconds, 0, 'f', 2);
        if (const QString context = contextSourceLine(r); !context.isEmpty())
            out << QStringLiteral("[context: %1]\n").arg(context);
    } else if (!r.citations.empty()) {
        out << "\nWhere (page, characters, word boxes on the page):\n";
        for (std::size_t i = 0; i < r.citations.size(); ++i) {
            const Citation &c = r.citations[i];
            out << QStringLiteral("  [%1] %2 — %3, chars %4-%5, %6 boxes, first at (%7, %8) pt\n")
                       .arg(i + 1)
                       .arg(c.path)
                       .arg(pageCitation(c.page, c.pageLabel))
                       .arg(c.start)
                       .arg(c.start + c.length)
                       .arg(c.boxes.size())
                       .arg(c.boxes.empty() ? 0.0 : c.boxes.front().x(), 0, 'f', 1)
                       .arg(c.boxes.empty() ? 0.0 : c.boxes.front().y(), 0, 'f', 1);
        }
    }
}

QString contextFitNote(const AskResult &r)
{
    if (r.extractive || (r.droppedSources == 0 && !r.bestSourceCut))
        return {};
    const int offered = static_cast<int>(r.sources.size()) + r.droppedSources;
    QString note = QStringLiteral("(To fit the %1-token context: ").arg(r.contextTokens);
    if (r.droppedSources > 0)
        note += QStringLiteral("%1 of %2 sources left out, the lowest-ranked first").arg(r.droppedSources).arg(offered);
    if (r.bestSourceCut)
        note += QStringLiteral("%1the best source cut to its cited passage")
                    .arg(r.droppedSources > 0 ? QStringLiteral("; ") : QString());
    return note + QStringLiteral(". A larger context gives the model more.)");
}

void printAskResult(QTextStream &out, const AskResult &r, bool answerAlreadyShown)
{
    if (!answerAlreadyShown)
        out << r.answer << '\n';
    printCitations(out, r);
}

} // namespace nw::app
