// The window on a 1280 × 720 screen (the offscreen platform given that screen): it fits and never
// grows past it while a search hit is opened, a question is asked and answered, and the KV meter
// and the Needle Lab are shown; no visible control is laid out off the screen; the page keeps at
// least half the window's width and its zoom, fit and page controls stay on screen; fit width
// gives a page wide enough to read.
#include "app/sample_corpus.h"
#include "ingest/ingestor.h"
#include "offscreen_screen.h"
#include "scratch_settings.h"
#include "store/library_store.h"
#include "tests/support/conformance_qt.h"
#include "ui/annotations_panel.h"
#include "ui/chat_dock.h"
#include "ui/kv_meter.h"
#include "ui/kv_planner.h"
#include "ui/main_window.h"
#include "ui/needle_view.h"
#include "ui/page_canvas.h"
#include "ui/page_viewer.h"
#include "ui/search_view.h"

#include <QAbstractScrollArea>
#include <QComboBox>
#include <QDockWidget>
#include <QLineEdit>
#include <QListWidget>
#include <QScreen>
#include <QSignalSpy>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QToolButton>

namespace {

constexpr int kScreenWidth = 1280;
constexpr int kScreenHeight = 720;

// Visible widgets whose rectangle on the screen leaves it. Content inside a scroll area's
// viewport may be larger than the viewport (that is what scrolling is for): only the parts a
// user can see are checked, the viewports themselves.
QStringList offScreen(QWidget *window, const QRect &screen)
{
    QStringList out;
    for (QWidget *w : window->findChildren<QWidget *>()) {
        if (!w->isVisibleTo(window) || w->isWindow())
            continue;
        bool scrolled = false;
        for (QWidget *p = w->parentWidget(); p && p != window; p = p->parentWidget())
            if (auto *area = qobject_cast<QAbstractScrollArea *>(p->parentWidget()); area && area->viewport() == p)
                scrolled = true;
        if (scrolled)
            continue;
        const QRect global(w->mapToGlobal(QPoint(0, 0)), w->size());
        if (!screen.contains(global))
            out << QStringLiteral("%1 %2 at %3,%4 %5x%6")
                       .arg(QString::fromLatin1(w->metaObject()->className()), w->objectName())
                       .arg(global.x())
                       .arg(global.y())
                       .arg(global.width())
                       .arg(global.height());
    }
    return out;
}

} // namespace

class TestSmallScreen : public QObject {
    Q_OBJECT
public:
    // Before the QApplication: the offscreen platform with one 1280 × 720 screen.
    static void initMain() { nw::test::useOffscreenScreen(kScreenWidth, kScreenHeight); }

private slots:
    void initTestCase();
    void everythingFitsA1280x720Screen();

private:
    void checkLayout(nw::ui::MainWindow &window, const char *step);
    QTemporaryDir m_dir;
};

void TestSmallScreen::initTestCase()
{
    QVERIFY(m_dir.isValid());
    nw::test::useScratchSettings(m_dir.filePath(QStringLiteral("settings")), QStringLiteral("tst_small_screen"));
    QVERIFY(QGuiApplication::primaryScreen());
    QCOMPARE(QGuiApplication::primaryScreen()->geometry(), QRect(0, 0, kScreenWidth, kScreenHeight));
}

void TestSmallScreen::checkLayout(nw::ui::MainWindow &window, const char *step)
{
    QCoreApplication::processEvents();
    const QRect screen = window.screen()->availableGeometry();
    QVERIFY2(screen.contains(window.frameGeometry()),
        qPrintable(QStringLiteral("%1: window %2,%3 %4x%5 on a %6x%7 screen")
                       .arg(QString::fromLatin1(step))
                       .arg(window.frameGeometry().x())
                       .arg(window.frameGeometry().y())
                       .arg(window.frameGeometry().width())
                       .arg(window.frameGeometry().height())
                       .arg(screen.width())
                       .arg(screen.height())));
    const QSize minimum = window.minimumSizeHint().expandedTo(window.minimumSize());
    QVERIFY2(minimum.width() <= screen.width() && minimum.height() <= screen.height(),
        qPrintable(QStringLiteral("%1: minimum size %2x%3")
                       .arg(QString::fromLatin1(step))
                       .arg(minimum.width())
                       .arg(minimum.height())));
    const QStringList outside = offScreen(&window, screen);
    QVERIFY2(outside.isEmpty(),
        qPrintable(QString::fromLatin1(step) + QStringLiteral(": ") + outside.join(QStringLiteral("; "))));
    // The middle keeps at least half the width.
    QVERIFY2(window.centralTabs()->width() * 2 >= window.width(),
        qPrintable(QStringLiteral("%1: the page area is %2 of %3 px")
                       .arg(QString::fromLatin1(step))
                       .arg(window.centralTabs()->width())
                       .arg(window.width())));
}

