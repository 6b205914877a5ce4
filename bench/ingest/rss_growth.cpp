// Resident memory over a long ingest: runs the Ingestor (as `needlework ingest` does) over the
// given files and folders into a fresh database and prints RSS against pages stored, so growth
// with corpus size shows (it should stay flat after the first batches).
//
//   nw_bench_rss DIR... [--jobs N]
#include "bench/ingest/bench_application.h"
#include "ingest/ingestor.h"

#include <QCommandLineParser>
#include <QFile>
#include <QTemporaryDir>

#include <cstdio>

namespace {

long residentKiB(const char *field)
{
    QFile status(QStringLiteral("/proc/self/status"));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n'))
        if (line.startsWith(field))
            return line.mid(static_cast<qsizetype>(qstrlen(field))).trimmed().split(' ').value(0).toLong();
    return -1;
}

} // namespace

int main(int argc, char **argv)
{
    nw::bench::BenchApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addPositionalArgument(QStringLiteral("DIR"), QStringLiteral("files and folders to ingest"));
    parser.addOption({QStringLiteral("jobs"), QStringLiteral("extraction threads"), QStringLiteral("N"), QStringLiteral("0")});
    app.parse(parser);
    QTemporaryDir work;
    nw::store::LibraryStore store(work.filePath(QStringLiteral("rss.sqlite")));
    nw::ingest::IngestOptions options;
    options.jobs = parser.value(QStringLiteral("jobs")).toInt();
    nw::ingest::Ingestor ingestor(store, options);
    std::int64_t nextReport = 0;
    std::printf("%10s %10s %12s %12s\n", "pages", "seconds", "RSS MiB", "peak MiB");
    ingestor.setProgressCallback(
        [&](const nw::ingest::IngestProgress &p) {
            if (p.pagesStored < nextReport && !p.finished)
                return;
            nextReport = p.pagesStored + 1000;
            std::printf("%10lld %10.1f %12.1f %12.1f\n", static_cast<long long>(p.pagesStored), p.elapsedSeconds,
                        static_cast<double>(residentKiB("VmRSS:")) / 1024.0, static_cast<double>(residentKiB("VmHWM:")) / 1024.0);
            std::fflush(stdout);
        },
        200);
    const nw::ingest::IngestSummary summary = ingestor.run(parser.positionalArguments());
    std::printf("ingested %d files, %lld pages in %.1f s (%.0f pages/s); %d failed\n", summary.added,
                static_cast<long long>(summary.pagesStored), summary.seconds,
                static_cast<double>(summary.pagesStored) / summary.seconds, summary.failed);
    return 0;
}
