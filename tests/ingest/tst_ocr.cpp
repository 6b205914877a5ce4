// OCR of scanned pages: scans made here from PDFs of known text (drawn by Poppler, turned,
// speckled and JPEG-compressed) are found by search on the right page, their word boxes land
// on the words the original PDF has there; mixed documents are read page by page; a garbage text
// layer is replaced; the modes; two languages; a language whose data is missing is one line; a
// stopped run keeps its recognised pages and the next does not recognise them again.
#include "ingest/ingestor.h"
#include "ingest/ocr_engine.h"
#include "ingest/page_words.h"
#include "ingest/pdf_document.h"
#include "ingest/text_layer.h"
#include "store/search_service.h"
#include "tests/ingest/pdf_fixtures.h"
#include "tests/support/scanned_pdf.h"

#include <QTemporaryDir>
#include <QTest>

using namespace nw::ingest;
using nw::store::LibraryStore;

namespace {

// Lines of distinctive words, so that a three-word phrase of a line is found on its page only.
const QStringList kPageOne = {
    QStringLiteral("The lessee shall maintain liability insurance of four million dollars"),
    QStringLiteral("Rent is payable monthly in advance at the landlord's office in Lyon"),
    QStringLiteral("Either party may terminate this lease upon ninety days written notice"),
    QStringLiteral("The premises comprise a warehouse and an adjoining parking area"),
    QStringLiteral("Disputes are settled by arbitration under the rules of Geneva"),
};
const QStringList kPageTwo = {
    QStringLiteral("Schedule B lists the fixtures that remain with the building"),
    QStringLiteral("Heating equipment was inspected by certified engineers last winter"),
    QStringLiteral("The tenant reports every structural defect within seven days"),
    QStringLiteral("Subletting requires the prior consent of the owner in writing"),
    QStringLiteral("This agreement is governed by the laws of the canton of Vaud"),
};

// The pages of the PDF at `pdfPath` as a scanner would give them back.
std::vector<QImage> scanOf(const QString &pdfPath, double dpi, quint32 seed = 1)
{
    const PdfDocument pdf = PdfDocument::open(pdfPath);
    std::vector<QImage> pages;
    for (int i = 0; i < pdf.pageCount(); ++i) {
        nw::test::ScanDefects defects;
        defects.seed = seed + static_cast<quint32>(i);
        pages.push_back(nw::test::degradeScan(pdf.renderPage(i, dpi), defects));
    }
    return pages;
}

// Three-word phrases of each line: (phrase, page number).
std::vector<std::pair<QString, int>> phrasesOf(const std::vector<QStringList> &pages)
{
    std::vector<std::pair<QString, int>> phrases;
    for (std::size_t p = 0; p < pages.size(); ++p)
        for (const QString &line : pages[p]) {
            const QStringList words = line.split(QLatin1Char(' '));
            for (qsizetype w = 0; w + 3 <= words.size(); w += 3)
                phrases.emplace_back(words.mid(w, 3).join(QLatin1Char(' ')), static_cast<int>(p) + 1);
        }
    return phrases;
}

} // namespace

class TestOcr : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void init();
    void cleanup();
    void textLayerVerdict_data();
    void textLayerVerdict();
    void scanIsFoundOnTheRightPage();
    void mixedDocumentIsReadPageByPage();
    void garbageTextLayerIsRecognised();
    void modes();
    void twoLanguages();
    void missingLanguageIsOneLine();
    void stoppedRunKeepsRecognisedPages();

private:
    QString file(const QString &name) const { return m_dir->filePath(name); }
    QTemporaryDir *m_dir = nullptr;
    LibraryStore *m_store = nullptr;
};

void TestOcr::initTestCase()
{
    QVERIFY2(installedOcrLanguages().contains(QStringLiteral("eng")),
        "Tesseract's English data is needed (Debian package tesseract-ocr-eng, scripts/setup-deps.sh)");
}

void TestOcr::init()
{
    m_dir = new QTemporaryDir;
    m_store = new LibraryStore(file(QStringLiteral("lib.sqlite")));
}

void TestOcr::cleanup()
{
    delete m_store;
    delete m_dir;
}

