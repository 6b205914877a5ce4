// The OpenAI-compatible client of a remote engine over cpp-httplib (see remote_engine.h).
#include "app/remote_engine.h"

#include "app/model_settings.h"
#include "app/prompt_builder.h"
#include "common/error.h"
#include "common/log.h"

#include <QFile>
#include <QUrl>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>

namespace nw::app {
namespace {

using nlohmann::json;

// What a chat template adds around each message (role headers, end-of-turn tokens) when the
// server can count only text: more than the common templates spend, so the prompt still fits.
constexpr int kTemplateTokensPerMessage = 16;

double secondsSince(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The message of an OpenAI error body ({"error": {"message": ...}}), of vLLM's older flat one
// ({"object": "error", "message": ...}) or llama-server's; the body itself (cut) otherwise.
std::string errorMessage(const std::string &body)
{
    const json j = json::parse(body, nullptr, false);
    if (j.is_object()) {
        if (const auto e = j.find("error"); e != j.end()) {
            if (e->is_object() && e->contains("message") && (*e)["message"].is_string())
                return (*e)["message"].get<std::string>();
            if (e->is_string())
                return e->get<std::string>();
        }
        if (const auto m = j.find("message"); m != j.end() && m->is_string())
            return m->get<std::string>();
        if (const auto d = j.find("detail"); d != j.end() && d->is_string())
            return d->get<std::string>();
    }
    std::string text = body.substr(0, 200);
    for (char &c : text)
        if (c == '\n' || c == '\r')
            c = ' ';
    return text.empty() ? std::string("no message") : text;
}

} // namespace

std::string remoteApiKey(const QString &keyFile)
{
    if (!keyFile.isEmpty()) {
        QFile file(keyFile);
        if (!file.open(QIODevice::ReadOnly))
            fail("cannot read the API key file {}: {}", keyFile.toStdString(), file.errorString().toStdString());
        const std::string key = file.readLine().trimmed().toStdString();
        if (key.empty())
            fail("the API key file {} is empty", keyFile.toStdString());
        return key;
    }
    return qEnvironmentVariable("NEEDLEWORK_API_KEY").trimmed().toStdString();
}

std::string_view remoteTokenCountName(RemoteTokenCount count)
{
    switch (count) {
    case RemoteTokenCount::Messages:
        return "server-template";
    case RemoteTokenCount::Content:
        return "server";
    case RemoteTokenCount::Estimate:
        break;
    }
    return "estimate";
}

void SseReader::feed(std::string_view bytes)
{
    m_pending.append(bytes);
    std::size_t start = 0;
    for (;;) {
        const std::size_t end = m_pending.find('\n', start);
        if (end == std::string::npos)
            break;
        std::string_view text(m_pending.data() + start, end - start);
        if (!text.empty() && text.back() == '\r')
            text.remove_suffix(1);
        line(text);
        start = end + 1;
    }
    m_pending.erase(0, start);
}

void SseReader::finish()
{
    if (!m_pending.empty()) {
        const std::string rest = std::move(m_pending);
        m_pending.clear();
        line(rest);
    }
    dispatch();
}

void SseReader::line(std::string_view text)
{
    if (text.empty()) { // a blank line ends the event
        dispatch();
        return;
    }
    if (text.front() == ':')
        return; // a comment (keep-alive)
    const std::size_t colon = text.find(':');
    const std::string_view field = text.substr(0, colon);
    if (field != "data")
        return; // event:, id:, retry: say nothing the OpenAI stream needs
    std::string_view value = colon == std::string_view::npos ? std::string_view {} : text.substr(colon + 1);
    if (!value.empty() && value.front() == ' ')
        value.remove_prefix(1);
    if (m_hasData)
        m_data += '\n';
    m_data.append(value);
    m_hasData = true;
}

void SseReader::dispatch()
{
    if (!m_hasData)
        return;
    const std::string data = std::move(m_data);
    m_data.clear();
    m_hasData = false;
    m_onData(data);
}

struct RemoteEngine::Impl {
    RemoteEngineSettings settings;
    QString url; // normalised
    std::string origin; // "http://host:port"
    std::string apiPath; // "/v1"
    std::string model;
    std::int64_t contextTokens = 0;
    QString contextSource;
    RemoteTokenCount tokenCount = RemoteTokenCount::Estimate;
    // How /tokenize takes a text alone; found by countTextTokens' first call.
    enum class TextForm { Unknown, Content, Prompt, None };
    mutable TextForm textForm = TextForm::Unknown;

