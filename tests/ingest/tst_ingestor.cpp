// The ingest pipeline: every bad input gets one error line and never stops the batch; re-ingest
// is idempotent; a changed file replaces its old version; parallel equals serial; text files;
// cancel keeps what was committed and a rerun finishes; progress reaches the callback.
#include "ingest/ingestor.h"
#include "ingest/page_words.h"
#include "store/search_service.h"
#include "tests/ingest/pdf_fixtures.h"

#include <QDir>
#include <QTemporaryDir>
#include <QTest>

#include <unistd.h>

using namespace nw::ingest;
using nw::store::LibraryStore;

class TestIngestor : public QObject {
    Q_OBJECT
private slots:
    void init();
    void cleanup();
    void badInputNeverStopsTheBatch_data();
    void badInputNeverStopsTheBatch();
    void everyFileFailing();
    void reingestIsIdempotent();
    void changedFileReplacesOldVersion();
    void movedFileKeepsItsDocument();
    void parallelEqualsSerial();
    void largestFilesGoFirst();
    void textFilesAndFolders();
    void wordBoxesAreStoredOrNot();
    void cancelKeepsCommittedWorkAndRerunFinishes();
    void progressReachesTheCallback();
    void collectionOption();

private:
    QString file(const QString &name) const { return m_dir->filePath(name); }
    static QStringList pagesFor(int doc, int nPages);
    void makeCorpus(const QString &folder, int nDocs, int nPages);
    void checkConsistent(LibraryStore &store);
    QTemporaryDir *m_dir = nullptr;
    LibraryStore *m_store = nullptr;
};

void TestIngestor::init()
{
    m_dir = new QTemporaryDir;
    m_store = new LibraryStore(file(QStringLiteral("lib.sqlite")));
}

void TestIngestor::cleanup()
{
    delete m_store;
    delete m_dir;
}

QStringList TestIngestor::pagesFor(int doc, int nPages)
{
    QStringList pages;
    for (int p = 1; p <= nPages; ++p)
        pages << QStringLiteral("document%1 page%2 marker\nclause text number %3").arg(doc).arg(p).arg(doc * 1000 + p);
    return pages;
}

void TestIngestor::makeCorpus(const QString &folder, int nDocs, int nPages)
{
    QDir().mkpath(folder);
    for (int d = 1; d <= nDocs; ++d)
        QVERIFY(nw::test::writeTextPdf(
            folder + QStringLiteral("/doc%1.pdf").arg(d, 3, 10, QLatin1Char('0')), pagesFor(d, nPages)));
}

// Every document has exactly its pages, each page is in the index, no content twice.
void TestIngestor::checkConsistent(LibraryStore &store)
{
    auto &db = store.database();
    QCOMPARE(db.queryInt("SELECT count(*) FROM documents d WHERE page_count != "
                         "(SELECT count(*) FROM pages p WHERE p.document_id = d.id)"),
        std::optional<std::int64_t>(0));
    QCOMPARE(db.queryInt("SELECT count(*) - count(DISTINCT sha256) FROM documents"), std::optional<std::int64_t>(0));
    db.exec("INSERT INTO pages_fts(pages_fts) VALUES ('integrity-check')");
}

void TestIngestor::badInputNeverStopsTheBatch_data()
{
    QTest::addColumn<QString>("kind");
    QTest::addColumn<int>("problem");
    QTest::addColumn<QString>("reasonWord");
    QTest::addRow("missing path") << "missing" << int(IngestProblem::Missing) << "no such file";
    QTest::addRow("unreadable") << "unreadable" << int(IngestProblem::Unreadable) << "cannot be read";
    QTest::addRow("not a PDF") << "notpdf" << int(IngestProblem::NotPdf) << "not a PDF";
    QTest::addRow("corrupt") << "corrupt" << int(IngestProblem::Corrupt) << "damaged";
    QTest::addRow("truncated") << "truncated" << int(IngestProblem::Truncated) << "truncated";
    QTest::addRow("encrypted") << "encrypted" << int(IngestProblem::Encrypted) << "password";
    QTest::addRow("zero pages") << "zero" << int(IngestProblem::ZeroPages) << "no pages";
    QTest::addRow("image only, nothing to recognise") << "image" << int(IngestProblem::NoText) << "OCR found none";
    QTest::addRow("too many pages") << "manypages" << int(IngestProblem::TooLarge) << "pages";
    QTest::addRow("too many bytes") << "bigfile" << int(IngestProblem::TooLarge) << "too large";
    QTest::addRow("unsupported binary") << "binary" << int(IngestProblem::Unsupported) << "unsupported";
    QTest::addRow("empty text") << "empty" << int(IngestProblem::Empty) << "empty";
}