void TestSmallScreen::everythingFitsA1280x720Screen()
{
    const QString database = m_dir.filePath(QStringLiteral("library.sqlite"));
    {
        nw::store::LibraryStore store(database);
        nw::ingest::Ingestor ingestor(store);
        const QStringList pdfs = nw::app::writeSamplePdfs(m_dir.filePath(QStringLiteral("sample")));
        QCOMPARE(ingestor.run(pdfs).added, static_cast<int>(pdfs.size()));
    }
    const QString model = nw::test::findStories260K(); // the meter gets an engine's figures when it is there
    nw::ui::MainWindow window({ .databasePath = database, .modelPath = model });
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    checkLayout(window, "opened");
    if (QTest::currentTestFailed())
        return;

    // A search hit, opened at fit width: a page wide enough to read beside both panels.
    window.showTab(window.search());
    window.search()->search(QStringLiteral("patent litigation"));
    QListWidget *results = window.search()->resultList();
    QVERIFY(results->count() > 0);
    emit results->itemActivated(results->item(0));
    nw::ui::PageViewer *viewer = window.pageViewer();
    QVERIFY(viewer->documentId() > 0);
    QCOMPARE(window.readerArea(), static_cast<QWidget *>(viewer));
    viewer->fitWidth();
    QCoreApplication::processEvents();
    const double pageWidthPx
        = viewer->canvas()->zoom() * 612.0; // a Letter page: 612 points, one logical pixel each at zoom 1
    QVERIFY2(
        pageWidthPx >= 0.4 * kScreenWidth, qPrintable(QStringLiteral("fit width gives a %1 px page").arg(pageWidthPx)));
    // The zoom, fit and page controls are on screen, not behind an overflow button.
    for (const char *name :
        { "ZoomOutActionButton", "ZoomInActionButton", "FitWidthActionButton", "FitPageActionButton" }) {
        auto *button = viewer->findChild<QToolButton *>(QString::fromLatin1(name));
        QVERIFY2(button && button->isVisible() && button->width() > 0, name);
    }
    QVERIFY(viewer->pageBox()->isVisible());
    checkLayout(window, "search hit open");
    if (QTest::currentTestFailed())
        return;

    // A question: the window does not grow while the answer, its chips and the status come in.
    window.showTab(window.chat());
    const QSize before = window.size();
    QSignalSpy finished(window.chat(), &nw::ui::ChatDock::answerFinished);
    window.chat()->questionBox()->setText(
        QStringLiteral("What happens to my patent licenses if I start patent litigation?"));
    QVERIFY(window.chat()->ask());
    QVERIFY(finished.wait(180000));
    QCOMPARE(window.size(), before);
    // The transcript takes the tab's height, not four lines of it.
    auto *answer = window.chat()->findChild<QWidget *>(QStringLiteral("AnswerText"));
    QVERIFY2(answer->height() >= window.chat()->height() / 3,
        qPrintable(QStringLiteral("%1 of %2 px").arg(answer->height()).arg(window.chat()->height())));
    checkLayout(window, "chat answered");
    if (QTest::currentTestFailed())
        return;

    window.showTab(window.kvMeter());
    QCOMPARE(window.size(), before);
    checkLayout(window, "KV meter");
    if (QTest::currentTestFailed())
        return;

    window.showNeedleLab();
    QCOMPARE(window.centralTabs()->currentWidget()->objectName(), QStringLiteral("NeedleLab"));
    QCOMPARE(window.size(), before);
    checkLayout(window, "Needle Lab");
    if (QTest::currentTestFailed())
        return;

    // Back to the page, with the annotations tab open on the left.
    window.centralTabs()->setCurrentIndex(0);
    window.showTab(window.annotations());
    checkLayout(window, "annotations");

    // The planner sizes the chat's model beside the bundled architectures.
    if (!model.isEmpty()) {
        window.showKvPlanner();
        QVERIFY(window.kvPlanner()->architectureBox()->currentText().startsWith(
            QStringLiteral("stories260K.gguf (loaded)")));
        QVERIFY(window.kvPlanner()->table()->rowCount() > 3);
        QVERIFY(window.screen()->availableGeometry().contains(window.kvPlanner()->frameGeometry()));
    }
}

QTEST_MAIN(TestSmallScreen)
#include "tst_small_screen.moc"