void TestOcr::textLayerVerdict_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<bool>("usable");
    QTest::addRow("prose") << "The parties agree that the seller delivers the goods by 1 March 2024." << true;
    QTest::addRow("French prose") << "Les parties conviennent que le vendeur livre les marchandises." << true;
    QTest::addRow("Chinese") << QStringLiteral("本协议 双方 同意 卖方 交付 货物") << true;
    QTest::addRow("numbers and headings") << "3.1 Term 3.2 Renewal 3.3 Notice (a) 30 days" << true;
    QTest::addRow("nothing") << "" << false;
    QTest::addRow("a stamp only") << "ABC0001234" << false;
    QTest::addRow("two words") << "Exhibit 12" << false;
    QTest::addRow("symbols") << QStringLiteral("§¤ ◊◊◊ ∆∆ ‡‡‡ ¤¤¤ ¶¶ ◊∆ ‡¤ ∆∆∆ ¤◊") << false;
    QTest::addRow("private use") << QStringLiteral("\ue001\ue002 \ue010\ue011\ue012 \ue020 \ue003\ue004 \ue005")
                                 << false;
    QTest::addRow("consonant runs") << "Xkcdrtp Zqwtvbn Mnbvcxz Lkjhgfd Qwrtplk" << false;
    QTest::addRow("mostly garbage") << QStringLiteral("the ◊◊◊ of ∆∆ ‡‡‡ ¤¤¤ ¶¶ ◊∆") << false;
}

void TestOcr::textLayerVerdict()
{
    QFETCH(QString, text);
    QFETCH(bool, usable);
    QCOMPARE(judgeTextLayer(text).usable, usable);
}

// The acceptance test of the issue at test size: phrases of the original text are found on the
// page they were on, and the boxes of the recognised words sit where the original's words are.
void TestOcr::scanIsFoundOnTheRightPage()
{
    const QString original = file(QStringLiteral("original.pdf"));
    QVERIFY(nw::test::writeTextPdf(original, { kPageOne.join(QLatin1Char('\n')), kPageTwo.join(QLatin1Char('\n')) }));
    const QString scan = file(QStringLiteral("scan.pdf"));
    QVERIFY(nw::test::writeImagePdf(scan, scanOf(original, 200)));
    QVERIFY(PdfDocument::open(scan).page(0, false).text.trimmed().isEmpty()); // image only

    Ingestor ingestor(*m_store);
    const IngestSummary summary = ingestor.run({ scan });
    QCOMPARE(summary.added, 1);
    QCOMPARE(summary.pagesRecognised, 2);
    const std::int64_t id = summary.files[0].documentId;
    const nw::store::DocumentInfo doc = m_store->requireDocument(id);
    QCOMPARE(doc.ocrPages, 2);
    QVERIFY2(doc.ocrConfidence > 75, qPrintable(QString::number(doc.ocrConfidence)));

    nw::store::SearchService search(*m_store);
    int found = 0;
    const auto phrases = phrasesOf({ kPageOne, kPageTwo });
    for (const auto &[phrase, page] : phrases) {
        const auto hits = search.search(QLatin1Char('"') + phrase + QLatin1Char('"'));
        const int expectedPage = page; // clang 14 lets no lambda refer to a structured binding
        const bool onPage = std::any_of(hits.begin(), hits.end(),
            [&](const nw::store::SearchHit &h) { return h.documentId == id && h.pageNumber == expectedPage; });
        found += onPage ? 1 : 0;
        if (!onPage)
            qWarning("not found on page %d: \"%s\"", page, qPrintable(phrase));
    }
    QVERIFY2(found * 100 >= 95 * static_cast<int>(phrases.size()),
        qPrintable(QStringLiteral("%1 of %2 phrases found").arg(found).arg(phrases.size())));

    // Boxes: each recognised word that is a word of the original lies on it, as the viewer and
    // citations use them: its centre is inside the original word's box, grown by 3 pt (the scan is
    // turned 0.4 degrees: up to 2.6 pt at the page's corners).
    const PdfDocument originalPdf = PdfDocument::open(original);
    for (int page = 1; page <= 2; ++page) {
        const PageContent truth = originalPdf.page(page - 1, true);
        const nw::store::PageRecord stored = m_store->requirePage(id, page);
        QCOMPARE(stored.source, QStringLiteral("ocr"));
        const std::vector<nw::store::WordBox> boxes = pageWordBoxes(*m_store, id, page);
        QVERIFY(!boxes.empty());
        int matched = 0;
        int near = 0;
        for (const nw::store::WordBox &w : boxes) {
            // The original's nearest word of the same spelling ("the" is on a line twice).
            const QString word = stored.text.mid(w.offset, w.length);
            const nw::store::WordBox *best = nullptr;
            double bestDistance = 1e9;
            for (const nw::store::WordBox &t : truth.words) {
                const QPointF d = t.box.center() - w.box.center();
                if (truth.text.mid(t.offset, t.length) == word && std::hypot(d.x(), d.y()) < bestDistance) {
                    best = &t;
                    bestDistance = std::hypot(d.x(), d.y());
                }
            }
            if (!best)
                continue;
            ++matched;
            const bool onIt = best->box.adjusted(-3, -3, 3, 3).contains(w.box.center());
            near += onIt ? 1 : 0;
            if (!onIt)
                qWarning("page %d: '%s' at (%.1f, %.1f), the original's at (%.1f, %.1f)", page, qPrintable(word),
                    w.box.center().x(), w.box.center().y(), best->box.center().x(), best->box.center().y());
        }
        QVERIFY2(matched >= 0.9 * static_cast<double>(truth.words.size()),
            qPrintable(QStringLiteral("page %1: %2 of %3 words").arg(page).arg(matched).arg(truth.words.size())));
        QVERIFY2(near >= 0.95 * matched,
            qPrintable(QStringLiteral("page %1: %2 of %3 boxes near").arg(page).arg(near).arg(matched)));
    }
}

