// Plain text to a paginated PDF: monospaced Courier (one of the PDF standard fonts, so nothing
// is embedded and no font database or GUI is needed), real page breaks, a title in the PDF's
// document information. Used to turn the bundled sample corpus into PDFs that go through the
// same Poppler ingest path as users' files.
#pragma once

#include <QByteArray>
#include <QString>

#include <vector>

namespace nw::app {

enum class PaperSize { Letter, A4 };

struct TextPdfLayout {
    PaperSize paper = PaperSize::Letter;
    double fontSize = 10;     // points; Courier advances 0.6 em per character
    double leading = 12;      // points from one baseline to the next
    double marginLeft = 54;   // points
    double marginTop = 60;    // to the top of the first line's em box
    double marginBottom = 60;
    int tabWidth = 8;

    double pageWidth() const { return paper == PaperSize::A4 ? 595.0 : 612.0; }
    double pageHeight() const { return paper == PaperSize::A4 ? 842.0 : 792.0; }
    int linesPerPage() const;
    int charsPerLine() const;   // lines longer than this wrap at a space
};

// Splits `text` into pages of lines: tabs expanded, long lines wrapped, a form feed starts a
// new page, trailing blank lines of a page dropped. Exposed for tests (page of a given line).
std::vector<std::vector<QString>> paginateText(const QString &text, const TextPdfLayout &layout);

// A complete PDF 1.4 file. Characters outside Latin-1 are written as '?'.
QByteArray renderTextPdf(const QString &title, const QString &text, const TextPdfLayout &layout = {});

} // namespace nw::app
