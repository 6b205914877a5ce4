// PDF extraction through Poppler: page text round trip (ASCII, accents, CJK when a font has the
// glyphs), page labels and metadata, word boxes inside the page and where the text was drawn,
// and the reason given for every kind of bad file.
#include "ingest/pdf_document.h"
#include "tests/ingest/pdf_fixtures.h"

#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>

using nw::ingest::IngestFailure;
using nw::ingest::IngestProblem;
using nw::ingest::PdfDocument;

class TestPdfDocument : public QObject {
    Q_OBJECT
private slots:
    void textRoundTrip_data();
    void textRoundTrip();
    void cjkRoundTrip();
    void wordBoxesLieInsideThePage();
    void readingOrderFollowsColumns();
    void hyphenatedLinesAndOlderText();
    void pageLabelsAndMetadata();
    void readableDespiteTheirEnd_data();
    void readableDespiteTheirEnd();
    void badFiles_data();
    void badFiles();

private:
    QString file(const QString &name) const { return m_dir.filePath(name); }
    QTemporaryDir m_dir;
};

void TestPdfDocument::textRoundTrip_data()
{
    QTest::addColumn<QStringList>("pages");
    QTest::addRow("ascii") << QStringList{"Hello world from page one", "The second page says goodbye"};
    QTest::addRow("accents") << QStringList{"Café crème brûlée and a naïve résumé", "Ærøskøbing, Straße, Gdańsk, São Paulo"};
    QTest::addRow("lines") << QStringList{"first line here\nsecond line below\nthird line last"};
    QTest::addRow("ligatures spelled out") << QStringList{"office affluent flow fjord"}; // DejaVu draws ﬁ ﬄ ﬂ
    QTest::addRow("digits and punctuation") << QStringList{"Section 4.2: payment within 30 days (net), 12% interest."};
}

void TestPdfDocument::textRoundTrip()
{
    QFETCH(QStringList, pages);
    const QString path = file(QStringLiteral("round.pdf"));
    QVERIFY(nw::test::writeTextPdf(path, pages));
    const PdfDocument pdf = PdfDocument::open(path);
    QCOMPARE(pdf.pageCount(), static_cast<int>(pages.size()));
    for (int i = 0; i < pdf.pageCount(); ++i) {
        const nw::ingest::PageContent page = pdf.page(i, false);
        QCOMPARE(page.number, i + 1);
        QCOMPARE(page.text, pages[i]);
        QVERIFY(page.words.empty());
        QCOMPARE(qRound(page.size.width()), 595); // A4 in points
        QCOMPARE(qRound(page.size.height()), 842);
    }
}

void TestPdfDocument::cjkRoundTrip()
{
    const QString text = QStringLiteral("合同条款 第三条 保密义务");
    if (!nw::test::someFontRenders(QStringLiteral("合同条款第三保密义务")))
        QSKIP("no installed font has CJK glyphs (fc-list :lang=zh is empty); install fonts-wqy-microhei (scripts/setup-deps.sh does) to run this");
    const QString path = file(QStringLiteral("cjk.pdf"));
    QVERIFY(nw::test::writeTextPdf(path, {text}));
    const PdfDocument pdf = PdfDocument::open(path);
    QCOMPARE(pdf.page(0, false).text.remove(QLatin1Char(' ')), QString(text).remove(QLatin1Char(' ')));
}

