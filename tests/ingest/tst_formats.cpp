// The readers of .docx, .odt and HTML, made here byte by byte: paragraphs, headings, lists,
// tables and footnotes in reading order; recorded page breaks become pages and the others are
// pages of a fixed size, each knowing its first paragraph; and every bad office file (not a
// zip, truncated, a zip bomb, encrypted three ways, a .doc, broken XML) is one line that does not
// stop the batch.
#include "ingest/document_reader.h"
#include "ingest/html_document.h"
#include "ingest/ingestor.h"
#include "ingest/office_document.h"
#include "ingest/paragraph_pages.h"
#include "store/search_service.h"
#include "tests/ingest/office_fixtures.h"
#include "tests/ingest/pdf_fixtures.h"

#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QTest>

using namespace nw::ingest;
using nw::store::LibraryStore;
using nw::test::docxParagraph;

namespace {

QStringList texts(const std::vector<Paragraph> &paragraphs)
{
    QStringList out;
    for (const Paragraph &p : paragraphs)
        out << p.text.trimmed();
    return out;
}

} // namespace

class TestFormats : public QObject {
    Q_OBJECT
private slots:
    void paginateFillsPagesWithWholeParagraphs();
    void paginateFollowsRecordedBreaks();
    void docxReadingOrder();
    void docxPageBreaks();
    void odtReadingOrder();
    void odtPageBreaks();
    void htmlReadingOrder();
    void htmlBlankLinesEndParagraphs();
    void htmlEncodingsAndDepth();
    void formatsAreToldByContent();
    void documentsGoIntoTheLibrary();
    void badOfficeFilesAreOneLine_data();
    void badOfficeFilesAreOneLine();
};

void TestFormats::paginateFillsPagesWithWholeParagraphs()
{
    std::vector<Paragraph> paragraphs;
    for (int i = 1; i <= 10; ++i)
        paragraphs.push_back({ QStringLiteral("Paragraph %1 ").arg(i) + QString(150, QLatin1Char('x')) });
    paragraphs.push_back({ QStringLiteral("Long ") + QStringLiteral("word ").repeated(200) }); // 1,005 characters
    const std::vector<PageContent> pages = paginate(paragraphs, 500, false);
    // Three paragraphs of ~160 characters fill a page of 500; the long one goes over pages.
    QCOMPARE(pages.front().firstParagraph, 1);
    QVERIFY(pages.front().text.startsWith(QStringLiteral("Paragraph 1 ")));
    QCOMPARE(pages.front().text.count(QStringLiteral("\n\n")), 2);
    QCOMPARE(pages[1].firstParagraph, 4);
    int seen = 0;
    for (const PageContent &page : pages) {
        QVERIFY(page.text.size() <= 500);
        QVERIFY(page.label.isEmpty());
        seen += static_cast<int>(page.text.count(QStringLiteral("Paragraph ")));
    }
    QCOMPARE(seen, 10);
    QCOMPARE(pages.back().firstParagraph, 11); // the continuation keeps its paragraph's number
    QCOMPARE(pages[pages.size() - 2].firstParagraph, 11);
    QVERIFY(pages.back().text.startsWith(QStringLiteral("word")));
    for (std::size_t i = 0; i < pages.size(); ++i)
        QCOMPARE(pages[i].number, static_cast<int>(i) + 1);
    // Nothing at all: one empty page.
    QCOMPARE(paginate({}, 500, false).size(), std::size_t(1));
}

void TestFormats::paginateFollowsRecordedBreaks()
{
    const std::vector<Paragraph> paragraphs = {
        { QStringLiteral("one") },
        { QStringLiteral("two") },
        { QStringLiteral("three"), true },
        { QStringLiteral("rest of three"), true, true },
        { QStringLiteral("four") },
    };
    const std::vector<PageContent> pages = paginate(paragraphs, 3000, true);
    QCOMPARE(pages.size(), std::size_t(3));
    QCOMPARE(pages[0].text, QStringLiteral("one\n\ntwo"));
    QCOMPARE(pages[1].text, QStringLiteral("three"));
    QCOMPARE(pages[2].text, QStringLiteral("rest of three\n\nfour"));
    QCOMPARE(pages[0].label, QStringLiteral("1"));
    QCOMPARE(pages[2].label, QStringLiteral("3"));
    QCOMPARE(pages[1].firstParagraph, 3);
    QCOMPARE(pages[2].firstParagraph, 3); // the rest of paragraph 3
}

