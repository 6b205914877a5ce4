// The routes of `needlework serve` over cpp-httplib (see http_server.h). The only file of
// server/ that includes <httplib.h> (app/remote_engine.cpp is the client side).
#include "server/http_server.h"

#include "common/error.h"
#include "common/log.h"
#include "engine/chat_reply.h"
#include "engine/tokenizer.h"
#include "server/access.h"
#include "server/chat_prompt.h"
#include "server/metrics.h"
#include "server/openai_response.h"
#include "server/slot_pool.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <random>

namespace nw::server {
namespace {

constexpr const char *kJson = "application/json";

// A completion ready to run: the request, its prompt's tokens and the generation options.
struct PreparedCompletion {
    CompletionRequest request;
    std::vector<std::int32_t> tokens;
    GenerateOptions options;
    CompletionIdentity identity;
};

std::int64_t unixSeconds()
{
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void sendError(httplib::Response &res, const ApiError &error)
{
    res.status = error.status;
    res.set_content(error.json(), kJson);
}

ApiError serverError(const std::string &message)
{
    return { .status = 500, .message = message, .type = "server_error", .code = "internal_error" };
}

} // namespace

struct OpenAiServer::Impl {
    const Tokenizer &tokenizer;
    ChatTemplate chat;
    SlotPool &pool;
    ServerConfig config;
    std::int64_t started = unixSeconds();
    std::atomic<std::uint64_t> nextId { 0 };
    std::atomic<bool> stopping { false };
    std::mutex seedMutex;
    std::mt19937_64 seeds { std::random_device {}() }; // for requests that name no seed
    httplib::Server http;
    bool bound = false;

    Impl(const Tokenizer &t, ChatTemplate c, SlotPool &s, ServerConfig cfg)
        : tokenizer(t)
        , chat(std::move(c))
        , pool(s)
        , config(std::move(cfg))
    {
        routes();
    }

    std::uint64_t freshSeed()
    {
        const std::lock_guard lock(seedMutex);
        return seeds();
    }

    // Parses, renders and tokenizes a completion request, or says why it is refused.
    Parsed<PreparedCompletion> prepare(const std::string &body, CompletionKind kind)
    {
        Parsed<CompletionRequest> parsed = parseCompletionRequest(body, kind, config.limits);
        if (const ApiError *e = std::get_if<ApiError>(&parsed))
            return *e;
        PreparedCompletion p;
        p.request = std::get<CompletionRequest>(std::move(parsed));
        const CompletionRequest &r = p.request;
        GenerateOptions &o = p.options;
        o.stopStrings = r.stop;
        if (kind == CompletionKind::Chat) {
            std::string prompt;
            try {
                prompt = renderChatPrompt(chat, r.messages, true, r.continueFinalMessage);
            } catch (const Error &e) {
                return ApiError { .message = e.what(), .param = "messages", .code = "invalid_value" };
            }
            // As the workbench's ask: the template's control tokens become their ids, and its
            // end-of-turn text stops the reply.
            o.parseSpecial = true;
            for (const std::string &s : chat.stopStrings())
                o.stopStrings.push_back(s);
            p.tokens = tokenizer.encode(prompt, o.addSpecial, o.parseSpecial);
        } else {
            p.tokens = tokenizer.encode(r.prompt, o.addSpecial, o.parseSpecial); // as `needlework generate`
        }
        Parsed<std::int64_t> budget = completionBudget(r, static_cast<std::int64_t>(p.tokens.size()), config.limits);
        if (const ApiError *e = std::get_if<ApiError>(&budget))
            return *e;
        o.maxTokens = static_cast<int>(std::get<std::int64_t>(budget));
        o.sampler = samplerParams(r, freshSeed());
        const std::uint64_t n = nextId.fetch_add(1, std::memory_order_relaxed);
        p.identity = { .kind = kind,
            .id = fmt::format("{}-{:x}{:06x}", kind == CompletionKind::Chat ? "chatcmpl" : "cmpl", started, n),
            .created = unixSeconds(),
            .model = config.modelId };
        return p;
    }

