// Schema history of the library database. Append a migration; never edit one that shipped.
#include "store/migrations.h"

#include "store/annotation_store.h"
#include "store/library_file.h"
#include "store/session_store.h"

#include "common/assert.h"
#include "common/error.h"
#include "common/log.h"

#include <string>

namespace nw::store {
namespace {

// 1: documents keyed by content hash, their pages with labels and word boxes, and an FTS5
// index over page text. The index keeps no copy of the text (external content = pages), and
// triggers keep it in step with `pages`, so deleting a document cleans the index too.
void createLibrary(Database &db)
{
    db.exec(R"sql(
        -- AUTOINCREMENT: an id is never reused, so a reference to a removed or replaced
        -- document can never land on another one.
        CREATE TABLE documents (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            sha256      TEXT NOT NULL UNIQUE,      -- hex of the file's content: the identity
            path        TEXT NOT NULL,             -- absolute path when last ingested
            kind        TEXT NOT NULL,             -- 'pdf' or 'text'
            title       TEXT NOT NULL DEFAULT '',
            author      TEXT NOT NULL DEFAULT '',
            subject     TEXT NOT NULL DEFAULT '',
            keywords    TEXT NOT NULL DEFAULT '',
            creator     TEXT NOT NULL DEFAULT '',
            producer    TEXT NOT NULL DEFAULT '',
            created     TEXT NOT NULL DEFAULT '',  -- the PDF's creation date, ISO 8601
            page_count  INTEGER NOT NULL,
            bytes       INTEGER NOT NULL,
            modified    INTEGER NOT NULL DEFAULT 0, -- file mtime, seconds since the epoch
            added       TEXT NOT NULL,             -- when ingested, ISO 8601 UTC
            status      TEXT NOT NULL DEFAULT 'ready'
        );
        CREATE INDEX documents_path ON documents(path);

        CREATE TABLE pages (
            id          INTEGER PRIMARY KEY,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            number      INTEGER NOT NULL,          -- 1-based physical page number
            label       TEXT NOT NULL DEFAULT '',  -- the printed label ("iv", "A-3"), from the PDF
            width       REAL NOT NULL DEFAULT 0,   -- points
            height      REAL NOT NULL DEFAULT 0,
            text        TEXT NOT NULL,
            UNIQUE (document_id, number)
        );

        -- One row per page with words: packed records, see store/word_boxes.h.
        CREATE TABLE word_boxes (
            page_id     INTEGER PRIMARY KEY REFERENCES pages(id) ON DELETE CASCADE,
            boxes       BLOB NOT NULL
        );

        CREATE VIRTUAL TABLE pages_fts USING fts5(
            text, content='pages', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2');
        CREATE TRIGGER pages_fts_insert AFTER INSERT ON pages BEGIN
            INSERT INTO pages_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER pages_fts_delete AFTER DELETE ON pages BEGIN
            INSERT INTO pages_fts(pages_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE TRIGGER pages_fts_update AFTER UPDATE OF text ON pages BEGIN
            INSERT INTO pages_fts(pages_fts, rowid, text) VALUES ('delete', old.id, old.text);
            INSERT INTO pages_fts(rowid, text) VALUES (new.id, new.text);
        END;
    )sql");
}

// 2: named collections of documents, and the last ingest failure of each path with a reason
// a person can read.
void addCollectionsAndErrors(Database &db)
{
    db.exec(R"sql(
        CREATE TABLE collections (
            id          INTEGER PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE,
            created     TEXT NOT NULL
        );
        CREATE TABLE document_collections (
            document_id   INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
            PRIMARY KEY (document_id, collection_id)
        ) WITHOUT ROWID;
        CREATE INDEX document_collections_collection ON document_collections(collection_id);

        CREATE TABLE ingest_errors (
            id          INTEGER PRIMARY KEY,
            path        TEXT NOT NULL UNIQUE,
            kind        TEXT NOT NULL,             -- machine-readable: 'encrypted', 'truncated', ...
            reason      TEXT NOT NULL,             -- for people
            at          TEXT NOT NULL              -- ISO 8601 UTC
        );
    )sql");
}

// 5: prefix indexes for 2- and 3-character prefixes: "con*" then reads one list instead of
// merging the lists of every word that starts so (a 3-letter prefix on 100,000 pages: p95 from
// ~1.8 s to ~70 ms of CPU, for a database ~30% larger; store/README.md). FTS5 options cannot be
// altered, so the index is made again from the pages (the triggers name it and keep working).
void addPrefixIndexes(Database &db)
{
    db.exec(R"sql(
        DROP TABLE pages_fts;
        CREATE VIRTUAL TABLE pages_fts USING fts5(
            text, content='pages', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2', prefix='2 3');
        INSERT INTO pages_fts(pages_fts) VALUES ('rebuild');
    )sql");
}

// 6: documents that are parts of a file (the messages of a mailbox, the attachments of a
// message), how each page's text was obtained, email headers and threads, and two tables that
// make long ingests resumable: OCR results of documents not yet complete, and mailboxes whose
// every message is in.
void addPartsSourcesAndMail(Database &db)
{
    db.exec(R"sql(
        -- A document that is part of a file: the file's hash ('' when the document is the whole
        -- file), where in the file ("message 12", "attachment 2 (report.pdf) of message 12"), and
        -- the message an attachment belongs to (removed with it).
        ALTER TABLE documents ADD COLUMN file_sha256 TEXT NOT NULL DEFAULT '';
        ALTER TABLE documents ADD COLUMN part TEXT NOT NULL DEFAULT '';
        ALTER TABLE documents ADD COLUMN parent_id INTEGER REFERENCES documents(id) ON DELETE CASCADE;
        CREATE INDEX documents_parent ON documents(parent_id) WHERE parent_id IS NOT NULL;
        CREATE INDEX documents_file ON documents(file_sha256) WHERE file_sha256 != '';

        -- 'text': the file's own text; 'ocr': recognised from the page's image, with the mean
        -- confidence of its words (0..100). first_paragraph: the number of the page's first
        -- paragraph in documents that have paragraphs and no printed pages (office, HTML, mail),
        -- paragraphs separated by blank lines in `text`; 0 elsewhere.
        ALTER TABLE pages ADD COLUMN source TEXT NOT NULL DEFAULT 'text';
        ALTER TABLE pages ADD COLUMN ocr_confidence REAL;
        ALTER TABLE pages ADD COLUMN first_paragraph INTEGER NOT NULL DEFAULT 0;

        -- Headers of a document that is an email. thread_id: the Message-ID of the first message
        -- of its thread that the library knows (by References / In-Reply-To).
        CREATE TABLE messages (
            document_id INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
            message_id  TEXT NOT NULL DEFAULT '',
            in_reply_to TEXT NOT NULL DEFAULT '',
            thread_id   TEXT NOT NULL DEFAULT '',
            sender      TEXT NOT NULL DEFAULT '',  -- From
            recipients  TEXT NOT NULL DEFAULT '',  -- To
            cc          TEXT NOT NULL DEFAULT '',
            date        TEXT NOT NULL DEFAULT '',  -- ISO 8601 UTC, '' when missing or unreadable
            subject     TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX messages_message_id ON messages(message_id);
        CREATE INDEX messages_thread ON messages(thread_id, date);

        -- Pages recognised (OCR) of a file whose document is not written yet: a killed ingest
        -- resumes from them instead of recognising them again. Deleted with the document's write.
        CREATE TABLE ocr_pages (
            file_sha256 TEXT NOT NULL,
            number      INTEGER NOT NULL,          -- 1-based
            languages   TEXT NOT NULL,             -- what they were recognised with ("eng+fra")
            dpi         INTEGER NOT NULL,
            text        TEXT NOT NULL,
            boxes       BLOB NOT NULL,             -- store/word_boxes.h
            confidence  REAL NOT NULL,
            PRIMARY KEY (file_sha256, number)
        ) WITHOUT ROWID;

        -- Files of many documents (mailboxes) whose every document is in: the next ingest of the
        -- same content skips the file without reading it.
        CREATE TABLE container_files (
            sha256      TEXT PRIMARY KEY,
            path        TEXT NOT NULL,
            documents   INTEGER NOT NULL,
            completed   TEXT NOT NULL              -- ISO 8601 UTC
        ) WITHOUT ROWID;
    )sql");
}

// 7: what one token of context costs in the KV cache of each turn, under the key every other
// report uses (kv_bytes_per_token). Turns recorded before keep 0: not recorded, since their
// total bytes cannot be split honestly (a sliding window or a recurrent state does not grow
// with the context).
void addTurnBytesPerToken(Database &db)
{
    db.exec("ALTER TABLE session_turns ADD COLUMN kv_bytes_per_token INTEGER NOT NULL DEFAULT 0");
}

// 8: where the documents' part of each whole-mode turn's context came from (a KV snapshot loaded
// from disk, a prefill that may have written one, or the session's own cache), with its tokens,
// the snapshot's bytes and the seconds loading or writing it took. Older turns read "".
void addTurnContextSource(Database &db)
{
    db.exec(R"sql(
        ALTER TABLE session_turns ADD COLUMN context_source TEXT NOT NULL DEFAULT '';
        ALTER TABLE session_turns ADD COLUMN context_tokens INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE session_turns ADD COLUMN context_bytes INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE session_turns ADD COLUMN context_seconds REAL NOT NULL DEFAULT 0;
    )sql");
}

// 9: what prefilling a turn's document context took — now, or when its snapshot was made — so a
// turn that loaded a snapshot says what the load saved. Older turns read 0 (not recorded).
void addTurnContextPrefill(Database &db)
{
    db.exec("ALTER TABLE session_turns ADD COLUMN context_prefill_seconds REAL NOT NULL DEFAULT 0;");
}

constexpr Migration kMigrations[] = {
    { 1, "library: documents, pages, word boxes, full-text index", createLibrary },
    { 2, "collections and ingest errors", addCollectionsAndErrors },
    { 3, "sessions and turns", createSessionTables },
    { 4, "annotations keyed by document content hash", createAnnotationTables },
    { 5, "prefix indexes for prefix* queries", addPrefixIndexes },
    { 6, "parts of files, page text sources, email headers, resumable OCR and mailboxes", addPartsSourcesAndMail },
    { 7, "KV bytes per token of each session turn", addTurnBytesPerToken },
    { 8, "where each turn's document context came from (KV snapshots)", addTurnContextSource },
    { 9, "what prefilling each turn's document context took", addTurnContextPrefill },
};

void checkList(std::span<const Migration> list)
{
    for (std::size_t i = 0; i < list.size(); ++i)
        NW_ASSERT(list[i].version == static_cast<int>(i) + 1 && list[i].apply != nullptr);
}

} // namespace

std::span<const Migration> migrations()
{
    return kMigrations;
}
int latestSchemaVersion()
{
    return static_cast<int>(std::size(kMigrations));
}

int schemaVersion(Database &db)
{
    return static_cast<int>(db.queryInt("PRAGMA user_version").value_or(0));
}

void migrateTo(Database &db, int version, std::span<const Migration> list)
{
    checkList(list);
    NW_ASSERT(version >= 0 && version <= static_cast<int>(list.size()));
    const int current = schemaVersion(db);
    if (current > static_cast<int>(list.size()))
        fail("database {} has schema version {}, newer than this build of Needlework knows ({}); "
             "open it with a newer Needlework",
            db.path(), current, list.size());
    for (int v = current + 1; v <= version; ++v) {
        const Migration &migration = list[static_cast<std::size_t>(v - 1)];
        Transaction tx(db);
        // Another process may have migrated between our read and BEGIN IMMEDIATE.
        if (schemaVersion(db) >= v)
            continue;
        log::get("store")->info("{}: migrating to schema {} ({})", db.path(), v, migration.name);
        migration.apply(db);
        // The version and Needlework's mark (store/library_file.h) in the same commit.
        db.exec(fmt::format("PRAGMA user_version = {}; PRAGMA application_id = {}", v, kLibraryApplicationId));
        tx.commit();
    }
}

void migrate(Database &db, std::span<const Migration> list)
{
    migrateTo(db, static_cast<int>(list.size()), list);
}

} // namespace nw::store
