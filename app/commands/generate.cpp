// `needlework generate`: runs a GGUF model on a prompt and streams the continuation to stdout,
// with the sampling knobs, the KV mode and --json timings and memory for scripts and benchmarks.
#include "app/commands/commands.h"
#include "app/commands/device_option.h"
#include "app/commands/interrupt_guard.h"
#include "app/commands/model_options.h"
#include "app/model_settings.h"

#include "common/error.h"
#include "engine/model.h"
#include "engine/generator.h"
#include "engine/tokenizer.h"

#include <nlohmann/json.hpp>

#include <QFile>

#include <random>

namespace nw::app {
namespace {

nlohmann::json memoryJson(const MemoryStats &m, const std::string &mode)
{
    return {{"mode", mode},
            {"tokens", m.tokens},
            {"capacity_tokens", m.capacityTokens},
            {"kv_bytes_per_token", m.bytesPerToken},
            {"kv_bytes_used", m.kvBytesUsed},
            {"kv_bytes_reserved", m.kvBytesReserved},
            {"mha_f16_bytes", m.mhaF16Bytes},
            {"saving_vs_mha_f16", m.savingVsMha()},
            {"weights_bytes", m.weightsBytes}};
}

int runGenerate(const QCommandLineParser &parser, CommandIo &io)
{
    auto usage = [&io](const QString &message) { return usageError(io, QStringLiteral("generate"), message); };
    const QString modelPath = parser.value(QStringLiteral("model"));
    if (modelPath.isEmpty())
        return usage(QStringLiteral("--model M.gguf is required"));
    const bool hasPrompt = parser.isSet(QStringLiteral("prompt"));
    const bool hasPromptFile = parser.isSet(QStringLiteral("prompt-file"));
    if (hasPrompt == hasPromptFile)
        return usage(QStringLiteral("give exactly one of --prompt TEXT and --prompt-file F"));

    GenerateOptions options;
    options.maxTokens = int(integerValue(parser, QStringLiteral("n"), 128));
    SamplerParams &s = options.sampler;
    s.greedy = parser.isSet(QStringLiteral("greedy"));
    s.temperature = float(realValue(parser, QStringLiteral("temp"), s.temperature));
    s.topK = int(integerValue(parser, QStringLiteral("top-k"), s.topK));
    s.topP = float(realValue(parser, QStringLiteral("top-p"), s.topP));
    s.minP = float(realValue(parser, QStringLiteral("min-p"), s.minP));
    s.repeatPenalty = float(realValue(parser, QStringLiteral("repeat-penalty"), s.repeatPenalty));
    const std::optional<std::int64_t> seed = integerValue(parser, QStringLiteral("seed"));
    s.seed = seed ? std::uint64_t(*seed) : std::random_device{}();
    const int threads = int(integerValue(parser, QStringLiteral("threads"), 0));
    const std::int64_t ctxOption = integerValue(parser, QStringLiteral("ctx"), 0);
    QString badDevice;
    const std::optional<DeviceChoice> device = deviceOption(parser, badDevice);
    if (!device)
        return usage(badDevice);

    std::string prompt;
    if (hasPrompt) {
        prompt = parser.value(QStringLiteral("prompt")).toStdString();
    } else {
        QFile file(parser.value(QStringLiteral("prompt-file")));
        if (!file.open(QIODevice::ReadOnly))
            fail("cannot read the prompt file {}: {}", file.fileName().toStdString(), file.errorString().toStdString());
        prompt = file.readAll().toStdString();
    }

    const auto [gguf, model, tokenizer, kvMode] = loadModelFromOptions(parser, threads, *device);
    const std::vector<std::int32_t> promptTokens = tokenizer->encode(prompt, true, false);
    // Default context: the workbench's one policy, with room for the prompt and the tokens asked for.
    const std::int64_t needed = static_cast<std::int64_t>(promptTokens.size()) + options.maxTokens;
    const std::int64_t ctx = contextTokensFor(ctxOption, model->hparams().nCtxTrain, needed);
    Generator generator(*model, *tokenizer, kvMode, ctx);

    const bool json = parser.isSet(QStringLiteral("json"));
    GenerationCallbacks callbacks;
    if (!json) {
        io.out << QString::fromStdString(prompt);
        io.out.flush();
        callbacks.onText = [&io](std::string_view text) {
            io.out << QString::fromUtf8(text.data(), static_cast<qsizetype>(text.size()));
            io.out.flush();
        };
    }
    if (io.errIsTerminal && !json)
        callbacks.onPrefillProgress = [&io](std::int64_t done, std::int64_t total) {
            if (total >= 1024) // only long prompts take long enough to want a progress line
                io.err << QStringLiteral("\rprefill %1/%2").arg(done).arg(total) << (done == total ? "\n" : "");
            io.err.flush();
        };
    GenerationResult r;
    {
        // Ctrl-C stops the generation; the text so far and the summary are still printed.
        InterruptGuard interrupt([](void *g) { static_cast<Generator *>(g)->cancel(); }, &generator);
        r = generator.generateFromTokens(promptTokens, options, callbacks);
    }

    const nlohmann::json timings = {
        {"prefill_tokens", r.prefilledTokens},
        {"prefill_seconds", r.prefillSeconds},
        {"prefill_tokens_per_second", r.prefillTokensPerSecond()},
        {"decode_tokens", r.generatedTokens.size()},
        {"decode_seconds", r.decodeSeconds},
        {"decode_tokens_per_second", r.decodeTokensPerSecond()},
    };
    if (json) {
        const nlohmann::json report = {
            {"model", modelPath.toStdString()},
            {"prompt_ids", r.promptTokens},
            {"generated_ids", r.generatedTokens},
            {"text", r.text},
            {"stop", std::string(stopReasonName(r.stop))},
            {"seed", s.seed},
            {"threads", model->backend().threads()},
            {"backend", model->backend().name()},
            {"timings", timings},
            {"kv", memoryJson(r.memory, kvMode.toString())},
        };
        io.out << QString::fromStdString(report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)) << '\n';
    } else {
        io.out << '\n';
        io.err << QStringLiteral("\n[%1 prompt tokens at %2 tok/s, %3 generated at %4 tok/s; KV %5 KiB (%6× smaller than MHA f16); stop: %7]\n")
                      .arg(r.prefilledTokens)
                      .arg(r.prefillTokensPerSecond(), 0, 'f', 1)
                      .arg(r.generatedTokens.size())
                      .arg(r.decodeTokensPerSecond(), 0, 'f', 1)
                      .arg(static_cast<double>(r.memory.kvBytesUsed) / 1024.0, 0, 'f', 1)
                      .arg(r.memory.savingVsMha(), 0, 'f', 2)
                      .arg(QString::fromLatin1(stopReasonName(r.stop).data(), static_cast<qsizetype>(stopReasonName(r.stop).size())));
    }
    return ExitOk;
}

} // namespace