    // Runs `p` in the slot `lease` holds; `emit` gets the text to show, piece by piece, and
    // returns false when the client is gone (the generation is then cancelled). Throws nw::Error
    // from the engine.
    GenerationResult generate(
        const PreparedCompletion &p, const SlotPool::Lease &lease, const std::function<bool(std::string_view)> &emit)
    {
        Generator &generator = lease.generator();
        bool gone = false;
        const auto show = [&](std::string_view text) {
            if (!text.empty() && !gone && !emit(text)) {
                gone = true;
                generator.cancel();
            }
        };
        // Chat replies show only the answer: reasoning and Harmony channels other than final are
        // held back (engine/chat_reply.h), as in the workbench.
        const bool chatReply = p.request.kind == CompletionKind::Chat;
        ReplyFilter reply(chat);
        GenerationCallbacks callbacks;
        // A server that is stopping ends every generation at its next token or prompt chunk.
        const auto stopIfStopping = [this, &generator] {
            if (stopping.load(std::memory_order_relaxed))
                generator.cancel();
        };
        callbacks.onToken = [&stopIfStopping](std::int32_t) { stopIfStopping(); };
        callbacks.onPrefillProgress = [&stopIfStopping](std::int64_t, std::int64_t) { stopIfStopping(); };
        callbacks.onText = [&](std::string_view text) {
            if (chatReply)
                show(reply.push(text));
            else
                show(text);
        };
        GenerationResult result = generator.generateFromTokens(p.tokens, p.options, callbacks);
        if (chatReply)
            show(reply.finish());
        pool.record(result, gone || result.stop == StopReason::Cancelled);
        log::get("server")->info("{}: slot {}, {} prompt tokens ({} from the cache), {} generated, {}", p.identity.id,
            lease.slot(), result.promptTokens.size(), result.reusedTokens, result.generatedTokens.size(),
            gone ? std::string_view("client gone") : stopReasonName(result.stop));
        return result;
    }

    static Usage usageOf(const GenerationResult &r)
    {
        return { static_cast<std::int64_t>(r.promptTokens.size()),
            static_cast<std::int64_t>(r.generatedTokens.size()) };
    }

    void completion(const httplib::Request &req, httplib::Response &res, CompletionKind kind)
    {
        Parsed<PreparedCompletion> parsed = prepare(req.body, kind);
        if (const ApiError *e = std::get_if<ApiError>(&parsed)) {
            pool.recordRejected();
            return sendError(res, *e);
        }
        auto p = std::make_shared<PreparedCompletion>(std::get<PreparedCompletion>(std::move(parsed)));
        // A slot is taken before the headers go out, so a full queue is still a 429, not a
        // stream that ends at once.
        std::optional<SlotPool::Lease> taken = pool.tryAcquire(p->tokens, config.maxQueued);
        if (!taken) {
            pool.recordRejected();
            res.set_header("Retry-After", "1");
            return sendError(res,
                { .status = 429,
                    .message = fmt::format(
                        "the server is busy: {} requests are waiting for a slot; retry later", config.maxQueued),
                    .type = "server_busy",
                    .code = "queue_full" });
        }
        if (!p->request.stream) {
            std::string text;
            const GenerationResult r = generate(*p, *taken, [&text](std::string_view piece) {
                text += piece;
                return true;
            });
            res.set_content(completionBody(p->identity, text, finishReason(r.stop), usageOf(r)), kJson);
            return;
        }
        res.set_header("Cache-Control", "no-cache");
        // The provider is copied into a std::function: the lease travels in a shared_ptr, and is
        // given back when the response is done with (or dropped unsent).
        auto lease = std::make_shared<SlotPool::Lease>(std::move(*taken));
        taken.reset();
        res.set_chunked_content_provider("text/event-stream", [this, p, lease](std::size_t, httplib::DataSink &sink) {
            bool first = true;
            const auto send = [&sink](const std::string &event) { return sink.write(event.data(), event.size()); };
            try {
                const GenerationResult r = generate(*p, *lease, [&](std::string_view piece) {
                    const bool ok = send(chunkEvent(p->identity, piece, first, std::nullopt));
                    first = false;
                    return ok;
                });
                if (r.stop == StopReason::Cancelled)
                    return false; // the client is gone: drop the connection
                if (send(chunkEvent(p->identity, "", first, finishReason(r.stop)))
                    && (!p->request.includeUsage || send(usageEvent(p->identity, usageOf(r)))))
                    send(std::string(kDoneEvent));
            } catch (const std::exception &e) {
                // The headers are out: the error goes as one more event, as OpenAI streams do.
                send("data: " + serverError(e.what()).json() + "\n\n");
            }
            sink.done();
            return true;
        });
    }

