// Annotations panel (offscreen): select words on a page of a generated PDF → Ctrl+Shift+H makes a
// highlight whose rectangles sit where the PDF's layout put those words (Courier 10 pt, 6 pt a
// character, 12 pt leading, margins 54/60: app/text_pdf.h); edit, filter by tag and document,
// jump to the page, export and re-read, delete; a text file's selection becomes a quoted note.
#include "app/annotation_service.h"
#include "app/text_pdf.h"
#include "ingest/ingestor.h"
#include "store/annotation_store.h"
#include "store/library_store.h"
#include "tests/support/fifo_reader.h"
#include "ui/annotations_panel.h"
#include "ui/main_window.h"
#include "ui/page_text_view.h"
#include "ui/page_viewer.h"

#include <QAction>
#include <QDockWidget>
#include <QFile>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTextBrowser>
#include <QTreeWidget>

namespace {

constexpr int kPages = 3;
constexpr int kLine = 4; // the line of page 2 that holds kSentence
const QString kSentence = QStringLiteral("The quick brown fox jumps over the lazy dog.");

// Page n: line i reads "Page n line i filler text."; page 2's line kLine is kSentence.
QString pageText(int page)
{
    QString text;
    for (int line = 0; line < 8; ++line)
        text += (page == 2 && line == kLine ? kSentence
                                            : QStringLiteral("Page %1 line %2 filler text.").arg(page).arg(line))
            + QLatin1Char('\n');
    return text;
}

bool writeFile(const QString &path, const QByteArray &data)
{
    QFile f(path);
    return f.open(QIODevice::WriteOnly) && f.write(data) == data.size();
}

} // namespace

class TestAnnotationsPanel : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void roundTrip();
    void textDocumentSelectionBecomesNote();
    void nothingSelectedMakesNothing();
    void savedAnnotationsAreDrawnOnThePage();

private:
    // Selects [start, start + length) of the page view's text as a user would with the mouse.
    static void selectInPageView(nw::ui::MainWindow &window, int start, int length);
    QTemporaryDir m_dir;
    QString m_database;
    qint64 m_pdf = 0;
    qint64 m_text = 0;
};

void TestAnnotationsPanel::initTestCase()
{
    QVERIFY(m_dir.isValid());
    QCoreApplication::setOrganizationName(QStringLiteral("NeedleworkTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_annotations_panel"));
    QSettings::setDefaultFormat(QSettings::IniFormat);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, m_dir.filePath(QStringLiteral("settings")));

    QString text;
    for (int page = 1; page <= kPages; ++page)
        text += (page > 1 ? QStringLiteral("\f") : QString()) + pageText(page);
    const QString pdf = m_dir.filePath(QStringLiteral("fox.pdf"));
    const QString txt = m_dir.filePath(QStringLiteral("notes.txt"));
    QVERIFY(writeFile(pdf, nw::app::renderTextPdf(QStringLiteral("Fox"), text)));
    QVERIFY(writeFile(txt, "A plain text file about the harbour master.\n"));
    m_database = m_dir.filePath(QStringLiteral("library.sqlite"));
    nw::store::LibraryStore store(m_database);
    nw::ingest::Ingestor ingestor(store);
    QCOMPARE(ingestor.run({ pdf, txt }).added, 2);
    for (const auto &doc : store.documents())
        (doc.kind == QLatin1String("pdf") ? m_pdf : m_text) = doc.id;
    QVERIFY(m_pdf > 0 && m_text > 0);
}

void TestAnnotationsPanel::selectInPageView(nw::ui::MainWindow &window, int start, int length)
{
    auto *browser = window.pageView()->findChild<QTextBrowser *>(QStringLiteral("PageText"));
    QVERIFY(browser);
    QTextCursor c(browser->document());
    c.setPosition(start);
    c.setPosition(start + length, QTextCursor::KeepAnchor);
    browser->setTextCursor(c);
}

