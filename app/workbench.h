// The workbench controller: one library (documents, pages, search, annotations, sessions), the
// model that answers questions about it and the policy that loads that model, and the one way a
// question is asked — answered, then recorded as a turn of a session. The command line (`ask`,
// `chat`, `demo`) and the window (Library, Chat, page and annotation views) both drive it, so
// they give the same answer, citations and KV figures for the same question, model and options.
//
// Threads: a Workbench belongs to the thread that made it (the GUI thread, or the command's);
// its library reads, annotations and sessions run there. ask() may run on one other thread (the
// Chat dock's worker), and ingest() on any: each uses a library connection of its own (SQLite
// connections are per thread). setModel(), modelStatus() and memoryStats() are safe from any
// thread, also while a question is answered.
#pragma once

#include "app/annotation_service.h"
#include "app/ask_service.h"
#include "app/library_types.h"
#include "app/model_settings.h"
#include "app/session_service.h"

#include <QHash>
#include <QString>
#include <QStringList>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace nw::app {

// A question answered and recorded.
struct WorkbenchAnswer {
    AskResult result;
    std::int64_t sessionId = 0; // the session the turn went into (0 when nothing was asked)
    bool asked = false; // false: stopped before it started; nothing was answered or recorded
};

class Workbench {
public:
    // Opens (creating and migrating when needed) the library database; throws nw::Error.
    explicit Workbench(const QString &databasePath);
    ~Workbench();
    Workbench(const Workbench &) = delete;
    Workbench &operator=(const Workbench &) = delete;

    QString databasePath() const { return m_databasePath; }

    // --- The library (the workbench's thread). Reads throw nw::Error when the database fails.
    LibraryStats stats();
    std::vector<DocumentInfo> documents(const QString &collection = {}); // by id
    std::vector<CollectionInfo> collections();
    std::vector<IngestErrorRecord> ingestErrors();
    std::optional<DocumentInfo> findDocument(std::int64_t documentId);
    std::optional<DocumentInfo> findDocumentBySha256(const QString &sha256);
    std::optional<PageRecord> findPage(std::int64_t documentId, int pageNumber);
    PageRecord requirePage(std::int64_t documentId, int pageNumber); // throws nw::Error naming the page
    // Every page's printed label, in page order ("" where none is printed; app/page_numbers.h).
    QStringList pageLabels(std::int64_t documentId);
    // The physical page (1-based) a user's page text names — a printed label, or #N — or nw::Error
    // naming the pages the document has.
    int resolvePage(std::int64_t documentId, const QString &text);
    // Document id → the title it goes by, distinct within the library (app/document_titles.h).
    QHash<std::int64_t, QString> documentTitles();
    // Where each word of a page sits (from the cache, else from the PDF now); throws nw::Error
    // when the page is unknown or its file is gone or changed. Text documents have none.
    std::vector<WordBox> wordBoxes(std::int64_t documentId, int pageNumber);
    // Full-text search (FTS5 syntax); throws nw::Error when the query does not parse.
    std::vector<SearchHit> search(const QString &query, const SearchOptions &options = {});
    AnnotationService &annotations() { return m_annotations; }

    // --- Ingest: from any thread (a connection of its own). `cancel`, when given, is read
    // between files and page ranges; `progress` runs on the calling thread.
    IngestSummary ingest(const QStringList &paths, const std::function<void(const IngestProgress &)> &progress = {},
        const std::atomic<bool> *cancel = nullptr, const IngestOptions &options = {});

    // --- The model. setModel() only records what is wanted (any thread); the model loads (or
    // changes KV mode) with the next ask(), or now with loadModel().
    void setModel(const ModelSettings &settings);
    ModelSettings modelSettings() const;
    // Brings the loaded model in line with the settings on the calling thread (the one that asks):
    // nothing when it already is; a new cache when only the KV mode changed. Throws nw::Error;
    // after a failed load no model is loaded.
    void loadModel();
    // The settings' KV mode (or context: 0 takes contextTokensFor's default) changed and applied
    // now, in a new cache of the same weights; throws nw::Error without a model, and keeps the
    // settings that worked when the new ones do not.
    void setKvMode(const QString &mode);
    void setContextTokens(std::int64_t tokens);
    ModelStatus modelStatus() const;
    // The loaded model's KV memory (lock-free on the engine side: a GUI timer may poll it while
    // another thread answers); while a model loads, the last snapshot; empty without a model.
    MemoryStats memoryStats() const;
    int modelLoads() const { return m_loads.load(); } // how many times a model was loaded
    // Questions go to a remote engine (an OpenAI-compatible server, app/remote_engine.h) instead
    // of the model the settings name; null: back to those. Not while a question is answered.
    void setRemoteEngine(std::shared_ptr<const RemoteEngine> engine);

    // --- Questions. Loads the model if needed, answers, and records the turn — in session
    // `sessionId`, or a new session titled by the question when it is 0 (a stopped or too-large
    // answer is recorded too: the transcript shows what was said). Throws nw::Error (an unknown
    // session, a model that does not load, an empty question, ...): then nothing is recorded.
    WorkbenchAnswer ask(const AskRequest &request, std::int64_t sessionId = 0, const AskCallbacks &callbacks = {});

    // --- Sessions (the workbench's thread).
    std::int64_t startSession(const QString &title);
    std::optional<std::vector<TurnRecord>> sessionTurns(std::int64_t sessionId); // nullopt: no such session
    SessionService &sessions() { return m_sessions; }

private:
    store::LibraryStore &askLibrary();
    void apply(const ModelSettings &changed, const ModelSettings &before);
    void publish(bool ready); // under m_mutex: whether memoryStats may read the engine

    QString m_databasePath;
    std::thread::id m_home;
    std::unique_ptr<store::LibraryStore> m_library; // the workbench thread's connection
    AnnotationService m_annotations;
    SessionService m_sessions;

    // The asking thread's.
    std::thread::id m_askThread;
    std::unique_ptr<store::LibraryStore> m_askLibrary; // when it is not the workbench's thread
    std::unique_ptr<SessionService> m_askSessions;
    AskService m_asker;
    std::optional<ModelSettings> m_loaded; // what m_asker holds; nullopt: no model

    // Reached from any thread, under the mutex.
    mutable std::mutex m_mutex;
    ModelSettings m_settings;
    bool m_ready = false; // a model is loaded and not being replaced: the engine may be read
    bool m_remote = false; // questions go to a remote engine
    MemoryStats m_lastStats;
    std::atomic<int> m_loads { 0 };
};

} // namespace nw::app