Command generateCommand()
{
    return {
        .name = QStringLiteral("generate"),
        .summary = QStringLiteral("Continue a prompt with a GGUF model, streaming the text."),
        .usage = QStringLiteral("--model M.gguf (--prompt TEXT | --prompt-file F) [-n N] [--greedy | --temp T --top-k K "
                                "--top-p P --min-p P --repeat-penalty R] [--seed S] [--ctx N] [--threads T] [--device D] "
                                "[--kv full|mla] [--json]"),
        .description = QStringLiteral(
            "Tokenizes the prompt (with BOS when the model asks for it), prefills it and samples up to N "
            "tokens, streaming the text to standard output; a summary with prefill and decode speed and "
            "the KV cache's size goes to standard error. Sampling applies the repetition penalty, then "
            "top-k, top-p, min-p and the temperature; --greedy (or --temp 0) takes the most likely token. "
            "--json prints the prompt and generated ids, the text, timings and KV bytes instead.\n\n"
            "Exit status: 0 on success, 1 when the model cannot be loaded or run, 2 for a usage error."),
        .configure =
            [](QCommandLineParser &parser) {
                addModelOption(parser);
                parser.addOption({QStringLiteral("prompt"), QStringLiteral("The prompt text."), QStringLiteral("TEXT")});
                parser.addOption({QStringLiteral("prompt-file"), QStringLiteral("Read the prompt from a file."), QStringLiteral("F")});
                parser.addOption({QStringLiteral("n"), QStringLiteral("Tokens to generate (default 128)."), QStringLiteral("N")});
                parser.addOption({QStringLiteral("greedy"), QStringLiteral("Always take the most likely token.")});
                parser.addOption({QStringLiteral("temp"), QStringLiteral("Temperature (default 0.8; 0 is greedy)."), QStringLiteral("T")});
                parser.addOption({QStringLiteral("top-k"), QStringLiteral("Keep the K most likely tokens (default 40; 0 off)."), QStringLiteral("K")});
                parser.addOption({QStringLiteral("top-p"), QStringLiteral("Nucleus: keep the smallest set with probability P (default 0.95)."), QStringLiteral("P")});
                parser.addOption({QStringLiteral("min-p"), QStringLiteral("Drop tokens below P × the best one's probability (default 0.05)."), QStringLiteral("P")});
                parser.addOption({QStringLiteral("repeat-penalty"), QStringLiteral("Penalty for the last 64 tokens (default 1: off)."), QStringLiteral("R")});
                parser.addOption({QStringLiteral("seed"), QStringLiteral("Random seed (default: a new one each run)."), QStringLiteral("S")});
                parser.addOption({QStringLiteral("ctx"), QStringLiteral("Context size in tokens (default: prompt + N or 4096, whichever is more, within the model's training context, at least 1024)."), QStringLiteral("N")});
                addModelRunOptions(parser, QStringLiteral("KV cache mode: full or mla (default: the model's own, mla for DeepSeek)."));
                addJsonOption(parser);
            },
        .numbers = {{QStringLiteral("n"), NumberKind::Integer, 1, 1 << 20},
                    {QStringLiteral("temp"), NumberKind::Real, 0, 100},
                    {QStringLiteral("top-k"), NumberKind::Integer, 0, 1 << 24},
                    {QStringLiteral("top-p"), NumberKind::Real, 0, 1},
                    {QStringLiteral("min-p"), NumberKind::Real, 0, 1},
                    {QStringLiteral("repeat-penalty"), NumberKind::Real, 0.01, 100},
                    {QStringLiteral("seed"), NumberKind::Integer, 0, 9007199254740992.0},
                    NumericOption::contextTokens(), NumericOption::threads()},
        .run = runGenerate,
    };
}

} // namespace nw::app
