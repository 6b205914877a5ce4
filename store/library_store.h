// The document library: documents keyed by the SHA-256 of their content, their pages (text,
// labels, word boxes, how the text was obtained), email headers and threads, collections and the
// last ingest error of each path. A document is a whole file, or a part of one (a message of a
// mailbox, an attachment of a message). One LibraryStore per thread (it owns one SQLite
// connection); several processes may share the database file.
#pragma once

#include "store/database.h"
#include "store/word_boxes.h"

#include <QDateTime>
#include <QHash>
#include <QString>
#include <QStringList>

#include <memory>
#include <optional>
#include <vector>

namespace nw::store {

// The headers of a document that is an email.
struct MessageHeaders {
    QString messageId; // without angle brackets
    QString inReplyTo;
    QString threadId; // the Message-ID of the thread's first message the library knows
    QString from;
    QString to;
    QString cc;
    QString date; // ISO 8601 UTC, "" when missing or unreadable
    QString subject;
};

struct DocumentInfo {
    std::int64_t id = 0;
    QString sha256; // hex, lower case: of the content (a part's is salted by its file, see ingest/)
    QString path; // the file; for a part, the file it is in
    QString kind; // "pdf", "text", "email", "docx", "odt" or "html"
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
    QString fileSha256; // for a part: the hash of the file it is in; "" for a whole file
    QString part; // for a part: where in its file ("message 12", "attachment 2 (a.pdf) of message 12")
    std::int64_t parentId = 0; // an attachment: the message it belongs to
    int ocrPages = 0; // pages whose text was recognised from their image
    double ocrConfidence = -1; // the mean confidence (0..100) of those pages; -1 when none
    std::optional<MessageHeaders> message; // when the document is an email
};

// How a page's text was obtained.
inline constexpr const char *kSourceText = "text"; // the file's own text
inline constexpr const char *kSourceOcr = "ocr"; // recognised from the page's image

struct PageRecord {
    int number = 0; // 1-based
    QString label;
    double width = 0; // points
    double height = 0;
    QString text;
    std::vector<WordBox> words; // may be empty: stored when the ingest asked for them, and always for OCR pages
    QString source = QString::fromLatin1(kSourceText);
    double ocrConfidence = -1; // mean word confidence 0..100 of an OCR page; -1 otherwise
    int firstParagraph = 0; // paragraphed documents (office, HTML, mail): the number of the
                            // page's first paragraph (paragraphs end at blank lines); 0 elsewhere
};

// A page recognised for a document that is not written yet (see saveOcrPage()).
struct OcrPageRecord {
    int number = 0;
    QString languages;
    int dpi = 0;
    QString text;
    std::vector<WordBox> words;
    double confidence = 0;
};

// A document ready to be written: everything but the id and the time it was added.
struct NewDocument {
    DocumentInfo info; // with `message` for an email, `fileSha256` and `part` for a part
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
    // The content the library holds: the hash of every document, mapped to the hash of the file
    // it is part of ("" for a whole file), and of every mailbox that is complete (mapped to "").
    QHash<QString, QString> knownContent();
    // The attachments of a message, by id.
    std::vector<DocumentInfo> attachments(std::int64_t messageId);
    // The emails of a thread, oldest first.
    std::vector<DocumentInfo> thread(const QString &threadId);
    std::optional<PageRecord> findPage(std::int64_t documentId, int number);
    PageRecord requirePage(std::int64_t documentId, int number);
    // Every page's printed label in page order ("" where the PDF prints none); empty for an
    // unknown document.
    QStringList pageLabels(std::int64_t documentId);
    // nullopt when none are stored for the page (then compute them and cacheWordBoxes()).
    std::optional<std::vector<WordBox>> findWordBoxes(std::int64_t documentId, int number);
    std::vector<OcrPageRecord> ocrPages(const QString &fileSha256); // by number
    std::vector<IngestErrorRecord> ingestErrors();
    std::vector<CollectionInfo> collections();
    LibraryStats stats();

    // --- writing: call inside a Transaction to batch; each call is atomic on its own otherwise.
    enum class AddOutcome { Added, Replaced, AlreadyPresent };
    struct AddResult {
        AddOutcome outcome;
        std::int64_t documentId;
    };
    // Adds a document unless one with the same sha256 exists. Documents at the same path that
    // came from other content of the file (older versions of it) are deleted in the same
    // transaction: they are replaced. `parentId`: the message an attachment belongs to. An
    // email's thread is its parent's (by In-Reply-To) when the library has the parent, else the
    // one its headers name. Recognised pages saved for the file (saveOcrPage) are dropped.
    AddResult addDocument(const NewDocument &document, std::int64_t parentId = 0);
    // The file with content `fileSha256` moved to `path`: its documents whose recorded path is
    // gone point there now. Returns the id of its first document, 0 when the library has none.
    std::int64_t updateFilePath(const QString &fileSha256, const QString &path);
    // A recognised page of a file whose document is not complete yet, kept until the document is
    // written, so a killed ingest does not recognise it again.
    void saveOcrPage(const QString &fileSha256, const OcrPageRecord &page);
    // Every document of the file of many documents `fileSha256` is written.
    void markFileComplete(const QString &fileSha256, const QString &path, int documents);
    void cacheWordBoxes(std::int64_t documentId, int number, const std::vector<WordBox> &words);
    // Removes a document with its pages, index entries and collection links; false if unknown.
    bool removeDocument(std::int64_t documentId);
    std::int64_t ensureCollection(const QString &name);
    void addToCollection(std::int64_t documentId, const QString &collection);
    void recordIngestError(const QString &path, const QString &kind, const QString &reason);
    // Clears the line of `path` and those of its parts ("path › attachment 2 ...").
    void clearIngestError(const QString &path);

private:
    std::int64_t pageId(std::int64_t documentId, int number);
    Database m_db;
    std::vector<std::unique_ptr<Database>> m_readers; // [index - 1]
};

const char *addOutcomeName(LibraryStore::AddOutcome outcome); // "added", "replaced", "present"

} // namespace nw::store