void TestIngestor::badInputNeverStopsTheBatch()
{
    QFETCH(QString, kind);
    QFETCH(int, problem);
    QFETCH(QString, reasonWord);
    const QString good = file(QStringLiteral("good.pdf"));
    QVERIFY(nw::test::writeTextPdf(good, { "A perfectly good page", "and another one" }));
    QString bad = file(kind + QStringLiteral(".pdf"));
    IngestOptions options;
    if (kind == QLatin1String("missing")) {
        bad = file(QStringLiteral("does/not/exist.pdf"));
    } else if (kind == QLatin1String("unreadable")) {
        if (geteuid() == 0)
            QSKIP("running as root: permissions do not stop root from reading a file");
        QVERIFY(nw::test::writeTextPdf(bad, { "secret" }));
        QFile(bad).setPermissions(QFileDevice::Permissions());
    } else if (kind == QLatin1String("notpdf")) {
        QVERIFY(nw::test::writeBytes(bad, "<html><body>Not a PDF</body></html>\n"));
    } else if (kind == QLatin1String("corrupt")) {
        QVERIFY(nw::test::writeBytes(bad, "%PDF-1.7\n" + QByteArray(4000, '\x07') + "\n%%EOF\n"));
    } else if (kind == QLatin1String("truncated")) {
        const QByteArray bytes = nw::test::readBytes(good);
        QVERIFY(nw::test::writeBytes(bad, bytes.left(bytes.size() * 2 / 3)));
    } else if (kind == QLatin1String("encrypted")) {
        QVERIFY2(nw::test::encryptWithQpdf(good, bad), "qpdf (Debian package qpdf) is needed");
    } else if (kind == QLatin1String("zero")) {
        QVERIFY(nw::test::writeBytes(bad, nw::test::handWrittenPdf({})));
    } else if (kind == QLatin1String("image")) {
        QVERIFY(nw::test::writeImagePdf(bad, 3));
    } else if (kind == QLatin1String("manypages")) {
        QVERIFY(nw::test::writeBytes(bad, nw::test::handWrittenPdf({ "1", "2", "3", "4", "5" })));
        options.maxPages = 3;
    } else if (kind == QLatin1String("bigfile")) {
        QVERIFY(nw::test::writeTextPdf(bad, pagesFor(1, 30)));
        options.maxFileBytes = QFileInfo(good).size() + 1;
        QVERIFY(QFileInfo(bad).size() > options.maxFileBytes);
    } else if (kind == QLatin1String("binary")) {
        bad = file(QStringLiteral("blob.bin"));
        QVERIFY(nw::test::writeBytes(bad, QByteArray("\x00\x01\x02\x03\xff\xfe\x00\x10", 8).repeated(64)));
    } else if (kind == QLatin1String("empty")) {
        bad = file(QStringLiteral("empty.txt"));
        QVERIFY(nw::test::writeBytes(bad, "  \n\n  "));
    }
    Ingestor ingestor(*m_store, options);
    const IngestSummary summary = ingestor.run({ bad, good });
    QCOMPARE(summary.files.size(), std::size_t(2));
    QCOMPARE(summary.added, 1);
    QCOMPARE(summary.failed, 1);
    const FileOutcome &failed = summary.files[0];
    QCOMPARE(failed.status, FileStatus::Failed);
    QVERIFY(failed.problem.has_value());
    QCOMPARE(int(*failed.problem), problem);
    QVERIFY2(failed.reason.contains(reasonWord, Qt::CaseInsensitive), qPrintable(failed.reason));
    QCOMPARE(summary.files[1].status, FileStatus::Added);
    QCOMPARE(summary.files[1].pages, 2);
    // One line in the ingest errors table, with the same reason.
    const auto errors = m_store->ingestErrors();
    QCOMPARE(errors.size(), std::size_t(1));
    QCOMPARE(errors[0].kind, QString::fromLatin1(problemName(IngestProblem(problem))));
    QCOMPARE(errors[0].reason, failed.reason);
    QCOMPARE(m_store->stats().documents, 1);
    checkConsistent(*m_store);
}

