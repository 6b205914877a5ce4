// The bundled sample corpus and its PDFs: the texts are Debian's licence files verbatim, and
// the PDFs, read back through Poppler (the ingest path), hold the same words on the pages the
// paginator put them on, with word boxes where the layout puts each line.
#include "app/sample_corpus.h"
#include "app/text_pdf.h"
#include "ingest/pdf_document.h"

#include "common/error.h"

#include <QDateTime>
#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

using namespace nw::app;

class TestSample : public QObject {
    Q_OBJECT
private slots:
    void textsAreVerbatim();
    void paginationBreaksPages();
    void pdfReadsBackPageByPage_data();
    void pdfReadsBackPageByPage();
    void pdfsAreWrittenOnce();
};

void TestSample::textsAreVerbatim()
{
    const auto texts = sampleTexts();
    QCOMPARE(texts.size(), std::size_t(7));
    for (const SampleText &t : texts) {
        QFile system(QStringLiteral("/usr/share/common-licenses/") + t.name);
        if (!system.open(QIODevice::ReadOnly))
            QSKIP("this system has no /usr/share/common-licenses");
        QCOMPARE(t.text, QString::fromUtf8(system.readAll()));
    }
    QVERIFY_THROWS_EXCEPTION(nw::Error, requireSampleText(QStringLiteral("BSD-0")));
}

void TestSample::paginationBreaksPages()
{
    TextPdfLayout layout; // Letter: (792 - 60 - 60) / 12 = 56 lines, (612 - 108) / 6 = 84 columns
    QCOMPARE(layout.linesPerPage(), 56);
    QCOMPARE(layout.charsPerLine(), 84);
    QStringList lines;
    for (int i = 1; i <= 60; ++i)
        lines << QStringLiteral("line %1").arg(i);
    auto pages = paginateText(lines.join(QLatin1Char('\n')), layout);
    QCOMPARE(pages.size(), std::size_t(2));
    QCOMPARE(pages[0].size(), std::size_t(56));
    QCOMPARE(pages[1].front(), QStringLiteral("line 57"));
    // A form feed starts a page; blank lines at the top of a page are dropped; tabs expand to 8.
    pages = paginateText(QStringLiteral("a\f\n\nb\tc"), layout);
    QCOMPARE(pages.size(), std::size_t(2));
    QCOMPARE(pages[1], std::vector<QString>{QStringLiteral("b       c")});
    // A long line wraps at a space and keeps its indentation.
    pages = paginateText(QStringLiteral("  ") + QString(50, QLatin1Char('x')) + QStringLiteral(" ") + QString(50, QLatin1Char('y')), layout);
    QCOMPARE(pages[0].size(), std::size_t(2));
    QCOMPARE(pages[0][1], QStringLiteral("  ") + QString(50, QLatin1Char('y')));
}

void TestSample::pdfReadsBackPageByPage_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<int>("paper");
    QTest::addRow("GPL-3 Letter") << "GPL-3" << int(PaperSize::Letter);
    QTest::addRow("LGPL-2.1 A4 (form feeds)") << "LGPL-2.1" << int(PaperSize::A4);
    QTest::addRow("Artistic Letter (tabs)") << "Artistic" << int(PaperSize::Letter);
}

void TestSample::pdfReadsBackPageByPage()
{
    QFETCH(QString, name);
    QFETCH(int, paper);
    QTemporaryDir dir;
    TextPdfLayout layout;
    layout.paper = static_cast<PaperSize>(paper);
    const SampleText text = requireSampleText(name);
    const QString path = dir.filePath(name + QStringLiteral(".pdf"));
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(renderTextPdf(text.title, text.text, layout));
    file.close();

    const auto pages = paginateText(text.text, layout);
    const auto pdf = nw::ingest::PdfDocument::open(path);
    QCOMPARE(pdf.pageCount(), static_cast<int>(pages.size()));
    QCOMPARE(pdf.metadata().title, text.title);
    const QRegularExpression space(QStringLiteral("\\s+"));
    for (int p = 0; p < pdf.pageCount(); ++p) {
        const auto content = pdf.page(p, true);
        QCOMPARE(content.size, QSizeF(layout.pageWidth(), layout.pageHeight()));
        // Same words in the same order as the paginator's lines for this page.
        QStringList expected;
        for (const QString &line : pages[static_cast<std::size_t>(p)])
            expected << line.split(space, Qt::SkipEmptyParts);
        QCOMPARE(content.text.split(space, Qt::SkipEmptyParts), expected);
        // The first word sits at the left margin on the first line: its box starts at x = 54
        // pt (or its column × 6 pt further) and its top is within the first 12-pt line.
        QVERIFY(!content.words.empty());
        const QRectF first = content.words.front().box;
        int column = 0;
        while (pages[static_cast<std::size_t>(p)].front()[column] == QLatin1Char(' '))
            ++column;
        QVERIFY2(std::abs(first.left() - (layout.marginLeft + 6.0 * column)) < 0.6, qPrintable(QString::number(first.left())));
        QVERIFY(first.top() >= layout.marginTop - 3 && first.bottom() <= layout.marginTop + layout.leading + 4);
    }
}

void TestSample::pdfsAreWrittenOnce()
{
    QTemporaryDir dir;
    const QStringList first = writeSamplePdfs(dir.path());
    QCOMPARE(first.size(), 7);
    const QDateTime stamp = QFileInfo(first.front()).lastModified();
    QTest::qWait(1100);
    const QStringList second = writeSamplePdfs(dir.path());
    QCOMPARE(second, first);
    QCOMPARE(QFileInfo(second.front()).lastModified(), stamp);
}

QTEST_GUILESS_MAIN(TestSample)
#include "tst_sample.moc"
