// `needlework ingest|search|library` as a user runs them: exit codes, JSON output, SIGKILL in
// the middle of an ingest leaves a consistent database and a rerun finishes without duplicates
// (and, in the middle of a scan's OCR, recognises only the pages that were not saved), Ctrl-C
// (SIGINT) stops after a committed batch, the OCR options are checked, email is searched by its
// headers.
#include "cli_process.h"
#include "common/error.h"
#include "ingest/pdf_document.h"
#include "store/library_store.h"
#include "tests/ingest/pdf_fixtures.h"
#include "tests/support/scanned_pdf.h"

#include <QDir>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <csignal>

using nw::store::Database;
using nw::store::LibraryStore;

class TestIngestCli : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void exitCodes_data();
    void exitCodes();
    void ingestJsonSummary();
    void searchJsonAndText();
    void libraryListAndRemove();
    void killAndResume();
    void killInTheMiddleOfOcr();
    void ocrOptionsAreChecked();
    void mailIsListedAndSearchedByHeader();
    void interruptStopsAfterABatch();

private:
    using Result = nw::test::CliResult;
    Result run(const QStringList &args) const { return m_cli.run(args); }
    QProcess *start(const QStringList &args) { return m_cli.start(args, this); }
    QString path(const QString &name) const { return m_dir.filePath(name); }
    static std::int64_t documentCount(const QString &db);
    static void checkConsistent(const QString &db, int expectedDocs, std::int64_t expectedPages);
    void makeCorpus(const QString &folder, int nDocs, int nPages);
    QTemporaryDir m_dir;
    nw::test::NeedleworkCli m_cli { m_dir.filePath(QStringLiteral("home")) };
};

void TestIngestCli::initTestCase()
{
    QVERIFY2(m_cli.isBuilt(), qPrintable(m_cli.missingMessage()));
    QVERIFY(nw::test::writeTextPdf(path(QStringLiteral("good.pdf")),
        { "The governing law is Delaware.", "Payment is due in thirty days." }, QStringLiteral("Supply Agreement")));
    QVERIFY(nw::test::writeBytes(path(QStringLiteral("bad.pdf")), "this is not a pdf"));
    QVERIFY(nw::test::writeBytes(path(QStringLiteral("notes.txt")), "Plain notes mention Delaware too.\n"));
}

std::int64_t TestIngestCli::documentCount(const QString &db)
{
    try {
        // Read only: a file made here before the ingest makes its library would not be a library.
        Database database(db.toStdString(), nw::store::OpenMode::ReadOnly);
        return database.queryInt("SELECT count(*) FROM documents").value_or(0);
    } catch (const nw::Error &) {
        return 0; // no library yet
    }
}

void TestIngestCli::checkConsistent(const QString &db, int expectedDocs, std::int64_t expectedPages)
{
    LibraryStore store(db);
    auto &d = store.database();
    QCOMPARE(d.queryInt("SELECT count(*) FROM documents x WHERE page_count != "
                        "(SELECT count(*) FROM pages p WHERE p.document_id = x.id)"),
        std::optional<std::int64_t>(0));
    QCOMPARE(d.queryInt("SELECT count(*) - count(DISTINCT sha256) FROM documents"), std::optional<std::int64_t>(0));
    QCOMPARE(d.queryInt("SELECT count(*) - count(DISTINCT path) FROM documents"), std::optional<std::int64_t>(0));
    d.exec("INSERT INTO pages_fts(pages_fts) VALUES ('integrity-check')");
    nw::store::Statement integrity(d, "PRAGMA integrity_check");
    QVERIFY(integrity.step());
    QCOMPARE(QString::fromStdString(integrity.columnText(0)), QStringLiteral("ok"));
    if (expectedDocs >= 0) {
        QCOMPARE(store.stats().documents, expectedDocs);
        QCOMPARE(store.stats().pages, expectedPages);
    }
}

void TestIngestCli::makeCorpus(const QString &folder, int nDocs, int nPages)
{
    QDir().mkpath(folder);
    for (int d = 1; d <= nDocs; ++d) {
        QStringList pages;
        for (int p = 1; p <= nPages; ++p)
            pages
                << QStringLiteral("file%1 page%2 text\nwith a second line of words %3").arg(d).arg(p).arg(d * 100 + p);
        QVERIFY(nw::test::writeTextPdf(folder + QStringLiteral("/f%1.pdf").arg(d, 3, 10, QLatin1Char('0')), pages));
    }
}