void TestIngestor::everyFileFailing()
{
    QVERIFY(nw::test::writeBytes(file(QStringLiteral("a.pdf")), "nope"));
    Ingestor ingestor(*m_store);
    const IngestSummary summary = ingestor.run({ file(QStringLiteral("a.pdf")), file(QStringLiteral("b.pdf")) });
    QCOMPARE(summary.failed, 2);
    QCOMPARE(summary.added + summary.present + summary.replaced, 0);
    QCOMPARE(m_store->ingestErrors().size(), std::size_t(2));
}

void TestIngestor::reingestIsIdempotent()
{
    makeCorpus(file(QStringLiteral("corpus")), 4, 3);
    Ingestor first(*m_store);
    const IngestSummary one = first.run({ file(QStringLiteral("corpus")) });
    QCOMPARE(one.added, 4);
    QCOMPARE(one.pagesStored, std::int64_t(12));
    // An annotation made later is keyed by the document; it must survive a re-ingest.
    m_store->database().exec(
        "CREATE TABLE test_annotations (document_id INTEGER REFERENCES documents(id) ON DELETE CASCADE, note TEXT)");
    m_store->database().exec("INSERT INTO test_annotations SELECT id, 'keep me' FROM documents");
    const auto before = m_store->documents();

    Ingestor second(*m_store);
    const IngestSummary two = second.run({ file(QStringLiteral("corpus")) });
    QCOMPARE(two.present, 4);
    QCOMPARE(two.added, 0);
    QCOMPARE(two.pagesStored, std::int64_t(0));
    const auto after = m_store->documents();
    QCOMPARE(after.size(), before.size());
    for (std::size_t i = 0; i < after.size(); ++i) {
        QCOMPARE(after[i].id, before[i].id);
        QCOMPARE(after[i].sha256, before[i].sha256);
        QCOMPARE(after[i].added, before[i].added);
    }
    QCOMPARE(m_store->database().queryInt("SELECT count(*) FROM test_annotations"), std::optional<std::int64_t>(4));
    QCOMPARE(m_store->stats().pages, std::int64_t(12));
    checkConsistent(*m_store);
}

void TestIngestor::changedFileReplacesOldVersion()
{
    const QString path = file(QStringLiteral("contract.pdf"));
    QVERIFY(nw::test::writeTextPdf(path, { "original wording of the indemnity", "second page" }));
    Ingestor(*m_store).run({ path });
    const std::int64_t oldId = m_store->documents().at(0).id;
    QVERIFY(nw::test::writeTextPdf(path, { "amended wording of the warranty" }));
    const IngestSummary summary = Ingestor(*m_store).run({ path });
    QCOMPARE(summary.replaced, 1);
    const auto docs = m_store->documents();
    QCOMPARE(docs.size(), std::size_t(1));
    QVERIFY(docs[0].id != oldId);
    QCOMPARE(docs[0].pageCount, 1);
    nw::store::SearchService search(*m_store);
    QCOMPARE(search.search(QStringLiteral("indemnity")).size(), std::size_t(0));
    QCOMPARE(search.search(QStringLiteral("warranty")).size(), std::size_t(1));
    checkConsistent(*m_store);
}

