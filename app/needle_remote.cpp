// The needle harness against a remote engine: its trials (the grid walk is app/needle_walk.h).
#include "app/needle_remote.h"

#include "app/ask_report.h"
#include "app/needle_walk.h"
#include "app/remote_engine.h"
#include "common/error.h"
#include "common/log.h"

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
    NeedleRunOutcome outcome;
    NeedleWalk walk(cfg, outcome, cancel, progress, saved);
    if (!cfg.kvModes.empty())
        fail("KV modes do not apply to a remote engine: the server runs its own KV cache");
    auto log = nw::log::get("app");

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

    const std::string modelName = engine.modelId();
    walk.open(modelName, [&](const NeedleResults &previous) {
        if (previous.model != modelName || previous.seed != cfg.seed || previous.needleSet != cfg.needleSet.name
            || previous.engine.is_null())
            fail("{} holds results of model {} ({}) with seed {} and needles {}; this run is {} at {} with seed {} "
                 "and needles {} (use another --out)",
                walk.jsonPath().toStdString(), previous.model, previous.engine.is_null() ? "in process" : "remote",
                previous.seed, previous.needleSet, modelName, engine.url().toStdString(), cfg.seed, cfg.needleSet.name);
    });
    outcome.results.engine = engineJson(engine, exactText);
    walk.count({ mode });

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

    // One trial against the server: the haystack sized by its count, the messages, its answer and KV figures.
    const auto runTrial
        = [&](std::int64_t length, int depth, NeedleVariant variant, int trial) -> std::optional<NeedleTrial> {
        const std::string variantName(needleVariantName(variant));
        const Haystack h = buildHaystack(counter, filler,
            { .tokens = length,
                .depthPercent = depth,
                .variant = variant,
                .seed = trialSeed(cfg.seed, length, depth, variant, trial),
                .needleSet = &cfg.needleSet });
        const PlacedNeedle &asked = h.askedNeedle();
        options.continueFinalMessage = !asked.answerPrefix.empty();
        const RemoteChatResult r = engine.chat(
            trialMessages(needleUserMessage(h.text, asked.question), asked.answerPrefix), options, {}, &cancel);
        if (r.finishReason == "cancelled")
            return std::nullopt;
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
        return t;
    };
    walk.run(mode, runTrial);
    walk.finish();

    // The heatmap of the one mode; no Pareto chart (one point, and its bytes are the server's).
    writeNeedleCharts(outcome, { mode }, cfg.outDir, false);
    return outcome;
}

} // namespace nw::app
