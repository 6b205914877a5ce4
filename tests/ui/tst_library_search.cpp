// GUI flow (offscreen): open a database, ingest a generated PDF through the library's ingest job,
// search, click a result → the page view shows that page with the hit highlighted; the event
// loop keeps turning while the ingest runs (nw::test::LatencyProbe: GUI-thread CPU gap < 100 ms, and
// the wall gap too unless the machine is loaded beyond its cores).
#include "scratch_settings.h"
#include "ui/library_view.h"
#include "ui/main_window.h"
#include "ui/page_text_view.h"
#include "ui/page_viewer.h"
#include "ui/search_view.h"
#include "ui_fixtures.h"

#include <QElapsedTimer>
#include <QFile>
#include <QListWidget>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeWidget>

namespace {

constexpr int kPages = 60;
constexpr int kNeedlePage = 37;

// Pages of filler words; page kNeedlePage alone says "indemnification".
void writePdf(const QString &path)
{
    nw::test::writeFillerPdf(path,
        { .pages = kPages,
            .linesPerPage = 30,
            .needlePage = kNeedlePage,
            .needle = QStringLiteral("The supplier owes indemnification for losses.") });
}

} // namespace

class TestLibrarySearch : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void highlightTermsDropOperators();
    void ingestSearchClickShowsHighlightedPage();

private:
    QTemporaryDir m_settings;
};

void TestLibrarySearch::initTestCase()
{
    QVERIFY(m_settings.isValid());
    nw::test::useScratchSettings(m_settings.path(), QStringLiteral("tst_library_search"));
}

void TestLibrarySearch::highlightTermsDropOperators()
{
    QCOMPARE(nw::ui::highlightTerms(QStringLiteral("\"late payment\" OR indemn* NOT NEAR(a b, 10)")),
        (QStringList { "late", "payment", "indemn", "a", "b", "10" }));
}

void TestLibrarySearch::ingestSearchClickShowsHighlightedPage()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString pdf = dir.filePath(QStringLiteral("contract.pdf"));
    writePdf(pdf);

    nw::ui::MainWindow window({ .databasePath = dir.filePath(QStringLiteral("library.sqlite")), .modelPath = {} });
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    nw::ui::LibraryView *library = window.library();
    QVERIFY(library->workbench() != nullptr);
    QCOMPARE(library->workbench(), window.workbench());

    // Event-loop latency while the ingest job runs.
    nw::test::LatencyProbe probe;
    QSignalSpy finished(library, &nw::ui::LibraryView::ingestFinished);
    probe.start();
    QVERIFY(library->ingest({ pdf }));
    QVERIFY(library->isIngesting());
    QVERIFY(!library->ingest({ pdf })); // one job at a time
    QVERIFY(finished.wait(20000));
    probe.stop();
    QVERIFY(probe.check(qPrintable(QStringLiteral("ingest of %1 pages").arg(kPages))));
    QCOMPARE(finished.first().at(0).toInt(), 1); // added
    QCOMPARE(finished.first().at(1).toInt(), 0); // failed

    // The document is listed with its page count.
    QTreeWidgetItem *all = library->documentTree()->topLevelItem(0);
    QVERIFY(all != nullptr);
    QCOMPARE(all->childCount(), 1);
    QCOMPARE(all->child(0)->text(1), QString::number(kPages));

    nw::ui::SearchView *search = window.search();
    search->search(QStringLiteral("indemnification"));
    QListWidget *results = search->resultList();
    QCOMPARE(results->count(), 1);
    // The hit: the title, the page, and the snippet as one paragraph with the matched word in bold —
    // no mark characters in the text, no line break inside a sentence.
    const QString hit = results->item(0)->text();
    QVERIFY2(hit.contains(QStringLiteral("— p. %1\n").arg(kNeedlePage)), qPrintable(hit));
    QVERIFY2(!hit.contains(QChar(0x00AB)) && !hit.contains(QChar(0xE000)) && hit.count(QLatin1Char('\n')) == 1,
        qPrintable(hit));
    QVERIFY2(results->item(0)
                 ->data(nw::ui::SearchView::HtmlRole)
                 .toString()
                 .contains(QStringLiteral("<b>indemnification</b>")),
        qPrintable(results->item(0)->data(nw::ui::SearchView::HtmlRole).toString()));

    const QRect rect = results->visualItemRect(results->item(0));
    QTest::mouseClick(results->viewport(), Qt::LeftButton, {}, rect.center());
    nw::ui::PageTextView *view = window.pageView();
    QCOMPARE(view->pageNumber(), kNeedlePage);
    QCOMPARE(view->pageCount(), kPages);
    QVERIFY(view->pageText().contains(QStringLiteral("Page %1 line 0").arg(kNeedlePage)));
    QCOMPARE(view->highlightedTexts(), QStringList { QStringLiteral("indemnification") });

    // A query over the search budget (issue 25: 2,000 ANDed words took 104 s) comes back at once
    // with the reason, and leaves no stale results.
    QElapsedTimer timer;
    timer.start();
    search->search(QStringList(2000, QStringLiteral("ordinary")).join(QLatin1Char(' ')));
    QVERIFY2(timer.elapsed() < 1000, qPrintable(QString::number(timer.elapsed())));
    QCOMPARE(results->count(), 0);
    QVERIFY2(search->status().contains(QStringLiteral("more than the 4096 a search may have")),
        qPrintable(search->status()));

    view->nextPage();
    QCOMPARE(view->pageNumber(), kNeedlePage + 1);
    QCOMPARE(view->highlightCount(), 0);

    // Adding documents leaves the page being read open.
    const qint64 reading = view->documentId();
    const QString second = dir.filePath(QStringLiteral("second.pdf"));
    writePdf(second);
    {
        QFile f(second);
        QVERIFY(f.open(QIODevice::Append));
        f.write("\n% another file\n"); // other bytes, another document
    }
    QVERIFY(library->ingest({ second }));
    QVERIFY(finished.wait(20000));
    QCOMPARE(view->documentId(), reading);
    QCOMPARE(view->pageNumber(), kNeedlePage + 1);
    QCOMPARE(window.pageViewer()->documentId(), reading);
}

QTEST_MAIN(TestLibrarySearch)
#include "tst_library_search.moc"
