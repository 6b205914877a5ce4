// Search: BM25 scores against a hand computation, ranking order, accents folded, FTS5 syntax,
// snippets with marks, collections, malformed queries as a clear QueryError, and the budget
// (terms, bytes, time) that brings every query back in time.
#include "store/library_store.h"
#include "store/search_service.h"

#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <random>

using namespace nw::store;

class TestSearchService : public QObject {
    Q_OBJECT
private slots:
    void init();
    void cleanup();
    void bm25MatchesHandComputation();
    void rankingPrefersMoreAndDenserMatches();
    void fastBm25AgreesWithSqlite_data();
    void fastBm25AgreesWithSqlite();
    void topHitsAreTheBestScored_data();
    void topHitsAreTheBestScored();
    void querySyntax_data();
    void querySyntax();
    void snippetMarksMatchesAndNamesThePage();
    void collectionFilter();
    void malformedQuery_data();
    void malformedQuery();
    void literalQueryNeverFails();
    void countTerms_data();
    void countTerms();
    void oversizedQueriesComeBackAtOnce_data();
    void oversizedQueriesComeBackAtOnce();
    void slowSearchIsStoppedAtItsTime();
    void queryAtTheCapRuns();

private:
    std::int64_t add(const QString &sha, const QString &path, const QStringList &pages, const QString &title = {});
    void addRandomDocuments(int first, int count, unsigned seed);
    std::map<std::int64_t, double> scores(const char *function, const QString &query);
    QTemporaryDir *m_dir = nullptr;
    LibraryStore *m_store = nullptr;
};

void TestSearchService::init()
{
    m_dir = new QTemporaryDir;
    m_store = new LibraryStore(m_dir->path() + QStringLiteral("/lib.sqlite"));
}

void TestSearchService::cleanup()
{
    delete m_store;
    delete m_dir;
}

std::int64_t TestSearchService::add(
    const QString &sha, const QString &path, const QStringList &pages, const QString &title)
{
    NewDocument d;
    d.info.sha256 = sha;
    d.info.path = path;
    d.info.kind = QStringLiteral("text");
    d.info.title = title;
    d.info.pageCount = static_cast<int>(pages.size());
    for (qsizetype i = 0; i < pages.size(); ++i)
        d.pages.push_back({ static_cast<int>(i) + 1, i == 0 ? QStringLiteral("iv") : QString(), 0, 0, pages[i], {} });
    return m_store->addDocument(d).documentId;
}

void TestSearchService::bm25MatchesHandComputation()
{
    // Three pages of 4 tokens; "needle" twice on one page. With N = 3, n = 1, tf = 2, dl = avgdl = 4,
    // k1 = 1.2, b = 0.75 (Robertson-Sparck Jones, as FTS5 documents it):
    // idf = ln((3 - 1 + 0.5) / (1 + 0.5)) = 0.510826; score = idf * 2 * 2.2 / (2 + 1.2) = 0.702386.
    add(QStringLiteral("a"), QStringLiteral("/a.txt"), { QStringLiteral("needle needle hay straw") });
    add(QStringLiteral("b"), QStringLiteral("/b.txt"), { QStringLiteral("hay straw grass field") });
    add(QStringLiteral("c"), QStringLiteral("/c.txt"), { QStringLiteral("barn hay straw field") });
    SearchService search(*m_store);
    const auto hits = search.search(QStringLiteral("needle"));
    QCOMPARE(hits.size(), std::size_t(1));
    const double expected = std::log(2.5 / 1.5) * 2 * 2.2 / (2 + 1.2);
    QVERIFY2(std::abs(hits[0].score - expected) < 1e-4, qPrintable(QString::number(hits[0].score, 'g', 8)));
}

