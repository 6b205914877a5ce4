// What every reader of a format gives the ingest: a document's metadata and its pages, each with
// its text and, where the format has a page image, the boxes of its words.
#pragma once

#include "store/library_store.h"
#include "store/word_boxes.h"

#include <QDateTime>
#include <QSizeF>
#include <QString>

#include <vector>

namespace nw::ingest {

struct DocumentMetadata {
    QString title;
    QString author;
    QString subject;
    QString keywords;
    QString creator;
    QString producer;
    QDateTime created; // invalid when the file does not say
};

// One page as extracted: text with words separated by spaces and lines by '\n'.
struct PageContent {
    int number = 0; // 1-based
    QString label; // printed label, "" when the file has none
    QSizeF size; // points; empty for documents without a page image (text, office, mail)
    QString text;
    std::vector<store::WordBox> words; // empty unless asked for (always there for OCR); offsets index `text` (UTF-16)
    QString source = QString::fromLatin1(store::kSourceText); // or store::kSourceOcr
    double ocrConfidence = -1; // 0..100 for an OCR page
    int firstParagraph = 0; // paragraphed documents: the number of the page's first paragraph
};

} // namespace nw::ingest
