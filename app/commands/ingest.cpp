// `needlework ingest PATH...`: PDFs, text and Markdown (files or folders) into the library,
// with a live progress line on a terminal and Ctrl-C that keeps what was committed.
#include "app/commands/commands.h"
#include "app/commands/interrupt_guard.h"

#include "app/ingest_progress.h"
#include "common/error.h"
#include "ingest/ingestor.h"
#include "store/library_store.h"

#include <QFileInfo>

#include <atomic>

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
        .summary = QStringLiteral("Add PDFs, text and Markdown files (or folders) to the library."),
        .usage = QStringLiteral("PATH... [--db FILE] [--jobs N] [--collection NAME] [--json]"),
        .description = QStringLiteral(
            "Extracts the text of every page (with page labels and word boxes) and indexes it for "
            "'needlework search'. Folders are read recursively. A file already in the library (same "
            "content) is skipped; a changed file replaces its old version. Files that cannot be read "
            "are listed with the reason and do not stop the others. Ctrl-C stops after the batch in "
            "hand is saved; running the same command again finishes the job.\n\n"
            "Exit status: 0 when at least one file was ingested or all were already present, 1 when "
            "every file failed, 2 for a usage error, 130 when stopped by Ctrl-C."),
        .configure =
            [](QCommandLineParser &parser) {
                addDatabaseOption(parser);
                parser.addOption({QStringLiteral("jobs"), QStringLiteral("Extraction threads (default: all cores)."),
                                  QStringLiteral("N")});
                parser.addOption({QStringLiteral("collection"),
                                  QStringLiteral("Add the files to this collection (created if needed)."),
                                  QStringLiteral("NAME")});
                parser.addOption({QStringLiteral("word-boxes"),
                                  QStringLiteral("Store every page's word boxes now (default: computed when a page is shown).")});
                addJsonOption(parser);
                parser.addPositionalArgument(QStringLiteral("PATH"), QStringLiteral("Files or folders to ingest."),
                                             QStringLiteral("PATH..."));
            },
        .numbers = {{QStringLiteral("jobs"), NumberKind::Integer, 1, 1024}},
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
                    for (const ingest::FileOutcome &f : summary.files)
                        if (f.status == ingest::FileStatus::Failed)
                            io.out << "  failed: " << f.path << ": " << f.reason << '\n';
                    if (summary.files.empty() || summary.files.size() == static_cast<std::size_t>(summary.skipped))
                        io.err << "needlework ingest: no PDF, text or Markdown files found in "
                               << paths.join(QStringLiteral(", ")) << '\n';
                }
                return ingestExitCode(summary);
            },
    };
}

} // namespace nw::app