void TestSearchService::rankingPrefersMoreAndDenserMatches()
{
    const QString filler = QStringLiteral(" lorem ipsum dolor sit amet consectetur adipiscing elit sed do");
    const auto once
        = add(QStringLiteral("1"), QStringLiteral("/once.txt"), { QStringLiteral("indemnity") + filler + filler });
    const auto thrice = add(QStringLiteral("3"), QStringLiteral("/thrice.txt"),
        { QStringLiteral("indemnity indemnity indemnity") + filler + filler });
    const auto shortPage
        = add(QStringLiteral("s"), QStringLiteral("/short.txt"), { QStringLiteral("indemnity clause") });
    for (int i = 0; i < 5; ++i)
        add(QStringLiteral("n%1").arg(i), QStringLiteral("/none%1.txt").arg(i), { filler });
    // Token counts 21, 23, 2 and 5 x 10: avgdl = 12. With k1 = 1.2, b = 0.75 the term-frequency
    // parts are once 2.2 / (1 + 1.2 (0.25 + 0.75 * 21/12)) = 0.765, thrice 6.6 / (3 + 1.2 (0.25 +
    // 0.75 * 23/12)) = 1.313, short 2.2 / (1 + 1.2 (0.25 + 0.75 * 2/12)) = 1.517; the idf is shared.
    SearchService search(*m_store);
    const auto hits = search.search(QStringLiteral("indemnity"));
    QCOMPARE(hits.size(), std::size_t(3));
    QCOMPARE(hits[0].documentId, shortPage);
    QCOMPARE(hits[1].documentId, thrice);
    QCOMPARE(hits[2].documentId, once);
    const double idf = std::log((8 - 3 + 0.5) / (3 + 0.5));
    QVERIFY2(std::abs(hits[1].score - idf * 6.6 / (3 + 1.2 * (0.25 + 0.75 * 23.0 / 12))) < 1e-4,
        qPrintable(QString::number(hits[1].score)));
}

// Pages of 5..60 words from a 12-word vocabulary with skewed frequencies, so queries match
// many pages with different term counts and lengths.
void TestSearchService::addRandomDocuments(int first, int count, unsigned seed)
{
    static const char *words[]
        = { "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu" };
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> length(5, 60), skew(0, 143);
    for (int d = first; d < first + count; ++d) {
        QStringList pages;
        for (int p = 0; p < 4; ++p) {
            QStringList text;
            for (int w = length(rng); w > 0; --w)
                text << QLatin1String(words[static_cast<int>(std::sqrt(skew(rng)))]); // word k with odds (2k + 1) / 144
            pages << text.join(QLatin1Char(' '));
        }
        add(QStringLiteral("r%1").arg(d), QStringLiteral("/r%1.txt").arg(d), pages);
    }
}

std::map<std::int64_t, double> TestSearchService::scores(const char *function, const QString &query)
{
    std::map<std::int64_t, double> result;
    Statement s(
        m_store->database(), std::string("SELECT rowid, ") + function + " FROM pages_fts WHERE pages_fts MATCH ?1");
    s.bind(1, query.toStdString());
    while (s.step())
        result[s.columnInt(0)] = s.columnDouble(1);
    return result;
}

void TestSearchService::fastBm25AgreesWithSqlite_data()
{
    QTest::addColumn<QString>("query");
    QTest::addRow("common term") << "mu";
    QTest::addRow("rare term") << "alpha";
    QTest::addRow("two terms") << "beta lambda";
    QTest::addRow("OR") << "gamma OR kappa";
    QTest::addRow("phrase") << "\"kappa lambda\"";
    QTest::addRow("NEAR") << "NEAR(delta mu, 3)";
    QTest::addRow("prefix") << "the*";
    QTest::addRow("NOT") << "iota NOT eta";
}

