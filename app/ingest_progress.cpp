// Text and JSON renderings of ingest progress and results.
#include "app/ingest_progress.h"

#include "app/command.h"

#include <QFileInfo>
#include <QLocale>

#include <cmath>

namespace nw::app {

QString formatDuration(double seconds)
{
    if (seconds < 0 || !std::isfinite(seconds))
        return QStringLiteral("--:--");
    const auto total = static_cast<long long>(std::llround(seconds));
    const long long h = total / 3600, m = (total / 60) % 60, s = total % 60;
    if (h > 0)
        return QStringLiteral("%1:%2:%3").arg(h).arg(m, 2, 10, QLatin1Char('0')).arg(s, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1:%2").arg(m).arg(s, 2, 10, QLatin1Char('0'));
}

QString ingestProgressLine(const ingest::IngestProgress &p, int width)
{
    const QLocale c = QLocale::c();
    const int digits = static_cast<int>(QString::number(p.filesTotal).size());
    // A page recognised takes a second where a text page takes milliseconds: say how many were.
    const QString recognised = p.pagesRecognised > 0
        ? QStringLiteral(" (%1 by OCR)").arg(c.toString(static_cast<qlonglong>(p.pagesRecognised)))
        : QString();
    QString line
        = QStringLiteral("[%1/%2 files] %3 pages%4  %5 pages/s  ETA %6")
              .arg(p.filesDone, digits)
              .arg(p.filesTotal)
              .arg(c.toString(static_cast<qlonglong>(p.pagesExtracted)), recognised)
              .arg(p.pagesPerSecond < 10 ? c.toString(p.pagesPerSecond, 'f', 1) : c.toString(p.pagesPerSecond, 'f', 0))
              .arg(formatDuration(p.etaSeconds));
    if (!p.currentFile.isEmpty())
        line += QStringLiteral("  ") + QFileInfo(p.currentFile).fileName();
    if (width > 0 && line.size() > width)
        line = line.left(std::max(0, width - 1)) + QChar(0x2026);
    return line;
}

QString ingestSummaryLine(const ingest::IngestSummary &s)
{
    const QLocale c = QLocale::c();
    const int total = static_cast<int>(s.files.size()) - s.skipped;
    const QString seconds = QString::number(s.seconds, 'f', 1);
    if (!s.cancelled && total > 0 && s.present == total)
        return QStringLiteral("Nothing new: %1 already in the library (%2 s)")
            .arg(total == 1 ? QStringLiteral("the file is") : QStringLiteral("all %1 files are").arg(total), seconds);
    QStringList parts;
    if (s.replaced)
        parts << (s.replaced == 1 ? QStringLiteral("1 replaced an older version")
                                  : QStringLiteral("%1 replaced older versions").arg(s.replaced));
    if (s.present)
        parts << QStringLiteral("%1 already in the library").arg(s.present);
    if (s.failed)
        parts << QStringLiteral("%1 failed").arg(s.failed);
    if (s.notDone)
        parts << QStringLiteral("%1 not done").arg(s.notDone);
    QString pages = QStringLiteral("%1 pages").arg(c.toString(static_cast<qlonglong>(s.pagesStored)));
    if (s.pagesRecognised > 0)
        pages += QStringLiteral(", %1 by OCR").arg(c.toString(static_cast<qlonglong>(s.pagesRecognised)));
    // A mailbox or a message with attachments is one file of many documents.
    if (s.documentsStored > s.added + s.replaced)
        pages = QStringLiteral("%1 documents, ").arg(c.toString(static_cast<qlonglong>(s.documentsStored))) + pages;
    QString line = QStringLiteral("%1 %2 of %3 files (%4) in %5 s")
                       .arg(s.cancelled ? QStringLiteral("Stopped: ingested") : QStringLiteral("Ingested"))
                       .arg(s.added + s.replaced)
                       .arg(total)
                       .arg(pages)
                       .arg(seconds);
    if (!parts.isEmpty())
        line += QStringLiteral("; ") + parts.join(QStringLiteral(", "));
    return line;
}

nlohmann::json ingestSummaryJson(const ingest::IngestSummary &s, const QString &databasePath)
{
    nlohmann::json files = nlohmann::json::array();
    for (const ingest::FileOutcome &f : s.files) {
        nlohmann::json entry = { { "path", f.path.toStdString() }, { "status", ingest::fileStatusName(f.status) } };
        if (f.documentId)
            entry["document_id"] = f.documentId;
        if (f.status == ingest::FileStatus::Added || f.status == ingest::FileStatus::Replaced
            || f.status == ingest::FileStatus::NotDone) {
            entry["pages"] = f.pages;
            entry["documents"] = f.documents;
            entry["ocr_pages"] = f.ocrPages;
        }
        if (f.problem) {
            entry["problem"] = ingest::problemName(*f.problem);
            entry["reason"] = f.reason.toStdString();
        }
        if (!f.partProblems.isEmpty()) {
            nlohmann::json parts = nlohmann::json::array();
            for (const QString &problem : f.partProblems)
                parts.push_back(problem.toStdString());
            entry["parts_not_read"] = std::move(parts);
        }
        files.push_back(std::move(entry));
    }
    return { { "database", databasePath.toStdString() }, { "added", s.added }, { "replaced", s.replaced },
        { "present", s.present }, { "failed", s.failed }, { "not_done", s.notDone }, { "skipped", s.skipped },
        { "pages", s.pagesStored }, { "documents", s.documentsStored }, { "ocr_pages", s.pagesRecognised },
        { "ocr_pages_resumed", s.pagesResumed }, { "seconds", s.seconds }, { "cancelled", s.cancelled },
        { "files", files } };
}

int ingestExitCode(const ingest::IngestSummary &s)
{
    if (s.cancelled)
        return 130; // the shell's convention for a run stopped by SIGINT
    return s.added + s.replaced + s.present > 0 ? ExitOk : ExitFailed;
}

} // namespace nw::app
