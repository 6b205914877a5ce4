// Ingest throughput against pdftotext (poppler-utils) run file by file over the same PDFs in the
// same run, peak RSS and database size; then search latency p50/p95 over 200 queries on a
// synthetic library of 100,000 pages.
//
//   nw_bench_ingest [DIR] [--pages N] [--search-db FILE] [--skip-search] [--jobs N] [--baseline EXE]
//
// --baseline times another needlework executable (an older build) on the same corpus in the
// same run, so a change is measured against what it replaces under the same load.
// Without DIR it gathers the PDFs under /usr/share/doc (unpacking .pdf.gz) and generates more
// with QPdfWriter until the corpus has at least 2,000 pages.
#include "bench/store/synthetic_library.h"
#include "tests/ingest/pdf_fixtures.h"

#include <QCommandLineParser>
#include <QDir>
#include <QDirIterator>
#include <QElapsedTimer>
#include <QGuiApplication>
#include <QProcess>
#include <QTemporaryDir>

#include <algorithm>
#include <cstdio>
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <vector>

extern char **environ;

namespace {

struct RunStats {
    double seconds = 0;
    long maxRssKiB = 0;
    int exitCode = -1;
};

// Runs a program to completion; wall time and the child's peak RSS (wait4's rusage).
RunStats runProgram(const QStringList &args, bool quiet = true)
{
    std::vector<QByteArray> storage;
    for (const QString &a : args)
        storage.push_back(a.toLocal8Bit());
    std::vector<char *> argv;
    for (QByteArray &s : storage)
        argv.push_back(s.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (quiet) {
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    }
    QElapsedTimer timer;
    timer.start();
    pid_t pid = 0;
    RunStats stats;
    if (posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return stats;
    }
    int status = 0;
    rusage usage{};
    wait4(pid, &status, 0, &usage);
    stats.seconds = static_cast<double>(timer.nsecsElapsed()) * 1e-9;
    stats.maxRssKiB = usage.ru_maxrss;
    stats.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    posix_spawn_file_actions_destroy(&actions);
    return stats;
}

int pdfPages(const QString &path)
{
    QProcess info;
    info.start(QStringLiteral("pdfinfo"), {path});
    info.waitForFinished(60000);
    for (const QByteArray &line : info.readAllStandardOutput().split('\n'))
        if (line.startsWith("Pages:"))
            return line.mid(6).trimmed().toInt();
    return 0;
}

QStringList gatherSystemPdfs(const QString &into)
{
    QStringList files;
    QDirIterator it(QStringLiteral("/usr/share/doc"), {QStringLiteral("*.pdf"), QStringLiteral("*.pdf.gz")}, QDir::Files,
                    QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QFileInfo info(it.next());
        QString target = into + QLatin1Char('/') + info.fileName();
        if (info.fileName().endsWith(QLatin1String(".gz"))) {
            target.chop(3);
            QProcess gunzip;
            gunzip.setStandardOutputFile(target);
            gunzip.start(QStringLiteral("gunzip"), {QStringLiteral("-c"), info.absoluteFilePath()});
            gunzip.waitForFinished(60000);
        } else {
            QFile::copy(info.absoluteFilePath(), target);
        }
        if (pdfPages(target) > 0)
            files << target;
        else
            QFile::remove(target);
    }
    return files;
}

QStringList pdfsIn(const QString &dir)
{
    QStringList files;
    QDirIterator it(dir, {QStringLiteral("*.pdf")}, QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext())
        files << it.next();
    files.sort();
    return files;
}

} // namespace

int main(int argc, char **argv)
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen"); // fonts for QPdfWriter, no display needed
    QGuiApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addPositionalArgument(QStringLiteral("DIR"), QStringLiteral("PDFs to ingest (default: generated)"));
    parser.addOption({QStringLiteral("pages"), QStringLiteral("Pages in the search database."), QStringLiteral("N"), QStringLiteral("100000")});
    parser.addOption({QStringLiteral("search-db"), QStringLiteral("Reuse or build the search database here."), QStringLiteral("FILE")});
    parser.addOption({QStringLiteral("skip-search"), QStringLiteral("Only the ingest benchmark.")});
    parser.addOption({QStringLiteral("skip-ingest"), QStringLiteral("Only the search benchmark.")});
    parser.addOption({QStringLiteral("jobs"), QStringLiteral("--jobs for needlework ingest."), QStringLiteral("N")});
    parser.addOption({QStringLiteral("baseline"), QStringLiteral("Another needlework executable to time the same way."), QStringLiteral("EXE")});
    parser.addHelpOption();
    parser.process(app);

