// The KV meter fed live by the Chat dock's model (offscreen): ask with the conformance set's tiny
// Llama and the meter ends on the engine's snapshot. Golden figures from stories260K's published
// shape (llama2.c: dim 64, 5 layers, 8 heads, 4 KV heads, so head size 8): the f16 `full` cache
// holds K and V of 4 heads × 8 values × 2 bytes per layer = 128 B a token and layer, 640 B a token;
// plain MHA f16 would hold 8 heads: 1280 B a token.
#include "scratch_settings.h"
#include "ui/chat_dock.h"
#include "ui/kv_meter.h"
#include "ui/main_window.h"
#include "ui_fixtures.h"

#include <QLabel>
#include <QLineEdit>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

namespace {

constexpr std::uint64_t kLayers = 5;
constexpr std::uint64_t kBytesPerTokenLayer = 2 * 4 * 8 * 2; // K and V × KV heads × head size × f16
constexpr std::uint64_t kMhaBytesPerToken = kLayers * 8 * (8 + 8) * 2;

} // namespace

class TestLiveMeter : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void meterFollowsTheAnsweringModel();
    void noModelLeavesTheMeterIdle();

private:
    QTemporaryDir m_dir;
    QString m_database;
};

void TestLiveMeter::initTestCase()
{
    QVERIFY(m_dir.isValid());
    nw::test::useScratchSettings(m_dir.filePath(QStringLiteral("settings")), QStringLiteral("tst_live_meter"));
    const QString pdf = m_dir.filePath(QStringLiteral("story.pdf"));
    QVERIFY(nw::test::writeCourierPdf(pdf, QStringLiteral("Story"),
        QStringLiteral("Once upon a time there was a little girl named Lily.\n"
                       "Lily liked to play in the park with her red ball.\n\f"
                       "One day the ball rolled into the pond and a duck found it.\n")));
    m_database = m_dir.filePath(QStringLiteral("library.sqlite"));
    QCOMPARE(nw::test::ingestInto(m_database, { pdf }), 1);
}

void TestLiveMeter::meterFollowsTheAnsweringModel()
{
    const QString model = nw::test::findStories260K();
    if (model.isEmpty())
        QSKIP("no conformance models (../shared/conformance/models/stories260K.gguf)");
    // 512 tokens: the file's own 128 cannot hold the prompt's instructions and a passage.
    nw::ui::MainWindow window({ .databasePath = m_database, .modelPath = model, .contextTokens = 512 });
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    nw::ui::KvMeter *meter = window.kvMeter();
    QCOMPARE(meter->lastSnapshot().kvBytesUsed, std::uint64_t(0));
    QVERIFY(!meter->isPolling());

    QSignalSpy started(window.chat(), &nw::ui::ChatDock::questionStarted);
    QSignalSpy finished(window.chat(), &nw::ui::ChatDock::answerFinished);
    window.chat()->questionBox()->setText(QStringLiteral("What did Lily play with in the park?"));
    QVERIFY(window.chat()->ask());
    QCOMPARE(started.size(), 1);
    QVERIFY(meter->isPolling()); // polls while the model works
    QVERIFY(finished.wait(120000));
    QVERIFY2(finished.first().at(0).toBool(),
        qPrintable(window.chat()->findChild<QLabel *>(QStringLiteral("ChatStatus"))->text()));
    QVERIFY(!meter->isPolling()); // stopped, showing the last snapshot

    const nw::MemoryStats &stats = meter->lastSnapshot();
    QVERIFY(stats.tokens > 0);
    QVERIFY(stats.kvBytesUsed > 0);
    QCOMPARE(stats.layers.size(), std::size_t(kLayers));
    QCOMPARE(stats.bytesPerToken, kLayers * kBytesPerTokenLayer);
    QCOMPARE(stats.kvBytesUsed, std::uint64_t(stats.tokens) * kLayers * kBytesPerTokenLayer);
    QCOMPARE(stats.mhaF16Bytes, std::uint64_t(stats.tokens) * kMhaBytesPerToken);
    QVERIFY(stats.kvBytesReserved >= stats.kvBytesUsed);
    QVERIFY(stats.weightsBytes > 0);
    QCOMPARE(stats.capacityTokens, std::int64_t(512));
    // The dock's own figure agrees (what the meter polled), and the labels show it.
    QCOMPARE(window.chat()->memoryStats().kvBytesUsed, stats.kvBytesUsed);
    QVERIFY(meter->chartPointCount() >= 1);
    const QString tokens = meter->findChild<QLabel *>(QStringLiteral("KvTokens"))->text();
    QVERIFY2(tokens.startsWith(QLocale().toString(qlonglong(stats.tokens)) + QLatin1Char(' ')), qPrintable(tokens));
    QVERIFY(meter->findChild<QLabel *>(QStringLiteral("KvSaving"))->text().contains(QStringLiteral("2")));
    QVERIFY(!meter->prefillText().isEmpty());

    // Another model (here: none): the meter keeps nothing of the last one's figures.
    window.chat()->setModelPath(QString());
    QCOMPARE(meter->lastSnapshot().kvBytesUsed, std::uint64_t(0));
    QCOMPARE(meter->tokensPerSecond(), 0.0);
    QCOMPARE(meter->findChild<QLabel *>(QStringLiteral("KvRate"))->text(), QStringLiteral("0.0"));
    QCOMPARE(meter->findChild<QLabel *>(QStringLiteral("KvUsed"))->text(), QStringLiteral("0 B"));
    QCOMPARE(meter->prefillText(), QString());
    QCOMPARE(meter->chartPointCount(), 0);
    QCOMPARE(meter->modelName(), QStringLiteral("none (extractive answers)"));
    QCOMPARE(window.chat()->memoryStats().kvBytesUsed, std::uint64_t(0));
}

void TestLiveMeter::noModelLeavesTheMeterIdle()
{
    QSettings().clear(); // a first start: the last window's model would come back with its session
    nw::ui::MainWindow window({ .databasePath = m_database, .modelPath = {} });
    QSignalSpy finished(window.chat(), &nw::ui::ChatDock::answerFinished);
    window.chat()->questionBox()->setText(QStringLiteral("Who found the ball?"));
    QVERIFY(window.chat()->ask());
    QVERIFY(!window.kvMeter()->isPolling());
    QVERIFY(finished.wait(20000));
    QCOMPARE(window.kvMeter()->lastSnapshot().kvBytesUsed, std::uint64_t(0));
    QCOMPARE(window.chat()->memoryStats().kvBytesUsed, std::uint64_t(0));
}

QTEST_MAIN(TestLiveMeter)
#include "tst_live_meter.moc"
