// HTML as text in reading order, through Gumbo (the HTML5 parsing algorithm browsers use, so
// broken markup reads as a browser reads it). Gumbo stays behind this header (html_document.cpp
// is the one file that includes it).
#pragma once

#include "ingest/ingest_error.h"
#include "ingest/paragraph_pages.h"

#include <QByteArray>
#include <QString>

#include <vector>

namespace nw::ingest {

struct HtmlText {
    QString title; // <title>, "" when there is none
    std::vector<Paragraph> paragraphs; // block elements, list items and table rows, in document order
};

// `html` in the encoding its byte order mark or <meta charset> names, else UTF-8 (Latin-1 when it
// is not valid UTF-8). Script, style and the like are left out; a list item starts with "• " (or
// its number), the cells of a table row are joined by " | ", <br> breaks a line, <pre> keeps its
// lines. Bad markup reads as a browser reads it; elements nested more than 2,000 deep are refused
// (IngestFailure, TooDeep: Gumbo's time grows with the square of the depth).
HtmlText htmlToText(const QByteArray &html);
HtmlText htmlToText(const QString &html); // already decoded (an email's HTML part)

} // namespace nw::ingest
