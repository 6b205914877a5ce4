// Rendered page viewer (offscreen): a generated Courier PDF (app/text_pdf: every character 6 pt
// wide, baselines at 70 + 12·line points from the top of a 612×792 page), ingested into a
// temporary library. Where the words sit is worked out from that layout, not from the viewer.
#include "ingest/ingestor.h"
#include "scratch_settings.h"
#include "store/library_store.h"
#include "tests/ingest/pdf_fixtures.h"
#include "ui/chat_dock.h"
#include "ui/library_view.h"
#include "ui/main_window.h"
#include "ui/page_canvas.h"
#include "ui/page_render_cache.h"
#include "ui/page_renderer.h"
#include "ui/page_text_view.h"
#include "ui/page_viewer.h"
#include "ui/search_view.h"
#include "ui/thumbnail_strip.h"
#include "ui_fixtures.h"

#include <QFile>
#include <QLineEdit>
#include <QListWidget>
#include <QScrollBar>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <memory>

using nw::ui::PageCanvas;
using nw::ui::PageViewer;
using nw::ui::RenderKey;

namespace {

constexpr int kPages = 40;
constexpr int kNeedlePage = 30;
constexpr double kPageWidth = 612; // Letter, points
constexpr double kPageHeight = 792;
constexpr double kLeft = 54; // TextPdfLayout defaults
constexpr double kAdvance = 6; // Courier 10 pt: 0.6 em
constexpr double kFirstBaseline = 70; // marginTop 60 + one font size
constexpr double kLeading = 12;

// Page 1's first two lines; the rest is filler, page kNeedlePage alone says "indemnification".
const QString kLine0 = QStringLiteral("alpha bravo needle charlie");
const QString kLine1 = QStringLiteral("delta echo foxtrot");

QString documentText()
{
    QString text = kLine0 + QLatin1Char('\n') + kLine1 + QLatin1Char('\n');
    for (int page = 2; page <= kPages; ++page) {
        text += QLatin1Char('\f');
        text += QStringLiteral("Page %1 holds ordinary filler about delivery terms.\n").arg(page);
        if (page == kNeedlePage)
            text += QStringLiteral("The supplier owes indemnification for flood losses.\n");
    }
    return text;
}

// The box of characters [column, column + length) of a line, in points (layout arithmetic).
QRectF layoutBox(int line, int column, int length)
{
    const double baseline = kFirstBaseline + kLeading * line;
    return { kLeft + kAdvance * column, baseline - 6, kAdvance * length, 7 };
}

bool isTinted(QRgb pixel, QColor colour)
{
    // White multiplied by the colour gives the colour; glyph pixels get darker, never whiter.
    // A channel the colour lacks (blue of yellow) drops far below what white or grey has.
    const int r = qRed(pixel), g = qGreen(pixel), b = qBlue(pixel);
    if (colour.blue() < 50)
        return r > 150 && b < 60;
    return b > 150 && r < 190 && r < b - 40 && g < b;
}

// Pixels of `area` (viewport pixels) that carry `colour`'s tint.
int tintedPixels(const QImage &image, const QRect &area, QColor colour)
{
    int n = 0;
    for (int y = area.top(); y <= area.bottom(); ++y)
        for (int x = area.left(); x <= area.right(); ++x)
            if (image.rect().contains(x, y) && isTinted(image.pixel(x, y), colour))
                ++n;
    return n;
}

// Pixels of `area` darker than `grey` (text; small text is antialiased to light greys).
int darkPixels(const QImage &image, const QRect &area, int grey = 100)
{
    int n = 0;
    for (int y = area.top(); y <= area.bottom(); ++y)
        for (int x = area.left(); x <= area.right(); ++x)
            if (image.rect().contains(x, y) && qGray(image.pixel(x, y)) < grey)
                ++n;
    return n;
}

} // namespace

class TestPageView : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void cacheEvictsLeastRecentlyUsedPastItsBound_data();
    void cacheEvictsLeastRecentlyUsedPastItsBound();
    void opensWithPlaceholdersOfPageSize();
    void onlyVisiblePagesAreRendered();
    void zoomChangesPixelSize();
    void fitWidthAndFitPageMatchTheViewport();
    void searchHitIsDrawnAtItsWordBox();
    void citedPassageIsDrawnAtItsWordBoxes();
    void thumbnailsShowEveryPage();
    void draggingSelectsWords();
    void scrollingKeepsTheEventLoopTurning();
    void textDocumentsAreRefused();
    void pageBoxShowsAndTakesPrintedLabels();
    void windowOpensSearchHitsAndCitationsInTheRenderedView();

