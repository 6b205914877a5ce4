// Retrieval or whole documents -> prompt -> extractive or generated answer with citations.
#include "app/ask_service.h"

#include "app/ask_report.h"
#include "app/document_titles.h"
#include "app/extractive_answer.h"
#include "app/page_numbers.h"
#include "app/remote_engine.h"
#include "common/byte_format.h"
#include "common/error.h"
#include "common/log.h"
#include "engine/arch_table.h"
#include "engine/chat_reply.h"
#include "engine/chat_template.h"
#include "engine/generator.h"
#include "engine/gguf_file.h"
#include "engine/kv_snapshot_directory.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "ingest/page_words.h"

#include <QFileInfo>
#include <QRegularExpression>

#include <algorithm>
#include <set>

namespace nw::app {

struct AskService::Engine {
    QString path;
    QString device;
    std::shared_ptr<const GgufFile> file;
    std::unique_ptr<Model> model;
    std::unique_ptr<Tokenizer> tokenizer;
    std::unique_ptr<Generator> generator;
    ChatTemplate chat;
    KvModeSpec kvMode;
    std::int64_t contextTokens = 0;
};

QString askModeName(AskMode mode)
{
    return mode == AskMode::Whole ? QStringLiteral("whole") : QStringLiteral("retrieve");
}

AskMode parseAskMode(const QString &name)
{
    if (name == QLatin1String("retrieve"))
        return AskMode::Retrieve;
    if (name == QLatin1String("whole"))
        return AskMode::Whole;
    fail("unknown mode '{}': use retrieve or whole", name.toStdString());
}

std::vector<int> citedSourceNumbers(const QString &answer, int sourceCount)
{
    static const QRegularExpression marker(QStringLiteral("\\[(\\d+(?:\\s*,\\s*\\d+)*)\\]"));
    std::vector<int> out;
    std::set<int> seen;
    auto it = marker.globalMatch(answer);
    while (it.hasNext()) {
        for (const QString &n : it.next().captured(1).split(QLatin1Char(','))) {
            const int number = n.trimmed().toInt();
            if (number >= 1 && number <= sourceCount && seen.insert(number).second)
                out.push_back(number);
        }
    }
    return out;
}

AskService::AskService() = default;
AskService::~AskService() = default;

void AskService::loadModel(const ModelSettings &settings)
{
    m_engine.reset(); // the old model's memory goes before the new one's comes
    auto engine = std::make_unique<Engine>();
    engine->path = settings.path;
    engine->file = GgufFile::open(settings.path.toStdString());
    engine->model = nw::loadModel(engine->file, { .threads = settings.threads, .device = settings.device });
    engine->device = QString::fromStdString(engine->model->backend().name());
    engine->tokenizer = Tokenizer::fromGguf(*engine->file);
    engine->chat = ChatTemplate::detect(
        engine->file->findString("tokenizer.chat_template").value_or(""), engine->model->hparams().arch);
    const auto modes = engine->model->kvModes();
    engine->kvMode
        = settings.kvMode.isEmpty() ? KvModeSpec { modes.front() } : KvModeSpec::parse(settings.kvMode.toStdString());
    engine->contextTokens = contextTokensFor(settings.contextTokens, engine->model->hparams().nCtxTrain);
    engine->generator
        = std::make_unique<Generator>(*engine->model, *engine->tokenizer, engine->kvMode, engine->contextTokens);
    nw::log::get("app")->info("ask: model {} ({}) on {}, chat template {}, KV {}, context {}",
        settings.path.toStdString(), engine->model->hparams().arch, engine->device.toStdString(),
        chatFamilyName(engine->chat.family()), engine->kvMode.toString(), engine->contextTokens);
    m_engine = std::move(engine);
}

void AskService::unloadModel()
{
    m_engine.reset();
}

void AskService::setRemoteEngine(std::shared_ptr<const RemoteEngine> engine)
{
    m_remote = std::move(engine);
}

void AskService::setCache(const QString &kvMode, std::int64_t contextTokens)
{
    if (!m_engine)
        fail("no model is loaded: a KV mode or a context applies to a model");
    const KvModeSpec spec = kvMode.isEmpty() ? KvModeSpec { m_engine->model->kvModes().front() }
                                             : KvModeSpec::parse(kvMode.toStdString());
    const std::int64_t context = contextTokensFor(contextTokens, m_engine->model->hparams().nCtxTrain);
    auto generator = std::make_unique<Generator>(*m_engine->model, *m_engine->tokenizer, spec, context);
    m_engine->generator = std::move(generator);
    m_engine->kvMode = spec;
    m_engine->contextTokens = context;
    nw::log::get("app")->info("ask: new cache, KV {}, context {}", spec.toString(), context);
}

ModelStatus AskService::modelStatus() const
{
    ModelStatus status;
    if (m_remote) {
        status.loaded = true;
        status.path = QString::fromStdString(m_remote->modelId());
        status.engineUrl = m_remote->url();
        status.device
            = QStringLiteral("remote: %1 (%2)").arg(m_remote->url(), QString::fromStdString(m_remote->modelId()));
        status.contextTokens = static_cast<int>(m_remote->contextTokens());
        return status;
    }
    if (!m_engine)
        return status;
    const MemoryStats stats = m_engine->generator->memoryStats();
    status.loaded = true;
    status.path = m_engine->path;
    status.device = m_engine->device;
    status.kvMode = QString::fromStdString(m_engine->kvMode.toString());
    status.chatFamily = QString::fromUtf8(chatFamilyName(m_engine->chat.family()).data());
    status.contextTokens = static_cast<int>(m_engine->contextTokens);
    status.tokensInCache = stats.tokens;
    status.kvBytesUsed = stats.kvBytesUsed;
    status.kvBytesReserved = stats.kvBytesReserved;
    status.savingVsMha = stats.savingVsMha();
    return status;
}

void AskService::setSnapshotDirectory(const QString &dir, std::uint64_t maxBytes)
{
    m_snapshotDir = dir;
    m_snapshotMaxBytes = maxBytes;
}

std::vector<std::int32_t> AskService::snapshotPrefix(
    const BuiltPrompt &prompt, const std::vector<std::int32_t> &tokens) const
{
    if (m_snapshotDir.isEmpty() || m_snapshotMaxBytes == 0 || m_engine->generator->cache().onDevice())
        return {};
    // Snapshots hold neither a SnapKV selection (prefilled alone, the prefix would be compressed
    // before the question) nor a `+sinks` window (one run of rows per store): these modes prefill
    // the whole prompt as without a snapshot directory, with no warning on every question.
    const KvModeSpec &spec = m_engine->generator->cache().layout().spec;
    if (spec.snapkv > 0 || spec.sinks > 0)
        return {};
    // The tokens of the text before the question, as far as the whole prompt's tokens agree
    // with them (a token may straddle the boundary); the question's tokens always follow.
    const std::vector<std::int32_t> head
        = m_engine->tokenizer->encode(prompt.text.left(prompt.questionAt).toStdString(), true, true);
    const auto shared = std::mismatch(head.begin(), head.end(), tokens.begin(), tokens.end());
    const auto n = std::min<std::size_t>(static_cast<std::size_t>(shared.first - head.begin()), tokens.size() - 1);
    if (n < static_cast<std::size_t>(KvCache::kBlockTokens))
        return {}; // not worth a file
    return { tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(n) };
}

QString contextSourceLine(const AskResult &r)
{
    if (r.contextSource == QLatin1String("snapshot"))
        return QStringLiteral("%1 tokens loaded from snapshot, %2, %3 s%4")
            .arg(r.snapshotTokens)
            .arg(formatBytes(r.snapshotBytes))
            .arg(r.snapshotSeconds, 0, 'f', 2)
            .arg(r.snapshotPrefillSeconds > 0
                    ? QStringLiteral(" (prefilling them took %1 s)").arg(r.snapshotPrefillSeconds, 0, 'f', 2)
                    : QString());
    if (r.contextSource == QLatin1String("prefill"))
        return r.snapshotBytes > 0 ? QStringLiteral("%1 tokens prefilled, snapshot written: %2 in %3 s")
                                         .arg(r.snapshotTokens)
                                         .arg(formatBytes(r.snapshotBytes))
                                         .arg(r.snapshotSeconds, 0, 'f', 2)
                                   : QStringLiteral("%1 tokens prefilled, no snapshot written").arg(r.snapshotTokens);
    if (r.contextSource == QLatin1String("cache"))
        return QStringLiteral("%1 tokens kept in this session's cache").arg(r.snapshotTokens);
    return {};
}

MemoryStats AskService::memoryStats() const
{
    return m_engine ? m_engine->generator->memoryStats() : MemoryStats {};
}

AskResult AskService::ask(store::LibraryStore &library, const AskRequest &request, const AskCallbacks &callbacks)
{
    if (request.question.trimmed().isEmpty())
        fail("the question is empty");
    AskResult result;
    result.question = request.question;
    result.mode = request.mode;

    if (request.mode == AskMode::Retrieve) {
        Retriever retriever(library);
        result.passages = retriever.retrieve(request.question, request.retrieval);
        if (!m_engine && !m_remote) {
            result.answer = extractiveAnswer(result.passages);
            for (const Passage &p : result.passages)
                result.citations.push_back(p.citation);
            if (result.citations.size() > 3)
                result.citations.resize(3);
            return result;
        }
        // The sources are made before `result` is moved: argument evaluation order is unspecified.
        std::vector<Source> sources = passageSources(result.passages);
        return answerFromModel(library, request, std::move(result), sources, callbacks);
    }

    // Whole documents, in order, each page labelled.
    if (!m_engine && !m_remote)
        fail("whole mode reads the documents into a model's context: give --model M.gguf (or use --mode retrieve)");
    std::vector<store::DocumentInfo> documents;
    for (const auto &info : library.documents(request.retrieval.collection))
        if (request.retrieval.documentIds.empty()
            || std::find(request.retrieval.documentIds.begin(), request.retrieval.documentIds.end(), info.id)
                != request.retrieval.documentIds.end())
            documents.push_back(info);
    if (documents.empty())
        fail("no documents are selected (check --doc / --collection, or ingest some first)");
    std::vector<Source> sources;
    std::vector<PageRef> pages;
    const QHash<std::int64_t, QString> titles = distinctTitles(library.documents());
    for (const auto &info : documents) {
        const QString title = titles.value(info.id, plainTitle(info));
        for (int n = 1; n <= info.pageCount; ++n) {
            const store::PageRecord page = library.requirePage(info.id, n);
            sources.push_back({ QStringLiteral("%1, %2").arg(title, pageCitation(n, page.label)), page.text.trimmed(),
                static_cast<int>(pages.size()) });
            pages.push_back({ &info, n });
        }
    }
    return answerFromModel(library, request, std::move(result), sources, callbacks, pages);
}

AskResult AskService::answerFromModel(store::LibraryStore &library, const AskRequest &request, AskResult result,
    const std::vector<Source> &sources, const AskCallbacks &callbacks, const std::vector<PageRef> &pages)
{
    if (m_remote)
        return answerFromRemote(library, request, std::move(result), sources, callbacks, pages);
    Engine &e = *m_engine;
    result.extractive = false;
    result.tokenCount = QStringLiteral("tokenizer");
    result.model = QFileInfo(e.path).fileName();
    result.chatFamily = QString::fromUtf8(chatFamilyName(e.chat.family()).data());
    result.kvMode = QString::fromStdString(e.kvMode.toString());
    result.contextTokens = static_cast<int>(e.contextTokens);
    const TokenCounter count = [&e](const QString &text) {
        return static_cast<int>(e.tokenizer->encode(text.toStdString(), true, true).size());
    };
    const int maxTokens = answerTokensFor(request.maxTokens, e.contextTokens);
    const int budget = static_cast<int>(e.contextTokens) - maxTokens;

    if (request.mode == AskMode::Whole) {
        // Everything or nothing: a whole-document answer from part of the documents would mislead.
        std::vector<Source> all = sources;
        QString joined;
        for (const Source &s : all)
            joined += s.label + QLatin1Char('\n') + s.text + QLatin1Char('\n');
        const int needed = count(joined) + count(systemInstructions() + request.question) + maxTokens;
        if (needed > e.contextTokens) {
            result.tooLarge = true;
            result.neededTokens = needed;
            for (const KvModeFigures &f : kvModeFigures(e.model->hparams(), needed))
                result.kvNeeds.push_back({ QString::fromStdString(f.spec.toString()), f.usedBytes, f.savingVsMha });
            result.answer
                = QStringLiteral("The selected documents need about %1 tokens with the question and the answer, "
                                 "more than the %2-token context. Use --mode retrieve, or select fewer documents.")
                      .arg(needed)
                      .arg(e.contextTokens);
            return result;
        }
    }

    const BuiltPrompt prompt = fitSources(
        request, result, sources,
        [&](const std::vector<Source> &kept) { return buildPrompt(e.chat, request.question, kept, budget, count); },
        e.contextTokens, budget, maxTokens);
    result.sources = prompt.sources;
    result.droppedSources = prompt.droppedSources;

    GenerateOptions options;
    options.maxTokens = maxTokens;
    options.sampler.greedy = true; // answers about documents: no sampling noise
    options.stopStrings = e.chat.stopStrings();
    options.parseSpecial = true; // the template's control tokens
    // A stop is passed on from the generation's own thread, at each prompt chunk and each token:
    // the generator clears its cancel flag when it starts, so a stop asked for earlier still counts.
    GenerationCallbacks generation;
    const std::atomic<bool> *stop = callbacks.stop;
    Generator &generator = *e.generator;
    const auto passStop = [stop, &generator] {
        if (stop && stop->load(std::memory_order_relaxed))
            generator.cancel();
    };
    generation.onPrefillProgress = [&callbacks, passStop](std::int64_t done, std::int64_t total) {
        if (callbacks.onPrefill)
            callbacks.onPrefill(done, total);
        passStop();
    };
    generation.onToken = [passStop](std::int32_t) { passStop(); };
    // Only the answer reaches the reader: reasoning (<think>...</think>) and gpt-oss's channels
    // other than `final` are held back as they stream (engine/chat_reply.h). The prompt was made
    // with the default ChatOptions (thinking off), so the filter uses the same.
    ReplyFilter reply(e.chat);
    auto show = [&callbacks](const std::string &text) {
        if (callbacks.onText && !text.empty())
            callbacks.onText(QString::fromUtf8(text.data(), static_cast<qsizetype>(text.size())));
    };
    generation.onText = [&reply, &show](std::string_view text) { show(reply.push(text)); };
    const std::vector<std::int32_t> tokens
        = e.tokenizer->encode(prompt.text.toStdString(), options.addSpecial, options.parseSpecial);
    const std::vector<std::int32_t> prefix
        = request.mode == AskMode::Whole ? snapshotPrefix(prompt, tokens) : std::vector<std::int32_t> {};
    double prefixSeconds = 0; // prefilling the prefix for its snapshot, before generate()
    if (!prefix.empty()) {
        try {
            const KvSnapshotDirectory dir(m_snapshotDir.toStdString());
            dir.create();
            const KvSnapshotIdentity id { dir.modelHash(e.path.toStdString()), e.kvMode.toString() };
            const std::filesystem::path path = dir.pathFor(id, prefix);
            const auto total = static_cast<std::int64_t>(tokens.size());
            const PrefixResult p = generator.prepareSnapshotPrefix(prefix, id, path, options.prefillChunk,
                [&generation, total](std::int64_t done, std::int64_t) { generation.onPrefillProgress(done, total); });
            result.contextSource = QString::fromUtf8(prefixSourceName(p.source).data());
            result.snapshotTokens = static_cast<int>(p.tokens);
            result.snapshotBytes = p.bytes;
            result.snapshotSeconds = p.source == PrefixSource::Prefill ? p.saveSeconds : p.seconds;
            result.snapshotPrefillSeconds = p.prefillSeconds;
            result.snapshotProblem = QString::fromStdString(p.problem);
            if (p.source == PrefixSource::Prefill)
                prefixSeconds = p.seconds;
            if (p.saved)
                for (const KvSnapshotEntry &gone : dir.evict(m_snapshotMaxBytes, path))
                    nw::log::get("app")->info("KV snapshot {} removed ({}): over the snapshot size cap",
                        gone.path.string(), nw::formatBytes(gone.bytes));
        } catch (const Error &err) {
            nw::log::get("app")->warn("ask: no KV snapshot for this question: {}", err.what());
        }
    }
    const GenerationResult generated = generator.generateFromTokens(tokens, options, generation);
    show(reply.finish());

    result.answer = QString::fromStdString(
        ReplyFilter::answer(e.chat.replyFormat(), e.chat.replyStartsInReasoning({}), generated.text))
                        .trimmed();
    result.promptTokens = static_cast<int>(generated.promptTokens.size());
    // Positions computed for the snapshot count as prefilled, those loaded from it are reported
    // apart (contextSource): reusedTokens is what an earlier question of this session left.
    const std::int64_t fromPrefix = result.contextSource == QLatin1String("cache") ? 0 : result.snapshotTokens;
    result.reusedTokens = static_cast<int>(std::max<std::int64_t>(0, generated.reusedTokens - fromPrefix));
    result.generatedTokens = static_cast<int>(generated.generatedTokens.size());
    result.prefillSeconds = generated.prefillSeconds + prefixSeconds;
    result.decodeSeconds = generated.decodeSeconds;
    result.kvBytesUsed = generated.memory.kvBytesUsed;
    result.kvBytesReserved = generated.memory.kvBytesReserved;
    result.kvBytesPerToken = generated.memory.bytesPerToken;
    result.savingVsMha = generated.memory.savingVsMha();
    result.stopReason = QString::fromUtf8(stopReasonName(generated.stop).data());

    citeAnswer(library, request, result, pages);
    return result;
}

BuiltPrompt AskService::fitSources(const AskRequest &request, AskResult &result, const std::vector<Source> &sources,
    const std::function<BuiltPrompt(const std::vector<Source> &)> &build, std::int64_t contextTokens, int budget,
    int maxTokens)
{
    BuiltPrompt prompt = build(sources);
    if (!sources.empty() && prompt.sources.empty() && request.mode == AskMode::Retrieve) {
        // Not even the best page fits: its cited passage with less and less of the page around it.
        const Passage &best = result.passages[static_cast<std::size_t>(sources.front().origin)];
        for (int around : { 2000, 1000, 500, 250, 120, 0 }) {
            const int from = std::max(0, best.citation.start - around);
            const int to
                = std::min(static_cast<int>(best.text.size()), best.citation.start + best.citation.length + around);
            QString text = best.text.mid(from, to - from).trimmed();
            if (from > 0)
                text = QStringLiteral("[…] ") + text;
            if (to < best.text.size())
                text += QStringLiteral(" […]");
            const std::vector<Source> cut = { { sources.front().label, text, sources.front().origin } };
            prompt = build(cut);
            if (!prompt.sources.empty()) {
                prompt.droppedSources = static_cast<int>(sources.size()) - 1;
                result.bestSourceCut = true;
                break;
            }
        }
    }
    if (!sources.empty() && prompt.sources.empty()) {
        // Not even the best source fits: an answer without sources would say nothing of the library.
        fail(Remedy::LargerContext,
            "the best source alone does not fit: a context of {} tokens leaves {} for the prompt (and {} for the "
            "answer), and the question with the best source's passage needs more",
            contextTokens, budget, maxTokens);
    }
    return prompt;
}

void AskService::citeAnswer(
    store::LibraryStore &library, const AskRequest &request, AskResult &result, const std::vector<PageRef> &pages)
{
    QStringList sourceTexts;
    for (const Source &s : result.sources)
        sourceTexts << s.text;
    result.quotes = checkQuotes(result.answer, sourceTexts);
    // Citations: the sources cited as [n], and those a supported quote was found in.
    std::set<int> used;
    for (int n : citedSourceNumbers(result.answer, static_cast<int>(result.sources.size())))
        used.insert(n - 1);
    for (const QuoteCheck &q : result.quotes)
        if (q.supported)
            used.insert(q.sourceIndex);
    if (request.mode == AskMode::Retrieve) {
        for (int index : used) {
            const int passage = result.sources[static_cast<std::size_t>(index)].origin;
            if (passage >= 0 && passage < static_cast<int>(result.passages.size()))
                result.citations.push_back(result.passages[static_cast<std::size_t>(passage)].citation);
        }
    } else {
        result.citations = wholeModeCitations(library, result, used, pages);
    }
}

AskResult AskService::answerFromRemote(store::LibraryStore &library, const AskRequest &request, AskResult result,
    const std::vector<Source> &sources, const AskCallbacks &callbacks, const std::vector<PageRef> &pages)
{
    // The server applies its own chat template (the messages go as they are), counts the prompt
    // with its tokenizer when it can, and reports its KV cache through /metrics: the citations are
    // checked here exactly as for the in-process engine.
    const RemoteEngine &remote = *m_remote;
    result.extractive = false;
    result.model = QString::fromStdString(remote.modelId());
    result.engineUrl = remote.url();
    result.chatFamily = QStringLiteral("server's");
    result.contextTokens = static_cast<int>(remote.contextTokens());
    result.contextFrom = remote.contextSource();
    result.tokenCount = QString::fromUtf8(remoteTokenCountName(remote.tokenCount()).data());
    const MessageCounter count
        = [&remote](const std::vector<ChatMessage> &messages) { return remote.countTokens(messages); };
    const int maxTokens = answerTokensFor(request.maxTokens, remote.contextTokens());
    const int budget = static_cast<int>(remote.contextTokens()) - maxTokens;

    if (request.mode == AskMode::Whole) {
        QString joined;
        for (const Source &s : sources)
            joined += s.label + QLatin1Char('\n') + s.text + QLatin1Char('\n');
        const int needed = count({ { "user", joined.toStdString() } })
            + count({ { "system", systemInstructions().toStdString() }, { "user", request.question.toStdString() } })
            + maxTokens;
        if (needed > remote.contextTokens()) {
            // The remote model's KV layout is unknown here: no per-mode figures (kvNeeds stays empty).
            result.tooLarge = true;
            result.neededTokens = needed;
            result.answer
                = QStringLiteral("The selected documents need about %1 tokens with the question and the answer, "
                                 "more than the server's %2-token context. Use --mode retrieve, or select fewer "
                                 "documents.")
                      .arg(needed)
                      .arg(remote.contextTokens());
            return result;
        }
    }

    const BuiltPrompt prompt = fitSources(
        request, result, sources,
        [&](const std::vector<Source> &kept) { return buildMessagesPrompt(request.question, kept, budget, count); },
        remote.contextTokens(), budget, maxTokens);
    result.sources = prompt.sources;
    result.droppedSources = prompt.droppedSources;

    RemoteChatOptions options;
    options.maxTokens = maxTokens;
    const RemoteChatResult reply = remote.chat(
        promptMessages(request.question, prompt.sources), options,
        [&callbacks](std::string_view text) {
            if (callbacks.onText)
                callbacks.onText(QString::fromUtf8(text.data(), static_cast<qsizetype>(text.size())));
        },
        callbacks.stop);
    result.answer = QString::fromStdString(reply.text).trimmed();
    result.promptTokens = reply.promptTokens >= 0 ? reply.promptTokens : prompt.tokens;
    result.generatedTokens = std::max(0, reply.completionTokens);
    result.prefillSeconds = reply.firstTokenSeconds;
    result.decodeSeconds = std::max(0.0, reply.totalSeconds - reply.firstTokenSeconds);
    result.stopReason = QString::fromStdString(reply.finishReason);

    result.remoteKv = remote.kvFigures();
    if (result.remoteKv) {
        const RemoteKvFigures &kv = *result.remoteKv;
        result.kvMode = QString::fromStdString(kv.kvMode);
        result.kvBytesUsed = kv.bytesUsed.value_or(0);
        result.kvBytesReserved = kv.bytesReserved.value_or(0);
        result.savingVsMha = kv.savingVsMha();
    }
    citeAnswer(library, request, result, pages);
    return result;
}

std::vector<Citation> AskService::wholeModeCitations(store::LibraryStore &library, const AskResult &result,
    const std::set<int> &usedSources, const std::vector<PageRef> &pages)
{
    std::vector<Citation> citations;
    for (int index : usedSources) {
        const int origin = result.sources[static_cast<std::size_t>(index)].origin;
        if (origin < 0 || origin >= static_cast<int>(pages.size()))
            continue;
        const PageRef &ref = pages[static_cast<std::size_t>(origin)];
        const store::PageRecord page = library.requirePage(ref.document->id, ref.page);
        // The span: the answer's quote from this page, else the sentence the answer shares most with.
        std::optional<TextSpan> span;
        for (const QuoteCheck &q : result.quotes)
            if (q.supported && q.sourceIndex == index && !span)
                span = locateQuote(page.text, q.quote);
        if (!span)
            span = sentenceMatching(page.text, result.answer);
        Citation c;
        c.documentId = ref.document->id;
        c.sha256 = ref.document->sha256;
        c.title = distinctTitles(library.documents()).value(ref.document->id, plainTitle(*ref.document));
        c.path = ref.document->path;
        c.page = ref.page;
        c.pageLabel = page.label;
        if (span) {
            c.start = span->start;
            c.length = span->length;
            c.quote = page.text.mid(span->start, span->length);
            c.section = sectionHeadingBefore(page.text, span->start);
            try {
                c.boxes = boxesForSpan(ingest::pageWordBoxes(library, c.documentId, c.page), *span);
            } catch (const Error &e) {
                nw::log::get("app")->warn(
                    "ask: no word boxes for {} page {}: {}", c.path.toStdString(), c.page, e.what());
            }
        }
        placeCitation(c, *ref.document, page);
        citations.push_back(std::move(c));
    }
    return citations;
}

} // namespace nw::app
