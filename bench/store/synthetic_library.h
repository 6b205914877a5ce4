// A synthetic library for search benchmarks: pseudo-English pages with Zipf word frequencies,
// a fixed set of 200 queries over them (common, rare, phrases, prefixes, OR, NEAR), and the
// latency measurement that bench/store and bench/ingest both print.
#pragma once

#include "store/library_store.h"
#include "store/search_service.h"

#include <QElapsedTimer>
#include <QFileInfo>
#include <QStringList>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>
#include <vector>

namespace nw::bench {

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

private:
    std::mt19937 m_rng;
    QStringList m_words;
    std::vector<double> m_cdf;
};

inline double percentile(std::vector<double> values, double p)
{
    std::sort(values.begin(), values.end());
    const auto index = static_cast<std::size_t>(std::ceil(p * static_cast<double>(values.size()))) - 1;
    return values[std::min(index, values.size() - 1)];
}

// 100 pages of 250 words per document; the vocabulary comes from seed 7.
inline void buildSearchDatabase(const QString &path, int nPages)
{
    const int pagesPerDoc = 100;
    const int nDocs = (nPages + pagesPerDoc - 1) / pagesPerDoc;
    store::LibraryStore library(path);
    TextGenerator text(7);
    QElapsedTimer timer;
    timer.start();
    for (int d = 0; d < nDocs;) {
        store::Transaction tx(library.database());
        for (int k = 0; k < 10 && d < nDocs; ++k, ++d) {
            store::NewDocument doc;
            doc.info.sha256 = QStringLiteral("synthetic%1").arg(d);
            doc.info.path = QStringLiteral("/synthetic/doc%1.pdf").arg(d);
            doc.info.kind = QStringLiteral("pdf");
            doc.info.title = QStringLiteral("Synthetic document %1").arg(d);
            doc.info.pageCount = pagesPerDoc;
            for (int p = 1; p <= pagesPerDoc; ++p)
                doc.pages.push_back({p, QString::number(p), 612, 792, text.page(250, 12), {}});
            library.addDocument(doc);
        }
        tx.commit();
        std::fprintf(stderr, "\rsynthesising: %d of %d pages", d * pagesPerDoc, nPages);
    }
    library.database().exec("INSERT INTO pages_fts(pages_fts) VALUES ('optimize')");
    std::fprintf(stderr, "\rsynthesised %d pages in %.0f s\n", nDocs * pagesPerDoc, static_cast<double>(timer.elapsed()) / 1000.0);
}

struct QueryClass {
    const char *name;
    std::vector<double> wallMs, cpuMs;
};

// All threads': ranking runs on several.
inline double processCpuMs()
{
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) * 1e-6;
}

// Builds (or reuses, when it already holds enough pages) the database at `path`, then times 200
// fixed queries, limit 10 with snippets. Wall time is what a user waits; the process's CPU time
// is printed beside it (all threads) because the shared build machines are often oversubscribed.
inline void runSearchBenchmark(const QString &path, int nPages, bool perClass)
{
    bool reuse = QFileInfo::exists(path);
    if (reuse) {
        store::LibraryStore library(path);
        reuse = library.stats().pages >= nPages;
    }
    if (!reuse) {
        QFile::remove(path);
        buildSearchDatabase(path, nPages);
    }
    store::LibraryStore library(path);
    store::SearchService search(library);
    TextGenerator text(7); // the vocabulary the database was built from
    std::mt19937 rng(1234);
    auto rank = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    QStringList queries;
    std::vector<QueryClass> classes = {{"very common word", {}, {}}, {"medium word", {}, {}}, {"rare word", {}, {}},
                                       {"common + medium", {}, {}},  {"common phrase", {}, {}}, {"3-letter prefix*", {}, {}},
                                       {"medium OR medium", {}, {}}, {"NEAR(common common, 10)", {}, {}}};
    for (int i = 0; i < 200; ++i) {
        switch (i % 8) {
        case 0: queries << text.word(rank(0, 20)); break;
        case 1: queries << text.word(rank(100, 2000)); break;
        case 2: queries << text.word(rank(5000, 19999)); break;
        case 3: queries << text.word(rank(0, 200)) + QLatin1Char(' ') + text.word(rank(200, 5000)); break;
        case 4: queries << QLatin1Char('"') + text.word(rank(0, 50)) + QLatin1Char(' ') + text.word(rank(0, 50)) + QLatin1Char('"'); break;
        case 5: queries << text.word(rank(0, 3000)).left(3) + QLatin1Char('*'); break;
        case 6: queries << text.word(rank(100, 3000)) + QStringLiteral(" OR ") + text.word(rank(100, 3000)); break;
        case 7: queries << QStringLiteral("NEAR(%1 %2, 10)").arg(text.word(rank(0, 500)), text.word(rank(0, 500))); break;
        }
    }
    const store::LibraryStats stats = library.stats();
    QElapsedTimer first;
    first.start();
    search.search(queries[1], {.limit = 10}); // the connection's first query loads the page lengths
    std::printf("first query on the connection (loads the page lengths): %.1f ms\n", static_cast<double>(first.nsecsElapsed()) * 1e-6);
    std::vector<double> ms, cpu;
    std::size_t hits = 0;
    for (int i = 0; i < static_cast<int>(queries.size()); ++i) {
        QElapsedTimer t;
        t.start();
        const double cpu0 = processCpuMs();
        hits += search.search(queries[i], {.limit = 10}).size();
        const double wall = static_cast<double>(t.nsecsElapsed()) * 1e-6, used = processCpuMs() - cpu0;
        ms.push_back(wall);
        cpu.push_back(used);
        classes[static_cast<std::size_t>(i % 8)].wallMs.push_back(wall);
        classes[static_cast<std::size_t>(i % 8)].cpuMs.push_back(used);
    }
    if (perClass)
        for (const QueryClass &c : classes)
            std::printf("  %-24s wall p50 %6.1f p95 %6.1f ms   cpu p50 %6.1f p95 %6.1f ms\n", c.name, percentile(c.wallMs, 0.5),
                        percentile(c.wallMs, 0.95), percentile(c.cpuMs, 0.5), percentile(c.cpuMs, 0.95));
    std::printf("search: %lld pages in %d documents, %lld queries (limit 10, with snippets), %zu hits: "
                "p50 %.1f ms, p95 %.1f ms, max %.1f ms (target p95 < 50 ms); CPU p50 %.1f ms, p95 %.1f ms; database %.0f MiB\n",
                static_cast<long long>(stats.pages), stats.documents, static_cast<long long>(queries.size()), hits,
                percentile(ms, 0.5), percentile(ms, 0.95), *std::max_element(ms.begin(), ms.end()), percentile(cpu, 0.5),
                percentile(cpu, 0.95), static_cast<double>(QFileInfo(path).size()) / 1048576.0);
}

} // namespace nw::bench
