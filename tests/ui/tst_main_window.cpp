// GUI smoke test (offscreen): the window opens with its menus and the two side panels and their
// tabs; reading mode hides both panels and brings back the ones that were open; Reset Layout
// brings the default back; an empty library shows the first-run view; and the test's window
// workspace lands in scratch settings, not in the user's.
#include "offscreen_screen.h"
#include "scratch_settings.h"
#include "ui/chat_dock.h"
#include "ui/first_run_view.h"
#include "ui/kv_meter.h"
#include "ui/library_view.h"
#include "ui/main_window.h"
#include "ui/page_viewer.h"

#include <QDir>
#include <QDockWidget>
#include <QMenuBar>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>

class TestMainWindow : public QObject {
    Q_OBJECT
public:
    // The smallest screen the window is laid out for (issue 19): the panels and a page of half the width.
    static void initMain() { nw::test::useOffscreenScreen(1280, 720); }

private slots:
    void initTestCase();
    void opensWithPanelsAndMenus();
    void readingModeAndResetLayout();
    void firstRunAddsTheSampleDocuments();
    void workspaceGoesToScratchSettings();

private:
    QTemporaryDir m_dir;
};

void TestMainWindow::initTestCase()
{
    QVERIFY(m_dir.isValid());
    nw::test::useScratchSettings(m_dir.filePath(QStringLiteral("settings")), QStringLiteral("tst_main_window"));
}

void TestMainWindow::opensWithPanelsAndMenus()
{
    nw::ui::MainWindow window({ .databasePath = m_dir.filePath(QStringLiteral("library.sqlite")), .modelPath = {} });
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QVERIFY(window.libraryPanel()->isVisible());
    QVERIFY(window.assistantPanel()->isVisible());
    QCOMPARE(window.dockWidgetArea(window.libraryPanel()), Qt::LeftDockWidgetArea);
    QCOMPARE(window.dockWidgetArea(window.assistantPanel()), Qt::RightDockWidgetArea);
    QStringList left, right;
    for (int i = 0; i < window.libraryTabs()->count(); ++i)
        left << window.libraryTabs()->tabText(i);
    for (int i = 0; i < window.assistantTabs()->count(); ++i)
        right << window.assistantTabs()->tabText(i);
    QCOMPARE(left, (QStringList { "Library", "Search", "Annotations" }));
    QCOMPARE(right, (QStringList { "Chat", "KV Meter" }));
    // Ctrl+L shows the chat's tab wherever the panel was.
    window.assistantTabs()->setCurrentWidget(window.kvMeter());
    window.showTab(window.chat());
    QCOMPARE(window.assistantTabs()->currentWidget(), window.chat());

    QStringList menus;
    for (QAction *action : window.menuBar()->actions())
        menus << action->text().remove(QLatin1Char('&'));
    QCOMPARE(menus, (QStringList { "File", "Edit", "View", "Go", "Tools", "Help" }));

    // An empty library: the first-run view instead of a blank page, its buttons ready.
    QCOMPARE(window.readerArea(), static_cast<QWidget *>(window.firstRun()));
    QVERIFY(window.firstRun()->isVisible());
    for (QPushButton *button : { window.firstRun()->addFilesButton(), window.firstRun()->addFolderButton(),
             window.firstRun()->sampleButton() })
        QVERIFY(button->isVisible() && button->isEnabled());
    QVERIFY(window.firstRun()->acceptDrops());
}

void TestMainWindow::readingModeAndResetLayout()
{
    nw::ui::MainWindow window({ .databasePath = m_dir.filePath(QStringLiteral("library.sqlite")), .modelPath = {} });
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QAction *reading = window.readingModeAction();
    QCOMPARE(reading->shortcut(), QKeySequence(Qt::Key_F9));
    const int pageWidth = window.centralTabs()->width();

    // The assistant panel was closed before: reading mode and back keeps it closed.
    window.assistantPanel()->hide();
    reading->trigger();
    QVERIFY(window.isReadingMode());
    QVERIFY(window.libraryPanel()->isHidden() && window.assistantPanel()->isHidden());
    QTRY_VERIFY(window.centralTabs()->width() > pageWidth);
    reading->trigger();
    QVERIFY(!window.isReadingMode());
    QVERIFY(window.libraryPanel()->isVisible());
    QVERIFY(window.assistantPanel()->isHidden());
    // Asking for a tab in reading mode leaves it.
    reading->trigger();
    window.showTab(window.kvMeter());
    QVERIFY(!window.isReadingMode());
    QVERIFY(window.assistantPanel()->isVisible());

    // Reset Layout: both panels back on their sides, first tabs, the page with over half the width.
    window.addDockWidget(Qt::LeftDockWidgetArea, window.assistantPanel());
    window.libraryPanel()->hide();
    window.resetLayout();
    QCoreApplication::processEvents();
    QVERIFY(window.libraryPanel()->isVisible() && window.assistantPanel()->isVisible());
    QCOMPARE(window.dockWidgetArea(window.assistantPanel()), Qt::RightDockWidgetArea);
    QCOMPARE(window.assistantTabs()->currentWidget(), window.chat());
    QTRY_VERIFY2(window.centralTabs()->width() * 2 >= window.width(),
        qPrintable(QStringLiteral("%1 of %2").arg(window.centralTabs()->width()).arg(window.width())));
}

void TestMainWindow::firstRunAddsTheSampleDocuments()
{
    nw::ui::MainWindow window({ .databasePath = m_dir.filePath(QStringLiteral("first.sqlite")), .modelPath = {} });
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QCOMPARE(window.readerArea(), static_cast<QWidget *>(window.firstRun()));
    QSignalSpy finished(window.library(), &nw::ui::LibraryView::ingestFinished);
    QTest::mouseClick(window.firstRun()->sampleButton(), Qt::LeftButton);
    QVERIFY(!window.firstRun()->sampleButton()->isEnabled()); // one ingest at a time
    QVERIFY(finished.wait(60000));
    QCOMPARE(window.library()->documentCount(), 7);
    const auto collections = window.workbench()->collections();
    QCOMPARE(collections.size(), std::size_t(1));
    QCOMPARE(collections.front().name, QStringLiteral("Sample"));
    QCOMPARE(collections.front().documentCount, 7);
    // The library is no longer empty: the first document is open in its place.
    QCOMPARE(window.readerArea(), static_cast<QWidget *>(window.pageViewer()));
    QVERIFY(window.pageViewer()->documentId() > 0);
}

void TestMainWindow::workspaceGoesToScratchSettings()
{
    const QString database = m_dir.filePath(QStringLiteral("library.sqlite"));
    {
        nw::ui::MainWindow window({ .databasePath = database, .modelPath = {} });
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
    } // closing saves the workspace
    const QString file = QSettings().fileName();
    QVERIFY2(file.startsWith(m_dir.path() + QLatin1Char('/')), qPrintable(file));
    QCOMPARE(QSettings(file, QSettings::IniFormat).value(QStringLiteral("workspace/database")).toString(), database);
    // Nothing under the user's own configuration either: test mode moves the standard paths.
    QVERIFY(QStandardPaths::isTestModeEnabled());
    QVERIFY2(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation).contains(QStringLiteral(".qttest")),
        qPrintable(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation)));
}

QTEST_MAIN(TestMainWindow)
#include "tst_main_window.moc"