void TestPdfDocument::wordBoxesLieInsideThePage()
{
    const QStringList pages{"alpha beta gamma delta\nepsilon zeta", "Ωmega and ünïcode wörds"};
    const QString path = file(QStringLiteral("boxes.pdf"));
    QVERIFY(nw::test::writeTextPdf(path, pages));
    const PdfDocument pdf = PdfDocument::open(path);
    for (int i = 0; i < pdf.pageCount(); ++i) {
        const nw::ingest::PageContent page = pdf.page(i, true);
        QCOMPARE(page.text, pages[i]); // the same text with or without words
        const QStringList expectedWords = QString(pages[i]).replace(QLatin1Char('\n'), QLatin1Char(' ')).split(QLatin1Char(' '));
        QCOMPARE(page.words.size(), static_cast<std::size_t>(expectedWords.size()));
        const QRectF bounds(QPointF(0, 0), page.size);
        for (std::size_t w = 0; w < page.words.size(); ++w) {
            const nw::store::WordBox &box = page.words[w];
            QCOMPARE(page.text.mid(box.offset, box.length), expectedWords[static_cast<qsizetype>(w)]);
            QVERIFY2(bounds.contains(box.box) && box.box.width() > 0 && box.box.height() > 0,
                     qPrintable(QStringLiteral("word %1 box %2,%3 %4x%5").arg(w).arg(box.box.x()).arg(box.box.y())
                                    .arg(box.box.width()).arg(box.box.height())));
        }
        // The first word starts where it was drawn and straddles the first baseline.
        const QRectF first = page.words.front().box;
        QVERIFY2(std::abs(first.left() - nw::test::kLeft) < 2.0, qPrintable(QString::number(first.left())));
        QVERIFY2(first.top() < nw::test::kTop && first.bottom() > nw::test::kTop - 3, qPrintable(QString::number(first.top())));
        QVERIFY(first.height() < 2.5 * nw::test::kFontPoints);
        // Words on the second line sit one line step lower.
        if (i == 0) {
            const QRectF secondLine = page.words[4].box;
            QVERIFY(std::abs((secondLine.top() - first.top()) - nw::test::kLineStep) < 1.0);
        }
    }
}

void TestPdfDocument::readingOrderFollowsColumns()
{
    // Physical layout would interleave the columns line by line ("left one   right one"); raw
    // order would follow the drawing order. Reading order takes each column whole.
    const QStringList left{"the left column starts here", "and continues on this line", "then ends with this one"};
    const QStringList right{"a right column begins", "with its own second line", "and its third"};
    const QString path = file(QStringLiteral("columns.pdf"));
    QVERIFY(nw::test::writeTwoColumnPdf(path, left, right));
    const nw::ingest::PageContent page = PdfDocument::open(path).page(0, true);
    QCOMPARE(page.text, (left + right).join(QLatin1Char('\n')));
    QCOMPARE(page.words.size(), std::size_t(27)); // 15 on the left, 12 on the right
    QCOMPARE(page.text.mid(page.words[15].offset, page.words[15].length), QStringLiteral("a"));
    QVERIFY(page.words[15].box.left() > 300); // "a", the first word of the right column, sits in it
}

void TestPdfDocument::hyphenatedLinesAndOlderText()
{
    // Poppler's text joins a word split by a hyphen at the end of a line (as pdftotext prints
    // it), so "wellknown" is found; its two boxes cover "well" and "known".
    const QString path = file(QStringLiteral("hyphen.pdf"));
    QVERIFY(nw::test::writeTextPdf(path, {"a well-\nknown fact"}));
    const PdfDocument pdf = PdfDocument::open(path);
    const nw::ingest::PageContent page = pdf.page(0, true);
    QCOMPARE(page.text, QStringLiteral("a wellknown fact"));
    QCOMPARE(page.words.size(), std::size_t(4));
    const std::vector<std::pair<int, int>> joined{{0, 1}, {2, 4}, {6, 5}, {12, 4}}; // offset, length by hand
    for (std::size_t w = 0; w < joined.size(); ++w) {
        QCOMPARE(int(page.words[w].offset), joined[w].first);
        QCOMPARE(int(page.words[w].length), joined[w].second);
    }
    QVERIFY(page.words[2].box.top() > page.words[1].box.top() + 10); // "known" is on the next line

    // Libraries ingested before kept the hyphen and the line break; boxes still land on them.
    const std::optional<std::vector<nw::store::WordBox>> older = pdf.wordBoxes(0, QStringLiteral("a well-\nknown fact"));
    QVERIFY(older.has_value());
    const std::vector<std::pair<int, int>> kept{{0, 1}, {2, 5}, {8, 5}, {14, 4}};
    QCOMPARE(older->size(), kept.size());
    for (std::size_t w = 0; w < kept.size(); ++w) {
        QCOMPARE(int((*older)[w].offset), kept[w].first);
        QCOMPARE(int((*older)[w].length), kept[w].second);
    }
    // Text that is not the page's: no boxes rather than wrong ones.
    QVERIFY(!pdf.wordBoxes(0, QStringLiteral("a well known fact")).has_value());
    QVERIFY(!pdf.wordBoxes(0, QStringLiteral("a wellknown fact and more")).has_value());
    QVERIFY_THROWS_EXCEPTION(nw::Error, pdf.wordBoxes(1, QStringLiteral("x")));
}

