// Chat dock with a remote engine (offscreen): the recall model served by server/'s OpenAiServer (as
// `needlework serve --ctx 1024` runs it) on a free port of 127.0.0.1 in this process. The Engine
// picker set to Server with that URL answers through it, and gives the answer the in-process engine
// gave with the same model and context; the model, KV, context and device pickers rest meanwhile;
// the KV Meter tab shows the server's /metrics figures — the same KV bytes and tokens as the
// in-process cache held after the same question. A refused connection is one line in the status;
// back to In process, the pickers and the meter are the local engine's again. The server model
// field beside the URL fills from the server's /v1/models (a model it does not list is refused as
// `--model` is; no server is a line under the field); the meter polls /metrics while the server is
// the engine, whether or not anything is asked, says since when a server that stopped has not
// answered, asks it less often, and shows its figures again once it is back.
#include "scratch_settings.h"
#include "ui/chat_dock.h"
#include "ui/kv_meter.h"
#include "ui/main_window.h"
#include "ui/remote_metrics_poller.h"
#include "ui_fixtures.h"

#include "app/remote_engine.h"

#include "engine/chat_template.h"
#include "engine/gguf_file.h"
#include "engine/kv_cache.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "server/http_server.h"
#include "server/slot_pool.h"

#include <QApplication>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <memory>
#include <thread>

namespace {

constexpr std::int64_t kContext = 1024;

// The recall model behind an OpenAI-compatible server, as `needlework serve` sets it up.
struct LocalServer {
    std::shared_ptr<nw::GgufFile> gguf;
    std::unique_ptr<nw::Model> model;
    std::unique_ptr<nw::Tokenizer> tokenizer;
    std::unique_ptr<nw::server::SlotPool> pool;
    std::unique_ptr<nw::server::OpenAiServer> http;
    std::thread thread;
    int port = -1;

    explicit LocalServer(const QString &path, int atPort = 0)
    {
        gguf = nw::GgufFile::open(path.toStdString());
        model = nw::loadModel(gguf, { .threads = 1 });
        tokenizer = nw::Tokenizer::fromGguf(*gguf);
        const nw::KvModeSpec mode { .mode = model->kvModes().front() };
        pool = std::make_unique<nw::server::SlotPool>(*model, *tokenizer, mode, kContext, 1);
        nw::server::ServerConfig config;
        config.port = atPort;
        config.modelId = "recall-model";
        config.kvMode = mode.toString();
        config.limits.contextTokens = kContext;
        config.limits.maxTokens = kContext;
        const nw::ChatTemplate chat
            = nw::ChatTemplate::detect(gguf->findString("tokenizer.chat_template").value_or(""), model->hparams().arch);
        http = std::make_unique<nw::server::OpenAiServer>(*tokenizer, chat, *pool, config);
        port = http->bind();
        thread = std::thread([this] { http->run(); });
    }
    ~LocalServer()
    {
        http->stop();
        thread.join();
    }
    QString url() const { return QStringLiteral("http://127.0.0.1:%1/v1").arg(port); }
    // What the server's /metrics reports, taken from the slots it renders them from.
    nw::MemoryStats slotMemory() const { return pool->metrics().slotMemory.at(0); }
};

QString recallModel()
{
    return qEnvironmentVariable("NW_SOURCE_DIR") + QStringLiteral("/tests/data/recall-model.gguf");
}

QString library(const QTemporaryDir &dir)
{
    const QString pdf = dir.filePath(QStringLiteral("contract.pdf"));
    nw::test::writeFillerPdf(pdf,
        { .pages = 4,
            .linesPerPage = 12,
            .needlePage = 2,
            .needle = QStringLiteral("The pass key for ORCHID is 48213.") });
    const QString database = dir.filePath(QStringLiteral("library.sqlite"));
    return nw::test::ingestInto(database, { pdf }) == 1 ? database : QString();
}

} // namespace

class TestRemoteChat : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void serverAnswersAsInProcess();
    void modelFieldListsTheServersModels();
    void meterPollsTheServer();

private:
    QTemporaryDir m_settings;
};

void TestRemoteChat::initTestCase()
{
    QVERIFY(m_settings.isValid());
    nw::test::useScratchSettings(m_settings.path(), QStringLiteral("tst_remote_chat"));
}