// Text, scan, text: only the scanned page is recognised; all three are searchable.
void TestOcr::mixedDocumentIsReadPageByPage()
{
    const QString scanSource = file(QStringLiteral("middle.pdf"));
    QVERIFY(nw::test::writeTextPdf(scanSource, { kPageTwo.mid(0, 3).join(QLatin1Char('\n')) }));
    const QImage scanned = scanOf(scanSource, 200).front();
    const QString mixed = file(QStringLiteral("mixed.pdf"));
    {
        QPdfWriter writer(mixed);
        writer.setResolution(72);
        writer.setPageSize(QPageSize(QPageSize::A4));
        writer.setPageMargins(QMarginsF(0, 0, 0, 0));
        QPainter painter(&writer);
        painter.setFont(nw::test::testFont());
        painter.drawText(QPointF(72, 96), QStringLiteral("Born digital opening page about quarterly revenue"));
        writer.newPage();
        painter.drawImage(QRectF(QPointF(0, 0), QPageSize(QPageSize::A4).size(QPageSize::Point)), scanned);
        writer.newPage();
        painter.drawText(QPointF(72, 96), QStringLiteral("Born digital closing page about annual dividends"));
    }
    Ingestor ingestor(*m_store);
    const IngestSummary summary = ingestor.run({ mixed });
    QCOMPARE(summary.added, 1);
    QCOMPARE(summary.pagesRecognised, 1);
    const std::int64_t id = summary.files[0].documentId;
    QCOMPARE(m_store->requirePage(id, 1).source, QStringLiteral("text"));
    QCOMPARE(m_store->requirePage(id, 2).source, QStringLiteral("ocr"));
    QCOMPARE(m_store->requirePage(id, 3).source, QStringLiteral("text"));
    QCOMPARE(m_store->requirePage(id, 1).ocrConfidence, -1.0);
    QVERIFY(m_store->requirePage(id, 2).ocrConfidence > 70);
    nw::store::SearchService search(*m_store);
    for (const auto &[query, page] : std::vector<std::pair<QString, int>> { { QStringLiteral("quarterly revenue"), 1 },
             { QStringLiteral("\"certified engineers\""), 2 }, { QStringLiteral("dividends"), 3 } }) {
        const auto hits = search.search(query);
        QVERIFY2(!hits.empty() && hits.front().pageNumber == page, qPrintable(query));
    }
}

