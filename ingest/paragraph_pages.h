// Pages for documents that are a flow of paragraphs (office documents, HTML, email): page text
// is paragraphs separated by blank lines, and each page knows the number of its first paragraph,
// so a citation can name the paragraph as well as the page.
#pragma once

#include "ingest/page_content.h"

#include <QString>

#include <vector>

namespace nw::ingest {

struct Paragraph {
    QString text; // no blank line inside (lines are kept)
    bool pageBreakBefore = false; // the file records that a page starts here
    bool continuesPrevious = false; // the rest of the previous paragraph after a page break inside it
};

// With `recordedBreaks` (the file says where its pages start), a page starts at every recorded
// break and is labelled with its printed number; a recorded page of more than 4 x `pageChars` is
// cut into several (same label). Otherwise pages are filled with whole paragraphs up to about
// `pageChars` characters. A paragraph longer than a page is cut at a blank (its continuation's
// page starts with the same paragraph number). Empty paragraphs are dropped; paragraphs are
// numbered from 1 in reading order. At least one page, empty when there is no text.
std::vector<PageContent> paginate(const std::vector<Paragraph> &paragraphs, int pageChars, bool recordedBreaks);

// Paragraphs of plain text: blocks separated by blank lines.
std::vector<Paragraph> paragraphsOf(const QString &text);

} // namespace nw::ingest
