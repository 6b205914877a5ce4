// One page-numbering rule (app/page_numbers.h) as a user meets it on the command line: a PDF that
// prints "i, ii, 1, 2, 3" on its five pages is searched, annotated, asked about and exported, and
// every front end names its fourth page "p. 2 (file page 4)", takes "2" (or "#4") for it, and
// refuses a page the document does not have. Annotations are listed and exported by document
// title and path, and two documents with one title are told apart by their file names.
#include "app/page_numbers.h"
#include "cli_process.h"
#include "tests/ingest/pdf_fixtures.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

using nw::app::labelRanges;
using nw::app::pageCitation;
using nw::app::pageName;
using nw::app::resolvePage;

class TestPageNumbers : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void names();
    void resolve_data();
    void resolve();
    void ranges();
    void commandLine();
    void distinctTitlesInListsAndExports();

private:
    nw::test::CliResult run(const QStringList &args) const { return m_cli.run(args); }
    QTemporaryDir m_dir;
    nw::test::NeedleworkCli m_cli { m_dir.filePath(QStringLiteral("home")) };
    QString m_db;
};

void TestPageNumbers::initTestCase()
{
    QVERIFY(m_dir.isValid());
    QVERIFY2(m_cli.isBuilt(), qPrintable(m_cli.missingMessage()));
    // Five pages printed i, ii, 1, 2, 3 (a /PageLabels tree: roman from page 1, decimal from page 3).
    const QByteArray pdf
        = nw::test::handWrittenPdf({ "Cover of the services agreement", "Table of contents", "Scope of the services",
                                       "Termination for convenience on notice", "Signatures" },
            "/PageLabels << /Nums [0 << /S /r >> 2 << /S /D >>] >>");
    QVERIFY(nw::test::writeBytes(m_dir.filePath(QStringLiteral("agreement.pdf")), pdf));
    m_db = m_dir.filePath(QStringLiteral("pages.sqlite"));
    const nw::test::CliResult ingested
        = run({ "ingest", m_dir.filePath(QStringLiteral("agreement.pdf")), "--db", m_db });
    QVERIFY2(ingested.code == 0, ingested.err.constData());
}

void TestPageNumbers::names()
{
    QCOMPARE(pageName(4, QStringLiteral("2")), QStringLiteral("2 (file page 4)"));
    QCOMPARE(pageName(2, QStringLiteral("ii")), QStringLiteral("ii (file page 2)"));
    QCOMPARE(pageName(7, QStringLiteral("7")), QStringLiteral("7")); // the same: said once
    QCOMPARE(pageName(7, QString()), QStringLiteral("7")); // no label printed
    QCOMPARE(pageCitation(4, QStringLiteral("2")), QStringLiteral("p. 2 (file page 4)"));
    QCOMPARE(pageCitation(3, QString()), QStringLiteral("p. 3"));
}

void TestPageNumbers::resolve_data()
{
    QTest::addColumn<QStringList>("labels");
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("page");
    const QStringList printed { "i", "ii", "1", "2", "3" };
    const QStringList none { "", "", "" };
    QTest::addRow("printed label") << printed << "2" << 4;
    QTest::addRow("roman label") << printed << "ii" << 2;
    QTest::addRow("spaces around") << printed << " 3 " << 5;
    QTest::addRow("#N is the file's page") << printed << "#1" << 1;
    QTest::addRow("#N last") << printed << "#5" << 5;
    QTest::addRow("a number not printed") << printed << "4" << 0; // not the page printed "2"
    QTest::addRow("out of range") << printed << "999" << 0;
    QTest::addRow("#N out of range") << printed << "#6" << 0;
    QTest::addRow("#0") << printed << "#0" << 0;
    QTest::addRow("unknown label") << printed << "iv" << 0;
    QTest::addRow("empty") << printed << "" << 0;
    QTest::addRow("no labels: N") << none << "3" << 3;
    QTest::addRow("no labels: #N") << none << "#2" << 2;
    QTest::addRow("no labels: out of range") << none << "4" << 0;
    QTest::addRow("no labels: negative") << none << "-1" << 0;
}

void TestPageNumbers::resolve()
{
    QFETCH(QStringList, labels);
    QFETCH(QString, text);
    QFETCH(int, page);
    QCOMPARE(resolvePage(text, labels), page);
}

void TestPageNumbers::ranges()
{
    QCOMPARE(labelRanges({ "i", "ii", "1", "2", "3" }), QStringLiteral("i–ii, 1–3"));
    QCOMPARE(labelRanges({ "", "", "" }), QStringLiteral("1–3"));
    QCOMPARE(labelRanges({ "A-1", "A-2", "1", "2", "7" }), QStringLiteral("A-1–A-2, 1–2, 7"));
}