void TestIngestCli::exitCodes_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<int>("code");
    const QString db = QStringLiteral("--db=") + path(QStringLiteral("codes.sqlite"));
    const QString good = path(QStringLiteral("good.pdf")), bad = path(QStringLiteral("bad.pdf"));
    QTest::addRow("ingest good") << QStringList { "ingest", good, db } << 0;
    QTest::addRow("ingest again: all present") << QStringList { "ingest", good, db } << 0;
    QTest::addRow("ingest mixed") << QStringList { "ingest", bad, path(QStringLiteral("notes.txt")), db } << 0;
    QTest::addRow("ingest all failed") << QStringList { "ingest", bad, path(QStringLiteral("missing.pdf")), db } << 1;
    QTest::addRow("ingest empty folder") << QStringList { "ingest", path(QStringLiteral("home")), db } << 1;
    QTest::addRow("ingest no path") << QStringList { "ingest", db } << 2;
    QTest::addRow("ingest bad jobs") << QStringList { "ingest", good, db, "--jobs", "zero" } << 2;
    QTest::addRow("search") << QStringList { "search", "delaware", db } << 0;
    QTest::addRow("search no hits") << QStringList { "search", "zanzibar", db } << 0;
    QTest::addRow("search malformed") << QStringList { "search", "\"unbalanced", db } << 2;
    QTest::addRow("search no query") << QStringList { "search", db } << 2;
    QTest::addRow("search no library") << QStringList { "search", "x", "--db", path(QStringLiteral("none.sqlite")) }
                                       << 1;
    QTest::addRow("library") << QStringList { "library", db } << 0;
    QTest::addRow("library no library") << QStringList { "library", "--db", path(QStringLiteral("typo.sqlite")) } << 1;
    QTest::addRow("library remove unknown") << QStringList { "library", "remove", "999", db } << 1;
    QTest::addRow("library bad action") << QStringList { "library", "frobnicate", db } << 2;
    QTest::addRow("library remove not a number") << QStringList { "library", "remove", "abc", db } << 2;
}

void TestIngestCli::exitCodes()
{
    QFETCH(QStringList, args);
    QFETCH(int, code);
    QDir().mkpath(path(QStringLiteral("home")));
    const Result r = run(args);
    // A command that only reads (search, library) never creates a database where there was none.
    QVERIFY(!QFileInfo::exists(path(QStringLiteral("typo.sqlite")))
        && !QFileInfo::exists(path(QStringLiteral("none.sqlite"))));
    QVERIFY2(r.code == code,
        qPrintable(
            QStringLiteral("exit %1, expected %2; stderr: %3").arg(r.code).arg(code).arg(QString::fromUtf8(r.err))));
    if (code == 2) // usage errors: one line on stderr
        QCOMPARE(r.err.trimmed().count('\n'), 0);
}

