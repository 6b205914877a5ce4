// Retrieval over the bundled sample corpus, ingested through the PDF path: questions about the
// licences find the document and section that answer them, and the citations point at the
// right page with boxes on it.
#include "app/retriever.h"
#include "app/sample_corpus.h"
#include "ingest/ingestor.h"
#include "store/library_store.h"

#include <QFileInfo>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace nw::app;

class TestRetrieval : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void queryDropsStopWordsAndUsesPrefixes();
    void findsTheSection_data();
    void findsTheSection();
    void citationsLieOnTheirPage();
    void filtersByDocument();
    void nothingForStopWordsOnly();

private:
    QTemporaryDir m_dir;
    std::unique_ptr<nw::store::LibraryStore> m_store;
};

void TestRetrieval::initTestCase()
{
    QVERIFY(m_dir.isValid());
    const QStringList pdfs = writeSamplePdfs(m_dir.filePath(QStringLiteral("pdf")));
    QCOMPARE(pdfs.size(), 7);
    m_store = std::make_unique<nw::store::LibraryStore>(m_dir.filePath(QStringLiteral("library.sqlite")));
    nw::ingest::Ingestor ingestor(*m_store);
    const auto summary = ingestor.run({m_dir.filePath(QStringLiteral("pdf"))});
    QCOMPARE(summary.added, 7);
    QCOMPARE(summary.failed, 0);
}

void TestRetrieval::queryDropsStopWordsAndUsesPrefixes()
{
    const auto terms = Retriever::queryTerms(QStringLiteral("When does the licence terminate?"));
    QCOMPARE(terms.size(), std::size_t(2));
    QCOMPARE(terms[0].word, QStringLiteral("licence"));
    QCOMPARE(terms[1].stem, QStringLiteral("terminat"));
    QVERIFY(Retriever::matches(terms[1], QStringLiteral("termination")));
    QVERIFY(!Retriever::matches(terms[1], QStringLiteral("term")));
    QCOMPARE(Retriever::buildQuery(QStringLiteral("When does the licence terminate?")),
             QStringLiteral("\"licenc\"* OR \"terminat\"* OR \"licence terminate\""));
}

void TestRetrieval::findsTheSection_data()
{
    QTest::addColumn<QString>("question");
    QTest::addColumn<QString>("document"); // PDF base name
    QTest::addColumn<QString>("section");  // the start of the cited section heading
    QTest::addColumn<QString>("anchor");   // words of the clause that answers: the quote must hold them

    QTest::addRow("GPL-3 object code") << "How may I convey a covered work in object code form?"
                                       << "GPL-3" << "6. Conveying Non-Source Forms"
                                       << "You may convey a covered work in object code form";
    QTest::addRow("Apache patent termination") << "What happens to my patent licenses if I start patent litigation?"
                                               << "Apache-2.0" << "3. Grant of Patent License"
                                               << "If You institute patent litigation against any entity";
    QTest::addRow("MPL termination") << "When do the rights granted under the Mozilla Public License terminate?"
                                     << "MPL-2.0" << "5. Termination"
                                     << "The rights granted under this License will terminate automatically";
    QTest::addRow("LGPL combined work") << "What is a Combined Work under the Lesser General Public License?"
                                        << "LGPL-3" << "0. Additional Definitions"
                                        << "A \"Combined Work\" is a work produced by combining or linking";
    QTest::addRow("Artistic standard version") << "What is the Standard Version of the Package?"
                                               << "Artistic" << "" << "\"Standard Version\" refers to such a Package";
}

// The page of `document` whose text holds `phrase` (white space normalised), found by reading
// the stored pages directly, not through retrieval.
static int pageHolding(nw::store::LibraryStore &store, const QString &document, const QString &phrase)
{
    for (const auto &info : store.documents()) {
        if (QFileInfo(info.path).completeBaseName() != document)
            continue;
        for (int n = 1; n <= info.pageCount; ++n)
            if (store.requirePage(info.id, n).text.simplified().contains(phrase.simplified()))
                return n;
    }
    return 0;
}

