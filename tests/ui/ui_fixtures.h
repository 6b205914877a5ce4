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
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <cstdlib>
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

// How long the GUI thread may stand still: a 10 ms timer's gap must stay below this.
constexpr qint64 kMaxGapMs = 100;

inline double loadAverage()
{
    double load = 0;
    return getloadavg(&load, 1) == 1 ? load : 0;
}

// EventLoopGaps with the load average over the measurement, and the check every latency test
// makes: the GUI thread never works kMaxGapMs in one go, and the wall gap stays below it too
// unless the machine has more runnable work than cores (then other processes, not the GUI
// thread, hold the CPU, and only the CPU gap is asserted).
class LatencyProbe {
public:
    void start()
    {
        m_load = loadAverage();
        m_gaps.start();
    }
    void stop()
    {
        m_gaps.stop();
        m_load = std::max(m_load, loadAverage());
    }
    bool machineLoaded() const { return m_load > QThread::idealThreadCount(); }
    const EventLoopGaps &gaps() const { return m_gaps; }

    // Reports and checks; `what` names the work.
    bool check(const char *what) const
    {
        const int ticks = m_gaps.ticks();
        const qint64 maxWall = m_gaps.maxWallMs();
        const double maxCpu = m_gaps.maxCpuMs();
        qInfo("%s: %d ticks in %lld ms; max gap %lld ms wall, %.1f ms GUI-thread CPU; load average %.2f on %d cores",
              what, ticks, m_gaps.elapsedMs(), maxWall, maxCpu, m_load, QThread::idealThreadCount());
        if (ticks < 2) {
            qWarning("%s: the timer ticked %d times", what, ticks);
            return false;
        }
        if (maxCpu >= kMaxGapMs) {
            qWarning("%s: the GUI thread worked %.1f ms in one go", what, maxCpu);
            return false;
        }
        if (maxWall > kMaxGapMs) {
            if (!machineLoaded()) {
                qWarning("%s: the event loop stood still %lld ms on an unloaded machine", what, maxWall);
                return false;
            }
            qInfo("%s: wall gap %lld ms not asserted: load average %.2f exceeds %d cores (the CPU gap is)", what,
                  maxWall, m_load, QThread::idealThreadCount());
        }
        return true;
    }

private:
    EventLoopGaps m_gaps;
    double m_load = 0;
};

} // namespace nw::test
