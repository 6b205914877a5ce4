// `needlework needle`: the needle-in-a-haystack harness — recall of a planted pass key over
// context lengths × depths for each KV mode, with heatmaps, a summary and perplexity beside it.
#include "app/commands/commands.h"
#include "app/commands/interrupt_guard.h"

#include "app/needle_runner.h"
#include "app/needle_set.h"
#include "app/remote_engine.h"
#include "common/error.h"
#include "engine/gguf_file.h"

#include <QDir>
#include <QStringList>

namespace nw::app {
namespace {

// Runs in the signal handler: NeedleRunner::cancel() is atomic stores only.
void cancelNeedleRun(void *runner)
{
    static_cast<NeedleRunner *>(runner)->cancel();
}

QStringList listOption(const QCommandLineParser &parser, const QString &name)
{
    QStringList out;
    for (const QString &value : parser.values(name))
        for (const QString &item : value.split(QLatin1Char(','), Qt::SkipEmptyParts))
            out << item.trimmed();
    return out;
}

// Lengths a context can hold when --lengths is not given: 1k, 2k, 4k, 8k that fit it with room
// for the question, or quarters of a small context. `source` names it in the error.
std::vector<std::int64_t> defaultLengths(std::int64_t train, const QString &source)
{
    const std::int64_t room = train - 64;
    std::vector<std::int64_t> out;
    for (std::int64_t l : { 1024, 2048, 4096, 8192 })
        if (l <= room)
            out.push_back(l);
    if (out.empty())
        for (std::int64_t l : { room / 4, room / 2, room })
            if (l >= 32)
                out.push_back(l);
    if (out.empty())
        fail("{}: a context of {} tokens is too short for a needle test", source.toStdString(), train);
    return out;
}

std::vector<std::int64_t> defaultLengths(const QString &modelPath)
{
    std::shared_ptr<GgufFile> gguf = GgufFile::open(modelPath.toStdString());
    const std::string arch = gguf->findString("general.architecture").value_or("");
    return defaultLengths(gguf->findInt(arch + ".context_length").value_or(4096), modelPath);
}

int runNeedle(const QCommandLineParser &parser, CommandIo &io)
{
    auto usage = [&io](const QString &message) {
        io.err << "needlework needle: " << message << " (see 'needlework needle --help')\n";
        return static_cast<int>(ExitUsage);
    };
    NeedleConfig cfg;
    cfg.modelPath = parser.value(QStringLiteral("model"));
    // --engine URL: a server answers; --model is then its model's name (optional).
    const bool remote = parser.isSet(QStringLiteral("engine"));
    if (remote) {
        if (parser.isSet(QStringLiteral("kv")))
            return usage(QStringLiteral("--kv does not apply with --engine: the server runs its own KV cache (start "
                                        "it with its KV mode, e.g. `needlework serve --kv MODE`); its /metrics "
                                        "figures are recorded per trial instead"));
        if (parser.isSet(QStringLiteral("compress-before-question")))
            return usage(QStringLiteral("--compress-before-question applies to the in-process engine: a server "
                                        "compresses its own cache, if at all, and cannot be told to do it before "
                                        "the question"));
        for (const char *local : { "threads", "ppl-ctx" })
            if (parser.isSet(QString::fromLatin1(local)))
                return usage(QStringLiteral("--%1 applies to the in-process engine, not with --engine")
                                 .arg(QString::fromLatin1(local)));
    } else if (parser.isSet(QStringLiteral("api-key-file"))) {
        return usage(QStringLiteral("--api-key-file goes with --engine URL"));
    } else if (cfg.modelPath.isEmpty()) {
        return usage(QStringLiteral("--model M.gguf (or --engine URL) is required"));
    }
    const bool hasDb = parser.isSet(QStringLiteral("db"));
    const bool hasDocs = parser.isSet(QStringLiteral("docs"));
    if (hasDb && hasDocs)
        return usage(QStringLiteral("give --db FILE or --docs FILES, not both"));
    if (!hasDocs && !parser.positionalArguments().isEmpty())
        return usage(QStringLiteral("unexpected argument '%1' (files go after --docs)")
                         .arg(parser.positionalArguments().front()));

    if (parser.isSet(QStringLiteral("lengths")))
        cfg.lengths = integerValues(parser, QStringLiteral("lengths"));
    if (parser.isSet(QStringLiteral("depths"))) {
        cfg.depths.clear();
        for (std::int64_t d : integerValues(parser, QStringLiteral("depths")))
            cfg.depths.push_back(int(d));
    }
    for (const QString &item : listOption(parser, QStringLiteral("kv")))
        cfg.kvModes.push_back(item.toStdString());
    if (parser.isSet(QStringLiteral("variants"))) {
        cfg.variants.clear();
        for (const QString &item : listOption(parser, QStringLiteral("variants"))) {
            try {
                cfg.variants.push_back(parseNeedleVariant(item.toStdString()));
            } catch (const Error &e) {
                return usage(QString::fromStdString(e.what()));
            }
        }
    }
    if (parser.isSet(QStringLiteral("needles")))
        cfg.needleSet = loadNeedleSet(parser.value(QStringLiteral("needles")));
    cfg.trials = int(integerValue(parser, QStringLiteral("trials"), cfg.trials));
    cfg.threads = int(integerValue(parser, QStringLiteral("threads"), cfg.threads));
    cfg.perplexityCtx = int(integerValue(parser, QStringLiteral("ppl-ctx"), 0));
    cfg.perplexity = !parser.isSet(QStringLiteral("no-ppl"));
    cfg.compressBeforeQuestion = parser.isSet(QStringLiteral("compress-before-question"));
    cfg.seed = std::uint64_t(integerValue(parser, QStringLiteral("seed"), std::int64_t(cfg.seed)));
    cfg.outDir
        = parser.isSet(QStringLiteral("out")) ? parser.value(QStringLiteral("out")) : QStringLiteral("needle-results");
    if (remote) {
        RemoteEngineSettings settings;
        settings.url = parser.value(QStringLiteral("engine"));
        settings.model = cfg.modelPath;
        settings.apiKey = remoteApiKey(parser.value(QStringLiteral("api-key-file")));
        cfg.engine = std::make_shared<const RemoteEngine>(settings);
        cfg.modelPath.clear();
        if (!parser.isSet(QStringLiteral("lengths")))
            cfg.lengths = defaultLengths(cfg.engine->contextTokens(), cfg.engine->url());
    } else if (!parser.isSet(QStringLiteral("lengths"))) {
        cfg.lengths = defaultLengths(cfg.modelPath);
    }

    FillerText filler = hasDocs
        ? FillerText::fromFiles(parser.values(QStringLiteral("docs")) + parser.positionalArguments())
        : hasDb ? FillerText::fromDatabase(parser.value(QStringLiteral("db")))
                : FillerText::sampleCorpus();

    const bool json = parser.isSet(QStringLiteral("json"));
    const bool live = io.errIsTerminal && !json;
    const int width = live ? stderrTerminalWidth() - 1 : 0;
    NeedleRunner runner(cfg, std::move(filler));
    NeedleRunOutcome outcome;
    {
        InterruptGuard guard(cancelNeedleRun, &runner);
        outcome = runner.run([&](const NeedleProgress &p) {
            if (!live)
                return;
            QString line = needleProgressLine(p, width);
            if (runner.cancelRequested())
                line = QStringLiteral("stopping… ") + line;
            io.err << "\r\x1b[2K" << line.left(width);
            io.err.flush();
        });
    }
    if (live)
        io.err << "\r\x1b[2K";

    if (json) {
        io.out << QString::fromStdString(
            needleSummaryJson(outcome, cfg.outDir).dump(2, ' ', false, nlohmann::json::error_handler_t::replace))
               << '\n';
    } else {
        io.out << needleSummaryTable(outcome);
        io.err << QStringLiteral("%1 trials run, %2 already in %3; results and heatmaps in %4\n")
                      .arg(outcome.trialsRun)
                      .arg(outcome.trialsSkipped)
                      .arg(QStringLiteral("results.json"), QDir::toNativeSeparators(cfg.outDir));
        for (const QString &note : outcome.notes)
            io.err << "note: " << note << '\n';
        if (outcome.cancelled)
            io.err << "stopped by Ctrl-C: finished cells are saved; run the same command again to resume\n";
    }
    return outcome.cancelled ? 130 : static_cast<int>(ExitOk);
}

} // namespace

Command needleCommand()
{
    return {
        .name = QStringLiteral("needle"),
        .summary = QStringLiteral("Needle-in-a-haystack recall over context lengths, depths and KV modes."),
        .usage = QStringLiteral(
            "[--model M.gguf | --engine URL [--model NAME] [--api-key-file F]] [--db FILE | --docs "
            "FILES...] [--lengths 1k,2k,...] [--depths 0,10,...,100] "
            "[--kv full,latent:256,mla+q8,...] [--needles passkey|nolima|FILE] [--variants "
            "single,multi-needle,multi-key] [--trials N] "
            "[--seed S] [--out DIR] [--ppl-ctx N | --no-ppl] [--compress-before-question] [--threads T] [--json]"),
        .description = QStringLiteral(
            "Builds haystacks of exactly the requested number of tokens (counted with the model's tokenizer) from "
            "the documents of a library database (--db), from text and PDF files (--docs), or from the bundled "
            "sample corpus, and plants the sentence \"The pass key for KEY is VALUE.\" (KEY: 5-8 random letters, "
            "VALUE: a random 6-digit number) at a sentence boundary at each depth. The model gets one user message, "
            "\"HAYSTACK\\nWhat is the pass key for KEY?\", through its chat template (models without a known "
            "template get the plain one: \"User: ...\\n\\nAssistant:\"), and answers greedily until its end token "
            "or 16 tokens. Exact: the trimmed answer is VALUE; lenient: VALUE occurs in it. A needle lands within 5 "
            "points of its depth: on the nearest sentence boundary in that band, or between two words when the band "
            "holds none.\n\n"
            "Needle sets (--needles): passkey (the default, above); nolima, bundled: needles whose question shares no "
            "content word with them (\"Yuki lives next to the Semper Opera House.\" / \"Which character has been "
            "to Dresden?\" / Yuki), after NoLiMa, where literal needles overstate recall; or a JSON file "
            "{\"name\": \"SET\", \"needles\": [{\"needle\": \"SENTENCE\", \"question\": \"QUESTION\", "
            "\"answer\": \"ANSWER\"}, ...]}. A set's needle is drawn per trial; the question follows the haystack, "
            "the answer is scored as VALUE is (ignoring case), and multi-needle's distractors are the set's needles "
            "with other answers (multi-key needs pass keys). results.json and the heatmaps name the set.\n\n"
            "Variants (as RULER): single; multi-needle (3 more needles with other keys, one asked); multi-key "
            "(3 more needles whose keys share the asked key's first 4 letters). Every KV mode answers the same "
            "haystacks (they depend on --seed and the cell, not on the mode). Beside each mode, the perplexity "
            "on a held-out tenth of the filler text (chunks of --ppl-ctx tokens, default 256 or the trained "
            "context if smaller, at most 8 chunks).\n\n"
            "--compress-before-question: a +snapkv:B mode compresses the cache once a prompt is prefilled, with "
            "the prompt's last 32 tokens as its observation window; by default that window ends with the question "
            "and the answer prefix. With this option the haystack is prefilled and compressed first, its own last "
            "tokens choosing what stays, and the question follows (what happens to a document cached before the "
            "question is known). Other modes answer the same prompt either way; results.json and --json record "
            "it (compress_before_question), and a results.json from a run without it is not resumed with it.\n\n"
            "Writes to --out (default ./needle-results): results.json and results.csv (one row per trial), and "
            "heatmap-MODE.png/.svg per KV mode (length × depth, colour = exact accuracy). results.json is "
            "rewritten after each cell, so Ctrl-C leaves it valid and running the same command again skips "
            "what it holds. Default lengths: 1k, 2k, 4k, 8k as far as the model's trained context allows.\n\n"
            "--engine URL runs the trials on an OpenAI-compatible server instead (vLLM, SGLang, llama-server, "
            "needlework serve; --model then names the server's model, default the first it lists; the API key "
            "comes from --api-key-file or $NEEDLEWORK_API_KEY). Haystacks are sized with the server's /tokenize "
            "(text alone: {\"content\"} as ours and llama-server take it, or {\"prompt\"} as vLLM does); a server "
            "without one gets lengths estimated as characters / 4, and the output and results.json "
            "(engine.haystack_token_count) say so. The question goes as chat messages the server renders with its "
            "own template, the answer prefix as an assistant message it continues (continue_final_message). "
            "--kv does not apply (the server has its own cache): each trial records the server's /metrics KV "
            "figures (remote_kv) instead, and the mode is named remote, or remote:MODE when our server says its "
            "KV mode. No perplexity remotely.\n\n"
            "Exit status: 0 on success, 1 when the model or the documents cannot be read, 2 for a usage error, "
            "130 when stopped by Ctrl-C."),
        .configure =
            [](QCommandLineParser &parser) {
                parser.addOption({ QStringLiteral("model"),
                    QStringLiteral("The GGUF model; with --engine, the server's model (default: the first)."),
                    QStringLiteral("M.gguf") });
                parser.addOption({ QStringLiteral("engine"),
                    QStringLiteral("Run on an OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1."),
                    QStringLiteral("URL") });
                parser.addOption({ QStringLiteral("api-key-file"),
                    QStringLiteral("With --engine: the API key's file (default: $NEEDLEWORK_API_KEY)."),
                    QStringLiteral("F") });
                parser.addOption({ QStringLiteral("db"),
                    QStringLiteral("Filler from the documents of this library database."), QStringLiteral("FILE") });
                parser.addOption({ QStringLiteral("docs"),
                    QStringLiteral("Filler from these text or PDF files (more may follow as arguments)."),
                    QStringLiteral("FILE") });
                parser.addOption({ QStringLiteral("lengths"), QStringLiteral("Haystack lengths in tokens (1k = 1024)."),
                    QStringLiteral("LIST") });
                parser.addOption({ QStringLiteral("depths"),
                    QStringLiteral("Needle depths in percent (default 0,10,...,100)."), QStringLiteral("LIST") });
                parser.addOption({ QStringLiteral("kv"),
                    QStringLiteral("KV modes to compare (default: the model's own)."), QStringLiteral("LIST") });
                parser.addOption({ QStringLiteral("needles"),
                    QStringLiteral("Needle set: passkey (default), nolima, or a JSON file."), QStringLiteral("SET") });
                parser.addOption({ QStringLiteral("variants"),
                    QStringLiteral("single, multi-needle, multi-key (default single)."), QStringLiteral("LIST") });
                parser.addOption({ QStringLiteral("trials"), QStringLiteral("Trials per cell and variant (default 1)."),
                    QStringLiteral("N") });
                parser.addOption({ QStringLiteral("seed"),
                    QStringLiteral("Seed of keys, values and filler (default 1)."), QStringLiteral("S") });
                parser.addOption({ QStringLiteral("out"),
                    QStringLiteral("Output directory (default ./needle-results)."), QStringLiteral("DIR") });
                parser.addOption({ QStringLiteral("ppl-ctx"), QStringLiteral("Perplexity chunk size in tokens."),
                    QStringLiteral("N") });
                parser.addOption({ QStringLiteral("no-ppl"), QStringLiteral("Skip the perplexity.") });
                parser.addOption({ QStringLiteral("compress-before-question"),
                    QStringLiteral("snapkv modes: compress the haystack before the question is prefilled.") });
                parser.addOption({ QStringLiteral("threads"), QStringLiteral("CPU threads (default: all cores)."),
                    QStringLiteral("T") });
                addJsonOption(parser);
                parser.addPositionalArgument(
                    QStringLiteral("FILES"), QStringLiteral("More files for --docs."), QStringLiteral("[FILES...]"));
            },
        .numbers = { { QStringLiteral("lengths"), NumberKind::Tokens, 16, 1 << 24, true },
            { QStringLiteral("depths"), NumberKind::Integer, 0, 100, true },
            { QStringLiteral("trials"), NumberKind::Integer, 1, 100000 },
            { QStringLiteral("seed"), NumberKind::Integer, 0, 9007199254740992.0 },
            { QStringLiteral("ppl-ctx"), NumberKind::Tokens, 8, 1 << 20 }, NumericOption::threads() },
        .run = runNeedle,
    };
}

} // namespace nw::app