void TestFormats::docxReadingOrder()
{
    const QString body
        = docxParagraph(QStringLiteral("Master Services Agreement"), QStringLiteral("<w:pStyle w:val=\"Title\"/>"))
        + QStringLiteral(
            "<w:p><w:r><w:t>The supplier </w:t></w:r><w:del><w:r><w:delText>never</w:delText></w:r></w:del>"
            "<w:r><w:t>delivers monthly</w:t></w:r><w:r><w:footnoteReference w:id=\"2\"/></w:r>"
            "<w:r><w:t>.</w:t></w:r></w:p>")
        + docxParagraph(QStringLiteral("First obligation"),
            QStringLiteral("<w:numPr><w:ilvl w:val=\"0\"/><w:numId w:val=\"1\"/></w:numPr>"))
        + docxParagraph(QStringLiteral("Second obligation"),
            QStringLiteral("<w:numPr><w:ilvl w:val=\"0\"/><w:numId w:val=\"1\"/></w:numPr>"))
        + QStringLiteral(
            "<w:tbl><w:tr><w:tc>%1</w:tc><w:tc>%2</w:tc></w:tr><w:tr><w:tc>%3</w:tc><w:tc>%4%5</w:tc></w:tr></w:tbl>")
              .arg(docxParagraph(QStringLiteral("Item")), docxParagraph(QStringLiteral("Price")),
                  docxParagraph(QStringLiteral("Widget")), docxParagraph(QStringLiteral("12 EUR")),
                  docxParagraph(QStringLiteral("per unit")))
        + QStringLiteral(
            "<w:p><w:r><mc:AlternateContent><mc:Choice><w:t>Chosen</w:t></mc:Choice><mc:Fallback><w:t>Fallback"
            "</w:t></mc:Fallback></mc:AlternateContent></w:r><w:r><w:tab/><w:t>text</w:t></w:r></w:p>");
    const QString footnotes = QStringLiteral(
        "<w:footnote w:type=\"separator\" w:id=\"0\"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>"
        "<w:footnote w:id=\"2\"><w:p><w:r><w:t>Monthly means calendar month.</w:t></w:r></w:p></w:footnote>");
    const OfficeText doc = readDocx(nw::test::makeDocx(body, footnotes, QStringLiteral("MSA 2021")));
    QCOMPARE(texts(doc.paragraphs),
        QStringList({ QStringLiteral("Master Services Agreement"), QStringLiteral("The supplier delivers monthly[1]."),
            QStringLiteral("[1] Monthly means calendar month."), QStringLiteral("• First obligation"),
            QStringLiteral("• Second obligation"), QStringLiteral("Item | Price"),
            QStringLiteral("Widget | 12 EUR per unit"), QStringLiteral("Chosen\ttext") }));
    QVERIFY(!doc.recordedBreaks);
    QCOMPARE(doc.metadata.title, QStringLiteral("MSA 2021"));
    QCOMPARE(doc.metadata.author, QStringLiteral("Ada Lovelace"));
    QCOMPARE(doc.metadata.created, QDateTime(QDate(2021, 3, 4), QTime(5, 6, 7), Qt::UTC));
}

