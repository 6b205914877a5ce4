// Annotations: highlights (rectangles in PDF points, a colour, the quoted text) and notes with
// tags, keyed to the document's content hash (sha256) and page — not to a row id or a path —
// so they survive moving the file, re-ingesting it, or rebuilding the library.
#pragma once

#include "store/database.h"

#include <QRectF>
#include <QString>
#include <QStringList>

#include <cstdint>
#include <optional>
#include <vector>

namespace nw::store {

struct Annotation {
    std::int64_t id = 0;
    QString documentSha256;      // hex, lower case
    int page = 0;                // 1-based
    QString kind = QStringLiteral("highlight"); // "highlight" or "note"
    std::vector<QRectF> rects;   // points, origin at the page's top-left; may be empty for a note
    QString color = QStringLiteral("#ffd54f");
    QString quote;               // the highlighted text
    QString note;
    QStringList tags;
    QString created;             // ISO 8601 UTC
    QString updated;
};

// What one annotation may hold, checked by add(), update() and importAll(): a note or a quote of
// at most 64 KiB of UTF-8 each (some 30 pages of text; a 40 MB note was imported before),
// at most 64 tags of at most 256 bytes, at most 1,000 rectangles.
struct AnnotationLimits {
    static constexpr int kMaxTextBytes = 64 << 10;
    static constexpr int kMaxTags = 64;
    static constexpr int kMaxTagBytes = 256;
    static constexpr int kMaxRects = 1000;
};

// `value` for an error message: control characters (NUL, escape, newlines) as \xNN or \uNNNN,
// cut to about `maxChars` with "…", so that a message is one line of printable text whatever
// the input held.
QString excerptForMessage(const QString &value, int maxChars = 60);

struct AnnotationFilter {
    QString documentSha256; // "" for all documents
    int page = 0;           // 0 for all pages
    QString tag;            // "" for any
};

// Creates the annotation table when missing (idempotent); see createSessionTables.
void createAnnotationTables(Database &db);

class AnnotationStore {
public:
    explicit AnnotationStore(Database &db);

    // Validates (kind, page, colour "#rrggbb", sha256 of 64 hex digits, created and updated ISO
    // 8601 when given, AnnotationLimits) and inserts; returns the id. Throws nw::Error with what
    // is wrong.
    std::int64_t add(const Annotation &annotation);
    void update(const Annotation &annotation); // by id
    bool remove(std::int64_t id);
    std::optional<Annotation> find(std::int64_t id);
    std::vector<Annotation> list(const AnnotationFilter &filter = {}); // by document, page, id

    // Adds each annotation unless an identical one (same document, page, kind, quote, note and
    // rectangles) is already there; returns how many were added. All or none: the first invalid
    // one throws (naming its position, from 1) before anything is written. Linear in the number
    // of annotations imported and already there.
    int importAll(const std::vector<Annotation> &annotations);

private:
    Database &m_db;
};

} // namespace nw::store
