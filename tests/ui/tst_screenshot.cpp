// The README's screenshot, and the test that the window it shows can be set up (offscreen): a
// library (the demo's, or the bundled sample ingested here), a search done and its first hit open
// in the page view, a question answered (by a model when one is found, so the KV meter has the
// engine's figures), then QWidget::grab. scripts/screenshot.sh runs it with
//   NW_SCREENSHOT_DB=demo.sqlite NW_SCREENSHOT_MODEL=M.gguf NW_SCREENSHOT_OUT=docs/screenshot.png
// Without NW_SCREENSHOT_OUT the image goes to a temporary folder and is only checked.
#include "app/sample_corpus.h"
#include "ingest/ingestor.h"
#include "store/library_store.h"
#include "tests/support/conformance_qt.h"
#include "ui/chat_dock.h"
#include "ui/kv_meter.h"
#include "ui/library_view.h"
#include "ui/main_window.h"
#include "ui/page_text_view.h"
#include "ui/theme.h"

#include <QDockWidget>
#include <QFileInfo>
#include <QImage>
#include <QLineEdit>
#include <QListWidget>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <set>

class TestScreenshot : public QObject {
    Q_OBJECT
private slots:
    void windowWithSearchAnswerAndMeter();
};

void TestScreenshot::windowWithSearchAnswerAndMeter()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QCoreApplication::setOrganizationName(QStringLiteral("NeedleworkTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_screenshot"));
    QSettings::setDefaultFormat(QSettings::IniFormat);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, dir.filePath(QStringLiteral("settings")));
    nw::ui::applyTheme(nw::ui::Theme::Light); // the same picture whatever the desktop

    QString database = qEnvironmentVariable("NW_SCREENSHOT_DB");
    if (database.isEmpty()) {
        database = dir.filePath(QStringLiteral("library.sqlite"));
        nw::store::LibraryStore store(database);
        nw::ingest::Ingestor ingestor(store);
        const QStringList pdfs = nw::app::writeSamplePdfs(dir.filePath(QStringLiteral("sample")));
        QCOMPARE(ingestor.run(pdfs).added, static_cast<int>(pdfs.size()));
    }
    QVERIFY2(QFileInfo::exists(database), qPrintable(database));
    QString model = qEnvironmentVariable("NW_SCREENSHOT_MODEL");
    if (model.isEmpty())
        model = nw::test::findStories260K(); // empty when the conformance set is absent

    // 1024 tokens of context hold the instructions, a passage or two and the answer.
    nw::ui::MainWindow window({.databasePath = database, .modelPath = model, .contextTokens = model.isEmpty() ? 0 : 1024});
    window.resize(1280, 800);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));

    // A search, and its first result opened with the hits highlighted.
    nw::ui::LibraryView *library = window.library();
    library->searchBox()->setText(QStringLiteral("patent litigation"));
    library->search(QStringLiteral("patent litigation"));
    QTRY_VERIFY(library->resultList()->count() > 0);
    library->resultList()->setCurrentRow(0);
    emit library->resultList()->itemActivated(library->resultList()->item(0));
    QTRY_VERIFY(window.pageView()->documentId() > 0);
    QVERIFY(window.pageView()->highlightCount() > 0);

    // A question answered in the chat; with a model the meter ends on the engine's snapshot.
    QSignalSpy finished(window.chat(), &nw::ui::ChatDock::answerFinished);
    window.chat()->questionBox()->setText(QStringLiteral("What happens to my patent licenses if I start patent litigation?"));
    QVERIFY(window.chat()->ask());
    QVERIFY(finished.wait(180000));
    QVERIFY(!window.chat()->answerText().isEmpty());
    if (!model.isEmpty())
        QVERIFY(window.kvMeter()->lastSnapshot().kvBytesUsed > 0);
    QVERIFY(window.kvMeterDock()->isVisible());
    QTest::qWait(300); // let the chart and the docks finish their layout

    const QImage image = window.grab().toImage();
    QCOMPARE(image.size(), window.size() * window.devicePixelRatio());
    // Not a blank frame: a page of text, docks and a chart give many distinct colours.
    std::set<QRgb> colours;
    for (int y = 0; y < image.height(); y += 7)
        for (int x = 0; x < image.width(); x += 7)
            colours.insert(image.pixel(x, y));
    QVERIFY2(colours.size() > 20, qPrintable(QString::number(colours.size())));

    const QString out = qEnvironmentVariable("NW_SCREENSHOT_OUT", dir.filePath(QStringLiteral("screenshot.png")));
    QVERIFY(image.save(out, "PNG", 9));
    QVERIFY2(QFileInfo(out).size() < 300 * 1024, qPrintable(QString::number(QFileInfo(out).size())));
    qInfo("screenshot: %s (%lld bytes, model: %s)", qPrintable(out), QFileInfo(out).size(),
          model.isEmpty() ? "none" : qPrintable(QFileInfo(model).fileName()));
}

QTEST_MAIN(TestScreenshot)
#include "tst_screenshot.moc"