// SQLite's own bm25() is the reference: nw_bm25 must give the same score for every matching
// page, also after pages are added and removed (its copy of the page lengths is reloaded).
void TestSearchService::fastBm25AgreesWithSqlite()
{
    QFETCH(QString, query);
    auto compare = [&](const char *stage) {
        const auto expected = scores("bm25(pages_fts)", query);
        const auto fast = scores("nw_bm25(pages_fts, 'pages_fts')", query);
        const auto slow = scores("nw_bm25(pages_fts)", query); // no copy: lengths from FTS5
        QVERIFY2(expected.size() > 3, stage);
        QCOMPARE(fast.size(), expected.size());
        QCOMPARE(slow.size(), expected.size());
        for (const auto &[rowid, score] : expected) {
            QVERIFY2(std::abs(fast.at(rowid) - score) <= 1e-12 * std::abs(score),
                qPrintable(QStringLiteral("%1: page %2: %3 vs %4")
                               .arg(QLatin1String(stage))
                               .arg(rowid)
                               .arg(fast.at(rowid), 0, 'g', 17)
                               .arg(score, 0, 'g', 17)));
            QVERIFY2(std::abs(slow.at(rowid) - score) <= 1e-12 * std::abs(score), stage);
        }
    };
    addRandomDocuments(0, 30, 11);
    compare("first load");
    addRandomDocuments(30, 10, 12);
    compare("after adding pages");
    QVERIFY(m_store->removeDocument(m_store->findDocumentBySha256(QStringLiteral("r3"))->id));
    QVERIFY(m_store->removeDocument(m_store->findDocumentBySha256(QStringLiteral("r39"))->id));
    compare("after removing documents");
    // A removed last page's id is reused by the next insert, with another length.
    addRandomDocuments(40, 2, 13);
    compare("after reusing page ids");
    {
        Transaction tx(m_store->database()); // inside a transaction that changes pages
        m_store->database().exec("UPDATE pages SET text = text || ' mu mu gamma kappa lambda' WHERE id % 3 = 0");
        compare("inside a transaction");
    }
    compare("after a rollback");
}

void TestSearchService::topHitsAreTheBestScored_data()
{
    QTest::addColumn<qint64>("pagesPerThread");
    QTest::addColumn<int>("limit");
    QTest::addRow("one thread") << qint64(1'000'000) << 7;
    QTest::addRow("page ranges in parallel") << qint64(10) << 7;
    QTest::addRow("parallel, more than one range holds") << qint64(10) << 60;
}

// SearchService keeps the `limit` best pages by that score, best first, ties by page order,
// whether one thread ranks all pages or several rank ranges of them.
void TestSearchService::topHitsAreTheBestScored()
{
    QFETCH(qint64, pagesPerThread);
    QFETCH(int, limit);
    addRandomDocuments(0, 40, 21);
    std::vector<std::pair<double, std::int64_t>> expected;
    for (const auto &[rowid, score] : scores("bm25(pages_fts)", QStringLiteral("beta OR kappa")))
        expected.emplace_back(score, rowid);
    std::sort(expected.begin(), expected.end());
    SearchService search(*m_store);
    SearchOptions options;
    options.limit = limit;
    options.pagesPerThread = pagesPerThread;
    const auto hits = search.search(QStringLiteral("beta OR kappa"), options);
    QCOMPARE(hits.size(), static_cast<std::size_t>(limit));
    for (std::size_t i = 0; i < hits.size(); ++i) {
        Statement page(m_store->database(), "SELECT id FROM pages WHERE document_id = ?1 AND number = ?2");
        page.bind(1, hits[i].documentId).bind(2, static_cast<std::int64_t>(hits[i].pageNumber));
        QVERIFY(page.step());
        QCOMPARE(page.columnInt(0), expected[i].second);
        QVERIFY(std::abs(hits[i].score + expected[i].first) < 1e-9);
        QVERIFY2(hits[i].snippet.contains(QStringLiteral("[")), qPrintable(hits[i].snippet));
    }
}

