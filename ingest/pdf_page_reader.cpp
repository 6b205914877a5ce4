// Text layer or OCR, page by page.
#include "ingest/pdf_page_reader.h"

#include "ingest/ocr_engine.h"
#include "ingest/text_layer.h"

#include <cmath>
#include <memory>

namespace nw::ingest {

const char *ocrModeName(OcrMode mode)
{
    switch (mode) {
    case OcrMode::Auto:
        return "auto";
    case OcrMode::Always:
        return "always";
    case OcrMode::Never:
        return "never";
    }
    return "?";
}

std::optional<OcrMode> parseOcrMode(const QString &name)
{
    for (OcrMode mode : { OcrMode::Auto, OcrMode::Always, OcrMode::Never })
        if (name == QLatin1String(ocrModeName(mode)))
            return mode;
    return std::nullopt;
}

bool wantsOcr(const QString &layerText, OcrMode mode)
{
    switch (mode) {
    case OcrMode::Always:
        return true;
    case OcrMode::Never:
        return false;
    case OcrMode::Auto:
        return !judgeTextLayer(layerText).usable;
    }
    return false;
}

namespace {

// One engine per thread (Tesseract's engines are not shared), for the languages asked last.
OcrEngine &threadEngine(const QString &languages)
{
    thread_local std::unique_ptr<OcrEngine> engine;
    if (!engine || engine->languages() != languages) {
        engine.reset();
        engine = std::make_unique<OcrEngine>(languages);
    }
    return *engine;
}

} // namespace

PageContent readPdfPage(
    const PdfDocument &pdf, int index, PageContent layer, const OcrOptions &options, const std::atomic<bool> *cancel)
{
    if (!wantsOcr(layer.text, options.mode) || (cancel && cancel->load(std::memory_order_relaxed)))
        return layer;
    OcrEngine &engine = threadEngine(options.languages);
    double dpi = options.dpi;
    if (!layer.size.isEmpty()) {
        const double squareInches = layer.size.width() * layer.size.height() / (72.0 * 72.0);
        dpi = std::min(dpi, std::floor(std::sqrt(options.maxPixels / squareInches)));
    }
    const QImage image = pdf.renderPage(index, dpi);
    if (image.isNull())
        return layer; // Poppler cannot draw it: what text it has is all there is
    OcrPage recognised = engine.recognize(image, dpi, cancel);
    if (cancel && cancel->load(std::memory_order_relaxed))
        return layer;
    if (options.mode == OcrMode::Auto && judgeTextLayer(recognised.text).words <= judgeTextLayer(layer.text).words)
        return layer;
    layer.text = std::move(recognised.text);
    layer.words = std::move(recognised.words);
    layer.source = QString::fromLatin1(store::kSourceOcr);
    layer.ocrConfidence = recognised.confidence;
    return layer;
}

} // namespace nw::ingest