void TestPdfDocument::pageLabelsAndMetadata()
{
    // Roman numerals for two front-matter pages, then decimal from 1 (PDF 1.7, 12.4.2).
    const QByteArray labels = "/PageLabels << /Nums [0 << /S /r >> 2 << /S /D >>] >>";
    const QString path = file(QStringLiteral("labels.pdf"));
    QVERIFY(nw::test::writeBytes(path, nw::test::handWrittenPdf({"Preface text", "Contents list", "Chapter one begins"}, labels)));
    const PdfDocument pdf = PdfDocument::open(path);
    QCOMPARE(pdf.pageCount(), 3);
    QCOMPARE(pdf.page(0, false).label, QStringLiteral("i"));
    QCOMPARE(pdf.page(1, false).label, QStringLiteral("ii"));
    QCOMPARE(pdf.page(2, false).label, QStringLiteral("1"));
    QCOMPARE(pdf.page(2, false).text, QStringLiteral("Chapter one begins"));
    QCOMPARE(qRound(pdf.page(0, false).size.width()), 612); // the MediaBox written above

    const QString titled = file(QStringLiteral("titled.pdf"));
    QVERIFY(nw::test::writeTextPdf(titled, {"x"}, QStringLiteral("Master Services Agreement")));
    QCOMPARE(PdfDocument::open(titled).metadata().title, QStringLiteral("Master Services Agreement"));
}

// What mail gateways, scanners and careless copies do to the end of a file that is otherwise
// whole: Poppler (and pdftotext) read every page of these, so the ingest must too.
void TestPdfDocument::readableDespiteTheirEnd_data()
{
    QTest::addColumn<QString>("end");
    QTest::addRow("1 KiB of garbage after %%EOF") << "garbage";
    QTest::addRow("%%EO of the final %%EOF missing") << "eo";
    QTest::addRow("no %%EOF at all") << "noeof";
    QTest::addRow("1,100 NULs after %%EOF") << "nuls";
    QTest::addRow("4,096 newlines after %%EOF") << "newlines";
}

void TestPdfDocument::readableDespiteTheirEnd()
{
    QFETCH(QString, end);
    const QStringList pages{"First page of a mailed contract", "Second page with the clause", "Third page, signatures"};
    const QString good = file(QStringLiteral("whole.pdf"));
    QVERIFY(nw::test::writeTextPdf(good, pages));
    QByteArray bytes = nw::test::readBytes(good);
    const qsizetype eof = bytes.lastIndexOf("%%EOF");
    QVERIFY(eof > 0);
    if (end == QLatin1String("garbage")) {
        QRandomGenerator random(25);
        QByteArray garbage(1024, Qt::Uninitialized);
        for (char &c : garbage)
            c = static_cast<char>(random.bounded(256));
        bytes += garbage;
    } else if (end == QLatin1String("eo")) {
        bytes.remove(eof, 4); // "F\n" is left
    } else if (end == QLatin1String("noeof")) {
        bytes.truncate(eof);
    } else if (end == QLatin1String("nuls")) {
        bytes += QByteArray(1100, '\0');
    } else {
        bytes += QByteArray(4096, '\n');
    }
    const QString path = file(end + QStringLiteral(".pdf"));
    QVERIFY(nw::test::writeBytes(path, bytes));
    const PdfDocument pdf = PdfDocument::open(path);
    QCOMPARE(pdf.pageCount(), static_cast<int>(pages.size()));
    for (int i = 0; i < pdf.pageCount(); ++i)
        QCOMPARE(pdf.page(i, false).text, pages[i]);
}