void TestRemoteChat::serverAnswersAsInProcess()
{
    const QString model = recallModel();
    if (!QFileInfo::exists(model))
        QSKIP(qPrintable(QStringLiteral("no recall model at %1 (NW_SOURCE_DIR)").arg(model)));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString database = library(dir);
    QVERIFY(!database.isEmpty());
    LocalServer server(model);
    QVERIFY(server.port > 0);

    nw::ui::MainWindow window({ .databasePath = database, .modelPath = model, .contextTokens = kContext });
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    nw::ui::ChatDock *chat = window.chat();
    nw::ui::KvMeter *meter = window.kvMeter();
    QCOMPARE(chat->enginePicker()->currentIndex(), 0);
    QVERIFY(!chat->engineUrlBox()->isVisibleTo(chat));
    QVERIFY(!chat->isRemote());

    QSignalSpy finished(chat, &nw::ui::ChatDock::answerFinished);
    const QString question = QStringLiteral("What is the pass key for ORCHID?");
    const auto askAndWait = [&] {
        finished.clear();
        chat->questionBox()->setText(question);
        QTest::mouseClick(chat->askButton(), Qt::LeftButton);
        QVERIFY(finished.wait(60000));
    };

    // In process: the answer and what the cache held after it.
    askAndWait();
    if (QTest::currentTestFailed())
        return;
    QVERIFY2(finished.first().at(0).toBool(), qPrintable(chat->statusText()));
    const QString localAnswer = chat->answerText();
    QVERIFY(!localAnswer.trimmed().isEmpty());
    const nw::app::MemoryStats local = chat->memoryStats();
    QVERIFY(local.kvBytesUsed > 0 && local.tokens > 0);
    QCOMPARE(meter->serverText(), QStringLiteral("in process"));

    // The server: the pickers of the local engine rest, the URL shows.
    chat->newSession(); // the same prompt as the first question's, no earlier turn
    QSignalSpy engineChanged(chat, &nw::ui::ChatDock::engineChanged);
    chat->setRemoteEngine(server.url());
    QCOMPARE(engineChanged.count(), 1);
    QCOMPARE(engineChanged.first().at(0).toString(), server.url());
    QCOMPARE(chat->enginePicker()->currentIndex(), 1);
    QVERIFY(chat->engineUrlBox()->isVisibleTo(chat));
    QCOMPARE(chat->engineUrl(), server.url());
    QCOMPARE(window.findChild<QLabel *>(QStringLiteral("ModelLabel"))->text(),
        QStringLiteral("Server %1").arg(server.url()));
    for (QComboBox *picker : { chat->modelPicker(), chat->kvModePicker(), chat->contextPicker(), chat->devicePicker() })
        QVERIFY2(!picker->isEnabled(), qPrintable(picker->objectName()));

    askAndWait();
    if (QTest::currentTestFailed())
        return;
    QVERIFY2(finished.first().at(0).toBool(), qPrintable(chat->statusText()));
    QCOMPARE(chat->answerText(), localAnswer);
    QVERIFY(chat->lastResult().remoteKv.has_value());
    // The meter shows the server's figures, read from its /metrics: the same cache as in process.
    QVERIFY2(meter->serverText().startsWith(QStringLiteral("needlework")), qPrintable(meter->serverText()));
    QCOMPARE(meter->lastSnapshot().kvBytesUsed, local.kvBytesUsed);
    QCOMPARE(meter->lastSnapshot().tokens, local.tokens);
    QCOMPARE(meter->lastSnapshot().mhaF16Bytes, local.mhaF16Bytes);
    QVERIFY(!meter->isPolling());

    // Nobody listens: one line that names the address, and no figures.
    chat->newSession();
    chat->setRemoteEngine(QStringLiteral("http://127.0.0.1:1/v1"));
    askAndWait();
    if (QTest::currentTestFailed())
        return;
    QVERIFY(!finished.first().at(0).toBool());
    QVERIFY2(chat->statusText().contains(QStringLiteral("127.0.0.1:1")), qPrintable(chat->statusText()));
    QVERIFY(!chat->statusText().contains(QLatin1Char('\n')));

    // Back in process: the pickers work again, the meter is the local engine's.
    chat->setRemoteEngine(QString());
    QVERIFY(!chat->isRemote());
    QVERIFY(!chat->engineUrlBox()->isVisibleTo(chat));
    QVERIFY(chat->modelPicker()->isEnabled() && chat->kvModePicker()->isEnabled());
    QCOMPARE(meter->serverText(), QStringLiteral("in process"));
    QCOMPARE(window.findChild<QLabel *>(QStringLiteral("ModelLabel"))->text(), QFileInfo(model).fileName());
    chat->newSession();
    askAndWait();
    if (QTest::currentTestFailed())
        return;
    QVERIFY2(finished.first().at(0).toBool(), qPrintable(chat->statusText()));
    QCOMPARE(chat->answerText(), localAnswer);
}

