// A PDF page as the ingest stores it: its text layer, or, where the layer is missing or garbage
// (or OCR is forced), the page drawn by Poppler and recognised by Tesseract. Either way the
// result has the same form: page text plus word boxes in points, so search, citations and
// highlights need no special case for scans.
#pragma once

#include "ingest/page_content.h"
#include "ingest/pdf_document.h"

#include <QString>

#include <atomic>
#include <optional>

namespace nw::ingest {

enum class OcrMode {
    Auto, // pages whose text layer is missing or not usable (ingest/text_layer.h)
    Always, // every page, whatever its text layer
    Never, // the text layer only: a scan without one is refused as having no text
};
const char *ocrModeName(OcrMode mode); // "auto", "always", "never"
std::optional<OcrMode> parseOcrMode(const QString &name);

struct OcrOptions {
    OcrMode mode = OcrMode::Auto;
    QString languages = QStringLiteral("eng"); // Tesseract's codes joined by '+'
    int dpi = 300; // what pages are drawn at for recognition
    // Pages are drawn smaller when they would exceed this many pixels (a poster at 300 dpi).
    double maxPixels = 60e6;
};

// Whether a page with text layer `layerText` is recognised under `mode`.
bool wantsOcr(const QString &layerText, OcrMode mode);

// Page `index` (0-based) of `pdf` as it is stored: `layer` is the page as PdfDocument::page() gave
// it. Recognises the page when wantsOcr() says so, with the calling thread's engine for the
// options' languages (made on first use, kept for the thread's life). Under Auto a recognised page
// replaces the layer only when it holds more recognisable words (a sparse page that is really
// sparse keeps its own text). Throws IngestFailure (OcrUnavailable) when a page must be recognised
// in languages whose data is not installed. Returns the layer unchanged once `cancel` is set.
PageContent readPdfPage(const PdfDocument &pdf, int index, PageContent layer, const OcrOptions &options,
    const std::atomic<bool> *cancel = nullptr);

} // namespace nw::ingest
