// The workbench controller: the one default-context policy, the ask → record flow (new and
// continued sessions, an unknown session refused before any work, a stop before the start),
// a question asked from another thread than the one reading the library, and the model policy
// with the in-tree recall model (tests/data/recall-model.gguf, trained on 1280 tokens): it loads
// once, a new KV mode only makes a new cache, a bad one leaves the working mode in place, and a
// stop during the answer keeps what was written.
#include "app/workbench.h"
#include "common/error.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <atomic>
#include <thread>

using namespace nw::app;

namespace {

QString recallModel()
{
    return qEnvironmentVariable("NW_SOURCE_DIR") + QStringLiteral("/tests/data/recall-model.gguf");
}

// A one-document library in `dir`: a lease whose clause 2 says how it may be terminated.
QString leaseLibrary(const QTemporaryDir &dir)
{
    QFile file(dir.filePath(QStringLiteral("lease.txt")));
    if (!file.open(QIODevice::WriteOnly))
        return {};
    file.write("1. Rent\n\nThe tenant pays the rent on the first day of each month.\n\n"
               "2. Termination for convenience\n\nThe supplier may terminate this agreement for convenience "
               "on ninety days written notice. Nothing else ends it early.\n");
    file.close();
    const QString database = dir.filePath(QStringLiteral("library.sqlite"));
    Workbench workbench(database);
    return workbench.ingest({ file.fileName() }).added == 1 ? database : QString();
}

AskRequest question(const QString &text)
{
    AskRequest request;
    request.question = text;
    return request;
}

} // namespace

class TestWorkbench : public QObject {
    Q_OBJECT
private slots:
    void contextPolicy_data();
    void contextPolicy();
    void answerLength();
    void askRecordsTurnsInSessions();
    void stopBeforeTheStartAsksNothing();
    void asksFromAnotherThread();
    void modelPolicy();
    void stopDuringTheAnswerKeepsIt();
};

void TestWorkbench::contextPolicy_data()
{
    QTest::addColumn<qint64>("requested");
    QTest::addColumn<qint64>("train");
    QTest::addColumn<qint64>("needed");
    QTest::addColumn<qint64>("expected");
    // Asked for: exactly that. Else max(4096, needed), cut to the training context, never under 1024.
    QTest::addRow("128-token model") << qint64(0) << qint64(128) << qint64(0) << qint64(1024);
    QTest::addRow("128-token model, 512 asked") << qint64(512) << qint64(128) << qint64(0) << qint64(512);
    QTest::addRow("128-token model, 4096 asked") << qint64(4096) << qint64(128) << qint64(0) << qint64(4096);
    QTest::addRow("1280-token model") << qint64(0) << qint64(1280) << qint64(0) << qint64(1280);
    QTest::addRow("2k model") << qint64(0) << qint64(2048) << qint64(0) << qint64(2048);
    QTest::addRow("32k model") << qint64(0) << qint64(32768) << qint64(0) << qint64(4096);
    QTest::addRow("32k model, 16k asked") << qint64(16384) << qint64(32768) << qint64(0) << qint64(16384);
    QTest::addRow("32k model, 10k needed") << qint64(0) << qint64(32768) << qint64(10000) << qint64(10000);
    QTest::addRow("2k model, 10k needed") << qint64(0) << qint64(2048) << qint64(10000) << qint64(2048);
    QTest::addRow("unknown training context") << qint64(0) << qint64(0) << qint64(0) << qint64(4096);
    QTest::addRow("unknown, 10k needed") << qint64(0) << qint64(0) << qint64(10000) << qint64(10000);
}

void TestWorkbench::contextPolicy()
{
    QFETCH(qint64, requested);
    QFETCH(qint64, train);
    QFETCH(qint64, needed);
    QFETCH(qint64, expected);
    QCOMPARE(contextTokensFor(requested, train, needed), expected);
}

void TestWorkbench::answerLength()
{
    QCOMPARE(answerTokensFor(0, 4096), kDefaultAnswerTokens);
    QCOMPARE(answerTokensFor(0, 1024), 256); // a quarter of a small context
    QCOMPARE(answerTokensFor(0, 2), 1);
    QCOMPARE(answerTokensFor(16, 4096), 16); // asked for: exactly that
    QCOMPARE(answerTokensFor(2000, 1024), 2000);
}

