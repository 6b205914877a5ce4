// The ingest pipeline: probe (hash, classify, open) and extract on a thread pool, write on the
// calling thread in batched transactions.
#include "ingest/ingestor.h"

#include "common/byte_format.h"

#include "common/assert.h"
#include "common/log.h"
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

bool isTextSuffix(const QString &suffix)
{
    return suffix == QLatin1String("txt") || suffix == QLatin1String("md") || suffix == QLatin1String("markdown")
        || suffix == QLatin1String("text");
}

bool isCandidate(const QFileInfo &info)
{
    const QString suffix = info.suffix().toLower();
    return suffix == QLatin1String("pdf") || isTextSuffix(suffix) || suffix.isEmpty();
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

// What a worker learned about a file before extraction.
struct ProbeResult {
    enum class Kind { Present, Pdf, Text, Failed, Skipped } kind = Kind::Failed;
    QString sha256;
    std::int64_t bytes = 0;
    std::int64_t modified = 0;
    int pageCount = 0;
    DocumentMetadata metadata;
    std::vector<PageContent> pages; // text files: all pages, split already
    IngestProblem problem = IngestProblem::Corrupt;
    QString reason;
};

struct RangeResult {
    int first = 0;
    std::vector<PageContent> pages;
    bool cancelled = false;
    std::optional<IngestFailure> failure;
};

struct Event {
    int file = 0;
    std::variant<ProbeResult, RangeResult> payload;
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

ProbeResult failed(IngestProblem problem, const QString &reason)
{
    ProbeResult r;
    r.kind = ProbeResult::Kind::Failed;
    r.problem = problem;
    r.reason = reason;
    return r;
}

ProbeResult probeFile(const InputFile &input, const QSet<QString> &known, const IngestOptions &options)
{
    if (!input.exists)
        return failed(IngestProblem::Missing, QStringLiteral("no such file or directory"));
    QFile file(input.path);
    if (!file.open(QIODevice::ReadOnly))
        return failed(IngestProblem::Unreadable, QStringLiteral("cannot be read: %1").arg(file.errorString()));
    ProbeResult r;
    r.bytes = file.size();
    r.modified = QFileInfo(input.path).lastModified().toSecsSinceEpoch();
    if (r.bytes > options.maxFileBytes)
        return failed(IngestProblem::TooLarge,
            QStringLiteral("the file is too large: %1 (the limit is %2)")
                .arg(QString::fromStdString(formatBytes(std::uint64_t(r.bytes))),
                    QString::fromStdString(formatBytes(std::uint64_t(options.maxFileBytes)))));
    QCryptographicHash hash(QCryptographicHash::Sha256);
    QByteArray head;
    while (!file.atEnd()) {
        const QByteArray chunk = file.read(1 << 20);
        if (chunk.isEmpty() && file.error() != QFileDevice::NoError)
            return failed(IngestProblem::Unreadable, QStringLiteral("cannot be read: %1").arg(file.errorString()));
        if (head.size() < 4096)
            head += chunk.left(4096 - head.size());
        hash.addData(chunk);
    }
    r.sha256 = QString::fromLatin1(hash.result().toHex());
    if (known.contains(r.sha256)) {
        r.kind = ProbeResult::Kind::Present;
        return r;
    }

    const QString suffix = QFileInfo(input.path).suffix().toLower();
    try {
        if (suffix == QLatin1String("pdf") || head.left(1024).contains("%PDF-")) {
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
            r.kind = ProbeResult::Kind::Pdf;
            return r;
        }
        if ((isTextSuffix(suffix) || suffix.isEmpty() || input.named) && looksLikeText(head)) {
            file.seek(0);
            const QString text = decodeText(file.readAll());
            if (text.trimmed().isEmpty())
                return failed(IngestProblem::Empty, QStringLiteral("the file is empty: there is no text to index"));
            r.pages = splitIntoPages(text, options.textPageChars);
            r.pageCount = static_cast<int>(r.pages.size());
            r.metadata.title = guessTitle(text);
            r.kind = ProbeResult::Kind::Text;
            return r;
        }
        if (!input.named) {
            r.kind = ProbeResult::Kind::Skipped; // a binary file found in a folder: not ours
            return r;
        }
        const QString mime = QMimeDatabase().mimeTypeForFileNameAndData(input.path, head).comment();
        return failed(IngestProblem::Unsupported,
            QStringLiteral("unsupported file type (%1): Needlework reads PDF, plain text and Markdown").arg(mime));
    } catch (const IngestFailure &f) {
        return failed(f.problem(), f.reason());
    } catch (const std::exception &e) {
        return failed(
            IngestProblem::Corrupt, QStringLiteral("the file could not be read: %1").arg(QString::fromUtf8(e.what())));
    }
}

RangeResult extractRange(
    DocumentCache &cache, const QString &path, int first, int last, bool withWords, const std::atomic<bool> &cancel)
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
            r.pages.push_back(pdf.page(i, withWords));
        }
    } catch (const IngestFailure &f) {
        r.failure = f;
    } catch (const std::exception &e) {
        r.failure = IngestFailure(
            IngestProblem::Corrupt, QStringLiteral("the PDF could not be read: %1").arg(QString::fromUtf8(e.what())));
    }
    return r;
}