void TestFormats::docxPageBreaks()
{
    const QString body = docxParagraph(QStringLiteral("Cover page"))
        + QStringLiteral("<w:p><w:r><w:br w:type=\"page\"/></w:r></w:p>")
        + docxParagraph(QStringLiteral("Second page text"))
        + QStringLiteral(
            "<w:p><w:r><w:t>Split across </w:t></w:r><w:r><w:lastRenderedPageBreak/><w:t>two pages</w:t></w:r></w:p>")
        + docxParagraph(QStringLiteral("Chapter two"), QStringLiteral("<w:pageBreakBefore/>"))
        + docxParagraph(QStringLiteral("Same page as chapter two"), QStringLiteral("<w:pageBreakBefore w:val=\"0\"/>"));
    const OfficeText doc = readDocx(nw::test::makeDocx(body));
    QVERIFY(doc.recordedBreaks);
    const std::vector<PageContent> pages = paginate(doc.paragraphs, 3000, doc.recordedBreaks);
    QStringList pageTexts;
    for (const PageContent &p : pages)
        pageTexts << p.text;
    QCOMPARE(pageTexts,
        QStringList({ QStringLiteral("Cover page"), QStringLiteral("Second page text\n\nSplit across"),
            QStringLiteral("two pages"), QStringLiteral("Chapter two\n\nSame page as chapter two") }));
    QCOMPARE(pages[2].firstParagraph, 3); // "two pages" is the rest of paragraph 3
    QCOMPARE(pages[3].firstParagraph, 4);
    QCOMPARE(pages[3].label, QStringLiteral("4"));
}

void TestFormats::odtReadingOrder()
{
    const QString text = QStringLiteral(
        "<text:h text:outline-level=\"1\">Lease</text:h>"
        "<text:p>Rent is due<text:s text:c=\"2\"/>monthly<text:note text:note-class=\"footnote\"><text:note-citation>1"
        "</text:note-citation><text:note-body><text:p>In euros.</text:p></text:note-body></text:note>.</text:p>"
        "<text:list><text:list-item><text:p>Keep the premises clean</text:p></text:list-item>"
        "<text:list-item><text:p>Insure the building</text:p></text:list-item></text:list>"
        "<table:table><table:table-row><table:table-cell><text:p>Room</text:p></table:table-cell><table:table-cell>"
        "<text:p>Area</text:p></table:table-cell></table:table-row><table:table-row><table:table-cell><text:p>Hall</"
        "text:p>"
        "</table:table-cell><table:table-cell><text:p>40 m2</text:p></table:table-cell></table:table-row></table:table>"
        "<text:tracked-changes><text:changed-region><text:deletion><text:p>deleted words</text:p></text:deletion>"
        "</text:changed-region></text:tracked-changes>"
        "<text:p>Line one<text:line-break/>line two</text:p>");
    const OfficeText doc = readOdt(nw::test::makeOdt(text, {}, {}, QStringLiteral("Lease of Hall 3")));
    QCOMPARE(texts(doc.paragraphs),
        QStringList(
            { QStringLiteral("Lease"), QStringLiteral("Rent is due  monthly[1]."), QStringLiteral("[1] In euros."),
                QStringLiteral("• Keep the premises clean"), QStringLiteral("• Insure the building"),
                QStringLiteral("Room | Area"), QStringLiteral("Hall | 40 m2"), QStringLiteral("Line one\nline two") }));
    QCOMPARE(doc.metadata.title, QStringLiteral("Lease of Hall 3"));
    QCOMPARE(doc.metadata.author, QStringLiteral("Grace Hopper"));
}

void TestFormats::odtPageBreaks()
{
    const QString styles = QStringLiteral(
        "<style:style style:name=\"P1\" style:family=\"paragraph\"><style:paragraph-properties "
        "fo:break-before=\"page\"/>"
        "</style:style><style:style style:name=\"P2\" style:family=\"paragraph\" style:parent-style-name=\"P1\"/>");
    const QString text = QStringLiteral("<text:p>First page</text:p><text:soft-page-break/><text:p>Second page</text:p>"
                                        "<text:p text:style-name=\"P2\">Third page, by an inherited style</text:p>");
    const OfficeText doc = readOdt(nw::test::makeOdt(text, styles));
    const std::vector<PageContent> pages = paginate(doc.paragraphs, 3000, doc.recordedBreaks);
    QCOMPARE(pages.size(), std::size_t(3));
    QCOMPARE(pages[1].text, QStringLiteral("Second page"));
    QCOMPARE(pages[2].text, QStringLiteral("Third page, by an inherited style"));
    QCOMPARE(pages[2].firstParagraph, 3);
}

