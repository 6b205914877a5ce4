// Command-line parsing: GUI vs subcommand, global options, usage errors, help texts.
#include "app/cli.h"

#include <QTest>

using nw::app::Invocation;

class TestCli : public QObject {
    Q_OBJECT
private slots:
    void invocation_data();
    void invocation();
    void globalOptionsReachTheSubcommand();
    void helpListsEverySubcommand();
    void commandHelpShowsItsOptions();
};

void TestCli::invocation_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<int>("kind");
    QTest::addColumn<QString>("subcommand");

    const auto k = [](Invocation::Kind kind) { return static_cast<int>(kind); };
    QTest::addRow("no arguments opens the window") << QStringList{} << k(Invocation::Kind::Gui) << QString();
    QTest::addRow("--db only opens the window") << QStringList{"--db", "x.sqlite"} << k(Invocation::Kind::Gui) << QString();
    QTest::addRow("--help") << QStringList{"--help"} << k(Invocation::Kind::Help) << QString();
    QTest::addRow("-h") << QStringList{"-h"} << k(Invocation::Kind::Help) << QString();
    QTest::addRow("--version") << QStringList{"--version"} << k(Invocation::Kind::Version) << QString();
    QTest::addRow("doctor") << QStringList{"doctor", "--json"} << k(Invocation::Kind::Subcommand) << "doctor";
    QTest::addRow("--help doctor") << QStringList{"--help", "doctor"} << k(Invocation::Kind::Help) << "doctor";
    QTest::addRow("unknown subcommand") << QStringList{"frobnicate"} << k(Invocation::Kind::UsageError) << QString();
    QTest::addRow("unknown option") << QStringList{"--frobnicate"} << k(Invocation::Kind::UsageError) << QString();
    QTest::addRow("missing option value") << QStringList{"--db"} << k(Invocation::Kind::UsageError) << QString();
}

void TestCli::invocation()
{
    QFETCH(QStringList, args);
    QFETCH(int, kind);
    QFETCH(QString, subcommand);
    const Invocation inv = nw::app::parseInvocation(QStringList{"needlework"} + args);
    QCOMPARE(static_cast<int>(inv.kind), kind);
    if (inv.kind == Invocation::Kind::UsageError)
        QVERIFY(!inv.error.isEmpty());
    else
        QCOMPARE(inv.subcommand, subcommand);
}

void TestCli::globalOptionsReachTheSubcommand()
{
    const Invocation inv = nw::app::parseInvocation({"needlework", "--db=lib.sqlite", "--log-level", "debug", "doctor"});
    QCOMPARE(inv.kind, Invocation::Kind::Subcommand);
    QCOMPARE(inv.logLevel, QStringLiteral("debug"));
    QVERIFY(inv.commandArgs.contains(QStringLiteral("--db=lib.sqlite")));
}

void TestCli::helpListsEverySubcommand()
{
    const QString help = nw::app::programHelp();
    for (const nw::app::Command &command : nw::app::allCommands())
        QVERIFY2(help.contains(QStringLiteral("  ") + command.name), qPrintable(command.name));
}

void TestCli::commandHelpShowsItsOptions()
{
    const QString help = nw::app::commandHelp(*nw::app::findCommand(QStringLiteral("doctor")));
    QVERIFY(help.startsWith(QStringLiteral("Usage: needlework doctor")));
    QVERIFY(help.contains(QStringLiteral("--json")));
    QVERIFY(help.contains(QStringLiteral("--log-level")));
}

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
