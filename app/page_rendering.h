// Pages drawn as images for the page viewer: the PDF a library document came from, one page at
// a given resolution. Safe to call from several threads at once; each keeps its own open document.
#pragma once

#include <QImage>
#include <QString>

namespace nw::app {

// Page `pageIndex` (0-based) of the PDF at `pdfPath` at `dpi`, in QImage::Format_RGB32 (pages are
// opaque: painting them is then a plain copy). A null image when Poppler could not draw it; throws
// nw::Error (its message a reason for people) when the file cannot be opened.
QImage renderPdfPage(const QString &pdfPath, int pageIndex, double dpi);

} // namespace nw::app
