// `needlework demo` end to end, through its Command as the CLI runs it: a fresh database from
// the sample PDFs, three questions answered with citations to the right pages, the session
// saved, and the KV planner table; then `sessions` and `annotations` on that database.
#include "app/command.h"
#include "app/demo.h"
#include "store/library_store.h"
#include "store/session_store.h"

#include <QTemporaryDir>
#include <QTest>

using namespace nw::app;

namespace {

// Runs a subcommand the way runHeadless does, capturing its output.
int runCommand(const QString &name, const QStringList &args, QString &out, QString &err)
{
    const Command *command = findCommand(name);
    if (!command)
        return -100;
    QCommandLineParser parser;
    command->configure(parser);
    if (!parser.parse(QStringList{QStringLiteral("needlework")} + args))
        return ExitUsage;
    QTextStream outStream(&out);
    QTextStream errStream(&err);
    CommandIo io{outStream, errStream};
    const int rc = command->run(parser, io);
    outStream.flush();
    errStream.flush();
    return rc;
}

} // namespace

class TestDemo : public QObject {
    Q_OBJECT
private slots:
    void demoEndToEnd();
};

void TestDemo::demoEndToEnd()
{
    QTemporaryDir dir;
    const QString db = dir.filePath(QStringLiteral("demo.sqlite"));
    QString out;
    QString err;
    QCOMPARE(runCommand(QStringLiteral("demo"), {QStringLiteral("--db"), db, QStringLiteral("--samples"), dir.filePath(QStringLiteral("pdf"))}, out, err),
             int(ExitOk));
    QVERIFY2(out.contains(QStringLiteral("Ingested 7 documents")), qPrintable(out));
    // Each question is answered from the clause that answers it (see tst_retrieval for the pages).
    QVERIFY2(out.contains(QStringLiteral("GNU General Public License, version 3, p. ")) &&
                 out.contains(QStringLiteral("§6. Conveying Non-Source Forms")), qPrintable(out));
    QVERIFY(out.contains(QStringLiteral("§3. Grant of Patent License")));
    QVERIFY(out.contains(QStringLiteral("If You institute patent litigation")));
    QVERIFY(out.contains(QStringLiteral("§5. Termination")));
    // The KV planner table, with the engine's well-known architectures and three context sizes.
    QVERIFY(out.contains(QStringLiteral("KV planner")));
    QVERIFY(out.contains(QStringLiteral("DeepSeek-V3")));
    QVERIFY(out.contains(QStringLiteral("128K")));

    // Running it again starts from a fresh database, not on top of the last one.
    out.clear();
    QCOMPARE(runCommand(QStringLiteral("demo"), {QStringLiteral("--db"), db, QStringLiteral("--samples"), dir.filePath(QStringLiteral("pdf"))}, out, err),
             int(ExitOk));
    QVERIFY(out.contains(QStringLiteral("Ingested 7 documents")));
    {
        nw::store::LibraryStore library(db);
        nw::store::SessionStore sessions(library.database());
        QCOMPARE(sessions.sessions().size(), std::size_t(1));
        QCOMPARE(sessions.sessions().front().turnCount, 3);
    }

    // The saved session, as Markdown and JSON.
    QString md;
    QCOMPARE(runCommand(QStringLiteral("sessions"), {QStringLiteral("export"), QStringLiteral("1"), QStringLiteral("--db"), db}, md, err), int(ExitOk));
    QVERIFY2(md.contains(QStringLiteral("## Q2: What happens to my patent licenses")), qPrintable(md));
    QVERIFY(md.contains(QStringLiteral("extractive (no model)")));
    QString json;
    QCOMPARE(runCommand(QStringLiteral("sessions"), {QStringLiteral("export"), QStringLiteral("1"), QStringLiteral("--format"), QStringLiteral("json"), QStringLiteral("--db"), db}, json, err),
             int(ExitOk));
    QVERIFY(json.contains(QStringLiteral("\"turns\"")));

    // An annotation by quote: its rectangles come from the words' boxes on the page.
    QString gpl3;
    {
        nw::store::LibraryStore library(db);
        for (const auto &d : library.documents())
            if (d.path.endsWith(QLatin1String("/GPL-3.pdf")))
                gpl3 = QString::number(d.id);
    }
    QVERIFY(!gpl3.isEmpty());
    QString added;
    QCOMPARE(runCommand(QStringLiteral("annotations"), {QStringLiteral("add"), QStringLiteral("--db"), db, QStringLiteral("--doc"), gpl3,
                                                        QStringLiteral("--page"), QStringLiteral("1"), QStringLiteral("--quote"),
                                                        QStringLiteral("GNU GENERAL PUBLIC LICENSE"), QStringLiteral("--tag"), QStringLiteral("title")},
                        added, err),
             int(ExitOk));
    QString csv;
    QCOMPARE(runCommand(QStringLiteral("annotations"), {QStringLiteral("export"), QStringLiteral("--format"), QStringLiteral("csv"), QStringLiteral("--db"), db}, csv, err),
             int(ExitOk));
    const QStringList lines = csv.split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 2);
    QVERIFY2(lines[1].contains(QStringLiteral(",highlight,")) && lines[1].contains(QStringLiteral(";")), qPrintable(lines[1]));
}

QTEST_GUILESS_MAIN(TestDemo)
#include "tst_demo.moc"
