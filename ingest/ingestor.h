// Ingest: files and folders into the library. Extraction runs in parallel on a thread pool
// (page ranges of one PDF spread over threads, scanned pages recognised one per task, files of
// other formats read whole, a mailbox message by message); the calling thread is the one writer
// and commits finished documents in batched transactions, so a kill loses at most the current
// batch (and of a scan, only the pages being recognised: each recognised page is saved as it
// comes) and a rerun finishes the job. Progress goes to a callback; cancel() stops after the
// batch in hand is committed.
#pragma once

#include "ingest/document_reader.h"
#include "ingest/ingest_error.h"
#include "ingest/pdf_page_reader.h"
#include "store/library_store.h"

#include <QString>
#include <QStringList>

#include <atomic>
#include <functional>
#include <optional>
#include <vector>

namespace nw::ingest {

struct IngestOptions {
    int jobs = 0; // extraction threads; 0: one per core
    QString collection; // add every ingested or already present document to it
    // Off: boxes are computed when a page is shown (ingest/page_words.h); storing them all
    // costs ~6 KB a page (2.4x the database) for no extraction time saved (store/README.md).
    bool storeWordBoxes = false;
    qint64 maxFileBytes = qint64(2) << 30; // larger files are refused as too large (mailboxes: maxMailboxBytes)
    qint64 maxDocumentBytes = qint64(256)
        << 20; // files read whole (text, HTML, office, .eml) and one message of a mailbox
    qint64 maxMailboxBytes = qint64(64) << 30; // mailboxes are read message by message
    int maxPages = 50'000; // so are PDFs with more pages
    int batchPages = 512; // pages per write transaction (whole documents, at least one)
    int rangePages = 8; // pages of one PDF per extraction task (1 for a scan)
    int textPageChars = 3000; // page size for documents without pages (text, HTML, office, mail)
    OcrOptions ocr; // which PDF pages are recognised, in which languages
    ZipLimits zip; // .docx / .odt: what their zip may expand to
    int maxMessageDepth = 8; // messages attached to messages: deeper is refused
};

struct IngestProgress {
    int filesDone = 0;
    int filesTotal = 0;
    std::int64_t pagesExtracted = 0;
    std::int64_t pagesStored = 0;
    std::int64_t bytesDone = 0; // of the files finished
    std::int64_t bytesInProgress = 0; // of the files being read, in proportion to their pages or messages done
    std::int64_t bytesTotal = 0;
    std::int64_t pagesRecognised = 0; // of pagesExtracted, by OCR
    double elapsedSeconds = 0;
    double pagesPerSecond = 0; // pages extracted per second of this run
    double etaSeconds = -1; // from the share of bytes done; -1 until it can be told
    QString currentFile; // the file most recently finished
    bool finished = false; // the last report of a run
};

enum class FileStatus {
    Added, // new document
    Replaced, // a changed file: its old version was removed in the same transaction
    AlreadyPresent, // same content already in the library: nothing to do
    Failed, // see problem and reason
    NotDone, // the run was cancelled before this file was finished
    Skipped, // found in a folder but of no format Needlework reads (a binary without extension)
};
// "added", "replaced", "present", "failed", "not-done", "skipped"
const char *fileStatusName(FileStatus status);

struct FileOutcome {
    QString path;
    FileStatus status = FileStatus::NotDone;
    std::int64_t documentId = 0; // the file's document, or its first (a mailbox's first message)
    int pages = 0; // stored, of all its documents
    int documents = 0; // stored: more than one for a message with attachments, a mailbox
    int ocrPages = 0; // of `pages`, recognised
    std::optional<IngestProblem> problem;
    QString reason;
    // Parts that could not be read while the file was (an encrypted attachment, a malformed
    // message of a mailbox): one line each; also in the ingest errors, as "path › part".
    QStringList partProblems;
};

struct IngestSummary {
    std::vector<FileOutcome> files; // in the order the inputs were expanded
    int added = 0;
    int replaced = 0;
    int present = 0;
    int failed = 0;
    int notDone = 0;
    int skipped = 0;
    std::int64_t pagesStored = 0;
    std::int64_t pagesRecognised = 0; // of pagesStored, by OCR
    std::int64_t pagesResumed = 0; // of pagesRecognised, recognised by an earlier run that was stopped
    std::int64_t documentsStored = 0;
    double seconds = 0;
    bool cancelled = false;
};

// An input file after expanding folders. Folders contribute the files whose names
// isIngestSuffix() accepts and extensionless files (those only when they turn out to be text or
// mail); hidden entries are skipped.
struct InputFile {
    QString path; // absolute
    bool named = false; // given on the command line rather than found in a folder
    bool exists = true;
    std::int64_t bytes = 0;
};
std::vector<InputFile> collectInputs(const QStringList &paths);

class Ingestor {
public:
    using ProgressCallback = std::function<void(const IngestProgress &)>;

    // Uses `store` from the calling thread only (the writer).
    explicit Ingestor(store::LibraryStore &store, IngestOptions options = {});

    // Called on the thread that runs run(), about every `intervalMs` and once at the end.
    void setProgressCallback(ProgressCallback callback, int intervalMs = 100);
    // Safe from any thread and from a signal handler: only sets a lock-free flag.
    void cancel() { m_cancel.store(true, std::memory_order_relaxed); }
    std::atomic<bool> &cancelFlag() { return m_cancel; }

    IngestSummary run(const QStringList &paths);

private:
    store::LibraryStore &m_store;
    IngestOptions m_options;
    ProgressCallback m_progress;
    int m_progressIntervalMs = 100;
    std::atomic<bool> m_cancel { false };
    static_assert(std::atomic<bool>::is_always_lock_free);
};

} // namespace nw::ingest
