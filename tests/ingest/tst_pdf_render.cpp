// PdfDocument::renderPage: a generated 200 × 100 pt page with one black rectangle, drawn at
// 144 dpi, is 400 × 200 pixels, white outside the rectangle and black inside it (the geometry
// is the one the test drew, doubled); bad indexes and resolutions are refused.
#include "ingest/pdf_document.h"

#include <QPainter>
#include <QPdfWriter>
#include <QTemporaryDir>
#include <QTest>

#include <cstdlib>

using nw::ingest::PdfDocument;

class TestPdfRender : public QObject {
    Q_OBJECT
private slots:
    void rendersSizeAndPixels();
    void refusesBadArguments();

private:
    QString writePdf();
    QTemporaryDir m_dir;
};

QString TestPdfRender::writePdf()
{
    const QString path = m_dir.filePath(QStringLiteral("box.pdf"));
    QPdfWriter writer(path);
    writer.setPageSize(QPageSize(QSizeF(200, 100), QPageSize::Point));
    writer.setPageMargins(QMarginsF(0, 0, 0, 0));
    writer.setResolution(72);
    QPainter painter(&writer);
    painter.fillRect(QRectF(50, 20, 60, 40), Qt::black); // points: x 50..110, y 20..60
    painter.end();
    return path;
}

void TestPdfRender::rendersSizeAndPixels()
{
    QVERIFY(m_dir.isValid());
    const PdfDocument doc = PdfDocument::open(writePdf());
    QCOMPARE(doc.pageCount(), 1);
    const QImage image = doc.renderPage(0, 144).convertToFormat(QImage::Format_RGB32);
    QVERIFY(!image.isNull());
    QCOMPARE(image.size(), QSize(400, 200));
    QCOMPARE(QColor(image.pixel(10, 10)), QColor(Qt::white));     // outside
    QCOMPARE(QColor(image.pixel(390, 190)), QColor(Qt::white));   // outside, far corner
    QCOMPARE(QColor(image.pixel(160, 80)), QColor(Qt::black));    // (80, 40) pt: inside
    QCOMPARE(QColor(image.pixel(215, 115)), QColor(Qt::black));   // (107.5, 57.5) pt: inside
    QCOMPARE(QColor(image.pixel(230, 80)), QColor(Qt::white));    // (115, 40) pt: right of it
    int dark = 0;
    for (int y = 0; y < image.height(); ++y)
        for (int x = 0; x < image.width(); ++x)
            dark += qGray(image.pixel(x, y)) < 128;
    // 120 × 80 pixels, give or take the antialiased edge.
    QVERIFY2(std::abs(dark - 120 * 80) <= 2 * (120 + 80), qPrintable(QString::number(dark)));
}

void TestPdfRender::refusesBadArguments()
{
    const PdfDocument doc = PdfDocument::open(writePdf());
    QVERIFY_THROWS_EXCEPTION(nw::Error, doc.renderPage(1, 72));
    QVERIFY_THROWS_EXCEPTION(nw::Error, doc.renderPage(-1, 72));
    QVERIFY_THROWS_EXCEPTION(nw::Error, doc.renderPage(0, 0));
}

QTEST_MAIN(TestPdfRender)
#include "tst_pdf_render.moc"