void TestIngestCli::ingestJsonSummary()
{
    const QString db = path(QStringLiteral("json.sqlite"));
    const Result r
        = run({ "ingest", path(QStringLiteral("good.pdf")), path(QStringLiteral("bad.pdf")), "--db", db, "--json" });
    QCOMPARE(r.code, 0);
    const QJsonObject summary = QJsonDocument::fromJson(r.out).object();
    QCOMPARE(summary.value(QStringLiteral("added")).toInt(), 1);
    QCOMPARE(summary.value(QStringLiteral("failed")).toInt(), 1);
    QCOMPARE(summary.value(QStringLiteral("pages")).toInt(), 2);
    const QJsonArray files = summary.value(QStringLiteral("files")).toArray();
    QCOMPARE(files.size(), 2);
    QCOMPARE(files[0].toObject().value(QStringLiteral("status")).toString(), QStringLiteral("added"));
    QCOMPARE(files[1].toObject().value(QStringLiteral("problem")).toString(), QStringLiteral("not-pdf"));
    QVERIFY(!files[1].toObject().value(QStringLiteral("reason")).toString().isEmpty());
    // The plain summary, when not a terminal: one line, then the failures.
    const Result text
        = run({ "ingest", path(QStringLiteral("good.pdf")), path(QStringLiteral("bad.pdf")), "--db", db });
    // A file already in the library is not counted as ingested again.
    QVERIFY2(text.out.startsWith("Ingested 0 of 2 files (0 pages)"), text.out.constData());
    QVERIFY2(text.out.contains("; 1 already in the library, 1 failed"), text.out.constData());
    QVERIFY(text.out.contains("failed: " + QFileInfo(path(QStringLiteral("bad.pdf"))).canonicalFilePath().toUtf8()));
    QVERIFY(!text.err.contains('\r')); // no progress line when stderr is not a terminal
    // The failure is said once, in the summary: not again as a log warning on stderr.
    QVERIFY2(!text.err.contains("bad.pdf"), text.err.constData());
    // Nothing new at all: said so, not "ingested".
    const Result again = run({ "ingest", path(QStringLiteral("good.pdf")), "--db", db });
    QCOMPARE(again.code, 0);
    QVERIFY2(again.out.startsWith("Nothing new: the file is already in the library"), again.out.constData());
}

void TestIngestCli::searchJsonAndText()
{
    const QString db = path(QStringLiteral("search.sqlite"));
    QCOMPARE(run({ "ingest", path(QStringLiteral("good.pdf")), "--db", db }).code, 0);
    const Result r = run({ "search", "governing law", "--db", db, "--json" });
    QCOMPARE(r.code, 0);
    const QJsonArray results = QJsonDocument::fromJson(r.out).object().value(QStringLiteral("results")).toArray();
    QCOMPARE(results.size(), 1);
    const QJsonObject hit = results[0].toObject();
    QCOMPARE(hit.value(QStringLiteral("page")).toInt(), 1);
    QCOMPARE(hit.value(QStringLiteral("title")).toString(), QStringLiteral("Supply Agreement"));
    QVERIFY(hit.value(QStringLiteral("snippet")).toString().contains(QStringLiteral("<mark>governing</mark>")));
    const Result text = run({ "search", "thirty", "--db", db });
    QVERIFY2(text.out.contains("Supply Agreement — p. 2"), text.out.constData());
    // Piped, the snippet is the page's text without marks: asterisks in a text stay what they were.
    QVERIFY2(text.out.contains("Payment is due in thirty days."), text.out.constData());
    QVERIFY(nw::test::writeTextPdf(path(QStringLiteral("stars.pdf")), { "The footnote *der marks a term." }));
    QCOMPARE(run({ "ingest", path(QStringLiteral("stars.pdf")), "--db", db }).code, 0);
    const Result stars = run({ "search", "der", "--db", db });
    QVERIFY2(stars.out.contains("The footnote *der marks a term.") && !stars.out.contains("**"), stars.out.constData());
    const Result bad = run({ "search", "e-mail", "--db", db });
    QCOMPARE(bad.code, 2);
    QVERIFY2(bad.err.contains("not valid") && !bad.err.contains("SELECT"), bad.err.constData());
}

void TestIngestCli::libraryListAndRemove()
{
    const QString db = path(QStringLiteral("library.sqlite"));
    QCOMPARE(run({ "ingest", path(QStringLiteral("good.pdf")), path(QStringLiteral("notes.txt")),
                     path(QStringLiteral("bad.pdf")), "--db", db, "--collection", "deals" })
                 .code,
        0);
    const Result list = run({ "library", "--db", db, "--json" });
    const QJsonObject library = QJsonDocument::fromJson(list.out).object();
    const QJsonArray docs = library.value(QStringLiteral("documents")).toArray();
    QCOMPARE(docs.size(), 2);
    QCOMPARE(library.value(QStringLiteral("errors")).toArray().size(), 1);
    QCOMPARE(
        docs[0].toObject().value(QStringLiteral("collections")).toArray().at(0).toString(), QStringLiteral("deals"));
    int id = 0;
    for (const QJsonValue &doc : docs)
        if (doc.toObject().value(QStringLiteral("title")).toString() == QLatin1String("Supply Agreement"))
            id = doc.toObject().value(QStringLiteral("id")).toInt();
    QVERIFY(id > 0);
    const Result text = run({ "library", "--db", db });
    QVERIFY(text.out.contains("2 documents, 3 pages"));
    QVERIFY(text.out.contains("1 files or parts could not be ingested"));
    QCOMPARE(run({ "library", "remove", QString::number(id), "--db", db }).code, 0);
    const Result after = run({ "search", "governing", "--db", db, "--json" });
    QCOMPARE(QJsonDocument::fromJson(after.out).object().value(QStringLiteral("results")).toArray().size(), 0);
}

