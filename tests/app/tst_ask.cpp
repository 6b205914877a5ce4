// The ask service without a model (extractive answers with citations from a small library),
// the prompt's token budget, [n] citation markers, and the errors a user can act on.
#include "app/ask_service.h"
#include "app/extractive_answer.h"
#include "app/prompt_builder.h"
#include "common/error.h"
#include "ingest/ingestor.h"
#include "store/library_store.h"
#include "tests/support/conformance_qt.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

using namespace nw::app;

class TestAsk : public QObject {
    Q_OBJECT
private slots:
    void extractiveAnswerCitesTheClause();
    void promptKeepsWithinBudget();
    void citationMarkers_data();
    void citationMarkers();
    void modesAndErrors();
    void modelAnswerStreamsAndReusesThePrefix();
    void wholeModeLoadsTheDocumentsFromASnapshot();
    void wholeModeSkipsSnapshotsForModesTheyCannotHold();
};

void TestAsk::extractiveAnswerCitesTheClause()
{
    QTemporaryDir dir;
    QFile file(dir.filePath(QStringLiteral("lease.txt")));
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("1. Rent\n\nThe tenant pays the rent on the first day of each month.\n\n"
               "2. Termination for convenience\n\nThe supplier may terminate this agreement for convenience "
               "on ninety days written notice. Nothing else ends it early.\n");
    file.close();
    nw::store::LibraryStore library(dir.filePath(QStringLiteral("l.sqlite")));
    nw::ingest::Ingestor ingestor(library);
    QCOMPARE(ingestor.run({ file.fileName() }).added, 1);

    AskService service;
    AskRequest request;
    request.question = QStringLiteral("Can the supplier terminate for convenience, and on what notice?");
    const AskResult result = service.ask(library, request);
    QVERIFY(result.extractive);
    QVERIFY(!result.citations.empty());
    const Citation &c = result.citations.front();
    QCOMPARE(c.page, 1);
    QCOMPARE(c.quote,
        QStringLiteral("The supplier may terminate this agreement for convenience on ninety days written notice."));
    QCOMPARE(c.section, QStringLiteral("2. Termination for convenience"));
    QVERIFY(result.answer.startsWith(QStringLiteral("[1] lease.txt, p. 1, §2. Termination for convenience"))
        || result.answer.contains(QStringLiteral("ninety days written notice")));
    QVERIFY(result.answer.contains(QStringLiteral("\u201CThe supplier may terminate")));

    request.question = QStringLiteral("what about it");
    QCOMPARE(service.ask(library, request).answer,
        QStringLiteral("No passage in the selected documents matches the question."));
}

void TestAsk::promptKeepsWithinBudget()
{
    const nw::ChatTemplate chat(nw::ChatFamily::ChatMl);
    std::vector<Source> sources;
    for (int i = 0; i < 10; ++i)
        sources.push_back({ QStringLiteral("Doc %1, p. 1").arg(i), QString(400, QLatin1Char('x')) }); // 100 tokens each
    const BuiltPrompt all = buildPrompt(chat, QStringLiteral("q?"), sources, 100000);
    QCOMPARE(all.sources.size(), std::size_t(10));
    QCOMPARE(all.droppedSources, 0);
    QVERIFY(all.text.startsWith(QStringLiteral("<|im_start|>system\n")));
    QVERIFY(all.text.endsWith(QStringLiteral("Question: q?<|im_end|>\n<|im_start|>assistant\n")));
    QVERIFY(all.text.contains(QStringLiteral("[10] Doc 9, p. 1\n")));

    const BuiltPrompt some = buildPrompt(chat, QStringLiteral("q?"), sources, 450);
    QVERIFY(some.tokens <= 450);
    QCOMPARE(some.tokens, estimateTokens(some.text));
    QCOMPARE(static_cast<int>(some.sources.size()) + some.droppedSources, 10);
    QVERIFY(some.sources.size() >= 2 && some.sources.size() <= 4); // ~100 tokens a source + ~80 of frame
}

void TestAsk::citationMarkers_data()
{
    QTest::addColumn<QString>("answer");
    QTest::addColumn<QList<int>>("expected");
    QTest::addRow("single and repeated") << "A [2]. B [1]. C [2]." << QList<int> { 2, 1 };
    QTest::addRow("comma list") << "Both [1, 3]." << QList<int> { 1, 3 };
    QTest::addRow("out of range dropped") << "See [7] and [0]." << QList<int> {};
}