    json textBody(TextForm form, std::string_view text) const
    {
        if (form == TextForm::Content) // ours and llama-server
            return { { "content", std::string(text) }, { "add_special", false } };
        return { { "model", model }, { "prompt", std::string(text) }, { "add_special_tokens", false } }; // vLLM
    }

    std::unique_ptr<httplib::Client> client(int readSeconds) const
    {
        auto c = std::make_unique<httplib::Client>(origin);
        c->set_connection_timeout(settings.connectSeconds, 0);
        c->set_read_timeout(readSeconds, 0);
        c->set_write_timeout(settings.connectSeconds, 0);
        if (!settings.apiKey.empty())
            c->set_bearer_token_auth(settings.apiKey);
        return c;
    }

    // One line for a request that got no HTTP answer.
    [[noreturn]] void failTransport(const std::string &path, httplib::Error error) const
    {
        switch (error) {
        case httplib::Error::Connection:
            fail("cannot connect to {} (connection refused or host unreachable): is the server running there?", origin);
        case httplib::Error::ConnectionTimeout:
            fail("no connection to {} within {} s", origin, settings.connectSeconds);
        case httplib::Error::Read:
            fail("{}{} did not answer in time or closed the connection (read timeout {} s)", origin, path,
                settings.readSeconds);
        case httplib::Error::SSLConnection:
        case httplib::Error::SSLLoadingCerts:
        case httplib::Error::SSLServerVerification:
            fail("TLS with {} failed: {}", origin, httplib::to_string(error));
        default:
            fail("{}{}: {}", origin, path, httplib::to_string(error));
        }
    }

    // One line for an HTTP error status.
    [[noreturn]] void failStatus(const std::string &path, int status, const std::string &body) const
    {
        if (status == 401 || status == 403)
            fail("{}{} refused the request (HTTP {}): {} — {}", origin, path, status, errorMessage(body),
                settings.apiKey.empty() ? "the server wants an API key: give --api-key-file F or set NEEDLEWORK_API_KEY"
                                        : "check the API key");
        fail("{}{} answered HTTP {}: {}", origin, path, status, errorMessage(body));
    }

    json getJson(const std::string &path) const
    {
        const auto c = client(settings.connectSeconds * 3);
        const httplib::Result r = c->Get(path);
        if (!r)
            failTransport(path, r.error());
        if (r->status != 200)
            failStatus(path, r->status, r->body);
        json j = json::parse(r->body, nullptr, false);
        if (j.is_discarded())
            fail("{}{} answered with something that is not JSON", origin, path);
        return j;
    }

    // POST with a JSON body; nullopt when the server answers an error status (the caller probes).
    std::optional<json> tryPostJson(const std::string &path, const json &body, int *status = nullptr) const
    {
        const auto c = client(settings.readSeconds);
        const httplib::Result r = c->Post(path, body.dump(), "application/json");
        if (!r)
            failTransport(path, r.error());
        if (status)
            *status = r->status;
        if (r->status != 200)
            return std::nullopt;
        json j = json::parse(r->body, nullptr, false);
        if (j.is_discarded())
            return std::nullopt;
        return j;
    }

    static std::optional<std::size_t> tokensIn(const std::optional<json> &answer)
    {
        if (!answer || !answer->is_object())
            return std::nullopt;
        if (const auto t = answer->find("tokens"); t != answer->end() && t->is_array() && !t->empty())
            return t->size();
        return std::nullopt;
    }

    json messagesJson(const std::vector<ChatMessage> &messages) const
    {
        json array = json::array();
        for (const ChatMessage &m : messages)
            array.push_back({ { "role", m.role }, { "content", m.content } });
        return array;
    }

    json tokenizeMessagesBody(const std::vector<ChatMessage> &messages) const
    {
        return { { "model", model }, { "messages", messagesJson(messages) }, { "add_generation_prompt", true } };
    }

    // origin, apiPath and url from settings.url; throws nw::Error for what is not an http(s) URL.
    void setEndpoint();
    // The entries of a /models answer that have an id, in its order; throws when there is none.
    std::vector<const json *> modelEntries(const json &models) const;

