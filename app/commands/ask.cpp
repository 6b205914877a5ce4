// `needlework ask QUESTION`: one question over the library, answered with citations —
// extractively without a model, generated and streamed with --model — and saved as a session.
#include "app/commands/commands.h"

#include "app/ask_report.h"
#include "app/commands/ask_options.h"
#include "app/commands/device_option.h"
#include "app/remote_engine.h"
#include "app/workbench.h"
#include "common/error.h"

#include <QFileInfo>

#include <nlohmann/json.hpp>

namespace nw::app {

void addAskOptions(QCommandLineParser &parser)
{
    addDatabaseOption(parser);
    parser.addOption({ QStringLiteral("model"),
        QStringLiteral("GGUF model that writes the answer (default: an extractive answer, no model); "
                       "with --engine, the server's model (default: the first it lists)."),
        QStringLiteral("M.gguf") });
    parser.addOption({ QStringLiteral("engine"),
        QStringLiteral(
            "Answer with an OpenAI-compatible server instead (vLLM, SGLang, llama-server, needlework serve), "
            "e.g. http://127.0.0.1:8080/v1."),
        QStringLiteral("URL") });
    parser.addOption({ QStringLiteral("api-key-file"),
        QStringLiteral("With --engine: send the key in this file as 'Authorization: Bearer KEY' "
                       "(default: $NEEDLEWORK_API_KEY, else none)."),
        QStringLiteral("F") });
    parser.addOption(
        { QStringLiteral("mode"), QStringLiteral("retrieve (best passages, default) or whole (the documents whole)."),
            QStringLiteral("MODE"), QStringLiteral("retrieve") });
    parser.addOption(
        { QStringLiteral("collection"), QStringLiteral("Only documents in this collection."), QStringLiteral("NAME") });
    parser.addOption(
        { QStringLiteral("doc"), QStringLiteral("Only this document (repeat for more)."), QStringLiteral("ID") });
    parser.addOption({ QStringLiteral("kv"), QStringLiteral("KV cache mode: full, mla, ... (default: the model's)."),
        QStringLiteral("MODE") });
    parser.addOption({ QStringLiteral("ctx"),
        QStringLiteral("Context tokens (default: the model's training context, at least 1024 and at most 4096)."),
        QStringLiteral("N") });
    addDeviceOption(parser);
    parser.addOption({ QStringLiteral("max-tokens"),
        QStringLiteral("Answer length at most, in tokens (default 512, at most a quarter of the context)."),
        QStringLiteral("N") });
}

AskRequest askRequestFrom(const QCommandLineParser &parser, const QString &question)
{
    AskRequest request;
    request.question = question;
    request.mode = parseAskMode(parser.value(QStringLiteral("mode")));
    request.retrieval.collection = parser.value(QStringLiteral("collection"));
    for (std::int64_t id : integerValues(parser, QStringLiteral("doc")))
        request.retrieval.documentIds.push_back(id);
    // 0: the workbench's default answer length (app/model_settings.h).
    request.maxTokens = int(integerValue(parser, QStringLiteral("max-tokens"), 0));
    return request;
}

std::vector<NumericOption> askNumericOptions()
{
    return { NumericOption::documentId(), NumericOption::contextTokens(),
        { QStringLiteral("max-tokens"), NumberKind::Integer, 1, 1 << 20 } };
}

void loadModelFrom(const QCommandLineParser &parser, Workbench &workbench)
{
    if (parser.isSet(QStringLiteral("engine"))) {
        // The server holds the model, its KV mode and its device: those options are its own.
        for (const char *local : { "kv", "device" })
            if (parser.isSet(QString::fromLatin1(local)))
                fail("--{} applies to the in-process engine: with --engine the server chooses it (e.g. `needlework "
                     "serve --{}`)",
                    local, local);
        RemoteEngineSettings settings;
        settings.url = parser.value(QStringLiteral("engine"));
        settings.model = parser.value(QStringLiteral("model"));
        settings.apiKey = remoteApiKey(parser.value(QStringLiteral("api-key-file")));
        settings.contextTokens = integerValue(parser, QStringLiteral("ctx"), 0);
        workbench.setRemoteEngine(std::make_shared<const RemoteEngine>(settings));
        return;
    }
    if (parser.isSet(QStringLiteral("api-key-file")))
        fail("--api-key-file goes with --engine URL: the in-process engine needs no key");
    if (!parser.isSet(QStringLiteral("model"))) {
        if (parser.isSet(QStringLiteral("kv")))
            fail("--kv needs --model: the extractive answer uses no KV cache");
        return;
    }
    const int ctx = int(integerValue(parser, QStringLiteral("ctx"), 0));
    QString badDevice;
    const std::optional<DeviceChoice> device = deviceOption(parser, badDevice);
    if (!device)
        fail("{}", badDevice.toStdString());
    workbench.setModel({ .path = parser.value(QStringLiteral("model")),
        .kvMode = parser.value(QStringLiteral("kv")),
        .contextTokens = ctx,
        .device = *device });
    workbench.loadModel();
}

Command askCommand()
{
    return {
        .name = QStringLiteral("ask"),
        .summary = QStringLiteral("Answer a question from the library, with page citations."),
        .usage
        = QStringLiteral("QUESTION [--db FILE] [--model M.gguf | --engine URL [--model NAME] [--api-key-file F]] "
                         "[--mode retrieve|whole] [--collection NAME | --doc ID...] [--kv MODE] [--device D] [--json]"),
        .description = QStringLiteral(
            "Finds the passages that answer QUESTION (BM25 over pages, then the sentences that hold the question's "
            "terms) and answers with citations: document, page, section, character span and word boxes. Without "
            "--model the answer is the best passages themselves, quoted. With --model a local GGUF model writes the "
            "answer from the numbered sources, streamed; quotes it makes that are in no source are flagged. "
            "--mode whole gives the model the selected documents whole and, when they do not fit, says how many "
            "tokens and how much KV memory each mode would need. --engine URL sends the question to an "
            "OpenAI-compatible "
            "server instead (vLLM, SGLang, llama-server, `needlework serve`): the prompt is fitted to the context its "
            "model list gives (else --ctx, else 4096) with its /tokenize endpoint (else an estimate, characters / 4, "
            "said in the report), the answer streams and its citations are checked as a local model's are, and the "
            "server's KV figures from its /metrics follow. The API key comes from --api-key-file or "
            "$NEEDLEWORK_API_KEY, never the command line; a connection waits 10 s at most, an answer 600 s without a "
            "byte from the server. Each question is saved as a session "
            "('needlework sessions')."),
        .configure =
            [](QCommandLineParser &parser) {
                addAskOptions(parser);
                addJsonOption(parser);
                parser.addOption({ QStringLiteral("session"),
                    QStringLiteral("Add the turn to this session instead of a new one."), QStringLiteral("ID") });
                parser.addPositionalArgument(QStringLiteral("question"), QStringLiteral("The question, in quotes."));
            },
        .numbers =
            [] {
                std::vector<NumericOption> numbers = askNumericOptions();
                numbers.push_back(NumericOption::documentId(QStringLiteral("session")));
                return numbers;
            }(),
        .run =
            [](const QCommandLineParser &parser, CommandIo &io) {
                const QString question = parser.positionalArguments().join(QLatin1Char(' ')).trimmed();
                if (question.isEmpty()) {
                    io.err << "needlework ask: give a question, e.g. needlework ask \"when does the licence "
                              "terminate?\"\n";
                    return static_cast<int>(ExitUsage);
                }
                const bool json = parser.isSet(QStringLiteral("json"));
                const AskRequest request = askRequestFrom(parser, question);
                std::int64_t sessionId = 0; // a new session
                if (parser.isSet(QStringLiteral("session"))) {
                    sessionId = integerValue(parser, QStringLiteral("session"), 0);
                }
                Workbench workbench(databasePath(parser));
                loadModelFrom(parser, workbench);
                bool streamed = false;
                AskCallbacks callbacks;
                if (!json)
                    callbacks.onText = [&](const QString &text) {
                        io.out << text;
                        io.out.flush();
                        streamed = true;
                    };
                const WorkbenchAnswer answer = workbench.ask(request, sessionId, callbacks);
                const AskResult &result = answer.result;
                sessionId = answer.sessionId;
                if (streamed)
                    io.out << '\n';

                if (json) {
                    nlohmann::json j = askResultToJson(result);
                    j["session"] = sessionId;
                    io.out << QString::fromStdString(j.dump(2)) << '\n';
                } else {
                    printAskResult(io.out, result, streamed);
                    io.err << "(saved as session " << sessionId << ")\n";
                }
                return static_cast<int>(result.tooLarge ? ExitFailed : ExitOk);
            },
    };
}

} // namespace nw::app