void TestPageNumbers::commandLine()
{
    // search: the printed label, the file's page beside it.
    const nw::test::CliResult search = run({ "search", "termination", "--db", m_db });
    QCOMPARE(search.code, 0);
    QVERIFY2(search.outText().contains(QStringLiteral("— p. 2 (file page 4)")), search.out.constData());

    // annotations add: the printed label goes to its page, #N to the Nth page of the file.
    const nw::test::CliResult added = run({ "annotations", "add", "--db", m_db, "--doc", "1", "--page", "2", "--kind",
        "note", "--note", "notice period?" });
    QVERIFY2(added.code == 0, added.err.constData());
    QVERIFY2(
        added.outText().contains(QStringLiteral("added to p. 2 (file page 4) of document 1")), added.out.constData());
    const nw::test::CliResult cover = run(
        { "annotations", "add", "--db", m_db, "--doc", "1", "--page", "#1", "--kind", "note", "--note", "cover" });
    QVERIFY2(cover.code == 0, cover.err.constData());
    QVERIFY2(cover.outText().contains(QStringLiteral("added to p. i (file page 1)")), cover.out.constData());

    // A page the document does not have is refused, with what it has; nothing is added.
    for (const char *page : { "999", "4", "#9", "vii" }) {
        const nw::test::CliResult bad = run(
            { "annotations", "add", "--db", m_db, "--doc", "1", "--page", page, "--kind", "note", "--note", "x" });
        QVERIFY2(bad.code == 1, qPrintable(QStringLiteral("%1: exit %2").arg(QString::fromLatin1(page)).arg(bad.code)));
        QVERIFY2(bad.errText().contains(QStringLiteral("has no page '%1'").arg(QString::fromLatin1(page)))
                && bad.errText().contains(QStringLiteral("5 pages, printed i–ii, 1–3")),
            bad.err.constData());
    }
    const nw::test::CliResult listed = run({ "annotations", "list", "--db", m_db, "--format", "json" });
    const QJsonArray all = QJsonDocument::fromJson(listed.out).array();
    QCOMPARE(all.size(), 2);
    const QJsonObject note = all[1].toObject();
    QCOMPARE(note.value(QStringLiteral("page")).toInt(), 4);
    QCOMPARE(note.value(QStringLiteral("page_label")).toString(), QStringLiteral("2"));
    QCOMPARE(note.value(QStringLiteral("document_title")).toString(), QStringLiteral("agreement"));
    QCOMPARE(note.value(QStringLiteral("document_path")).toString(),
        QFileInfo(m_dir.filePath(QStringLiteral("agreement.pdf"))).canonicalFilePath());

    // The filter takes the printed page too, and needs the document it belongs to.
    const nw::test::CliResult filtered = run({ "annotations", "list", "--db", m_db, "--doc", "1", "--page", "2" });
    QCOMPARE(filtered.code, 0);
    QVERIFY2(filtered.outText().contains(QStringLiteral("- p. 2 (file page 4), note — notice period?")),
        filtered.out.constData());
    QVERIFY(!filtered.outText().contains(QStringLiteral("cover")));
    QCOMPARE(run({ "annotations", "list", "--db", m_db, "--page", "2" }).code, 2);

    // ask: the answer, its citation and its "Where" block name the same page the same way.
    const nw::test::CliResult asked = run({ "ask", "can the agreement be terminated for convenience?", "--db", m_db });
    QCOMPARE(asked.code, 0);
    const QString answer = asked.outText();
    QVERIFY2(answer.contains(QStringLiteral("agreement, p. 2 (file page 4)")), qPrintable(answer));
    QVERIFY2(answer.contains(QStringLiteral("agreement.pdf — p. 2 (file page 4), chars")), qPrintable(answer));
    QVERIFY2(!answer.contains(QStringLiteral("page 4,")), qPrintable(answer)); // never the file's page alone
    // The session export names it so too.
    const nw::test::CliResult session = run({ "sessions", "export", "1", "--db", m_db });
    QCOMPARE(session.code, 0);
    QVERIFY2(session.outText().contains(QStringLiteral("p. 2 (file page 4)")), session.out.constData());
}

void TestPageNumbers::distinctTitlesInListsAndExports()
{
    // Two versions of one licence, both titled alike in their metadata.
    const QString db = m_dir.filePath(QStringLiteral("titles.sqlite"));
    for (const char *name : { "lgpl-2.1.pdf", "lgpl-3.pdf" })
        QVERIFY(nw::test::writeTextPdf(m_dir.filePath(QString::fromLatin1(name)),
            { QStringLiteral("Lesser licence text of %1, with its conditions.").arg(QString::fromLatin1(name)) },
            QStringLiteral("GNU Lesser General Public License")));
    QCOMPARE(run({ "ingest", m_dir.filePath(QStringLiteral("lgpl-2.1.pdf")),
                     m_dir.filePath(QStringLiteral("lgpl-3.pdf")), "--db", db })
                 .code,
        0);
    for (const char *doc : { "1", "2" })
        QCOMPARE(run({ "annotations", "add", "--db", db, "--doc", doc, "--page", "1", "--kind", "note", "--note",
                         "compare" })
                     .code,
            0);
    const nw::test::CliResult md = run({ "annotations", "export", "--format", "md", "--db", db });
    QCOMPARE(md.code, 0);
    const QString text = md.outText();
    QVERIFY2(text.contains(QStringLiteral("## GNU Lesser General Public License (lgpl-2.1.pdf)\n\n")
                 + QFileInfo(m_dir.filePath(QStringLiteral("lgpl-2.1.pdf"))).canonicalFilePath()),
        qPrintable(text));
    QVERIFY2(text.contains(QStringLiteral("## GNU Lesser General Public License (lgpl-3.pdf)")), qPrintable(text));
    QVERIFY2(!text.contains(QStringLiteral("## Document ")), qPrintable(text)); // no hashes for people
    const nw::test::CliResult hits = run({ "search", "conditions", "--db", db });
    QVERIFY2(hits.outText().contains(QStringLiteral("GNU Lesser General Public License (lgpl-3.pdf) — p. 1")),
        hits.out.constData());
}

QTEST_MAIN(TestPageNumbers) // the test draws its PDFs with QPainter: fonts need a QGuiApplication
#include "tst_page_numbers.moc"