    void routes()
    {
        http.set_payload_max_length(config.limits.maxBodyBytes);
        const int threads = config.httpThreads;
        http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
        http.set_pre_routing_handler([this](const httplib::Request &req, httplib::Response &res) {
            if (config.apiKey.empty() || req.path == "/health")
                return httplib::Server::HandlerResponse::Unhandled;
            if (const std::optional<ApiError> refused
                = checkAuthorization(req.get_header_value("Authorization"), config.apiKey)) {
                sendError(res, *refused);
                return httplib::Server::HandlerResponse::Handled;
            }
            return httplib::Server::HandlerResponse::Unhandled;
        });
        // Errors the library answers itself (no route, a body over the limit) get an OpenAI body too.
        http.set_error_handler([](const httplib::Request &req, httplib::Response &res) {
            if (!res.body.empty())
                return;
            ApiError e { .status = res.status };
            if (res.status == 404) {
                e.message = fmt::format("no route {} {}", req.method, req.path);
                e.code = "not_found";
            } else if (res.status == 413) {
                e.message = "the request body is larger than this server accepts";
                e.code = "request_too_large";
            } else {
                e.message = fmt::format("HTTP {}", res.status);
            }
            res.set_content(e.json(), kJson);
        });
        http.set_exception_handler([](const httplib::Request &, httplib::Response &res, std::exception_ptr ep) {
            std::string message = "unknown error";
            try {
                std::rethrow_exception(ep);
            } catch (const std::exception &e) {
                message = e.what();
            } catch (...) {
            }
            log::get("server")->error("request failed: {}", message);
            sendError(res, serverError(message));
        });

        http.Get("/health",
            [](const httplib::Request &, httplib::Response &res) { res.set_content(R"({"status":"ok"})", kJson); });
        http.Get("/v1/models", [this](const httplib::Request &, httplib::Response &res) {
            res.set_content(modelsBody(config.modelId, started, config.limits.contextTokens), kJson);
        });
        http.Post("/v1/chat/completions", [this](const httplib::Request &req, httplib::Response &res) {
            completion(req, res, CompletionKind::Chat);
        });
        http.Post("/v1/completions", [this](const httplib::Request &req, httplib::Response &res) {
            completion(req, res, CompletionKind::Text);
        });
        http.Post("/tokenize", [this](const httplib::Request &req, httplib::Response &res) {
            Parsed<TokenizeRequest> parsed = parseTokenizeRequest(req.body, config.limits);
            if (const ApiError *e = std::get_if<ApiError>(&parsed))
                return sendError(res, *e);
            const TokenizeRequest &r = std::get<TokenizeRequest>(parsed);
            if (r.messages) {
                // As prepare() makes a chat completion's prompt, so the count is the request's.
                std::string prompt;
                try {
                    prompt = renderChatPrompt(chat, *r.messages, r.addGenerationPrompt, r.continueFinalMessage);
                } catch (const Error &e) {
                    return sendError(
                        res, ApiError { .message = e.what(), .param = "messages", .code = "invalid_value" });
                }
                return res.set_content(
                    tokensBody(tokenizer.encode(prompt, GenerateOptions {}.addSpecial, true)), kJson);
            }
            res.set_content(tokensBody(tokenizer.encode(r.content, r.addSpecial, true)), kJson);
        });
        http.Post("/detokenize", [this](const httplib::Request &req, httplib::Response &res) {
            Parsed<std::vector<std::int32_t>> parsed
                = parseDetokenizeRequest(req.body, config.limits, tokenizer.nVocab());
            if (const ApiError *e = std::get_if<ApiError>(&parsed))
                return sendError(res, *e);
            res.set_content(contentBody(tokenizer.decode(std::get<std::vector<std::int32_t>>(parsed))), kJson);
        });
        http.Get("/metrics", [this](const httplib::Request &, httplib::Response &res) {
            ServerMetrics m = pool.metrics();
            m.kvMode = config.kvMode;
            m.weightsBytes = config.weightsBytes;
            res.set_content(renderPrometheus(m), "text/plain; version=0.0.4; charset=utf-8");
        });
    }
};

OpenAiServer::OpenAiServer(const Tokenizer &tokenizer, ChatTemplate chat, SlotPool &pool, ServerConfig config)
    : m_impl(std::make_unique<Impl>(tokenizer, std::move(chat), pool, std::move(config)))
{
}

OpenAiServer::~OpenAiServer() = default;

int OpenAiServer::bind()
{
    const ServerConfig &c = m_impl->config;
    int port = c.port;
    if (port == 0)
        port = m_impl->http.bind_to_any_port(c.host);
    else if (!m_impl->http.bind_to_port(c.host, port))
        port = -1;
    if (port < 0)
        fail("cannot listen on {}:{} (the address is in use, or not one of this machine's)", c.host, c.port);
    m_impl->bound = true;
    return port;
}

void OpenAiServer::run()
{
    if (m_impl->bound)
        m_impl->http.listen_after_bind();
}

void OpenAiServer::stop()
{
    m_impl->stopping.store(true, std::memory_order_relaxed);
    m_impl->http.stop();
}

} // namespace nw::server