void TestAnnotationsPanel::roundTrip()
{
    nw::ui::MainWindow window({ .databasePath = m_database, .modelPath = {} });
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    nw::ui::AnnotationsPanel *panel = window.annotations();
    QVERIFY(panel);
    QVERIFY(window.libraryTabs()->indexOf(panel) >= 0);
    window.showTab(panel);
    QVERIFY(panel->isVisible());

    // Page 2 through the library's signal path, then select "brown fox".
    QVERIFY(window.pageView()->showPage(m_pdf, 2));
    const QString page = window.pageView()->pageText();
    const qsizetype at = page.indexOf(QStringLiteral("brown fox"));
    QVERIFY2(at >= 0, qPrintable(page));
    selectInPageView(window, int(at), 9);
    QVERIFY(panel->hasSelection());

    auto *highlight = window.findChild<QAction *>(QStringLiteral("HighlightAction"));
    QVERIFY(highlight);
    QCOMPARE(highlight->shortcut(), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_H));
    QSignalSpy changed(panel, &nw::ui::AnnotationsPanel::annotationsChanged);
    highlight->trigger();
    QCOMPARE(changed.size(), 1);

    nw::store::LibraryStore store(m_database);
    nw::store::AnnotationStore annotations(store.database());
    std::vector<nw::store::Annotation> all = annotations.list();
    QCOMPARE(all.size(), std::size_t(1));
    nw::store::Annotation a = all.front();
    QCOMPARE(a.kind, QStringLiteral("highlight"));
    QCOMPARE(a.page, 2);
    QCOMPARE(a.quote, QStringLiteral("brown fox"));
    QCOMPARE(a.documentSha256, store.requireDocument(m_pdf).sha256);
    QCOMPARE(a.color, nw::ui::AnnotationsPanel::colors().front());
    // Two words, where the layout put them: "brown" at column 10, "fox" at column 16 of line kLine.
    QCOMPARE(a.rects.size(), std::size_t(2));
    const double x[] = { 54 + 10 * 6.0, 54 + 16 * 6.0 };
    const double w[] = { 5 * 6.0, 3 * 6.0 };
    for (int i = 0; i < 2; ++i) {
        const QRectF r = a.rects[std::size_t(i)];
        QVERIFY2(std::abs(r.left() - x[i]) < 1.0, qPrintable(QString::number(r.left())));
        QVERIFY2(std::abs(r.width() - w[i]) < 1.0, qPrintable(QString::number(r.width())));
        const double lineTop = 60 + kLine * 12.0;
        QVERIFY2(
            r.center().y() > lineTop && r.center().y() < lineTop + 12, qPrintable(QString::number(r.center().y())));
    }
    // Listed for this document.
    QCOMPARE(panel->shownAnnotations().size(), std::size_t(1));
    QCOMPARE(panel->list()->topLevelItemCount(), 1);
    QVERIFY(panel->list()->topLevelItem(0)->text(2).contains(QStringLiteral("brown fox")));
    QCOMPARE(panel->list()->topLevelItem(0)->text(1), QStringLiteral("2"));

    // Edit: note, tags, colour.
    QVERIFY(panel->updateAnnotation(a.id, QStringLiteral("check the fox"),
        { QStringLiteral("animals"), QStringLiteral("q3") }, QStringLiteral("#81c784")));
    a = *annotations.find(a.id);
    QCOMPARE(a.note, QStringLiteral("check the fox"));
    QCOMPARE(a.tags, (QStringList { QStringLiteral("animals"), QStringLiteral("q3") }));
    QCOMPARE(a.color, QStringLiteral("#81c784"));
    // The note leads the row, the quote follows: a note shows even in a narrow panel.
    QVERIFY2(panel->list()->topLevelItem(0)->text(2).startsWith(QStringLiteral("check the fox — \u201C")),
        qPrintable(panel->list()->topLevelItem(0)->text(2)));
    QVERIFY(panel->list()->topLevelItem(0)->text(2).contains(QStringLiteral("brown fox")));
    QCOMPARE(panel->list()->topLevelItem(0)->text(3), QStringLiteral("animals, q3"));

    // A note on page 3 of the same document, tagged differently.
    QVERIFY(window.pageView()->showPage(m_pdf, 3));
    panel->setCurrentPage(3);
    const qint64 noteId = panel->addNote(QStringLiteral("ask legal"), { QStringLiteral("legal") });
    QVERIFY(noteId > 0);
    QCOMPARE(annotations.find(noteId)->kind, QStringLiteral("note"));
    QCOMPARE(annotations.find(noteId)->page, 3);
    QCOMPARE(panel->shownAnnotations().size(), std::size_t(2));
    panel->setTagFilter(QStringLiteral("animals"));
    QCOMPARE(panel->shownAnnotations().size(), std::size_t(1));
    QCOMPARE(panel->shownAnnotations().front().id, a.id);
    panel->setTagFilter(QString());

    // Scope: the text document has none; all documents shows both.
    panel->setCurrentDocument(m_text);
    QCOMPARE(panel->shownAnnotations().size(), std::size_t(0));
    panel->setScope(nw::ui::AnnotationsPanel::Scope::AllDocuments);
    QCOMPARE(panel->shownAnnotations().size(), std::size_t(2));

    // Jump: activating the highlight's row shows page 2 with the quote highlighted.
    QVERIFY(window.pageView()->showPage(m_pdf, 1));
    QSignalSpy requested(panel, &nw::ui::AnnotationsPanel::pageRequested);
    panel->list()->setCurrentItem(panel->list()->topLevelItem(0));
    QCOMPARE(panel->list()->currentItem()->data(0, Qt::UserRole).toLongLong(), a.id);
    emit panel->list()->itemActivated(panel->list()->currentItem(), 0);
    QCOMPARE(requested.size(), 1);
    QCOMPARE(window.pageView()->documentId(), m_pdf);
    QCOMPARE(window.pageView()->pageNumber(), 2);
    QCOMPARE(window.pageView()->highlightedTexts(), QStringList { QStringLiteral("brown fox") });

    // Export what is shown, and read it back with the service's own parser.
    const QString json = m_dir.filePath(QStringLiteral("out.json"));
    QVERIFY(panel->exportToFile(json, nw::app::AnnotationFormat::Json));
    QFile f(json);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const auto back = nw::app::parseAnnotations(f.readAll(), nw::app::AnnotationFormat::Json);
    QCOMPARE(back.size(), std::size_t(2));
    QCOMPARE(back.front().quote, QStringLiteral("brown fox"));
    QCOMPARE(back.front().rects.size(), std::size_t(2));
    QCOMPARE(back.back().note, QStringLiteral("ask legal"));
    // A FIFO is written into and stays one; a full device is reported, not lost (app/output_file.h).
    nw::test::FifoReader fifo(m_dir.filePath(QStringLiteral("export.fifo")));
    QVERIFY(fifo.made());
    QVERIFY(panel->exportToFile(m_dir.filePath(QStringLiteral("export.fifo")), nw::app::AnnotationFormat::Json));
    f.seek(0);
    QCOMPARE(fifo.received(), f.readAll());
    QVERIFY(fifo.isFifo());
    QVERIFY(!panel->exportToFile(QStringLiteral("/dev/full"), nw::app::AnnotationFormat::Json));
    QVERIFY2(panel->message().contains(QStringLiteral("cannot write /dev/full")), qPrintable(panel->message()));
    const QByteArray markdown = panel->exportShown(nw::app::AnnotationFormat::Markdown);
    QVERIFY2(markdown.contains("brown fox") && markdown.contains("ask legal"), markdown.constData());

    // Delete both (the button acts on the current row).
    panel->list()->setCurrentItem(panel->list()->topLevelItem(0));
    window.findChild<QAbstractButton *>(QStringLiteral("DeleteAnnotationButton"))->click();
    QCOMPARE(annotations.list().size(), std::size_t(1));
    QVERIFY(panel->removeAnnotation(noteId));
    QVERIFY(!panel->removeAnnotation(noteId));
    QCOMPARE(annotations.list().size(), std::size_t(0));
    QCOMPARE(panel->list()->topLevelItemCount(), 0);
}

