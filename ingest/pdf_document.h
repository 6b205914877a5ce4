// A PDF opened through Poppler: metadata, page labels, and per page the text in reading order
// with the box of every word. Poppler stays behind this header (only pdf_document.cpp sees it).
// One object per thread: it is not safe to share.
#pragma once

#include "ingest/ingest_error.h"
#include "ingest/page_content.h"
#include "store/word_boxes.h"

#include <QDateTime>
#include <QImage>
#include <QSizeF>
#include <QString>

#include <memory>
#include <optional>
#include <vector>

namespace nw::ingest {

class PdfDocument {
public:
    // Opens `path`; throws IngestFailure (Corrupt, Encrypted, NotPdf, Truncated) with a reason.
    static PdfDocument open(const QString &path);
    // The same for a PDF in memory (an attachment); `name` stands for its path in messages.
    static PdfDocument openData(const QByteArray &data, const QString &name);
    PdfDocument(PdfDocument &&) noexcept;
    PdfDocument &operator=(PdfDocument &&) noexcept;
    ~PdfDocument();

    const QString &path() const { return m_path; }
    int pageCount() const;
    DocumentMetadata metadata() const;

    // `index` is 0-based. With `withWords`, fills PageContent::words (same text either way).
    PageContent page(int index, bool withWords) const;
    // The boxes of page `index`'s words, with offsets into `text`, that page's text as page()
    // gave it (now or by an older version that wrote one space between words and one '\n'
    // between lines); nullopt when the words are not the text's. Lays the page out again, on the
    // calling thread (the one that owns this object). Throws nw::Error for an index outside
    // [0, pageCount()).
    std::optional<std::vector<store::WordBox>> wordBoxes(int index, const QString &text) const;
    // The page drawn at `dpi` (72 = one pixel per point), antialiased, on white; throws nw::Error
    // for an index outside [0, pageCount()) or a dpi outside (0, 1200]; a null image when Poppler
    // cannot draw the page.
    QImage renderPage(int index, double dpi) const;

private:
    static PdfDocument open(const QString &path, const QByteArray &data);
    struct Impl;
    explicit PdfDocument(std::unique_ptr<Impl> impl, QString path);
    std::unique_ptr<Impl> m_impl;
    QString m_path;
};

} // namespace nw::ingest
