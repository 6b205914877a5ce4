// Word boxes computed when a page is first shown, then cached.
#include "ingest/page_words.h"

#include "common/error.h"
#include "ingest/pdf_document.h"

#include <QFileInfo>

namespace nw::ingest {

std::vector<store::WordBox> pageWordBoxes(store::LibraryStore &store, std::int64_t documentId, int pageNumber)
{
    if (std::optional<std::vector<store::WordBox>> cached = store.findWordBoxes(documentId, pageNumber))
        return std::move(*cached);
    const store::DocumentInfo document = store.requireDocument(documentId);
    const store::PageRecord page = store.requirePage(documentId, pageNumber);
    if (document.kind != QLatin1String("pdf"))
        return {};
    // Size and mtime tell a changed file without hashing it again; the text check below
    // catches the rest.
    const QFileInfo file(document.path);
    if (!file.exists() || file.size() != document.bytes || file.lastModified().toSecsSinceEpoch() != document.modified)
        fail("{}: the file is missing or changed since it was ingested; ingest it again to highlight its words",
             document.path.toStdString());
    std::optional<std::vector<store::WordBox>> words;
    try {
        // Placed in the stored text, so pages ingested by an older version keep working.
        words = PdfDocument::open(document.path).wordBoxes(pageNumber - 1, page.text);
    } catch (const IngestFailure &f) {
        fail("{}: {}", document.path.toStdString(), f.reason().toStdString());
    }
    if (!words)
        fail("{}: page {}: its words cannot be placed in the text that was ingested (the file changed, or Poppler "
             "splits this page's words differently from its text); ingest the file again", document.path.toStdString(),
             pageNumber);
    store.cacheWordBoxes(documentId, pageNumber, *words);
    return std::move(*words);
}

} // namespace nw::ingest
