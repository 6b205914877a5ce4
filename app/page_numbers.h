// One page-numbering rule for every front end (CLI, window, exports, sessions, annotations): a
// page is shown by the label printed on it ("vii", "7", "A-3"), with its place in the file beside
// it where the two differ ("p. 7 (file page 10)"), and a page a user types is read the same way —
// a printed label, or "#N" for the Nth page of the file (a plain N in a document without labels). A page that is not
// in the document is refused with the pages it has. Documents without labels (text files, most
// PDFs) simply show "p. 10".
#pragma once

#include <QString>
#include <QStringList>

#include <cstdint>

namespace nw::store {
class LibraryStore;
}

namespace nw::app {

// "7 (file page 10)", or "10" when the label is empty or says the same.
QString pageName(int physicalPage, const QString &label);
// "p. 7 (file page 10)", or "p. 10": how citations, hits and annotations name a page.
QString pageCitation(int physicalPage, const QString &label);

// The physical page (1-based) that `text` names in a document whose pages carry `labels` (index
// i is page i + 1; empty labels allowed): "#N" is the Nth page of the file; otherwise an exact
// printed label (the first page that has it), or — in a document that prints no labels — N as
// the Nth page. 0 when it names no page of the document.
int resolvePage(const QString &text, const QStringList &labels);
// The labels in short runs for messages: "i–iv, 1–32", or "1–36" for pages without labels.
QString labelRanges(const QStringList &labels);

// resolvePage() on a library document; throws nw::Error naming the document, how many pages it
// has and how they are printed when `text` names none of them (or the document is unknown).
int requirePageOf(store::LibraryStore &library, std::int64_t documentId, const QString &text);

} // namespace nw::app
