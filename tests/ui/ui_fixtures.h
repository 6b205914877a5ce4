// What several UI suites set up the same way: generated PDFs, a library ingested before the test,
// the event-loop probe that times the GUI thread's gaps, and (from tests/support/conformance_qt.h)
// the conformance set's stories260K.
// Header-only, since tests/CMakeLists.txt builds each tests/ui/tst_*.cpp alone.
#pragma once

#include "app/text_pdf.h"
#include "ingest/ingestor.h"
#include "store/library_store.h"
#include "tests/support/conformance_qt.h"

#include <QElapsedTimer>
#include <QFile>
#include <QFont>
#include <QObject>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QString>
#include <QStringList>
#include <QTimer>

#include <algorithm>
#include <ctime>

namespace nw::test {

// A PDF drawn with QPainter in DejaVu Sans 12 pt at 72 dpi: each page holds `linesPerPage` lines
// "Page P line L ordinary contract wording about delivery." 20 pt apart from y = 60, and page
// `needlePage` alone also holds `needle` at y = 700.
struct FillerPdf {
    int pages = 1;
    int linesPerPage = 20;
    int needlePage = 1;
    QString needle;
};

inline void writeFillerPdf(const QString &path, const FillerPdf &layout)
{
    QPdfWriter writer(path);
    writer.setPageSize(QPageSize(QPageSize::A4));
    writer.setResolution(72);
    QPainter painter(&writer);
    QFont font(QStringLiteral("DejaVu Sans"));
    font.setPointSize(12);
    painter.setFont(font);
    for (int page = 1; page <= layout.pages; ++page) {
        if (page > 1)
            writer.newPage();
        for (int line = 0; line < layout.linesPerPage; ++line)
            painter.drawText(40, 60 + line * 20,
                             QStringLiteral("Page %1 line %2 ordinary contract wording about delivery.").arg(page).arg(line));
        if (page == layout.needlePage)
            painter.drawText(40, 700, layout.needle);
    }
}

// app/text_pdf's Courier PDF of `text` (pages split at form feeds) written to `path`; false when
// the file could not be written whole.
inline bool writeCourierPdf(const QString &path, const QString &title, const QString &text)
{
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly))
        return false;
    const QByteArray pdf = nw::app::renderTextPdf(title, text);
    return file.write(pdf) == pdf.size();
}

// Ingests `paths` (files or folders) into the library at `database`, created if new; returns
// how many documents were added.
inline int ingestInto(const QString &database, const QStringList &paths)
{
    nw::store::LibraryStore store(database);
    nw::ingest::Ingestor ingestor(store);
    return ingestor.run(paths).added;
}

// CPU time the calling thread has used, in milliseconds.
inline double threadCpuMs()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// A 10 ms timer on the GUI thread that keeps the largest gaps between its ticks: wall time (what
// the user sees; on a loaded machine it includes waiting for a core) and the GUI thread's own CPU
// time (the work it did without returning to the event loop, whatever the load).
class EventLoopGaps {
public:
    EventLoopGaps()
    {
        m_timer.setInterval(10);
        m_timer.setTimerType(Qt::PreciseTimer);
        QObject::connect(&m_timer, &QTimer::timeout, [this] {
            const qint64 now = m_clock.elapsed();
            const double cpu = threadCpuMs();
            if (m_last >= 0) {
                m_maxWall = std::max(m_maxWall, now - m_last);
                m_maxCpu = std::max(m_maxCpu, cpu - m_lastCpu);
            }
            m_last = now;
            m_lastCpu = cpu;
            ++m_ticks;
        });
    }
    void start()
    {
        m_clock.start();
        m_timer.start();
    }
    void stop() { m_timer.stop(); }
    qint64 maxWallMs() const { return m_maxWall; }
    double maxCpuMs() const { return m_maxCpu; }
    int ticks() const { return m_ticks; }
    qint64 elapsedMs() const { return m_clock.elapsed(); }

private:
    QTimer m_timer;
    QElapsedTimer m_clock;
    qint64 m_last = -1;
    qint64 m_maxWall = 0;
    double m_lastCpu = 0;
    double m_maxCpu = 0;
    int m_ticks = 0;
};

} // namespace nw::test
