// Schema migrations: a new database gets the latest schema, an older one is brought forward
// with its data intact, a newer one is refused, and a failing migration leaves the last good one.
#include "common/error.h"
#include "store/library_store.h"
#include "store/migrations.h"
#include "store/session_store.h"

#include <QTemporaryDir>
#include <QTest>

#include <vector>

using namespace nw::store;

class TestMigrations : public QObject {
    Q_OBJECT
private slots:
    void newDatabaseGetsLatestSchema();
    void olderSchemaIsMigratedWithItsData();
    void newerSchemaIsRefused();
    void prefixIndexesKeepTheIndexWhole();
    void partsSourcesAndMailKeepOldDocuments();
    void turnBytesPerTokenKeepsOldTurns();
    void turnContextSourceKeepsOldTurns();
    void addingAMigrationIsOneFunction();
    void failedMigrationRollsBack();

private:
    QTemporaryDir m_dir;
    QString dbPath(const char *name) const { return m_dir.path() + QLatin1Char('/') + QLatin1String(name); }
};

namespace {

bool tableExists(Database &db, const std::string &name)
{
    return db.queryInt("SELECT count(*) FROM sqlite_master WHERE name = '" + name + "'").value_or(0) == 1;
}

void addNotes(Database &db)
{
    db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)");
}
void brokenMigration(Database &db)
{
    db.exec("CREATE TABLE half_done (x INTEGER)");
    db.exec("THIS IS NOT SQL");
}

} // namespace

void TestMigrations::newDatabaseGetsLatestSchema()
{
    LibraryStore store(dbPath("new.sqlite"));
    QCOMPARE(schemaVersion(store.database()), latestSchemaVersion());
    QVERIFY(latestSchemaVersion() >= 2);
    for (const char *table : { "documents", "pages", "pages_fts", "word_boxes", "collections", "ingest_errors" })
        QVERIFY2(tableExists(store.database(), table), table);
}

void TestMigrations::olderSchemaIsMigratedWithItsData()
{
    const QString path = dbPath("old.sqlite");
    {
        Database db(path.toStdString());
        migrateTo(db, 1);
        QCOMPARE(schemaVersion(db), 1);
        QVERIFY(!tableExists(db, "collections"));
        db.exec("INSERT INTO documents (sha256, path, kind, page_count, bytes, added) "
                "VALUES ('ab', '/x.pdf', 'pdf', 1, 10, '2026-01-01T00:00:00Z');"
                "INSERT INTO pages (document_id, number, text) VALUES (1, 1, 'the quick brown fox');");
    }
    LibraryStore store(path); // opens and migrates
    QCOMPARE(schemaVersion(store.database()), latestSchemaVersion());
    QVERIFY(tableExists(store.database(), "collections"));
    QVERIFY(tableExists(store.database(), "ingest_errors"));
    QCOMPARE(store.stats().documents, 1);
    QCOMPARE(store.requirePage(1, 1).text, QStringLiteral("the quick brown fox"));
    QCOMPARE(store.database().queryInt("SELECT count(*) FROM pages_fts WHERE pages_fts MATCH 'brown'"),
        std::optional<std::int64_t>(1));
    store.addToCollection(1, QStringLiteral("contracts")); // the new tables work
    QCOMPARE(store.requireDocument(1).collections, QStringList { QStringLiteral("contracts") });
}

// Version 5 makes the full-text index again with prefix indexes: pages indexed before it are
// still found (by words and by prefixes), and the triggers keep indexing new and removed pages.
void TestMigrations::prefixIndexesKeepTheIndexWhole()
{
    const QString path = dbPath("v4.sqlite");
    {
        Database db(path.toStdString());
        migrateTo(db, 4);
        db.exec("INSERT INTO documents (sha256, path, kind, page_count, bytes, added) "
                "VALUES ('ab', '/x.pdf', 'pdf', 2, 10, '2026-01-01T00:00:00Z');"
                "INSERT INTO pages (document_id, number, text) VALUES (1, 1, 'the quick brown fox');"
                "INSERT INTO pages (document_id, number, text) VALUES (1, 2, 'a brownish dog');");
    }
    LibraryStore store(path);
    Database &db = store.database();
    QVERIFY(latestSchemaVersion() >= 5);
    Statement sql(db, "SELECT sql FROM sqlite_master WHERE name = 'pages_fts'");
    QVERIFY(sql.step());
    QVERIFY2(
        QString::fromStdString(sql.columnText(0)).contains(QStringLiteral("prefix='2 3'")), sql.columnText(0).c_str());
    auto count = [&](const char *match) {
        Statement s(db, "SELECT count(*) FROM pages_fts WHERE pages_fts MATCH ?1");
        s.bind(1, std::string_view(match));
        s.step();
        return s.columnInt(0);
    };
    QCOMPARE(count("brown"), 1);
    QCOMPARE(count("br*"), 2);
    QCOMPARE(count("bro*"), 2);
    QCOMPARE(count("brown*"), 2);
    QCOMPARE(count("qu*"), 1);
    db.exec("INSERT INTO pages (document_id, number, text) VALUES (1, 3, 'broad daylight')");
    QCOMPARE(count("bro*"), 3);
    db.exec("DELETE FROM pages WHERE number = 1");
    QCOMPARE(count("bro*"), 2);
    QCOMPARE(count("qu*"), 0);
    db.exec(
        "INSERT INTO pages_fts(pages_fts, rank) VALUES ('integrity-check', 1)"); // throws if the index and pages differ
}