void TestIngestCli::killAndResume()
{
    const QString corpus = path(QStringLiteral("kill-corpus"));
    const int nDocs = 40, nPages = 15;
    makeCorpus(corpus, nDocs, nPages);
    const QString db = path(QStringLiteral("kill.sqlite"));
    QProcess *process = start({ "ingest", corpus, "--db", db, "--jobs", "1" });
    QVERIFY(process->waitForStarted());
    std::int64_t atKill = 0;
    for (int i = 0; i < 3000 && atKill < 2 && process->state() == QProcess::Running; ++i) {
        QThread::msleep(10);
        atKill = documentCount(db);
    }
    QVERIFY2(
        process->state() == QProcess::Running, "the ingest finished before it could be killed: make the corpus bigger");
    process->kill(); // SIGKILL
    QVERIFY(process->waitForFinished());
    const std::int64_t survived = documentCount(db);
    QVERIFY2(survived >= atKill && survived < nDocs, qPrintable(QString::number(survived)));
    checkConsistent(db, static_cast<int>(survived), survived * nPages);

    const Result rerun = run({ "ingest", corpus, "--db", db, "--json" });
    QCOMPARE(rerun.code, 0);
    const QJsonObject summary = QJsonDocument::fromJson(rerun.out).object();
    QCOMPARE(summary.value(QStringLiteral("present")).toInt(), static_cast<int>(survived));
    QCOMPARE(summary.value(QStringLiteral("added")).toInt(), nDocs - static_cast<int>(survived));
    checkConsistent(db, nDocs, std::int64_t(nDocs) * nPages);
}

// SIGKILL while a scan is recognised: the pages recognised and saved before the kill are not
// recognised again; the document comes out whole.
void TestIngestCli::killInTheMiddleOfOcr()
{
    const QString original = path(QStringLiteral("ocr-original.pdf"));
    QStringList pages;
    for (int i = 1; i <= 6; ++i)
        pages << QStringLiteral("Scanned exhibit page %1 about invoice%1\nThe amount due is %2 euros")
                     .arg(i)
                     .arg(i * 1000);
    QVERIFY(nw::test::writeTextPdf(original, pages));
    std::vector<QImage> images;
    const nw::ingest::PdfDocument pdf = nw::ingest::PdfDocument::open(original);
    for (int i = 0; i < pdf.pageCount(); ++i)
        images.push_back(nw::test::degradeScan(pdf.renderPage(i, 150), {}));
    const QString scan = path(QStringLiteral("exhibits.pdf"));
    QVERIFY(nw::test::writeImagePdf(scan, images));
    const QString db = path(QStringLiteral("ocr-kill.sqlite"));
    QProcess *process = start({ "ingest", scan, "--db", db, "--jobs", "1" });
    QVERIFY(process->waitForStarted());
    auto saved = [&db]() -> std::int64_t {
        try {
            Database database(db.toStdString(), nw::store::OpenMode::ReadOnly);
            return database.queryInt("SELECT count(*) FROM ocr_pages").value_or(0);
        } catch (const nw::Error &) {
            return 0; // not made yet, or of another schema while it is made
        }
    };
    std::int64_t atKill = 0;
    for (int i = 0; i < 12000 && atKill < 2 && process->state() == QProcess::Running; ++i) {
        QThread::msleep(10);
        atKill = saved();
    }
    QVERIFY2(process->state() == QProcess::Running, "the ingest finished before it could be killed");
    process->kill(); // SIGKILL
    QVERIFY(process->waitForFinished());
    const std::int64_t kept = saved();
    QVERIFY2(kept >= atKill && kept < 6, qPrintable(QString::number(kept)));
    QCOMPARE(documentCount(db), std::int64_t(0));

    const Result rerun = run({ "ingest", scan, "--db", db, "--json" });
    QCOMPARE(rerun.code, 0);
    const QJsonObject summary = QJsonDocument::fromJson(rerun.out).object();
    QCOMPARE(summary.value(QStringLiteral("added")).toInt(), 1);
    QCOMPARE(summary.value(QStringLiteral("ocr_pages")).toInt(), 6);
    QCOMPARE(summary.value(QStringLiteral("ocr_pages_resumed")).toInt(), static_cast<int>(kept));
    QCOMPARE(saved(), std::int64_t(0));
    const Result found = run({ "search", "invoice6", "--db", db, "--json" });
    QCOMPARE(found.code, 0);
    QVERIFY2(found.outText().contains(QStringLiteral("\"page\": 6")), qPrintable(found.outText()));
    // The library says how the text was obtained.
    const QJsonObject library = QJsonDocument::fromJson(run({ "library", "--db", db, "--json" }).out).object();
    const QJsonObject doc = library.value(QStringLiteral("documents")).toArray().at(0).toObject();
    QCOMPARE(doc.value(QStringLiteral("ocr_pages")).toInt(), 6);
    // The mean word confidence: these 150-dpi speckled pages of two short lines score about 40,
    // the specks read as short words of low confidence pulling the mean down.
    const double confidence = doc.value(QStringLiteral("ocr_confidence")).toDouble();
    QVERIFY2(confidence > 20 && confidence <= 100, qPrintable(QString::number(confidence)));
}

