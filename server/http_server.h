// `needlework serve`'s HTTP side: the OpenAI-compatible routes (models, chat and text
// completions, streamed as server-sent events or whole), llama-server's tokenize / detokenize,
// /health and the Prometheus /metrics, over cpp-httplib. Chat prompts go through the model's
// chat template as the workbench's ask does; generations run in the SlotPool's slots.
#pragma once

#include "engine/chat_template.h"
#include "server/openai_request.h"

#include <cstdint>
#include <memory>
#include <string>

namespace nw {
class Tokenizer;
}

namespace nw::server {

class SlotPool;

struct ServerConfig {
    std::string host = "127.0.0.1";
    int port = 8080; // 0: any free port (bind() says which)
    std::string apiKey; // "": none; every route but /health then needs no key
    std::string modelId; // the name /v1/models gives
    std::string kvMode; // for /metrics
    std::uint64_t weightsBytes = 0; // for /metrics
    RequestLimits limits;
    // Completions that may wait for a slot; one more is refused at once with 429 (Retry-After).
    std::size_t maxQueued = 64;
    // Connections served at once; the rest wait in the HTTP library's queue. More than the slots
    // and the completions that may wait, so /health and /metrics answer while they do.
    int httpThreads = 32;
};

class OpenAiServer {
public:
    OpenAiServer(const Tokenizer &tokenizer, ChatTemplate chat, SlotPool &pool, ServerConfig config);
    ~OpenAiServer();
    OpenAiServer(const OpenAiServer &) = delete;
    OpenAiServer &operator=(const OpenAiServer &) = delete;

    // Binds the listening socket; returns the port. Throws nw::Error when it cannot be bound.
    int bind();
    // Serves until stop(); returns at once when bind() has not succeeded.
    void run();
    // From any thread: stops accepting, cancels the generations running and queued (at their next
    // token), makes run() return once their connections are done.
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace nw::server
