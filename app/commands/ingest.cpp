// `needlework ingest PATH...`: PDFs (scans recognised by OCR), text, Markdown, HTML, Word and
// OpenDocument files and email (files or folders) into the library, with a live progress line on
// a terminal and Ctrl-C that keeps what was committed.
#include "app/commands/commands.h"
#include "app/commands/interrupt_guard.h"

#include "app/ingest_progress.h"
#include "common/error.h"
#include "ingest/ingestor.h"
#include "store/library_store.h"

#include <QFileInfo>
#include <QRegularExpression>

#include <atomic>
#include <optional>

namespace nw::app {
namespace {

// Runs in the signal handler: an atomic store only.
void cancelIngest(void *flag)
{
    static_cast<std::atomic<bool> *>(flag)->store(true, std::memory_order_relaxed);
}

} // namespace

Command ingestCommand()
{
    return {
        .name = QStringLiteral("ingest"),
        .summary = QStringLiteral(
            "Add PDFs (scans too), text, HTML, Word, OpenDocument and email files (or folders) to the library."),
        .usage = QStringLiteral(
            "PATH... [--db FILE] [--jobs N] [--collection NAME] [--ocr auto|always|never] [--ocr-lang LANGS] [--json]"),
        .description
        = QStringLiteral("Extracts the text of every page (with page labels and word boxes) and indexes it for "
                         "'needlework search'. Reads PDF, plain text and Markdown, HTML, Word (.docx), OpenDocument "
                         "(.odt) and email: .eml files and .mbox mailboxes, one document per message with its "
                         "attachments as documents of their own. PDF pages without a usable text layer (scans) are "
                         "recognised by OCR (Tesseract): --ocr auto (the default) recognises those pages, always "
                         "every page, never none; --ocr-lang names the languages (Tesseract's codes joined by '+', "
                         "default eng; each needs its Debian package, e.g. tesseract-ocr-fra). Folders are read "
                         "recursively. A file already in the library (same content) is skipped; a changed file "
                         "replaces its old version. Files that cannot be read are listed with the reason and do not "
                         "stop the others; so are the attachments or messages of a file that cannot be read. Ctrl-C "
                         "stops after the batch in hand is saved (recognised pages are saved as they come); running "
                         "the same command again finishes the job.\n\n"
                         "Exit status: 0 when at least one file was ingested or all were already present, 1 when "
                         "every file failed, 2 for a usage error, 130 when stopped by Ctrl-C."),
        .configure =
            [](QCommandLineParser &parser) {
                addDatabaseOption(parser);
                parser.addOption({ QStringLiteral("jobs"), QStringLiteral("Extraction threads (default: all cores)."),
                    QStringLiteral("N") });
                parser.addOption({ QStringLiteral("collection"),
                    QStringLiteral("Add the files to this collection (created if needed)."), QStringLiteral("NAME") });
                parser.addOption({ QStringLiteral("word-boxes"),
                    QStringLiteral("Store every page's word boxes now (default: computed when a page is shown).") });
                parser.addOption({ QStringLiteral("ocr"),
                    QStringLiteral("Which PDF pages to recognise: auto (those without a usable text layer, the "
                                   "default), always, never."),
                    QStringLiteral("MODE") });
                parser.addOption({ QStringLiteral("ocr-lang"),
                    QStringLiteral("OCR languages, Tesseract's codes joined by '+' (default eng), e.g. eng+fra."),
                    QStringLiteral("LANGS") });
                addJsonOption(parser);
                parser.addPositionalArgument(
                    QStringLiteral("PATH"), QStringLiteral("Files or folders to ingest."), QStringLiteral("PATH..."));
            },
        .numbers = { { QStringLiteral("jobs"), NumberKind::Integer, 1, 1024 } },
        .run =
            [](const QCommandLineParser &parser, CommandIo &io) {
                const QStringList paths = parser.positionalArguments();
                if (paths.isEmpty()) {
                    io.err << "needlework ingest: no PATH given (see 'needlework ingest --help')\n";
                    return static_cast<int>(ExitUsage);
                }
                ingest::IngestOptions options;
                options.jobs = int(integerValue(parser, QStringLiteral("jobs"), options.jobs));
                options.collection = parser.value(QStringLiteral("collection"));
                options.storeWordBoxes = parser.isSet(QStringLiteral("word-boxes"));
                if (parser.isSet(QStringLiteral("ocr"))) {
                    const std::optional<ingest::OcrMode> mode
                        = ingest::parseOcrMode(parser.value(QStringLiteral("ocr")));
                    if (!mode) {
                        io.err << "needlework ingest: --ocr must be auto, always or never, not '"
                               << parser.value(QStringLiteral("ocr")) << "'\n";
                        return static_cast<int>(ExitUsage);
                    }
                    options.ocr.mode = *mode;
                }
                if (parser.isSet(QStringLiteral("ocr-lang"))) {
                    static const QRegularExpression languages(QStringLiteral("^[a-z][a-z_]*(\\+[a-z][a-z_]*)*$"));
                    const QString value = parser.value(QStringLiteral("ocr-lang"));
                    if (!languages.match(value).hasMatch()) {
                        io.err << "needlework ingest: --ocr-lang takes Tesseract's language codes joined by '+' (e.g. "
                                  "eng+fra), not '"
                               << value << "'\n";
                        return static_cast<int>(ExitUsage);
                    }
                    options.ocr.languages = value;
                }
                const bool json = parser.isSet(QStringLiteral("json"));
                const QString dbPath = databasePath(parser);

                store::LibraryStore store(dbPath);
                ingest::Ingestor ingestor(store, options);
                // Until the command returns: a Ctrl-C that lands after the last batch must not kill
                // the process before it prints the summary.
                InterruptGuard guard(cancelIngest, &ingestor.cancelFlag());
                const bool live = io.errIsTerminal && !json;
                const int width = live ? stderrTerminalWidth() - 1 : 0;
                if (live)
                    ingestor.setProgressCallback([&io, width, &ingestor](const ingest::IngestProgress &p) {
                        QString line = ingestProgressLine(p, width);
                        if (ingestor.cancelFlag().load() && !p.finished)
                            line = QStringLiteral("stopping after the current batch… ") + line;
                        io.err << "\r\x1b[2K" << line.left(width);
                        if (p.finished)
                            io.err << "\r\x1b[2K";
                        io.err.flush();
                    });
                const ingest::IngestSummary summary = ingestor.run(paths);
                if (json) {
                    io.out << QString::fromStdString(ingestSummaryJson(summary, dbPath).dump(2)) << '\n';
                } else {
                    io.out << ingestSummaryLine(summary) << '\n';
                    for (const ingest::FileOutcome &f : summary.files) {
                        if (f.status == ingest::FileStatus::Failed)
                            io.out << "  failed: " << f.path << ": " << f.reason << '\n';
                        for (const QString &problem : f.partProblems)
                            io.out << "  not read: " << f.path << " › " << problem << '\n';
                    }
                    if (summary.files.empty() || summary.files.size() == static_cast<std::size_t>(summary.skipped))
                        io.err << "needlework ingest: no PDF, text, HTML, office or email files found in "
                               << paths.join(QStringLiteral(", ")) << '\n';
                }
                return ingestExitCode(summary);
            },
    };
}

} // namespace nw::app
