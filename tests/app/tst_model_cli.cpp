// The commands that read a model (`generate`, `tokenize`) through the real binary on stories260K:
// bad option values are usage errors before the model is touched, an engine error reaches the
// user with the CLI's own remedy (the engine's message names no flag; the command line adds
// "raise --ctx"), and text on standard input reaches the tokenizer as the bytes it is.
#include "tests/app/cli_process.h"
#include "tests/support/conformance_qt.h"

#include <QTemporaryDir>
#include <QTest>

class TestModelCli : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void badValuesAreUsageErrorsBeforeTheModelLoads_data();
    void badValuesAreUsageErrorsBeforeTheModelLoads();
    void aFullContextSaysWhichFlagRaisesIt();
    void tokenCountsTakeSuffixes();
    void tokenizeReadsStandardInputAsBytes();

private:
    QTemporaryDir m_home;
    QString m_model;
};

void TestModelCli::initTestCase()
{
    QVERIFY(m_home.isValid());
    const nw::test::NeedleworkCli cli(m_home.path());
    QVERIFY2(cli.isBuilt(), qPrintable(cli.missingMessage()));
    m_model = nw::test::findStories260K();
}

void TestModelCli::badValuesAreUsageErrorsBeforeTheModelLoads_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addRow("ctx not a number") << QStringList{"--ctx", "abc"};
    QTest::addRow("ctx fraction") << QStringList{"--ctx", "1.5"};
    QTest::addRow("threads zero is fine, negative is not") << QStringList{"--threads=-1"};
    QTest::addRow("top-p nan") << QStringList{"--top-p", "nan"};
    QTest::addRow("temperature inf") << QStringList{"--temp", "inf"};
    QTest::addRow("n negative") << QStringList{"-n", "-1"};
    QTest::addRow("seed huge") << QStringList{"--seed", "1e30"};
}

// The model path does not exist: loading it would fail with exit 1, so exit 2 proves the value
// was refused first.
void TestModelCli::badValuesAreUsageErrorsBeforeTheModelLoads()
{
    QFETCH(QStringList, args);
    const nw::test::NeedleworkCli cli(m_home.path());
    const nw::test::CliResult r =
        cli.run(QStringList{"generate", "--model", m_home.filePath("missing.gguf"), "--prompt", "x"} + args);
    QCOMPARE(r.code, 2);
    QCOMPARE(r.err.count('\n'), 1);
    QVERIFY2(r.errText().contains(QStringLiteral("(see 'needlework generate --help')")), r.err.constData());
}

void TestModelCli::aFullContextSaysWhichFlagRaisesIt()
{
    if (m_model.isEmpty())
        QSKIP("../shared/conformance/models/stories260K.gguf is absent");
    const nw::test::NeedleworkCli cli(m_home.path());
    const nw::test::CliResult r = cli.run({"generate", "--model", m_model, "--threads", "1", "--ctx", "8", "--prompt",
                                           "Once upon a time there was a little girl who liked to play.", "-n", "4"});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.errText().contains(QStringLiteral("but the context holds 8 (raise --ctx)")), r.err.constData());
    QCOMPARE(r.errText().count(QStringLiteral("--ctx")), 1); // the hint once, from the CLI
}

void TestModelCli::tokenCountsTakeSuffixes()
{
    if (m_model.isEmpty())
        QSKIP("../shared/conformance/models/stories260K.gguf is absent");
    const nw::test::NeedleworkCli cli(m_home.path());
    const nw::test::CliResult r = cli.run(
        {"generate", "--model", m_model, "--threads", "1", "--ctx", "0.5k", "--prompt", "Once", "-n", "2", "--json"});
    QCOMPARE(r.code, 0);
    QVERIFY2(r.outText().contains(QStringLiteral("\"capacity_tokens\": 512")), r.out.constData());
}

// Invalid UTF-8 (0xFF 0xFE) becomes SentencePiece byte tokens, not U+FFFD. The ids are llama.cpp's:
// `printf 'caf\xc3\xa9 \xff\xfe end' > bad.txt; llama-tokenize -m stories260K.gguf -f bad.txt --ids`
// (llama.cpp snapshot d32676d, 2026-08-18).
void TestModelCli::tokenizeReadsStandardInputAsBytes()
{
    if (m_model.isEmpty())
        QSKIP("../shared/conformance/models/stories260K.gguf is absent");
    const nw::test::NeedleworkCli cli(m_home.path());
    const nw::test::CliResult r = cli.run({"tokenize", "--model", m_model, "--json", "-"}, QByteArray("caf\xc3\xa9 \xff\xfe end"));
    QCOMPARE(r.code, 0);
    QVERIFY2(r.outText().contains(QStringLiteral("\"ids\":[1,280,412,431,485,410,258,257,229,153,132,367]")), r.out.constData());
}

QTEST_GUILESS_MAIN(TestModelCli)
#include "tst_model_cli.moc"