void TestSearchService::querySyntax_data()
{
    QTest::addColumn<QString>("query");
    QTest::addColumn<QStringList>("paths");
    QTest::addRow("accents folded") << "cafe" << QStringList { "/fr.txt" };
    QTest::addRow("accented query") << "résumé" << QStringList { "/fr.txt" };
    QTest::addRow("phrase") << "\"breach of contract\"" << QStringList { "/law.txt" };
    QTest::addRow("phrase order matters") << "\"contract of breach\"" << QStringList {};
    QTest::addRow("AND") << "contract AND termination" << QStringList { "/law2.txt" };
    QTest::addRow("implicit AND") << "contract termination" << QStringList { "/law2.txt" };
    QTest::addRow("OR") << "café OR termination" << QStringList { "/fr.txt", "/law2.txt" };
    QTest::addRow("NOT") << "contract NOT termination" << QStringList { "/law.txt" };
    QTest::addRow("NEAR") << "NEAR(breach contract, 2)" << QStringList { "/law.txt" };
    QTest::addRow("NEAR too far") << "NEAR(breach termination, 1)" << QStringList {};
    QTest::addRow("prefix") << "termin*" << QStringList { "/law2.txt" };
    QTest::addRow("case folded") << "CONTRACT" << QStringList { "/law.txt", "/law2.txt" };
    QTest::addRow("no match") << "zebra" << QStringList {};
}

void TestSearchService::querySyntax()
{
    QFETCH(QString, query);
    QFETCH(QStringList, paths);
    add(QStringLiteral("fr"), QStringLiteral("/fr.txt"), { QStringLiteral("Le café et le résumé du contrat") });
    add(QStringLiteral("law"), QStringLiteral("/law.txt"), { QStringLiteral("a breach of contract was alleged") });
    add(QStringLiteral("law2"), QStringLiteral("/law2.txt"),
        { QStringLiteral("the contract allows termination with notice; breach is not required") });
    SearchService search(*m_store);
    QStringList found;
    for (const SearchHit &hit : search.search(query))
        found << hit.path;
    found.sort();
    QCOMPARE(found, paths);
}

void TestSearchService::snippetMarksMatchesAndNamesThePage()
{
    QStringList pages;
    for (int i = 0; i < 5; ++i)
        pages << QStringLiteral("ordinary page number %1 with nothing special").arg(i + 1);
    pages[3] = QStringLiteral("On this page the governing law clause says Delaware applies to everything.");
    const auto id
        = add(QStringLiteral("snip"), QStringLiteral("/contract.txt"), pages, QStringLiteral("Master Agreement"));
    SearchService search(*m_store);
    SearchOptions options;
    options.markOpen = QStringLiteral("<<");
    options.markClose = QStringLiteral(">>");
    const auto hits = search.search(QStringLiteral("\"governing law\""), options);
    QCOMPARE(hits.size(), std::size_t(1));
    QCOMPARE(hits[0].documentId, id);
    QCOMPARE(hits[0].pageNumber, 4);
    QCOMPARE(hits[0].title, QStringLiteral("Master Agreement"));
    QCOMPARE(hits[0].path, QStringLiteral("/contract.txt"));
    QVERIFY2(hits[0].snippet.contains(QStringLiteral("<<governing law>>")), qPrintable(hits[0].snippet));
    // Pages with no title fall back to the file name.
    add(QStringLiteral("t2"), QStringLiteral("/dir/untitled.txt"), { QStringLiteral("governing law again") });
    const auto both = search.search(QStringLiteral("governing"));
    QCOMPARE(both.size(), std::size_t(2));
    QVERIFY(both[0].title == QStringLiteral("untitled.txt") || both[1].title == QStringLiteral("untitled.txt"));
    // The limit holds.
    options.limit = 1;
    QCOMPARE(search.search(QStringLiteral("governing"), options).size(), std::size_t(1));
    // The first page carries a label.
    const auto labelled = search.search(QStringLiteral("\"page number 1\""));
    QCOMPARE(labelled.size(), std::size_t(1));
    QCOMPARE(labelled[0].pageLabel, QStringLiteral("iv"));
}

