// Each thread keeps its own open PdfDocument (Poppler documents are not shared between threads),
// reopened only when the path or the file's modification time changes.
#include "app/page_rendering.h"

#include "ingest/pdf_document.h"

#include <QDateTime>
#include <QFileInfo>

#include <optional>

namespace nw::app {

namespace {

struct OpenDocument {
    QString path;
    QDateTime modified;
    std::optional<ingest::PdfDocument> document;
};

} // namespace

QImage renderPdfPage(const QString &pdfPath, int pageIndex, double dpi)
{
    thread_local OpenDocument open;
    const QDateTime modified = QFileInfo(pdfPath).lastModified();
    if (!open.document || open.path != pdfPath || open.modified != modified) {
        open.document.reset();
        open.document = ingest::PdfDocument::open(pdfPath);
        open.path = pdfPath;
        open.modified = modified;
    }
    QImage image = open.document->renderPage(pageIndex, dpi);
    if (!image.isNull() && image.format() != QImage::Format_RGB32)
        image.convertTo(QImage::Format_RGB32);
    return image;
}

} // namespace nw::app
