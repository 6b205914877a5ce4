// The document library: documents keyed by the SHA-256 of their content, their pages (text,
// labels, word boxes), collections and the last ingest error of each path. One LibraryStore
// per thread (it owns one SQLite connection); several processes may share the database file.
#pragma once

#include "store/database.h"
#include "store/word_boxes.h"

#include <QDateTime>
#include <QString>
#include <QStringList>

#include <memory>
#include <optional>
#include <vector>

namespace nw::store {

struct DocumentInfo {
    std::int64_t id = 0;
    QString sha256; // hex, lower case
    QString path;
    QString kind; // "pdf" or "text"
    QString title;
    QString author;
    QString subject;
    QString keywords;
    QString creator;
    QString producer;
    QString created; // from the PDF, ISO 8601, "" when unknown
    int pageCount = 0;
    std::int64_t bytes = 0;
    std::int64_t modified = 0; // file mtime, seconds since the epoch
    QString added; // ISO 8601 UTC
    QString status; // "ready"
    QStringList collections;
};

struct PageRecord {
    int number = 0; // 1-based
    QString label;
    double width = 0; // points
    double height = 0;
    QString text;
    std::vector<WordBox> words; // may be empty: stored only when the ingest asked for them
};

// A document ready to be written: everything but the id and the time it was added.
struct NewDocument {
    DocumentInfo info;
    std::vector<PageRecord> pages;
};

struct IngestErrorRecord {
    QString path;
    QString kind; // IngestProblem name: "encrypted", "truncated", ...
    QString reason;
    QString at;
};

struct CollectionInfo {
    std::int64_t id = 0;
    QString name;
    int documentCount = 0;
};

struct LibraryStats {
    int documents = 0;
    std::int64_t pages = 0;
    int errors = 0;
};

// What a command may do to its library file.
enum class LibraryAccess {
    ReadWrite, // creates the library when the file is missing, migrates an older schema
    ReadOnly, // never creates, migrates or writes: the file must be a library of this schema
};

class LibraryStore {
public:
    // Opens the library at `path`, recognising it before anything writes to it (throws
    // NotALibrary, store/library_file.h, for a file that is not a library, and nw::Error for a
    // missing file when reading only). With ReadWrite, creates a missing library whole and
    // migrates an older one to the latest schema.
    explicit LibraryStore(const QString &path, LibraryAccess access = LibraryAccess::ReadWrite);

    Database &database() { return m_db; }
    // Read connections to the same file, for reads split across threads (SearchService ranks
    // page ranges in parallel): index 0 is database(), the others are opened on first use and
    // kept, each to be used by one thread at a time.
    Database &reader(int index);
    QString path() const { return QString::fromStdString(m_db.path()); }

    // --- reading
    std::optional<DocumentInfo> findDocument(std::int64_t id);
    DocumentInfo requireDocument(std::int64_t id); // throws nw::Error naming the id
    std::optional<DocumentInfo> findDocumentBySha256(const QString &sha256);
    std::vector<DocumentInfo> findDocumentsByPath(const QString &path);
    // All documents, by id; only those in `collection` when it is not empty.
    std::vector<DocumentInfo> documents(const QString &collection = {});
    QStringList allSha256();
    std::optional<PageRecord> findPage(std::int64_t documentId, int number);
    PageRecord requirePage(std::int64_t documentId, int number);
    // Every page's printed label in page order ("" where the PDF prints none); empty for an
    // unknown document.
    QStringList pageLabels(std::int64_t documentId);
    // nullopt when none are stored for the page (then compute them and cacheWordBoxes()).
    std::optional<std::vector<WordBox>> findWordBoxes(std::int64_t documentId, int number);
    std::vector<IngestErrorRecord> ingestErrors();
    std::vector<CollectionInfo> collections();
    LibraryStats stats();

    // --- writing: call inside a Transaction to batch; each call is atomic on its own otherwise.
    enum class AddOutcome { Added, Replaced, AlreadyPresent };
    struct AddResult {
        AddOutcome outcome;
        std::int64_t documentId;
    };
    // Adds a document unless one with the same sha256 exists. Other documents at the same path
    // (older versions of the file) are deleted in the same transaction: they are replaced.
    AddResult addDocument(const NewDocument &document);
    // The file moved: point the document at its new path.
    void updatePath(std::int64_t documentId, const QString &path);
    void cacheWordBoxes(std::int64_t documentId, int number, const std::vector<WordBox> &words);
    // Removes a document with its pages, index entries and collection links; false if unknown.
    bool removeDocument(std::int64_t documentId);
    std::int64_t ensureCollection(const QString &name);
    void addToCollection(std::int64_t documentId, const QString &collection);
    void recordIngestError(const QString &path, const QString &kind, const QString &reason);
    void clearIngestError(const QString &path);

private:
    std::int64_t pageId(std::int64_t documentId, int number);
    Database m_db;
    std::vector<std::unique_ptr<Database>> m_readers; // [index - 1]
};

const char *addOutcomeName(LibraryStore::AddOutcome outcome); // "added", "replaced", "present"

} // namespace nw::store
