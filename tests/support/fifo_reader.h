// A named pipe with a reader (`cat`) for tests that a save writes into a FIFO instead of replacing
// it with a regular file (a temporary file renamed over it would): what arrived, and whether the
// path is still a FIFO.
#pragma once

#include <QByteArray>
#include <QFile>
#include <QProcess>
#include <QString>

#include <sys/stat.h>

namespace nw::test {

class FifoReader {
public:
    explicit FifoReader(const QString &path)
        : m_path(path)
    {
        m_made = ::mkfifo(QFile::encodeName(path).constData(), 0600) == 0;
        if (m_made) {
            m_cat.start(QStringLiteral("cat"), { path });
            m_made = m_cat.waitForStarted();
        }
    }
    ~FifoReader()
    {
        if (m_cat.state() != QProcess::NotRunning) {
            m_cat.kill();
            m_cat.waitForFinished();
        }
    }
    FifoReader(const FifoReader &) = delete;
    FifoReader &operator=(const FifoReader &) = delete;

    bool made() const { return m_made; }
    bool isFifo() const
    {
        struct stat st { };
        return ::lstat(QFile::encodeName(m_path).constData(), &st) == 0 && S_ISFIFO(st.st_mode);
    }
    // What the reader got once the writer closed the pipe; "" (and the reader killed) when no
    // writer came and went within 10 s, as when the FIFO was replaced.
    QByteArray received()
    {
        if (!m_cat.waitForFinished(10000)) {
            m_cat.kill();
            m_cat.waitForFinished();
            return {};
        }
        return m_cat.readAllStandardOutput();
    }

private:
    QString m_path;
    QProcess m_cat;
    bool m_made = false;
};

} // namespace nw::test
