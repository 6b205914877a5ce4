// `needlework chat`: an interactive terminal workbench over the ask, session and library
// services — line editing with history, streamed answers with citations, a status line with
// the KV cache figures, Ctrl-C to stop an answer, and /commands.
#include "app/commands/commands.h"

#include "app/ask_report.h"
#include "app/commands/ask_options.h"
#include "app/commands/interrupt_guard.h"
#include "app/line_editor.h"
#include "app/output_file.h"
#include "app/terminal_status_line.h"
#include "app/workbench.h"
#include "common/error.h"

#include <QFileInfo>

#include <atomic>
#include <chrono>

namespace nw::app {

namespace {

// `tokensPerSecond` < 0: none to show yet.
QString statusLine(const Workbench &workbench, double tokensPerSecond = -1)
{
    const ModelStatus s = workbench.modelStatus();
    if (!s.loaded)
        return QStringLiteral("[extractive answers, no model · /help]");
    if (!s.engineUrl.isEmpty()) // the server's KV figures follow each answer (its /metrics)
        return QStringLiteral("[%1 at %2 · context %3 tokens · /help]").arg(s.path, s.engineUrl).arg(s.contextTokens);
    QString line
        = QStringLiteral("[%1 · KV %2: %3 used / %4 reserved · %5 less than MHA f16 · context %6/%7 tokens")
              .arg(QFileInfo(s.path).fileName(), s.kvMode, formatBytes(s.kvBytesUsed), formatBytes(s.kvBytesReserved))
              .arg(formatSaving(s.savingVsMha))
              .arg(s.tokensInCache)
              .arg(s.contextTokens);
    if (tokensPerSecond >= 0)
        line += QStringLiteral(" · %1 tok/s").arg(tokensPerSecond, 0, 'f', 1);
    return line + QStringLiteral("]");
}

double decodeSpeed(const AskResult &result)
{
    return result.decodeSeconds > 0 ? result.generatedTokens / result.decodeSeconds : -1;
}

const char *kHelp = "Ask a question, or:\n"
                    "  /docs            the documents in the library (ids for --doc)\n"
                    "  /kv MODE         switch the model's KV cache mode (full, mla, ...)\n"
                    "  /ctx N           the model's context in tokens (4096, 32k; auto: the default)\n"
                    "  /mode retrieve|whole   best passages, or the selected documents whole\n"
                    "  /save [FILE]     write this session as Markdown (default: session-ID.md)\n"
                    "  /help            this text;  /quit (or Ctrl-D) leaves\n"
                    "Ctrl-C stops the answer being written; the chat goes on.\n";

} // namespace

Command chatCommand()
{
    return {
        .name = QStringLiteral("chat"),
        .summary = QStringLiteral("Interactive questions over the library in the terminal."),
        .usage
        = QStringLiteral("[--db FILE] [--model M.gguf [--kv MODE] | --engine URL [--model NAME] [--api-key-file F]] "
                         "[--mode retrieve|whole] [--collection NAME | --doc ID...]"),
        .description = QStringLiteral(
            "A terminal workbench: type questions, get answers streamed with page citations (extractive without "
            "--model), and a status line with the KV cache in use and reserved, the saving against plain MHA f16, "
            "the context held and the decode speed. The model's cache is kept between questions, so follow-ups reuse "
            "the common prompt prefix. Lines are edited with the arrow keys and history; Ctrl-C stops an answer. "
            "Type /help for the commands. Every turn is saved in one session. --engine URL asks an OpenAI-compatible "
            "server instead, as `needlework ask --engine` does; the server's KV figures follow each answer."),
        .configure = [](QCommandLineParser &parser) { addAskOptions(parser); },
        .numbers = askNumericOptions(),
        .run =
            [](const QCommandLineParser &parser, CommandIo &io) {
                AskRequest defaults = askRequestFrom(parser, QStringLiteral("-"));
                Workbench workbench(databasePath(parser));
                loadModelFrom(parser, workbench);
                std::int64_t sessionId = 0;
                LineEditor editor;

                io.out << "needlework chat on " << workbench.databasePath() << " — " << workbench.stats().documents
                       << " documents. /help for commands.\n";
                // On a terminal the status line stays on the bottom row and updates in place,
                // also while an answer streams; piped, it is a plain line after each answer.
                TerminalStatusLine status(io.out, io.outIsTerminal && editor.interactive());
                status.printPlain(statusLine(workbench));
                while (true) {
                    const auto input = editor.readLine("? ");
                    if (!input)
                        break;
                    const QString line = QString::fromStdString(*input).trimmed();
                    if (line.isEmpty())
                        continue;
                    editor.addHistory(*input);
                    try {
                        if (line.startsWith(QLatin1Char('/'))) {
                            const QStringList words = line.split(QLatin1Char(' '), Qt::SkipEmptyParts);
                            const QString command = words.front();
                            if (command == QLatin1String("/quit") || command == QLatin1String("/exit"))
                                break;
                            if (command == QLatin1String("/help")) {
                                io.out << kHelp;
                            } else if (command == QLatin1String("/docs")) {
                                for (const auto &d : workbench.documents(defaults.retrieval.collection))
                                    io.out << QString::number(d.id).rightJustified(4) << "  "
                                           << QString::number(d.pageCount).rightJustified(4) << " pages  "
                                           << (d.title.isEmpty() ? QFileInfo(d.path).fileName() : d.title) << '\n';
                            } else if (command == QLatin1String("/kv")) {
                                if (words.size() < 2)
                                    fail("/kv needs a mode: full, mla, ...");
                                workbench.setKvMode(words[1]);
                                status.printPlain(statusLine(workbench));
                            } else if (command == QLatin1String("/ctx")) {
                                if (words.size() < 2)
                                    fail("/ctx needs a token count: 4096, 32k, or auto");
                                std::int64_t tokens = 0; // auto: the workbench's default for the model
                                if (words[1] != QLatin1String("auto")) {
                                    const NumericOption rule = NumericOption::contextTokens();
                                    const std::optional<std::int64_t> n = parseTokenCount(words[1]);
                                    if (!n || *n < rule.min || *n > rule.max)
                                        fail("/ctx needs a token count from {} to {} (4096, 32k) or auto, not '{}'",
                                            static_cast<std::int64_t>(rule.min), static_cast<std::int64_t>(rule.max),
                                            words[1].left(40).toStdString());
                                    tokens = *n;
                                }
                                workbench.setContextTokens(tokens);
                                status.printPlain(statusLine(workbench));
                            } else if (command == QLatin1String("/mode")) {
                                if (words.size() < 2)
                                    fail("/mode needs retrieve or whole");
                                defaults.mode = parseAskMode(words[1]);
                                io.out << "mode: " << askModeName(defaults.mode) << '\n';
                            } else if (command == QLatin1String("/save")) {
                                if (sessionId == 0)
                                    fail("nothing to save yet: ask a question first");
                                const QString path
                                    = words.size() > 1 ? words[1] : QStringLiteral("session-%1.md").arg(sessionId);
                                const QByteArray md = workbench.sessions().exportMarkdown(sessionId).toUtf8();
                                writeOutputFile(path, md);
                                io.out << "saved session " << sessionId << " to " << path << '\n';
                            } else {
                                io.out << "unknown command " << command << " (/help lists them)\n";
                            }
                            io.out.flush();
                            continue;
                        }

                        AskRequest request = defaults;
                        request.question = line;
                        bool streamed = false;
                        // Ctrl-C while the answer streams stops it (the guard's handler only stores
                        // an atomic flag); at the prompt the line editor reads Ctrl-C as a key.
                        std::atomic<bool> stop { false };
                        InterruptGuard interrupt(
                            [](void *flag) {
                                static_cast<std::atomic<bool> *>(flag)->store(true, std::memory_order_relaxed);
                            },
                            &stop);
                        WorkbenchAnswer answer;
                        // The pinned status line follows the work: prompt tokens read, then the
                        // cache and the decode speed while the answer streams.
                        using Clock = std::chrono::steady_clock;
                        Clock::time_point firstPiece;
                        std::int64_t cachedAtFirstPiece = 0;
                        {
                            AskCallbacks callbacks;
                            callbacks.stop = &stop;
                            callbacks.onText = [&](const QString &text) {
                                io.out << text;
                                io.out.flush();
                                const std::int64_t cached = workbench.modelStatus().tokensInCache;
                                if (!streamed) {
                                    firstPiece = Clock::now();
                                    cachedAtFirstPiece = cached;
                                }
                                streamed = true;
                                const double seconds = std::chrono::duration<double>(Clock::now() - firstPiece).count();
                                status.showThrottled(statusLine(
                                    workbench, seconds > 0.05 ? (cached - cachedAtFirstPiece) / seconds : -1));
                            };
                            callbacks.onPrefill = [&](std::int64_t done, std::int64_t total) {
                                const ModelStatus s = workbench.modelStatus();
                                status.showThrottled(
                                    QStringLiteral("[reading the prompt: %1/%2 tokens · KV %3 used / %4 reserved]")
                                        .arg(done)
                                        .arg(total)
                                        .arg(formatBytes(s.kvBytesUsed), formatBytes(s.kvBytesReserved)));
                            };
                            answer = workbench.ask(request, sessionId, callbacks);
                        }
                        const AskResult &result = answer.result;
                        if (streamed)
                            io.out << '\n';
                        if (result.stopReason == QLatin1String("cancelled"))
                            io.out << "(stopped)\n";
                        printAskResult(io.out, result, streamed);
                        sessionId = answer.sessionId;
                        status.printPlain(statusLine(workbench, decodeSpeed(result)));
                    } catch (const Error &e) {
                        // In the chat the context changes without a restart.
                        const QString hint = e.remedy() == Remedy::LargerContext
                            ? QStringLiteral(" (raise it with /ctx N)")
                            : remedyHint(e.remedy());
                        io.out << "error: " << e.what() << hint << '\n';
                    }
                    io.out.flush();
                }
                if (sessionId != 0)
                    io.err << "(session " << sessionId << " saved: needlework sessions show " << sessionId << ")\n";
                return static_cast<int>(ExitOk);
            },
    };
}

} // namespace nw::app