void TestFormats::htmlReadingOrder()
{
    const HtmlText html = htmlToText(
        QByteArray("<!DOCTYPE html><html><head><title>Board minutes</title><style>p{color:red}</style>"
                   "<script>var secret = 'not text';</script></head><body>"
                   "<h1>Minutes of the board</h1><p>The board met on <b>2 May</b> &amp; approved\n   the budget.</p>"
                   "<ul><li>Item one<li>Item two</ul><ol><li>First<li>Second</ol>"
                   "<table><tr><th>Name<th>Vote</tr><tr><td>Ann<td>yes</tr></table>"
                   "<p>Line<br>break</p><pre>  kept\n    spacing</pre><div>unclosed <span>tags"));
    QCOMPARE(html.title, QStringLiteral("Board minutes"));
    QCOMPARE(texts(html.paragraphs),
        QStringList(
            { QStringLiteral("Minutes of the board"), QStringLiteral("The board met on 2 May & approved the budget."),
                QStringLiteral("• Item one"), QStringLiteral("• Item two"), QStringLiteral("1. First"),
                QStringLiteral("2. Second"), QStringLiteral("Name | Vote"), QStringLiteral("Ann | yes"),
                QStringLiteral("Line\nbreak"), QStringLiteral("kept\n    spacing"), QStringLiteral("unclosed tags") }));
}

void TestFormats::htmlBlankLinesEndParagraphs()
{
    // fuzz_html: two <br> or an empty line of a <pre> put a blank line inside one paragraph, and
    // page text counts paragraphs by blank lines, so the numbers of those after it were off.
    const HtmlText html = htmlToText(QByteArray("<p>one<br><br>two</p><pre>a\n\n  b</pre><p>three</p>"));
    QCOMPARE(texts(html.paragraphs),
        QStringList({ QStringLiteral("one"), QStringLiteral("two"), QStringLiteral("a"), QStringLiteral("b"),
            QStringLiteral("three") }));
    const std::vector<PageContent> pages = paginate(html.paragraphs, 3000, false);
    QCOMPARE(pages.size(), std::size_t(1));
    QCOMPARE(paragraphsOf(pages[0].text).size(), std::size_t(5));
}

void TestFormats::htmlEncodingsAndDepth()
{
    // Latin-1 named by <meta charset>; bytes that are not UTF-8.
    const HtmlText latin = htmlToText(
        QByteArray("<html><head><meta charset=\"iso-8859-1\"></head><body><p>Caf\xe9 cr\xe8me</p></body></html>"));
    QCOMPARE(texts(latin.paragraphs), QStringList({ QStringLiteral("Café crème") }));
    // Nesting as deep as real pages go costs little; a hostile depth is refused before parsing
    // (Gumbo's time grows with the square of the depth: 100,000 levels took a minute).
    QElapsedTimer clock;
    clock.start();
    const HtmlText deep
        = htmlToText(QByteArray("<div>").repeated(1500) + "bottom" + QByteArray("</div>").repeated(1500));
    QCOMPARE(texts(deep.paragraphs), QStringList({ QStringLiteral("bottom") }));
    const HtmlText paragraphs
        = htmlToText(QByteArray("<p>open paragraph ").repeated(5000)); // never closed, never nested
    QCOMPARE(paragraphs.paragraphs.size(), std::size_t(5000));
    try {
        htmlToText(QByteArray("<div>").repeated(100000) + "bottom");
        QFAIL("100,000 nested elements were parsed");
    } catch (const IngestFailure &f) {
        QCOMPARE(f.problem(), IngestProblem::TooDeep);
    }
    QVERIFY2(clock.elapsed() < 10000, qPrintable(QString::number(clock.elapsed())));
}

