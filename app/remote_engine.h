// A remote engine: any OpenAI-compatible server (vLLM, SGLang, llama-server, `needlework serve`)
// that answers the workbench's questions instead of the in-process engine. It lists the server's
// models and context, counts prompt tokens with the server's tokenizer endpoint when it has one
// (else estimates), streams chat completions (server-sent events) and reads /metrics for the KV
// meter. The only file of app/ that includes <httplib.h> is its .cpp.
#pragma once

#include "app/remote_metrics.h"
#include "engine/chat_template.h"

#include <QString>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nw::app {

struct RemoteEngineSettings {
    QString url; // "http://127.0.0.1:8080/v1" (a URL without a path gets /v1)
    QString model; // "": the first model the server lists
    std::string apiKey; // "": none; else sent as 'Authorization: Bearer KEY'
    std::int64_t contextTokens = 0; // 0: the server's (max_model_len), else kDefaultContextTokens
    int connectSeconds = 10;
    int readSeconds = 600; // between two bytes of a response (a long prefill sends none)
};

// The API key without the command line: the file's first line, else $NEEDLEWORK_API_KEY, else "".
// Throws nw::Error when the file cannot be read or is empty.
std::string remoteApiKey(const QString &keyFile);

// How prompt tokens are counted against the server's context.
enum class RemoteTokenCount {
    Messages, // the server's /tokenize with the chat messages: its own template, exact (vLLM, ours)
    Content, // the server's /tokenize with the text: exact for the text, the template's few tokens allowed for
    Estimate, // no tokenizer endpoint: characters / 4
};
std::string_view remoteTokenCountName(RemoteTokenCount count); // "server-template", "server", "estimate"

struct RemoteChatOptions {
    int maxTokens = 512;
    std::uint64_t seed = 0;
    // The last message is the assistant's reply begun, which the model continues (vLLM's
    // continue_final_message; llama-server continues a final assistant message by itself).
    bool continueFinalMessage = false;
};

struct RemoteChatResult {
    std::string text;
    std::string finishReason; // "stop", "length", ...; "cancelled" when stopped here
    int promptTokens = -1; // from the server's usage, -1 when it sent none
    int completionTokens = -1;
    double firstTokenSeconds = 0; // from the request to the first text
    double totalSeconds = 0;
};

// One read of a server's /metrics, for a meter that polls it (RemoteEngine::readMetrics).
struct RemoteMetricsReading {
    bool answered = false; // an HTTP answer came (whatever its status); false: refused, timed out, ...
    std::optional<RemoteKvFigures> figures; // nullopt: no /metrics, or none of the names the meter knows
    std::string error; // when !answered: one line that says why
};

// One OpenAI wire detail parsed apart so it is tested without a server: server-sent events.
// Feeds bytes as they arrive; each complete `data:` event's payload goes to the callback
// ("[DONE]" included); comments and other fields are skipped.
class SseReader {
public:
    explicit SseReader(std::function<void(std::string_view data)> onData)
        : m_onData(std::move(onData))
    {
    }
    void feed(std::string_view bytes);
    void finish(); // an event not closed by a blank line still counts

private:
    void line(std::string_view line);
    void dispatch();
    std::function<void(std::string_view)> m_onData;
    std::string m_pending; // a line not yet ended
    std::string m_data; // the data lines of the event being read
    bool m_hasData = false;
};

class RemoteEngine {
public:
    // Connects: reads the server's model list (and the context of the model), checks the model is
    // there and finds out how the server tokenizes. Throws nw::Error with one line that says what
    // failed: the URL, a refused connection, a timeout, a 401, an error object, an unknown model.
    explicit RemoteEngine(RemoteEngineSettings settings);
    ~RemoteEngine();
    RemoteEngine(const RemoteEngine &) = delete;
    RemoteEngine &operator=(const RemoteEngine &) = delete;

    QString url() const; // as given, normalised ("http://host:port/v1")
    std::string modelId() const;
    std::int64_t contextTokens() const;
    QString contextSource() const; // "server" (its model list), "option" (asked for), "default"
    RemoteTokenCount tokenCount() const;

    // Tokens the messages make once the server applies its chat template (see RemoteTokenCount).
    int countTokens(const std::vector<ChatMessage> &messages) const;
    // Tokens of a text alone (no BOS, no template), for haystacks of exact lengths: the server's
    // /tokenize with {"content"} (ours, llama-server) or {"prompt"} (vLLM), found on the first
    // call; characters / 4 when it has neither. Not thread-safe (the first call probes).
    std::int64_t countTextTokens(std::string_view text) const;
    // Whether countTextTokens() is the server's count (probes when it has not yet).
    bool countsTextExactly() const;
    // Streams a chat completion, greedy (temperature 0) with the seed; `onText` gets the reply
    // piece by piece; `stop`, when set, ends it at the next piece. Throws nw::Error.
    RemoteChatResult chat(const std::vector<ChatMessage> &messages, const RemoteChatOptions &options,
        const std::function<void(std::string_view)> &onText, const std::atomic<bool> *stop = nullptr) const;
    // The server's /metrics read into the meter's figures; nullopt when it has none or is unreachable.
    std::optional<RemoteKvFigures> kvFigures() const;

    // Without connecting (no model check, no tokenizer probe), for the window's pickers and meter;
    // blocking, so off the GUI thread. The model ids the server lists, in its order; throws
    // nw::Error with the line the constructor would (the URL, refused, 401, no model).
    static std::vector<std::string> listModels(const RemoteEngineSettings &settings);
    // One GET /metrics with connectSeconds for the connection and the answer alike; never throws.
    static RemoteMetricsReading readMetrics(const RemoteEngineSettings &settings);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace nw::app