// Version 6 (parts of files, page sources, email, resumable OCR): a library of version 5 keeps its
// documents whole, each page's text reads as the file's own, and the new tables take rows.
void TestMigrations::partsSourcesAndMailKeepOldDocuments()
{
    const QString path = dbPath("v5.sqlite");
    {
        Database db(path.toStdString());
        migrateTo(db, 5);
        db.exec("INSERT INTO documents (sha256, path, kind, title, page_count, bytes, added) "
                "VALUES ('ab', '/x.pdf', 'pdf', 'Old', 1, 10, '2026-01-01T00:00:00Z');"
                "INSERT INTO pages (document_id, number, label, width, height, text) VALUES (1, 1, 'i', 612, 792, 'old "
                "words');");
    }
    LibraryStore store(path);
    QCOMPARE(schemaVersion(store.database()), latestSchemaVersion());
    const DocumentInfo old = store.requireDocument(1);
    QCOMPARE(old.title, QStringLiteral("Old"));
    QCOMPARE(old.fileSha256, QString());
    QCOMPARE(old.part, QString());
    QCOMPARE(old.parentId, std::int64_t(0));
    QCOMPARE(old.ocrPages, 0);
    QCOMPARE(old.ocrConfidence, -1.0);
    QVERIFY(!old.message.has_value());
    const PageRecord page = store.requirePage(1, 1);
    QCOMPARE(page.text, QStringLiteral("old words"));
    QCOMPARE(page.source, QStringLiteral("text"));
    QCOMPARE(page.ocrConfidence, -1.0);
    QCOMPARE(page.firstParagraph, 0);
    QCOMPARE(store.knownContent().value(QStringLiteral("ab"), QStringLiteral("?")), QString());

    // A message with an attachment, and a page recognised for a file not written yet.
    NewDocument message;
    message.info = { .sha256 = QStringLiteral("m1"),
        .path = QStringLiteral("/mail.mbox"),
        .kind = QStringLiteral("email"),
        .title = QStringLiteral("Hello"),
        .pageCount = 1,
        .bytes = 5 };
    message.info.fileSha256 = QStringLiteral("box");
    message.info.part = QStringLiteral("message 1");
    message.info.message = MessageHeaders {
        .messageId = QStringLiteral("id1@x"), .from = QStringLiteral("Ann <ann@x>"), .subject = QStringLiteral("Hello")
    };
    message.pages.push_back({ .number = 1, .text = QStringLiteral("From: Ann\n\nhello there"), .firstParagraph = 1 });
    const std::int64_t messageId = store.addDocument(message).documentId;
    NewDocument attachment;
    attachment.info = { .sha256 = QStringLiteral("a1"),
        .path = QStringLiteral("/mail.mbox"),
        .kind = QStringLiteral("text"),
        .title = QStringLiteral("notes.txt"),
        .pageCount = 1,
        .bytes = 3 };
    attachment.info.fileSha256 = QStringLiteral("box");
    attachment.info.part = QStringLiteral("attachment notes.txt of “Hello”, message 1");
    attachment.pages.push_back({ .number = 1, .text = QStringLiteral("notes") });
    const std::int64_t attachmentId = store.addDocument(attachment, messageId).documentId;
    QCOMPARE(store.requireDocument(attachmentId).parentId, messageId);
    QCOMPARE(store.attachments(messageId).size(), std::size_t(1));
    QCOMPARE(store.requireDocument(messageId).message->threadId, QStringLiteral("id1@x"));
    store.saveOcrPage(QStringLiteral("scan"),
        { .number = 2,
            .languages = QStringLiteral("eng"),
            .dpi = 300,
            .text = QStringLiteral("seen"),
            .words = {},
            .confidence = 91 });
    QCOMPARE(store.ocrPages(QStringLiteral("scan")).size(), std::size_t(1));
    QVERIFY(store.removeDocument(messageId)); // its attachment goes with it
    QVERIFY(!store.findDocument(attachmentId).has_value());
    QCOMPARE(store.database().queryInt("SELECT count(*) FROM messages"), std::optional<std::int64_t>(0));
}