void TestSearchService::collectionFilter()
{
    const auto a = add(QStringLiteral("ca"), QStringLiteral("/a.txt"), { QStringLiteral("shared term alpha") });
    const auto b = add(QStringLiteral("cb"), QStringLiteral("/b.txt"), { QStringLiteral("shared term beta") });
    m_store->addToCollection(a, QStringLiteral("first"));
    m_store->addToCollection(b, QStringLiteral("second"));
    SearchService search(*m_store);
    SearchOptions options;
    options.collection = QStringLiteral("second");
    const auto hits = search.search(QStringLiteral("shared"), options);
    QCOMPARE(hits.size(), std::size_t(1));
    QCOMPARE(hits[0].documentId, b);
    options.collection = QStringLiteral("no such collection");
    QCOMPARE(search.search(QStringLiteral("shared"), options).size(), std::size_t(0));
    // The same with the two pages ranked on two threads, and a malformed query's error from one.
    options.collection = QStringLiteral("second");
    options.pagesPerThread = 1;
    const auto parallel = search.search(QStringLiteral("shared"), options);
    QCOMPARE(parallel.size(), std::size_t(1));
    QCOMPARE(parallel[0].documentId, b);
    QVERIFY_THROWS_EXCEPTION(QueryError, search.search(QStringLiteral("\"shared"), options));
}

void TestSearchService::malformedQuery_data()
{
    QTest::addColumn<QString>("query");
    QTest::addRow("unbalanced quote") << "\"open phrase";
    QTest::addRow("dangling AND") << "contract AND";
    QTest::addRow("unbalanced paren") << "(a OR b";
    QTest::addRow("hyphen") << "e-mail";
    QTest::addRow("empty") << "   ";
    QTest::addRow("bad NEAR") << "NEAR(a b, x)";
}

void TestSearchService::malformedQuery()
{
    QFETCH(QString, query);
    add(QStringLiteral("m"), QStringLiteral("/m.txt"), { QStringLiteral("contract a b") });
    SearchService search(*m_store);
    try {
        search.search(query);
        QFAIL("no error for a malformed query");
    } catch (const QueryError &e) {
        const QString message = QString::fromUtf8(e.what());
        QVERIFY2(
            !message.contains(QStringLiteral("database")) && !message.contains(QStringLiteral("SELECT")), e.what());
    }
}

void TestSearchService::literalQueryNeverFails()
{
    add(QStringLiteral("l"), QStringLiteral("/l.txt"), { QStringLiteral("send an e-mail about section 4.2 (urgent)") });
    SearchService search(*m_store);
    const QString query = SearchService::literalQuery(QStringLiteral("What about the e-mail in section 4.2?\" (NOT"));
    QCOMPARE(search.search(query).size(), std::size_t(1));
    QCOMPARE(SearchService::literalQuery(QStringLiteral("a A b")), QStringLiteral("\"a\" OR \"b\""));
}

void TestSearchService::countTerms_data()
{
    QTest::addColumn<QString>("query");
    QTest::addColumn<int>("terms");
    QTest::addRow("words") << "alpha beta gamma" << 3;
    QTest::addRow("operators are not terms") << "alpha AND beta OR gamma NOT delta" << 4;
    QTest::addRow("lower-case or is a word") << "alpha or beta" << 3;
    QTest::addRow("phrase words count") << "\"a b c\" OR d" << 4;
    QTest::addRow("operators inside a phrase are words") << "\"this AND that\"" << 3;
    QTest::addRow("NEAR and its distance") << "NEAR(alpha beta, 10)" << 3;
    QTest::addRow("prefix") << "con* OR \"terminat\"*" << 2;
    QTest::addRow("accents and scripts") << "café 合同条款" << 2;
    QTest::addRow("punctuation only") << "( ) * \"\"" << 0;
}

void TestSearchService::countTerms()
{
    QFETCH(QString, query);
    QFETCH(int, terms);
    QCOMPARE(SearchService::countTerms(query), terms);
}