// A page whose text layer is symbols (a font mapped to the wrong code points) is recognised
// under auto; under never its layer is kept as it is.
void TestOcr::garbageTextLayerIsRecognised()
{
    const QString source = file(QStringLiteral("source.pdf"));
    QVERIFY(nw::test::writeTextPdf(source, { kPageOne.mid(0, 3).join(QLatin1Char('\n')) }));
    const QImage scanned = scanOf(source, 200).front();
    const QString garbled = file(QStringLiteral("garbled.pdf"));
    {
        QPdfWriter writer(garbled);
        writer.setResolution(72);
        writer.setPageSize(QPageSize(QPageSize::A4));
        writer.setPageMargins(QMarginsF(0, 0, 0, 0));
        QPainter painter(&writer);
        painter.drawImage(QRectF(QPointF(0, 0), QPageSize(QPageSize::A4).size(QPageSize::Point)), scanned);
        painter.setFont(nw::test::testFont());
        painter.drawText(QPointF(72, 700), QStringLiteral("§¤ ◊◊◊ ∆∆ ‡‡‡ ¤¤¤ ¶¶ ◊∆ ‡¤ ∆∆∆ ¤◊ ◊¶ ‡‡"));
    }
    QVERIFY(!judgeTextLayer(PdfDocument::open(garbled).page(0, false).text).usable);
    {
        Ingestor ingestor(*m_store);
        const IngestSummary summary = ingestor.run({ garbled });
        QCOMPARE(summary.pagesRecognised, 1);
        const nw::store::PageRecord page = m_store->requirePage(summary.files[0].documentId, 1);
        QVERIFY2(page.text.contains(QStringLiteral("liability insurance")), qPrintable(page.text));
    }
    LibraryStore other(file(QStringLiteral("never.sqlite")));
    IngestOptions never;
    never.ocr.mode = OcrMode::Never;
    Ingestor ingestor(other, never);
    const IngestSummary summary = ingestor.run({ garbled });
    QCOMPARE(summary.pagesRecognised, 0);
    QVERIFY(other.requirePage(summary.files[0].documentId, 1).text.contains(QStringLiteral("◊◊◊")));
}

// always: a born-digital page is recognised too; never: a scan has no text.
void TestOcr::modes()
{
    const QString text = file(QStringLiteral("text.pdf"));
    QVERIFY(nw::test::writeTextPdf(text, { kPageOne.mid(0, 2).join(QLatin1Char('\n')) }));
    const QString scan = file(QStringLiteral("scan.pdf"));
    QVERIFY(nw::test::writeImagePdf(scan, scanOf(text, 200)));
    IngestOptions always;
    always.ocr.mode = OcrMode::Always;
    {
        Ingestor ingestor(*m_store, always);
        const IngestSummary summary = ingestor.run({ text });
        QCOMPARE(summary.pagesRecognised, 1);
        QVERIFY(
            m_store->requirePage(summary.files[0].documentId, 1).text.contains(QStringLiteral("monthly in advance")));
    }
    IngestOptions never;
    never.ocr.mode = OcrMode::Never;
    Ingestor ingestor(*m_store, never);
    const IngestSummary summary = ingestor.run({ scan });
    QCOMPARE(summary.failed, 1);
    QCOMPARE(*summary.files[0].problem, IngestProblem::NoText);
    QVERIFY2(summary.files[0].reason.contains(QStringLiteral("--ocr never")), qPrintable(summary.files[0].reason));
}

void TestOcr::twoLanguages()
{
    if (!installedOcrLanguages().contains(QStringLiteral("fra")))
        QSKIP("French data is not installed (Debian package tesseract-ocr-fra)");
    const QString source = file(QStringLiteral("french.pdf"));
    QVERIFY(nw::test::writeTextPdf(source,
        { QStringLiteral("Le bailleur a résilié le contrat en été\nLa créance reste exigible "
                         "à l'échéance prévue\nThe English summary follows below") }));
    const QString scan = file(QStringLiteral("scan-fr.pdf"));
    QVERIFY(nw::test::writeImagePdf(scan, scanOf(source, 200)));
    IngestOptions options;
    options.ocr.languages = QStringLiteral("eng+fra");
    Ingestor ingestor(*m_store, options);
    const IngestSummary summary = ingestor.run({ scan });
    QCOMPARE(summary.pagesRecognised, 1);
    const QString page = m_store->requirePage(summary.files[0].documentId, 1).text;
    for (const char *word : { "résilié", "été", "créance", "échéance", "English" })
        QVERIFY2(page.contains(QString::fromUtf8(word)),
            qPrintable(QStringLiteral("%1 in: %2").arg(QString::fromUtf8(word), page)));
}

