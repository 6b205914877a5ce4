// The ingest's one interface to its readers: what format a file is, and a whole document of that
// format read from its bytes, with the documents inside it (a message's attachments). A new file
// format is one reader behind readDocument(). PDF files are read page range by page range by the
// Ingestor instead (they may be large; an attached PDF comes through here), and mailboxes message
// by message (mail_message.h).
#pragma once

#include "ingest/ingest_error.h"
#include "ingest/page_content.h"
#include "ingest/pdf_page_reader.h"
#include "ingest/zip_archive.h"
#include "store/library_store.h"

#include <QByteArray>
#include <QString>
#include <QStringList>

#include <atomic>
#include <optional>
#include <vector>

namespace nw::ingest {

enum class FileFormat { Pdf, Text, Html, Docx, Odt, Email, Mailbox, Unknown };

// The library's `kind` of a document of `format`: "pdf", "text", "html", "docx", "odt", "email"
// (a mailbox's messages are emails; a mailbox itself is no document).
const char *formatKind(FileFormat format);

// Names of files a folder contributes (lower-case suffix): pdf, txt, text, md, markdown, html,
// htm, xhtml, docx, odt, eml, mbox; and files without a suffix, when their content is text or mail.
bool isIngestSuffix(const QString &suffix);

// What the file is, from the content where it tells (a PDF header, a zip's members, an OLE file,
// an mbox's "From " line, RFC 822 header lines) and else from the name. `head`: the first 4 KiB
// (or all, when shorter).
FileFormat detectFormat(const QString &fileName, const QByteArray &head);

struct ReadOptions {
    int textPageChars = 3000; // page size for documents without pages of their own
    OcrOptions ocr; // attached PDFs: pages are recognised as in files
    ZipLimits zip;
    int maxDepth = 8; // messages inside messages inside ...: deeper is refused (TooDeep)
    std::int64_t maxPartBytes = std::int64_t(256) << 20; // one attachment, decoded
    const std::atomic<bool> *cancel = nullptr;
};

// A part of a document that could not be read while the document was: where, and why.
struct PartProblem {
    QString part; // "attachment figures.pdf of “Q3”", "message 12"; "" for the document's own structure
    QString reason;
    QString line() const { return part.isEmpty() ? reason : part + QStringLiteral(": ") + reason; }
};

// A document a reader made, and those inside it.
struct ExtractedDocument {
    QString kind; // formatKind()
    DocumentMetadata metadata;
    std::vector<PageContent> pages; // at least one
    std::optional<store::MessageHeaders> message;
    QString sha256; // its identity: the file's hash for a whole file; see partSha256()
    QString part; // "" for a whole file; where in its file otherwise
    std::int64_t bytes = 0;
    std::vector<ExtractedDocument> children; // attachments (a message's), in order
    std::vector<PartProblem> problems; // its parts (and theirs) that could not be read
};

// The identity of a part of a document: attachment `index` of the document `parentSha256`, made
// of `bytes`. Salted by its parent, so the same file attached to two messages is two documents,
// each cited as the attachment of its message.
QString partSha256(const QString &parentSha256, int index, const QByteArray &bytes);

// Reads a whole document of `format` (not Mailbox) from `bytes`. `name` is its file name (an
// attachment's), `sha256` its identity, `depth` how deep it sits in messages. Throws IngestFailure
// with a reason for people; an attachment that cannot be read is one line of `problems` instead.
ExtractedDocument readDocument(FileFormat format, const QByteArray &bytes, const QString &name, const QString &sha256,
    const ReadOptions &options, int depth = 0);

} // namespace nw::ingest