// The reproducers of issue 25: on 94 pages, 2,000 ANDed words took 104 s and 1,300 ORed repeats
// of one common word more than 30 s. Now they, and anything over the term or byte cap, are
// refused before FTS5 sees them.
void TestSearchService::oversizedQueriesComeBackAtOnce_data()
{
    static const char *words[]
        = { "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu" };
    QTest::addColumn<QString>("query");
    QTest::addColumn<QString>("reason");
    QStringList anded;
    for (int i = 0; i < 2000; ++i)
        anded << QLatin1String(words[i % 12]);
    QTest::addRow("2,000 ANDed words") << anded.join(QLatin1Char(' ')) << "bytes";
    QTest::addRow("1,300 ORed repeats of a common word")
        << QStringList(1300, QStringLiteral("mu")).join(QStringLiteral(" OR ")) << "bytes";
    QTest::addRow("65 terms in 4 KiB")
        << QStringList(SearchBudget::kMaxTerms + 1, QStringLiteral("mu")).join(QStringLiteral(" OR ")) << "65 terms";
    QTest::addRow("65 words in one phrase")
        << QLatin1Char('"') + QStringList(65, QStringLiteral("mu")).join(QLatin1Char(' ')) + QLatin1Char('"')
        << "65 terms";
}

void TestSearchService::oversizedQueriesComeBackAtOnce()
{
    QFETCH(QString, query);
    QFETCH(QString, reason);
    addRandomDocuments(0, 25, 7); // 100 pages, every word on most of them
    SearchService search(*m_store);
    QElapsedTimer timer;
    timer.start();
    try {
        search.search(query);
        QFAIL("an oversized query ran");
    } catch (const QueryError &e) {
        QVERIFY2(QString::fromUtf8(e.what()).contains(reason), e.what());
    }
    // Refused before SQLite runs (it took 104 s): within a second even on a loaded CI machine.
    QVERIFY2(timer.elapsed() < 1000, qPrintable(QString::number(timer.elapsed())));
}

// A query within the caps that costs more than its time: stopped, with a message saying so, a
// little after the budget (the progress handler looks every 1,000 steps, nw_bm25 before each
// phrase's scan).
void TestSearchService::slowSearchIsStoppedAtItsTime()
{
    addRandomDocuments(0, 500, 11); // 2,000 pages
    QStringList terms;
    for (int i = 0; i < SearchBudget::kMaxTerms / 2; ++i)
        terms << QStringLiteral("\"alpha mu\"");
    SearchOptions options;
    options.budget.time = std::chrono::milliseconds(1);
    QElapsedTimer timer;
    timer.start();
    try {
        SearchService(*m_store).search(terms.join(QStringLiteral(" OR ")), options);
        QFAIL("the search finished within 1 ms");
    } catch (const QueryError &e) {
        QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("stopped after")), e.what());
    }
    QVERIFY2(timer.elapsed() < 1000, qPrintable(QString::number(timer.elapsed())));
}

// The budget leaves ordinary queries alone: 64 terms run and rank as they did.
void TestSearchService::queryAtTheCapRuns()
{
    addRandomDocuments(0, 50, 3);
    static const char *words[]
        = { "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu" };
    QStringList terms;
    for (int i = 0; i < SearchBudget::kMaxTerms; ++i)
        terms << QLatin1String(words[i % 12]);
    const QString query = terms.join(QStringLiteral(" OR "));
    QCOMPARE(SearchService::countTerms(query), SearchBudget::kMaxTerms);
    SearchOptions options;
    options.limit = 5;
    const auto hits = SearchService(*m_store).search(query, options);
    QCOMPARE(hits.size(), std::size_t(5));
    const auto reference = scores("bm25(pages_fts)", query); // SQLite's own ranking, no budget
    std::vector<double> best;
    for (const auto &[id, score] : reference)
        best.push_back(-score);
    std::sort(best.begin(), best.end(), std::greater<>());
    for (std::size_t i = 0; i < hits.size(); ++i)
        QVERIFY2(std::abs(hits[i].score - best[i]) < 1e-6 * std::max(1.0, best[i]),
            qPrintable(QString::number(hits[i].score)));
}

QTEST_GUILESS_MAIN(TestSearchService)
#include "tst_search_service.moc"