void TestAnnotationsPanel::textDocumentSelectionBecomesNote()
{
    nw::ui::MainWindow window({ .databasePath = m_database, .modelPath = {} });
    QVERIFY(window.pageView()->showPage(m_text, 1));
    const qsizetype at = window.pageView()->pageText().indexOf(QStringLiteral("harbour master"));
    QVERIFY(at >= 0);
    selectInPageView(window, int(at), 14);
    const qint64 id = window.annotations()->highlightSelection();
    QVERIFY2(id > 0, qPrintable(window.annotations()->message()));
    nw::store::LibraryStore store(m_database);
    const auto a = nw::store::AnnotationStore(store.database()).find(id);
    QVERIFY(a);
    QCOMPARE(a->kind, QStringLiteral("note"));
    QCOMPARE(a->quote, QStringLiteral("harbour master"));
    QVERIFY(a->rects.empty());
    QVERIFY(window.annotations()->removeAnnotation(id));
}

void TestAnnotationsPanel::nothingSelectedMakesNothing()
{
    nw::ui::MainWindow window({ .databasePath = m_database, .modelPath = {} });
    QVERIFY(window.pageView()->showPage(m_pdf, 1));
    QVERIFY(!window.annotations()->hasSelection());
    QCOMPARE(window.annotations()->highlightSelection(), 0);
    QVERIFY(!window.annotations()->message().isEmpty());
    nw::store::LibraryStore store(m_database);
    QCOMPARE(nw::store::AnnotationStore(store.database()).list().size(), std::size_t(0));
}