private:
    std::unique_ptr<PageViewer> makeViewer(QSize size = { 900, 700 });
    QTemporaryDir m_dir;
    QString m_database;
    std::unique_ptr<nw::store::LibraryStore> m_store;
    std::shared_ptr<nw::app::Workbench> m_workbench; // what the window hands its views
    qint64 m_documentId = 0;
    qint64 m_textDocumentId = 0;
};

void TestPageView::initTestCase()
{
    QVERIFY(m_dir.isValid());
    nw::test::useScratchSettings(m_dir.filePath(QStringLiteral("settings")), QStringLiteral("tst_page_view"));
    const QString pdf = m_dir.filePath(QStringLiteral("terms.pdf"));
    QVERIFY(nw::test::writeCourierPdf(pdf, QStringLiteral("Terms"), documentText()));
    const QString txt = m_dir.filePath(QStringLiteral("notes.txt"));
    QFile notes(txt);
    QVERIFY(notes.open(QIODevice::WriteOnly));
    notes.write("plain notes without pages to draw\n");
    notes.close();

    m_database = m_dir.filePath(QStringLiteral("library.sqlite"));
    m_store = std::make_unique<nw::store::LibraryStore>(m_database);
    nw::ingest::Ingestor ingestor(*m_store);
    QCOMPARE(ingestor.run({ pdf, txt }).added, 2);
    for (const nw::store::DocumentInfo &doc : m_store->documents()) {
        if (doc.kind == QLatin1String("pdf"))
            m_documentId = doc.id;
        else
            m_textDocumentId = doc.id;
    }
    QVERIFY(m_documentId > 0 && m_textDocumentId > 0);
    QCOMPARE(m_store->requireDocument(m_documentId).pageCount, kPages);
    m_workbench = std::make_shared<nw::app::Workbench>(m_database);
}

std::unique_ptr<PageViewer> TestPageView::makeViewer(QSize size)
{
    auto viewer = std::make_unique<PageViewer>();
    viewer->resize(size);
    viewer->setWorkbench(m_workbench);
    viewer->show();
    if (!QTest::qWaitForWindowActive(viewer.get())) // shortcuts need the active window
        return nullptr;
    return viewer;
}

void TestPageView::cacheEvictsLeastRecentlyUsedPastItsBound_data()
{
    QTest::addColumn<bool>("touchFirst");
    QTest::addColumn<QList<int>>("kept");
    // Three 100×100 ARGB32 images (40 000 bytes each) under a 100 000-byte bound: two fit.
    QTest::addRow("oldest goes") << false << QList<int> { 1, 2 };
    QTest::addRow("used again stays") << true << QList<int> { 0, 2 };
}