void TestIngestor::movedFileKeepsItsDocument()
{
    const QString path = file(QStringLiteral("old-name.pdf"));
    QVERIFY(nw::test::writeTextPdf(path, { "moving text" }));
    Ingestor(*m_store).run({ path });
    const QString moved = file(QStringLiteral("new-name.pdf"));
    QVERIFY(QFile::rename(path, moved));
    const IngestSummary summary = Ingestor(*m_store).run({ moved });
    QCOMPARE(summary.present, 1);
    const auto docs = m_store->documents();
    QCOMPARE(docs.size(), std::size_t(1));
    QCOMPARE(docs[0].path, QFileInfo(moved).canonicalFilePath());
}

void TestIngestor::parallelEqualsSerial()
{
    makeCorpus(file(QStringLiteral("par")), 5, 13); // 13 pages: ranges of 4 leave a remainder
    LibraryStore serialStore(file(QStringLiteral("serial.sqlite")));
    IngestOptions serial;
    serial.jobs = 1;
    Ingestor(serialStore, serial).run({ file(QStringLiteral("par")) });
    IngestOptions parallel;
    parallel.jobs = 4;
    parallel.rangePages = 4;
    parallel.batchPages = 7;
    Ingestor(*m_store, parallel).run({ file(QStringLiteral("par")) });
    const char *sql
        = "SELECT d.path || '#' || p.number || ':' || p.text FROM pages p JOIN documents d ON d.id = p.document_id "
          "ORDER BY d.path, p.number";
    auto dump = [sql](LibraryStore &store) {
        QStringList rows;
        nw::store::Statement s(store.database(), sql);
        while (s.step())
            rows << QString::fromStdString(s.columnText(0));
        return rows;
    };
    const QStringList a = dump(serialStore), b = dump(*m_store);
    QCOMPARE(a.size(), 65);
    QCOMPARE(b, a);
    // And the text is the text that was drawn.
    QVERIFY(a.contains(QFileInfo(file(QStringLiteral("par/doc003.pdf"))).canonicalFilePath() + QStringLiteral("#7:")
        + pagesFor(3, 13)[6]));
    checkConsistent(*m_store);
}

// Longest job first: with one worker the documents are written, and so numbered, largest file
// first, whatever order they were named in; the summary keeps the order they were named in.
void TestIngestor::largestFilesGoFirst()
{
    const QStringList names
        = { QStringLiteral("small.pdf"), QStringLiteral("large.pdf"), QStringLiteral("medium.pdf") };
    QVERIFY(nw::test::writeTextPdf(file(names[0]), pagesFor(1, 1)));
    QVERIFY(nw::test::writeTextPdf(file(names[1]), pagesFor(2, 12)));
    QVERIFY(nw::test::writeTextPdf(file(names[2]), pagesFor(3, 5)));
    QVERIFY(QFileInfo(file(names[1])).size() > QFileInfo(file(names[2])).size());
    QVERIFY(QFileInfo(file(names[2])).size() > QFileInfo(file(names[0])).size());
    IngestOptions options;
    options.jobs = 1;
    const IngestSummary summary = Ingestor(*m_store, options).run({ file(names[0]), file(names[1]), file(names[2]) });
    QCOMPARE(summary.added, 3);
    QCOMPARE(summary.files.size(), std::size_t(3));
    for (int i = 0; i < 3; ++i)
        QCOMPARE(summary.files[static_cast<std::size_t>(i)].path, file(names[i]));
    const auto idOf = [&](int i) { return summary.files[static_cast<std::size_t>(i)].documentId; };
    QVERIFY2(idOf(1) < idOf(2) && idOf(2) < idOf(0),
        qPrintable(
            QStringLiteral("document ids: small %1, large %2, medium %3").arg(idOf(0)).arg(idOf(1)).arg(idOf(2))));
}