void TestIngestCli::ocrOptionsAreChecked()
{
    const QString db = path(QStringLiteral("options.sqlite"));
    const Result mode = run({ "ingest", path(QStringLiteral("good.pdf")), "--db", db, "--ocr", "sometimes" });
    QCOMPARE(mode.code, 2);
    QVERIFY2(
        mode.errText().contains(QStringLiteral("--ocr must be auto, always or never")), qPrintable(mode.errText()));
    const Result languages = run({ "ingest", path(QStringLiteral("good.pdf")), "--db", db, "--ocr-lang", "eng,fra" });
    QCOMPARE(languages.code, 2);
    QVERIFY2(languages.errText().contains(QStringLiteral("eng+fra")), qPrintable(languages.errText()));
    QVERIFY(!QFileInfo::exists(db));
    QCOMPARE(
        run({ "ingest", path(QStringLiteral("good.pdf")), "--db", db, "--ocr", "never", "--ocr-lang", "eng" }).code, 0);
}

void TestIngestCli::mailIsListedAndSearchedByHeader()
{
    const QString box = path(QStringLiteral("cli.mbox"));
    QVERIFY(nw::test::writeBytes(box,
        "From a Tue Jan  2 10:00:00 2024\n"
        "From: Ann Archer <ann@example.com>\nTo: Ben <ben@example.com>\nSubject: Lease renewal\n"
        "Date: Tue, 2 Jan 2024 10:00:00 +0000\nMessage-ID: <l1@x>\n\nShall we renew the lease?\n\n"
        "From b Wed Jan  3 10:00:00 2024\n"
        "From: Ben <ben@example.com>\nTo: Ann Archer <ann@example.com>\nSubject: Re: Lease renewal\n"
        "Date: Wed, 3 Jan 2024 10:00:00 +0000\nMessage-ID: <l2@x>\nIn-Reply-To: <l1@x>\n\n"
        "Yes, renew the lease for five years.\n\n"
        "From c Thu Jan  4 10:00:00 2024\n"
        "From: Cy <cy@example.com>\nTo: Ann Archer <ann@example.com>\nSubject: Parking\n"
        "Date: Thu, 4 Jan 2024 10:00:00 +0000\nMessage-ID: <p1@x>\n\nThe lease covers parking.\n"));
    const QString db = path(QStringLiteral("mail.sqlite"));
    const Result ingest = run({ "ingest", box, "--db", db, "--json" });
    QCOMPARE(ingest.code, 0);
    QCOMPARE(QJsonDocument::fromJson(ingest.out).object().value(QStringLiteral("documents")).toInt(), 3);
    // from: narrows a word search; alone it lists the messages, newest first.
    const Result lease = run({ "search", "lease from:ben", "--db", db, "--json" });
    QCOMPARE(lease.code, 0);
    const QJsonArray hits = QJsonDocument::fromJson(lease.out).object().value(QStringLiteral("results")).toArray();
    QCOMPARE(hits.size(), 1);
    QCOMPARE(hits[0].toObject().value(QStringLiteral("title")).toString(), QStringLiteral("Re: Lease renewal"));
    const Result toAnn = run({ "search", "to:ann after:2024-01-03", "--db", db, "--json" });
    const QJsonArray listed = QJsonDocument::fromJson(toAnn.out).object().value(QStringLiteral("results")).toArray();
    QCOMPARE(listed.size(), 2);
    QCOMPARE(listed[0].toObject().value(QStringLiteral("title")).toString(), QStringLiteral("Parking"));
    const Result badDate = run({ "search", "lease before:yesterday", "--db", db });
    QCOMPARE(badDate.code, 2);
    QVERIFY2(badDate.errText().contains(QStringLiteral("YYYY-MM-DD")), qPrintable(badDate.errText()));
    // The thread is listed together: the reply right after the message it answers.
    const Result listing = run({ "library", "--db", db });
    const QString text = listing.outText();
    const qsizetype first = text.indexOf(QStringLiteral("Lease renewal"));
    const qsizetype reply = text.indexOf(QStringLiteral("Re: Lease renewal"));
    const qsizetype other = text.indexOf(QStringLiteral("Parking"));
    QVERIFY2(first >= 0 && first < reply && reply < other, qPrintable(text));
    QVERIFY(text.contains(QStringLiteral("2024-01-02  Ann Archer <ann@example.com>")));
    QVERIFY(text.contains(QStringLiteral("cli.mbox › message 2")));
    const QJsonObject json = QJsonDocument::fromJson(run({ "library", "--db", db, "--json" }).out).object();
    const QJsonObject email
        = json.value(QStringLiteral("documents")).toArray().at(1).toObject().value(QStringLiteral("email")).toObject();
    QCOMPARE(email.value(QStringLiteral("thread")).toString(), QStringLiteral("l1@x"));
    QCOMPARE(email.value(QStringLiteral("from")).toString(), QStringLiteral("Ben <ben@example.com>"));
}

