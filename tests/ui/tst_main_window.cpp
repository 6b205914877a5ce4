// GUI smoke test (offscreen): the window opens with its menus and the three docks.
#include "ui/main_window.h"

#include <QDockWidget>
#include <QMenuBar>
#include <QTest>

class TestMainWindow : public QObject {
    Q_OBJECT
private slots:
    void opensWithDocksAndMenus();
};

void TestMainWindow::opensWithDocksAndMenus()
{
    nw::ui::MainWindow window({.databasePath = QStringLiteral("/tmp/nw-test.sqlite"), .modelPath = {}});
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

QTEST_MAIN(TestMainWindow)
#include "tst_main_window.moc"