void TestIngestor::textFilesAndFolders()
{
    const QString folder = file(QStringLiteral("notes"));
    QDir().mkpath(folder + QStringLiteral("/sub"));
    QVERIFY(nw::test::writeBytes(
        folder + QStringLiteral("/readme.md"), "# Project Notes\n\nSome *markdown* text about the café.\n"));
    QString longText;
    for (int i = 0; i < 400; ++i)
        longText += QStringLiteral("Sentence number %1 of a long plain text file.\n").arg(i);
    QVERIFY(nw::test::writeBytes(folder + QStringLiteral("/sub/long.txt"), longText.toUtf8()));
    QVERIFY(nw::test::writeBytes(folder + QStringLiteral("/sub/NOTES"), "an extensionless text file\n"));
    QVERIFY(nw::test::writeBytes(folder + QStringLiteral("/sub/program"),
        QByteArray("\x7f"
                   "ELF\x00\x00\x01",
            7)
            .repeated(50)));
    QVERIFY(nw::test::writeBytes(folder + QStringLiteral("/image.png"), "not looked at"));
    QVERIFY(nw::test::writeBytes(folder + QStringLiteral("/.hidden.txt"), "hidden"));
    IngestOptions options;
    options.textPageChars = 1000;
    const IngestSummary summary = Ingestor(*m_store, options).run({ folder });
    QCOMPARE(summary.added, 3);
    QCOMPARE(summary.skipped, 1); // the binary without extension
    QCOMPARE(summary.failed, 0);
    QCOMPARE(summary.files.size(), std::size_t(4));
    const auto docs = m_store->documents();
    const auto readme = std::find_if(
        docs.begin(), docs.end(), [](const auto &d) { return d.path.endsWith(QStringLiteral("readme.md")); });
    QVERIFY(readme != docs.end());
    QCOMPARE(readme->title, QStringLiteral("Project Notes"));
    QCOMPARE(readme->kind, QStringLiteral("text"));
    const auto longDoc = std::find_if(
        docs.begin(), docs.end(), [](const auto &d) { return d.path.endsWith(QStringLiteral("long.txt")); });
    QVERIFY(longDoc != docs.end());
    QVERIFY(longDoc->pageCount >= longText.size() / 1000);
    QString joined;
    for (int p = 1; p <= longDoc->pageCount; ++p) {
        const QString text = m_store->requirePage(longDoc->id, p).text;
        QVERIFY(text.size() <= 1000);
        QVERIFY2(text.startsWith(QStringLiteral("Sentence number")), qPrintable(text.left(40))); // cut at line ends
        joined += text + QLatin1Char('\n');
    }
    QCOMPARE(joined, longText);
    nw::store::SearchService search(*m_store);
    QCOMPARE(search.search(QStringLiteral("cafe")).size(), std::size_t(1));
    QCOMPARE(search.search(QStringLiteral("extensionless")).size(), std::size_t(1));
}

void TestIngestor::wordBoxesAreStoredOrNot()
{
    const QString a = file(QStringLiteral("a.pdf")), b = file(QStringLiteral("b.pdf"));
    QVERIFY(nw::test::writeTextPdf(a, { "boxed words here" }));
    QVERIFY(nw::test::writeTextPdf(b, { "no boxes kept" }));
    IngestOptions with;
    with.storeWordBoxes = true;
    Ingestor(*m_store, with).run({ a });
    Ingestor(*m_store).run({ b }); // the default: computed on demand
    const auto docs = m_store->documents();
    const auto page = m_store->requirePage(docs[0].id, 1);
    QCOMPARE(page.words.size(), std::size_t(3));
    QCOMPARE(page.text.mid(page.words[2].offset, page.words[2].length), QStringLiteral("here"));
    QVERIFY(page.words[0].box.left() >= 0 && page.words[0].box.right() <= page.width);
    QVERIFY(!m_store->findWordBoxes(docs[1].id, 1).has_value());

    // On demand: the same boxes as at ingest, then cached.
    const auto onDemand = pageWordBoxes(*m_store, docs[1].id, 1);
    const QString text = m_store->requirePage(docs[1].id, 1).text;
    QCOMPARE(onDemand.size(), std::size_t(3));
    QCOMPARE(text.mid(onDemand[1].offset, onDemand[1].length), QStringLiteral("boxes"));
    QVERIFY(std::abs(onDemand[0].box.left() - nw::test::kLeft) < 2.0);
    QVERIFY(m_store->findWordBoxes(docs[1].id, 1).has_value());
    QCOMPARE(pageWordBoxes(*m_store, docs[0].id, 1).size(), std::size_t(3)); // stored ones
    // A changed file cannot give boxes for the old text.
    QVERIFY(nw::test::writeTextPdf(b, { "different words entirely now" }));
    m_store->database().exec("DELETE FROM word_boxes");
    QVERIFY_THROWS_EXCEPTION(nw::Error, pageWordBoxes(*m_store, docs[1].id, 1));
}