void TestFormats::formatsAreToldByContent()
{
    QCOMPARE(detectFormat(QStringLiteral("a.docx"), nw::test::makeDocx(docxParagraph(QStringLiteral("x"))).left(4096)),
        FileFormat::Docx);
    QCOMPARE(detectFormat(QStringLiteral("noext"), nw::test::makeOdt(QStringLiteral("<text:p>x</text:p>")).left(4096)),
        FileFormat::Odt);
    QCOMPARE(detectFormat(QStringLiteral("x.txt"), "%PDF-1.4\n"), FileFormat::Pdf);
    QCOMPARE(
        detectFormat(QStringLiteral("Inbox"), "From a@b.c Mon Jan  1 00:00:00 2024\nFrom: a@b.c\nTo: d@e.f\n\nhi\n"),
        FileFormat::Mailbox);
    QCOMPARE(
        detectFormat(QStringLiteral("msg"), "Received: by x\nFrom: a@b.c\nSubject: hi\n\nbody\n"), FileFormat::Email);
    QCOMPARE(detectFormat(QStringLiteral("page"), "<!DOCTYPE html><html><body>x</body></html>"), FileFormat::Html);
    QCOMPARE(detectFormat(QStringLiteral("notes"), "plain words\n"), FileFormat::Text);
    QCOMPARE(detectFormat(QStringLiteral("notes.txt"), QByteArray("\x00\x01\x02\xff", 4)), FileFormat::Unknown);
    QCOMPARE(detectFormat(QStringLiteral("old.doc"), QByteArray::fromHex("d0cf11e0a1b11ae1")), FileFormat::Unknown);
}

// Through the ingest: kind, title, pages with their first paragraph, searchable text.
void TestFormats::documentsGoIntoTheLibrary()
{
    QTemporaryDir dir;
    LibraryStore store(dir.filePath(QStringLiteral("lib.sqlite")));
    const QString docx = dir.filePath(QStringLiteral("msa.docx"));
    const QString odt = dir.filePath(QStringLiteral("lease.odt"));
    const QString html = dir.filePath(QStringLiteral("minutes.html"));
    QString body;
    for (int i = 1; i <= 40; ++i)
        body
            += docxParagraph(QStringLiteral("Clause %1 obliges the contractor to report quarterly on topic%1.").arg(i));
    QVERIFY(nw::test::writeBytes(docx, nw::test::makeDocx(body, {}, QStringLiteral("Services Agreement"))));
    QVERIFY(nw::test::writeBytes(
        odt, nw::test::makeOdt(QStringLiteral("<text:p>The tenant pays the heating costs.</text:p>"))));
    QVERIFY(nw::test::writeBytes(
        html, "<html><head><title>Minutes</title></head><body><p>The auditors resigned.</p></body></html>"));
    IngestOptions options;
    options.textPageChars = 700;
    Ingestor ingestor(store, options);
    const IngestSummary summary = ingestor.run({ dir.path() });
    QCOMPARE(summary.added, 3);
    std::map<QString, nw::store::DocumentInfo> byKind;
    for (const nw::store::DocumentInfo &d : store.documents())
        byKind[d.kind] = d;
    QCOMPARE(byKind.size(), std::size_t(3));
    QCOMPARE(byKind[QStringLiteral("docx")].title, QStringLiteral("Services Agreement"));
    QCOMPARE(byKind[QStringLiteral("html")].title, QStringLiteral("Minutes"));
    QCOMPARE(byKind[QStringLiteral("odt")].title, QStringLiteral("lease"));
    const nw::store::DocumentInfo &agreement = byKind[QStringLiteral("docx")];
    QVERIFY(agreement.pageCount >= 4);
    // Each page's first paragraph, and the paragraph of a clause counted from it.
    nw::store::SearchService search(store);
    const auto hits = search.search(QStringLiteral("topic27"));
    QCOMPARE(hits.size(), std::size_t(1));
    const nw::store::PageRecord page = store.requirePage(agreement.id, hits[0].pageNumber);
    const int offset = static_cast<int>(page.text.indexOf(QStringLiteral("Clause 27 ")));
    QVERIFY(offset >= 0);
    QCOMPARE(page.firstParagraph + static_cast<int>(page.text.left(offset).count(QStringLiteral("\n\n"))), 27);
}

