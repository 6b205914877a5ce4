// Word (.docx, Office Open XML) and OpenDocument (.odt) text documents: paragraphs, headings,
// list items, table rows and footnotes in reading order, the page breaks the file records, and
// the title, author and creation date. The zip is read through ZipArchive (with its limits), the
// XML with Qt's stream reader (which expands no external entity).
#pragma once

#include "ingest/page_content.h"
#include "ingest/paragraph_pages.h"
#include "ingest/zip_archive.h"

#include <QByteArray>

#include <vector>

namespace nw::ingest {

struct OfficeText {
    DocumentMetadata metadata;
    std::vector<Paragraph> paragraphs;
    bool recordedBreaks = false; // the file says where (some of) its pages start
};

// A list item starts with "• ", table cells are joined by " | ", a footnote's reference reads
// "[n]" and its text follows the paragraph that refers to it as "[n] text"; endnotes come last.
// Deleted tracked changes, comments, headers and footers are left out. Throws IngestFailure:
// Encrypted (a password-protected file), Unsupported (a Word 97-2003 .doc), Truncated, Corrupt
// (not a zip, no document inside, XML that does not parse), TooLarge (ZipLimits).
OfficeText readDocx(const QByteArray &bytes, const ZipLimits &limits = {});
OfficeText readOdt(const QByteArray &bytes, const ZipLimits &limits = {});

// True when `head` starts an OLE compound file (Word 97-2003, or an encrypted .docx inside one).
bool isOleCompoundFile(const QByteArray &head);

} // namespace nw::ingest