store::NewDocument toNewDocument(const InputFile &input, const ProbeResult &probe, std::vector<PageContent> pages)
{
    store::NewDocument doc;
    store::DocumentInfo &info = doc.info;
    info.sha256 = probe.sha256;
    info.path = input.path;
    info.kind = probe.kind == ProbeResult::Kind::Pdf ? QStringLiteral("pdf") : QStringLiteral("text");
    info.title = probe.metadata.title.isEmpty() ? QFileInfo(input.path).completeBaseName() : probe.metadata.title;
    info.author = probe.metadata.author;
    info.subject = probe.metadata.subject;
    info.keywords = probe.metadata.keywords;
    info.creator = probe.metadata.creator;
    info.producer = probe.metadata.producer;
    if (probe.metadata.created.isValid())
        info.created = probe.metadata.created.toUTC().toString(Qt::ISODate);
    info.pageCount = static_cast<int>(pages.size());
    info.bytes = probe.bytes;
    info.modified = probe.modified;
    doc.pages.reserve(pages.size());
    for (PageContent &p : pages)
        doc.pages.push_back(
            { p.number, std::move(p.label), p.size.width(), p.size.height(), std::move(p.text), std::move(p.words) });
    return doc;
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

    QSet<QString> known;
    for (const QString &sha : m_store.allSha256())
        known.insert(sha);

    struct FileState {
        ProbeResult probe;
        std::vector<PageContent> pages;
        int rangesLeft = 0;
        std::optional<IngestFailure> failure;
        bool cancelled = false;
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

    // Work that the writer commits together: finished documents, files already present, errors.
    struct PendingWrite {
        int file;
        std::optional<store::NewDocument> document;
    };
    std::vector<PendingWrite> pending;
    std::int64_t pendingPages = 0;
    QElapsedTimer sincePending;

    EventQueue events;
    DocumentCache cache;
    QThreadPool pool;
    pool.setMaxThreadCount(jobs);

    int nextProbe = 0;
    int probesInFlight = 0;
    int rangesInFlight = 0;
    std::int64_t heldPages = 0;
    std::deque<int> readyToExtract;
    QElapsedTimer sinceProgress;
    sinceProgress.start();

    auto report = [&](bool finished) {
        if (!m_progress)
            return;
        progress.elapsedSeconds = static_cast<double>(clock.nsecsElapsed()) * 1e-9;
        progress.pagesPerSecond
            = progress.elapsedSeconds > 0 ? static_cast<double>(progress.pagesExtracted) / progress.elapsedSeconds : 0;
        progress.etaSeconds = progress.bytesDone > 0 && progress.elapsedSeconds > 0.5
            ? progress.elapsedSeconds * static_cast<double>(progress.bytesTotal - progress.bytesDone)
                / static_cast<double>(progress.bytesDone)
            : -1;
        progress.finished = finished;
        m_progress(progress);
        sinceProgress.restart();
    };

    auto finish = [&](int file, FileStatus status, std::int64_t documentId, int pages) {
        FileOutcome &outcome = summary.files[static_cast<std::size_t>(file)];
        outcome.status = status;
        outcome.documentId = documentId;
        outcome.pages = pages;
        ++progress.filesDone;
        progress.bytesDone += inputs[static_cast<std::size_t>(file)].bytes;
        progress.currentFile = inputs[static_cast<std::size_t>(file)].path;
    };

    auto recordFailure = [&](int file, IngestProblem problem, const QString &reason) {
        FileOutcome &outcome = summary.files[static_cast<std::size_t>(file)];
        outcome.problem = problem;
        outcome.reason = reason;
        if (pending.empty())
            sincePending.start();
        pending.push_back({ file, std::nullopt });
    };

    auto flush = [&] {
        if (pending.empty())
            return;
        store::Transaction tx(m_store.database());
        std::vector<std::pair<int, store::LibraryStore::AddResult>> results;
        for (PendingWrite &write : pending) {
            const InputFile &input = inputs[static_cast<std::size_t>(write.file)];
            const FileOutcome &outcome = summary.files[static_cast<std::size_t>(write.file)];
            if (outcome.problem) {
                m_store.recordIngestError(
                    input.path, QString::fromLatin1(problemName(*outcome.problem)), outcome.reason);
                continue;
            }
            store::LibraryStore::AddResult result { store::LibraryStore::AddOutcome::AlreadyPresent, 0 };
            if (write.document) {
                result = m_store.addDocument(*write.document);
            } else {
                const std::optional<store::DocumentInfo> existing
                    = m_store.findDocumentBySha256(state[static_cast<std::size_t>(write.file)].probe.sha256);
                NW_ASSERT(existing.has_value());
                result.documentId = existing->id;
                if (existing->path != input.path && !QFileInfo::exists(existing->path))
                    m_store.updatePath(existing->id, input.path); // the file was moved
                m_store.clearIngestError(input.path);
            }
            if (!m_options.collection.isEmpty())
                m_store.addToCollection(result.documentId, m_options.collection);
            results.emplace_back(write.file, result);
        }
        tx.commit();
        for (const PendingWrite &write : pending) {
            const FileOutcome &outcome = summary.files[static_cast<std::size_t>(write.file)];
            if (outcome.problem)
                finish(write.file, FileStatus::Failed, 0, 0);
        }
        for (const auto &[file, result] : results) {
            const int pages = static_cast<int>(state[static_cast<std::size_t>(file)].probe.pageCount);
            FileStatus status = FileStatus::AlreadyPresent;
            if (result.outcome == store::LibraryStore::AddOutcome::Added)
                status = FileStatus::Added;
            else if (result.outcome == store::LibraryStore::AddOutcome::Replaced)
                status = FileStatus::Replaced;
            if (status != FileStatus::AlreadyPresent)
                progress.pagesStored += pages;
            finish(file, status, result.documentId, status == FileStatus::AlreadyPresent ? 0 : pages);
        }
        for (const PendingWrite &write : pending)
            if (write.document)
                heldPages -= static_cast<std::int64_t>(write.document->pages.size());
        pending.clear();
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
        pool.start([&events, &known, this, input, file] { events.push({ file, probeFile(input, known, m_options) }); });
    };

    auto startExtraction = [&](int file) {
        FileState &fs = state[static_cast<std::size_t>(file)];
        const int nPages = fs.probe.pageCount;
        fs.pages.resize(static_cast<std::size_t>(nPages));
        heldPages += nPages;
        const QString path = inputs[static_cast<std::size_t>(file)].path;
        const bool withWords = m_options.storeWordBoxes;
        for (int first = 0; first < nPages; first += rangePages) {
            const int last = std::min(nPages, first + rangePages);
            ++fs.rangesLeft;
            ++rangesInFlight;
            pool.start([&events, &cache, this, path, file, first, last, withWords] {
                events.push({ file, extractRange(cache, path, first, last, withWords, m_cancel) });
            });
        }
    };

    auto documentComplete = [&](int file) {
        FileState &fs = state[static_cast<std::size_t>(file)];
        const InputFile &input = inputs[static_cast<std::size_t>(file)];
        if (fs.cancelled) { // not written: the next run starts this file again
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
            recordFailure(file, IngestProblem::NoText,
                QStringLiteral("no text layer on any of its %1 pages (a scan or images only); OCR is not available")
                    .arg(fs.probe.pageCount));
            return;
        }
        if (pending.empty())
            sincePending.start();
        pendingPages += fs.probe.pageCount;
        pending.push_back({ file, toNewDocument(input, fs.probe, std::move(fs.pages)) });
        fs.pages = {};
    };

    auto handle = [&](Event &event) {
        const int file = event.file;
        FileState &fs = state[static_cast<std::size_t>(file)];
        if (auto *probe = std::get_if<ProbeResult>(&event.payload)) {
            --probesInFlight;
            fs.probe = std::move(*probe);
            switch (fs.probe.kind) {
            case ProbeResult::Kind::Failed:
                recordFailure(file, fs.probe.problem, fs.probe.reason);
                break;
            case ProbeResult::Kind::Skipped:
                finish(file, FileStatus::Skipped, 0, 0);
                break;
            case ProbeResult::Kind::Present:
                if (pending.empty())
                    sincePending.start();
                pending.push_back({ file, std::nullopt });
                break;
            case ProbeResult::Kind::Text:
                fs.pages = std::move(fs.probe.pages);
                heldPages += fs.probe.pageCount;
                progress.pagesExtracted += fs.probe.pageCount;
                documentComplete(file);
                break;
            case ProbeResult::Kind::Pdf:
                readyToExtract.push_back(file);
                break;
            }
            return;
        }
        auto &range = std::get<RangeResult>(event.payload);
        --rangesInFlight;
        --fs.rangesLeft;
        progress.pagesExtracted += static_cast<std::int64_t>(range.pages.size());
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
        if (!pending.empty()
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
        // The front end reports failures to the user (the CLI's summary, the window's list); the
        // log keeps them at info, so a terminal does not show each one twice.
        if (outcome.status == FileStatus::Failed)
            logger->info("{}: {}", outcome.path.toStdString(), outcome.reason.toStdString());
    }
    summary.pagesStored = progress.pagesStored;
    summary.seconds = static_cast<double>(clock.nsecsElapsed()) * 1e-9;
    report(true);
    return summary;
}

} // namespace nw::ingest
