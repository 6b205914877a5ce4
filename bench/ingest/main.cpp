// Ingest throughput against pdftotext (poppler-utils) run file by file over the same PDFs in the
// same run, peak RSS and database size; then search latency p50/p95 over 200 queries on a
// synthetic library of 100,000 pages.
//
//   nw_bench_ingest [DIR] [--pages N] [--search-db FILE] [--skip-search] [--jobs N]
//
// Without DIR it gathers the PDFs under /usr/share/doc (unpacking .pdf.gz) and generates more
// with QPdfWriter until the corpus has at least 2,000 pages.
#include "store/library_store.h"
#include "store/search_service.h"
#include "tests/ingest/pdf_fixtures.h"

#include <QCommandLineParser>
#include <QDir>
#include <QDirIterator>
#include <QElapsedTimer>
#include <QGuiApplication>
#include <QProcess>
#include <QTemporaryDir>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fcntl.h>
#include <random>
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

// Deterministic pseudo-English: a vocabulary of syllable words drawn with Zipf frequencies.
class TextGenerator {
public:
    explicit TextGenerator(unsigned seed, int vocabulary = 20000) : m_rng(seed)
    {
        static const char *syllables[] = {"ba", "ce", "di", "fo", "gu", "ha", "je", "ki", "lo", "mu", "na", "pe",
                                          "qui", "ro", "su", "ta", "ve", "wi", "xo", "yu", "za", "tion", "ment", "ly",
                                          "er", "an", "or", "is", "al", "en"};
        std::uniform_int_distribution<int> nSyl(1, 4), pick(0, static_cast<int>(std::size(syllables)) - 1);
        double total = 0;
        for (int i = 0; i < vocabulary; ++i) {
            QString word;
            for (int s = nSyl(m_rng); s > 0; --s)
                word += QLatin1String(syllables[pick(m_rng)]);
            m_words << word + (i % 7 == 0 ? QString::number(i % 97) : QString());
            total += 1.0 / (i + 1);
            m_cdf.push_back(total);
        }
        for (double &c : m_cdf)
            c /= total;
    }
    const QString &word(int rank) const { return m_words[rank]; }
    QString randomWord()
    {
        const double u = std::uniform_real_distribution<double>(0, 1)(m_rng);
        const auto it = std::lower_bound(m_cdf.begin(), m_cdf.end(), u);
        return m_words[static_cast<qsizetype>(std::min<std::ptrdiff_t>(it - m_cdf.begin(), m_words.size() - 1))];
    }
    QString page(int words, int wordsPerLine)
    {
        QString text;
        for (int w = 0; w < words; ++w) {
            text += randomWord();
            text += (w + 1) % wordsPerLine == 0 ? QLatin1Char('\n') : QLatin1Char(' ');
        }
        return text.trimmed();
    }
    std::mt19937 &rng() { return m_rng; }

private:
    std::mt19937 m_rng;
    QStringList m_words;
    std::vector<double> m_cdf;
};

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

double percentile(std::vector<double> values, double p)
{
    std::sort(values.begin(), values.end());
    const auto index = static_cast<std::size_t>(std::ceil(p * static_cast<double>(values.size()))) - 1;
    return values[std::min(index, values.size() - 1)];
}

