// The needle harness in process: its trials (the grid walk is app/needle_walk.h), its summary table and JSON.
#include "app/needle_runner.h"

#include "app/ask_report.h"
#include "app/ingest_progress.h"
#include "app/needle_pareto.h"
#include "app/needle_remote.h"
#include "app/needle_walk.h"
#include "common/error.h"
#include "common/log.h"
#include "engine/architecture.h"
#include "engine/chat_template.h"
#include "engine/generator.h"
#include "engine/gguf_file.h"
#include "engine/hparams.h"
#include "engine/kv_cache.h"
#include "engine/model.h"
#include "engine/tokenizer.h"

#include <QElapsedTimer>
#include <QFileInfo>

#include <algorithm>
#include <set>
#include <span>

namespace nw::app {
namespace {

constexpr std::int64_t kMaxPerplexityChunks = 8;

// Clears the runner's generator pointer when a mode's generator goes away, even on a throw.
struct GeneratorRegistration {
    std::atomic<Generator *> &slot;
    GeneratorRegistration(std::atomic<Generator *> &s, Generator *generator)
        : slot(s)
    {
        slot.store(generator);
    }
    ~GeneratorRegistration() { slot.store(nullptr); }
};

// The grids by KV bytes per token, as the summaries list them (--kv order among equals).
std::vector<const NeedleGrid *> gridsByBytes(const std::vector<NeedleGrid> &grids)
{
    std::vector<const NeedleGrid *> out;
    for (const NeedleGrid &g : grids)
        out.push_back(&g);
    std::stable_sort(out.begin(), out.end(),
        [](const NeedleGrid *a, const NeedleGrid *b) { return a->kvBytesHeldPerToken < b->kvBytesHeldPerToken; });
    return out;
}

// The modes on the Pareto frontier of bytes per token against exact recall.
std::set<std::string> frontierModes(const std::vector<NeedleGrid> &grids)
{
    const std::vector<ParetoPoint> points = needleParetoPoints(grids);
    std::set<std::string> out;
    for (std::size_t i : paretoFrontier(points))
        out.insert(points[i].label);
    return out;
}

} // namespace

NeedleRunner::NeedleRunner(NeedleConfig config, FillerText filler)
    : m_config(std::move(config))
    , m_filler(std::move(filler))
{
}

NeedleRunner::~NeedleRunner() = default;

void NeedleRunner::cancel()
{
    m_cancel.store(true, std::memory_order_relaxed);
    if (Generator *generator = m_generator.load())
        generator->cancel();
}

NeedleRunOutcome NeedleRunner::run(const std::function<void(const NeedleProgress &)> &progress,
    const std::function<void(const NeedleResults &)> &saved)
{
    if (m_config.engine && m_config.compressBeforeQuestion)
        fail("--compress-before-question applies to the in-process engine: a server compresses its own cache, if "
             "at all, and cannot be asked to do it before the question");
    if (m_config.engine) // a server answers: app/needle_remote.cpp
        return runRemoteNeedle(m_config, m_filler, *m_config.engine, m_cancel, progress, saved);
    const NeedleConfig &cfg = m_config;
    NeedleRunOutcome outcome;
    NeedleWalk walk(cfg, outcome, m_cancel, progress, saved);
    auto log = nw::log::get("app");

    std::shared_ptr<GgufFile> gguf = GgufFile::open(cfg.modelPath.toStdString());
    std::unique_ptr<Model> model = loadModel(gguf, { .threads = cfg.threads });
    std::unique_ptr<Tokenizer> tokenizer = Tokenizer::fromGguf(*gguf);
    const ChatTemplate chat
        = ChatTemplate::detect(gguf->findString("tokenizer.chat_template").value_or(""), model->hparams().arch);
    log->info("needle: model {}, chat template {}", cfg.modelPath.toStdString(), chatFamilyName(chat.family()));

    std::vector<KvModeSpec> specs;
    for (const std::string &mode : cfg.kvModes)
        specs.push_back(KvModeSpec::parse(mode));
    if (specs.empty())
        specs.push_back(KvModeSpec { .mode = model->kvModes().front() });
    for (const KvModeSpec &spec : specs)
        (void)model->makeKvCache(spec, 1); // a mode the model cannot run fails here, before any work

    const std::string modelName = QFileInfo(cfg.modelPath).fileName().toStdString();
    walk.open(modelName, [&](const NeedleResults &previous) {
        if (previous.model != modelName || previous.seed != cfg.seed || previous.needleSet != cfg.needleSet.name)
            fail("{} holds results of model {} with seed {} and needles {}; this run is {} with seed {} and needles {} "
                 "(use another --out)",
                walk.jsonPath().toStdString(), previous.model, previous.seed, previous.needleSet, modelName, cfg.seed,
                cfg.needleSet.name);
        if (previous.compressBeforeQuestion != cfg.compressBeforeQuestion)
            fail("{} holds results {} --compress-before-question; this run is {} it (use another --out)",
                walk.jsonPath().toStdString(), previous.compressBeforeQuestion ? "with" : "without",
                cfg.compressBeforeQuestion ? "with" : "without");
    });
    NeedleResults &results = outcome.results;
    results.compressBeforeQuestion = cfg.compressBeforeQuestion; // a resumed file was checked to match
    if (cfg.compressBeforeQuestion)
        outcome.notes << QStringLiteral("--compress-before-question: snapkv modes compressed each haystack before "
                                        "its question was prefilled; other modes are unchanged by it");
    std::vector<std::string> modes;
    for (const KvModeSpec &spec : specs)
        modes.push_back(spec.toString());
    walk.count(modes); // what this run has to do, for the progress bar

    // Room for the template and the longest question around the longest haystack, and the answer.
    std::int64_t overhead = 0;
    auto roomFor = [&](const std::string &question, const std::string &answerPrefix) {
        const std::string probe
            = chat.apply(std::vector<ChatMessage> { { "user", needleUserMessage("", question) } }, true) + answerPrefix;
        overhead = std::max(overhead, static_cast<std::int64_t>(tokenizer->encode(probe, true, true).size()) + 8);
    };
    if (cfg.needleSet.isPassKey())
        roomFor(needleQuestion("abcdefgh"), needleAnswerPrefix("abcdefgh"));
    for (const NeedleText &n : cfg.needleSet.needles)
        roomFor(n.question, "");
    const std::int64_t capacity = outcome.lengths.back() + overhead + cfg.answerTokens + 8;
    if (model->hparams().nCtxTrain > 0 && capacity > model->hparams().nCtxTrain)
        log->warn("needle: {} tokens exceed the model's trained context of {}; accuracy past it says little", capacity,
            model->hparams().nCtxTrain);

    const std::int64_t pplCtx = cfg.perplexityCtx > 0
        ? cfg.perplexityCtx
        : std::min<std::int64_t>(256, model->hparams().nCtxTrain > 0 ? model->hparams().nCtxTrain : 256);
    std::vector<std::int32_t> heldOut;
    if (cfg.perplexity) {
        heldOut = tokenizer->encode(m_filler.heldOut(), true, false);
        if (static_cast<std::int64_t>(heldOut.size()) > kMaxPerplexityChunks * pplCtx)
            heldOut.resize(static_cast<std::size_t>(kMaxPerplexityChunks * pplCtx));
        if (static_cast<std::int64_t>(heldOut.size()) < pplCtx) {
            outcome.notes << QStringLiteral(
                "no perplexity: the held-out text has %1 tokens, fewer than one chunk of %2")
                                 .arg(heldOut.size())
                                 .arg(pplCtx);
            heldOut.clear();
        }
    }

    GenerateOptions options;
    options.maxTokens = cfg.answerTokens;
    options.sampler.greedy = true;
    options.stopStrings = chat.stopStrings();
    options.parseSpecial = true; // the template's control tokens

    for (const KvModeSpec &spec : specs) {
        if (m_cancel.load())
            break;
        const std::string mode = spec.toString();
        if (!heldOut.empty() && !results.findPerplexity(mode)) {
            walk.reportPerplexity(mode);
            const std::int32_t bos = tokenizer->vocab().spec().addBos ? tokenizer->bos() : -1;
            const PerplexityResult r = measurePerplexity(*model, heldOut, pplCtx, bos, spec);
            results.perplexity.push_back({ .mode = mode,
                .ppl = r.ppl,
                .error = r.error,
                .ctx = pplCtx,
                .scoredTokens = r.scored,
                .kvBytesPerToken = r.memory.bytesPerToken });
            walk.save();
        }

        Generator generator(*model, *tokenizer, spec, capacity);
        GeneratorRegistration registration(m_generator, &generator);
        if (m_cancel.load()) // a cancel between the check above and the registration
            break;
        // One trial in process: the haystack, the question through the chat template, a greedy answer.
        const auto runTrial
            = [&](std::int64_t length, int depth, NeedleVariant variant, int trial) -> std::optional<NeedleTrial> {
            const std::string variantName(needleVariantName(variant));
            const Haystack h = buildHaystack(*tokenizer, m_filler,
                { .tokens = length,
                    .depthPercent = depth,
                    .variant = variant,
                    .seed = trialSeed(cfg.seed, length, depth, variant, trial),
                    .needleSet = &cfg.needleSet });
            const PlacedNeedle &asked = h.askedNeedle();
            const std::string prompt
                = chat.apply(std::vector<ChatMessage> { { "user", needleUserMessage(h.text, asked.question) } }, true)
                + asked.answerPrefix;
            const std::vector<std::int32_t> tokens = tokenizer->encode(prompt, true, true);
            double headSeconds = 0; // prefilling the haystack before the question
            if (cfg.compressBeforeQuestion && spec.snapkv > 0) {
                // The prompt up to the haystack's end alone, so the cache is compressed with the
                // haystack's last tokens as the observation window; the question and answer prefix
                // then continue it (Generator::prefill).
                const std::size_t end = prompt.find(h.text);
                if (end == std::string::npos)
                    fail("--compress-before-question: the {} chat template changed the haystack's text, so its "
                         "end cannot be found in the prompt",
                        chatFamilyName(chat.family()));
                const std::vector<std::int32_t> head
                    = tokenizer->encode(prompt.substr(0, end + h.text.size()), true, true);
                // Tokens at the seam may merge differently: the common part only.
                const auto common = std::mismatch(head.begin(), head.end(), tokens.begin(), tokens.end());
                const std::size_t n = static_cast<std::size_t>(common.first - head.begin());
                QElapsedTimer headClock;
                headClock.start();
                generator.prefill(std::span<const std::int32_t>(tokens).first(n), options.prefillChunk);
                headSeconds = static_cast<double>(headClock.nsecsElapsed()) / 1e9;
            }
            const GenerationResult r = generator.generateFromTokens(tokens, options);
            if (r.stop == StopReason::Cancelled)
                return std::nullopt;
            const NeedleScore score = scoreNeedleAnswer(r.text, asked.answer);
            return NeedleTrial { .mode = mode,
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
                .promptTokens = static_cast<std::int64_t>(tokens.size()),
                .kvBytesPerToken = r.memory.bytesPerToken,
                .kvBytesTotal = r.memory.kvBytesUsed,
                .kvTokens = r.memory.tokens,
                .seconds = headSeconds + r.prefillSeconds + r.decodeSeconds };
        };
        walk.run(mode, runTrial);
    }
    walk.finish();
    writeNeedleCharts(outcome, modes, cfg.outDir, true);
    return outcome;
}

QString needleSummaryTable(const NeedleRunOutcome &outcome)
{
    QStringList header { QStringLiteral("KV mode"), QStringLiteral("B/token"), QStringLiteral("KV total"),
        QStringLiteral("PPL"), QStringLiteral("exact"), QStringLiteral("lenient"), QStringLiteral("trials"),
        QStringLiteral("Pareto") };
    for (std::int64_t length : outcome.lengths)
        header << QString::fromStdString(formatTokenCount(length));
    std::vector<QStringList> rows { header };
    const std::set<std::string> frontier = frontierModes(outcome.grids);
    for (const NeedleGrid *grid : gridsByBytes(outcome.grids)) {
        const NeedleGrid &g = *grid;
        const NeedleCell all = g.total();
        QStringList row { QString::fromStdString(g.mode), QString::number(g.kvBytesHeldPerToken, 'f', 0),
            g.kvBytesTotal ? formatBytes(g.kvBytesTotal) : QStringLiteral("-"),
            g.ppl ? QString::number(*g.ppl, 'f', 3) : QStringLiteral("-"),
            all.trials ? QStringLiteral("%1 %").arg(100.0 * all.exactRate(), 0, 'f', 1) : QStringLiteral("-"),
            all.trials ? QStringLiteral("%1 %").arg(100.0 * all.lenientRate(), 0, 'f', 1) : QStringLiteral("-"),
            QString::number(all.trials), frontier.count(g.mode) ? QStringLiteral("*") : QString() };
        for (std::size_t c = 0; c < g.lengths.size(); ++c) {
            NeedleCell column;
            for (std::size_t r = 0; r < g.depths.size(); ++r) {
                column.trials += g.cell(r, c).trials;
                column.exact += g.cell(r, c).exact;
            }
            row << (column.trials ? QStringLiteral("%1 %").arg(100.0 * column.exactRate(), 0, 'f', 0)
                                  : QStringLiteral("-"));
        }
        rows.push_back(row);
    }
    std::vector<qsizetype> widths(static_cast<std::size_t>(header.size()), 0);
    for (const QStringList &row : rows)
        for (qsizetype i = 0; i < row.size(); ++i)
            widths[static_cast<std::size_t>(i)] = std::max(widths[static_cast<std::size_t>(i)], row[i].size());
    QString out;
    for (const QStringList &row : rows) {
        QString line;
        for (qsizetype i = 0; i < row.size(); ++i) {
            const int w = static_cast<int>(widths[static_cast<std::size_t>(i)]);
            line += i == 0 ? row[i].leftJustified(w) : QStringLiteral("  ") + row[i].rightJustified(w);
        }
        out += line + QLatin1Char('\n');
    }
    return out;
}

nlohmann::json needleSummaryJson(const NeedleRunOutcome &outcome, const QString &outDir)
{
    nlohmann::json modes = nlohmann::json::array();
    const std::set<std::string> frontier = frontierModes(outcome.grids);
    for (const NeedleGrid *grid : gridsByBytes(outcome.grids)) {
        const NeedleGrid &g = *grid;
        const NeedleCell all = g.total();
        nlohmann::json byLength = nlohmann::json::array();
        for (std::size_t c = 0; c < g.lengths.size(); ++c) {
            NeedleCell column;
            for (std::size_t r = 0; r < g.depths.size(); ++r) {
                column.trials += g.cell(r, c).trials;
                column.exact += g.cell(r, c).exact;
                column.lenient += g.cell(r, c).lenient;
            }
            byLength.push_back({ { "length", g.lengths[c] }, { "trials", column.trials },
                { "exact", column.exactRate() }, { "lenient", column.lenientRate() } });
        }
        const NeedlePerplexity *ppl = outcome.results.findPerplexity(g.mode);
        modes.push_back({ { "mode", g.mode }, { "kv_bytes_held_per_token", g.kvBytesHeldPerToken },
            { "kv_bytes_per_token", g.kvBytesPerToken }, { "kv_bytes_total", g.kvBytesTotal },
            { "kv_bytes_total_length", g.kvBytesTotalLength }, { "kv_bytes_total_tokens", g.kvBytesTotalTokens },
            { "ppl", ppl ? nlohmann::json(ppl->ppl) : nlohmann::json(nullptr) },
            { "ppl_error", ppl ? nlohmann::json(ppl->error) : nlohmann::json(nullptr) }, { "trials", all.trials },
            { "exact", all.exactRate() }, { "lenient", all.lenientRate() }, { "pareto", frontier.count(g.mode) > 0 },
            { "by_length", byLength } });
    }
    nlohmann::json files = nlohmann::json::array();
    for (const QString &f : outcome.files)
        files.push_back(f.toStdString());
    nlohmann::json notes = nlohmann::json::array();
    for (const QString &n : outcome.notes)
        notes.push_back(n.toStdString());
    return { { "model", outcome.results.model }, { "seed", outcome.results.seed },
        { "needles", outcome.results.needleSet },
        { "compress_before_question", outcome.results.compressBeforeQuestion }, { "out", outDir.toStdString() },
        { "trials_run", outcome.trialsRun }, { "trials_skipped", outcome.trialsSkipped },
        { "cancelled", outcome.cancelled }, { "modes", modes }, { "files", files }, { "notes", notes } };
}

QString needleProgressLine(const NeedleProgress &p, int width)
{
    const int digits = static_cast<int>(QString::number(p.total).size());
    constexpr int kBar = 20;
    const int filled = p.total > 0 ? static_cast<int>(kBar * p.done / p.total) : 0;
    QString line = QLatin1Char('[') + QString(filled, QLatin1Char('#')) + QString(kBar - filled, QLatin1Char('.'))
        + QStringLiteral("] %1/%2 ").arg(p.done, digits).arg(p.total);
    if (p.perplexity)
        line += QStringLiteral("%1 perplexity").arg(QString::fromStdString(p.mode));
    else
        line += QStringLiteral("%1 %2 depth %3 % %4")
                    .arg(QString::fromStdString(p.mode), QString::fromStdString(formatTokenCount(p.length)))
                    .arg(p.depth)
                    .arg(QString::fromStdString(p.variant));
    line += QStringLiteral("  %1 elapsed  ETA %2").arg(formatDuration(p.elapsedSeconds), formatDuration(p.etaSeconds));
    if (width > 0 && line.size() > width)
        line = line.left(std::max(0, width - 1)) + QChar(0x2026);
    return line;
}

std::vector<NeedleKvChoice> needleKvChoices(const QString &modelPath)
{
    const std::unique_ptr<GgufFile> gguf = GgufFile::open(modelPath.toStdString());
    const HParams hp = HParams::fromGguf(*gguf);
    const std::vector<KvMode> &modes = requireArchitecture(gguf->label(), hp.arch).kvModes;
    std::vector<std::string> bases { "full", "mla" };
    const std::int64_t width = std::min(hp.nKvHeads * hp.headDimK, hp.nKvHeads * hp.headDimV);
    for (std::int64_t divisor : { 1, 2, 4, 8 }) {
        const std::int64_t rank = width / divisor;
        const std::string mode = "latent:" + std::to_string(rank);
        if (rank >= 2 && rank % 2 == 0 && width % divisor == 0
            && std::find(bases.begin(), bases.end(), mode) == bases.end())
            bases.push_back(mode);
    }
    std::vector<NeedleKvChoice> out;
    for (const char *quant : { "", "+q8", "+q4" }) {
        for (const std::string &base : bases) {
            const KvModeSpec spec = KvModeSpec::parse(base + quant);
            if (std::find(modes.begin(), modes.end(), spec.mode) == modes.end())
                continue; // not a mode of this architecture
            try {
                const KvLayout layout = KvLayout::forModel(hp, spec);
                out.push_back({ spec.toString(),
                    static_cast<std::uint64_t>(layout.bytesPerTokenLayer()) * static_cast<std::uint64_t>(hp.nLayers) });
            } catch (const Error &) {
                // the model cannot hold this mode: not offered
            }
        }
    }
    return out;
}

} // namespace nw::app
