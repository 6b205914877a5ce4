// Annotations of the library: made from a selection on a page (the words' boxes found for it),
// listed, edited and removed; and in and out of the library as JSON (lossless, for import), CSV
// (spreadsheets) and Markdown (reading). An import matches documents by content hash, so
// annotations made on one machine land on the same pages of the same files anywhere.
#pragma once

#include "app/library_types.h"

#include <QByteArray>
#include <QRectF>
#include <QString>
#include <QStringList>

#include <functional>
#include <optional>
#include <vector>

namespace nw::app {

// Text selected on a page: [start, start + length) in UTF-16 units of the page text.
struct PageSelection {
    std::int64_t documentId = 0;
    int page = 0; // 1-based
    int start = 0;
    int length = 0;
    QString text;
    std::vector<QRectF> rects; // the words' boxes when the caller knows them (the rendered view)
};

// Where an annotation sits, for the people who read a list or an export: its document's distinct
// title (app/document_titles.h) and path, and its page's printed label (app/page_numbers.h).
struct AnnotationPlace {
    bool inLibrary = false; // false: the document is not in this library (an imported annotation)
    QString title;
    QString path;
    QString pageLabel; // "" when the page prints none
};
using AnnotationPlaces = std::function<AnnotationPlace(const Annotation &)>;

enum class AnnotationFormat { Json, Csv, Markdown };

// The annotations of one library, through its connection on the calling thread. Every call throws
// nw::Error with what is wrong (a document no longer in the library, a bad colour, ...).
class AnnotationService {
public:
    explicit AnnotationService(store::LibraryStore &library);

    std::vector<Annotation> list(const AnnotationFilter &filter = {});
    std::optional<Annotation> find(std::int64_t id);
    // A highlight of the selection: its rectangles, else those of the words the span touches. A
    // page without word boxes (a text document) gets a note that carries the quote instead.
    std::int64_t highlight(
        const PageSelection &selection, const QString &color, const QString &note = {}, const QStringList &tags = {});
    // A note on a page, quoting `quote` (may be empty).
    std::int64_t addNote(std::int64_t documentId, int page, const QString &quote, const QString &note,
        const QStringList &tags, const QString &color);
    // Sets note and tags (and the colour unless it is empty); false when the annotation is gone.
    bool update(std::int64_t id, const QString &note, const QStringList &tags, const QString &color = {});
    bool remove(std::int64_t id); // false when it was not there
    // Looks documents and page labels up in this library (each document once per returned function).
    AnnotationPlaces places();
    // exportAnnotations() with the places of this library.
    QByteArray exportAnnotations(const std::vector<Annotation> &annotations, AnnotationFormat format);

private:
    DocumentInfo requireDocument(std::int64_t documentId);
    store::LibraryStore &m_library;
    store::AnnotationStore m_annotations;
};

AnnotationFormat parseAnnotationFormat(const QString &name); // json|csv|md; throws nw::Error

// Each annotation with its document's title and path and its page's label when `places` is given
// (the Markdown groups by document title; JSON and CSV add document_title, document_path and
// page_label, which an import ignores: it matches documents by content hash).
QByteArray exportAnnotations(
    const std::vector<Annotation> &annotations, AnnotationFormat format, const AnnotationPlaces &places = {});
// JSON and CSV (as exportAnnotations writes them, with or without the place columns), strictly: a
// field of the wrong type (page 1.5, tags "x"), an unknown JSON field, or a CSV field over 1 MiB
// throws nw::Error naming the record (or line) and the field; values in messages have their
// control characters escaped. The store checks the rest (AnnotationLimits, dates) when importing.
std::vector<Annotation> parseAnnotations(const QByteArray &data, AnnotationFormat format);

} // namespace nw::app