void buildSearchDatabase(const QString &path, int nPages)
{
    const int pagesPerDoc = 100;
    const int nDocs = (nPages + pagesPerDoc - 1) / pagesPerDoc;
    nw::store::LibraryStore store(path);
    TextGenerator text(7);
    QElapsedTimer timer;
    timer.start();
    for (int d = 0; d < nDocs;) {
        nw::store::Transaction tx(store.database());
        for (int k = 0; k < 10 && d < nDocs; ++k, ++d) {
            nw::store::NewDocument doc;
            doc.info.sha256 = QStringLiteral("synthetic%1").arg(d);
            doc.info.path = QStringLiteral("/synthetic/doc%1.pdf").arg(d);
            doc.info.kind = QStringLiteral("pdf");
            doc.info.title = QStringLiteral("Synthetic document %1").arg(d);
            doc.info.pageCount = pagesPerDoc;
            for (int p = 1; p <= pagesPerDoc; ++p)
                doc.pages.push_back({p, QString::number(p), 612, 792, text.page(250, 12), {}});
            store.addDocument(doc);
        }
        tx.commit();
        std::fprintf(stderr, "\rsynthesising: %d of %d pages", d * pagesPerDoc, nPages);
    }
    store.database().exec("INSERT INTO pages_fts(pages_fts) VALUES ('optimize')");
    std::fprintf(stderr, "\rsynthesised %d pages in %.0f s\n", nDocs * pagesPerDoc, timer.elapsed() / 1000.0);
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
            TextGenerator text(42);
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
        auto needlework = [&](const QString &db, bool words) {
            QStringList args{QStringLiteral(NW_NEEDLEWORK_EXE), QStringLiteral("ingest"), dir, QStringLiteral("--db"), db};
            if (parser.isSet(QStringLiteral("jobs")))
                args << QStringLiteral("--jobs") << parser.value(QStringLiteral("jobs"));
            if (words)
                args << QStringLiteral("--word-boxes");
            QFile::remove(db);
            return runProgram(args);
        };
        const double peer1 = pdftotext();
        const QString db = work.filePath(QStringLiteral("bench.sqlite"));
        const RunStats oursNoWords = needlework(db, false);
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
        std::printf("needlework ingest --word-boxes:   %.2f s -> %.0f pages/s, exit %d, peak RSS %.0f MiB, database %.1f MiB\n",
                    oursWords.seconds, pages / oursWords.seconds, oursWords.exitCode, oursWords.maxRssKiB / 1024.0, dbMiB);
        std::printf("ratio needlework / pdftotext: %.2fx (target >= 1.5x); storing word boxes costs %+.1f%% time, %.1f MiB (%.0f bytes a page)\n",
                    oursRate / peerRate, 100.0 * (oursWords.seconds / oursNoWords.seconds - 1.0), dbMiB - dbNoWordsMiB,
                    (dbMiB - dbNoWordsMiB) * 1048576.0 / pages);
    }

    if (parser.isSet(QStringLiteral("skip-search")))
        return 0;
    const int nPages = parser.value(QStringLiteral("pages")).toInt();
    QString searchDb = parser.value(QStringLiteral("search-db"));
    if (searchDb.isEmpty())
        searchDb = work.filePath(QStringLiteral("search.sqlite"));
    {
        bool reuse = QFileInfo::exists(searchDb);
        if (reuse) {
            nw::store::LibraryStore store(searchDb);
            reuse = store.stats().pages >= nPages;
        }
        if (!reuse) {
            QFile::remove(searchDb);
            buildSearchDatabase(searchDb, nPages);
        }
    }
    nw::store::LibraryStore store(searchDb);
    nw::store::SearchService search(store);
    TextGenerator text(7); // the vocabulary the database was built from
    std::mt19937 rng(1234);
    auto rank = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    QStringList queries;
    for (int i = 0; i < 200; ++i) {
        switch (i % 8) {
        case 0: queries << text.word(rank(0, 20)); break;                     // very common
        case 1: queries << text.word(rank(100, 2000)); break;                  // medium
        case 2: queries << text.word(rank(5000, 19999)); break;                // rare
        case 3: queries << text.word(rank(0, 200)) + QLatin1Char(' ') + text.word(rank(200, 5000)); break;
        case 4: queries << QLatin1Char('"') + text.word(rank(0, 50)) + QLatin1Char(' ') + text.word(rank(0, 50)) + QLatin1Char('"'); break;
        case 5: queries << text.word(rank(0, 3000)).left(3) + QLatin1Char('*'); break;
        case 6: queries << text.word(rank(100, 3000)) + QStringLiteral(" OR ") + text.word(rank(100, 3000)); break;
        case 7: queries << QStringLiteral("NEAR(%1 %2, 10)").arg(text.word(rank(0, 500)), text.word(rank(0, 500))); break;
        }
    }
    const nw::store::LibraryStats stats = store.stats();
    std::vector<double> ms;
    std::size_t hits = 0;
    for (const QString &q : queries) {
        QElapsedTimer t;
        t.start();
        hits += search.search(q, {.limit = 10}).size();
        ms.push_back(static_cast<double>(t.nsecsElapsed()) * 1e-6);
    }
    std::printf("search: %lld pages in %d documents, %lld queries (limit 10, with snippets), %zu hits: "
                "p50 %.1f ms, p95 %.1f ms, max %.1f ms (target p95 < 50 ms); database %.0f MiB\n",
                static_cast<long long>(stats.pages), stats.documents, static_cast<long long>(queries.size()), hits,
                percentile(ms, 0.5), percentile(ms, 0.95), *std::max_element(ms.begin(), ms.end()),
                static_cast<double>(QFileInfo(searchDb).size()) / 1048576.0);
    return 0;
}
