// Test documents made on the spot: PDFs drawn with QPdfWriter (known text per page, at known
// positions), PDFs written byte by byte (page labels, zero pages), image-only PDFs, and the
// damaged and encrypted variants the ingest must refuse. Needs a QGuiApplication (fonts).
#pragma once

#include <QByteArray>
#include <QFile>
#include <QFontDatabase>
#include <QImage>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QProcess>
#include <QRawFont>
#include <QString>
#include <QStringList>

namespace nw::test {

constexpr double kLeft = 72;      // points: where the first line of each page starts
constexpr double kTop = 96;       // baseline of the first line
constexpr double kLineStep = 18;  // baseline to baseline
constexpr int kFontPoints = 12;

inline QFont testFont()
{
    QFont font(QStringLiteral("DejaVu Sans"));
    font.setPointSize(kFontPoints);
    return font;
}

// One page per entry; the lines of an entry ('\n') are drawn top to bottom at kLeft.
inline bool writeTextPdf(const QString &path, const QStringList &pages, const QString &title = {})
{
    QPdfWriter writer(path);
    writer.setResolution(72); // painter units are points
    writer.setPageSize(QPageSize(QPageSize::A4));
    writer.setPageMargins(QMarginsF(0, 0, 0, 0));
    if (!title.isEmpty())
        writer.setTitle(title);
    QPainter painter;
    if (!painter.begin(&writer))
        return false;
    painter.setFont(testFont());
    for (qsizetype i = 0; i < pages.size(); ++i) {
        if (i > 0)
            writer.newPage();
        const QStringList lines = pages[i].split(QLatin1Char('\n'));
        for (qsizetype l = 0; l < lines.size(); ++l)
            painter.drawText(QPointF(kLeft, kTop + kLineStep * static_cast<double>(l)), lines[l]);
    }
    return painter.end();
}

// One page with two columns of lines, the left at kLeft and the right at `rightX`, both from
// kTop down: a reader goes down the left column first.
inline bool writeTwoColumnPdf(const QString &path, const QStringList &left, const QStringList &right, double rightX = 330)
{
    QPdfWriter writer(path);
    writer.setResolution(72);
    writer.setPageSize(QPageSize(QPageSize::A4));
    writer.setPageMargins(QMarginsF(0, 0, 0, 0));
    QPainter painter;
    if (!painter.begin(&writer))
        return false;
    painter.setFont(testFont());
    for (qsizetype l = 0; l < left.size(); ++l)
        painter.drawText(QPointF(kLeft, kTop + kLineStep * static_cast<double>(l)), left[l]);
    for (qsizetype l = 0; l < right.size(); ++l)
        painter.drawText(QPointF(rightX, kTop + kLineStep * static_cast<double>(l)), right[l]);
    return painter.end();
}

// Pages with a picture and no text at all (what a scanner produces).
inline bool writeImagePdf(const QString &path, int pages)
{
    QPdfWriter writer(path);
    writer.setResolution(72);
    writer.setPageSize(QPageSize(QPageSize::A4));
    QPainter painter;
    if (!painter.begin(&writer))
        return false;
    QImage image(200, 100, QImage::Format_RGB32);
    image.fill(Qt::gray);
    for (int i = 0; i < pages; ++i) {
        if (i > 0)
            writer.newPage();
        painter.drawImage(QPointF(72, 72), image);
    }
    return painter.end();
}

// A PDF written object by object with a correct cross-reference table, independent of Qt and
// Poppler: each entry of `pageTexts` becomes a page showing that text in Helvetica.
// `catalogExtra` is added to the catalog dictionary (e.g. a /PageLabels tree).
inline QByteArray handWrittenPdf(const QList<QByteArray> &pageTexts, const QByteArray &catalogExtra = {})
{
    QList<QByteArray> objects; // object n is objects[n - 1]
    const int nPages = static_cast<int>(pageTexts.size());
    QByteArray kids;
    for (int i = 0; i < nPages; ++i)
        kids += QByteArray::number(4 + 2 * i) + " 0 R ";
    objects << "<< /Type /Catalog /Pages 2 0 R " + catalogExtra + " >>";
    objects << "<< /Type /Pages /Kids [" + kids + "] /Count " + QByteArray::number(nPages) + " >>";
    objects << "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";
    for (int i = 0; i < nPages; ++i) {
        const QByteArray stream = "BT /F1 12 Tf 72 720 Td (" + pageTexts[i] + ") Tj ET";
        objects << "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
                   "/Contents " + QByteArray::number(5 + 2 * i) + " 0 R >>";
        objects << "<< /Length " + QByteArray::number(stream.size()) + " >>\nstream\n" + stream + "\nendstream";
    }
    QByteArray pdf = "%PDF-1.4\n";
    QList<qsizetype> offsets;
    for (qsizetype i = 0; i < objects.size(); ++i) {
        offsets << pdf.size();
        pdf += QByteArray::number(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
    }
    const qsizetype xref = pdf.size();
    pdf += "xref\n0 " + QByteArray::number(objects.size() + 1) + "\n0000000000 65535 f \n";
    for (qsizetype offset : offsets)
        pdf += QByteArray::number(offset).rightJustified(10, '0') + " 00000 n \n";
    pdf += "trailer\n<< /Size " + QByteArray::number(objects.size() + 1) + " /Root 1 0 R >>\nstartxref\n" +
           QByteArray::number(xref) + "\n%%EOF\n";
    return pdf;
}

inline bool writeBytes(const QString &path, const QByteArray &bytes)
{
    QFile file(path);
    return file.open(QIODevice::WriteOnly) && file.write(bytes) == bytes.size();
}

inline QByteArray readBytes(const QString &path)
{
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

// An encrypted copy that needs a user password, made by qpdf (Debian package qpdf).
inline bool encryptWithQpdf(const QString &in, const QString &out)
{
    QProcess qpdf;
    qpdf.start(QStringLiteral("qpdf"), {QStringLiteral("--encrypt"), QStringLiteral("user-secret"),
                                         QStringLiteral("owner-secret"), QStringLiteral("256"), QStringLiteral("--"), in, out});
    return qpdf.waitForFinished(30000) && qpdf.exitStatus() == QProcess::NormalExit && qpdf.exitCode() == 0;
}

// A linearized ("fast web view") copy, made by qpdf: its first page comes with a trailer of
// its own at the start of the file.
inline bool linearizeWithQpdf(const QString &in, const QString &out)
{
    QProcess qpdf;
    qpdf.start(QStringLiteral("qpdf"), {QStringLiteral("--linearize"), in, out});
    return qpdf.waitForFinished(30000) && qpdf.exitStatus() == QProcess::NormalExit && qpdf.exitCode() == 0;
}

// True when an installed font has glyphs for every character of `text` (CJK needs one).
inline bool someFontRenders(const QString &text, QFont *found = nullptr)
{
    for (const QString &family : QFontDatabase::families()) {
        QFont font(family);
        const QRawFont raw = QRawFont::fromFont(font);
        bool all = raw.isValid();
        for (qsizetype i = 0; all && i < text.size(); ++i)
            all = raw.supportsCharacter(text.at(i));
        if (all) {
            if (found)
                *found = font;
            return true;
        }
    }
    return false;
}

} // namespace nw::test
