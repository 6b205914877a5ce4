// The command line and the window give the same answer, citations and KV figures for the same
// question, model and options: `needlework ask --json` (the built executable, run as a user runs
// it) against the Chat dock of an offscreen window, over one library, with the in-tree recall
// model (tests/data/recall-model.gguf), and without a model (extractive answers, where the
// citations are the passages found). Both go through app::Workbench, so the defaults (context,
// answer length, device, KV mode) and the options given to each must come out the same.
#include "scratch_settings.h"
#include "tests/app/cli_process.h"
#include "ui/chat_dock.h"
#include "ui/kv_meter.h"
#include "ui/main_window.h"
#include "ui_fixtures.h"

#include <QComboBox>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

namespace {

QString recallModel() { return qEnvironmentVariable("NW_SOURCE_DIR") + QStringLiteral("/tests/data/recall-model.gguf"); }

const QString kQuestion = QStringLiteral("What is the pass key for harbour?");

} // namespace

class TestCliGuiAgreement : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void sameAnswerCitationsAndKvFigures_data();
    void sameAnswerCitationsAndKvFigures();

private:
    QTemporaryDir m_dir;
    nw::test::NeedleworkCli m_cli{m_dir.filePath(QStringLiteral("home"))};
    QString m_database;
};

void TestCliGuiAgreement::initTestCase()
{
    QVERIFY(m_dir.isValid());
    QVERIFY2(m_cli.isBuilt(), qPrintable(m_cli.missingMessage()));
    QVERIFY2(QFile::exists(recallModel()), qPrintable(recallModel()));
    nw::test::useScratchSettings(m_dir.filePath(QStringLiteral("settings")), QStringLiteral("tst_cli_gui_agreement"));
    const QString pdf = m_dir.filePath(QStringLiteral("harbour.pdf"));
    nw::test::writeFillerPdf(pdf, {.pages = 4, .linesPerPage = 12, .needlePage = 3,
                                   .needle = QStringLiteral("The pass key for harbour is 4417.")});
    m_database = m_dir.filePath(QStringLiteral("library.sqlite"));
    QCOMPARE(nw::test::ingestInto(m_database, {pdf}), 1);
}

void TestCliGuiAgreement::sameAnswerCitationsAndKvFigures_data()
{
    QTest::addColumn<bool>("withModel");
    QTest::addColumn<QStringList>("cliOptions");
    QTest::addColumn<QString>("kvMode");   // the window's KV picker ("" : the model's default)
    QTest::addColumn<int>("device");       // the window's device picker, an app::DeviceChoice
    QTest::addColumn<int>("contextTokens"); // the window's --ctx (0: the default)
    // Nothing given on either side: the one default policy (context, answer length, device, KV).
    QTest::addRow("no model") << false << QStringList{} << QString() << int(nw::app::DeviceChoice::Auto) << 0;
    QTest::addRow("defaults") << true << QStringList{} << QString() << int(nw::app::DeviceChoice::Auto) << 0;
    QTest::addRow("kv full+q8, cpu, 1024 tokens")
        << true << QStringList{QStringLiteral("--kv"), QStringLiteral("full+q8"), QStringLiteral("--device"), QStringLiteral("cpu"),
                       QStringLiteral("--ctx"), QStringLiteral("1024")}
        << QStringLiteral("full+q8") << int(nw::app::DeviceChoice::Cpu) << 1024;
}

