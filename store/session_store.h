// Sessions of questions and answers: each turn keeps the question, the answer, its citations
// (JSON, as the app wrote them), the model and KV mode, KV bytes and prefill/decode timings,
// so a session can be shown again, exported, and its numbers compared across KV modes.
#pragma once

#include "store/database.h"

#include <QString>

#include <cstdint>
#include <optional>
#include <vector>

namespace nw::store {

struct TurnRecord {
    std::int64_t id = 0;
    std::int64_t sessionId = 0;
    int index = 0; // 0-based position in the session
    QString question;
    QString answer;
    QString citationsJson; // a JSON array; the app owns its shape (app/citations.h)
    QString mode; // "retrieve" or "whole"
    QString model; // model file, "" for the extractive answer
    QString kvMode; // "full", "mla", "latent:128", ...; "" without a model
    std::int64_t kvBytes = 0; // KV cache bytes in use after the answer
    std::int64_t kvBytesPerToken = 0; // what one more token of context costs; 0: not recorded (turns before schema 7)
    // Where the documents' part of the context came from in whole mode: "snapshot" (loaded from
    // disk), "prefill" (computed; contextBytes > 0 when a snapshot was written), "cache" (kept from
    // this session's previous question), "" otherwise and for turns before schema 8.
    QString contextSource;
    std::int64_t contextTokens = 0;
    std::int64_t contextBytes = 0; // the snapshot file's size
    double contextSeconds = 0; // loading the snapshot, or writing it
    // What prefilling that context took: now ("prefill"), or when the loaded snapshot was made
    // ("snapshot"); 0: not known (turns before schema 9, a snapshot that does not say).
    double contextPrefillSeconds = 0;
    int promptTokens = 0;
    int generatedTokens = 0;
    double prefillSeconds = 0;
    double decodeSeconds = 0;
    QString created; // ISO 8601 UTC
};

struct SessionRecord {
    std::int64_t id = 0;
    QString title; // the first question, unless renamed
    QString created; // ISO 8601 UTC
    QString updated;
    int turnCount = 0;
};

// Schema 3 of the store's migration list (store/migrations.cpp): the session tables as they
// shipped then. Later columns come from later migrations; SessionStore expects a migrated database.
void createSessionTables(Database &db);

class SessionStore {
public:
    // Uses (does not own) an open, migrated library database (store/library_file.h opens one).
    explicit SessionStore(Database &db);

    std::int64_t createSession(const QString &title);
    // Appends a turn (its index is the next one) and touches the session's `updated`.
    std::int64_t addTurn(std::int64_t sessionId, const TurnRecord &turn);
    void renameSession(std::int64_t sessionId, const QString &title);
    bool removeSession(std::int64_t sessionId);

    std::vector<SessionRecord> sessions(); // most recently updated first
    std::optional<SessionRecord> findSession(std::int64_t sessionId);
    SessionRecord requireSession(std::int64_t sessionId); // throws nw::Error naming the id
    std::vector<TurnRecord> turns(std::int64_t sessionId);

private:
    Database &m_db;
};

} // namespace nw::store
