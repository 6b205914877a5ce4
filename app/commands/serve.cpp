// `needlework serve`: loads a GGUF model once and serves it over an OpenAI-compatible HTTP API
// with N parallel slots and Prometheus /metrics (server/), on loopback unless told otherwise.
#include "app/commands/commands.h"
#include "app/commands/device_option.h"
#include "app/commands/interrupt_guard.h"
#include "app/commands/model_options.h"
#include "app/model_settings.h"

#include "common/error.h"
#include "engine/chat_template.h"
#include "engine/gguf_file.h"
#include "server/access.h"
#include "server/http_server.h"
#include "server/slot_pool.h"

#include <QFile>
#include <QFileInfo>

#include <atomic>
#include <chrono>
#include <thread>

namespace nw::app {
namespace {

int runServe(const QCommandLineParser &parser, CommandIo &io)
{
    auto usage = [&io](const QString &message) { return usageError(io, QStringLiteral("serve"), message); };
    const QString modelPath = parser.value(QStringLiteral("model"));
    if (modelPath.isEmpty())
        return usage(QStringLiteral("--model M.gguf is required"));
    server::ServerConfig config;
    config.host = parser.isSet(QStringLiteral("host")) ? parser.value(QStringLiteral("host")).toStdString()
                                                       : std::string("127.0.0.1");
    config.port = int(integerValue(parser, QStringLiteral("port"), 8080));
    if (parser.isSet(QStringLiteral("api-key-file"))) {
        QFile file(parser.value(QStringLiteral("api-key-file")));
        if (!file.open(QIODevice::ReadOnly))
            fail(
                "cannot read the API key file {}: {}", file.fileName().toStdString(), file.errorString().toStdString());
        config.apiKey = file.readAll().trimmed().toStdString();
        if (config.apiKey.empty())
            fail("the API key file {} is empty", file.fileName().toStdString());
    }
    if (config.apiKey.empty() && !server::isLoopbackHost(config.host))
        return usage(QStringLiteral("--host %1 is reachable from other machines: give --api-key-file F as well, so "
                                    "that clients must send the key")
                         .arg(QString::fromStdString(config.host)));
    const int parallel = int(integerValue(parser, QStringLiteral("parallel"), 1));
    const int threads = int(integerValue(parser, QStringLiteral("threads"), 0));
    QString badDevice;
    const std::optional<DeviceChoice> device = deviceOption(parser, badDevice);
    if (!device)
        return usage(badDevice);

    const auto [gguf, model, tokenizer, kvMode] = loadModelFromOptions(parser, threads, *device);
    // A slot answers the request whose prompt shares the longest prefix with its cache; a SnapKV
    // cache kept the tokens an earlier request's question chose, so a later one would be answered
    // from another question's selection, depending on the slot it lands in.
    if (kvMode.snapkv > 0)
        return usage(QStringLiteral("--kv %1: snapkv:B is not served: a slot's cache compressed for one request's "
                                    "question would be reused by the next request that shares its prefix")
                         .arg(QString::fromStdString(kvMode.toString())));
    const std::int64_t ctx
        = contextTokensFor(integerValue(parser, QStringLiteral("ctx"), 0), model->hparams().nCtxTrain);
    server::SlotPool pool(*model, *tokenizer, kvMode, ctx, parallel);
    config.modelId = QFileInfo(modelPath).completeBaseName().toStdString();
    config.kvMode = kvMode.toString();
    config.weightsBytes = model->weightsBytes();
    config.limits.contextTokens = ctx;
    config.limits.maxTokens = integerValue(parser, QStringLiteral("max-tokens"), ctx);
    config.maxQueued = static_cast<std::size_t>(integerValue(parser, QStringLiteral("max-queue"), 64));
    // A thread for each running and each waiting completion, and some for /health and /metrics.
    config.httpThreads = std::max(32, parallel + static_cast<int>(config.maxQueued) + 16);
    const ChatTemplate chat
        = ChatTemplate::detect(gguf->findString("tokenizer.chat_template").value_or(""), model->hparams().arch);
    server::OpenAiServer http(*tokenizer, chat, pool, config);
    const int port = http.bind();

    // Ctrl-C or SIGTERM: the handler only sets the flag; this thread stops the server.
    std::atomic<bool> stop { false };
    InterruptGuard interrupt(
        [](void *flag) { static_cast<std::atomic<bool> *>(flag)->store(true, std::memory_order_relaxed); }, &stop);
    std::thread serving([&http] { http.run(); });
    io.out << "needlework serve: " << modelPath << " (" << QString::fromStdString(chatFamilyName(chat.family()).data())
           << " chat template, KV " << QString::fromStdString(config.kvMode) << ", " << parallel << " slot"
           << (parallel == 1 ? "" : "s") << " of " << ctx << " tokens) on http://"
           << QString::fromStdString(config.host) << ':' << port << "/v1"
           << (config.apiKey.empty() ? "" : " (API key required)") << '\n';
    io.out.flush();
    while (!stop.load(std::memory_order_relaxed))
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    http.stop();
    serving.join();
    io.err << "needlework serve: stopped\n";
    return ExitOk;
}

} // namespace

Command serveCommand()
{
    return {
        .name = QStringLiteral("serve"),
        .summary = QStringLiteral("Serve a GGUF model over an OpenAI-compatible HTTP API with KV metrics."),
        .usage = QStringLiteral("--model M.gguf [--kv MODE] [--host 127.0.0.1] [--port 8080] [--api-key-file F] "
                                "[--parallel N] [--max-queue N] [--ctx N] [--max-tokens N] [--threads T] [--device D]"),
        .description = QStringLiteral(
            "Loads the model once and answers OpenAI clients: GET /v1/models, POST /v1/chat/completions (messages "
            "through the model's chat template, as `needlework chat` uses it) and POST /v1/completions (the prompt as "
            "it is, as `needlework generate`), whole or streamed as server-sent events, with temperature, top_p, "
            "max_tokens, stop, seed and the usage counts; POST /tokenize and /detokenize in llama-server's shape; "
            "GET /health; and GET /metrics in the Prometheus text format: KV cache bytes used and reserved per slot, "
            "mode and cache kind, the MHA f16 baseline and the saving, tokens cached, prefix-cache hits, queued and "
            "running requests, prompt and generation tokens and seconds.\n\n"
            "--parallel N runs N requests at once, each in its own slot with its own KV cache in the --kv mode "
            "and one copy of the weights (the slots take turns at the model batch by batch); more requests wait in "
            "order of arrival, up to --max-queue of them (default 64); one more is refused at once with 429 and "
            "'Retry-After: 1'. A request goes to the free slot whose cache shares the longest prefix with its prompt, "
            "which then prefills only the rest. A client that disconnects mid-stream stops its generation; a whole "
            "(not streamed) answer runs to its end, since the HTTP library shows a handler no closed connection "
            "before it writes.\n\n"
            "Safe by default: the server listens on 127.0.0.1; another --host needs --api-key-file F (the key is the "
            "file's first line), and then every route but /health needs 'Authorization: Bearer KEY'. Requests are "
            "refused with an OpenAI error object (4xx) for a body over 8 MiB, bad JSON or field types, values out of "
            "range, max_tokens over --max-tokens, or a prompt that leaves no room in the context (--ctx, per slot). "
            "The first line on standard output says where it listens (--port 0 picks a free port). Ctrl-C or "
            "SIGTERM stops it.\n\n"
            "Exit status: 0 after a stop, 1 when the model cannot be loaded or the address bound, 2 for a usage "
            "error."),
        .configure =
            [](QCommandLineParser &parser) {
                addModelOption(parser);
                parser.addOption({ QStringLiteral("host"), QStringLiteral("Address to listen on (default 127.0.0.1)."),
                    QStringLiteral("ADDRESS") });
                parser.addOption({ QStringLiteral("port"),
                    QStringLiteral("Port to listen on (default 8080; 0: a free one)."), QStringLiteral("PORT") });
                parser.addOption({ QStringLiteral("api-key-file"),
                    QStringLiteral("Require 'Authorization: Bearer KEY', KEY read from this file."),
                    QStringLiteral("F") });
                parser.addOption({ QStringLiteral("parallel"),
                    QStringLiteral("Requests served at once, each with its own KV cache (default 1)."),
                    QStringLiteral("N") });
                parser.addOption({ QStringLiteral("max-queue"),
                    QStringLiteral("Completions that may wait for a slot; more get 429 (default 64)."),
                    QStringLiteral("N") });
                parser.addOption({ QStringLiteral("ctx"),
                    QStringLiteral("Context of each slot in tokens (default 4096 within the model's training context, "
                                   "at least 1024)."),
                    QStringLiteral("N") });
                parser.addOption({ QStringLiteral("max-tokens"),
                    QStringLiteral("Tokens one request may generate at most (default: the context)."),
                    QStringLiteral("N") });
                addModelRunOptions(parser,
                    QStringLiteral(
                        "KV cache mode of every slot: full, mla, latent:R, +q8, ... (default: the model's own)."));
            },
        .numbers = { { QStringLiteral("port"), NumberKind::Integer, 0, 65535 },
            { QStringLiteral("parallel"), NumberKind::Integer, 1, 256 },
            { QStringLiteral("max-queue"), NumberKind::Integer, 0, 1024 },
            { QStringLiteral("max-tokens"), NumberKind::Integer, 1, 1 << 24 }, NumericOption::contextTokens(),
            NumericOption::threads() },
        .run = runServe,
    };
}

} // namespace nw::app
