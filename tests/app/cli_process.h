// The built `needlework` executable run as a user's shell runs it, for the suites that test the
// command line end to end: with HOME and the XDG data and cache folders in a scratch folder, so a
// test never reads or changes the user's own library, sessions or caches.
#pragma once

#include <QByteArray>
#include <QDir>
#include <QFileInfo>
#include <QProcess>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>

namespace nw::test {

struct CliResult {
    int code = -1; // the exit code; -1 when the process crashed, or was killed after the timeout
    QByteArray out;
    QByteArray err;
    QString outText() const { return QString::fromUtf8(out); }
    QString errText() const { return QString::fromUtf8(err); }
};

class NeedleworkCli {
public:
    // `home` stands in for the user's home folder: data go to home/data, caches to home/cache.
    explicit NeedleworkCli(const QString &home)
        : m_exe(qEnvironmentVariable("NW_BINARY_DIR", QDir::currentPath()) + QStringLiteral("/bin/needlework")),
          m_env(QProcessEnvironment::systemEnvironment())
    {
        m_env.insert(QStringLiteral("HOME"), home);
        m_env.insert(QStringLiteral("XDG_DATA_HOME"), home + QStringLiteral("/data"));
        m_env.insert(QStringLiteral("XDG_CACHE_HOME"), home + QStringLiteral("/cache"));
    }

    // $NW_BINARY_DIR/bin/needlework (CTest sets it), else ./bin/needlework.
    const QString &exe() const { return m_exe; }
    bool isBuilt() const { return QFileInfo(m_exe).isExecutable(); }
    QString missingMessage() const { return m_exe + QStringLiteral(" is missing: build the needlework target"); }

    // Runs to the end with `input` on its standard input (closed after it), in `workDir` when one
    // is given; killed after two minutes.
    CliResult run(const QStringList &args, const QByteArray &input = {}, const QString &workDir = {}) const
    {
        QProcess process;
        process.setProcessEnvironment(m_env);
        if (!workDir.isEmpty())
            process.setWorkingDirectory(workDir);
        process.start(m_exe, args);
        process.write(input);
        process.closeWriteChannel();
        if (!process.waitForFinished(120000))
            process.kill();
        return {process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1, process.readAllStandardOutput(),
                process.readAllStandardError()};
    }

    // Starts it and returns at once, for a test that signals or kills it while it runs.
    QProcess *start(const QStringList &args, QObject *parent) const
    {
        auto *process = new QProcess(parent);
        process->setProcessEnvironment(m_env);
        process->start(m_exe, args);
        return process;
    }

private:
    QString m_exe;
    QProcessEnvironment m_env;
};

} // namespace nw::test
