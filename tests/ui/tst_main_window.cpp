// GUI smoke test (offscreen): the window opens with its menus and the three docks, and the test's
// window session lands in scratch settings, not in the user's.
#include "ui/main_window.h"
#include "scratch_settings.h"

#include <QDir>
#include <QDockWidget>
#include <QMenuBar>
#include <QSettings>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

class TestMainWindow : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void opensWithDocksAndMenus();
    void sessionGoesToScratchSettings();

private:
    QTemporaryDir m_dir;
};

void TestMainWindow::initTestCase()
{
    QVERIFY(m_dir.isValid());
    nw::test::useScratchSettings(m_dir.filePath(QStringLiteral("settings")), QStringLiteral("tst_main_window"));
}

void TestMainWindow::opensWithDocksAndMenus()
{
    nw::ui::MainWindow window({.databasePath = m_dir.filePath(QStringLiteral("library.sqlite")), .modelPath = {}});
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    for (const char *name : {"LibraryDock", "ChatDock", "KvMeterDock"}) {
        auto *dock = window.findChild<QDockWidget *>(QString::fromLatin1(name));
        QVERIFY2(dock != nullptr, name);
        QVERIFY2(dock->isVisible(), name);
    }
    QStringList menus;
    for (QAction *action : window.menuBar()->actions())
        menus << action->text().remove(QLatin1Char('&'));
    QCOMPARE(menus, (QStringList{"File", "Edit", "View", "Go", "Tools", "Help"}));
}

void TestMainWindow::sessionGoesToScratchSettings()
{
    const QString database = m_dir.filePath(QStringLiteral("library.sqlite"));
    {
        nw::ui::MainWindow window({.databasePath = database, .modelPath = {}});
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
    } // closing saves the session
    const QString file = QSettings().fileName();
    QVERIFY2(file.startsWith(m_dir.path() + QLatin1Char('/')), qPrintable(file));
    QCOMPARE(QSettings(file, QSettings::IniFormat).value(QStringLiteral("session/database")).toString(), database);
    // Nothing under the user's own configuration either: test mode moves the standard paths.
    QVERIFY(QStandardPaths::isTestModeEnabled());
    QVERIFY2(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation).contains(QStringLiteral(".qttest")),
             qPrintable(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation)));
}

QTEST_MAIN(TestMainWindow)
#include "tst_main_window.moc"