    QTemporaryDir work;
    if (!parser.isSet(QStringLiteral("skip-ingest"))) {
        QString dir = parser.positionalArguments().value(0);
        if (dir.isEmpty()) {
            dir = work.filePath(QStringLiteral("corpus"));
            QDir().mkpath(dir);
            const QStringList real = gatherSystemPdfs(dir);
            int pages = 0;
            for (const QString &f : real)
                pages += pdfPages(f);
            std::printf("corpus: %lld PDFs from /usr/share/doc (%d pages)", static_cast<long long>(real.size()), pages);
            nw::bench::TextGenerator text(42);
            int generated = 0;
            for (int f = 0; pages < 2000; ++f) {
                QStringList docPages;
                for (int p = 0; p < 40; ++p)
                    docPages << text.page(420, 14);
                nw::test::writeTextPdf(dir + QStringLiteral("/generated%1.pdf").arg(f, 3, 10, QLatin1Char('0')), docPages);
                pages += 40;
                generated += 40;
            }
            std::printf(" + %d generated pages\n", generated);
        }
        const QStringList files = pdfsIn(dir);
        int pages = 0;
        qint64 bytes = 0;
        for (const QString &f : files) {
            pages += pdfPages(f);
            bytes += QFileInfo(f).size();
        }
        std::printf("ingest corpus: %s: %lld PDFs, %d pages, %.1f MiB\n", qPrintable(dir), static_cast<long long>(files.size()), pages,
                    static_cast<double>(bytes) / 1048576.0);
        for (const QString &f : files) { // warm the page cache for both contestants
            QFile file(f);
            if (file.open(QIODevice::ReadOnly))
                file.readAll();
        }

        auto pdftotext = [&] {
            double seconds = 0;
            for (const QString &f : files)
                seconds += runProgram({QStringLiteral("pdftotext"), f, QStringLiteral("/dev/null")}).seconds;
            return seconds;
        };
        auto needlework = [&](const QString &db, bool words, const QString &exe = QStringLiteral(NW_NEEDLEWORK_EXE)) {
            QStringList args{exe, QStringLiteral("ingest"), dir, QStringLiteral("--db"), db};
            if (parser.isSet(QStringLiteral("jobs")))
                args << QStringLiteral("--jobs") << parser.value(QStringLiteral("jobs"));
            if (words)
                args << QStringLiteral("--word-boxes");
            QFile::remove(db);
            return runProgram(args);
        };
        const QString baseline = parser.value(QStringLiteral("baseline"));
        const QString baselineDb = work.filePath(QStringLiteral("baseline.sqlite"));
        const double peer1 = pdftotext();
        const QString db = work.filePath(QStringLiteral("bench.sqlite"));
        const RunStats oursNoWords = needlework(db, false);
        const RunStats before = baseline.isEmpty() ? RunStats{} : needlework(baselineDb, false, baseline);
        const double peer2 = pdftotext();
        const QString dbWords = work.filePath(QStringLiteral("bench-words.sqlite"));
        const RunStats oursWords = needlework(dbWords, true);
        const double peer = std::min(peer1, peer2); // the peer's better run
        const double oursRate = pages / oursNoWords.seconds, peerRate = pages / peer;
        const double dbMiB = static_cast<double>(QFileInfo(dbWords).size()) / 1048576.0;
        const double dbNoWordsMiB = static_cast<double>(QFileInfo(db).size()) / 1048576.0;
        std::printf("pdftotext file by file: %.2f s and %.2f s -> %.0f pages/s (best)\n", peer1, peer2, peerRate);
        std::printf("needlework ingest (default):      %.2f s -> %.0f pages/s, exit %d, peak RSS %.0f MiB, database %.1f MiB\n",
                    oursNoWords.seconds, oursRate, oursNoWords.exitCode, oursNoWords.maxRssKiB / 1024.0, dbNoWordsMiB);
        if (!baseline.isEmpty())
            std::printf("baseline %s ingest: %.2f s -> %.0f pages/s, exit %d, peak RSS %.0f MiB (ours / baseline %.2fx)\n",
                        qPrintable(baseline), before.seconds, pages / before.seconds, before.exitCode, before.maxRssKiB / 1024.0,
                        before.seconds / oursNoWords.seconds);
        std::printf("needlework ingest --word-boxes:   %.2f s -> %.0f pages/s, exit %d, peak RSS %.0f MiB, database %.1f MiB\n",
                    oursWords.seconds, pages / oursWords.seconds, oursWords.exitCode, oursWords.maxRssKiB / 1024.0, dbMiB);
        std::printf("ratio needlework / pdftotext: %.2fx (target >= 1.5x); storing word boxes costs %+.1f%% time, %.1f MiB (%.0f bytes a page)\n",
                    oursRate / peerRate, 100.0 * (oursWords.seconds / oursNoWords.seconds - 1.0), dbMiB - dbNoWordsMiB,
                    (dbMiB - dbNoWordsMiB) * 1048576.0 / pages);
    }

    if (parser.isSet(QStringLiteral("skip-search")))
        return 0;
    QString searchDb = parser.value(QStringLiteral("search-db"));
    if (searchDb.isEmpty())
        searchDb = work.filePath(QStringLiteral("search.sqlite"));
    nw::bench::runSearchBenchmark(searchDb, parser.value(QStringLiteral("pages")).toInt(), false);
    return 0;
}
