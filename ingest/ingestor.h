// Ingest: files and folders into the library. Extraction runs in parallel on a thread pool
// (page ranges of one PDF spread over threads); the calling thread is the one writer and
// commits finished documents in batched transactions, so a kill loses at most the current
// batch and a rerun finishes the job. Progress goes to a callback; cancel() stops after the
// batch in hand is committed.
#pragma once

#include "ingest/ingest_error.h"
#include "store/library_store.h"

#include <QString>
#include <QStringList>

#include <atomic>
#include <functional>
#include <optional>
#include <vector>

namespace nw::ingest {

struct IngestOptions {
    int jobs = 0;                  // extraction threads; 0: one per core
    QString collection;            // add every ingested or already present document to it
    // Off: boxes are computed when a page is shown (ingest/page_words.h); storing them all
    // costs ~6 KB a page (2.4x the database) for no extraction time saved (store/README.md).
    bool storeWordBoxes = false;
    qint64 maxFileBytes = qint64(2) << 30; // larger files are refused as too large
    int maxPages = 50'000;         // so are PDFs with more pages
    int batchPages = 512;          // pages per write transaction (whole documents, at least one)
    int rangePages = 8;            // pages of one PDF per extraction task
    int textPageChars = 3000;      // page size for plain text
};

struct IngestProgress {
    int filesDone = 0;
    int filesTotal = 0;
    std::int64_t pagesExtracted = 0;
    std::int64_t pagesStored = 0;
    std::int64_t bytesDone = 0;
    std::int64_t bytesTotal = 0;
    double elapsedSeconds = 0;
    double pagesPerSecond = 0;     // pages extracted per second of this run
    double etaSeconds = -1;        // from the share of bytes done; -1 until it can be told
    QString currentFile;           // the file most recently finished
    bool finished = false;         // the last report of a run
};

enum class FileStatus {
    Added,          // new document
    Replaced,       // a changed file: its old version was removed in the same transaction
    AlreadyPresent, // same content already in the library: nothing to do
    Failed,         // see problem and reason
    NotDone,        // the run was cancelled before this file was finished
    Skipped,        // found in a folder but neither PDF nor text (a binary without extension)
};
// "added", "replaced", "present", "failed", "not-done", "skipped"
const char *fileStatusName(FileStatus status);

struct FileOutcome {
    QString path;
    FileStatus status = FileStatus::NotDone;
    std::int64_t documentId = 0;
    int pages = 0;
    std::optional<IngestProblem> problem;
    QString reason;
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
    double seconds = 0;
    bool cancelled = false;
};

// An input file after expanding folders. Folders contribute .pdf, .txt, .md/.markdown and
// extensionless files (those only when they turn out to be text); hidden entries are skipped.
struct InputFile {
    QString path;           // absolute
    bool named = false;     // given on the command line rather than found in a folder
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
    std::atomic<bool> m_cancel{false};
    static_assert(std::atomic<bool>::is_always_lock_free);
};

} // namespace nw::ingest
