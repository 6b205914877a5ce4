// Writes the PDF objects by hand (catalog, page tree, pages with uncompressed content streams,
// one shared Courier font, the info dictionary) and the cross-reference table with their
// byte offsets — PDF 32000-1:2008 §7.5 file structure, §9.6.2.2 standard Type 1 fonts.
#include "app/text_pdf.h"

#include "common/assert.h"

#include <QStringList>

#include <algorithm>
#include <cmath>
#include <vector>

namespace nw::app {
namespace {

constexpr double kCourierAdvance = 0.6; // em; every Courier glyph has width 600/1000

QString expandTabs(const QString &line, int tabWidth)
{
    QString out;
    for (QChar c : line) {
        if (c == QLatin1Char('\t')) {
            const int spaces = tabWidth - static_cast<int>(out.size()) % tabWidth;
            out += QString(spaces, QLatin1Char(' '));
        } else {
            out += c;
        }
    }
    return out;
}

// Breaks a line longer than `width` at the last space that fits (or hard, when none does);
// continuation lines keep the original indentation.
void wrapInto(const QString &line, int width, std::vector<QString> &out)
{
    QString rest = line;
    int indent = 0;
    while (indent < rest.size() && rest[indent] == QLatin1Char(' '))
        ++indent;
    if (indent >= width / 2)
        indent = 0;
    while (rest.size() > width) {
        int cut = static_cast<int>(rest.lastIndexOf(QLatin1Char(' '), width));
        if (cut <= indent)
            cut = width;
        out.push_back(rest.left(cut));
        rest = QString(indent, QLatin1Char(' ')) + rest.mid(cut).trimmed();
    }
    out.push_back(rest);
}

QByteArray pdfString(const QString &text)
{
    QByteArray out = "(";
    for (QChar c : text) {
        const char16_t u = c.unicode();
        const char ch = u < 256 ? static_cast<char>(u) : '?';
        if (ch == '(' || ch == ')' || ch == '\\')
            out += '\\';
        out += ch;
    }
    out += ')';
    return out;
}

QByteArray number(double value)
{
    return QByteArray::number(value, 'f', 2);
}

} // namespace

int TextPdfLayout::linesPerPage() const
{
    return std::max(1, static_cast<int>(std::floor((pageHeight() - marginTop - marginBottom) / leading)));
}

int TextPdfLayout::charsPerLine() const
{
    return std::max(20, static_cast<int>(std::floor((pageWidth() - 2 * marginLeft) / (fontSize * kCourierAdvance))));
}

std::vector<std::vector<QString>> paginateText(const QString &text, const TextPdfLayout &layout)
{
    std::vector<std::vector<QString>> pages(1);
    const int perPage = layout.linesPerPage();
    QString normalized = text;
    normalized.replace(QLatin1String("\r\n"), QLatin1String("\n"));
    const QStringList lines = normalized.split(QLatin1Char('\n'));
    for (QString line : lines) {
        // A form feed ends the page; text after it on the same line starts the next one.
        while (true) {
            const auto ff = line.indexOf(QLatin1Char('\f'));
            const QString before = ff < 0 ? line : line.left(ff);
            std::vector<QString> wrapped;
            if (ff < 0 || !before.isEmpty())
                wrapInto(expandTabs(before, layout.tabWidth), layout.charsPerLine(), wrapped);
            for (QString &w : wrapped) {
                if (static_cast<int>(pages.back().size()) >= perPage)
                    pages.emplace_back();
                // A page does not start with blank lines.
                if (pages.back().empty() && w.trimmed().isEmpty())
                    continue;
                pages.back().push_back(std::move(w));
            }
            if (ff < 0)
                break;
            if (!pages.back().empty())
                pages.emplace_back();
            line = line.mid(ff + 1);
        }
    }
    for (auto &page : pages)
        while (!page.empty() && page.back().trimmed().isEmpty())
            page.pop_back();
    std::erase_if(pages, [](const std::vector<QString> &page) { return page.empty(); });
    if (pages.empty())
        pages.emplace_back();
    return pages;
}

QByteArray renderTextPdf(const QString &title, const QString &text, const TextPdfLayout &layout)
{
    const auto pages = paginateText(text, layout);
    const int nPages = static_cast<int>(pages.size());
    // Objects: 1 catalog, 2 page tree, 3 font, 4 info, then per page a page and its content.
    const int nObjects = 4 + 2 * nPages;
    std::vector<qint64> offsets(nObjects + 1, 0);
    QByteArray pdf = "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n";

    auto begin = [&](int id) {
        offsets[id] = pdf.size();
        pdf += QByteArray::number(id) + " 0 obj\n";
    };
    auto end = [&] { pdf += "endobj\n"; };

    begin(1);
    pdf += "<< /Type /Catalog /Pages 2 0 R >>\n";
    end();

    begin(2);
    pdf += "<< /Type /Pages /Count " + QByteArray::number(nPages) + " /Kids [";
    for (int p = 0; p < nPages; ++p)
        pdf += QByteArray::number(5 + 2 * p) + " 0 R ";
    pdf += "] >>\n";
    end();

    begin(3);
    pdf += "<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>\n";
    end();

    begin(4);
    pdf += "<< /Title " + pdfString(title) + " /Producer (Needlework) >>\n";
    end();

    const QByteArray mediaBox = "[0 0 " + number(layout.pageWidth()) + " " + number(layout.pageHeight()) + "]";
    for (int p = 0; p < nPages; ++p) {
        QByteArray content = "BT\n/F1 " + number(layout.fontSize) + " Tf\n";
        // The first baseline sits one font size below the top margin.
        double y = layout.pageHeight() - layout.marginTop - layout.fontSize;
        for (const QString &line : pages[static_cast<std::size_t>(p)]) {
            if (!line.trimmed().isEmpty())
                content += "1 0 0 1 " + number(layout.marginLeft) + " " + number(y) + " Tm " + pdfString(line) + " Tj\n";
            y -= layout.leading;
        }
        content += "ET\n";

        begin(5 + 2 * p);
        pdf += "<< /Type /Page /Parent 2 0 R /MediaBox " + mediaBox + " /Resources << /Font << /F1 3 0 R >> >> /Contents " +
               QByteArray::number(6 + 2 * p) + " 0 R >>\n";
        end();
        begin(6 + 2 * p);
        pdf += "<< /Length " + QByteArray::number(content.size()) + " >>\nstream\n" + content + "endstream\n";
        end();
    }

    const qint64 xref = pdf.size();
    pdf += "xref\n0 " + QByteArray::number(nObjects + 1) + "\n0000000000 65535 f \n";
    for (int id = 1; id <= nObjects; ++id) {
        NW_ASSERT(offsets[id] > 0);
        pdf += QByteArray::number(offsets[id]).rightJustified(10, '0') + " 00000 n \n";
    }
    pdf += "trailer\n<< /Size " + QByteArray::number(nObjects + 1) + " /Root 1 0 R /Info 4 0 R >>\nstartxref\n" +
           QByteArray::number(xref) + "\n%%EOF\n";
    return pdf;
}

} // namespace nw::app
