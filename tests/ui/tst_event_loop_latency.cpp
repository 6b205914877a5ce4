// The event loop keeps turning while long work runs (offscreen): a 10 ms timer ticks while an
// ingest of generated PDFs runs through the Library's drop action, while pages render at 3× as
// the viewer scrolls, and while the chat answers with the conformance set's stories260K (model
// load included). Between ticks two gaps are measured: wall time (what the user sees) and the
// GUI thread's own CPU time (the work it did in one go). The wall gap must stay ≤ 100 ms; when the
// machine is loaded (1-minute load average above the cores) waiting for a core is not the
// window's doing, so the wall gap is printed and the CPU gap (< 100 ms) is what is asserted.
#include "store/library_store.h"
#include "ui/chat_dock.h"
#include "ui/library_view.h"
#include "ui/main_window.h"
#include "ui/page_canvas.h"
#include "ui/page_viewer.h"
#include "scratch_settings.h"
#include "ui_fixtures.h"

#include <QDir>
#include <QDropEvent>
#include <QLineEdit>
#include <QMimeData>
#include <QScrollBar>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <QTimer>
#include <QUrl>

#include <algorithm>
#include <cstdlib>

namespace {

constexpr int kFiles = 16;
constexpr int kPagesPerFile = 24;

QString documentText(int file)
{
    QString text;
    for (int page = 1; page <= kPagesPerFile; ++page) {
        if (page > 1)
            text += QLatin1Char('\f');
        for (int line = 0; line < 40; ++line)
            text += QStringLiteral("File %1 page %2 line %3: the lessee shall keep the premises in repair.\n")
                        .arg(file)
                        .arg(page)
                        .arg(line);
    }
    return text;
}

} // namespace

class TestEventLoopLatency : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void duringIngestThroughTheDropAction();
    void whilePagesRender();
    void whileTheChatAnswersWithAModel();

private:
    QTemporaryDir m_dir;
    QString m_folder;   // the generated PDFs
    QString m_database; // the same PDFs, ingested before the test for the viewer and the chat
};

void TestEventLoopLatency::initTestCase()
{
    QVERIFY(m_dir.isValid());
    nw::test::useScratchSettings(m_dir.filePath(QStringLiteral("settings")), QStringLiteral("tst_event_loop_latency"));
    m_folder = m_dir.filePath(QStringLiteral("pdfs"));
    QVERIFY(QDir().mkpath(m_folder));
    for (int file = 1; file <= kFiles; ++file)
        QVERIFY(nw::test::writeCourierPdf(m_folder + QStringLiteral("/lease-%1.pdf").arg(file, 2, 10, QLatin1Char('0')),
                                          QStringLiteral("Lease %1").arg(file), documentText(file)));
    m_database = m_dir.filePath(QStringLiteral("library.sqlite"));
    QCOMPARE(nw::test::ingestInto(m_database, {m_folder}), kFiles);
}

void TestEventLoopLatency::duringIngestThroughTheDropAction()
{
    nw::ui::MainWindow window({.databasePath = m_dir.filePath(QStringLiteral("dropped.sqlite")), .modelPath = {}});
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    nw::ui::LibraryView *library = window.library();
    QSignalSpy finished(library, &nw::ui::LibraryView::ingestFinished);

    nw::test::LatencyProbe probe;
    probe.start();
    // The folder dropped on the Library, as from a file manager.
    QMimeData mime;
    mime.setUrls({QUrl::fromLocalFile(m_folder)});
    QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QCoreApplication::sendEvent(library, &enter);
    QVERIFY(enter.isAccepted());
    QDropEvent drop(QPointF(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QCoreApplication::sendEvent(library, &drop);
    QVERIFY(drop.isAccepted());
    QVERIFY(finished.wait(180000));
    probe.stop();
    QCOMPARE(finished.first().at(0).toInt(), kFiles);
    QCOMPARE(finished.first().at(1).toInt(), 0);
    QVERIFY(probe.check("ingest of 16 PDFs x 24 pages"));
}

void TestEventLoopLatency::whilePagesRender()
{
    nw::ui::MainWindow window({.databasePath = m_database, .modelPath = {}});
    window.resize(1280, 900);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    nw::store::LibraryStore store(m_database);
    const qint64 document = store.documents().front().id;
    nw::ui::PageViewer *viewer = window.pageViewer();
    QVERIFY(viewer->showPage(document, 1));
    nw::ui::PageCanvas *canvas = viewer->canvas();

    nw::test::LatencyProbe probe;
    probe.start();
    canvas->setZoom(3.0);
    QScrollBar *bar = canvas->verticalScrollBar();
    QTimer scroller;
    scroller.setInterval(40);
    QObject::connect(&scroller, &QTimer::timeout, [&] { bar->setValue(bar->value() + canvas->viewport()->height() / 2); });
    scroller.start();
    QTRY_VERIFY_WITH_TIMEOUT(bar->value() == bar->maximum(), 60000);
    scroller.stop();
    QTRY_VERIFY_WITH_TIMEOUT(canvas->isRendered(kPagesPerFile - 1), 30000);
    probe.stop();
    QCOMPARE(viewer->pageNumber(), kPagesPerFile);
    QVERIFY(probe.check("rendering 24 pages at 3x while scrolling"));
}

void TestEventLoopLatency::whileTheChatAnswersWithAModel()
{
    const QString model = nw::test::findStories260K();
    if (model.isEmpty())
        QSKIP(qPrintable(QStringLiteral("no conformance model at %1").arg(nw::test::stories260KPath())));
    nw::ui::MainWindow window({.databasePath = m_database, .modelPath = model}); // the default context, as app/main.cpp
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    nw::ui::ChatDock *chat = window.chat();
    QSignalSpy finished(chat, &nw::ui::ChatDock::answerFinished);

    nw::test::LatencyProbe probe;
    probe.start();
    for (const QString &question : {QStringLiteral("Who keeps the premises in repair?"),
                                    QStringLiteral("What must the lessee keep in repair?")}) {
        finished.clear();
        chat->questionBox()->setText(question);
        QVERIFY(chat->ask());
        QVERIFY(finished.wait(120000));
        QVERIFY(finished.first().at(0).toBool());
    }
    probe.stop();
    QCOMPARE(chat->modelLoads(), 1);
    QVERIFY(chat->lastFigures().generatedTokens > 0);
    QVERIFY(probe.check("chat: model load and two answers with stories260K"));
}

QTEST_MAIN(TestEventLoopLatency)
#include "tst_event_loop_latency.moc"
