// `needlework ask QUESTION`: one question over the library, answered with citations —
// extractively without a model, generated and streamed with --model — and saved as a session.
#include "app/commands/commands.h"

#include "app/ask_report.h"
#include "app/ask_service.h"
#include "app/commands/ask_options.h"
#include "app/commands/device_option.h"
#include "app/session_service.h"
#include "common/error.h"

#include <QFileInfo>

#include <nlohmann/json.hpp>

namespace nw::app {

void addAskOptions(QCommandLineParser &parser)
{
    addDatabaseOption(parser);
    parser.addOption({QStringLiteral("model"), QStringLiteral("GGUF model that writes the answer (default: an extractive answer, no model)."),
                      QStringLiteral("M.gguf")});
    parser.addOption({QStringLiteral("mode"), QStringLiteral("retrieve (best passages, default) or whole (the documents whole)."),
                      QStringLiteral("MODE"), QStringLiteral("retrieve")});
    parser.addOption({QStringLiteral("collection"), QStringLiteral("Only documents in this collection."), QStringLiteral("NAME")});
    parser.addOption({QStringLiteral("doc"), QStringLiteral("Only this document (repeat for more)."), QStringLiteral("ID")});
    parser.addOption({QStringLiteral("kv"), QStringLiteral("KV cache mode: full, mla, ... (default: the model's)."), QStringLiteral("MODE")});
    parser.addOption({QStringLiteral("ctx"), QStringLiteral("Context tokens (default: the model's, at most 8192)."), QStringLiteral("N")});
    addDeviceOption(parser);
    parser.addOption({QStringLiteral("max-tokens"), QStringLiteral("Answer length at most, in tokens (default 512)."), QStringLiteral("N"),
                      QStringLiteral("512")});
}

AskRequest askRequestFrom(const QCommandLineParser &parser, const QString &question)
{
    AskRequest request;
    request.question = question;
    request.mode = parseAskMode(parser.value(QStringLiteral("mode")));
    request.retrieval.collection = parser.value(QStringLiteral("collection"));
    for (std::int64_t id : integerValues(parser, QStringLiteral("doc")))
        request.retrieval.documentIds.push_back(id);
    request.maxTokens = int(integerValue(parser, QStringLiteral("max-tokens"), 512));
    return request;
}

std::vector<NumericOption> askNumericOptions()
{
    return {NumericOption::documentId(), NumericOption::contextTokens(),
            {QStringLiteral("max-tokens"), NumberKind::Integer, 1, 1 << 20}};
}

void loadModelFrom(const QCommandLineParser &parser, AskService &service)
{
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
    service.loadModel(parser.value(QStringLiteral("model")), parser.value(QStringLiteral("kv")), ctx, *device);
}

Command askCommand()
{
    return {
        .name = QStringLiteral("ask"),
        .summary = QStringLiteral("Answer a question from the library, with page citations."),
        .usage = QStringLiteral("QUESTION [--db FILE] [--model M.gguf] [--mode retrieve|whole] [--collection NAME | --doc ID...] [--kv MODE] [--device D] [--json]"),
        .description = QStringLiteral(
            "Finds the passages that answer QUESTION (BM25 over pages, then the sentences that hold the question's "
            "terms) and answers with citations: document, page, section, character span and word boxes. Without "
            "--model the answer is the best passages themselves, quoted. With --model a local GGUF model writes the "
            "answer from the numbered sources, streamed; quotes it makes that are in no source are flagged. "
            "--mode whole gives the model the selected documents whole and, when they do not fit, says how many "
            "tokens and how much KV memory each mode would need. Each question is saved as a session "
            "('needlework sessions')."),
        .configure =
            [](QCommandLineParser &parser) {
                addAskOptions(parser);
                addJsonOption(parser);
                parser.addOption({QStringLiteral("session"), QStringLiteral("Add the turn to this session instead of a new one."),
                                  QStringLiteral("ID")});
                parser.addPositionalArgument(QStringLiteral("question"), QStringLiteral("The question, in quotes."));
            },
        .numbers = [] {
            std::vector<NumericOption> numbers = askNumericOptions();
            numbers.push_back(NumericOption::documentId(QStringLiteral("session")));
            return numbers;
        }(),
        .run =
            [](const QCommandLineParser &parser, CommandIo &io) {
                const QString question = parser.positionalArguments().join(QLatin1Char(' ')).trimmed();
                if (question.isEmpty()) {
                    io.err << "needlework ask: give a question, e.g. needlework ask \"when does the licence terminate?\"\n";
                    return static_cast<int>(ExitUsage);
                }
                const bool json = parser.isSet(QStringLiteral("json"));
                store::LibraryStore library(databasePath(parser));
                AskService service(library);
                loadModelFrom(parser, service);
                const AskRequest request = askRequestFrom(parser, question);
                bool streamed = false;
                const AskResult result = service.ask(request, [&](const QString &text) {
                    if (json)
                        return;
                    io.out << text;
                    io.out.flush();
                    streamed = true;
                });
                if (streamed)
                    io.out << '\n';

                SessionService sessions(library.database());
                std::int64_t sessionId = 0;
                if (parser.isSet(QStringLiteral("session"))) {
                    sessionId = integerValue(parser, QStringLiteral("session"), 0);
                    sessions.store().requireSession(sessionId);
                } else {
                    sessionId = sessions.startSession(question);
                }
                sessions.recordTurn(sessionId, result);

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