void TestPageView::cacheEvictsLeastRecentlyUsedPastItsBound()
{
    QFETCH(bool, touchFirst);
    QFETCH(QList<int>, kept);
    nw::ui::PageRenderCache cache(100'000);
    QImage image(100, 100, QImage::Format_ARGB32);
    image.fill(Qt::white);
    QCOMPARE(image.sizeInBytes(), qsizetype(40'000));
    const auto key = [](int page) { return RenderKey { QStringLiteral("doc"), page, RenderKey::toMilliDpi(72) }; };
    QVERIFY(cache.insert(key(0), image));
    QVERIFY(cache.insert(key(1), image));
    QCOMPARE(cache.bytes(), qint64(80'000));
    if (touchFirst)
        QVERIFY(cache.find(key(0)) != nullptr);
    QVERIFY(cache.insert(key(2), image));
    QCOMPARE(cache.count(), 2);
    QCOMPARE(cache.bytes(), qint64(80'000));
    for (int page = 0; page < 3; ++page)
        QCOMPARE(cache.contains(key(page)), kept.contains(page));
    // Same page at another zoom is another entry; an image over the whole bound is not kept.
    QVERIFY(!cache.contains({ QStringLiteral("doc"), 2, RenderKey::toMilliDpi(144) }));
    QVERIFY(!cache.insert(key(3), QImage(200, 200, QImage::Format_ARGB32)));
    QCOMPARE(cache.count(), 2);
    cache.setByteLimit(50'000);
    QCOMPARE(cache.count(), 1);
    QVERIFY(cache.contains(key(2)));
}

void TestPageView::opensWithPlaceholdersOfPageSize()
{
    auto viewer = makeViewer();
    QVERIFY(viewer);
    PageCanvas *canvas = viewer->canvas();
    QVERIFY(viewer->showDocument(m_documentId));
    QCOMPARE(viewer->pageCount(), kPages);
    QCOMPARE(viewer->pageNumber(), 1);
    // Nothing is drawn on the GUI thread: right after opening, page 1 is still a placeholder...
    QVERIFY(!canvas->isRendered(0));
    QCOMPARE(canvas->zoom(), 1.0);
    for (int i = 0; i < kPages; ++i)
        QCOMPARE(canvas->pageRect(i).size(), QSize(612, 792));
    QCOMPARE(canvas->pageRect(1).top() - canvas->pageRect(0).bottom() - 1, PageCanvas::kSpacing);
    QCOMPARE(canvas->verticalScrollBar()->maximum() + canvas->viewport()->height(),
        2 * PageCanvas::kMargin + kPages * 792 + (kPages - 1) * PageCanvas::kSpacing);
    const QImage placeholder = canvas->viewport()->grab().toImage();
    const QRect firstLine = canvas->toViewport(0, layoutBox(0, 0, kLine0.size())).toAlignedRect();
    QCOMPARE(darkPixels(placeholder, firstLine), 0);
    // ...and the rendered page arrives from the worker with the words where the layout puts them.
    QTRY_VERIFY_WITH_TIMEOUT(canvas->isRendered(0), 10000);
    const QImage rendered = canvas->viewport()->grab().toImage();
    QVERIFY(darkPixels(rendered, firstLine) > 50);
    const QRect blankBelow = canvas->toViewport(0, layoutBox(4, 0, kLine0.size())).toAlignedRect();
    QCOMPARE(darkPixels(rendered, blankBelow), 0);
}

void TestPageView::onlyVisiblePagesAreRendered()
{
    auto viewer = makeViewer();
    QVERIFY(viewer);
    PageCanvas *canvas = viewer->canvas();
    QVERIFY(viewer->showDocument(m_documentId));
    QTRY_VERIFY_WITH_TIMEOUT(canvas->isRendered(0), 10000);
    QTRY_VERIFY_WITH_TIMEOUT(viewer->renderer()->runningCount() == 0 && viewer->renderer()->queuedCount() == 0, 10000);
    const QList<int> visible = canvas->visiblePages();
    QCOMPARE(visible, QList<int> { 0 });
    // The visible page and one ahead; nothing further down.
    for (int i = 0; i < kPages; ++i)
        QCOMPARE(canvas->isRendered(i), i <= 1);

    viewer->goToPage(kPages);
    QCOMPARE(viewer->pageNumber(), kPages);
    QVERIFY(!canvas->isRendered(kPages - 1));
    QTRY_VERIFY_WITH_TIMEOUT(canvas->isRendered(kPages - 1), 10000);
    QVERIFY(!canvas->isRendered(kPages / 2));
}

void TestPageView::zoomChangesPixelSize()
{
    auto viewer = makeViewer();
    QVERIFY(viewer);
    PageCanvas *canvas = viewer->canvas();
    QVERIFY(viewer->showDocument(m_documentId));
    QSignalSpy zoomed(canvas, &PageCanvas::zoomChanged);
    canvas->setZoom(2.0);
    QCOMPARE(zoomed.count(), 1);
    QCOMPARE(canvas->pageRect(0).size(), QSize(1224, 1584));
    QTRY_VERIFY_WITH_TIMEOUT(canvas->isRendered(0), 10000);
    const double dpr = canvas->devicePixelRatioF();
    const QImage *image = viewer->cache()->find({ canvas->documentKey(), 0, RenderKey::toMilliDpi(144 * dpr) });
    QVERIFY(image != nullptr);
    QCOMPARE(image->size(), QSize(qRound(1224 * dpr), qRound(1584 * dpr)));

    // Keyboard: Ctrl++ and Ctrl+- step by 1.25, Ctrl+0 fits the width, Ctrl+9 the page.
    canvas->setFocus();
    QTest::keyClick(canvas, Qt::Key_Plus, Qt::ControlModifier);
    QCOMPARE(canvas->zoom(), 2.5);
    QCOMPARE(canvas->pageRect(0).width(), 1530);
    QTest::keyClick(canvas, Qt::Key_Minus, Qt::ControlModifier);
    QCOMPARE(canvas->zoom(), 2.0);
    QTest::keyClick(canvas, Qt::Key_0, Qt::ControlModifier);
    QCOMPARE(canvas->zoomMode(), nw::ui::ZoomMode::FitWidth);
    QTest::keyClick(canvas, Qt::Key_9, Qt::ControlModifier);
    QCOMPARE(canvas->zoomMode(), nw::ui::ZoomMode::FitPage);
}

void TestPageView::fitWidthAndFitPageMatchTheViewport()
{
    auto viewer = makeViewer({ 900, 700 });
    QVERIFY(viewer);
    PageCanvas *canvas = viewer->canvas();
    QVERIFY(viewer->showDocument(m_documentId));
    viewer->fitWidth();
    const int room = canvas->viewport()->width() - 2 * PageCanvas::kMargin;
    QCOMPARE(canvas->pageRect(0).width(), room);
    QCOMPARE(canvas->zoom(), room / kPageWidth);
    QCOMPARE(canvas->horizontalScrollBar()->maximum(), 0);
    // It follows the window.
    viewer->resize(1200, 700);
    QTRY_COMPARE(canvas->pageRect(0).width(), canvas->viewport()->width() - 2 * PageCanvas::kMargin);
    QVERIFY(canvas->pageRect(0).width() > room);

    viewer->fitPage();
    const QSize view = canvas->viewport()->size() - QSize(2 * PageCanvas::kMargin, 2 * PageCanvas::kMargin);
    const QRect page = canvas->pageRect(0);
    QVERIFY(page.width() <= view.width() && page.height() <= view.height());
    // The page is taller than wide and the viewport wider than tall: the height is the limit.
    QCOMPARE(page.height(), view.height());
    QCOMPARE(page.width(), qRound(view.height() * kPageWidth / kPageHeight));
}

void TestPageView::searchHitIsDrawnAtItsWordBox()
{
    auto viewer = makeViewer();
    QVERIFY(viewer);
    PageCanvas *canvas = viewer->canvas();
    QVERIFY(viewer->showDocument(m_documentId));
    canvas->setZoom(2.0);
    QVERIFY(viewer->showPage(m_documentId, 1, { QStringLiteral("NEEDLE") }));
    QCOMPARE(viewer->highlightedTexts(), QStringList { QStringLiteral("needle") });
    QCOMPARE(viewer->pageNumber(), 1);
    QTRY_VERIFY_WITH_TIMEOUT(canvas->isRendered(0), 10000);
    const QImage image = canvas->viewport()->grab().toImage();
    const QColor yellow = PageCanvas::highlightColor(nw::ui::HighlightKind::SearchHit);
    // "needle" is characters 12..17 of line 0; "alpha" 0..4 and "charlie" 19..25 are not hit.
    const QRect needle = canvas->toViewport(0, layoutBox(0, 12, 6)).toAlignedRect();
    const QRect alpha = canvas->toViewport(0, layoutBox(0, 0, 5)).toAlignedRect();
    const QRect charlie = canvas->toViewport(0, layoutBox(0, 19, 7)).toAlignedRect();
    const int hit = tintedPixels(image, needle, yellow);
    QVERIFY2(hit > needle.width() * needle.height() / 3, qPrintable(QString::number(hit)));
    QVERIFY(darkPixels(image, needle) > 20); // the glyphs stay visible under the colour
    QCOMPARE(tintedPixels(image, alpha, yellow), 0);
    QCOMPARE(tintedPixels(image, charlie, yellow), 0);

    // Another page: the hit is gone from page 1.
    QVERIFY(viewer->showPage(m_documentId, kNeedlePage, { QStringLiteral("indemn") }));
    QCOMPARE(viewer->highlightedTexts(), QStringList { QStringLiteral("indemnification") });
    QCOMPARE(viewer->pageNumber(), kNeedlePage);
    QVERIFY(canvas->highlights(0, nw::ui::HighlightKind::SearchHit).isEmpty());
    QVERIFY(!viewer->showPage(m_documentId, kPages + 1));
}

void TestPageView::citedPassageIsDrawnAtItsWordBoxes()
{
    auto viewer = makeViewer();
    QVERIFY(viewer);
    PageCanvas *canvas = viewer->canvas();
    QVERIFY(viewer->showDocument(m_documentId));
    canvas->setZoom(2.0);
    const QString text = m_store->requirePage(m_documentId, 1).text;
    const int start = static_cast<int>(text.indexOf(QStringLiteral("echo fox")));
    QVERIFY(start > 0);
    QVERIFY(viewer->showPassage(m_documentId, 1, start, 8)); // "echo fox": two words, the second in part
    QCOMPARE(viewer->highlightedTexts(), (QStringList { QStringLiteral("echo"), QStringLiteral("foxtrot") }));
    QTRY_VERIFY_WITH_TIMEOUT(canvas->isRendered(0), 10000);
    const QImage image = canvas->viewport()->grab().toImage();
    const QColor blue = PageCanvas::highlightColor(nw::ui::HighlightKind::Citation);
    const QRect echo = canvas->toViewport(0, layoutBox(1, 6, 4)).toAlignedRect();
    const QRect delta = canvas->toViewport(0, layoutBox(1, 0, 5)).toAlignedRect();
    QVERIFY(tintedPixels(image, echo, blue) > echo.width() * echo.height() / 3);
    QCOMPARE(tintedPixels(image, delta, blue), 0);
}

void TestPageView::thumbnailsShowEveryPage()
{
    auto viewer = makeViewer();
    QVERIFY(viewer);
    QVERIFY(viewer->showDocument(m_documentId));
    nw::ui::ThumbnailStrip *strip = viewer->thumbnails();
    QCOMPARE(strip->count(), kPages);
    QCOMPARE(strip->item(0)->text(), QStringLiteral("1"));
    QTRY_VERIFY_WITH_TIMEOUT(strip->isRendered(0), 10000);
    const QPixmap pixmap = strip->item(0)->icon().pixmap(strip->iconSize());
    QCOMPARE(pixmap.width(), nw::ui::ThumbnailStrip::kThumbnailWidth);
    QCOMPARE(pixmap.height(), qRound(nw::ui::ThumbnailStrip::kThumbnailWidth * kPageHeight / kPageWidth));
    QVERIFY(darkPixels(pixmap.toImage(), pixmap.rect(), 230) > 0); // the text, small and grey
    QVERIFY(!strip->isRendered(kPages - 1)); // far out of view

    // Clicking a thumbnail shows its page; scrolling the pages follows in the strip.
    strip->setCurrentRow(4);
    QCOMPARE(viewer->pageNumber(), 5);
    viewer->goToPage(12);
    QCOMPARE(strip->currentRow(), 11);
}

void TestPageView::draggingSelectsWords()
{
    auto viewer = makeViewer();
    QVERIFY(viewer);
    PageCanvas *canvas = viewer->canvas();
    QVERIFY(viewer->showDocument(m_documentId));
    canvas->setZoom(2.0);
    viewer->goToPage(1);
    QSignalSpy selected(viewer.get(), &PageViewer::selectionChanged);
    const QString text = m_store->requirePage(m_documentId, 1).text;
    auto drag = [&](const QRectF &points) {
        const QPoint from = canvas->toViewport(0, points.topLeft()).toPoint();
        const QPoint to = canvas->toViewport(0, points.bottomRight()).toPoint();
        QTest::mousePress(canvas->viewport(), Qt::LeftButton, {}, from);
        QTest::mouseMove(canvas->viewport(), (from + to) / 2);
        QTest::mouseMove(canvas->viewport(), to);
        QTest::mouseRelease(canvas->viewport(), Qt::LeftButton, {}, to);
    };
    auto words = [&](const QList<nw::store::WordBox> &boxes) {
        QStringList out;
        for (const nw::store::WordBox &w : boxes)
            out << text.mid(w.offset, w.length);
        return out;
    };

    // Over "bravo needle" of line 0 (characters 6..17).
    drag(layoutBox(0, 6, 12).adjusted(1, 1, -1, -1));
    QCOMPARE(selected.count(), 1);
    QCOMPARE(selected.at(0).at(0).toLongLong(), m_documentId);
    QCOMPARE(selected.at(0).at(1).toInt(), 1);
    QCOMPARE(words(selected.at(0).at(2).value<QList<nw::store::WordBox>>()),
        (QStringList { QStringLiteral("bravo"), QStringLiteral("needle") }));
    QCOMPARE(selected.at(0).at(3).toString(), QStringLiteral("bravo needle"));
    QCOMPARE(viewer->selectedText(), QStringLiteral("bravo needle"));
    QCOMPARE(canvas->highlights(0, nw::ui::HighlightKind::Selection).size(), 2);

    // Across two lines, characters 12..25: "needle charlie" above, "foxtrot" (11..17) below.
    const QRectF first = layoutBox(0, 12, 14), second = layoutBox(1, 12, 14);
    drag(first.united(second).adjusted(1, 1, -1, -1));
    QCOMPARE(selected.count(), 2);
    QCOMPARE(selected.at(1).at(3).toString(), QStringLiteral("needle charlie\nfoxtrot"));
    QCOMPARE(viewer->selectedWords().size(), 3);

    // A click clears it.
    const QPoint inside = canvas->toViewport(0, QPointF(300, 200)).toPoint(); // blank paper
    QTest::mouseClick(canvas->viewport(), Qt::LeftButton, {}, inside);
    QCOMPARE(selected.count(), 3);
    QVERIFY(selected.at(2).at(2).value<QList<nw::store::WordBox>>().isEmpty());
    QVERIFY(viewer->selectedText().isEmpty());
    QVERIFY(canvas->highlights(0, nw::ui::HighlightKind::Selection).isEmpty());
}

void TestPageView::scrollingKeepsTheEventLoopTurning()
{
    auto viewer = makeViewer({ 1000, 800 });
    QVERIFY(viewer);
    PageCanvas *canvas = viewer->canvas();
    // 3× zoom: each page is 1836×2376 pixels, ~17 MB; 64 MB holds three of them.
    constexpr qint64 kBound = 64ll << 20;
    viewer->cache()->setByteLimit(kBound);
    QVERIFY(viewer->showDocument(m_documentId));
    canvas->setZoom(3.0);

    // Wall and GUI-thread CPU gaps between ticks of a 10 ms timer.
    nw::test::EventLoopGaps gaps;
    QScrollBar *bar = canvas->verticalScrollBar();
    QTimer scroller;
    scroller.setInterval(40);
    connect(&scroller, &QTimer::timeout, [&] { bar->setValue(bar->value() + canvas->viewport()->height() / 2); });
    gaps.start();
    scroller.start();
    QTRY_VERIFY_WITH_TIMEOUT(bar->value() == bar->maximum(), 60000);
    scroller.stop();
    QTRY_VERIFY_WITH_TIMEOUT(canvas->isRendered(kPages - 1), 20000);
    gaps.stop();
    const double maxCpuGap = gaps.maxCpuMs();
    const int finished = viewer->renderer()->finishedCount();
    qInfo("scrolled %d pages at 3x in %lld ms, %d renders; max event-loop gap %lld ms wall, %.1f ms of GUI-thread "
          "CPU; cache %lld bytes in %d images",
        kPages, gaps.elapsedMs(), finished, gaps.maxWallMs(), maxCpuGap, viewer->cache()->bytes(),
        viewer->cache()->count());
    QVERIFY2(maxCpuGap < 100, qPrintable(QStringLiteral("the GUI thread worked %1 ms in one go").arg(maxCpuGap)));
    QVERIFY(viewer->cache()->bytes() <= kBound);
    QVERIFY(viewer->cache()->count() < kPages);
    QCOMPARE(viewer->pageNumber(), kPages);
}

void TestPageView::textDocumentsAreRefused()
{
    auto viewer = makeViewer();
    QVERIFY(viewer);
    QVERIFY(!viewer->showDocument(m_textDocumentId));
    QVERIFY(viewer->errorString().contains(QStringLiteral("not a PDF")));
    QVERIFY(!viewer->showDocument(987654));
    QCOMPARE(viewer->pageCount(), 0);
}

// The page box names a page as it is printed, with the file's page beside it where they differ,
// takes a label or #N, and refuses a page the document does not have (the view stays put).
void TestPageView::pageBoxShowsAndTakesPrintedLabels()
{
    const QString pdf = m_dir.filePath(QStringLiteral("labelled.pdf"));
    QVERIFY(nw::test::writeBytes(pdf,
        nw::test::handWrittenPdf(
            { "Cover", "Contents", "One", "Two", "Three" }, "/PageLabels << /Nums [0 << /S /r >> 2 << /S /D >>] >>")));
    qint64 labelled = 0;
    {
        nw::store::LibraryStore store(m_database);
        nw::ingest::Ingestor ingestor(store);
        const nw::ingest::IngestSummary summary = ingestor.run({ pdf });
        QCOMPARE(summary.added, 1);
        labelled = summary.files.front().documentId;
    }
    auto viewer = makeViewer();
    QVERIFY(viewer);
    QVERIFY(viewer->showPage(labelled, 4));
    QCOMPARE(viewer->pageBox()->text(), QStringLiteral("2"));
    QCOMPARE(viewer->pageBoxCaption(), QStringLiteral("(4 of 5)"));
    QCOMPARE(viewer->pageLabel(1), QStringLiteral("i"));
    QCOMPARE(viewer->thumbnails()->item(1)->text(), QStringLiteral("ii"));
    QVERIFY(viewer->goToPageText(QStringLiteral("ii")));
    QCOMPARE(viewer->pageNumber(), 2);
    QCOMPARE(viewer->pageBox()->text(), QStringLiteral("ii"));
    QVERIFY(viewer->goToPageText(QStringLiteral("#5")));
    QCOMPARE(viewer->pageNumber(), 5);
    QCOMPARE(viewer->pageBox()->text(), QStringLiteral("3"));
    // Typed into the box: Return goes there.
    viewer->pageBox()->setText(QStringLiteral("1"));
    QTest::keyClick(viewer->pageBox(), Qt::Key_Return);
    QCOMPARE(viewer->pageNumber(), 3);
    for (const QString &bad :
        { QStringLiteral("4"), QStringLiteral("999"), QStringLiteral("#0"), QStringLiteral("iv") }) {
        QVERIFY(!viewer->goToPageText(bad));
        QCOMPARE(viewer->pageNumber(), 3);
        QVERIFY2(
            viewer->errorString().contains(QStringLiteral("5 pages (i–ii, 1–3)")), qPrintable(viewer->errorString()));
    }
    // A document without labels: plain numbers, "of N".
    QVERIFY(viewer->showPage(m_documentId, 2));
    QCOMPARE(viewer->pageBox()->text(), QStringLiteral("2"));
    QCOMPARE(viewer->pageBoxCaption(), QStringLiteral("of %1").arg(kPages));
}

void TestPageView::windowOpensSearchHitsAndCitationsInTheRenderedView()
{
    nw::ui::MainWindow window({ .databasePath = m_database, .modelPath = {} });
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    PageViewer *viewer = window.pageViewer();
    QVERIFY(viewer != nullptr);

    nw::ui::LibraryView *library = window.library();
    window.search()->search(QStringLiteral("indemnification"));
    QListWidget *results = window.search()->resultList();
    QCOMPARE(results->count(), 1);
    QTest::mouseClick(results->viewport(), Qt::LeftButton, {}, results->visualItemRect(results->item(0)).center());
    QVERIFY(viewer->isVisible());
    QCOMPARE(viewer->documentId(), m_documentId);
    QCOMPARE(viewer->pageNumber(), kNeedlePage);
    QCOMPARE(viewer->highlightedTexts(), QStringList { QStringLiteral("indemnification") });

    // A citation chip's signal: the cited words on their page.
    const QString text = m_store->requirePage(m_documentId, 1).text;
    emit window.chat()->citationActivated(m_documentId, 1, static_cast<int>(text.indexOf(QStringLiteral("bravo"))), 5);
    QCOMPARE(viewer->pageNumber(), 1);
    QCOMPARE(viewer->highlightedTexts(), QStringList { QStringLiteral("bravo") });

    // A text document falls back to the page text view.
    emit library->pageRequested(m_textDocumentId, 1, { QStringLiteral("notes") });
    QVERIFY(!viewer->isVisible());
    QVERIFY(window.pageView()->isVisible());
    QCOMPARE(window.pageView()->documentId(), m_textDocumentId);
}

QTEST_MAIN(TestPageView)
#include "tst_page_view.moc"
