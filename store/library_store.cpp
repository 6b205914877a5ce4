// The document library on top of the SQLite wrapper.
#include "store/library_store.h"

#include "common/assert.h"
#include "common/error.h"
#include "common/log.h"
#include "store/library_file.h"
#include "store/migrations.h"

#include <QFileInfo>

#include <algorithm>
#include <filesystem>

namespace nw::store {
namespace {

std::string utf8(const QString &s)
{
    return s.toStdString();
}
QString qstr(const std::string &s)
{
    return QString::fromStdString(s);
}

QString nowUtc()
{
    return QDateTime::currentDateTimeUtc().toString(Qt::ISODate);
}

// Documents with their email headers and OCR figures; callers add WHERE / ORDER BY on `d`.
constexpr const char *kDocumentSelect
    = "SELECT d.id, d.sha256, d.path, d.kind, d.title, d.author, d.subject, d.keywords, d.creator, d.producer, "
      "d.created, d.page_count, d.bytes, d.modified, d.added, d.status, d.file_sha256, d.part, "
      "coalesce(d.parent_id, 0), "
      "(SELECT count(*) FROM pages p WHERE p.document_id = d.id AND p.source = 'ocr'), "
      "(SELECT avg(p.ocr_confidence) FROM pages p WHERE p.document_id = d.id AND p.source = 'ocr'), "
      "m.document_id, m.message_id, m.in_reply_to, m.thread_id, m.sender, m.recipients, m.cc, m.date, m.subject "
      "FROM documents d LEFT JOIN messages m ON m.document_id = d.id";

DocumentInfo readDocument(const Statement &s)
{
    DocumentInfo d;
    d.id = s.columnInt(0);
    d.sha256 = qstr(s.columnText(1));
    d.path = qstr(s.columnText(2));
    d.kind = qstr(s.columnText(3));
    d.title = qstr(s.columnText(4));
    d.author = qstr(s.columnText(5));
    d.subject = qstr(s.columnText(6));
    d.keywords = qstr(s.columnText(7));
    d.creator = qstr(s.columnText(8));
    d.producer = qstr(s.columnText(9));
    d.created = qstr(s.columnText(10));
    d.pageCount = static_cast<int>(s.columnInt(11));
    d.bytes = s.columnInt(12);
    d.modified = s.columnInt(13);
    d.added = qstr(s.columnText(14));
    d.status = qstr(s.columnText(15));
    d.fileSha256 = qstr(s.columnText(16));
    d.part = qstr(s.columnText(17));
    d.parentId = s.columnInt(18);
    d.ocrPages = static_cast<int>(s.columnInt(19));
    d.ocrConfidence = s.isNull(20) ? -1.0 : s.columnDouble(20);
    if (!s.isNull(21)) {
        MessageHeaders m;
        m.messageId = qstr(s.columnText(22));
        m.inReplyTo = qstr(s.columnText(23));
        m.threadId = qstr(s.columnText(24));
        m.from = qstr(s.columnText(25));
        m.to = qstr(s.columnText(26));
        m.cc = qstr(s.columnText(27));
        m.date = qstr(s.columnText(28));
        m.subject = qstr(s.columnText(29));
        d.message = std::move(m);
    }
    return d;
}

} // namespace

const char *addOutcomeName(LibraryStore::AddOutcome outcome)
{
    switch (outcome) {
    case LibraryStore::AddOutcome::Added:
        return "added";
    case LibraryStore::AddOutcome::Replaced:
        return "replaced";
    case LibraryStore::AddOutcome::AlreadyPresent:
        return "present";
    }
    return "?";
}

namespace {

bool isInMemory(const std::string &path)
{
    return path.empty() || path == ":memory:";
}

// Makes sure a file is there to open (creating a new library for ReadWrite) and says how.
OpenMode prepareLibraryFile(const std::string &path, LibraryAccess access)
{
    if (isInMemory(path))
        return OpenMode::Create;
    if (access == LibraryAccess::ReadOnly) {
        std::error_code error;
        if (!std::filesystem::exists(path, error))
            fail("there is no library at {}", path);
        return OpenMode::ReadOnly;
    }
    createLibraryFile(path);
    return OpenMode::ReadWrite;
}

} // namespace

LibraryStore::LibraryStore(const QString &path, LibraryAccess access)
    : m_db(path.toStdString(), prepareLibraryFile(path.toStdString(), access))
{
    if (isInMemory(m_db.path())) {
        migrate(m_db);
        return;
    }
    recogniseLibrary(m_db);
    if (access == LibraryAccess::ReadWrite) {
        // A library made by an older version may have another journal mode yet.
        m_db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
        migrate(m_db);
        return;
    }
    const int version = schemaVersion(m_db);
    if (version > latestSchemaVersion())
        fail("the library {} has schema version {}, newer than this build of Needlework knows ({}); open it with a "
             "newer Needlework",
            m_db.path(), version, latestSchemaVersion());
    if (version < latestSchemaVersion())
        fail("the library {} has schema version {}, older than this build's {}; reading does not upgrade it: open it "
             "once in the window or with a command that changes it (needlework ingest) to upgrade it",
            m_db.path(), version, latestSchemaVersion());
}

Database &LibraryStore::reader(int index)
{
    NW_ASSERT(index >= 0);
    if (index == 0)
        return m_db;
    if (m_readers.size() < static_cast<std::size_t>(index))
        m_readers.resize(static_cast<std::size_t>(index));
    std::unique_ptr<Database> &reader = m_readers[static_cast<std::size_t>(index) - 1];
    if (!reader)
        reader = std::make_unique<Database>(m_db.path(), OpenMode::ReadOnly);
    return *reader;
}

std::optional<DocumentInfo> LibraryStore::findDocument(std::int64_t id)
{
    Statement s(m_db, std::string(kDocumentSelect) + " WHERE d.id = ?");
    s.bind(1, id);
    if (!s.step())
        return std::nullopt;
    DocumentInfo d = readDocument(s);
    Statement c(m_db,
        "SELECT c.name FROM collections c JOIN document_collections dc ON dc.collection_id = c.id "
        "WHERE dc.document_id = ? ORDER BY c.name");
    c.bind(1, id);
    while (c.step())
        d.collections << qstr(c.columnText(0));
    return d;
}

DocumentInfo LibraryStore::requireDocument(std::int64_t id)
{
    std::optional<DocumentInfo> d = findDocument(id);
    if (!d)
        fail("library {}: no document with id {} (see 'needlework library')", m_db.path(), id);
    return *d;
}

std::optional<DocumentInfo> LibraryStore::findDocumentBySha256(const QString &sha256)
{
    Statement s(m_db, "SELECT id FROM documents WHERE sha256 = ?");
    s.bind(1, utf8(sha256.toLower()));
    if (!s.step())
        return std::nullopt;
    return findDocument(s.columnInt(0));
}

std::vector<DocumentInfo> LibraryStore::findDocumentsByPath(const QString &path)
{
    std::vector<DocumentInfo> result;
    Statement s(m_db, std::string(kDocumentSelect) + " WHERE d.path = ? ORDER BY d.id");
    s.bind(1, utf8(path));
    while (s.step())
        result.push_back(readDocument(s));
    return result;
}

std::vector<DocumentInfo> LibraryStore::documents(const QString &collection)
{
    std::vector<DocumentInfo> result;
    std::string sql = kDocumentSelect;
    if (!collection.isEmpty())
        sql += " WHERE d.id IN (SELECT dc.document_id FROM document_collections dc JOIN collections c "
               "ON c.id = dc.collection_id WHERE c.name = ?1)";
    sql += " ORDER BY d.id";
    Statement s(m_db, sql);
    if (!collection.isEmpty())
        s.bind(1, utf8(collection));
    while (s.step())
        result.push_back(readDocument(s));
    Statement c(m_db,
        "SELECT dc.document_id, c.name FROM document_collections dc JOIN collections c "
        "ON c.id = dc.collection_id ORDER BY c.name");
    while (c.step()) {
        const std::int64_t id = c.columnInt(0);
        auto it = std::lower_bound(
            result.begin(), result.end(), id, [](const DocumentInfo &d, std::int64_t value) { return d.id < value; });
        if (it != result.end() && it->id == id)
            it->collections << qstr(c.columnText(1));
    }
    return result;
}

QHash<QString, QString> LibraryStore::knownContent()
{
    QHash<QString, QString> result;
    Statement s(m_db, "SELECT sha256, file_sha256 FROM documents UNION ALL SELECT sha256, '' FROM container_files");
    while (s.step())
        result.insert(qstr(s.columnText(0)), qstr(s.columnText(1)));
    return result;
}

std::vector<DocumentInfo> LibraryStore::attachments(std::int64_t messageId)
{
    std::vector<DocumentInfo> result;
    Statement s(m_db, std::string(kDocumentSelect) + " WHERE d.parent_id = ? ORDER BY d.id");
    s.bind(1, messageId);
    while (s.step())
        result.push_back(readDocument(s));
    return result;
}

std::vector<DocumentInfo> LibraryStore::thread(const QString &threadId)
{
    std::vector<DocumentInfo> result;
    Statement s(m_db, std::string(kDocumentSelect) + " WHERE m.thread_id = ? ORDER BY m.date, d.id");
    s.bind(1, utf8(threadId));
    while (s.step())
        result.push_back(readDocument(s));
    return result;
}

std::optional<PageRecord> LibraryStore::findPage(std::int64_t documentId, int number)
{
    Statement s(m_db,
        "SELECT p.number, p.label, p.width, p.height, p.text, w.boxes, p.source, p.ocr_confidence, "
        "p.first_paragraph FROM pages p LEFT JOIN word_boxes w ON w.page_id = p.id "
        "WHERE p.document_id = ? AND p.number = ?");
    s.bind(1, documentId).bind(2, static_cast<std::int64_t>(number));
    if (!s.step())
        return std::nullopt;
    PageRecord page;
    page.number = static_cast<int>(s.columnInt(0));
    page.label = qstr(s.columnText(1));
    page.width = s.columnDouble(2);
    page.height = s.columnDouble(3);
    page.text = qstr(s.columnText(4));
    if (!s.isNull(5)) {
        const std::string blob = s.columnBlob(5);
        page.words = unpackWordBoxes(QByteArray(blob.data(), static_cast<qsizetype>(blob.size())));
    }
    page.source = qstr(s.columnText(6));
    page.ocrConfidence = s.isNull(7) ? -1.0 : s.columnDouble(7);
    page.firstParagraph = static_cast<int>(s.columnInt(8));
    return page;
}

PageRecord LibraryStore::requirePage(std::int64_t documentId, int number)
{
    std::optional<PageRecord> page = findPage(documentId, number);
    if (!page)
        fail("library {}: document {} has no page {}", m_db.path(), documentId, number);
    return std::move(*page);
}

QStringList LibraryStore::pageLabels(std::int64_t documentId)
{
    QStringList labels;
    Statement s(m_db, "SELECT label FROM pages WHERE document_id = ? ORDER BY number");
    s.bind(1, documentId);
    while (s.step())
        labels << qstr(s.columnText(0));
    return labels;
}

std::optional<std::vector<WordBox>> LibraryStore::findWordBoxes(std::int64_t documentId, int number)
{
    Statement s(m_db,
        "SELECT w.boxes FROM word_boxes w JOIN pages p ON p.id = w.page_id "
        "WHERE p.document_id = ? AND p.number = ?");
    s.bind(1, documentId).bind(2, static_cast<std::int64_t>(number));
    if (!s.step())
        return std::nullopt;
    const std::string blob = s.columnBlob(0);
    return unpackWordBoxes(QByteArray(blob.data(), static_cast<qsizetype>(blob.size())));
}

std::vector<OcrPageRecord> LibraryStore::ocrPages(const QString &fileSha256)
{
    std::vector<OcrPageRecord> result;
    Statement s(m_db,
        "SELECT number, languages, dpi, text, boxes, confidence FROM ocr_pages WHERE file_sha256 = ? "
        "ORDER BY number");
    s.bind(1, utf8(fileSha256));
    while (s.step()) {
        OcrPageRecord page;
        page.number = static_cast<int>(s.columnInt(0));
        page.languages = qstr(s.columnText(1));
        page.dpi = static_cast<int>(s.columnInt(2));
        page.text = qstr(s.columnText(3));
        const std::string blob = s.columnBlob(4);
        page.words = unpackWordBoxes(QByteArray(blob.data(), static_cast<qsizetype>(blob.size())));
        page.confidence = s.columnDouble(5);
        result.push_back(std::move(page));
    }
    return result;
}

std::vector<IngestErrorRecord> LibraryStore::ingestErrors()
{
    std::vector<IngestErrorRecord> result;
    Statement s(m_db, "SELECT path, kind, reason, at FROM ingest_errors ORDER BY path");
    while (s.step())
        result.push_back(
            { qstr(s.columnText(0)), qstr(s.columnText(1)), qstr(s.columnText(2)), qstr(s.columnText(3)) });
    return result;
}

std::vector<CollectionInfo> LibraryStore::collections()
{
    std::vector<CollectionInfo> result;
    Statement s(m_db,
        "SELECT c.id, c.name, count(dc.document_id) FROM collections c "
        "LEFT JOIN document_collections dc ON dc.collection_id = c.id GROUP BY c.id ORDER BY c.name");
    while (s.step())
        result.push_back({ s.columnInt(0), qstr(s.columnText(1)), static_cast<int>(s.columnInt(2)) });
    return result;
}

LibraryStats LibraryStore::stats()
{
    return { static_cast<int>(m_db.queryInt("SELECT count(*) FROM documents").value_or(0)),
        m_db.queryInt("SELECT coalesce(sum(page_count), 0) FROM documents").value_or(0),
        static_cast<int>(m_db.queryInt("SELECT count(*) FROM ingest_errors").value_or(0)) };
}

LibraryStore::AddResult LibraryStore::addDocument(const NewDocument &document, std::int64_t parentId)
{
    const DocumentInfo &info = document.info;
    NW_ASSERT(info.pageCount == static_cast<int>(document.pages.size()));
    Savepoint savepoint(m_db);
    // Older versions of this file (same path, other content) go in the same transaction, with
    // the documents that were parts of them: first, so that a message both versions of a
    // mailbox hold is not found present and then deleted with the old version.
    const std::string fileSha = utf8(info.fileSha256.isEmpty() ? info.sha256 : info.fileSha256);
    Statement old(m_db,
        "DELETE FROM documents WHERE path = ? AND (CASE file_sha256 WHEN '' THEN sha256 ELSE file_sha256 END) != ?");
    old.bind(1, utf8(info.path)).bind(2, fileSha);
    old.run();
    const bool replaced = m_db.changes() > 0;
    Statement oldFile(m_db, "DELETE FROM container_files WHERE path = ? AND sha256 != ?");
    oldFile.bind(1, utf8(info.path)).bind(2, fileSha);
    oldFile.run();
    {
        Statement existing(m_db, "SELECT id FROM documents WHERE sha256 = ?");
        existing.bind(1, utf8(info.sha256));
        if (existing.step()) {
            const std::int64_t id = existing.columnInt(0);
            savepoint.release();
            return { AddOutcome::AlreadyPresent, id };
        }
    }

    Statement insert(m_db,
        "INSERT INTO documents (sha256, path, kind, title, author, subject, keywords, creator, "
        "producer, created, page_count, bytes, modified, added, status, file_sha256, part, parent_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ready', ?, ?, ?)");
    insert.bind(1, utf8(info.sha256)).bind(2, utf8(info.path)).bind(3, utf8(info.kind)).bind(4, utf8(info.title));
    insert.bind(5, utf8(info.author)).bind(6, utf8(info.subject)).bind(7, utf8(info.keywords));
    insert.bind(8, utf8(info.creator)).bind(9, utf8(info.producer)).bind(10, utf8(info.created));
    insert.bind(11, static_cast<std::int64_t>(info.pageCount)).bind(12, info.bytes).bind(13, info.modified);
    insert.bind(14, utf8(nowUtc())).bind(15, utf8(info.fileSha256)).bind(16, utf8(info.part));
    if (parentId > 0)
        insert.bind(17, parentId);
    else
        insert.bindNull(17);
    insert.run();
    const std::int64_t documentId = m_db.lastInsertId();

    Statement page(m_db,
        "INSERT INTO pages (document_id, number, label, width, height, text, source, ocr_confidence, "
        "first_paragraph) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    Statement boxes(m_db, "INSERT INTO word_boxes (page_id, boxes) VALUES (?, ?)");
    for (const PageRecord &p : document.pages) {
        page.reset();
        page.bind(1, documentId).bind(2, static_cast<std::int64_t>(p.number)).bind(3, utf8(p.label));
        page.bind(4, p.width).bind(5, p.height).bind(6, utf8(p.text)).bind(7, utf8(p.source));
        if (p.ocrConfidence >= 0)
            page.bind(8, p.ocrConfidence);
        else
            page.bindNull(8);
        page.bind(9, static_cast<std::int64_t>(p.firstParagraph));
        page.run();
        if (!p.words.empty()) {
            const QByteArray blob = packWordBoxes(p.words);
            boxes.reset();
            boxes.bind(1, m_db.lastInsertId()).bindBlob(2, blob.constData(), static_cast<std::size_t>(blob.size()));
            boxes.run();
        }
    }
    if (info.message) {
        const MessageHeaders &m = *info.message;
        // The thread of the message it answers, when the library has that one.
        QString threadId = m.threadId.isEmpty() ? m.messageId : m.threadId;
        if (!m.inReplyTo.isEmpty()) {
            Statement parent(m_db, "SELECT thread_id FROM messages WHERE message_id = ? AND thread_id != '' LIMIT 1");
            parent.bind(1, utf8(m.inReplyTo));
            if (parent.step())
                threadId = qstr(parent.columnText(0));
        }
        Statement message(m_db,
            "INSERT INTO messages (document_id, message_id, in_reply_to, thread_id, sender, "
            "recipients, cc, date, subject) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
        message.bind(1, documentId).bind(2, utf8(m.messageId)).bind(3, utf8(m.inReplyTo)).bind(4, utf8(threadId));
        message.bind(5, utf8(m.from))
            .bind(6, utf8(m.to))
            .bind(7, utf8(m.cc))
            .bind(8, utf8(m.date))
            .bind(9, utf8(m.subject));
        message.run();
    }
    Statement recognised(m_db, "DELETE FROM ocr_pages WHERE file_sha256 = ?");
    recognised.bind(1, utf8(info.sha256));
    recognised.run();
    clearIngestError(info.path);
    savepoint.release();
    return { replaced ? AddOutcome::Replaced : AddOutcome::Added, documentId };
}

std::int64_t LibraryStore::updateFilePath(const QString &fileSha256, const QString &path)
{
    Statement s(m_db,
        "SELECT id, path FROM documents WHERE (sha256 = ?1 AND file_sha256 = '') OR file_sha256 = ?1 ORDER BY id");
    s.bind(1, utf8(fileSha256));
    std::int64_t first = 0;
    std::vector<std::int64_t> moved;
    while (s.step()) {
        const std::int64_t id = s.columnInt(0);
        if (first == 0)
            first = id;
        const QString recorded = qstr(s.columnText(1));
        if (recorded != path && !QFileInfo::exists(recorded))
            moved.push_back(id);
    }
    Statement update(m_db, "UPDATE documents SET path = ? WHERE id = ?");
    for (std::int64_t id : moved) {
        update.reset();
        update.bind(1, utf8(path)).bind(2, id);
        update.run();
    }
    Statement container(m_db, "UPDATE container_files SET path = ? WHERE sha256 = ?");
    container.bind(1, utf8(path)).bind(2, utf8(fileSha256));
    container.run();
    return first;
}

void LibraryStore::saveOcrPage(const QString &fileSha256, const OcrPageRecord &page)
{
    const QByteArray blob = packWordBoxes(page.words);
    Statement s(m_db,
        "INSERT OR REPLACE INTO ocr_pages (file_sha256, number, languages, dpi, text, boxes, confidence) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)");
    s.bind(1, utf8(fileSha256)).bind(2, static_cast<std::int64_t>(page.number)).bind(3, utf8(page.languages));
    s.bind(4, static_cast<std::int64_t>(page.dpi)).bind(5, utf8(page.text));
    s.bindBlob(6, blob.constData(), static_cast<std::size_t>(blob.size())).bind(7, page.confidence);
    s.run();
}

void LibraryStore::markFileComplete(const QString &fileSha256, const QString &path, int documents)
{
    Statement s(
        m_db, "INSERT OR REPLACE INTO container_files (sha256, path, documents, completed) VALUES (?, ?, ?, ?)");
    s.bind(1, utf8(fileSha256))
        .bind(2, utf8(path))
        .bind(3, static_cast<std::int64_t>(documents))
        .bind(4, utf8(nowUtc()));
    s.run();
}

std::int64_t LibraryStore::pageId(std::int64_t documentId, int number)
{
    Statement s(m_db, "SELECT id FROM pages WHERE document_id = ? AND number = ?");
    s.bind(1, documentId).bind(2, static_cast<std::int64_t>(number));
    if (!s.step())
        fail("library {}: document {} has no page {}", m_db.path(), documentId, number);
    return s.columnInt(0);
}

void LibraryStore::cacheWordBoxes(std::int64_t documentId, int number, const std::vector<WordBox> &words)
{
    const QByteArray blob = packWordBoxes(words);
    Statement s(m_db, "INSERT OR REPLACE INTO word_boxes (page_id, boxes) VALUES (?, ?)");
    s.bind(1, pageId(documentId, number)).bindBlob(2, blob.constData(), static_cast<std::size_t>(blob.size()));
    s.run();
}

bool LibraryStore::removeDocument(std::int64_t documentId)
{
    Statement s(m_db, "DELETE FROM documents WHERE id = ?");
    s.bind(1, documentId);
    s.run();
    return m_db.changes() > 0;
}

std::int64_t LibraryStore::ensureCollection(const QString &name)
{
    if (name.trimmed().isEmpty())
        fail("a collection needs a name");
    Statement insert(m_db, "INSERT OR IGNORE INTO collections (name, created) VALUES (?, ?)");
    insert.bind(1, utf8(name)).bind(2, utf8(nowUtc()));
    insert.run();
    Statement s(m_db, "SELECT id FROM collections WHERE name = ?");
    s.bind(1, utf8(name));
    NW_ASSERT(s.step());
    return s.columnInt(0);
}

void LibraryStore::addToCollection(std::int64_t documentId, const QString &collection)
{
    const std::int64_t collectionId = ensureCollection(collection);
    Statement s(m_db, "INSERT OR IGNORE INTO document_collections (document_id, collection_id) VALUES (?, ?)");
    s.bind(1, documentId).bind(2, collectionId);
    s.run();
}

void LibraryStore::recordIngestError(const QString &path, const QString &kind, const QString &reason)
{
    Statement s(m_db,
        "INSERT INTO ingest_errors (path, kind, reason, at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(path) DO UPDATE SET kind = excluded.kind, reason = excluded.reason, at = excluded.at");
    s.bind(1, utf8(path)).bind(2, utf8(kind)).bind(3, utf8(reason)).bind(4, utf8(nowUtc()));
    s.run();
}

void LibraryStore::clearIngestError(const QString &path)
{
    // The file's own line and those of its parts ("path › message 12"): every string with that
    // prefix sorts from "path › " to just before "path ›!" (the space, 0x20, raised by one).
    Statement s(m_db, "DELETE FROM ingest_errors WHERE path = ?1 OR (path >= ?1 || ' › ' AND path < ?1 || ' ›!')");
    s.bind(1, utf8(path));
    s.run();
}

} // namespace nw::store
