// Sessions and turns round-trip through SQLite, in order, with every figure a turn records.
#include "store/session_store.h"

#include "common/error.h"
#include "store/library_store.h"

#include <QTemporaryDir>
#include <QTest>

using namespace nw::store;

class TestSessionStore : public QObject {
    Q_OBJECT
private slots:
    void turnsRoundTrip();
    void listsMostRecentFirst();
    void unknownSessionsAreErrors();
    void tablesSurviveReopening();
};

void TestSessionStore::turnsRoundTrip()
{
    QTemporaryDir dir;
    LibraryStore library(dir.filePath(QStringLiteral("l.sqlite")));
    SessionStore store(library.database());
    const auto id = store.createSession(QStringLiteral("When does it terminate?"));
    TurnRecord t;
    t.question = QStringLiteral("When does it terminate?");
    t.answer = QStringLiteral("On litigation [1].");
    t.citationsJson = QStringLiteral("[{\"page\":2}]");
    t.mode = QStringLiteral("whole");
    t.model = QStringLiteral("m.gguf");
    t.kvMode = QStringLiteral("mla");
    t.kvBytes = 123456789012;
    t.kvBytesPerToken = 70272;
    t.promptTokens = 1500;
    t.generatedTokens = 42;
    t.prefillSeconds = 1.25;
    t.decodeSeconds = 2.5;
    store.addTurn(id, t);
    TurnRecord second;
    second.question = QStringLiteral("And then?");
    second.answer = QStringLiteral("Nothing.");
    store.addTurn(id, second);

    const auto turns = store.turns(id);
    QCOMPARE(turns.size(), std::size_t(2));
    QCOMPARE(turns[0].index, 0);
    QCOMPARE(turns[1].index, 1);
    QCOMPARE(turns[0].answer, t.answer);
    QCOMPARE(turns[0].citationsJson, t.citationsJson);
    QCOMPARE(turns[0].mode, QStringLiteral("whole"));
    QCOMPARE(turns[0].kvMode, QStringLiteral("mla"));
    QCOMPARE(turns[0].kvBytes, std::int64_t(123456789012));
    QCOMPARE(turns[0].kvBytesPerToken, std::int64_t(70272));
    QCOMPARE(turns[1].kvBytesPerToken, std::int64_t(0));
    QCOMPARE(turns[0].promptTokens, 1500);
    QCOMPARE(turns[0].generatedTokens, 42);
    QCOMPARE(turns[0].prefillSeconds, 1.25);
    QCOMPARE(turns[0].decodeSeconds, 2.5);
    QCOMPARE(turns[1].citationsJson, QStringLiteral("[]"));
    QCOMPARE(turns[1].mode, QStringLiteral("retrieve"));
    QCOMPARE(store.requireSession(id).turnCount, 2);
}

void TestSessionStore::listsMostRecentFirst()
{
    QTemporaryDir dir;
    LibraryStore library(dir.filePath(QStringLiteral("l.sqlite")));
    SessionStore store(library.database());
    const auto a = store.createSession(QStringLiteral("a"));
    const auto b = store.createSession(QStringLiteral("b"));
    QTest::qWait(5);
    store.addTurn(a, TurnRecord { .question = QStringLiteral("q"), .answer = QStringLiteral("x") });
    const auto list = store.sessions();
    QCOMPARE(list.size(), std::size_t(2));
    QCOMPARE(list[0].id, a);
    QCOMPARE(list[1].id, b);
    store.renameSession(b, QStringLiteral("renamed"));
    QCOMPARE(store.requireSession(b).title, QStringLiteral("renamed"));
    QVERIFY(store.removeSession(a));
    QVERIFY(store.turns(a).empty()); // cascade
    QCOMPARE(store.sessions().size(), std::size_t(1));
}

void TestSessionStore::unknownSessionsAreErrors()
{
    QTemporaryDir dir;
    LibraryStore library(dir.filePath(QStringLiteral("l.sqlite")));
    SessionStore store(library.database());
    QVERIFY(!store.findSession(7).has_value());
    QVERIFY_THROWS_EXCEPTION(nw::Error, store.requireSession(7));
    QVERIFY_THROWS_EXCEPTION(nw::Error, store.addTurn(7, TurnRecord {}));
    QVERIFY_THROWS_EXCEPTION(nw::Error, store.renameSession(7, QStringLiteral("x")));
    QVERIFY(!store.removeSession(7));
}

void TestSessionStore::tablesSurviveReopening()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("l.sqlite"));
    std::int64_t id = 0;
    {
        LibraryStore library(path);
        SessionStore store(library.database());
        id = store.createSession(QStringLiteral("kept"));
    }
    LibraryStore library(path);
    SessionStore store(library.database());
    QCOMPARE(store.requireSession(id).title, QStringLiteral("kept"));
}

QTEST_GUILESS_MAIN(TestSessionStore)
#include "tst_session_store.moc"