// Version 7 (KV bytes per token of each turn): a turn recorded at version 6 keeps every figure and
// reads 0 (not recorded); a new turn stores its figure.
void TestMigrations::turnBytesPerTokenKeepsOldTurns()
{
    const QString path = dbPath("v6.sqlite");
    {
        Database db(path.toStdString());
        migrateTo(db, 6);
        db.exec(
            "INSERT INTO sessions (title, created, updated) VALUES ('q', '2026-01-01', '2026-01-01');"
            "INSERT INTO session_turns (session_id, idx, question, answer, kv_mode, kv_bytes, prompt_tokens, created) "
            "VALUES (1, 0, 'q', 'a', 'mla', 4096, 30, '2026-01-01');");
    }
    LibraryStore store(path);
    QCOMPARE(schemaVersion(store.database()), latestSchemaVersion());
    SessionStore sessions(store.database());
    TurnRecord next;
    next.question = QStringLiteral("q2");
    next.answer = QStringLiteral("a2");
    next.kvBytesPerToken = 70272;
    sessions.addTurn(1, next);
    const std::vector<TurnRecord> turns = sessions.turns(1);
    QCOMPARE(turns.size(), std::size_t(2));
    QCOMPARE(turns[0].kvBytes, std::int64_t(4096));
    QCOMPARE(turns[0].promptTokens, 30);
    QCOMPARE(turns[0].kvBytesPerToken, std::int64_t(0));
    QCOMPARE(turns[1].kvBytesPerToken, std::int64_t(70272));
}

// Versions 8 and 9 (where a turn's document context came from, what prefilling it took): a turn
// of version 7 reads "" and 0s; a new turn stores its source, tokens, bytes and seconds.
void TestMigrations::turnContextSourceKeepsOldTurns()
{
    const QString path = dbPath("v7.sqlite");
    {
        Database db(path.toStdString());
        migrateTo(db, 7);
        db.exec("INSERT INTO sessions (title, created, updated) VALUES ('q', '2026-01-01', '2026-01-01');"
                "INSERT INTO session_turns (session_id, idx, question, answer, kv_bytes_per_token, created) "
                "VALUES (1, 0, 'q', 'a', 512, '2026-01-01');");
    }
    LibraryStore store(path);
    QCOMPARE(schemaVersion(store.database()), latestSchemaVersion());
    SessionStore sessions(store.database());
    TurnRecord next;
    next.question = QStringLiteral("q2");
    next.answer = QStringLiteral("a2");
    next.contextSource = QStringLiteral("snapshot");
    next.contextTokens = 1772;
    next.contextBytes = 1142784;
    next.contextSeconds = 0.03;
    next.contextPrefillSeconds = 41.5;
    sessions.addTurn(1, next);
    const std::vector<TurnRecord> turns = sessions.turns(1);
    QCOMPARE(turns.size(), std::size_t(2));
    QCOMPARE(turns[0].kvBytesPerToken, std::int64_t(512));
    QCOMPARE(turns[0].contextSource, QString());
    QCOMPARE(turns[0].contextTokens, std::int64_t(0));
    QCOMPARE(turns[1].contextSource, QStringLiteral("snapshot"));
    QCOMPARE(turns[1].contextTokens, std::int64_t(1772));
    QCOMPARE(turns[1].contextBytes, std::int64_t(1142784));
    QCOMPARE(turns[1].contextSeconds, 0.03);
    // Version 9: what prefilling the context took; 0 for the old turn.
    QCOMPARE(turns[0].contextPrefillSeconds, 0.0);
    QCOMPARE(turns[1].contextPrefillSeconds, 41.5);
}

void TestMigrations::newerSchemaIsRefused()
{
    const QString path = dbPath("future.sqlite");
    {
        Database db(path.toStdString());
        migrate(db);
        db.exec("PRAGMA user_version = 999");
    }
    try {
        LibraryStore store(path);
        QFAIL("a database from the future was opened");
    } catch (const nw::Error &e) {
        const QString message = QString::fromUtf8(e.what());
        QVERIFY2(message.contains(QStringLiteral("999")) && message.contains(QStringLiteral("newer")), e.what());
    }
}

void TestMigrations::addingAMigrationIsOneFunction()
{
    std::vector<Migration> list(migrations().begin(), migrations().end());
    const int next = static_cast<int>(list.size()) + 1;
    list.push_back({ next, "notes", addNotes });
    const QString path = dbPath("extended.sqlite");
    LibraryStore store(path); // at the shipped latest version
    migrate(store.database(), list);
    QCOMPARE(schemaVersion(store.database()), next);
    QVERIFY(tableExists(store.database(), "notes"));
    migrate(store.database(), list); // idempotent
    QCOMPARE(schemaVersion(store.database()), next);
}

void TestMigrations::failedMigrationRollsBack()
{
    std::vector<Migration> list(migrations().begin(), migrations().end());
    const int shipped = static_cast<int>(list.size());
    list.push_back({ shipped + 1, "broken", brokenMigration });
    Database db(dbPath("broken.sqlite").toStdString());
    QVERIFY_THROWS_EXCEPTION(nw::Error, migrate(db, list));
    QCOMPARE(schemaVersion(db), shipped);
    QVERIFY(!tableExists(db, "half_done"));
}

QTEST_GUILESS_MAIN(TestMigrations)
#include "tst_migrations.moc"
