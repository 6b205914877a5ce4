// Asking questions of the library: retrieve passages (or load whole documents), then either
// answer extractively (no model: the cited passages themselves) or generate with a local
// model through its chat template, streaming, with citations checked against the sources.
// One AskService keeps its model and generator between questions, so a follow-up reuses the
// cached prompt prefix (engine prefix reuse). Front ends use it through the Workbench
// (app/workbench.h), which adds the loading policy, the library connection and the sessions.
#pragma once

#include "app/model_settings.h"
#include "app/prompt_builder.h"
#include "app/remote_metrics.h"
#include "app/retriever.h"

#include <QString>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <vector>

namespace nw::app {

class RemoteEngine;

enum class AskMode { Retrieve, Whole };
QString askModeName(AskMode mode);
AskMode parseAskMode(const QString &name); // throws nw::Error on anything but retrieve|whole

struct AskRequest {
    QString question;
    AskMode mode = AskMode::Retrieve;
    RetrievalOptions retrieval; // collection / documentIds also choose the documents of whole mode
    int maxTokens = 0; // generated tokens at most; 0: answerTokensFor(0, the context)
};

// Memory a KV mode would need for a given number of tokens (from the engine's KV figures).
struct KvNeed {
    QString mode; // "full", "mla"
    std::uint64_t bytes = 0;
    double savingVsMha = 0;
};

struct AskResult {
    QString question;
    AskMode mode = AskMode::Retrieve;
    QString answer;
    bool extractive = true; // no model: the answer is quoted passages
    std::vector<Passage> passages; // retrieve mode, ranked
    std::vector<Citation> citations; // what the answer relies on
    std::vector<QuoteCheck> quotes; // each quote of a generated answer, supported or not
    std::vector<Source> sources; // what went into the prompt
    int droppedSources = 0; // the lowest-ranked sources, left out to fit the context
    bool bestSourceCut = false; // even the best page did not fit: only its cited passage went in

    QString model; // file name, "" without one
    QString chatFamily; // "llama-3", ...
    QString kvMode;
    int promptTokens = 0;
    int reusedTokens = 0; // prompt tokens kept from the previous question's cache
    // Whole mode with KV snapshots: where the documents' part of the prompt came from —
    // "snapshot" (loaded from disk), "prefill" (computed, then written to disk), "cache" (this
    // session's cache held it); "" when no snapshot applies.
    QString contextSource;
    int snapshotTokens = 0; // tokens of that part
    std::uint64_t snapshotBytes = 0; // the snapshot file's size
    double snapshotSeconds = 0; // loading it, or writing it
    // What prefilling that part took: now ("prefill"), or when the snapshot was made ("snapshot":
    // what loading it saved); 0 when not known.
    double snapshotPrefillSeconds = 0;
    QString snapshotProblem; // why a snapshot file there was not used (it was replaced)
    int generatedTokens = 0;
    double prefillSeconds = 0;
    double decodeSeconds = 0;
    std::uint64_t kvBytesUsed = 0;
    std::uint64_t kvBytesReserved = 0;
    std::uint64_t kvBytesPerToken = 0; // what one more token of context costs
    double savingVsMha = 0;
    QString stopReason;

    // A remote engine (app/remote_engine.h): the server's URL ("" in process), how the prompt's
    // tokens were counted ("tokenizer" the model's own, "server-template", "server", "estimate"),
    // where the context came from ("server", "option", "default") and the server's KV meter after
    // the answer (empty when its /metrics is not reachable).
    QString engineUrl;
    QString tokenCount;
    QString contextFrom;
    std::optional<RemoteKvFigures> remoteKv;

    // Whole mode when the documents do not fit the context: nothing was generated.
    bool tooLarge = false;
    int neededTokens = 0;
    int contextTokens = 0;
    std::vector<KvNeed> kvNeeds; // per KV mode, for neededTokens
};

struct ModelStatus {
    bool loaded = false;
    QString path;
    QString engineUrl; // a remote engine's URL (path is then the server's model name); "" in process
    QString device; // the backend it runs on: "cpu (8 threads)", "cuda: NVIDIA H100 ..."
    QString kvMode;
    QString chatFamily;
    int contextTokens = 0;
    std::int64_t tokensInCache = 0;
    std::uint64_t kvBytesUsed = 0;
    std::uint64_t kvBytesReserved = 0;
    double savingVsMha = 0;
};

// What a question reports while it is answered, and how it is stopped.
struct AskCallbacks {
    std::function<void(const QString &)> onText; // the generated answer as it streams (not for extractive ones)
    std::function<void(std::int64_t done, std::int64_t total)> onPrefill; // prompt tokens computed so far
    // Set it (from any thread, or a signal handler) to stop the answer at the next token or
    // prompt chunk; what was written so far is the answer.
    const std::atomic<bool> *stop = nullptr;
};

class AskService {
public:
    AskService();
    ~AskService();
    AskService(const AskService &) = delete;
    AskService &operator=(const AskService &) = delete;

