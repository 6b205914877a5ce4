// The workbench: library connections per thread, the loaded model published to other threads
// under one mutex, and the ask → record flow.
#include "app/workbench.h"

#include "app/document_titles.h"
#include "app/kv_snapshot_settings.h"
#include "app/page_numbers.h"
#include "common/assert.h"
#include "common/error.h"
#include "ingest/page_words.h"

namespace nw::app {

Workbench::Workbench(const QString &databasePath)
    : m_databasePath(databasePath)
    , m_home(std::this_thread::get_id())
    , m_library(std::make_unique<store::LibraryStore>(databasePath))
    , m_annotations(*m_library)
    , m_sessions(m_library->database())
{
    m_asker.setSnapshotDirectory(kvSnapshotDirectory(), kvSnapshotMaxBytes());
}

// The model and the asking thread's connection may go on another thread than the one that used
// them: nothing uses them any more, and SQLite connections are not bound to a thread.
Workbench::~Workbench() = default;

LibraryStats Workbench::stats()
{
    return m_library->stats();
}

std::vector<DocumentInfo> Workbench::documents(const QString &collection)
{
    return m_library->documents(collection);
}

std::vector<CollectionInfo> Workbench::collections()
{
    return m_library->collections();
}

std::vector<IngestErrorRecord> Workbench::ingestErrors()
{
    return m_library->ingestErrors();
}

std::optional<DocumentInfo> Workbench::findDocument(std::int64_t documentId)
{
    return m_library->findDocument(documentId);
}

std::optional<DocumentInfo> Workbench::findDocumentBySha256(const QString &sha256)
{
    return m_library->findDocumentBySha256(sha256);
}

std::optional<PageRecord> Workbench::findPage(std::int64_t documentId, int pageNumber)
{
    return m_library->findPage(documentId, pageNumber);
}

PageRecord Workbench::requirePage(std::int64_t documentId, int pageNumber)
{
    return m_library->requirePage(documentId, pageNumber);
}

QStringList Workbench::pageLabels(std::int64_t documentId)
{
    return m_library->pageLabels(documentId);
}

int Workbench::resolvePage(std::int64_t documentId, const QString &text)
{
    return requirePageOf(*m_library, documentId, text);
}

QHash<std::int64_t, QString> Workbench::documentTitles()
{
    return distinctTitles(m_library->documents());
}

std::vector<WordBox> Workbench::wordBoxes(std::int64_t documentId, int pageNumber)
{
    return ingest::pageWordBoxes(*m_library, documentId, pageNumber);
}

std::vector<SearchHit> Workbench::search(const QString &query, const SearchOptions &options)
{
    return store::SearchService(*m_library).search(query, options);
}

IngestSummary Workbench::ingest(const QStringList &paths, const std::function<void(const IngestProgress &)> &progress,
    const std::atomic<bool> *cancel, const IngestOptions &options)
{
    store::LibraryStore library(m_databasePath); // ingest/ writes through one connection per thread
    ingest::Ingestor ingestor(library, options);
    const auto passCancel = [&] {
        if (cancel && cancel->load(std::memory_order_relaxed))
            ingestor.cancel();
    };
    ingestor.setProgressCallback(
        [&](const IngestProgress &p) {
            passCancel();
            if (progress)
                progress(p);
        },
        50);
    passCancel();
    return ingestor.run(paths);
}

void Workbench::setModel(const ModelSettings &settings)
{
    std::lock_guard lock(m_mutex);
    m_settings = settings;
}

ModelSettings Workbench::modelSettings() const
{
    std::lock_guard lock(m_mutex);
    return m_settings;
}

void Workbench::publish(bool ready)
{
    std::lock_guard lock(m_mutex);
    if (m_ready && !ready)
        m_lastStats = m_asker.memoryStats(); // shown while the model changes
    m_ready = ready && m_asker.modelStatus().loaded;
}

void Workbench::loadModel()
{
    const ModelSettings wanted = modelSettings();
    if (m_loaded && *m_loaded == wanted)
        return;
    if (wanted.path.isEmpty()) { // no model: answers are extractive
        publish(false);
        m_asker.unloadModel();
        m_loaded.reset();
        return;
    }
    ModelSettings sameModel = wanted;
    if (m_loaded) {
        sameModel.kvMode = m_loaded->kvMode;
        sameModel.contextTokens = m_loaded->contextTokens;
    }
    if (m_loaded && *m_loaded == sameModel) {
        // Only the KV mode or the context changed: a new cache, the same weights. A mode that
        // does not fit leaves the old cache in place.
        publish(false);
        try {
            m_asker.setCache(wanted.kvMode, wanted.contextTokens);
        } catch (...) {
            publish(true);
            throw;
        }
        m_loaded = wanted;
        publish(true);
        return;
    }
    publish(false);
    m_loaded.reset();
    m_asker.loadModel(wanted);
    m_loaded = wanted;
    ++m_loads;
    publish(true);
}

void Workbench::setKvMode(const QString &mode)
{
    ModelSettings settings = modelSettings();
    if (settings.path.isEmpty())
        fail("no model is loaded: a KV mode applies to a model (give --model)");
    ModelSettings changed = settings;
    changed.kvMode = mode;
    apply(changed, settings);
}

void Workbench::setContextTokens(std::int64_t tokens)
{
    ModelSettings settings = modelSettings();
    if (settings.path.isEmpty())
        fail("no model is loaded: a context applies to a model (give --model)");
    ModelSettings changed = settings;
    changed.contextTokens = tokens;
    apply(changed, settings);
}

void Workbench::apply(const ModelSettings &changed, const ModelSettings &before)
{
    setModel(changed);
    try {
        loadModel();
    } catch (...) {
        setModel(before); // the next question runs with the settings that work
        throw;
    }
}

ModelStatus Workbench::modelStatus() const
{
    std::lock_guard lock(m_mutex);
    return m_ready || m_remote ? m_asker.modelStatus() : ModelStatus {};
}

void Workbench::setRemoteEngine(std::shared_ptr<const RemoteEngine> engine)
{
    std::lock_guard lock(m_mutex);
    m_remote = engine != nullptr;
    m_asker.setRemoteEngine(std::move(engine));
}

MemoryStats Workbench::memoryStats() const
{
    std::lock_guard lock(m_mutex);
    return m_ready ? m_asker.memoryStats() : m_lastStats;
}

store::LibraryStore &Workbench::askLibrary()
{
    const std::thread::id self = std::this_thread::get_id();
    if (m_askThread == std::thread::id {})
        m_askThread = self;
    // One asking thread: the generator and the connection below are that thread's.
    NW_ASSERT(m_askThread == self);
    if (self == m_home)
        return *m_library;
    if (!m_askLibrary) {
        m_askLibrary = std::make_unique<store::LibraryStore>(m_databasePath);
        m_askSessions = std::make_unique<SessionService>(m_askLibrary->database());
    }
    return *m_askLibrary;
}

WorkbenchAnswer Workbench::ask(const AskRequest &request, std::int64_t sessionId, const AskCallbacks &callbacks)
{
    const auto stopped = [&callbacks] { return callbacks.stop && callbacks.stop->load(std::memory_order_relaxed); };
    WorkbenchAnswer answer;
    answer.sessionId = sessionId;
    store::LibraryStore &library = askLibrary();
    SessionService &sessions = &library == m_library.get() ? m_sessions : *m_askSessions;
    if (sessionId > 0)
        sessions.store().requireSession(sessionId); // before any work: the turn must have a home
    if (stopped())
        return answer;
    loadModel();
    if (stopped())
        return answer;
    answer.result = m_asker.ask(library, request, callbacks);
    answer.asked = true;
    if (answer.sessionId > 0) {
        sessions.recordTurn(answer.sessionId, answer.result);
        return answer;
    }
    // A new session and its first turn commit together: killed between two commits, the process
    // would leave a session without its question (tests/cli/crash_consistency.py).
    store::Transaction transaction(library.database());
    answer.sessionId = sessions.startSession(request.question);
    sessions.recordTurn(answer.sessionId, answer.result);
    transaction.commit();
    return answer;
}

std::int64_t Workbench::startSession(const QString &title)
{
    return m_sessions.startSession(title);
}

std::optional<std::vector<TurnRecord>> Workbench::sessionTurns(std::int64_t sessionId)
{
    if (!m_sessions.store().findSession(sessionId))
        return std::nullopt;
    return m_sessions.store().turns(sessionId);
}

} // namespace nw::app