// A scan that needs a language whose data is missing: one line naming the package; the other
// files go in.
void TestOcr::missingLanguageIsOneLine()
{
    const QString good = file(QStringLiteral("good.pdf"));
    QVERIFY(nw::test::writeTextPdf(good, { kPageOne.join(QLatin1Char('\n')) }));
    const QString scan = file(QStringLiteral("scan.pdf"));
    QVERIFY(nw::test::writeImagePdf(scan, scanOf(good, 100)));
    IngestOptions options;
    options.ocr.languages = QStringLiteral("eng+qaa"); // qaa: reserved for local use, never shipped
    Ingestor ingestor(*m_store, options);
    const IngestSummary summary = ingestor.run({ scan, good });
    QCOMPARE(summary.added, 1);
    QCOMPARE(summary.failed, 1);
    QCOMPARE(*summary.files[0].problem, IngestProblem::OcrUnavailable);
    const QString reason = summary.files[0].reason;
    QVERIFY2(reason.contains(QStringLiteral("'qaa'")) && reason.contains(QStringLiteral("tesseract-ocr-qaa"))
            && !reason.contains(QLatin1Char('\n')),
        qPrintable(reason));
    QCOMPARE(m_store->ingestErrors().size(), std::size_t(1));
    QCOMPARE(m_store->ingestErrors()[0].kind, QStringLiteral("ocr-unavailable"));
    QCOMPARE(m_store->database().queryInt("SELECT count(*) FROM ocr_pages"), std::optional<std::int64_t>(0));
}

// Stopped after some pages were recognised: they are kept (ocr_pages) and the next run takes
// them instead of recognising them again; the document is whole and the kept pages are gone.
void TestOcr::stoppedRunKeepsRecognisedPages()
{
    const QString source = file(QStringLiteral("five.pdf"));
    QStringList pages;
    for (int i = 0; i < 5; ++i)
        pages << (i % 2 ? kPageTwo : kPageOne).mid(i % 4, 2).join(QLatin1Char('\n'));
    QVERIFY(nw::test::writeTextPdf(source, pages));
    const QString scan = file(QStringLiteral("scan5.pdf"));
    QVERIFY(nw::test::writeImagePdf(scan, scanOf(source, 150)));
    IngestOptions options;
    options.jobs = 1;
    std::int64_t recognisedFirst = 0;
    {
        Ingestor ingestor(*m_store, options);
        ingestor.setProgressCallback(
            [&](const IngestProgress &p) {
                recognisedFirst = p.pagesRecognised;
                if (p.pagesRecognised >= 2)
                    ingestor.cancel();
            },
            10);
        const IngestSummary summary = ingestor.run({ scan });
        QVERIFY(summary.cancelled);
        QCOMPARE(summary.notDone, 1);
    }
    const std::int64_t kept = m_store->database().queryInt("SELECT count(*) FROM ocr_pages").value_or(0);
    QVERIFY2(kept >= 2 && kept < 5, qPrintable(QString::number(kept)));
    QCOMPARE(m_store->stats().documents, 0);

    Ingestor again(*m_store, options);
    std::int64_t recognisedNow = -1;
    again.setProgressCallback([&](const IngestProgress &p) { recognisedNow = p.pagesRecognised; });
    const IngestSummary summary = again.run({ scan });
    QCOMPARE(summary.added, 1);
    QCOMPARE(summary.pagesRecognised, 5);
    QCOMPARE(recognisedNow, 5 - kept);
    QCOMPARE(m_store->database().queryInt("SELECT count(*) FROM ocr_pages"), std::optional<std::int64_t>(0));
    const std::int64_t id = summary.files[0].documentId;
    for (int page = 1; page <= 5; ++page)
        QCOMPARE(m_store->requirePage(id, page).source, QStringLiteral("ocr"));
    Q_UNUSED(recognisedFirst);
}

QTEST_MAIN(TestOcr)
#include "tst_ocr.moc"
