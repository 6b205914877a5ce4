// The SQLite wrapper: WAL mode, FTS5 present, transactions roll back, errors name the database,
// open modes that write nothing, and a query budget that stops a statement in time.
#include "common/error.h"
#include "store/database.h"

#include <QElapsedTimer>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <chrono>

using nw::store::Database;
using nw::store::OpenMode;
using nw::store::QueryBudget;
using nw::store::SqliteError;
using nw::store::Statement;
using nw::store::Transaction;

class TestDatabase : public QObject {
    Q_OBJECT
private slots:
    void opensInWalMode();
    void fts5IsAvailable();
    void transactionRollsBackUnlessCommitted();
    void badSqlNamesTheDatabase();
    void openModesWriteNothingUntilAsked();
    void budgetStopsAnEndlessStatement();
    void budgetLimitsTheSizeOfValues();
};

void TestDatabase::opensInWalMode()
{
    QTemporaryDir dir;
    Database db((dir.path() + "/a.sqlite").toStdString());
    Statement mode(db, "PRAGMA journal_mode");
    QVERIFY(mode.step());
    QCOMPARE(QString::fromStdString(mode.columnText(0)), QStringLiteral("wal"));
}

void TestDatabase::fts5IsAvailable()
{
    QVERIFY(nw::store::sqliteInfo().fts5);
    QTemporaryDir dir;
    Database db((dir.path() + "/a.sqlite").toStdString());
    db.exec("CREATE VIRTUAL TABLE t USING fts5(body, tokenize='unicode61 remove_diacritics 2')");
    Statement insert(db, "INSERT INTO t(body) VALUES (?)");
    insert.bind(1, std::string_view("Le café est très bon"));
    insert.run();
    QCOMPARE(db.queryInt("SELECT count(*) FROM t WHERE t MATCH 'cafe'"), std::optional<std::int64_t>(1));
}

void TestDatabase::transactionRollsBackUnlessCommitted()
{
    QTemporaryDir dir;
    Database db((dir.path() + "/a.sqlite").toStdString());
    db.exec("CREATE TABLE t(x INTEGER)");
    {
        Transaction tx(db);
        db.exec("INSERT INTO t VALUES (1)");
    }
    QCOMPARE(db.queryInt("SELECT count(*) FROM t"), std::optional<std::int64_t>(0));
    {
        Transaction tx(db);
        db.exec("INSERT INTO t VALUES (1)");
        tx.commit();
    }
    QCOMPARE(db.queryInt("SELECT count(*) FROM t"), std::optional<std::int64_t>(1));
}

void TestDatabase::badSqlNamesTheDatabase()
{
    QTemporaryDir dir;
    const std::string path = (dir.path() + "/a.sqlite").toStdString();
    Database db(path);
    try {
        db.exec("SELEKT 1");
        QFAIL("no error");
    } catch (const nw::Error &e) {
        QVERIFY(QString::fromUtf8(e.what()).contains(QString::fromStdString(path)));
    }
}

// ReadWrite and ReadOnly never create a file, and opening one changes none of its bytes (not even
// the journal mode, which Create switches to WAL); ReadOnly refuses every write.
void TestDatabase::openModesWriteNothingUntilAsked()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("rollback.sqlite"));
    {
        Database db(path.toStdString());
        db.exec("PRAGMA journal_mode=DELETE; CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1)");
    }
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QByteArray before = file.readAll();
    file.close();
    for (OpenMode mode : { OpenMode::ReadWrite, OpenMode::ReadOnly }) {
        Database db(path.toStdString(), mode);
        QCOMPARE(db.queryInt("SELECT x FROM t"), std::optional<std::int64_t>(1));
    }
    QVERIFY(file.open(QIODevice::ReadOnly));
    QCOMPARE(file.readAll(), before);
    file.close();

    Database reading(path.toStdString(), OpenMode::ReadOnly);
    QVERIFY_THROWS_EXCEPTION(nw::Error, reading.exec("INSERT INTO t VALUES (2)"));
    const QString missing = dir.filePath(QStringLiteral("missing.sqlite"));
    QVERIFY_THROWS_EXCEPTION(nw::Error, Database(missing.toStdString(), OpenMode::ReadWrite));
    QVERIFY_THROWS_EXCEPTION(nw::Error, Database(missing.toStdString(), OpenMode::ReadOnly));
    QVERIFY(!QFile::exists(missing));
}

// An endless recursive query is stopped by the progress handler soon after its time is up; the
// connection is unbounded again once the budget ends.
void TestDatabase::budgetStopsAnEndlessStatement()
{
    QTemporaryDir dir;
    Database db(dir.filePath(QStringLiteral("a.sqlite")).toStdString());
    const char *endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n";
    QElapsedTimer timer;
    timer.start();
    {
        QueryBudget budget(db, std::chrono::steady_clock::now() + std::chrono::milliseconds(200), 1 << 20);
        try {
            db.queryInt(endless);
            QFAIL("an endless statement finished");
        } catch (const SqliteError &e) {
            QVERIFY2(e.isOverBudget() && e.isOutOfTime(), e.what());
        }
        QVERIFY(budget.expired());
    }
    QVERIFY2(timer.elapsed() < 2000, qPrintable(QString::number(timer.elapsed())));
    QCOMPARE(
        db.queryInt(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) SELECT count(*) FROM n"),
        std::optional<std::int64_t>(3000000));
}

void TestDatabase::budgetLimitsTheSizeOfValues()
{
    QTemporaryDir dir;
    Database db(dir.filePath(QStringLiteral("a.sqlite")).toStdString());
    {
        QueryBudget budget(db, std::chrono::steady_clock::now() + std::chrono::seconds(10), 1000);
        QCOMPARE(db.queryInt("SELECT length(zeroblob(1000))"), std::optional<std::int64_t>(1000));
        try {
            db.queryInt("SELECT length(zeroblob(1001))");
            QFAIL("a value over the budget was made");
        } catch (const SqliteError &e) {
            QVERIFY2(e.isOverBudget() && !e.isOutOfTime(), e.what());
        }
    }
    QCOMPARE(db.queryInt("SELECT length(zeroblob(100000))"), std::optional<std::int64_t>(100000));
}

QTEST_GUILESS_MAIN(TestDatabase)
#include "tst_database.moc"
