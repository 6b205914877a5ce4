// Sessions as the app records them: an ask result becomes a turn with its citations and
// figures, and the Markdown and JSON exports carry them back out.
#include "app/session_service.h"

#include "store/library_store.h"

#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

using namespace nw::app;

class TestSessions : public QObject {
    Q_OBJECT
private slots:
    void recordAndExport();
};

void TestSessions::recordAndExport()
{
    QTemporaryDir dir;
    nw::store::LibraryStore library(dir.filePath(QStringLiteral("l.sqlite")));
    SessionService sessions(library.database());

    AskResult r;
    r.question = QStringLiteral("When do patent licenses terminate?");
    r.answer = QStringLiteral("When you start patent litigation [1].");
    r.extractive = false;
    r.model = QStringLiteral("tiny.gguf");
    r.kvMode = QStringLiteral("mla");
    r.kvBytesUsed = 3 * 1024 * 1024;
    r.kvBytesPerToken = 3456;
    r.contextSource = QStringLiteral("snapshot");
    r.snapshotTokens = 850;
    r.snapshotBytes = 2 * 1024 * 1024;
    r.snapshotSeconds = 0.04;
    r.snapshotPrefillSeconds = 31.5;
    r.promptTokens = 900;
    r.generatedTokens = 12;
    r.prefillSeconds = 0.5;
    r.decodeSeconds = 0.25;
    Citation c;
    c.documentId = 4;
    c.sha256 = QString(64, QLatin1Char('9'));
    c.title = QStringLiteral("Apache License, Version 2.0");
    c.page = 2;
    c.section = QStringLiteral("3. Grant of Patent License");
    c.quote = QStringLiteral("If You institute patent litigation");
    r.citations = { c };

    const auto id = sessions.startSession(r.question);
    sessions.recordTurn(id, r);
    AskResult second;
    second.question = QStringLiteral("And the notice?");
    second.answer = QStringLiteral("[1] ...");
    sessions.recordTurn(id, second);

    const nlohmann::json j = sessions.exportJson(id);
    QCOMPARE(j["title"].get<std::string>(), r.question.toStdString());
    QCOMPARE(j["turns"].size(), std::size_t(2));
    QCOMPARE(j["turns"][0]["kv_mode"].get<std::string>(), std::string("mla"));
    QCOMPARE(j["turns"][0]["kv_bytes"].get<std::int64_t>(), std::int64_t(3 * 1024 * 1024));
    // The key every report uses; null for the extractive turn, which has no cache.
    QCOMPARE(j["turns"][0]["kv_bytes_per_token"].get<std::int64_t>(), std::int64_t(3456));
    QVERIFY(j["turns"][1]["kv_bytes_per_token"].is_null());
    // Where the documents came from, as ask --json says it; null when the turn did not say.
    QCOMPARE(j["turns"][0]["context"]["source"].get<std::string>(), std::string("snapshot"));
    QCOMPARE(j["turns"][0]["context"]["tokens"].get<int>(), 850);
    QCOMPARE(j["turns"][0]["context"]["snapshot_bytes"].get<std::int64_t>(), std::int64_t(2 * 1024 * 1024));
    QCOMPARE(j["turns"][0]["context"]["snapshot_seconds"].get<double>(), 0.04);
    QCOMPARE(j["turns"][0]["context"]["prefill_seconds"].get<double>(), 31.5);
    QVERIFY(j["turns"][1]["context"].is_null());
    QCOMPARE(j["turns"][0]["citations"][0]["page"].get<int>(), 2);
    QCOMPARE(j["turns"][0]["citations"][0]["sha256"].get<std::string>(), c.sha256.toStdString());

    const QString md = sessions.exportMarkdown(id);
    QVERIFY2(md.startsWith(QStringLiteral("# When do patent licenses terminate?\n")), qPrintable(md));
    QVERIFY(md.contains(
        QStringLiteral("## Q1: When do patent licenses terminate?\n\nWhen you start patent litigation [1].\n")));
    QVERIFY(md.contains(QStringLiteral("- Apache License, Version 2.0, p. 2, §3. Grant of Patent License\n")));
    QVERIFY(md.contains(QStringLiteral(
        "_retrieve mode, tiny.gguf, KV mla (3.00 MiB), 900 prompt tokens, prefill 0.50 "
        "s, 12 tokens in 0.25 s; 850 tokens loaded from snapshot, 2.00 MiB, 0.04 s (prefilling them took 31.50 s)_")));
    QVERIFY(md.contains(QStringLiteral("## Q2: And the notice?")));
    QVERIFY(md.contains(QStringLiteral("extractive (no model)")));
}

QTEST_GUILESS_MAIN(TestSessions)
#include "tst_sessions.moc"
