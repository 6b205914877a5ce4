// The SQLite wrapper: WAL mode, FTS5 present, transactions roll back, errors name the database.
#include "common/error.h"
#include "store/database.h"

#include <QTemporaryDir>
#include <QTest>

using nw::store::Database;
using nw::store::Statement;
using nw::store::Transaction;

class TestDatabase : public QObject {
    Q_OBJECT
private slots:
    void opensInWalMode();
    void fts5IsAvailable();
    void transactionRollsBackUnlessCommitted();
    void badSqlNamesTheDatabase();
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

QTEST_GUILESS_MAIN(TestDatabase)
#include "tst_database.moc"
