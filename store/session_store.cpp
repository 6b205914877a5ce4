// Sessions and turns in SQLite.
#include "store/session_store.h"

#include "common/error.h"

#include <QDateTime>

#include <optional>

namespace nw::store {
namespace {

QString nowUtc()
{
    return QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
}

QString text(const Statement &s, int column)
{
    return QString::fromStdString(s.columnText(column));
}

} // namespace

void createSessionTables(Database &db)
{
    db.exec(R"sql(
        CREATE TABLE IF NOT EXISTS sessions (
            id          INTEGER PRIMARY KEY,
            title       TEXT NOT NULL,
            created     TEXT NOT NULL,
            updated     TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS session_turns (
            id               INTEGER PRIMARY KEY,
            session_id       INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            idx              INTEGER NOT NULL,
            question         TEXT NOT NULL,
            answer           TEXT NOT NULL,
            citations        TEXT NOT NULL DEFAULT '[]', -- JSON array written by the app
            mode             TEXT NOT NULL DEFAULT 'retrieve',
            model            TEXT NOT NULL DEFAULT '',
            kv_mode          TEXT NOT NULL DEFAULT '',
            kv_bytes         INTEGER NOT NULL DEFAULT 0,
            prompt_tokens    INTEGER NOT NULL DEFAULT 0,
            generated_tokens INTEGER NOT NULL DEFAULT 0,
            prefill_seconds  REAL NOT NULL DEFAULT 0,
            decode_seconds   REAL NOT NULL DEFAULT 0,
            created          TEXT NOT NULL,
            UNIQUE (session_id, idx)
        );
    )sql");
}

SessionStore::SessionStore(Database &db)
    : m_db(db)
{
}

std::int64_t SessionStore::createSession(const QString &title)
{
    const QString now = nowUtc();
    Statement s(m_db, "INSERT INTO sessions(title, created, updated) VALUES (?1, ?2, ?2)");
    s.bind(1, title.toStdString()).bind(2, now.toStdString()).run();
    return m_db.lastInsertId();
}

std::int64_t SessionStore::addTurn(std::int64_t sessionId, const TurnRecord &turn)
{
    requireSession(sessionId);
    // Its own transaction, or a savepoint inside the caller's (a new session with its first turn:
    // app/workbench.cpp commits both at once).
    std::optional<Transaction> transaction;
    std::optional<Savepoint> savepoint;
    if (m_db.inTransaction())
        savepoint.emplace(m_db);
    else
        transaction.emplace(m_db);
    Statement next(m_db, "SELECT COALESCE(MAX(idx) + 1, 0) FROM session_turns WHERE session_id = ?1");
    next.bind(1, sessionId);
    next.step();
    const std::int64_t index = next.columnInt(0);
    const QString now = nowUtc();
    Statement s(m_db,
        "INSERT INTO session_turns(session_id, idx, question, answer, citations, mode, model, kv_mode, "
        "kv_bytes, prompt_tokens, generated_tokens, prefill_seconds, decode_seconds, created, "
        "kv_bytes_per_token, context_source, context_tokens, context_bytes, context_seconds, "
        "context_prefill_seconds) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)");
    s.bind(1, sessionId).bind(2, index).bind(3, turn.question.toStdString()).bind(4, turn.answer.toStdString());
    s.bind(5, (turn.citationsJson.isEmpty() ? QStringLiteral("[]") : turn.citationsJson).toStdString());
    s.bind(6, (turn.mode.isEmpty() ? QStringLiteral("retrieve") : turn.mode).toStdString());
    s.bind(7, turn.model.toStdString()).bind(8, turn.kvMode.toStdString()).bind(9, turn.kvBytes);
    s.bind(10, static_cast<std::int64_t>(turn.promptTokens)).bind(11, static_cast<std::int64_t>(turn.generatedTokens));
    s.bind(12, turn.prefillSeconds)
        .bind(13, turn.decodeSeconds)
        .bind(14, now.toStdString())
        .bind(15, turn.kvBytesPerToken);
    s.bind(16, turn.contextSource.toStdString()).bind(17, turn.contextTokens).bind(18, turn.contextBytes);
    s.bind(19, turn.contextSeconds).bind(20, turn.contextPrefillSeconds);
    s.run();
    const std::int64_t id = m_db.lastInsertId();
    Statement touch(m_db, "UPDATE sessions SET updated = ?2 WHERE id = ?1");
    touch.bind(1, sessionId).bind(2, now.toStdString()).run();
    if (savepoint)
        savepoint->release();
    else
        transaction->commit();
    return id;
}

void SessionStore::renameSession(std::int64_t sessionId, const QString &title)
{
    Statement s(m_db, "UPDATE sessions SET title = ?2 WHERE id = ?1");
    s.bind(1, sessionId).bind(2, title.toStdString()).run();
    if (m_db.changes() == 0)
        fail("session {} does not exist (see 'needlework sessions list')", sessionId);
}

bool SessionStore::removeSession(std::int64_t sessionId)
{
    Statement s(m_db, "DELETE FROM sessions WHERE id = ?1");
    s.bind(1, sessionId).run();
    return m_db.changes() > 0;
}

std::vector<SessionRecord> SessionStore::sessions()
{
    std::vector<SessionRecord> out;
    Statement s(m_db,
        "SELECT s.id, s.title, s.created, s.updated, "
        "(SELECT COUNT(*) FROM session_turns t WHERE t.session_id = s.id) "
        "FROM sessions s ORDER BY s.updated DESC, s.id DESC");
    while (s.step())
        out.push_back({ s.columnInt(0), text(s, 1), text(s, 2), text(s, 3), static_cast<int>(s.columnInt(4)) });
    return out;
}

std::optional<SessionRecord> SessionStore::findSession(std::int64_t sessionId)
{
    Statement s(m_db,
        "SELECT s.id, s.title, s.created, s.updated, "
        "(SELECT COUNT(*) FROM session_turns t WHERE t.session_id = s.id) "
        "FROM sessions s WHERE s.id = ?1");
    s.bind(1, sessionId);
    if (!s.step())
        return std::nullopt;
    return SessionRecord { s.columnInt(0), text(s, 1), text(s, 2), text(s, 3), static_cast<int>(s.columnInt(4)) };
}

SessionRecord SessionStore::requireSession(std::int64_t sessionId)
{
    if (auto session = findSession(sessionId))
        return *session;
    fail("session {} does not exist (see 'needlework sessions list')", sessionId);
}

std::vector<TurnRecord> SessionStore::turns(std::int64_t sessionId)
{
    std::vector<TurnRecord> out;
    Statement s(m_db,
        "SELECT id, session_id, idx, question, answer, citations, mode, model, kv_mode, kv_bytes, "
        "prompt_tokens, generated_tokens, prefill_seconds, decode_seconds, created, kv_bytes_per_token, "
        "context_source, context_tokens, context_bytes, context_seconds, context_prefill_seconds "
        "FROM session_turns WHERE session_id = ?1 ORDER BY idx");
    s.bind(1, sessionId);
    while (s.step()) {
        TurnRecord t;
        t.id = s.columnInt(0);
        t.sessionId = s.columnInt(1);
        t.index = static_cast<int>(s.columnInt(2));
        t.question = text(s, 3);
        t.answer = text(s, 4);
        t.citationsJson = text(s, 5);
        t.mode = text(s, 6);
        t.model = text(s, 7);
        t.kvMode = text(s, 8);
        t.kvBytes = s.columnInt(9);
        t.promptTokens = static_cast<int>(s.columnInt(10));
        t.generatedTokens = static_cast<int>(s.columnInt(11));
        t.prefillSeconds = s.columnDouble(12);
        t.decodeSeconds = s.columnDouble(13);
        t.created = text(s, 14);
        t.kvBytesPerToken = s.columnInt(15);
        t.contextSource = text(s, 16);
        t.contextTokens = s.columnInt(17);
        t.contextBytes = s.columnInt(18);
        t.contextSeconds = s.columnDouble(19);
        t.contextPrefillSeconds = s.columnDouble(20);
        out.push_back(std::move(t));
    }
    return out;
}

} // namespace nw::store
