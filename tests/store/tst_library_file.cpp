// Library files: a new one is created whole and stamped with Needlework's application id; a
// library from before the id is recognised by its tables (stamped only by a connection that may
// write); another program's database, an empty file or a file that is no SQLite database is
// refused with one line and left byte for byte as it was; reading never creates or upgrades.
#include "common/error.h"
#include "store/library_file.h"
#include "store/library_store.h"
#include "store/migrations.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

using namespace nw::store;

class TestLibraryFile : public QObject {
    Q_OBJECT
private slots:
    void newLibraryIsStampedAndWhole();
    void foreignFilesAreLeftAlone_data();
    void foreignFilesAreLeftAlone();
    void libraryFromBeforeTheIdIsStampedOnlyWhenWriting();
    void readingNeverCreatesOrUpgrades();

private:
    QString file(const QString &name) const { return m_dir.filePath(name); }
    QTemporaryDir m_dir;
};

namespace {

QByteArray bytesOf(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray("<missing>");
}

std::int64_t applicationId(const QString &path)
{
    Database db(path.toStdString(), OpenMode::ReadOnly);
    return db.queryInt("PRAGMA application_id").value_or(-1);
}

// Another program's SQLite file in its usual journal mode, with `sql` run on it.
void makeDatabase(const QString &path, const char *sql)
{
    Database db(path.toStdString());
    db.exec("PRAGMA journal_mode=DELETE");
    db.exec(sql);
}

} // namespace

void TestLibraryFile::newLibraryIsStampedAndWhole()
{
    const QString path = file(QStringLiteral("new/library.sqlite"));
    QVERIFY(QDir().mkpath(file(QStringLiteral("new"))));
    {
        LibraryStore store(path);
        QCOMPARE(schemaVersion(store.database()), latestSchemaVersion());
    }
    QCOMPARE(applicationId(path), std::int64_t(kLibraryApplicationId));
    // Nothing but the library is left in the folder: the temporary file it was made in is gone.
    const QStringList left = QDir(file(QStringLiteral("new"))).entryList(QDir::Files);
    QVERIFY2(left == QStringList{QStringLiteral("library.sqlite")}, qPrintable(left.join(QLatin1Char(' '))));
    QVERIFY_THROWS_EXCEPTION(nw::Error, LibraryStore(file(QStringLiteral("no/such/folder/library.sqlite"))));
}

void TestLibraryFile::foreignFilesAreLeftAlone_data()
{
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("reason");
    QTest::addRow("another program's database") << "foreign" << "another program";
    QTest::addRow("one with its own pages and documents tables") << "lookalike" << "another program";
    QTest::addRow("one with another application id") << "stamped" << "0x47504b47";
    QTest::addRow("an empty SQLite database") << "emptydb" << "empty SQLite database";
    QTest::addRow("a zero-byte file") << "zero" << "empty file";
    QTest::addRow("a text file") << "text" << "not an SQLite database";
}

void TestLibraryFile::foreignFilesAreLeftAlone()
{
    QFETCH(QString, kind);
    QFETCH(QString, reason);
    const QString path = file(kind + QStringLiteral(".sqlite"));
    if (kind == QLatin1String("foreign")) {
        makeDatabase(path, "CREATE TABLE moz_places(id INTEGER PRIMARY KEY, url TEXT); INSERT INTO moz_places(url) VALUES ('x')");
    } else if (kind == QLatin1String("lookalike")) {
        makeDatabase(path, "CREATE TABLE documents(id INTEGER PRIMARY KEY, name TEXT); CREATE TABLE pages(id INTEGER, body TEXT)");
    } else if (kind == QLatin1String("stamped")) {
        makeDatabase(path, "PRAGMA application_id = 1196444487; CREATE TABLE gpkg_contents(table_name TEXT)"); // GeoPackage
    } else if (kind == QLatin1String("emptydb")) {
        makeDatabase(path, "PRAGMA user_version = 0; CREATE TABLE x(y); DROP TABLE x");
    } else {
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        if (kind == QLatin1String("text"))
            f.write(QByteArray("Not a database at all, just notes.\n").repeated(200));
    }
    const QByteArray before = bytesOf(path);
    for (LibraryAccess access : {LibraryAccess::ReadOnly, LibraryAccess::ReadWrite}) {
        try {
            LibraryStore store(path, access);
            QFAIL("a file that is not a library was opened");
        } catch (const NotALibrary &e) {
            const QString message = QString::fromUtf8(e.what());
            QVERIFY2(message.contains(reason) && message.contains(path) && !message.contains(QLatin1Char('\n')), e.what());
        }
        QCOMPARE(bytesOf(path), before);
    }
    for (const char *suffix : {"-wal", "-shm", "-journal"})
        QVERIFY2(!QFile::exists(path + QLatin1String(suffix)), suffix);
}

// Libraries made before the application id have id 0; their tables say what they are.
void TestLibraryFile::libraryFromBeforeTheIdIsStampedOnlyWhenWriting()
{
    const QString path = file(QStringLiteral("old.sqlite"));
    {
        Database db(path.toStdString());
        migrateTo(db, 3);
        db.exec("PRAGMA application_id = 0");
    }
    QCOMPARE(applicationId(path), std::int64_t(0));
    QVERIFY_THROWS_EXCEPTION(nw::Error, LibraryStore(path, LibraryAccess::ReadOnly)); // schema 3: reading does not upgrade
    QCOMPARE(applicationId(path), std::int64_t(0));
    {
        LibraryStore store(path);
        QCOMPARE(schemaVersion(store.database()), latestSchemaVersion());
    }
    QCOMPARE(applicationId(path), std::int64_t(kLibraryApplicationId));

    const QString current = file(QStringLiteral("current.sqlite"));
    {
        Database db(current.toStdString());
        migrate(db);
        db.exec("PRAGMA application_id = 0");
    }
    { LibraryStore reading(current, LibraryAccess::ReadOnly); }
    QCOMPARE(applicationId(current), std::int64_t(0));
    { LibraryStore writing(current); }
    QCOMPARE(applicationId(current), std::int64_t(kLibraryApplicationId));
}

void TestLibraryFile::readingNeverCreatesOrUpgrades()
{
    const QString missing = file(QStringLiteral("typo.sqlite"));
    QVERIFY_THROWS_EXCEPTION(nw::Error, LibraryStore(missing, LibraryAccess::ReadOnly));
    QVERIFY(!QFile::exists(missing));

    const QString path = file(QStringLiteral("library.sqlite"));
    { LibraryStore store(path); }
    const QByteArray before = bytesOf(path);
    {
        LibraryStore store(path, LibraryAccess::ReadOnly);
        QCOMPARE(store.documents().size(), std::size_t(0));
        QVERIFY_THROWS_EXCEPTION(nw::Error, store.ensureCollection(QStringLiteral("x")));
    }
    QCOMPARE(bytesOf(path), before);
}

QTEST_GUILESS_MAIN(TestLibraryFile)
#include "tst_library_file.moc"