// A saved highlight is drawn on the rendered page in its own colour (multiplied onto the page,
// so white paper under it takes exactly that colour), follows an edit of the colour, and goes on
// delete. The rectangles come from the PDF layout: "brown" at column 10 of line kLine, 6 pt a
// character, 12 pt leading, margins 54/60 (app/text_pdf.h).
void TestAnnotationsPanel::savedAnnotationsAreDrawnOnThePage()
{
    {
        nw::store::LibraryStore store(m_database);
        nw::store::AnnotationStore annotations(store.database());
        for (const nw::store::Annotation &a : annotations.list())
            annotations.remove(a.id);
    }
    nw::ui::MainWindow window({ .databasePath = m_database, .modelPath = {} });
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    window.setReadingMode(true); // the page gets the window's width
    nw::ui::PageViewer *viewer = window.pageViewer();
    QVERIFY(viewer->showPage(m_pdf, 2));
    window.pageView()->showPage(m_pdf, 2);
    nw::ui::PageCanvas *canvas = viewer->canvas();
    canvas->setZoom(1.5);
    canvas->scrollToPage(1, 60 + kLine * 12.0);
    QTRY_VERIFY_WITH_TIMEOUT(canvas->isRendered(1), 10000);

    const auto whitePixels = [](const QImage &image, const QRect &area) {
        QList<QPoint> out;
        for (int y = area.top(); y <= area.bottom(); ++y)
            for (int x = area.left(); x <= area.right(); ++x)
                if (image.rect().contains(x, y) && (image.pixel(x, y) & 0xffffff) == 0xffffff)
                    out << QPoint(x, y);
        return out;
    };
    const auto grab = [canvas] { return canvas->viewport()->grab().toImage().convertToFormat(QImage::Format_RGB32); };
    const auto countColoured = [](const QImage &image, const QList<QPoint> &points, const QColor &colour) {
        int n = 0;
        for (const QPoint &p : points)
            n += QColor(image.pixel(p)) == colour;
        return int(n);
    };
    const QImage before = grab();

    const QString chosen = nw::ui::AnnotationsPanel::colors().at(1);
    nw::ui::AnnotationsPanel *panel = window.annotations();
    const QString page = window.pageView()->pageText();
    const qsizetype at = page.indexOf(QStringLiteral("brown"));
    QVERIFY(at >= 0);
    selectInPageView(window, int(at), 5);
    const qint64 id = panel->highlightSelection(chosen);
    QVERIFY(id > 0);
    viewer->clearSelection(); // the selection's own tint would cover the highlight
    QCOMPARE(canvas->annotationBoxes(1).size(), qsizetype(1));
    const QRectF box = canvas->annotationBoxes(1).front().points;
    QVERIFY2(std::abs(box.left() - (54 + 10 * 6.0)) < 1.0, qPrintable(QString::number(box.left())));
    QVERIFY2(std::abs(box.width() - 5 * 6.0) < 1.0, qPrintable(QString::number(box.width())));

    // Paper pixels (white before) inside the rectangle, and on blank paper four lines below.
    const QRect inside = canvas->toViewport(1, box).toAlignedRect().adjusted(2, 2, -2, -2);
    const QRect below = canvas->toViewport(1, box.translated(0, 4 * 12.0)).toAlignedRect();
    QVERIFY2(canvas->viewport()->rect().contains(inside) && canvas->viewport()->rect().contains(below),
        qPrintable(QStringLiteral("%1 px wide viewport").arg(canvas->viewport()->width())));
    const QList<QPoint> paper = whitePixels(before, inside);
    QVERIFY2(paper.size() > inside.width() * inside.height() / 3, qPrintable(QString::number(paper.size())));
    const QList<QPoint> paperBelow = whitePixels(before, below);
    QVERIFY(!paperBelow.isEmpty());
    QCOMPARE(countColoured(before, paper, QColor(chosen)), 0);

    QImage after = grab();
    QCOMPARE(countColoured(after, paper, QColor(chosen)), int(paper.size()));
    QCOMPARE(countColoured(after, paperBelow, Qt::white), int(paperBelow.size()));

    const QString edited = nw::ui::AnnotationsPanel::colors().at(2);
    QVERIFY(panel->updateAnnotation(id, QString(), {}, edited));
    after = grab();
    QCOMPARE(countColoured(after, paper, QColor(edited)), int(paper.size()));

    QVERIFY(panel->removeAnnotation(id));
    QVERIFY(canvas->annotationBoxes(1).isEmpty());
    after = grab();
    QCOMPARE(countColoured(after, paper, Qt::white), int(paper.size()));
    QCOMPARE(countColoured(after, paper, QColor(edited)), 0);
}

QTEST_MAIN(TestAnnotationsPanel)
#include "tst_annotations_panel.moc"