void TestWorkbench::askRecordsTurnsInSessions()
{
    QTemporaryDir dir;
    const QString database = leaseLibrary(dir);
    QVERIFY(!database.isEmpty());
    Workbench workbench(database);
    QCOMPARE(workbench.stats().documents, 1);

    const WorkbenchAnswer first
        = workbench.ask(question(QStringLiteral("Can the supplier terminate for convenience?")));
    QVERIFY(first.asked);
    QVERIFY(first.result.extractive);
    QVERIFY(first.result.answer.contains(QStringLiteral("ninety days written notice")));
    QVERIFY(first.sessionId > 0);
    const WorkbenchAnswer second
        = workbench.ask(question(QStringLiteral("On which day does the tenant pay the rent?")), first.sessionId);
    QCOMPARE(second.sessionId, first.sessionId);
    const auto turns = workbench.sessionTurns(first.sessionId);
    QVERIFY(turns.has_value());
    QCOMPARE(turns->size(), std::size_t(2));
    QCOMPARE(turns->at(0).question, QStringLiteral("Can the supplier terminate for convenience?"));
    QCOMPARE(turns->at(1).answer, second.result.answer);
    QVERIFY(turns->at(1).citationsJson.contains(QStringLiteral("first day of each month")));
    QCOMPARE(turns->at(0).model, QString()); // extractive: no model

    // An unknown session is refused before anything is answered or recorded.
    QVERIFY_THROWS_EXCEPTION(nw::Error,
        workbench.ask(question(QStringLiteral("On which day does the tenant pay the rent?")), first.sessionId + 1));
    QVERIFY(!workbench.sessionTurns(first.sessionId + 1));
    QCOMPARE(workbench.sessionTurns(first.sessionId)->size(), std::size_t(2));
    QVERIFY_THROWS_EXCEPTION(nw::Error, workbench.ask(question(QStringLiteral("   "))));
    QCOMPARE(workbench.sessions().store().sessions().size(), std::size_t(1));
}

void TestWorkbench::stopBeforeTheStartAsksNothing()
{
    QTemporaryDir dir;
    const QString database = leaseLibrary(dir);
    QVERIFY(!database.isEmpty());
    Workbench workbench(database);
    const std::atomic<bool> stop { true };
    const WorkbenchAnswer answer
        = workbench.ask(question(QStringLiteral("On which day does the tenant pay the rent?")), 0, { .stop = &stop });
    QVERIFY(!answer.asked);
    QCOMPARE(answer.sessionId, 0);
    QVERIFY(answer.result.answer.isEmpty());
    QVERIFY(workbench.sessions().store().sessions().empty());
}

// The Chat dock asks on its worker thread while the GUI thread reads the library: each thread
// has its own connection, and the recorded turn is visible to the reading thread at once.
void TestWorkbench::asksFromAnotherThread()
{
    QTemporaryDir dir;
    const QString database = leaseLibrary(dir);
    QVERIFY(!database.isEmpty());
    Workbench workbench(database);
    std::atomic<bool> done { false };
    WorkbenchAnswer answer;
    QString error;
    std::thread asker([&] {
        try {
            for (int i = 0; i < 5; ++i)
                answer = workbench.ask(
                    question(QStringLiteral("On which day does the tenant pay the rent?")), answer.sessionId);
        } catch (const std::exception &e) {
            error = QString::fromUtf8(e.what());
        }
        done = true;
    });
    int reads = 0;
    while (!done) {
        QCOMPARE(workbench.documents().size(), std::size_t(1));
        QVERIFY(!workbench.search(QStringLiteral("rent")).empty());
        ++reads;
    }
    asker.join();
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QVERIFY(reads > 0);
    QVERIFY(answer.result.answer.contains(QStringLiteral("first day of each month")));
    QCOMPARE(workbench.sessionTurns(answer.sessionId)->size(), std::size_t(5));
}