void TestPdfDocument::badFiles_data()
{
    QTest::addColumn<QString>("kind");
    QTest::addColumn<int>("problem");
    QTest::addColumn<QString>("reasonWord");
    QTest::addRow("text named .pdf") << "text" << int(IngestProblem::NotPdf) << "not a PDF";
    QTest::addRow("png named .pdf") << "png" << int(IngestProblem::NotPdf) << "PNG";
    QTest::addRow("truncated") << "truncated" << int(IngestProblem::Truncated) << "truncated";
    // A linearized file keeps a first-page trailer at its start, so Poppler opens what is left of
    // it, with the later pages lost: still truncated.
    QTest::addRow("linearized, truncated") << "linearized" << int(IngestProblem::Truncated) << "truncated";
    QTest::addRow("garbage after header") << "corrupt" << int(IngestProblem::Corrupt) << "damaged";
    QTest::addRow("encrypted") << "encrypted" << int(IngestProblem::Encrypted) << "password";
    QTest::addRow("zero pages") << "zero" << int(IngestProblem::ZeroPages) << "no pages";
    QTest::addRow("missing") << "missing" << int(IngestProblem::Unreadable) << "cannot be read";
}

void TestPdfDocument::badFiles()
{
    QFETCH(QString, kind);
    QFETCH(int, problem);
    QFETCH(QString, reasonWord);
    const QString good = file(QStringLiteral("good.pdf"));
    QVERIFY(nw::test::writeTextPdf(good, {"Some text on a page", "and more on the next one"}));
    const QString path = file(kind + QStringLiteral(".pdf"));
    if (kind == QLatin1String("text")) {
        QVERIFY(nw::test::writeBytes(path, "Just some notes, not a PDF at all.\n"));
    } else if (kind == QLatin1String("png")) {
        QImage image(8, 8, QImage::Format_RGB32);
        image.fill(Qt::red);
        QVERIFY(image.save(path, "PNG"));
    } else if (kind == QLatin1String("truncated")) {
        const QByteArray bytes = nw::test::readBytes(good);
        QVERIFY(nw::test::writeBytes(path, bytes.left(bytes.size() / 2)));
    } else if (kind == QLatin1String("linearized")) {
        QStringList many;
        for (int i = 1; i <= 12; ++i)
            many << QStringLiteral("Page %1 of a long linearized file").arg(i);
        const QString whole = file(QStringLiteral("many.pdf")), linear = file(QStringLiteral("linear.pdf"));
        QVERIFY(nw::test::writeTextPdf(whole, many));
        QVERIFY2(nw::test::linearizeWithQpdf(whole, linear), "qpdf (Debian package qpdf) is needed");
        const QByteArray bytes = nw::test::readBytes(linear);
        QVERIFY(nw::test::writeBytes(path, bytes.left(bytes.size() / 2)));
    } else if (kind == QLatin1String("corrupt")) {
        QByteArray bytes = "%PDF-1.7\n";
        for (int i = 0; i < 200; ++i)
            bytes += "\x01\x02garbage\xff\xfe";
        QVERIFY(nw::test::writeBytes(path, bytes + "\n%%EOF\n"));
    } else if (kind == QLatin1String("encrypted")) {
        QVERIFY2(nw::test::encryptWithQpdf(good, path), "qpdf (Debian package qpdf) is needed");
    } else if (kind == QLatin1String("zero")) {
        QVERIFY(nw::test::writeBytes(path, nw::test::handWrittenPdf({})));
    }
    try {
        PdfDocument::open(path);
        QFAIL("a bad file was opened");
    } catch (const IngestFailure &f) {
        QCOMPARE(int(f.problem()), problem);
        QVERIFY2(f.reason().contains(reasonWord, Qt::CaseInsensitive), qPrintable(f.reason()));
    }
}

// QPdfWriter and QPainter need fonts, hence a QGuiApplication (offscreen under CTest).
QTEST_MAIN(TestPdfDocument)
#include "tst_pdf_document.moc"
