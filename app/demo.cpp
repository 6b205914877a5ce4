// The end-to-end demo over the sample corpus.
#include "app/demo.h"

#include "app/ask_report.h"
#include "app/command.h"
#include "app/sample_corpus.h"
#include "app/workbench.h"
#include "common/error.h"
#include "engine/arch_table.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>

namespace nw::app {

QStringList demoQuestions()
{
    return { QStringLiteral("How may I convey a covered work in object code form?"),
        QStringLiteral("What happens to my patent licenses if I start patent litigation?"),
        QStringLiteral("When do the rights granted under the Mozilla Public License terminate?") };
}

void printKvPlannerTable(QTextStream &out)
{
    const std::int64_t contexts[] = { 32 * 1024, 128 * 1024, 1024 * 1024 };
    out << "KV planner: cache memory per sequence, by architecture and KV mode (from engine/arch_table)\n";
    out << QStringLiteral("  %1 %2 %3 %4 %5 %6 %7\n")
               .arg(QStringLiteral("architecture"), -22)
               .arg(QStringLiteral("mode"), -6)
               .arg(QStringLiteral("bytes/token"), 12)
               .arg(QStringLiteral("32K"), 11)
               .arg(QStringLiteral("128K"), 11)
               .arg(QStringLiteral("1M"), 11)
               .arg(QStringLiteral("vs MHA f16"), 11);
    for (const KnownArchitecture &arch : knownArchitectures()) {
        const auto modes = kvModeFigures(arch.hp, contexts[0]);
        for (std::size_t m = 0; m < modes.size(); ++m) {
            QString row = QStringLiteral("  %1 %2 %3")
                              .arg(m == 0 ? QString::fromStdString(arch.name) : QString(), -22)
                              .arg(QString::fromStdString(modes[m].spec.toString()), -6)
                              .arg(QString::number(modes[m].bytesPerToken), 12);
            for (std::int64_t ctx : contexts) {
                const auto figures = kvModeFigures(arch.hp, ctx);
                row += QStringLiteral(" %1").arg(formatBytes(figures[m].usedBytes), 11);
            }
            row += QStringLiteral(" %1").arg(formatSaving(modes[m].savingVsMha), 11);
            out << row << '\n';
        }
    }
}

int runDemo(const DemoOptions &options, QTextStream &out, QTextStream &err)
{
    // A fresh database each time, so the demo shows the whole path from files to answers.
    for (const QString &suffix : { QString(), QStringLiteral("-wal"), QStringLiteral("-shm") }) {
        QFile file(options.databasePath + suffix);
        if (file.exists() && !file.remove())
            fail("demo: cannot replace {}: {}", (options.databasePath + suffix).toStdString(),
                file.errorString().toStdString());
    }
    QDir().mkpath(QFileInfo(options.databasePath).absolutePath());

    QElapsedTimer timer;
    timer.start();
    const QStringList pdfs = writeSamplePdfs(options.sampleDirectory);
    out << "Sample corpus: " << pdfs.size() << " licence texts from Debian's /usr/share/common-licenses, as PDFs in "
        << options.sampleDirectory << '\n';

    Workbench workbench(options.databasePath);
    const IngestSummary summary = workbench.ingest(pdfs);
    if (summary.failed > 0 || summary.added + summary.present != pdfs.size())
        fail("demo: ingest failed for {} of {} sample PDFs", summary.failed, pdfs.size());
    out << QStringLiteral("Ingested %1 documents, %2 pages into %3 (%4 s)\n\n")
               .arg(summary.added)
               .arg(summary.pagesStored)
               .arg(options.databasePath)
               .arg(static_cast<double>(timer.elapsed()) / 1000.0, 0, 'f', 2);

    if (!options.modelPath.isEmpty()) {
        workbench.setModel(
            { .path = options.modelPath, .kvMode = options.kvMode, .contextTokens = options.contextTokens });
        workbench.loadModel();
    } else {
        out << "No --model given: answers are extractive (the best passages, quoted, with their pages).\n\n";
    }
    const QStringList questions = demoQuestions();
    const std::int64_t sessionId = workbench.startSession(QStringLiteral("Demo: ") + questions.front());
    for (int i = 0; i < questions.size(); ++i) {
        out << QStringLiteral("Q%1. %2\n").arg(i + 1).arg(questions[i]);
        out.flush();
        AskRequest request;
        request.question = questions[i];
        request.maxTokens = 256;
        bool streamed = false;
        AskCallbacks callbacks;
        callbacks.onText = [&](const QString &text) {
            out << text;
            out.flush();
            streamed = true;
        };
        const AskResult result = workbench.ask(request, sessionId, callbacks).result;
        if (streamed)
            out << '\n';
        printAskResult(out, result, streamed);
        out << '\n';
    }
    out << "(The questions and answers are saved as session " << sessionId << ": needlework sessions show " << sessionId
        << " --db " << options.databasePath << ")\n\n";
    printKvPlannerTable(out);
    err.flush();
    return ExitOk;
}

} // namespace nw::app