void TestAsk::citationMarkers()
{
    QFETCH(QString, answer);
    QFETCH(QList<int>, expected);
    const auto got = citedSourceNumbers(answer, 3);
    QCOMPARE(QList<int>(got.begin(), got.end()), expected);
}

void TestAsk::modesAndErrors()
{
    QCOMPARE(parseAskMode(QStringLiteral("whole")), AskMode::Whole);
    QVERIFY_THROWS_EXCEPTION(nw::Error, parseAskMode(QStringLiteral("all")));
    QTemporaryDir dir;
    nw::store::LibraryStore library(dir.filePath(QStringLiteral("l.sqlite")));
    AskService service;
    AskRequest request;
    request.question = QStringLiteral("anything");
    request.mode = AskMode::Whole;
    QVERIFY_THROWS_EXCEPTION(nw::Error, service.ask(library, request)); // whole mode needs a model
    request.question = QStringLiteral("  ");
    request.mode = AskMode::Retrieve;
    QVERIFY_THROWS_EXCEPTION(nw::Error, service.ask(library, request));
    QVERIFY_THROWS_EXCEPTION(nw::Error, service.setCache(QStringLiteral("mla"), 0)); // no model
    QVERIFY(!service.modelStatus().loaded);
    QVERIFY_THROWS_EXCEPTION(nw::Error, service.loadModel({ .path = dir.filePath(QStringLiteral("missing.gguf")) }));
}

// The model path with the conformance set's tiny Llama (stories260K: no chat template, so the
// plain family; 512-token context). What it writes is not checked, only the plumbing: streamed
// text equals the answer, figures are filled, and a second question reuses the cached prefix.
void TestAsk::modelAnswerStreamsAndReusesThePrefix()
{
    const QString model = nw::test::findStories260K();
    if (model.isEmpty())
        QSKIP("no conformance models (../shared/conformance/models/stories260K.gguf)");
    QTemporaryDir tmp;
    nw::store::LibraryStore library(tmp.filePath(QStringLiteral("l.sqlite")));
    AskService service;
    service.loadModel({ .path = model, .contextTokens = 512 });
    const ModelStatus status = service.modelStatus();
    QVERIFY(status.loaded);
    QCOMPARE(status.chatFamily, QStringLiteral("plain"));
    QCOMPARE(status.contextTokens, 512);

    AskRequest request;
    request.question = QStringLiteral("Once upon a time, who was there?");
    request.maxTokens = 16;
    QString streamed;
    const AskResult first = service.ask(library, request, { .onText = [&](const QString &text) { streamed += text; } });
    QVERIFY(!first.extractive);
    QCOMPARE(streamed.trimmed(), first.answer);
    QVERIFY(first.promptTokens > 0);
    QVERIFY(first.generatedTokens > 0 && first.generatedTokens <= 16);
    QVERIFY(first.kvBytesUsed > 0);
    QVERIFY(first.kvBytesReserved >= first.kvBytesUsed);
    QCOMPARE(first.kvMode, QStringLiteral("full"));

    request.question = QStringLiteral("Once upon a time, what did they do?");
    const AskResult second = service.ask(library, request);
    // The system instructions and the start of the user turn are the same tokens.
    QVERIFY2(second.reusedTokens > 20, qPrintable(QString::number(second.reusedTokens)));
}

