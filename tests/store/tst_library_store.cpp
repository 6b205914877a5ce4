// LibraryStore: documents keyed by content hash, replacement of a changed file in one step,
// removal that cleans the index, collections, ingest errors and packed word boxes.
#include "common/error.h"
#include "store/library_store.h"
#include "store/word_boxes.h"

#include <QTemporaryDir>
#include <QTest>

using namespace nw::store;

class TestLibraryStore : public QObject {
    Q_OBJECT
private slots:
    void init();
    void cleanup();
    void addIsIdempotentBySha256();
    void changedFileReplacesOldVersion();
    void removeCleansPagesAndIndex();
    void collections();
    void ingestErrorsAreRecordedAndCleared();
    void wordBoxesPackToKnownBytes();
    void wordBoxesRoundTripThroughThePage();
    void cachedWordBoxes();
    void missingDocumentIsAClearError();

private:
    NewDocument document(const QString &sha, const QString &path, const QStringList &pages);
    std::int64_t ftsCount(const char *query);
    QTemporaryDir *m_dir = nullptr;
    LibraryStore *m_store = nullptr;
};

void TestLibraryStore::init()
{
    m_dir = new QTemporaryDir;
    m_store = new LibraryStore(m_dir->path() + QStringLiteral("/lib.sqlite"));
}

void TestLibraryStore::cleanup()
{
    delete m_store;
    delete m_dir;
}

NewDocument TestLibraryStore::document(const QString &sha, const QString &path, const QStringList &pages)
{
    NewDocument d;
    d.info.sha256 = sha;
    d.info.path = path;
    d.info.kind = QStringLiteral("pdf");
    d.info.title = QStringLiteral("Title of ") + path;
    d.info.pageCount = static_cast<int>(pages.size());
    d.info.bytes = 1234;
    for (qsizetype i = 0; i < pages.size(); ++i)
        d.pages.push_back({static_cast<int>(i) + 1, QString::number(i + 1), 612, 792, pages[i], {}});
    return d;
}

std::int64_t TestLibraryStore::ftsCount(const char *query)
{
    return m_store->database()
        .queryInt(std::string("SELECT count(*) FROM pages_fts WHERE pages_fts MATCH '") + query + "'")
        .value_or(-1);
}

void TestLibraryStore::addIsIdempotentBySha256()
{
    const auto first = m_store->addDocument(document("aa11", "/docs/a.pdf", {"alpha page", "beta page"}));
    QCOMPARE(first.outcome, LibraryStore::AddOutcome::Added);
    const auto again = m_store->addDocument(document("aa11", "/docs/a.pdf", {"alpha page", "beta page"}));
    QCOMPARE(again.outcome, LibraryStore::AddOutcome::AlreadyPresent);
    QCOMPARE(again.documentId, first.documentId);
    // The same content at another path is the same document.
    const auto copy = m_store->addDocument(document("aa11", "/elsewhere/a.pdf", {"alpha page", "beta page"}));
    QCOMPARE(copy.outcome, LibraryStore::AddOutcome::AlreadyPresent);
    QCOMPARE(m_store->stats().documents, 1);
    QCOMPARE(m_store->stats().pages, std::int64_t(2));
    QCOMPARE(ftsCount("alpha"), std::int64_t(1));
}

void TestLibraryStore::changedFileReplacesOldVersion()
{
    const auto v1 = m_store->addDocument(document("0001", "/docs/a.pdf", {"old wording", "kept page"}));
    const auto other = m_store->addDocument(document("0002", "/docs/b.pdf", {"unrelated"}));
    const auto v2 = m_store->addDocument(document("0003", "/docs/a.pdf", {"new wording"}));
    QCOMPARE(v2.outcome, LibraryStore::AddOutcome::Replaced);
    QVERIFY(!m_store->findDocument(v1.documentId));
    QVERIFY(m_store->findDocument(other.documentId));
    QCOMPARE(m_store->findDocumentsByPath(QStringLiteral("/docs/a.pdf")).size(), std::size_t(1));
    QCOMPARE(ftsCount("old"), std::int64_t(0));
    QCOMPARE(ftsCount("kept"), std::int64_t(0));
    QCOMPARE(ftsCount("new"), std::int64_t(1));
    QCOMPARE(m_store->stats().pages, std::int64_t(2));
}

void TestLibraryStore::removeCleansPagesAndIndex()
{
    const auto a = m_store->addDocument(document("aa", "/a.pdf", {"needle in page one", "hay"}));
    m_store->addToCollection(a.documentId, QStringLiteral("c"));
    QVERIFY(m_store->removeDocument(a.documentId));
    QVERIFY(!m_store->removeDocument(a.documentId));
    QCOMPARE(m_store->database().queryInt("SELECT count(*) FROM pages"), std::optional<std::int64_t>(0));
    QCOMPARE(m_store->database().queryInt("SELECT count(*) FROM document_collections"), std::optional<std::int64_t>(0));
    QCOMPARE(ftsCount("needle"), std::int64_t(0));
    m_store->database().exec("INSERT INTO pages_fts(pages_fts) VALUES ('integrity-check')");
}

