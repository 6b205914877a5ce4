// Invariants shared by the fuzz entry points of the document readers (mail, office, HTML): what
// every document and paragraph a reader returns must satisfy, whatever bytes it was given.
#pragma once

#include "ingest/document_reader.h"
#include "ingest/paragraph_pages.h"
#include "tests/fuzz/fuzz_input.h"

#include <QString>

#include <string>
#include <vector>

namespace nw::fuzz {

// A paragraph holds no blank line (ingest/paragraph_pages.h): page text counts paragraphs by
// blank lines, so one inside would move the paragraph numbers of citations after it. It reads
// back as one paragraph.
inline void checkParagraphs(const std::vector<ingest::Paragraph> &paragraphs, const char *reader)
{
    for (std::size_t i = 0; i < paragraphs.size(); ++i)
        if (ingest::paragraphsOf(paragraphs[i].text).size() > 1)
            die(std::string(reader) + ": paragraph " + std::to_string(i + 1) + " holds a blank line");
}

// A document has at least one page, numbered from 1 in order, and so do the documents inside it.
inline void checkDocument(const ingest::ExtractedDocument &document, const char *reader)
{
    if (document.pages.empty())
        die(std::string(reader) + ": a document without pages (kind " + document.kind.toStdString() + ")");
    for (std::size_t i = 0; i < document.pages.size(); ++i)
        if (document.pages[i].number != static_cast<int>(i) + 1)
            die(std::string(reader) + ": page " + std::to_string(i + 1) + " is numbered "
                + std::to_string(document.pages[i].number));
    for (const ingest::ExtractedDocument &child : document.children)
        checkDocument(child, reader);
}

// Options that keep one input cheap: no OCR (an attached scan would take seconds), small parts.
inline ingest::ReadOptions cheapReadOptions()
{
    ingest::ReadOptions options;
    options.ocr.mode = ingest::OcrMode::Never;
    options.maxPartBytes = 1 << 20;
    options.zip.maxUnpackedBytes = 8 << 20;
    return options;
}

} // namespace nw::fuzz
