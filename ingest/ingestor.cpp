// The ingest pipeline: probe (hash, classify, open, and read files that are read whole) and
// extract on a thread pool, write on the calling thread in batched transactions.
#include "ingest/ingestor.h"

#include "common/assert.h"
#include "common/log.h"
#include "ingest/mail_message.h"
#include "ingest/pdf_document.h"
#include "ingest/text_document.h"

#include <QCryptographicHash>
#include <QDirIterator>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QMimeDatabase>
#include <QSet>
#include <QThread>
#include <QThreadPool>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <thread>
#include <variant>

namespace nw::ingest {

const char *fileStatusName(FileStatus status)
{
    switch (status) {
    case FileStatus::Added:
        return "added";
    case FileStatus::Replaced:
        return "replaced";
    case FileStatus::AlreadyPresent:
        return "present";
    case FileStatus::Failed:
        return "failed";
    case FileStatus::NotDone:
        return "not-done";
    case FileStatus::Skipped:
        return "skipped";
    }
    return "?";
}

namespace {

bool isCandidate(const QFileInfo &info)
{
    const QString suffix = info.suffix().toLower();
    return suffix.isEmpty() || isIngestSuffix(suffix);
}

} // namespace

std::vector<InputFile> collectInputs(const QStringList &paths)
{
    std::vector<InputFile> inputs;
    QSet<QString> seen;
    auto add = [&](const QFileInfo &info, bool named) {
        const QString path = info.exists() ? info.canonicalFilePath() : info.absoluteFilePath();
        if (seen.contains(path))
            return;
        seen.insert(path);
        inputs.push_back({ path, named, info.exists(), info.exists() ? info.size() : 0 });
    };
    for (const QString &path : paths) {
        const QFileInfo info(path);
        if (!info.isDir()) {
            add(info, true);
            continue;
        }
        QStringList found;
        QDirIterator it(info.absoluteFilePath(), QDir::Files | QDir::NoDotAndDotDot, QDirIterator::Subdirectories);
        while (it.hasNext()) {
            const QFileInfo entry(it.next());
            if (isCandidate(entry) && !entry.isHidden() && !entry.absoluteFilePath().contains(QStringLiteral("/.")))
                found << entry.absoluteFilePath();
        }
        found.sort();
        for (const QString &file : found)
            add(QFileInfo(file), false);
    }
    return inputs;
}

namespace {

// What a worker learned about a file before extraction; files read whole come back read.
struct ProbeResult {
    enum class Kind { Present, Pdf, Ready, Mailbox, Failed, Skipped } kind = Kind::Failed;
    QString sha256;
    std::int64_t bytes = 0;
    std::int64_t modified = 0;
    int pageCount = 0;
    DocumentMetadata metadata; // a PDF's
    bool scanned = false; // a PDF whose first page is to be recognised
    std::optional<ExtractedDocument> document; // Ready: the document with its parts
    IngestProblem problem = IngestProblem::Corrupt;
    QString reason;
};

struct RangeResult {
    int first = 0;
    std::vector<PageContent> pages;
    int recognised = 0; // pages of the range already sent as RecognisedPage events
    int resumed = 0; // pages of the range an earlier run recognised
    bool cancelled = false;
    std::optional<IngestFailure> failure;
};

// One PDF page recognised, sent as soon as it is: the writer saves it, so that a killed ingest
// does not recognise it again.
struct RecognisedPage {
    PageContent page;
};

// Messages of a mailbox, read in order.
struct MailboxChunk {
    std::vector<ExtractedDocument> messages;
    std::vector<PartProblem> problems; // of messages ("message 12") and their parts
    std::int64_t position = 0; // bytes of the mailbox read
    std::int64_t credited = 0; // pages taken from the PageCredit, to give back once written
    bool last = false;
    bool cancelled = false;
    std::optional<IngestFailure> failure;
};

struct Event {
    int file = 0;
    std::variant<ProbeResult, RangeResult, RecognisedPage, MailboxChunk> payload;
};

class EventQueue {
public:
    void push(Event event)
    {
        {
            std::lock_guard lock(m_mutex);
            m_events.push_back(std::move(event));
        }
        m_ready.notify_one();
    }
    std::optional<Event> pop(std::chrono::milliseconds timeout)
    {
        std::unique_lock lock(m_mutex);
        if (!m_ready.wait_for(lock, timeout, [this] { return !m_events.empty(); }))
            return std::nullopt;
        Event event = std::move(m_events.front());
        m_events.pop_front();
        return event;
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_ready;
    std::deque<Event> m_events;
};

// Bounds the pages a mailbox reader may have sent that the writer has not written yet, so that a
// mailbox of any size is read in flat memory: the reader waits (or gives up on cancel).
class PageCredit {
public:
    explicit PageCredit(std::int64_t limit)
        : m_limit(limit)
    {
    }
    bool acquire(std::int64_t pages, const std::atomic<bool> &cancel)
    {
        std::unique_lock lock(m_mutex);
        while (m_held > 0 && m_held + pages > m_limit) {
            if (cancel.load(std::memory_order_relaxed))
                return false;
            m_freed.wait_for(lock, std::chrono::milliseconds(50));
        }
        m_held += pages;
        return true;
    }
    void release(std::int64_t pages)
    {
        {
            std::lock_guard lock(m_mutex);
            m_held -= pages;
        }
        m_freed.notify_all();
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_freed;
    std::int64_t m_limit;
    std::int64_t m_held = 0;
};

// Each worker thread keeps the PDF it read last open: consecutive ranges of one file then
// share one parse of its cross-reference table.
class DocumentCache {
public:
    const PdfDocument &get(const QString &path)
    {
        std::lock_guard lock(m_mutex);
        Entry &entry = m_entries[std::this_thread::get_id()];
        if (!entry.document || entry.document->path() != path) {
            entry.document.reset();
            entry.document = std::make_unique<PdfDocument>(PdfDocument::open(path));
        }
        return *entry.document;
    }

private:
    struct Entry {
        std::unique_ptr<PdfDocument> document;
    };
    std::mutex m_mutex; // guards the map; each entry is used by its own thread only
    std::map<std::thread::id, Entry> m_entries;
};

// Pages recognised by an earlier run that was stopped, by page number.
using RecognisedCache = std::map<int, store::OcrPageRecord>;

ProbeResult failed(IngestProblem problem, const QString &reason)
{
    ProbeResult r;
    r.kind = ProbeResult::Kind::Failed;
    r.problem = problem;
    r.reason = reason;
    return r;
}

ReadOptions readOptionsOf(const IngestOptions &options, const std::atomic<bool> *cancel)
{
    ReadOptions r;
    r.textPageChars = options.textPageChars;
    r.ocr = options.ocr;
    r.zip = options.zip;
    r.maxDepth = options.maxMessageDepth;
    r.maxPartBytes = options.maxDocumentBytes;
    r.cancel = cancel;
    return r;
}

bool hasText(const ExtractedDocument &doc)
{
    return std::any_of(
        doc.pages.begin(), doc.pages.end(), [](const PageContent &p) { return !p.text.trimmed().isEmpty(); });
}

ProbeResult probeFile(
    const InputFile &input, const QSet<QString> &known, const IngestOptions &options, const std::atomic<bool> &cancel)
{
    if (!input.exists)
        return failed(IngestProblem::Missing, QStringLiteral("no such file or directory"));
    QFile file(input.path);
    if (!file.open(QIODevice::ReadOnly))
        return failed(IngestProblem::Unreadable, QStringLiteral("cannot be read: %1").arg(file.errorString()));
    ProbeResult r;
    r.bytes = file.size();
    r.modified = QFileInfo(input.path).lastModified().toSecsSinceEpoch();
    const QByteArray start = file.peek(4096);
    const FileFormat format = detectFormat(input.path, start);
    const qint64 limit = format == FileFormat::Mailbox ? options.maxMailboxBytes : options.maxFileBytes;
    if (r.bytes > limit)
        return failed(IngestProblem::TooLarge,
            QStringLiteral("the file is too large: %1 (the limit is %2)").arg(bytesText(r.bytes), bytesText(limit)));
    QCryptographicHash hash(QCryptographicHash::Sha256);
    while (!file.atEnd()) {
        const QByteArray chunk = file.read(1 << 20);
        if (chunk.isEmpty() && file.error() != QFileDevice::NoError)
            return failed(IngestProblem::Unreadable, QStringLiteral("cannot be read: %1").arg(file.errorString()));
        hash.addData(chunk);
    }
    r.sha256 = QString::fromLatin1(hash.result().toHex());
    if (known.contains(r.sha256)) {
        r.kind = ProbeResult::Kind::Present;
        return r;
    }

    try {
        switch (format) {
        case FileFormat::Pdf: {
            if (r.bytes == 0)
                return failed(IngestProblem::NotPdf, QStringLiteral("not a PDF: the file is empty"));
            const PdfDocument pdf = PdfDocument::open(input.path);
            r.pageCount = pdf.pageCount();
            if (r.pageCount > options.maxPages)
                return failed(IngestProblem::TooLarge,
                    QStringLiteral("the PDF is too large: %1 pages (the limit is %2)")
                        .arg(r.pageCount)
                        .arg(options.maxPages));
            r.metadata = pdf.metadata();
            // A scan is recognised page by page, one per task, so all cores work on it.
            r.scanned = options.ocr.mode != OcrMode::Never && wantsOcr(pdf.page(0, false).text, options.ocr.mode);
            r.kind = ProbeResult::Kind::Pdf;
            return r;
        }
        case FileFormat::Mailbox:
            r.kind = ProbeResult::Kind::Mailbox;
            return r;
        case FileFormat::Text:
        case FileFormat::Html:
        case FileFormat::Docx:
        case FileFormat::Odt:
        case FileFormat::Email: {
            if (r.bytes > options.maxDocumentBytes)
                return failed(IngestProblem::TooLarge,
                    QStringLiteral("the file is too large to read whole: %1 (the limit is %2)")
                        .arg(bytesText(r.bytes), bytesText(options.maxDocumentBytes)));
            file.seek(0);
            ExtractedDocument doc
                = readDocument(format, file.readAll(), input.path, r.sha256, readOptionsOf(options, &cancel));
            if (!hasText(doc))
                return failed(IngestProblem::Empty, QStringLiteral("the file has no text to index"));
            r.pageCount = static_cast<int>(doc.pages.size());
            r.document = std::move(doc);
            r.kind = ProbeResult::Kind::Ready;
            return r;
        }
        case FileFormat::Unknown:
            break;
        }
        if (!input.named) {
            r.kind = ProbeResult::Kind::Skipped; // a binary file found in a folder: not ours
            return r;
        }
        const QString mime = QMimeDatabase().mimeTypeForFileNameAndData(input.path, start).comment();
        return failed(IngestProblem::Unsupported,
            QStringLiteral("unsupported file type (%1): Needlework reads PDF, text, Markdown, HTML, Word (.docx), "
                           "OpenDocument (.odt) and email (.eml, .mbox)")
                .arg(mime));
    } catch (const IngestFailure &f) {
        return failed(f.problem(), f.reason());
    } catch (const std::exception &e) {
        return failed(
            IngestProblem::Corrupt, QStringLiteral("the file could not be read: %1").arg(QString::fromUtf8(e.what())));
    }
}

// Pages [first, last) of a PDF, each from its text layer or recognised (see readPdfPage); a
// recognised page is also sent on its own as soon as it is done.
RangeResult extractRange(DocumentCache &cache, const QString &path, int first, int last, bool withWords,
    const OcrOptions &ocr, const std::shared_ptr<const RecognisedCache> &recognised, const std::atomic<bool> &cancel,
    const std::function<void(PageContent)> &sendRecognised)
{
    RangeResult r;
    r.first = first;
    try {
        const PdfDocument &pdf = cache.get(path);
        r.pages.reserve(static_cast<std::size_t>(last - first));
        for (int i = first; i < last; ++i) {
            if (cancel.load(std::memory_order_relaxed)) {
                r.cancelled = true;
                return r;
            }
            PageContent page = pdf.page(i, withWords);
            if (const auto it = recognised->find(i + 1); it != recognised->end()) {
                page.text = it->second.text;
                page.words = it->second.words;
                page.source = QString::fromLatin1(store::kSourceOcr);
                page.ocrConfidence = it->second.confidence;
                ++r.resumed;
            } else {
                page = readPdfPage(pdf, i, std::move(page), ocr, &cancel);
                if (cancel.load(std::memory_order_relaxed)) {
                    r.cancelled = true;
                    return r;
                }
                if (page.source == QLatin1String(store::kSourceOcr)) {
                    sendRecognised(page);
                    ++r.recognised;
                }
            }
            r.pages.push_back(std::move(page));
        }
    } catch (const IngestFailure &f) {
        r.failure = f;
    } catch (const std::exception &e) {
        r.failure = IngestFailure(
            IngestProblem::Corrupt, QStringLiteral("the PDF could not be read: %1").arg(QString::fromUtf8(e.what())));
    }
    return r;
}

// Reads a mailbox message by message and sends them in chunks, holding back while the writer
// has `credit`'s worth of pages in hand. Messages the library already holds from this file (an
// earlier run that was stopped) are skipped without being read.
void streamMailbox(int file, const QString &path, const QSet<QString> &done, const ReadOptions &options,
    std::int64_t maxMessageBytes, const std::atomic<bool> &cancel, PageCredit &credit, EventQueue &events)
{
    MailboxChunk chunk;
    std::int64_t chunkPages = 0;
    auto send = [&](bool last) {
        if (credit.acquire(chunkPages, cancel)) {
            chunk.credited = chunkPages;
        } else {
            chunk.cancelled = true;
            last = true;
        }
        chunk.last = last;
        events.push({ file, std::move(chunk) });
        chunk = MailboxChunk();
        chunkPages = 0;
    };
    try {
        MailboxReader reader(path);
        while (std::optional<MailboxReader::Message> message = reader.next(maxMessageBytes)) {
            chunk.position = reader.position();
            if (cancel.load(std::memory_order_relaxed)) {
                chunk.cancelled = true;
                break;
            }
            const QString where = QStringLiteral("message %1").arg(message->number);
            if (message->tooLarge) {
                chunk.problems.push_back(
                    { where, QStringLiteral("larger than %1; not read").arg(bytesText(maxMessageBytes)) });
                continue;
            }
            const QString sha
                = QString::fromLatin1(QCryptographicHash::hash(message->bytes, QCryptographicHash::Sha256).toHex());
            if (done.contains(sha))
                continue;
            try {
                ExtractedDocument doc = readDocument(FileFormat::Email, message->bytes, where, sha, options);
                doc.part = where;
                for (ExtractedDocument &child : doc.children)
                    child.part += QStringLiteral(", ") + where;
                for (const PartProblem &problem : doc.problems)
                    chunk.problems.push_back(
                        { problem.part.isEmpty() ? where : problem.part + QStringLiteral(", ") + where,
                            problem.reason });
                doc.problems.clear();
                chunkPages += static_cast<std::int64_t>(doc.pages.size());
                for (const ExtractedDocument &child : doc.children)
                    chunkPages += static_cast<std::int64_t>(child.pages.size());
                chunk.messages.push_back(std::move(doc));
            } catch (const IngestFailure &f) {
                chunk.problems.push_back({ where, f.reason() });
            }
            if (chunkPages >= 64 || chunk.messages.size() >= 128)
                send(false);
            if (chunk.cancelled)
                return;
        }
        if (chunk.cancelled) {
            chunk.last = true;
            events.push({ file, std::move(chunk) });
            return;
        }
        chunk.position = reader.position();
        send(true);
    } catch (const IngestFailure &f) {
        chunk.failure = f;
        chunk.last = true;
        events.push({ file, std::move(chunk) });
    }
}

// The rows of a document and the documents inside it, as the store takes them.
struct DocumentTree {
    store::NewDocument document;
    std::vector<DocumentTree> children;
};

std::vector<store::PageRecord> pageRecords(std::vector<PageContent> pages)
{
    std::vector<store::PageRecord> records;
    records.reserve(pages.size());
    for (PageContent &p : pages)
        records.push_back({ p.number, std::move(p.label), p.size.width(), p.size.height(), std::move(p.text),
            std::move(p.words), std::move(p.source), p.ocrConfidence, p.firstParagraph });
    return records;
}

// `fileSha256`: the file's, for a part; "" for a document that is the whole file.
DocumentTree toTree(ExtractedDocument doc, const InputFile &input, std::int64_t modified, const QString &fileSha256)
{
    DocumentTree tree;
    store::DocumentInfo &info = tree.document.info;
    info.sha256 = doc.sha256;
    info.path = input.path;
    info.kind = doc.kind;
    info.title = doc.metadata.title.isEmpty() ? QFileInfo(input.path).completeBaseName() : doc.metadata.title;
    info.author = doc.metadata.author;
    info.subject = doc.metadata.subject;
    info.keywords = doc.metadata.keywords;
    info.creator = doc.metadata.creator;
    info.producer = doc.metadata.producer;
    if (doc.metadata.created.isValid())
        info.created = doc.metadata.created.toUTC().toString(Qt::ISODate);
    info.pageCount = static_cast<int>(doc.pages.size());
    info.bytes = doc.bytes;
    info.modified = modified;
    info.fileSha256 = doc.part.isEmpty() ? QString() : fileSha256;
    info.part = doc.part;
    info.message = std::move(doc.message);
    tree.document.pages = pageRecords(std::move(doc.pages));
    const QString childFile = fileSha256.isEmpty() ? doc.sha256 : fileSha256;
    for (ExtractedDocument &child : doc.children)
        tree.children.push_back(toTree(std::move(child), input, modified, childFile));
    return tree;
}

std::int64_t countPages(const DocumentTree &tree, bool recognisedOnly)
{
    std::int64_t n = 0;
    for (const store::PageRecord &p : tree.document.pages)
        n += !recognisedOnly || p.source == QLatin1String(store::kSourceOcr) ? 1 : 0;
    for (const DocumentTree &child : tree.children)
        n += countPages(child, recognisedOnly);
    return n;
}

} // namespace

Ingestor::Ingestor(store::LibraryStore &store, IngestOptions options)
    : m_store(store)
    , m_options(std::move(options))
{
}

void Ingestor::setProgressCallback(ProgressCallback callback, int intervalMs)
{
    m_progress = std::move(callback);
    m_progressIntervalMs = intervalMs;
}

IngestSummary Ingestor::run(const QStringList &paths)
{
    const auto logger = log::get("ingest");
    QElapsedTimer clock;
    clock.start();
    const std::vector<InputFile> inputs = collectInputs(paths);
    const int nFiles = static_cast<int>(inputs.size());

    const int jobs = m_options.jobs > 0 ? m_options.jobs : std::max(1, QThread::idealThreadCount());
    const int rangePages = std::max(1, m_options.rangePages);
    const std::int64_t batchPages = std::max(1, m_options.batchPages);
    // Extracted pages wait in memory until their whole document is written; this bounds them
    // (a single document larger than the bound is still taken, alone).
    const std::int64_t maxHeldPages = std::max<std::int64_t>(2 * batchPages, 4 * jobs * rangePages);
    const int maxProbesAhead = 2 * jobs;
    const ReadOptions readOptions = readOptionsOf(m_options, &m_cancel);

    // What the library holds: a file whose content is there is skipped, and of a mailbox that
    // was stopped, the messages already written are.
    const QHash<QString, QString> knownContent = m_store.knownContent();
    QSet<QString> known;
    QHash<QString, QSet<QString>> doneParts; // file hash -> its parts' hashes
    for (auto it = knownContent.begin(); it != knownContent.end(); ++it) {
        if (it.value().isEmpty())
            known.insert(it.key());
        else
            doneParts[it.value()].insert(it.key());
    }

    struct FileState {
        ProbeResult probe;
        std::vector<PageContent> pages;
        int rangesLeft = 0;
        std::optional<IngestFailure> failure;
        bool cancelled = false;
        std::shared_ptr<const RecognisedCache> recognised; // pages an earlier run recognised
        double bytesPerPage = 0; // for the progress of a file in extraction
        int pagesDone = 0;
        // Documents written for it so far (a mailbox writes as it goes).
        int added = 0;
        int replaced = 0;
        int present = 0;
        int documents = 0;
        int pagesStored = 0;
        int recognisedStored = 0;
        std::int64_t firstDocument = 0;
        std::vector<PartProblem> partProblems;
        std::int64_t mailboxPosition = 0;
    };
    std::vector<FileState> state(inputs.size());

    IngestSummary summary;
    summary.files.resize(inputs.size());
    for (int i = 0; i < nFiles; ++i)
        summary.files[static_cast<std::size_t>(i)].path = inputs[static_cast<std::size_t>(i)].path;

    IngestProgress progress;
    progress.filesTotal = nFiles;
    for (const InputFile &input : inputs)
        progress.bytesTotal += input.bytes;

    // Work that the writer commits together: finished documents, a mailbox's messages, files
    // already present, errors, recognised pages to keep.
    struct PendingWrite {
        int file;
        std::vector<DocumentTree> documents; // in order; empty for a file present or failed
        std::int64_t credited = 0; // a mailbox's: pages to give back to its credit
        bool completesFile = false; // the file's last write: finish its outcome
        bool fromMailbox = false;
    };
    std::vector<PendingWrite> pending;
    std::vector<std::pair<int, store::OcrPageRecord>> pendingRecognised;
    std::int64_t pendingPages = 0;
    QElapsedTimer sincePending;

    EventQueue events;
    DocumentCache cache;
    PageCredit mailboxCredit(2 * batchPages);
    QThreadPool pool;
    pool.setMaxThreadCount(jobs);

    int nextProbe = 0;
    int probesInFlight = 0;
    int rangesInFlight = 0; // PDF ranges and mailbox readers
    std::int64_t heldPages = 0;
    std::deque<int> readyToExtract;
    std::int64_t pagesResumed = 0;
    QElapsedTimer sinceProgress;
    sinceProgress.start();

    auto updateInProgress = [&] {
        double partial = 0;
        for (std::size_t i = 0; i < state.size(); ++i) {
            const FileState &fs = state[i];
            if (summary.files[i].status != FileStatus::NotDone || fs.probe.sha256.isEmpty())
                continue;
            partial += fs.probe.kind == ProbeResult::Kind::Mailbox ? static_cast<double>(fs.mailboxPosition)
                                                                   : fs.bytesPerPage * fs.pagesDone;
        }
        progress.bytesInProgress = static_cast<std::int64_t>(partial);
    };

    auto report = [&](bool finished) {
        if (!m_progress)
            return;
        updateInProgress();
        progress.elapsedSeconds = static_cast<double>(clock.nsecsElapsed()) * 1e-9;
        progress.pagesPerSecond
            = progress.elapsedSeconds > 0 ? static_cast<double>(progress.pagesExtracted) / progress.elapsedSeconds : 0;
        const double done = static_cast<double>(progress.bytesDone + progress.bytesInProgress);
        progress.etaSeconds = done > 0 && progress.elapsedSeconds > 0.5
            ? progress.elapsedSeconds * std::max(0.0, static_cast<double>(progress.bytesTotal) - done) / done
            : -1;
        progress.finished = finished;
        m_progress(progress);
        sinceProgress.restart();
    };

    auto finish = [&](int file, FileStatus status) {
        FileOutcome &outcome = summary.files[static_cast<std::size_t>(file)];
        const FileState &fs = state[static_cast<std::size_t>(file)];
        outcome.status = status;
        outcome.documentId = fs.firstDocument;
        outcome.pages = fs.pagesStored;
        outcome.documents = fs.documents;
        outcome.ocrPages = fs.recognisedStored;
        outcome.partProblems.clear();
        for (const PartProblem &problem : fs.partProblems)
            outcome.partProblems << problem.line();
        ++progress.filesDone;
        progress.bytesDone += inputs[static_cast<std::size_t>(file)].bytes;
        progress.currentFile = inputs[static_cast<std::size_t>(file)].path;
    };

    auto queueWrite = [&](PendingWrite write) {
        if (pending.empty())
            sincePending.start();
        for (const DocumentTree &tree : write.documents)
            pendingPages += countPages(tree, false);
        pending.push_back(std::move(write));
    };

    auto recordFailure = [&](int file, IngestProblem problem, const QString &reason) {
        FileOutcome &outcome = summary.files[static_cast<std::size_t>(file)];
        outcome.problem = problem;
        outcome.reason = reason;
        queueWrite({ file, {}, 0, true, false });
    };

    // Writes a document and those inside it; counts them for the file.
    std::function<void(DocumentTree &, std::int64_t, FileState &)> addTree
        = [&](DocumentTree &tree, std::int64_t parentId, FileState &fs) {
              const store::LibraryStore::AddResult result = m_store.addDocument(tree.document, parentId);
              if (fs.firstDocument == 0)
                  fs.firstDocument = result.documentId;
              switch (result.outcome) {
              case store::LibraryStore::AddOutcome::Added:
                  ++fs.added;
                  break;
              case store::LibraryStore::AddOutcome::Replaced:
                  ++fs.replaced;
                  break;
              case store::LibraryStore::AddOutcome::AlreadyPresent:
                  ++fs.present;
                  break;
              }
              if (result.outcome != store::LibraryStore::AddOutcome::AlreadyPresent) {
                  ++fs.documents;
                  const int pages = static_cast<int>(tree.document.pages.size());
                  fs.pagesStored += pages;
                  progress.pagesStored += pages;
                  for (const store::PageRecord &p : tree.document.pages)
                      fs.recognisedStored += p.source == QLatin1String(store::kSourceOcr) ? 1 : 0;
                  // The parts of a document that was already there are there too.
                  for (DocumentTree &child : tree.children)
                      addTree(child, result.documentId, fs);
              }
          };

    auto flush = [&] {
        if (pending.empty() && pendingRecognised.empty())
            return;
        store::Transaction tx(m_store.database());
        for (const auto &[file, page] : pendingRecognised)
            m_store.saveOcrPage(state[static_cast<std::size_t>(file)].probe.sha256, page);
        std::vector<std::pair<int, FileStatus>> finished;
        for (PendingWrite &write : pending) {
            const InputFile &input = inputs[static_cast<std::size_t>(write.file)];
            FileOutcome &outcome = summary.files[static_cast<std::size_t>(write.file)];
            FileState &fs = state[static_cast<std::size_t>(write.file)];
            if (outcome.problem) {
                m_store.recordIngestError(
                    input.path, QString::fromLatin1(problemName(*outcome.problem)), outcome.reason);
                finished.emplace_back(write.file, FileStatus::Failed);
                continue;
            }
            const bool present = fs.probe.kind == ProbeResult::Kind::Present;
            if (present) {
                fs.firstDocument = m_store.updateFilePath(fs.probe.sha256, input.path); // the file may have moved
                m_store.clearIngestError(input.path);
            }
            for (DocumentTree &tree : write.documents)
                addTree(tree, 0, fs);
            if (!write.completesFile)
                continue;
            if (fs.probe.kind == ProbeResult::Kind::Mailbox && !fs.cancelled)
                m_store.markFileComplete(fs.probe.sha256, input.path, fs.documents + fs.present);
            if (!fs.partProblems.empty() || fs.probe.kind == ProbeResult::Kind::Mailbox)
                m_store.clearIngestError(input.path); // and the lines of its parts from an earlier run
            for (const PartProblem &problem : fs.partProblems)
                m_store.recordIngestError(input.path + QStringLiteral(" › ")
                        + (problem.part.isEmpty() ? QStringLiteral("the message") : problem.part),
                    QStringLiteral("part"), problem.reason);
            if (!m_options.collection.isEmpty() && fs.firstDocument != 0)
                m_store.addToCollection(fs.firstDocument, m_options.collection);
            FileStatus status = FileStatus::AlreadyPresent;
            if (fs.cancelled)
                status = FileStatus::NotDone;
            else if (fs.replaced > 0)
                status = FileStatus::Replaced;
            else if (fs.added > 0)
                status = FileStatus::Added;
            finished.emplace_back(write.file, status);
        }
        tx.commit();
        for (const auto &[file, status] : finished) {
            if (status != FileStatus::NotDone) {
                finish(file, status);
                continue;
            }
            // A mailbox stopped part way: what it wrote is kept, and the next run goes on from there.
            FileOutcome &outcome = summary.files[static_cast<std::size_t>(file)];
            const FileState &fs = state[static_cast<std::size_t>(file)];
            outcome.documentId = fs.firstDocument;
            outcome.pages = fs.pagesStored;
            outcome.documents = fs.documents;
            for (const PartProblem &problem : fs.partProblems)
                outcome.partProblems << problem.line();
        }
        for (const PendingWrite &write : pending) {
            if (write.fromMailbox)
                mailboxCredit.release(write.credited);
            else
                for (const DocumentTree &tree : write.documents)
                    heldPages -= countPages(tree, false);
        }
        pending.clear();
        pendingRecognised.clear();
        pendingPages = 0;
    };

    // Files are probed, and so extracted, largest first: a document is written only when all its
    // pages are out, so a large one finishing last would leave the writer working alone at the
    // end while the extraction threads idle (longest job first). Outcomes keep the input order.
    std::vector<int> probeOrder(inputs.size());
    std::iota(probeOrder.begin(), probeOrder.end(), 0);
    std::stable_sort(probeOrder.begin(), probeOrder.end(), [&](int a, int b) {
        return inputs[static_cast<std::size_t>(a)].bytes > inputs[static_cast<std::size_t>(b)].bytes;
    });

    auto submitProbe = [&](int file) {
        ++probesInFlight;
        const InputFile input = inputs[static_cast<std::size_t>(file)];
        pool.start([&events, &known, this, input, file] {
            events.push({ file, probeFile(input, known, m_options, m_cancel) });
        });
    };

    auto startExtraction = [&](int file) {
        FileState &fs = state[static_cast<std::size_t>(file)];
        const QString path = inputs[static_cast<std::size_t>(file)].path;
        if (fs.probe.kind == ProbeResult::Kind::Mailbox) {
            ++rangesInFlight;
            const QSet<QString> done = doneParts.value(fs.probe.sha256);
            const std::int64_t maxMessage = m_options.maxDocumentBytes;
            pool.start([&events, &mailboxCredit, &readOptions, this, file, path, done, maxMessage] {
                streamMailbox(file, path, done, readOptions, maxMessage, m_cancel, mailboxCredit, events);
            });
            return;
        }
        const int nPages = fs.probe.pageCount;
        fs.pages.resize(static_cast<std::size_t>(nPages));
        fs.bytesPerPage = nPages > 0 ? static_cast<double>(fs.probe.bytes) / nPages : 0;
        heldPages += nPages;
        const bool withWords = m_options.storeWordBoxes;
        const OcrOptions ocr = m_options.ocr;
        const std::shared_ptr<const RecognisedCache> recognised = fs.recognised;
        const int step = fs.probe.scanned ? 1 : rangePages;
        for (int first = 0; first < nPages; first += step) {
            const int last = std::min(nPages, first + step);
            ++fs.rangesLeft;
            ++rangesInFlight;
            pool.start([&events, &cache, this, path, file, first, last, withWords, ocr, recognised] {
                const auto sendRecognised = [&events, file](PageContent page) {
                    events.push({ file, RecognisedPage { std::move(page) } });
                };
                events.push({ file,
                    extractRange(cache, path, first, last, withWords, ocr, recognised, m_cancel, sendRecognised) });
            });
        }
    };

    auto documentComplete = [&](int file) {
        FileState &fs = state[static_cast<std::size_t>(file)];
        const InputFile &input = inputs[static_cast<std::size_t>(file)];
        if (fs.cancelled) { // not written: the next run starts this file again (its recognised pages are kept)
            heldPages -= fs.probe.pageCount;
            fs.pages = {};
            return;
        }
        if (fs.failure) {
            heldPages -= fs.probe.pageCount;
            fs.pages = {};
            recordFailure(file, fs.failure->problem(), fs.failure->reason());
            return;
        }
        const bool anyText = std::any_of(
            fs.pages.begin(), fs.pages.end(), [](const PageContent &p) { return !p.text.trimmed().isEmpty(); });
        if (!anyText) {
            heldPages -= fs.probe.pageCount;
            fs.pages = {};
            const QString why = m_options.ocr.mode == OcrMode::Never
                ? QStringLiteral("no text layer on any of its %1 pages (a scan or images only), and OCR "
                                 "is off (--ocr never)")
                : QStringLiteral("no text on any of its %1 pages: no text layer, and OCR found none");
            recordFailure(file, IngestProblem::NoText, why.arg(fs.probe.pageCount));
            return;
        }
        ExtractedDocument doc;
        doc.kind = QStringLiteral("pdf");
        doc.metadata = fs.probe.metadata;
        doc.pages = std::move(fs.pages);
        doc.sha256 = fs.probe.sha256;
        doc.bytes = fs.probe.bytes;
        fs.pages = {};
        std::vector<DocumentTree> trees;
        trees.push_back(toTree(std::move(doc), input, fs.probe.modified, QString()));
        queueWrite({ file, std::move(trees), 0, true, false });
    };

    auto handle = [&](Event &event) {
        const int file = event.file;
        FileState &fs = state[static_cast<std::size_t>(file)];
        const InputFile &input = inputs[static_cast<std::size_t>(file)];
        if (auto *probe = std::get_if<ProbeResult>(&event.payload)) {
            --probesInFlight;
            fs.probe = std::move(*probe);
            switch (fs.probe.kind) {
            case ProbeResult::Kind::Failed:
                recordFailure(file, fs.probe.problem, fs.probe.reason);
                break;
            case ProbeResult::Kind::Skipped:
                finish(file, FileStatus::Skipped);
                break;
            case ProbeResult::Kind::Present:
                queueWrite({ file, {}, 0, true, false });
                break;
            case ProbeResult::Kind::Ready: {
                ExtractedDocument doc = std::move(*fs.probe.document);
                fs.probe.document.reset();
                fs.partProblems = doc.problems;
                progress.pagesExtracted += fs.probe.pageCount;
                std::vector<DocumentTree> trees;
                trees.push_back(toTree(std::move(doc), input, fs.probe.modified, QString()));
                heldPages += countPages(trees.front(), false);
                queueWrite({ file, std::move(trees), 0, true, false });
                break;
            }
            case ProbeResult::Kind::Pdf: {
                // Pages an earlier run recognised with the same settings are not recognised again.
                auto recognised = std::make_shared<RecognisedCache>();
                if (m_options.ocr.mode != OcrMode::Never)
                    for (store::OcrPageRecord &page : m_store.ocrPages(fs.probe.sha256))
                        if (page.languages == m_options.ocr.languages && page.dpi == m_options.ocr.dpi)
                            recognised->emplace(page.number, std::move(page));
                fs.recognised = std::move(recognised);
                readyToExtract.push_back(file);
                break;
            }
            case ProbeResult::Kind::Mailbox:
                readyToExtract.push_back(file);
                break;
            }
            return;
        }
        if (auto *page = std::get_if<RecognisedPage>(&event.payload)) {
            ++progress.pagesRecognised;
            ++progress.pagesExtracted;
            ++fs.pagesDone;
            if (pendingRecognised.empty() && pending.empty())
                sincePending.start();
            pendingRecognised.push_back({ file,
                { page->page.number, m_options.ocr.languages, m_options.ocr.dpi, page->page.text, page->page.words,
                    page->page.ocrConfidence } });
            return;
        }
        if (auto *chunk = std::get_if<MailboxChunk>(&event.payload)) {
            fs.mailboxPosition = chunk->position;
            fs.partProblems.insert(fs.partProblems.end(), chunk->problems.begin(), chunk->problems.end());
            if (chunk->failure) {
                --rangesInFlight;
                recordFailure(file, chunk->failure->problem(), chunk->failure->reason());
                return;
            }
            std::vector<DocumentTree> trees;
            std::int64_t pages = 0;
            for (ExtractedDocument &message : chunk->messages) {
                trees.push_back(toTree(std::move(message), input, fs.probe.modified, fs.probe.sha256));
                pages += countPages(trees.back(), false);
            }
            progress.pagesExtracted += pages;
            if (chunk->cancelled)
                fs.cancelled = true;
            if (chunk->last)
                --rangesInFlight;
            queueWrite({ file, std::move(trees), chunk->credited, chunk->last, true });
            return;
        }
        auto &range = std::get<RangeResult>(event.payload);
        --rangesInFlight;
        --fs.rangesLeft;
        const int textPages = static_cast<int>(range.pages.size()) - range.recognised;
        if (!range.cancelled && !range.failure)
            pagesResumed += range.resumed;
        progress.pagesExtracted += textPages;
        fs.pagesDone += textPages;
        if (range.cancelled)
            fs.cancelled = true;
        else if (range.failure && !fs.failure)
            fs.failure = range.failure;
        else
            for (std::size_t i = 0; i < range.pages.size(); ++i)
                fs.pages[static_cast<std::size_t>(range.first) + i] = std::move(range.pages[i]);
        if (fs.rangesLeft == 0)
            documentComplete(file);
    };

    for (;;) {
        const bool cancelled = m_cancel.load(std::memory_order_relaxed);
        if (!cancelled) {
            while (probesInFlight < maxProbesAhead && nextProbe < nFiles)
                submitProbe(probeOrder[static_cast<std::size_t>(nextProbe++)]);
            while (!readyToExtract.empty() && (heldPages < maxHeldPages || rangesInFlight == 0)) {
                startExtraction(readyToExtract.front());
                readyToExtract.pop_front();
            }
        }
        const bool busy = probesInFlight > 0 || rangesInFlight > 0;
        if (!busy && (cancelled || (nextProbe == nFiles && readyToExtract.empty())))
            break;
        if (std::optional<Event> event = events.pop(std::chrono::milliseconds(50)))
            handle(*event);
        // Commit a batch when it is big enough, or has waited a second (bounds what a kill
        // loses), or when the workers are idle with nothing queued for them.
        const bool idle = probesInFlight == 0 && rangesInFlight == 0;
        if ((!pending.empty() || !pendingRecognised.empty())
            && (pendingPages >= batchPages || sincePending.elapsed() > 1000 || (idle && readyToExtract.empty())))
            flush();
        if (sinceProgress.elapsed() >= m_progressIntervalMs)
            report(false);
    }
    pool.waitForDone();
    flush(); // what is complete is kept, also when cancelled
    summary.cancelled = m_cancel.load(std::memory_order_relaxed);

    for (const FileOutcome &outcome : summary.files) {
        switch (outcome.status) {
        case FileStatus::Added:
            ++summary.added;
            break;
        case FileStatus::Replaced:
            ++summary.replaced;
            break;
        case FileStatus::AlreadyPresent:
            ++summary.present;
            break;
        case FileStatus::Failed:
            ++summary.failed;
            break;
        case FileStatus::NotDone:
            ++summary.notDone;
            break;
        case FileStatus::Skipped:
            ++summary.skipped;
            break;
        }
        summary.documentsStored += outcome.documents;
        summary.pagesRecognised += outcome.ocrPages;
        // The front end reports failures to the user (the CLI's summary, the window's list); the
        // log keeps them at info, so a terminal does not show each one twice.
        if (outcome.status == FileStatus::Failed)
            logger->info("{}: {}", outcome.path.toStdString(), outcome.reason.toStdString());
        for (const QString &problem : outcome.partProblems)
            logger->info("{}: {}", outcome.path.toStdString(), problem.toStdString());
    }
    summary.pagesStored = progress.pagesStored;
    summary.pagesResumed = pagesResumed;
    summary.seconds = static_cast<double>(clock.nsecsElapsed()) * 1e-9;
    report(true);
    return summary;
}

} // namespace nw::ingest