    // Loads a GGUF model: the KV mode ("" the model's default), context (contextTokensFor),
    // device and threads as `settings` ask. Throws nw::Error (file, architecture, KV mode, cuda
    // asked for without a GPU); the model loaded before is gone either way.
    void loadModel(const ModelSettings &settings);
    void unloadModel();
    // Answers with a remote engine instead of the loaded model (null: the in-process engine again).
    void setRemoteEngine(std::shared_ptr<const RemoteEngine> engine);
    // A new cache in another KV mode ("" the model's default) and context (contextTokensFor) —
    // the weights stay; throws nw::Error when the mode does not fit (the old cache stays then).
    void setCache(const QString &kvMode, std::int64_t contextTokens);
    ModelStatus modelStatus() const;
    // Where whole-mode questions keep KV snapshots of their documents' prefix (engine/
    // kv_snapshot.h), and the most bytes the directory may hold (the least recently used go
    // first); an empty directory or a cap of 0 turns them off (the default).
    void setSnapshotDirectory(const QString &dir, std::uint64_t maxBytes);
    // The loaded model's memory snapshot (empty without one). Lock-free on the engine side, so a
    // GUI timer may call it while another thread generates (not while loadModel/setCache run).
    MemoryStats memoryStats() const;

    // Answers from `library` (a connection of the calling thread).
    AskResult ask(store::LibraryStore &library, const AskRequest &request, const AskCallbacks &callbacks = {});

private:
    struct Engine;
    struct PageRef {
        const store::DocumentInfo *document;
        int page;
    };
    // Whole mode's cited pages (sources[i].origin indexes `pages`) as citations with spans and boxes.
    static std::vector<Citation> wholeModeCitations(store::LibraryStore &library, const AskResult &result,
        const std::set<int> &usedSources, const std::vector<PageRef> &pages);
    AskResult answerFromModel(store::LibraryStore &library, const AskRequest &request, AskResult result,
        const std::vector<Source> &sources, const AskCallbacks &callbacks, const std::vector<PageRef> &pages = {});
    AskResult answerFromRemote(store::LibraryStore &library, const AskRequest &request, AskResult result,
        const std::vector<Source> &sources, const AskCallbacks &callbacks, const std::vector<PageRef> &pages);
    // The sources that fit `budget` (BuiltPrompt::sources), the best one cut down to its passage
    // when it alone is too long; throws nw::Error when not even that fits.
    static BuiltPrompt fitSources(const AskRequest &request, AskResult &result, const std::vector<Source> &sources,
        const std::function<BuiltPrompt(const std::vector<Source> &)> &build, std::int64_t contextTokens, int budget,
        int maxTokens);
    // The answer's quotes checked and its citations: the sources cited as [n] and those a quote was found in.
    static void citeAnswer(
        store::LibraryStore &library, const AskRequest &request, AskResult &result, const std::vector<PageRef> &pages);
    // The snapshot's prefix of a whole-mode prompt (empty when snapshots do not apply).
    std::vector<std::int32_t> snapshotPrefix(const BuiltPrompt &prompt, const std::vector<std::int32_t> &tokens) const;
    std::unique_ptr<Engine> m_engine;
    std::shared_ptr<const RemoteEngine> m_remote;
    QString m_snapshotDir;
    std::uint64_t m_snapshotMaxBytes = 0;
};

// "182K tokens loaded from snapshot, 1.9 GiB, 0.4 s" (or written to one, or "" without one).
QString contextSourceLine(const AskResult &result);

// Citations of a generated answer: the sources it cites as [n] (n from 1); quotes checked.
std::vector<int> citedSourceNumbers(const QString &answer, int sourceCount);

} // namespace nw::app
