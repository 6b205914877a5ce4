// The needle harness's run loop for a remote engine.
#include "app/needle_remote.h"

#include "app/ask_report.h"
#include "app/needle_heatmap.h"
#include "app/needle_pareto.h"
#include "app/output_file.h"
#include "app/remote_engine.h"
#include "common/error.h"
#include "common/log.h"

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QGuiApplication>

#include <algorithm>
#include <map>

namespace nw::app {
namespace {

// The chat messages of one trial: the haystack and question, then the answer prefix as the start
// of the assistant's reply, which the server continues (the in-process prompt is the template
// with its generation prompt followed by the prefix: the same text).
std::vector<ChatMessage> trialMessages(const std::string &userMessage, const std::string &answerPrefix)
{
    std::vector<ChatMessage> messages { { "user", userMessage } };
    if (!answerPrefix.empty())
        messages.push_back({ "assistant", answerPrefix });
    return messages;
}

nlohmann::json engineJson(const RemoteEngine &engine, bool exactText)
{
    return { { "url", engine.url().toStdString() }, { "model", engine.modelId() },
        { "context_tokens", engine.contextTokens() }, { "context_source", engine.contextSource().toStdString() },
        { "prompt_token_count", std::string(remoteTokenCountName(engine.tokenCount())) },
        { "haystack_token_count", exactText ? "server" : "estimate" } };
}

} // namespace

NeedleRunOutcome runRemoteNeedle(const NeedleConfig &cfg, const FillerText &filler, const RemoteEngine &engine,
    const std::atomic<bool> &cancel, const std::function<void(const NeedleProgress &)> &progress,
    const std::function<void(const NeedleResults &)> &saved)
{
    if (cfg.lengths.empty() || cfg.depths.empty() || cfg.variants.empty() || cfg.trials < 1)
        fail("the needle run needs at least one length, depth, variant and trial");
    if (!cfg.kvModes.empty())
        fail("KV modes do not apply to a remote engine: the server runs its own KV cache");
    if (!cfg.needleSet.isPassKey()
        && std::find(cfg.variants.begin(), cfg.variants.end(), NeedleVariant::MultiKey) != cfg.variants.end())
        fail("the multi-key variant needs the pass-key needles; the needle set {} has none", cfg.needleSet.name);
    auto log = nw::log::get("app");

    NeedleRunOutcome outcome;
    const bool exactText = engine.countsTextExactly();
    if (!exactText)
        outcome.notes << QStringLiteral(
            "haystack lengths are estimates (characters / 4): the server at %1 has no /tokenize endpoint")
                             .arg(engine.url());
    if (cfg.perplexity)
        outcome.notes << QStringLiteral(
            "no perplexity: a remote engine is not asked for the log-probabilities of a given text");

    // The mode label: the server's own KV mode when its /metrics names one.
    const std::optional<RemoteKvFigures> before = engine.kvFigures();
    const std::string mode = before && !before->kvMode.empty() ? "remote:" + before->kvMode : "remote";
    log->info("needle: remote engine {}, model {}, mode label {}", engine.url().toStdString(), engine.modelId(), mode);

    outcome.lengths = cfg.lengths;
    outcome.depths = cfg.depths;
    std::sort(outcome.lengths.begin(), outcome.lengths.end());
    outcome.lengths.erase(std::unique(outcome.lengths.begin(), outcome.lengths.end()), outcome.lengths.end());
    std::sort(outcome.depths.begin(), outcome.depths.end());
    outcome.depths.erase(std::unique(outcome.depths.begin(), outcome.depths.end()), outcome.depths.end());

    // The longest prompt must fit the server's context with the answer, or every trial of that
    // length would come back as an HTTP 400.
    std::int64_t overhead = 0;
    auto roomFor = [&](const std::string &question, const std::string &answerPrefix) {
        const std::int64_t n = engine.countTokens(trialMessages(needleUserMessage("", question), answerPrefix));
        overhead = std::max(overhead, n + 8);
    };
    if (cfg.needleSet.isPassKey())
        roomFor(needleQuestion("abcdefgh"), needleAnswerPrefix("abcdefgh"));
    for (const NeedleText &n : cfg.needleSet.needles)
        roomFor(n.question, "");
    const std::int64_t capacity = outcome.lengths.back() + overhead + cfg.answerTokens;
    if (capacity > engine.contextTokens())
        fail("a haystack of {} tokens with its question and answer needs about {} tokens; the server at {} holds {} "
             "(use shorter --lengths)",
            outcome.lengths.back(), capacity, engine.url().toStdString(), engine.contextTokens());

    if (!QDir().mkpath(cfg.outDir))
        fail("cannot create the output directory {}", cfg.outDir.toStdString());
    const QString jsonPath = QDir(cfg.outDir).filePath(QStringLiteral("results.json"));
    const QString csvPath = QDir(cfg.outDir).filePath(QStringLiteral("results.csv"));
    const std::string modelName = engine.modelId();
    NeedleResults &results = outcome.results;
    if (std::optional<NeedleResults> previous = readNeedleResultsJson(jsonPath)) {
        if (previous->model != modelName || previous->seed != cfg.seed || previous->needleSet != cfg.needleSet.name
            || previous->engine.is_null())
            fail("{} holds results of model {} ({}) with seed {} and needles {}; this run is {} at {} with seed {} "
                 "and needles {} (use another --out)",
                jsonPath.toStdString(), previous->model, previous->engine.is_null() ? "in process" : "remote",
                previous->seed, previous->needleSet, modelName, engine.url().toStdString(), cfg.seed,
                cfg.needleSet.name);
        results = std::move(*previous);
    } else {
        results.model = modelName;
        results.seed = cfg.seed;
        results.needleSet = cfg.needleSet.name;
    }
    results.engine = engineJson(engine, exactText);

    NeedleProgress p;
    p.mode = mode;
    for (std::int64_t length : outcome.lengths)
        for (int depth : outcome.depths)
            for (NeedleVariant variant : cfg.variants)
                for (int trial = 0; trial < cfg.trials; ++trial) {
                    if (results.hasTrial({ mode, length, depth, std::string(needleVariantName(variant)), trial }))
                        ++outcome.trialsSkipped;
                    else
                        ++p.total;
                }

    auto save = [&] {
        writeNeedleResultsJson(results, jsonPath);
        writeNeedleResultsCsv(results, csvPath);
        if (saved)
            saved(results);
    };
    QElapsedTimer clock;
    clock.start();
    auto report = [&] {
        p.elapsedSeconds = static_cast<double>(clock.elapsed()) / 1000.0;
        p.etaSeconds = p.done > 0
            ? p.elapsedSeconds / static_cast<double>(p.done) * static_cast<double>(p.total - p.done)
            : -1.0;
        if (progress)
            progress(p);
    };

    // A haystack asks the server for the count of many overlapping texts; the same text twice
    // (a needle sentence, a filler sentence) is asked once.
    std::map<std::string, std::int64_t, std::less<>> counted;
    const NeedleTokenCounter counter = [&](std::string_view text) {
        if (const auto it = counted.find(text); it != counted.end())
            return it->second;
        const std::int64_t n = engine.countTextTokens(text);
        if (text.size() < 512) // short texts repeat; the long cuts of the trim do not
            counted.emplace(std::string(text), n);
        return n;
    };
    RemoteChatOptions options;
    options.maxTokens = cfg.answerTokens;
    options.seed = 0;

    for (std::int64_t length : outcome.lengths) {
        for (int depth : outcome.depths) {
            for (NeedleVariant variant : cfg.variants) {
                const std::string variantName(needleVariantName(variant));
                std::vector<NeedleTrial> cell;
                for (int trial = 0; trial < cfg.trials && !cancel.load(); ++trial) {
                    if (results.hasTrial({ mode, length, depth, variantName, trial }))
                        continue;
                    p.length = length;
                    p.depth = depth;
                    p.variant = variantName;
                    report();
                    const Haystack h = buildHaystack(counter, filler,
                        { .tokens = length,
                            .depthPercent = depth,
                            .variant = variant,
                            .seed = trialSeed(cfg.seed, length, depth, variant, trial),
                            .needleSet = &cfg.needleSet });
                    const PlacedNeedle &asked = h.askedNeedle();
                    options.continueFinalMessage = !asked.answerPrefix.empty();
                    const RemoteChatResult r
                        = engine.chat(trialMessages(needleUserMessage(h.text, asked.question), asked.answerPrefix),
                            options, {}, &cancel);
                    if (r.finishReason == "cancelled")
                        break;
                    const std::optional<RemoteKvFigures> kv = engine.kvFigures();
                    const NeedleScore score = scoreNeedleAnswer(r.text, asked.answer);
                    NeedleTrial t { .mode = mode,
                        .length = length,
                        .depth = depth,
                        .variant = variantName,
                        .trial = trial,
                        .key = asked.key,
                        .value = asked.value,
                        .question = asked.question,
                        .expected = asked.answer,
                        .answer = r.text,
                        .exact = score.exact,
                        .lenient = score.lenient,
                        .actualDepth = h.depthPercent,
                        .promptTokens = std::max(r.promptTokens, 0),
                        .seconds = r.totalSeconds };
                    if (kv) {
                        t.remoteKv = remoteKvToJson(*kv);
                        t.kvBytesTotal = kv->bytesUsed.value_or(0);
                        if (kv->bytesUsed && kv->tokensCached && *kv->tokensCached > 0) {
                            t.kvBytesPerToken = *kv->bytesUsed / static_cast<std::uint64_t>(*kv->tokensCached);
                            t.kvTokens = *kv->tokensCached; // the context those bytes were held for
                        }
                    }
                    cell.push_back(std::move(t));
                    ++p.done;
                    ++outcome.trialsRun;
                }
                if (cancel.load()) {
                    // A cell is saved whole or not at all, as in process.
                    p.done -= static_cast<std::int64_t>(cell.size());
                    outcome.trialsRun -= static_cast<std::int64_t>(cell.size());
                    break;
                }
                if (!cell.empty()) {
                    results.trials.insert(results.trials.end(), cell.begin(), cell.end());
                    save();
                }
            }
            if (cancel.load())
                break;
        }
        if (cancel.load())
            break;
    }
    outcome.cancelled = cancel.load();
    save();
    outcome.files << jsonPath << csvPath;
    report();

    // The heatmap of the one mode; no Pareto chart (one point, and its bytes are the server's).
    const bool canDrawText = qobject_cast<QGuiApplication *>(QCoreApplication::instance()) != nullptr;
    NeedleGrid grid = needleGrid(results, mode, outcome.lengths, outcome.depths);
    const QString base = QDir(cfg.outDir).filePath(needleHeatmapBaseName(grid.mode));
    if (canDrawText) {
        writeNeedleHeatmaps(grid, cfg.outDir);
        outcome.files << base + QStringLiteral(".png");
    } else {
        writeOutputFile(base + QStringLiteral(".svg"), needleHeatmapSvg(grid));
        outcome.notes << QStringLiteral("PNG heatmap skipped: drawing text needs a QGuiApplication (SVG written)");
    }
    outcome.files << base + QStringLiteral(".svg");
    outcome.grids.push_back(std::move(grid));
    return outcome;
}

} // namespace nw::app
