// Command-line parsing: GUI vs subcommand, global options, usage errors, help texts.
#include "app/cli.h"

#include <QRegularExpression>
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
    void everyNumericOptionHasARange();
    void numericValues_data();
    void numericValues();
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

// Each option whose value name says it is a number is listed in its command's `numbers`, so the
// command line checks it before the command runs; and each listed rule names a real option.
void TestCli::everyNumericOptionHasARange()
{
    const QStringList numericNames = {QStringLiteral("N"), QStringLiteral("T"), QStringLiteral("K"), QStringLiteral("P"),
                                      QStringLiteral("R"), QStringLiteral("S"), QStringLiteral("ID")};
    for (const nw::app::Command &command : nw::app::allCommands()) {
        QCommandLineParser parser;
        command.configure(parser);
        QStringList ruled;
        for (const nw::app::NumericOption &rule : command.numbers)
            ruled << rule.name;
        const QString help = parser.helpText();
        // Qt prints one-letter options with one dash ("-n <N>").
        auto dashes = [](const QString &name) { return name.size() == 1 ? QStringLiteral("-") : QStringLiteral("--"); };
        for (const nw::app::NumericOption &rule : command.numbers)
            QVERIFY2(help.contains(dashes(rule.name) + rule.name + QStringLiteral(" <")),
                     qPrintable(command.name + QStringLiteral(": rule for a missing option ") + rule.name));
        static const QRegularExpression option(QStringLiteral("(?:^|[\\s,])--?([a-z][a-z-]*) <([A-Z]+)>"));
        for (auto it = option.globalMatch(help); it.hasNext();) {
            const QRegularExpressionMatch m = it.next();
            if (numericNames.contains(m.captured(2)))
                QVERIFY2(ruled.contains(m.captured(1)),
                         qPrintable(command.name + QStringLiteral(": --") + m.captured(1) + QStringLiteral(" has no range")));
        }
    }
}

void TestCli::numericValues_data()
{
    using nw::app::NumberKind;
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("kind");
    QTest::addColumn<bool>("valid");
    QTest::addColumn<double>("value");
    QTest::addRow("integer") << QStringLiteral("12") << int(NumberKind::Integer) << true << 12.0;
    QTest::addRow("integer with spaces") << QStringLiteral(" 7 ") << int(NumberKind::Integer) << true << 7.0;
    QTest::addRow("integer, not a fraction") << QStringLiteral("1.5") << int(NumberKind::Integer) << false << 0.0;
    QTest::addRow("integer, not a word") << QStringLiteral("abc") << int(NumberKind::Integer) << false << 0.0;
    QTest::addRow("integer, not empty") << QString() << int(NumberKind::Integer) << false << 0.0;
    QTest::addRow("real") << QStringLiteral("0.95") << int(NumberKind::Real) << true << 0.95;
    QTest::addRow("real, not nan") << QStringLiteral("nan") << int(NumberKind::Real) << false << 0.0;
    QTest::addRow("real, not inf") << QStringLiteral("inf") << int(NumberKind::Real) << false << 0.0;
    QTest::addRow("real, not overflowing") << QStringLiteral("1e999") << int(NumberKind::Real) << false << 0.0;
    QTest::addRow("tokens") << QStringLiteral("4096") << int(NumberKind::Tokens) << true << 4096.0;
    QTest::addRow("tokens 32k") << QStringLiteral("32k") << int(NumberKind::Tokens) << true << 32768.0;
    QTest::addRow("tokens 1M") << QStringLiteral("1M") << int(NumberKind::Tokens) << true << 1048576.0;
    QTest::addRow("tokens 1.5k") << QStringLiteral("1.5k") << int(NumberKind::Tokens) << true << 1536.0;
    QTest::addRow("tokens, not 1.0001k") << QStringLiteral("1.0001k") << int(NumberKind::Tokens) << false << 0.0;
    QTest::addRow("tokens, not a fraction") << QStringLiteral("12.5") << int(NumberKind::Tokens) << false << 0.0;
    QTest::addRow("tokens, not 32q") << QStringLiteral("32q") << int(NumberKind::Tokens) << false << 0.0;
}

void TestCli::numericValues()
{
    QFETCH(QString, text);
    QFETCH(int, kind);
    QFETCH(bool, valid);
    QFETCH(double, value);
    const std::optional<double> v = nw::app::parseNumber(text, nw::app::NumberKind(kind));
    QCOMPARE(v.has_value(), valid);
    if (valid)
        QCOMPARE(*v, value);
}

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