// Whole mode with KV snapshots: the first question prefills the documents and writes their
// snapshot; a new service (as a later process) loads it and prefills only the question, with
// the same greedy answer; a truncated file is reported, not loaded, and written again.
void TestAsk::wholeModeLoadsTheDocumentsFromASnapshot()
{
    const QString model = nw::test::findStories260K();
    if (model.isEmpty())
        QSKIP("no conformance models (../shared/conformance/models/stories260K.gguf)");
    QTemporaryDir tmp;
    QFile file(tmp.filePath(QStringLiteral("story.txt")));
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("Once upon a time there was a little girl named Lily. She liked to play in the park with her dog.\n\n"
               "One day the dog found a big red ball under a tree, and Lily was very happy.\n");
    file.close();
    nw::store::LibraryStore library(tmp.filePath(QStringLiteral("l.sqlite")));
    nw::ingest::Ingestor ingestor(library);
    QCOMPARE(ingestor.run({ file.fileName() }).added, 1);
    const QString snapshots = tmp.filePath(QStringLiteral("kv"));
    AskRequest request;
    request.mode = AskMode::Whole;
    request.question = QStringLiteral("What did the dog find?");
    request.maxTokens = 12;
    const auto ask = [&](const AskRequest &r) {
        AskService service;
        service.setSnapshotDirectory(snapshots, std::uint64_t(1) << 30);
        service.loadModel({ .path = model, .contextTokens = 512 });
        return service.ask(library, r);
    };

    const AskResult first = ask(request);
    QCOMPARE(first.contextSource, QStringLiteral("prefill"));
    QVERIFY2(first.snapshotTokens > 64 && first.snapshotTokens < first.promptTokens,
        qPrintable(QString::number(first.snapshotTokens)));
    const QStringList files = QDir(snapshots).entryList({ QStringLiteral("*.nwkv") }, QDir::Files);
    QCOMPARE(files.size(), 1);
    QCOMPARE(qint64(first.snapshotBytes), QFileInfo(QDir(snapshots).filePath(files.front())).size());

    const AskResult again = ask(request);
    QCOMPARE(again.contextSource, QStringLiteral("snapshot"));
    QCOMPARE(again.snapshotTokens, first.snapshotTokens);
    QCOMPARE(again.answer, first.answer);
    QVERIFY(contextSourceLine(again).contains(QStringLiteral("tokens loaded from snapshot")));
    // The load says what it saved: the first question's prefill of the documents.
    QVERIFY(first.snapshotPrefillSeconds > 0);
    QVERIFY(std::abs(again.snapshotPrefillSeconds - first.snapshotPrefillSeconds) <= 0.5e-6);
    QVERIFY2(contextSourceLine(again).contains(
                 QStringLiteral("(prefilling them took %1 s)").arg(first.snapshotPrefillSeconds, 0, 'f', 2)),
        qPrintable(contextSourceLine(again)));

    AskRequest other = request;
    other.question = QStringLiteral("Who is Lily?");
    QCOMPARE(ask(other).contextSource, QStringLiteral("snapshot")); // the same documents, another question

    QFile snapshot(QDir(snapshots).filePath(files.front()));
    QVERIFY(snapshot.resize(snapshot.size() - 100));
    const AskResult rebuilt = ask(request);
    QCOMPARE(rebuilt.contextSource, QStringLiteral("prefill"));
    QVERIFY2(rebuilt.snapshotProblem.contains(QStringLiteral("truncated")), qPrintable(rebuilt.snapshotProblem));
    QCOMPARE(rebuilt.answer, first.answer);
    QCOMPARE(ask(request).contextSource, QStringLiteral("snapshot"));
}

// Modes a snapshot cannot hold (a SnapKV selection, a window with sinks) answer from a whole
// prefill: no file is attempted, none is written, and the result says no snapshot applied.
void TestAsk::wholeModeSkipsSnapshotsForModesTheyCannotHold()
{
    const QString model = nw::test::findStories260K();
    if (model.isEmpty())
        QSKIP("no conformance models (../shared/conformance/models/stories260K.gguf)");
    QTemporaryDir tmp;
    QFile file(tmp.filePath(QStringLiteral("story.txt")));
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("Once upon a time there was a little girl named Lily. She liked to play in the park with her dog.\n\n"
               "One day the dog found a big red ball under a tree, and Lily was very happy.\n");
    file.close();
    nw::store::LibraryStore library(tmp.filePath(QStringLiteral("l.sqlite")));
    nw::ingest::Ingestor ingestor(library);
    QCOMPARE(ingestor.run({ file.fileName() }).added, 1);
    const QString snapshots = tmp.filePath(QStringLiteral("kv"));
    AskRequest request;
    request.mode = AskMode::Whole;
    request.question = QStringLiteral("What did the dog find?");
    request.maxTokens = 8;
    for (const QString mode : { QStringLiteral("full+snapkv:32"), QStringLiteral("full+window:64+sinks:4") }) {
        AskService service;
        service.setSnapshotDirectory(snapshots, std::uint64_t(1) << 30);
        service.loadModel({ .path = model, .kvMode = mode, .contextTokens = 512 });
        const AskResult r = service.ask(library, request);
        QVERIFY2(!r.answer.isEmpty(), qPrintable(mode));
        QCOMPARE(r.contextSource, QString()); // no snapshot applies
        QCOMPARE(r.snapshotTokens, 0);
        QVERIFY2(r.promptTokens > 64, qPrintable(QString::number(r.promptTokens)));
        QVERIFY2(QDir(snapshots).entryList({ QStringLiteral("*.nwkv") }, QDir::Files).isEmpty(), qPrintable(mode));
    }
}

QTEST_GUILESS_MAIN(TestAsk)
#include "tst_ask.moc"
