// Search latency p50/p95 over 200 fixed queries on a synthetic library of 100,000 pages, per
// query class and overall, wall and CPU time.
//
//   nw_bench_search [--pages N] [--search-db FILE]
//
// The database is built on first use (a few minutes) and reused when FILE already holds enough pages.
#include "bench/store/synthetic_library.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QTemporaryDir>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addOption({QStringLiteral("pages"), QStringLiteral("Pages in the search database."), QStringLiteral("N"), QStringLiteral("100000")});
    parser.addOption({QStringLiteral("search-db"), QStringLiteral("Reuse or build the search database here."), QStringLiteral("FILE")});
    parser.addHelpOption();
    parser.process(app);
    QTemporaryDir work;
    QString path = parser.value(QStringLiteral("search-db"));
    if (path.isEmpty())
        path = work.filePath(QStringLiteral("search.sqlite"));
    nw::bench::runSearchBenchmark(path, parser.value(QStringLiteral("pages")).toInt(), true);
    return 0;
}
