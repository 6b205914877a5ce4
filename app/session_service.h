// Sessions as the workbench uses them: record an ask result as a turn (question, answer,
// citations, model, KV mode and bytes, timings), and export a session as Markdown or JSON.
#pragma once

#include "app/ask_service.h"
#include "store/session_store.h"

#include <QString>

#include <nlohmann/json_fwd.hpp>

namespace nw::app {

class SessionService {
public:
    explicit SessionService(store::Database &db) : m_store(db) {}

    store::SessionStore &store() { return m_store; }
    // A new session titled by its first question (shortened).
    std::int64_t startSession(const QString &firstQuestion);
    std::int64_t recordTurn(std::int64_t sessionId, const AskResult &result);

    nlohmann::json exportJson(std::int64_t sessionId);
    QString exportMarkdown(std::int64_t sessionId);

private:
    store::SessionStore m_store;
};

store::TurnRecord turnFromResult(const AskResult &result);

} // namespace nw::app