void TestIngestor::cancelKeepsCommittedWorkAndRerunFinishes()
{
    const QString corpus = file(QStringLiteral("many"));
    makeCorpus(corpus, 30, 4);
    IngestOptions options;
    options.jobs = 2;
    options.batchPages = 8; // commit every two documents
    Ingestor ingestor(*m_store, options);
    int reports = 0;
    ingestor.setProgressCallback(
        [&](const IngestProgress &p) {
            if (p.pagesStored > 0 && ++reports == 1)
                ingestor.cancel();
        },
        0);
    const IngestSummary summary = ingestor.run({ corpus });
    QVERIFY(summary.cancelled);
    QVERIFY2(summary.added > 0 && summary.added < 30, qPrintable(QString::number(summary.added)));
    QCOMPARE(summary.added + summary.notDone, 30);
    QCOMPARE(m_store->stats().documents, summary.added);
    checkConsistent(*m_store);

    const IngestSummary rest = Ingestor(*m_store, options).run({ corpus });
    QVERIFY(!rest.cancelled);
    QCOMPARE(rest.present, summary.added);
    QCOMPARE(rest.added, 30 - summary.added);
    QCOMPARE(m_store->stats().documents, 30);
    QCOMPARE(m_store->stats().pages, std::int64_t(120));
    checkConsistent(*m_store);
}

void TestIngestor::progressReachesTheCallback()
{
    makeCorpus(file(QStringLiteral("prog")), 3, 5);
    QVERIFY(nw::test::writeBytes(file(QStringLiteral("prog/broken.pdf")), "broken"));
    Ingestor ingestor(*m_store);
    std::vector<IngestProgress> reports;
    ingestor.setProgressCallback([&](const IngestProgress &p) { reports.push_back(p); }, 0);
    ingestor.run({ file(QStringLiteral("prog")) });
    QVERIFY(!reports.empty());
    const IngestProgress &last = reports.back();
    QVERIFY(last.finished);
    QCOMPARE(std::count_if(reports.begin(), reports.end(), [](const auto &p) { return p.finished; }), 1);
    QCOMPARE(last.filesTotal, 4);
    QCOMPARE(last.filesDone, 4);
    QCOMPARE(last.pagesExtracted, std::int64_t(15));
    QCOMPARE(last.pagesStored, std::int64_t(15));
    QCOMPARE(last.bytesDone, last.bytesTotal);
    for (std::size_t i = 1; i < reports.size(); ++i)
        QVERIFY(reports[i].filesDone >= reports[i - 1].filesDone);
}

void TestIngestor::collectionOption()
{
    makeCorpus(file(QStringLiteral("col")), 2, 1);
    IngestOptions options;
    options.collection = QStringLiteral("contracts");
    Ingestor(*m_store, options).run({ file(QStringLiteral("col")) });
    options.collection = QStringLiteral("review");
    Ingestor(*m_store, options).run({ file(QStringLiteral("col/doc001.pdf")) }); // already present
    QCOMPARE(m_store->documents(QStringLiteral("contracts")).size(), std::size_t(2));
    QCOMPARE(m_store->documents(QStringLiteral("review")).size(), std::size_t(1));
}

// QPdfWriter and QPainter need fonts, hence a QGuiApplication (offscreen under CTest).
QTEST_MAIN(TestIngestor)
#include "tst_ingestor.moc"