void TestIngestCli::interruptStopsAfterABatch()
{
    // Big enough that one worker cannot finish it in the moments between the database appearing
    // and the signal (a fast machine ingests these small pages at well over 1,000 a second).
    const QString corpus = path(QStringLiteral("int-corpus"));
    const int nDocs = 150, nPages = 15;
    makeCorpus(corpus, nDocs, nPages);
    const QString db = path(QStringLiteral("interrupt.sqlite"));
    QProcess *process = start({ "ingest", corpus, "--db", db, "--jobs", "1" });
    QVERIFY(process->waitForStarted());
    // Interrupt early, while it works on the first batches (it may have committed none yet).
    for (int i = 0; i < 3000 && !QFileInfo::exists(db) && process->state() == QProcess::Running; ++i)
        QThread::msleep(10);
    QThread::msleep(100);
    QVERIFY2(process->state() == QProcess::Running, "the ingest finished before it could be interrupted");
    ::kill(static_cast<pid_t>(process->processId()), SIGINT);
    QVERIFY(process->waitForFinished(60000));
    QCOMPARE(process->exitStatus(), QProcess::NormalExit);
    const QByteArray out = process->readAllStandardOutput();
    QVERIFY2(process->exitCode() == 130,
        qPrintable(QStringLiteral("exit code %1: %2").arg(process->exitCode()).arg(QString::fromUtf8(out))));
    QVERIFY2(out.startsWith("Stopped: ingested"), "summary line missing");
    const std::int64_t kept = documentCount(db);
    QVERIFY(kept < nDocs);
    checkConsistent(db, static_cast<int>(kept), kept * nPages);
}

// QPdfWriter and QPainter need fonts, hence a QGuiApplication (offscreen under CTest).
QTEST_MAIN(TestIngestCli)
#include "tst_ingest_cli.moc"