void TestWorkbench::modelPolicy()
{
    QVERIFY2(QFile::exists(recallModel()), qPrintable(recallModel()));
    QTemporaryDir dir;
    const QString database = leaseLibrary(dir);
    QVERIFY(!database.isEmpty());
    Workbench workbench(database);
    QVERIFY_THROWS_EXCEPTION(nw::Error, workbench.setKvMode(QStringLiteral("mla"))); // no model
    workbench.setModel({ .path = recallModel(), .device = DeviceChoice::Cpu });
    QCOMPARE(workbench.modelLoads(), 0); // nothing loads until it is needed
    QVERIFY(!workbench.modelStatus().loaded);

    AskRequest request = question(QStringLiteral("What is the pass key for the lease?"));
    request.maxTokens = 8;
    const WorkbenchAnswer first = workbench.ask(request);
    QVERIFY(!first.result.extractive);
    QCOMPARE(workbench.modelLoads(), 1);
    const ModelStatus status = workbench.modelStatus();
    QVERIFY(status.loaded);
    QCOMPARE(status.contextTokens, 1280); // the policy: its training context, under the 4096 default
    QCOMPARE(first.result.contextTokens, 1280);
    QCOMPARE(status.kvMode, QStringLiteral("full"));
    QVERIFY2(status.device.startsWith(QStringLiteral("cpu"), Qt::CaseInsensitive), qPrintable(status.device));
    // 4 layers × 2 KV heads × 32 values × (K and V) × 2 bytes (recall-model.md).
    QCOMPARE(workbench.memoryStats().bytesPerToken, std::uint64_t(1024));
    QCOMPARE(workbench.memoryStats().kvBytesUsed, first.result.kvBytesUsed);

    // Another KV mode: a new cache, the same loaded weights.
    workbench.setModel({ .path = recallModel(), .kvMode = QStringLiteral("full+q8"), .device = DeviceChoice::Cpu });
    const WorkbenchAnswer second = workbench.ask(request, first.sessionId);
    QCOMPARE(workbench.modelLoads(), 1);
    QCOMPARE(second.result.kvMode, QStringLiteral("full+q8"));
    QCOMPARE(second.result.reusedTokens, 0);
    QCOMPARE(workbench.memoryStats().bytesPerToken, std::uint64_t(544));
    // A mode that does not parse is refused and the working one stays.
    QVERIFY_THROWS_EXCEPTION(nw::Error, workbench.setKvMode(QStringLiteral("sideways")));
    QCOMPARE(workbench.modelSettings().kvMode, QStringLiteral("full+q8"));
    QCOMPARE(workbench.ask(request, first.sessionId).result.kvMode, QStringLiteral("full+q8"));
    // Another context: a new cache too, the weights stay (the chat's /ctx, the window's context box).
    workbench.setModel({ .path = recallModel(), .contextTokens = 1024, .device = DeviceChoice::Cpu });
    QCOMPARE(workbench.ask(request, first.sessionId).result.contextTokens, 1024);
    QCOMPARE(workbench.modelLoads(), 1);
    QCOMPARE(workbench.modelStatus().kvMode, QStringLiteral("full")); // "" : the model's own mode again
    workbench.setContextTokens(2048);
    QCOMPARE(workbench.modelStatus().contextTokens, 2048);
    QCOMPARE(workbench.memoryStats().capacityTokens, std::int64_t(2048));
    QCOMPARE(workbench.modelLoads(), 1);
    workbench.setContextTokens(0); // back to the policy's default
    QCOMPARE(workbench.modelStatus().contextTokens, 1280);
    // Another device reloads.
    workbench.setModel({ .path = recallModel(), .contextTokens = 1024, .device = DeviceChoice::Auto });
    QCOMPARE(workbench.ask(request, first.sessionId).result.contextTokens, 1024);
    QCOMPARE(workbench.modelLoads(), 2);

    const auto turns = workbench.sessionTurns(first.sessionId);
    QCOMPARE(turns->size(), std::size_t(5));
    QCOMPARE(turns->at(0).model, QStringLiteral("recall-model.gguf"));
    QCOMPARE(turns->at(1).kvMode, QStringLiteral("full+q8"));

    // No model: the next answer is extractive, and the model is gone.
    workbench.setModel({});
    QVERIFY(workbench.ask(question(QStringLiteral("On which day does the tenant pay the rent?"))).result.extractive);
    QVERIFY(!workbench.modelStatus().loaded);
    // A model that cannot be read: the error, and no model.
    workbench.setModel({ .path = dir.filePath(QStringLiteral("missing.gguf")) });
    QVERIFY_THROWS_EXCEPTION(nw::Error, workbench.loadModel());
    QVERIFY(!workbench.modelStatus().loaded);
}

void TestWorkbench::stopDuringTheAnswerKeepsIt()
{
    QTemporaryDir dir;
    const QString database = leaseLibrary(dir);
    QVERIFY(!database.isEmpty());
    Workbench workbench(database);
    workbench.setModel({ .path = recallModel(), .device = DeviceChoice::Cpu });
    AskRequest request = question(QStringLiteral("What is the pass key for the lease?"));
    request.maxTokens = 64;
    std::atomic<bool> stop { false };
    // Stopped at the first prompt chunk: the generator has started (and cleared its own flag).
    const WorkbenchAnswer answer
        = workbench.ask(request, 0, { .onPrefill = [&](std::int64_t, std::int64_t) { stop = true; }, .stop = &stop });
    QVERIFY(answer.asked);
    QCOMPARE(answer.result.stopReason, QStringLiteral("cancelled"));
    QCOMPARE(answer.result.generatedTokens, 0);
    QCOMPARE(workbench.sessionTurns(answer.sessionId)->size(), std::size_t(1)); // recorded all the same
}

QTEST_GUILESS_MAIN(TestWorkbench)
#include "tst_workbench.moc"
