// `needlework perplexity`: perplexity of a model on a text file, computed as llama.cpp's
// perplexity tool does, so numbers can be compared with it and across KV modes.
#include "app/commands/commands.h"
#include "app/commands/device_option.h"
#include "app/commands/model_options.h"

#include "common/error.h"
#include "engine/model.h"
#include "engine/generator.h"
#include "engine/tokenizer.h"

#include <nlohmann/json.hpp>

#include <QFile>

namespace nw::app {
namespace {

std::string readTextFile(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        fail("cannot read {}: {}", path.toStdString(), file.errorString().toStdString());
    return file.readAll().toStdString();
}

int runPerplexity(const QCommandLineParser &parser, CommandIo &io)
{
    auto usage = [&io](const QString &message) { return usageError(io, QStringLiteral("perplexity"), message); };
    const QString modelPath = parser.value(QStringLiteral("model"));
    const QString textPath = parser.value(QStringLiteral("file"));
    if (modelPath.isEmpty() || textPath.isEmpty())
        return usage(QStringLiteral("--model M.gguf and --file F are required"));
    const std::int64_t ctx = integerValue(parser, QStringLiteral("ctx"), 512);
    const int threads = int(integerValue(parser, QStringLiteral("threads"), 0));
    QString badDevice;
    const std::optional<DeviceChoice> device = deviceOption(parser, badDevice);
    if (!device)
        return usage(badDevice);

    const std::string text = readTextFile(textPath);
    const QString calibrationPath = parser.value(QStringLiteral("calibrate"));

    const auto [gguf, model, tokenizer, kvMode] = loadModelFromOptions(parser, threads, *device);
    if (!calibrationPath.isEmpty()) {
        if (kvMode.mode != KvMode::Latent)
            return usage(QStringLiteral("--calibrate applies to latent:R modes only, not '%1'")
                             .arg(QString::fromStdString(kvMode.toString())));
        const std::vector<std::int32_t> calibration = tokenizer->encode(readTextFile(calibrationPath), true, false);
        io.err << QStringLiteral("calibrating the latent factors on %1 tokens of %2\n")
                      .arg(calibration.size())
                      .arg(calibrationPath);
        io.err.flush();
        model->calibrateLatent(calibration);
    }

    const std::vector<std::int32_t> tokens = tokenizer->encode(text, true, false);
    // llama.cpp replaces each chunk's first token by BOS when the vocabulary adds one.
    const std::int32_t bos = tokenizer->vocab().spec().addBos ? tokenizer->bos() : -1;
    const bool json = parser.isSet(QStringLiteral("json"));
    const PerplexityResult r = measurePerplexity(
        *model, tokens, ctx, bos, kvMode, 512, [&](std::int64_t chunk, std::int64_t chunks, double ppl) {
            if (!json) {
                io.err << QStringLiteral("[%1/%2] %3\n").arg(chunk).arg(chunks).arg(ppl, 0, 'f', 4);
                io.err.flush();
            }
        });
    if (json) {
        const nlohmann::json report = {{"model", modelPath.toStdString()},
                                       {"file", textPath.toStdString()},
                                       {"tokens", tokens.size()},
                                       {"ctx", ctx},
                                       {"kv", kvMode.toString()},
                                       {"calibration", calibrationPath.isEmpty() ? nlohmann::json() : nlohmann::json(calibrationPath.toStdString())},
                                       {"chunks", r.chunks},
                                       {"scored_tokens", r.scored},
                                       {"ppl", r.ppl},
                                       {"ppl_error", r.error},
                                       {"seconds", r.seconds},
                                       {"kv_bytes_per_chunk", r.memory.kvBytesUsed}};
        io.out << QString::fromStdString(report.dump(2)) << '\n';
    } else {
        io.out << QStringLiteral("PPL = %1 ± %2\n").arg(r.ppl, 0, 'f', 4).arg(r.error, 0, 'f', 5);
        io.err << QStringLiteral("[%1 chunks of %2 tokens, %3 tokens scored, %4 s, KV %5]\n")
                      .arg(r.chunks)
                      .arg(ctx)
                      .arg(r.scored)
                      .arg(r.seconds, 0, 'f', 2)
                      .arg(QString::fromStdString(kvMode.toString()));
    }
    return ExitOk;
}

} // namespace

Command perplexityCommand()
{
    return {
        .name = QStringLiteral("perplexity"),
        .summary = QStringLiteral("Measure a model's perplexity on a text file (as llama.cpp does)."),
        .usage = QStringLiteral("--model M.gguf --file F [--ctx N] [--threads T] [--device D] [--kv MODE] [--calibrate TEXT] [--json]"),
        .description = QStringLiteral(
            "Tokenizes the file (BOS first), cuts it into non-overlapping chunks of --ctx tokens (a shorter "
            "tail is dropped), puts BOS at the start of each chunk and scores only the second half of each "
            "chunk, so every scored token has at least ctx/2 tokens of context — the method of llama.cpp's "
            "perplexity tool. Prints PPL = exp(mean NLL) ± PPL × the standard error of the NLL.\n\n"
            "With --kv latent:R, --calibrate TEXT weights the rank-R factors by the keys and values that TEXT "
            "produces (activation-aware SVD) instead of the plain weights' SVD; the factors are cached per "
            "model, rank and calibration text. Use a text other than the scored one.\n\n"
            "Exit status: 0 on success, 1 when the model or file cannot be read or the text is shorter than "
            "one chunk, 2 for a usage error."),
        .configure =
            [](QCommandLineParser &parser) {
                addModelOption(parser);
                parser.addOption({QStringLiteral("file"), QStringLiteral("The text to score."), QStringLiteral("F")});
                parser.addOption({QStringLiteral("ctx"), QStringLiteral("Chunk size in tokens (default 512)."),
                                  QStringLiteral("N"), QStringLiteral("512")});
                addModelRunOptions(parser, QStringLiteral("KV cache mode (default: the model's own)."));
                parser.addOption({QStringLiteral("calibrate"),
                                  QStringLiteral("latent:R only: fit the factors to the keys and values of this text."),
                                  QStringLiteral("TEXT")});
                addJsonOption(parser);
            },
        .numbers = {{QStringLiteral("ctx"), NumberKind::Tokens, 4, 1 << 24}, NumericOption::threads()},
        .run = runPerplexity,
    };
}

} // namespace nw::app