void TestRetrieval::findsTheSection()
{
    QFETCH(QString, question);
    QFETCH(QString, document);
    QFETCH(QString, section);
    QFETCH(QString, anchor);
    Retriever retriever(*m_store);
    const auto passages = retriever.retrieve(question);
    QVERIFY(!passages.empty());
    const Citation &top = passages.front().citation;
    QCOMPARE(QFileInfo(top.path).completeBaseName(), document);
    if (section.isEmpty())
        QVERIFY2(top.section.isEmpty(), qPrintable(top.section));
    else
        QVERIFY2(top.section.startsWith(section), qPrintable(top.section));
    const int expectedPage = pageHolding(*m_store, document, anchor);
    QVERIFY(expectedPage > 0);
    QCOMPARE(top.page, expectedPage);
    QVERIFY2(top.quote.simplified().contains(anchor.simplified()), qPrintable(top.quote));
}

void TestRetrieval::citationsLieOnTheirPage()
{
    Retriever retriever(*m_store);
    for (const QString &question : {QStringLiteral("patent infringement claim"), QStringLiteral("warranty disclaimer"),
                                    QStringLiteral("distribute modified versions")}) {
        const auto passages = retriever.retrieve(question);
        QVERIFY(!passages.empty());
        for (const Passage &p : passages) {
            const Citation &c = p.citation;
            const auto page = m_store->requirePage(c.documentId, c.page);
            QCOMPARE(page.text.mid(c.start, c.length), c.quote);
            QCOMPARE(m_store->requireDocument(c.documentId).sha256, c.sha256);
            // A box per word of the quote, each inside the page (Letter, 612 x 792 points), in
            // reading order: top to bottom, left to right on a line. A word that Poppler joined
            // across a line-end hyphen ("non-" + "exclusive", as pdftotext does) keeps one box per
            // line part, so a quote may have a few more boxes than words, never fewer.
            const auto words = c.quote.split(QRegularExpression(QStringLiteral("\\s+")), Qt::SkipEmptyParts);
            const auto hyphenJoins = static_cast<std::size_t>(words.size()) / 8;
            QVERIFY2(c.boxes.size() >= std::size_t(words.size()) && c.boxes.size() <= std::size_t(words.size()) + hyphenJoins,
                     qPrintable(QStringLiteral("%1 boxes for %2 words").arg(c.boxes.size()).arg(words.size())));
            for (std::size_t i = 0; i < c.boxes.size(); ++i) {
                const QRectF &b = c.boxes[i];
                QVERIFY(b.left() >= 0 && b.top() >= 0 && b.right() <= page.width && b.bottom() <= page.height);
                QVERIFY(b.width() > 0 && b.height() > 0);
                if (i > 0) {
                    const QRectF &a = c.boxes[i - 1];
                    QVERIFY(b.top() > a.top() + 1 || (std::abs(b.top() - a.top()) < 1 && b.left() > a.left()));
                }
            }
        }
    }
}

void TestRetrieval::filtersByDocument()
{
    std::int64_t gpl2 = 0;
    for (const auto &info : m_store->documents())
        if (QFileInfo(info.path).completeBaseName() == QLatin1String("GPL-2"))
            gpl2 = info.id;
    QVERIFY(gpl2 > 0);
    Retriever retriever(*m_store);
    RetrievalOptions options;
    options.documentIds = {gpl2};
    const auto passages = retriever.retrieve(QStringLiteral("How may I convey object code?"), options);
    QVERIFY(!passages.empty());
    for (const Passage &p : passages)
        QCOMPARE(p.citation.documentId, gpl2);
}

void TestRetrieval::nothingForStopWordsOnly()
{
    Retriever retriever(*m_store);
    QVERIFY(retriever.retrieve(QStringLiteral("what is it that they do")).empty());
}

QTEST_GUILESS_MAIN(TestRetrieval)
#include "tst_retrieval.moc"