void TestCliGuiAgreement::sameAnswerCitationsAndKvFigures()
{
    QFETCH(bool, withModel);
    QFETCH(QStringList, cliOptions);
    QFETCH(QString, kvMode);
    QFETCH(int, device);
    QFETCH(int, contextTokens);

    const QString modelPath = withModel ? recallModel() : QString();

    // The command line.
    QStringList args{QStringLiteral("ask"), QStringLiteral("--db"), m_database, QStringLiteral("--json")};
    if (withModel)
        args << QStringLiteral("--model") << modelPath;
    const nw::test::CliResult cli = m_cli.run(args + cliOptions + QStringList{kQuestion});
    QVERIFY2(cli.code == 0, qPrintable(cli.errText()));
    QJsonParseError parseError;
    const QJsonObject json = QJsonDocument::fromJson(cli.out, &parseError).object();
    QVERIFY2(parseError.error == QJsonParseError::NoError, qPrintable(cli.outText()));
    const QJsonObject model = json.value(QStringLiteral("model")).toObject();
    QCOMPARE(!model.isEmpty(), withModel); // a generated answer, or an extractive one

    // The window, with the same options in its pickers.
    QSettings().clear();
    nw::ui::MainWindow window({.databasePath = m_database, .modelPath = modelPath, .contextTokens = contextTokens});
    nw::ui::ChatDock *chat = window.chat();
    chat->setKvMode(kvMode);
    chat->setDevice(static_cast<nw::app::DeviceChoice>(device));
    QSignalSpy finished(chat, &nw::ui::ChatDock::answerFinished);
    chat->questionBox()->setText(kQuestion);
    QVERIFY(chat->ask());
    QVERIFY(finished.wait(120000));
    QVERIFY2(finished.first().at(0).toBool(), qPrintable(chat->findChild<QLabel *>(QStringLiteral("ChatStatus"))->text()));

    // The answer.
    QCOMPARE(chat->answerText(), json.value(QStringLiteral("answer")).toString());
    QVERIFY(!chat->answerText().isEmpty());

    // The citations: the same pages and passages, in the same order.
    const QJsonArray citations = json.value(QStringLiteral("citations")).toArray();
    QCOMPARE(qsizetype(chat->citations().size()), citations.size());
    if (!withModel) // the passages found are the citations; the needle's page comes first
        QVERIFY(!citations.isEmpty() && chat->citations().front().page == 3);
    for (qsizetype i = 0; i < citations.size(); ++i) {
        const QJsonObject c = citations[i].toObject();
        const nw::ui::ChatCitation &shown = chat->citations()[std::size_t(i)];
        QCOMPARE(shown.documentId, c.value(QStringLiteral("document_id")).toInteger());
        QCOMPARE(shown.page, c.value(QStringLiteral("page")).toInt());
        QCOMPARE(shown.start, c.value(QStringLiteral("start")).toInt());
        QCOMPARE(shown.length, c.value(QStringLiteral("length")).toInt());
    }

    // The KV figures: the mode and context the defaults or options gave, the tokens, the bytes —
    // as the dock reports them and as the KV meter shows them.
    const nw::app::AskResult &gui = chat->lastResult();
    QCOMPARE(gui.extractive, !withModel);
    if (!withModel) {
        QCOMPARE(chat->memoryStats().kvBytesUsed, std::uint64_t(0));
        return;
    }
    QCOMPARE(gui.kvMode, model.value(QStringLiteral("kv_mode")).toString());
    QCOMPARE(gui.contextTokens, model.value(QStringLiteral("context_tokens")).toInt());
    QCOMPARE(gui.promptTokens, model.value(QStringLiteral("prompt_tokens")).toInt());
    QCOMPARE(gui.generatedTokens, model.value(QStringLiteral("generated_tokens")).toInt());
    QCOMPARE(gui.stopReason, model.value(QStringLiteral("stop")).toString());
    QCOMPARE(qint64(gui.kvBytesUsed), model.value(QStringLiteral("kv_bytes_used")).toInteger());
    QCOMPARE(qint64(gui.kvBytesReserved), model.value(QStringLiteral("kv_bytes_reserved")).toInteger());
    QCOMPARE(gui.savingVsMha, model.value(QStringLiteral("saving_vs_mha_f16")).toDouble());
    QCOMPARE(qint64(chat->memoryStats().kvBytesUsed), model.value(QStringLiteral("kv_bytes_used")).toInteger());
    QCOMPARE(qint64(window.kvMeter()->lastSnapshot().kvBytesUsed), model.value(QStringLiteral("kv_bytes_used")).toInteger());
    if (!kvMode.isEmpty())
        QCOMPARE(gui.kvMode, kvMode);
    if (contextTokens > 0)
        QCOMPARE(gui.contextTokens, contextTokens);
    else
        QCOMPARE(gui.contextTokens, 1280); // the recall model's training context (app::contextTokensFor)
}

QTEST_MAIN(TestCliGuiAgreement)
#include "tst_cli_gui_agreement.moc"