void TestFormats::badOfficeFilesAreOneLine_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<int>("problem");
    QTest::addColumn<QString>("reasonWord");
    const QByteArray good = nw::test::makeDocx(docxParagraph(QStringLiteral("Good words here")));
    QTest::addRow("not a zip") << "notzip.docx" << QByteArray("this is plain text in a .docx")
                               << int(IngestProblem::Corrupt) << "not a zip";
    QTest::addRow("truncated") << "cut.docx" << good.left(good.size() / 2) << int(IngestProblem::Truncated)
                               << "truncated";
    QTest::addRow("no document inside") << "empty.docx"
                                        << nw::test::makeZip({ { QStringLiteral("[Content_Types].xml"), "<Types/>" } })
                                        << int(IngestProblem::Corrupt) << "word/document.xml";
    QTest::addRow("broken XML") << "broken.docx" << nw::test::makeDocx(QStringLiteral("<w:p><w:r><w:t>open</w:r>"))
                                << int(IngestProblem::Corrupt) << "does not parse";
    // 8 MiB of one letter deflates to a few KiB: a thousandfold expansion.
    QTest::addRow("zip bomb") << "bomb.docx"
                              << nw::test::makeDocx(docxParagraph(QStringLiteral("x")), {}, {},
                                     { { QStringLiteral("word/footnotes.xml"), QByteArray(8 << 20, 'a') } })
                              << int(IngestProblem::TooLarge) << "zip bomb";
    QByteArray ole = QByteArray::fromHex("d0cf11e0a1b11ae1") + QByteArray(512, '\0');
    QTest::addRow("Word 97 .doc") << "old.docx" << ole << int(IngestProblem::Unsupported) << ".doc";
    QTest::addRow("encrypted .docx") << "secret.docx"
                                     << ole
            + QByteArray::fromRawData("E\0n\0c\0r\0y\0p\0t\0e\0d\0P\0a\0c\0k\0a\0g\0e\0", 32)
                                     << int(IngestProblem::Encrypted) << "password";
    QTest::addRow("encrypted .odt") << "secret.odt"
                                    << nw::test::makeOdt(QStringLiteral("<text:p>x</text:p>"), {},
                                           QStringLiteral("<manifest:encryption-data/>"))
                                    << int(IngestProblem::Encrypted) << "password";
    QTest::addRow("encrypted zip member")
        << "zipcrypto.docx"
        << nw::test::makeZip({ { QStringLiteral("[Content_Types].xml"), "<Types/>" },
               { QStringLiteral("word/document.xml"), "<w:document/>", false, true } })
        << int(IngestProblem::Encrypted) << "password";
}

void TestFormats::badOfficeFilesAreOneLine()
{
    QFETCH(QString, name);
    QFETCH(QByteArray, bytes);
    QFETCH(int, problem);
    QFETCH(QString, reasonWord);
    QTemporaryDir dir;
    LibraryStore store(dir.filePath(QStringLiteral("lib.sqlite")));
    const QString bad = dir.filePath(name);
    const QString good = dir.filePath(QStringLiteral("good.docx"));
    QVERIFY(nw::test::writeBytes(bad, bytes));
    QVERIFY(nw::test::writeBytes(good, nw::test::makeDocx(docxParagraph(QStringLiteral("Good words here")))));
    IngestOptions options;
    options.zip.maxUnpackedBytes = 4 << 20; // the bomb's 8 MiB is over it and 1,000 times its size
    Ingestor ingestor(store, options);
    const IngestSummary summary = ingestor.run({ bad, good });
    QCOMPARE(summary.added, 1);
    QCOMPARE(summary.failed, 1);
    const FileOutcome &failed = summary.files[0];
    QCOMPARE(int(*failed.problem), problem);
    QVERIFY2(failed.reason.contains(reasonWord, Qt::CaseInsensitive) && !failed.reason.contains(QLatin1Char('\n')),
        qPrintable(failed.reason));
    QCOMPARE(store.ingestErrors().size(), std::size_t(1));
    QCOMPARE(store.stats().documents, 1);
}

QTEST_MAIN(TestFormats)
#include "tst_formats.moc"
