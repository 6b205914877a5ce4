// Plain text and Markdown as a document: decoded, titled, and split into pages of a fixed size
// (text files have no pages of their own; a page is what a citation points at).
#pragma once

#include "ingest/pdf_document.h"

#include <QByteArray>
#include <QString>

#include <vector>

namespace nw::ingest {

// True when `head` (the first few KiB of a file) is text: no NUL bytes, and valid UTF-8 or
// mostly printable bytes.
bool looksLikeText(const QByteArray &head);

// UTF-8 (with or without BOM), UTF-16 with BOM, else Latin-1.
QString decodeText(const QByteArray &bytes);

// Splits at paragraph breaks, else line breaks, else spaces, near `pageChars` characters
// (never inside a surrogate pair). Pages are numbered from 1 and have no label.
std::vector<PageContent> splitIntoPages(const QString &text, int pageChars = 3000);

// The first non-empty line without Markdown heading marks, at most 200 characters.
QString guessTitle(const QString &text);

} // namespace nw::ingest