// The server model field: what /v1/models lists (the server's id, set above), the first by
// default; a name it does not list is said under the field and refused by the question as the CLI
// refuses it; no server at the URL is a line under the field, not a dialog.
void TestRemoteChat::modelFieldListsTheServersModels()
{
    const QString model = recallModel();
    if (!QFileInfo::exists(model))
        QSKIP(qPrintable(QStringLiteral("no recall model at %1 (NW_SOURCE_DIR)").arg(model)));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString database = library(dir);
    QVERIFY(!database.isEmpty());
    LocalServer server(model);
    QVERIFY(server.port > 0);
    nw::ui::MainWindow window({ .databasePath = database, .modelPath = {} });
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    nw::ui::ChatDock *chat = window.chat();

    QSignalSpy listed(chat, &nw::ui::ChatDock::remoteModelsListed);
    chat->setRemoteEngine(server.url());
    QVERIFY(chat->remoteModelPicker()->isVisibleTo(chat));
    QVERIFY(listed.wait(15000));
    QVERIFY2(listed.first().at(0).toBool(), qPrintable(chat->serverNote()));
    QCOMPARE(chat->listedRemoteModels(), QStringList { QStringLiteral("recall-model") });
    QCOMPARE(chat->remoteModelPicker()->count(), 1);
    QCOMPARE(chat->remoteModel(), QStringLiteral("recall-model"));
    QCOMPARE(chat->serverNote(), QStringLiteral("The server lists 1 model(s)."));

    // A name the server does not list: said under the field, and the question is refused.
    chat->remoteModelPicker()->setCurrentText(QStringLiteral("no-such-model"));
    QVERIFY2(chat->serverNote().contains(QStringLiteral("does not list model 'no-such-model'")),
        qPrintable(chat->serverNote()));
    QSignalSpy finished(chat, &nw::ui::ChatDock::answerFinished);
    chat->questionBox()->setText(QStringLiteral("What is the pass key for ORCHID?"));
    QVERIFY(chat->ask());
    QVERIFY(finished.wait(30000));
    QVERIFY(!finished.first().at(0).toBool());
    QVERIFY2(
        chat->statusText().contains(QStringLiteral("does not list model 'no-such-model' (it lists: recall-model)")),
        qPrintable(chat->statusText()));
    QVERIFY(!QApplication::activeModalWidget()); // no dialog

    // The listed name answers.
    chat->remoteModelPicker()->setCurrentIndex(0);
    QCOMPARE(chat->remoteModel(), QStringLiteral("recall-model"));
    finished.clear();
    QVERIFY(chat->ask());
    QVERIFY(finished.wait(60000));
    QVERIFY2(finished.first().at(0).toBool(), qPrintable(chat->statusText()));
    QCOMPARE(chat->lastResult().model, QStringLiteral("recall-model"));

    // Nobody at the URL: one line under the field, the model typed stays.
    listed.clear();
    chat->setRemoteEngine(QStringLiteral("http://127.0.0.1:1/v1"), {}, QStringLiteral("recall-model"));
    QVERIFY(listed.wait(15000));
    QVERIFY(!listed.first().at(0).toBool());
    QVERIFY2(chat->serverNote().startsWith(QStringLiteral("No model list: ")), qPrintable(chat->serverNote()));
    QVERIFY2(chat->serverNote().contains(QStringLiteral("127.0.0.1:1")), qPrintable(chat->serverNote()));
    QCOMPARE(chat->remoteModel(), QStringLiteral("recall-model"));
    QVERIFY(!QApplication::activeModalWidget()); // no dialog
}

