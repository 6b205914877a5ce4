// Whether a page's text layer can be used as it is, or the page must be recognised (OCR): a
// scanned page has none, or only a stamp (a Bates number), and some PDFs carry a layer of
// garbage (fonts whose characters map to the wrong code points, a bad OCR layer of symbols).
#pragma once

#include <QString>

namespace nw::ingest {

struct TextLayerVerdict {
    int tokens = 0; // runs of non-blank characters
    int words = 0; // of them, recognisable words (see recognisableWord())
    bool usable = false;
};

// A text layer is usable when it has at least kMinWords recognisable words and they are at least
// kMinWordShare of its tokens (the numbers and what they were measured on: ingest/README.md).
// It catches pages without text, pages with only a stamp, and layers of symbols, private-use or
// control code points; a garbled layer that still reads as words (letters shifted by a wrong
// font mapping) passes: `--ocr always` is for those.
inline constexpr int kMinWords = 3;
inline constexpr double kMinWordShare = 0.5;

TextLayerVerdict judgeTextLayer(const QString &text);

// A token that reads as a word of some language, or a number: letters (any script), digits and
// combining marks, with at most punctuation around it and hyphens, apostrophes, dots or slashes
// inside; at most 32 characters; a Latin-script word of four letters or more has a vowel.
bool recognisableWord(QStringView token);

} // namespace nw::ingest
