// Where the application keeps its settings, data and caches: settings in
// $XDG_CONFIG_HOME/needlework/needlework.conf (not "Unknown Organization/"), taken over once from
// where older versions wrote them; the data and cache folders where they always were.
#include "app/paths.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QSettings>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

class TestPaths : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void settingsDataAndCacheLocations();

private:
    QTemporaryDir m_dir;
};

void TestPaths::initTestCase()
{
    QVERIFY(m_dir.isValid());
    QStandardPaths::setTestModeEnabled(false); // the XDG variables below decide, as for a user
    qputenv("XDG_CONFIG_HOME", m_dir.filePath(QStringLiteral("config")).toUtf8());
    qputenv("XDG_DATA_HOME", m_dir.filePath(QStringLiteral("data")).toUtf8());
    qputenv("XDG_CACHE_HOME", m_dir.filePath(QStringLiteral("cache")).toUtf8());
}

void TestPaths::settingsDataAndCacheLocations()
{
    // What an older version left: its settings under the organisation Qt names when there is none.
    const QString oldFile = m_dir.filePath(QStringLiteral("config/Unknown Organization/needlework.conf"));
    QVERIFY(QDir().mkpath(QFileInfo(oldFile).path()));
    {
        QFile f(oldFile);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("[session]\ndatabase=/srv/review/library.sqlite\n[ui]\ntheme=dark\n");
    }
    nw::app::setApplicationIdentity();
    QSettings settings;
    QCOMPARE(settings.fileName(), m_dir.filePath(QStringLiteral("config/needlework/needlework.conf")));
    QVERIFY(!settings.fileName().contains(QStringLiteral("Unknown")));
    // Taken over once: the old file's values are in the new one.
    QCOMPARE(
        settings.value(QStringLiteral("session/database")).toString(), QStringLiteral("/srv/review/library.sqlite"));
    QCOMPARE(settings.value(QStringLiteral("ui/theme")).toString(), QStringLiteral("dark"));
    QVERIFY(QFile::exists(settings.fileName()));
    // A later start reads the new file only.
    settings.setValue(QStringLiteral("ui/theme"), QStringLiteral("light"));
    settings.sync();
    nw::app::setApplicationIdentity();
    QCOMPARE(QSettings().value(QStringLiteral("ui/theme")).toString(), QStringLiteral("light"));

    // The library and the caches stay where earlier versions kept them.
    QCOMPARE(nw::app::dataDirectory(), m_dir.filePath(QStringLiteral("data/needlework")));
    QCOMPARE(nw::app::defaultDatabasePath(), m_dir.filePath(QStringLiteral("data/needlework/library.sqlite")));
    QCOMPARE(nw::app::cacheDirectory(), m_dir.filePath(QStringLiteral("cache/needlework")));
}

QTEST_GUILESS_MAIN(TestPaths)
#include "tst_paths.moc"