void TestLibraryStore::collections()
{
    const auto a = m_store->addDocument(document("a1", "/a.pdf", {"x"}));
    const auto b = m_store->addDocument(document("b1", "/b.pdf", {"y"}));
    m_store->addToCollection(a.documentId, QStringLiteral("contracts"));
    m_store->addToCollection(a.documentId, QStringLiteral("contracts")); // no duplicate link
    m_store->addToCollection(b.documentId, QStringLiteral("papers"));
    m_store->addToCollection(a.documentId, QStringLiteral("papers"));
    QCOMPARE(m_store->documents(QStringLiteral("contracts")).size(), std::size_t(1));
    QCOMPARE(m_store->documents(QStringLiteral("papers")).size(), std::size_t(2));
    QCOMPARE(m_store->documents().size(), std::size_t(2));
    QCOMPARE(m_store->requireDocument(a.documentId).collections, (QStringList{"contracts", "papers"}));
    const std::vector<CollectionInfo> all = m_store->collections();
    QCOMPARE(all.size(), std::size_t(2));
    QCOMPARE(all[0].name, QStringLiteral("contracts"));
    QCOMPARE(all[0].documentCount, 1);
    QCOMPARE(all[1].documentCount, 2);
    QVERIFY_THROWS_EXCEPTION(nw::Error, m_store->ensureCollection(QStringLiteral("  ")));
}

void TestLibraryStore::ingestErrorsAreRecordedAndCleared()
{
    m_store->recordIngestError(QStringLiteral("/x.pdf"), QStringLiteral("encrypted"), QStringLiteral("needs a password"));
    m_store->recordIngestError(QStringLiteral("/x.pdf"), QStringLiteral("truncated"), QStringLiteral("cut short"));
    QCOMPARE(m_store->ingestErrors().size(), std::size_t(1)); // one line per path: the latest
    QCOMPARE(m_store->ingestErrors()[0].kind, QStringLiteral("truncated"));
    // A later successful ingest of that path clears it.
    m_store->addDocument(document("ff", "/x.pdf", {"fixed"}));
    QCOMPARE(m_store->ingestErrors().size(), std::size_t(0));
}

void TestLibraryStore::wordBoxesPackToKnownBytes()
{
    // Hand-computed: offset 0x00012345 -> 45 23 01 00; length 7 -> 07 00; x 72 pt = 1152/16 ->
    // 80 04; y 10.5 pt = 168 -> a8 00; width 30.25 pt = 484 -> e4 01; height 12 pt = 192 -> c0 00.
    const std::vector<WordBox> words{{0x12345, 7, QRectF(72, 10.5, 30.25, 12)}};
    const QByteArray expected = QByteArray::fromHex("4523010007008004a800e401c000");
    QCOMPARE(packWordBoxes(words).toHex(), expected.toHex());
    const std::vector<WordBox> back = unpackWordBoxes(expected);
    QCOMPARE(back.size(), std::size_t(1));
    QCOMPARE(back[0].offset, 0x12345u);
    QCOMPARE(back[0].length, std::uint16_t(7));
    QCOMPARE(back[0].box, QRectF(72, 10.5, 30.25, 12));
    QVERIFY_THROWS_EXCEPTION(nw::Error, unpackWordBoxes(QByteArray(13, 'x')));
}

void TestLibraryStore::wordBoxesRoundTripThroughThePage()
{
    NewDocument d = document("wb", "/w.pdf", {"hello world"});
    d.pages[0].words = {{0, 5, QRectF(72, 90, 30, 12)}, {6, 5, QRectF(105, 90, 33, 12)}};
    const auto added = m_store->addDocument(d);
    const PageRecord page = m_store->requirePage(added.documentId, 1);
    QCOMPARE(page.words.size(), std::size_t(2));
    QCOMPARE(page.text.mid(page.words[1].offset, page.words[1].length), QStringLiteral("world"));
    QCOMPARE(page.words[1].box, QRectF(105, 90, 33, 12));
}

void TestLibraryStore::cachedWordBoxes()
{
    const auto added = m_store->addDocument(document("cw", "/c.pdf", {"one two"}));
    QVERIFY(!m_store->findWordBoxes(added.documentId, 1));
    m_store->cacheWordBoxes(added.documentId, 1, {{4, 3, QRectF(1, 2, 3, 4)}});
    const auto cached = m_store->findWordBoxes(added.documentId, 1);
    QVERIFY(cached);
    QCOMPARE(cached->at(0).offset, 4u);
    QVERIFY_THROWS_EXCEPTION(nw::Error, m_store->cacheWordBoxes(added.documentId, 2, {}));
}

void TestLibraryStore::missingDocumentIsAClearError()
{
    try {
        m_store->requireDocument(42);
        QFAIL("no error");
    } catch (const nw::Error &e) {
        QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("no document with id 42")), e.what());
    }
}

QTEST_GUILESS_MAIN(TestLibraryStore)
#include "tst_library_store.moc"
