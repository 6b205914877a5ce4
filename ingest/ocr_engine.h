// Optical character recognition of page images through Tesseract's C++ API: the words of a page
// with their boxes and confidences, in reading order, as page text and word boxes of the same
// form as a text layer's. Tesseract and Leptonica stay behind this header (ocr_engine.cpp is the
// one file that includes them). One engine per thread: an engine is not safe to share.
#pragma once

#include "ingest/ingest_error.h"
#include "store/word_boxes.h"

#include <QImage>
#include <QString>
#include <QStringList>

#include <atomic>
#include <memory>
#include <vector>

namespace nw::ingest {

// A page as recognised: words separated by one space, lines by '\n' (a word hyphenated at the
// end of a line is joined with its rest, as Poppler's text dump joins it), boxes in points.
struct OcrPage {
    QString text;
    std::vector<store::WordBox> words; // offsets index `text`; a joined word has one box per part
    double confidence = -1; // mean word confidence, 0..100; -1 when no word was found
};

class OcrEngine {
public:
    // Loads the models of `languages` ("eng", "eng+fra", Tesseract's form). Throws IngestFailure
    // (OcrUnavailable) naming the languages whose data is not installed and the Debian package
    // that brings each.
    explicit OcrEngine(const QString &languages);
    ~OcrEngine();
    OcrEngine(const OcrEngine &) = delete;
    OcrEngine &operator=(const OcrEngine &) = delete;

    const QString &languages() const { return m_languages; }

    // Recognises `image`, a page drawn at `dpi` (boxes are scaled by 72 / dpi to points).
    // Returns early, with the words found so far, once `cancel` is set.
    OcrPage recognize(const QImage &image, double dpi, const std::atomic<bool> *cancel = nullptr);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
    QString m_languages;
};

// The languages whose data Tesseract finds ("eng", "fra", ...; "osd" is not a language), sorted.
QStringList installedOcrLanguages();
QString tesseractVersion(); // "5.3.0"

} // namespace nw::ingest