    static std::string joined(const std::vector<ChatMessage> &messages)
    {
        std::string text;
        for (const ChatMessage &m : messages)
            text += (text.empty() ? "" : "\n\n") + m.content;
        return text;
    }
};

void RemoteEngine::Impl::setEndpoint()
{
    const QUrl parsed(settings.url, QUrl::StrictMode);
    if (!parsed.isValid() || (parsed.scheme() != QLatin1String("http") && parsed.scheme() != QLatin1String("https"))
        || parsed.host().isEmpty())
        fail("--engine {}: give the server's URL, e.g. http://127.0.0.1:8080/v1", settings.url.toStdString());
    const bool tls = parsed.scheme() == QLatin1String("https");
    const int port = parsed.port(tls ? 443 : 80);
    const QString host
        = parsed.host().contains(QLatin1Char(':')) ? QStringLiteral("[%1]").arg(parsed.host()) : parsed.host();
    origin = QStringLiteral("%1://%2:%3").arg(parsed.scheme(), host).arg(port).toStdString();
    QString path = parsed.path();
    while (path.endsWith(QLatin1Char('/')))
        path.chop(1);
    if (path.isEmpty())
        path = QStringLiteral("/v1");
    apiPath = path.toStdString();
    url = QString::fromStdString(origin + apiPath);
}

std::vector<const nlohmann::json *> RemoteEngine::Impl::modelEntries(const nlohmann::json &models) const
{
    std::vector<const json *> entries;
    if (models.is_object() && models.contains("data") && models["data"].is_array())
        for (const json &m : models["data"])
            if (m.is_object() && m.contains("id") && m["id"].is_string())
                entries.push_back(&m);
    if (entries.empty())
        fail("{}{}/models lists no model", origin, apiPath);
    return entries;
}

RemoteEngine::RemoteEngine(RemoteEngineSettings settings)
    : m_impl(std::make_unique<Impl>())
{
    Impl &d = *m_impl;
    d.settings = std::move(settings);
    d.setEndpoint();

    // The models: the one asked for must be listed; its context, when the server says it.
    const json models = d.getJson(d.apiPath + "/models");
    std::vector<std::string> ids;
    const json *chosen = nullptr;
    for (const json *m : d.modelEntries(models)) {
        ids.push_back((*m)["id"].get<std::string>());
        if (!chosen && (d.settings.model.isEmpty() || ids.back() == d.settings.model.toStdString()))
            chosen = m;
    }
    if (!chosen) {
        std::string names;
        for (const std::string &id : ids)
            names += (names.empty() ? "" : ", ") + id;
        fail("the server at {} does not list model '{}' (it lists: {})", d.url.toStdString(),
            d.settings.model.toStdString(), names);
    }
    d.model = (*chosen)["id"].get<std::string>();
    std::int64_t serverContext = 0;
    if (const auto len = chosen->find("max_model_len"); len != chosen->end() && len->is_number_integer())
        serverContext = len->get<std::int64_t>();
    if (serverContext <= 0) {
        // llama-server says its context in /props, not in the model list.
        try {
            const json props = d.getJson("/props");
            const json *settingsJson
                = props.contains("default_generation_settings") ? &props["default_generation_settings"] : nullptr;
            if (settingsJson && settingsJson->contains("n_ctx") && (*settingsJson)["n_ctx"].is_number_integer())
                serverContext = (*settingsJson)["n_ctx"].get<std::int64_t>();
        } catch (const Error &) {
            // no /props: not llama-server
        }
    }
    if (d.settings.contextTokens > 0 && (serverContext <= 0 || d.settings.contextTokens <= serverContext)) {
        d.contextTokens = d.settings.contextTokens; // a smaller prompt than the server takes, asked for
        d.contextSource = QStringLiteral("option");
    } else if (serverContext > 0) { // more than the server holds would be refused there
        d.contextTokens = serverContext;
        d.contextSource = QStringLiteral("server");
    } else {
        d.contextTokens = kDefaultContextTokens;
        d.contextSource = QStringLiteral("default");
    }

    // How the server counts tokens: chat messages through its template (vLLM; needlework serve),
    // text alone (llama-server), or not at all.
    const std::vector<ChatMessage> probe = { { "user", "Hello" } };
    if (Impl::tokensIn(d.tryPostJson("/tokenize", d.tokenizeMessagesBody(probe))))
        d.tokenCount = RemoteTokenCount::Messages;
    else if (Impl::tokensIn(d.tryPostJson("/tokenize", { { "content", "Hello" }, { "add_special", true } })))
        d.tokenCount = RemoteTokenCount::Content;
    else
        d.tokenCount = RemoteTokenCount::Estimate;
    log::get("app")->info("remote engine {}: model {}, context {} ({}), token count: {}", d.url.toStdString(), d.model,
        d.contextTokens, d.contextSource.toStdString(), remoteTokenCountName(d.tokenCount));
}

RemoteEngine::~RemoteEngine() = default;

QString RemoteEngine::url() const
{
    return m_impl->url;
}

std::string RemoteEngine::modelId() const
{
    return m_impl->model;
}

std::int64_t RemoteEngine::contextTokens() const
{
    return m_impl->contextTokens;
}

QString RemoteEngine::contextSource() const
{
    return m_impl->contextSource;
}

RemoteTokenCount RemoteEngine::tokenCount() const
{
    return m_impl->tokenCount;
}

int RemoteEngine::countTokens(const std::vector<ChatMessage> &messages) const
{
    const Impl &d = *m_impl;
    const int allowance = kTemplateTokensPerMessage * static_cast<int>(messages.size());
    if (d.tokenCount == RemoteTokenCount::Messages) {
        int status = 0;
        const std::optional<json> answer = d.tryPostJson("/tokenize", d.tokenizeMessagesBody(messages), &status);
        if (const auto n = Impl::tokensIn(answer))
            return static_cast<int>(*n);
        if (answer && answer->contains("count") && (*answer)["count"].is_number_integer())
            return (*answer)["count"].get<int>();
        fail("{}/tokenize failed (HTTP {}) on a prompt it tokenized before", d.origin, status);
    }
    const std::string text = Impl::joined(messages);
    if (d.tokenCount == RemoteTokenCount::Content) {
        int status = 0;
        const std::optional<json> answer
            = d.tryPostJson("/tokenize", { { "content", text }, { "add_special", true } }, &status);
        if (const auto n = Impl::tokensIn(answer))
            return static_cast<int>(*n) + allowance;
        fail("{}/tokenize failed (HTTP {}) on a prompt it tokenized before", d.origin, status);
    }
    return estimateTokens(QString::fromStdString(text)) + allowance; // characters / 4, as without a model
}

std::int64_t RemoteEngine::countTextTokens(std::string_view text) const
{
    const Impl &d = *m_impl;
    using TextForm = Impl::TextForm;
    if (d.textForm == TextForm::Unknown) {
        // llama-server answers {"tokens": []} to a body without "content", so a form counts only
        // when it gives tokens for a text that has some.
        constexpr std::string_view kProbe = "The pass key is 12345.";
        d.textForm = TextForm::None;
        for (TextForm form : { TextForm::Content, TextForm::Prompt })
            if (Impl::tokensIn(d.tryPostJson("/tokenize", d.textBody(form, kProbe)))) {
                d.textForm = form;
                break;
            }
        log::get("app")->info("remote engine {}: text token count: {}", d.url.toStdString(),
            d.textForm == TextForm::Content      ? "/tokenize content"
                : d.textForm == TextForm::Prompt ? "/tokenize prompt"
                                                 : "estimate");
    }
    if (text.empty())
        return 0;
    if (d.textForm == TextForm::None)
        return estimateTokens(QString::fromUtf8(text.data(), static_cast<qsizetype>(text.size())));
    int status = 0;
    const std::optional<json> answer = d.tryPostJson("/tokenize", d.textBody(d.textForm, text), &status);
    if (answer && answer->is_object())
        if (const auto t = answer->find("tokens"); t != answer->end() && t->is_array())
            return static_cast<std::int64_t>(t->size());
    fail("{}/tokenize failed (HTTP {}) on a text after it tokenized others", d.origin, status);
}

bool RemoteEngine::countsTextExactly() const
{
    if (m_impl->textForm == Impl::TextForm::Unknown)
        (void)countTextTokens("");
    return m_impl->textForm != Impl::TextForm::None;
}

RemoteChatResult RemoteEngine::chat(const std::vector<ChatMessage> &messages, const RemoteChatOptions &options,
    const std::function<void(std::string_view)> &onText, const std::atomic<bool> *stop) const
{
    const Impl &d = *m_impl;
    const std::string path = d.apiPath + "/chat/completions";
    json body = { { "model", d.model }, { "messages", d.messagesJson(messages) }, { "stream", true },
        { "stream_options", { { "include_usage", true } } }, { "temperature", 0 }, { "max_tokens", options.maxTokens },
        { "seed", options.seed } };
    if (options.continueFinalMessage) {
        body["continue_final_message"] = true;
        body["add_generation_prompt"] = false; // vLLM refuses both at once
    }

    RemoteChatResult result;
    const auto start = std::chrono::steady_clock::now();
    int status = 0;
    std::string errorBody;
    std::string streamError;
    bool cancelled = false;
    SseReader sse([&](std::string_view data) {
        if (data == "[DONE]")
            return;
        const json event = json::parse(data, nullptr, false);
        if (!event.is_object())
            return;
        if (event.contains("error")) {
            streamError = errorMessage(std::string(data));
            return;
        }
        if (const auto usage = event.find("usage"); usage != event.end() && usage->is_object()) {
            if (usage->contains("prompt_tokens") && (*usage)["prompt_tokens"].is_number_integer())
                result.promptTokens = (*usage)["prompt_tokens"].get<int>();
            if (usage->contains("completion_tokens") && (*usage)["completion_tokens"].is_number_integer())
                result.completionTokens = (*usage)["completion_tokens"].get<int>();
        }
        const auto choices = event.find("choices");
        if (choices == event.end() || !choices->is_array() || choices->empty())
            return;
        const json &choice = (*choices)[0];
        if (const auto finish = choice.find("finish_reason"); finish != choice.end() && finish->is_string())
            result.finishReason = finish->get<std::string>();
        const auto delta = choice.find("delta");
        if (delta == choice.end() || !delta->is_object())
            return;
        if (const auto content = delta->find("content"); content != delta->end() && content->is_string()) {
            const std::string &piece = content->get_ref<const std::string &>();
            if (piece.empty())
                return;
            if (result.text.empty())
                result.firstTokenSeconds = secondsSince(start);
            result.text += piece;
            if (onText)
                onText(piece);
        }
    });

    httplib::Request request;
    request.method = "POST";
    request.path = path;
    request.body = body.dump();
    request.set_header("Content-Type", "application/json");
    request.set_header("Accept", "text/event-stream");
    request.response_handler = [&status](const httplib::Response &response) {
        status = response.status;
        return true;
    };
    request.content_receiver = [&](const char *data, std::size_t length, std::uint64_t, std::uint64_t) {
        if (status != 200) {
            errorBody.append(data, length);
            return errorBody.size() < (1u << 20);
        }
        sse.feed({ data, length });
        if (stop && stop->load(std::memory_order_relaxed)) {
            cancelled = true;
            return false; // closes the connection: the server stops generating
        }
        return true;
    };
    httplib::Response response;
    httplib::Error error = httplib::Error::Success;
    const auto c = d.client(d.settings.readSeconds);
    const bool sent = c->send(request, response, error);
    if (!sent && !cancelled)
        d.failTransport(path, error);
    if (status != 200 && !cancelled)
        d.failStatus(path, status, errorBody);
    sse.finish();
    if (!streamError.empty())
        fail("{}{} failed while streaming: {}", d.origin, path, streamError);
    if (cancelled)
        result.finishReason = "cancelled";
    result.totalSeconds = secondsSince(start);
    return result;
}

std::optional<RemoteKvFigures> RemoteEngine::kvFigures() const
{
    return readMetrics(m_impl->settings).figures;
}

std::vector<std::string> RemoteEngine::listModels(const RemoteEngineSettings &settings)
{
    Impl d;
    d.settings = settings;
    d.setEndpoint();
    const json models = d.getJson(d.apiPath + "/models");
    std::vector<std::string> ids;
    for (const json *m : d.modelEntries(models))
        ids.push_back((*m)["id"].get<std::string>());
    return ids;
}

RemoteMetricsReading RemoteEngine::readMetrics(const RemoteEngineSettings &settings)
{
    RemoteMetricsReading reading;
    Impl d;
    d.settings = settings;
    d.settings.readSeconds = settings.connectSeconds; // a poll waits no longer than a connection
    try {
        d.setEndpoint();
        const auto c = d.client(d.settings.connectSeconds);
        const httplib::Result r = c->Get("/metrics");
        if (!r)
            d.failTransport("/metrics", r.error());
        reading.answered = true;
        if (r->status != 200)
            return reading;
        RemoteKvFigures figures = remoteKvFigures(r->body);
        if (!figures.empty())
            reading.figures = std::move(figures);
    } catch (const Error &e) {
        reading.error = e.what();
    }
    return reading;
}

} // namespace nw::app