// The KV Meter polls the server's /metrics with nothing asked in the window: a request made
// straight to the server shows up at a later poll with the bytes and tokens its slot holds. The
// window closed asks nothing. The server stopped, the Server row says since when it has not
// answered and the polls thin out; the server back on its port, the figures return at the first pace.
void TestRemoteChat::meterPollsTheServer()
{
    const QString model = recallModel();
    if (!QFileInfo::exists(model))
        QSKIP(qPrintable(QStringLiteral("no recall model at %1 (NW_SOURCE_DIR)").arg(model)));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString database = library(dir);
    QVERIFY(!database.isEmpty());
    auto server = std::make_unique<LocalServer>(model);
    QVERIFY(server->port > 0);
    const int port = server->port;
    nw::ui::MainWindow window({ .databasePath = database, .modelPath = {} });
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    nw::ui::ChatDock *chat = window.chat();
    nw::ui::KvMeter *meter = window.kvMeter();
    nw::ui::RemoteMetricsPoller *poller = meter->serverPoller();
    window.showTab(meter); // the meter asks only while it is in view
    QSignalSpy answered(poller, &nw::ui::RemoteMetricsPoller::answered);
    QSignalSpy unreachable(poller, &nw::ui::RemoteMetricsPoller::unreachable);

    chat->setRemoteEngine(server->url());
    QVERIFY(meter->isPollingServer());
    QVERIFY(answered.wait(15000)); // at once: the meter is in view
    QCOMPARE(meter->lastSnapshot().tokens, std::int64_t(0)); // nothing asked yet

    // A question straight to the server, not through the window.
    nw::app::RemoteEngineSettings settings;
    settings.url = server->url();
    const nw::app::RemoteEngine direct(settings);
    const nw::app::RemoteChatResult reply
        = direct.chat({ { "user", "What is the pass key for ORCHID?" } }, { .maxTokens = 8 }, {});
    QVERIFY(reply.promptTokens > 0);
    const nw::MemoryStats held = server->slotMemory();
    QVERIFY(held.tokens > 0 && held.kvBytesUsed > 0);
    QTRY_COMPARE_WITH_TIMEOUT(meter->lastSnapshot().tokens, held.tokens, 15000);
    QCOMPARE(meter->lastSnapshot().kvBytesUsed, held.kvBytesUsed);
    QCOMPARE(meter->lastSnapshot().kvBytesReserved, held.kvBytesReserved);
    QCOMPARE(meter->lastSnapshot().mhaF16Bytes, held.mhaF16Bytes);
    QVERIFY2(meter->serverText().startsWith(QStringLiteral("needlework")), qPrintable(meter->serverText()));
    QVERIFY(poller->readings() >= 2);
    QCOMPARE(chat->sessionId(), qint64(0)); // the window asked nothing
    QVERIFY(!meter->isPolling()); // no in-process snapshots

    // A closed window asks nothing; shown again, the meter asks at once.
    window.close();
    answered.clear();
    QTest::qWait(2 * nw::ui::RemoteMetricsPoller::kIntervalMs + 500); // two polls' time
    QCOMPARE(answered.count(), 0);
    window.show();
    window.showTab(meter);
    QVERIFY(answered.wait(5000));

    // The server stops: "unreachable since HH:MM:SS", and the next request waits longer.
    server.reset();
    QVERIFY(unreachable.wait(15000));
    QVERIFY2(QRegularExpression(QStringLiteral("^unreachable since \\d\\d:\\d\\d:\\d\\d; the figures above are from "))
                 .match(meter->serverText())
                 .hasMatch(),
        qPrintable(meter->serverText()));
    QVERIFY(!poller->isReachable());
    QCOMPARE(poller->intervalMs(), 2 * nw::ui::RemoteMetricsPoller::kIntervalMs);

    // Back on the same port: the next poll reads it again, at the first pace.
    server = std::make_unique<LocalServer>(model, port);
    QCOMPARE(server->port, port);
    answered.clear();
    QVERIFY(answered.wait(15000));
    QVERIFY(poller->isReachable());
    QCOMPARE(poller->intervalMs(), nw::ui::RemoteMetricsPoller::kIntervalMs);
    QVERIFY2(meter->serverText().startsWith(QStringLiteral("needlework")), qPrintable(meter->serverText()));
    QCOMPARE(meter->lastSnapshot().tokens, std::int64_t(0)); // a new server: an empty cache

    // Back in process: no more requests.
    chat->setRemoteEngine(QString());
    QVERIFY(!meter->isPollingServer());
    QCOMPARE(meter->serverText(), QStringLiteral("in process"));
    answered.clear();
    unreachable.clear();
    QTest::qWait(2 * nw::ui::RemoteMetricsPoller::kIntervalMs + 500); // a stopped poll would have fired
    QCOMPARE(answered.count(), 0);
    QCOMPARE(unreachable.count(), 0);
}

QTEST_MAIN(TestRemoteChat)
#include "tst_remote_chat.moc"
