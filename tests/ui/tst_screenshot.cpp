// The documentation's screenshots, and the test that the views they show can be set up: on the
// screen the test runs on (scripts/screenshot.sh starts Xvfb at 1280×720 and at 1920×1080), the
// window fills the screen's available area and is grabbed showing
//   reader  — a search done, its first hit open at fit width, a question answered in the chat;
//   meter   — the same with the KV Meter tab (the engine's figures when a model is found);
//   needle  — the Needle Lab after a small run with the recall model (tests/data/recall-model.gguf);
//   start   — the first-run view of an empty library.
// scripts/screenshot.sh runs it with
//   NW_SCREENSHOT_DB=demo.sqlite NW_SCREENSHOT_MODEL=M.gguf NW_SCREENSHOT_DIR=docs
// and the images are docs/screenshot-<W>x<H>-<view>.png. Without NW_SCREENSHOT_DIR they go to a
// temporary folder and are only checked (not blank, the window's size).
#include "app/sample_corpus.h"
#include "ingest/ingestor.h"
#include "store/library_store.h"
#include "tests/support/conformance_qt.h"
#include "ui/chat_dock.h"
#include "ui/first_run_view.h"
#include "ui/kv_meter.h"
#include "ui/main_window.h"
#include "ui/needle_view.h"
#include "ui/page_viewer.h"
#include "ui/search_view.h"
#include "ui/theme.h"

#include <QCheckBox>
#include <QFileInfo>
#include <QImage>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QScreen>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>

#include <set>

class TestScreenshot : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void readerChatMeterAndNeedleLab();
    void firstRunView();

private:
    // Grabs the window to <out>/screenshot-<W>x<H>-<view>.png after checking it is not blank.
    void grab(QWidget &window, const QString &view);
    void place(QWidget &window); // the screen's available area, as a maximised window
    QTemporaryDir m_dir;
    QString m_out;
};

void TestScreenshot::initTestCase()
{
    QVERIFY(m_dir.isValid());
    QCoreApplication::setOrganizationName(QStringLiteral("NeedleworkTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_screenshot"));
    QSettings::setDefaultFormat(QSettings::IniFormat);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, m_dir.filePath(QStringLiteral("settings")));
    QSettings().clear();
    nw::ui::applyTheme(nw::ui::Theme::Light); // the same picture whatever the desktop
    m_out = qEnvironmentVariable("NW_SCREENSHOT_DIR", m_dir.path());
}

void TestScreenshot::place(QWidget &window)
{
    const QRect available = QGuiApplication::primaryScreen()->availableGeometry();
    window.setGeometry(available);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QTest::qWait(200);
}

void TestScreenshot::grab(QWidget &window, const QString &view)
{
    QTest::qWait(400); // let the chart, the pages and the panels finish their layout
    const QImage image = window.grab().toImage();
    QCOMPARE(image.size(), window.size() * window.devicePixelRatio());
    // Not a blank frame: pages, panels and text give many distinct colours.
    std::set<QRgb> colours;
    for (int y = 0; y < image.height(); y += 7)
        for (int x = 0; x < image.width(); x += 7)
            colours.insert(image.pixel(x, y));
    QVERIFY2(colours.size() > 20, qPrintable(QString::number(colours.size())));
    const QSize screen = QGuiApplication::primaryScreen()->size();
    const QString path
        = QStringLiteral("%1/screenshot-%2x%3-%4.png").arg(m_out).arg(screen.width()).arg(screen.height()).arg(view);
    QVERIFY(image.save(path, "PNG", 9));
    QVERIFY2(QFileInfo(path).size() < 600 * 1024, qPrintable(QString::number(QFileInfo(path).size())));
    qInfo(
        "screenshot: %s (%dx%d, %lld bytes)", qPrintable(path), image.width(), image.height(), QFileInfo(path).size());
}

void TestScreenshot::readerChatMeterAndNeedleLab()
{
    QString database = qEnvironmentVariable("NW_SCREENSHOT_DB");
    if (database.isEmpty()) {
        database = m_dir.filePath(QStringLiteral("library.sqlite"));
        nw::store::LibraryStore store(database);
        nw::ingest::Ingestor ingestor(store);
        const QStringList pdfs = nw::app::writeSamplePdfs(m_dir.filePath(QStringLiteral("sample")));
        QCOMPARE(ingestor.run(pdfs).added, static_cast<int>(pdfs.size()));
    }
    QVERIFY2(QFileInfo::exists(database), qPrintable(database));
    QString model = qEnvironmentVariable("NW_SCREENSHOT_MODEL");
    if (model.isEmpty())
        model = nw::test::findStories260K(); // empty when the conformance set is absent

    nw::ui::MainWindow window({ .databasePath = database, .modelPath = model });
    place(window);

    // A search, its first hit opened at fit width with the hits highlighted.
    window.showTab(window.search());
    window.search()->searchBox()->setText(QStringLiteral("patent litigation"));
    window.search()->search(QStringLiteral("patent litigation"));
    QListWidget *results = window.search()->resultList();
    QTRY_VERIFY(results->count() > 0);
    results->setCurrentRow(0);
    emit results->itemActivated(results->item(0));
    QTRY_VERIFY(window.pageViewer()->documentId() > 0);
    window.pageViewer()->fitWidth();

    // A question answered in the chat; with a model the meter ends on the engine's snapshot.
    window.showTab(window.chat());
    QSignalSpy finished(window.chat(), &nw::ui::ChatDock::answerFinished);
    window.chat()->questionBox()->setText(
        QStringLiteral("What happens to my patent licenses if I start patent litigation?"));
    QVERIFY(window.chat()->ask());
    QVERIFY(finished.wait(180000));
    QVERIFY(!window.chat()->answerText().isEmpty());
    window.chat()->questionBox()->clear();
    grab(window, QStringLiteral("reader"));

    window.showTab(window.kvMeter());
    if (!model.isEmpty())
        QVERIFY(window.kvMeter()->lastSnapshot().kvBytesUsed > 0);
    grab(window, QStringLiteral("meter"));

    // The Needle Lab after a small run of the recall model (seconds on a CPU).
    const QString recall = qEnvironmentVariable("NW_SOURCE_DIR") + QStringLiteral("/tests/data/recall-model.gguf");
    window.showNeedleLab();
    nw::ui::NeedleView *lab = window.needleView();
    if (QFileInfo::exists(recall)) {
        lab->setModelPath(recall);
        lab->lengthsEdit()->setText(QStringLiteral("128,256,512"));
        lab->depthsEdit()->setText(QStringLiteral("0,50,100"));
        lab->setCheckedModes({ QStringLiteral("full"), QStringLiteral("full+q4"), QStringLiteral("latent:16") });
        lab->trialsBox()->setValue(1);
        lab->outEdit()->setText(m_dir.filePath(QStringLiteral("needle")));
        QSignalSpy done(lab, &nw::ui::NeedleView::runFinished);
        QVERIFY(lab->run());
        QVERIFY(done.wait(300000));
    }
    grab(window, QStringLiteral("needle"));
}

void TestScreenshot::firstRunView()
{
    nw::ui::MainWindow window({ .databasePath = m_dir.filePath(QStringLiteral("empty.sqlite")), .modelPath = {} });
    place(window);
    QCOMPARE(window.readerArea(), static_cast<QWidget *>(window.firstRun()));
    grab(window, QStringLiteral("start"));
}

QTEST_MAIN(TestScreenshot)
#include "tst_screenshot.moc"
