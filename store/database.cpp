// The SQLite wrapper: the one file that includes <sqlite3.h>.
#include "store/database.h"

#include "common/assert.h"
#include "common/error.h"
#include "common/log.h"

#include <sqlite3.h>

#include <cmath>
#include <map>
#include <vector>

namespace nw::store {

// What one connection keeps beside SQLite's handle: for nw_bm25 the token counts of the rows of
// FTS5 tables (a copy of each table's %_docsize, valid while the database is unchanged), and
// the deadline of its QueryBudget.
struct ConnectionState {
    struct Lengths {
        std::uint32_t dataVersion = 0; // SQLITE_FCNTL_DATA_VERSION when loaded
        sqlite3_int64 totalChanges = -1; // sqlite3_total_changes64 when loaded
        bool usable = false; // false: no %_docsize, or rowids too sparse for a table
        std::vector<std::uint32_t> tokens; // [max rowid + 1]: tokens in all columns, 0 = unknown
    };
    sqlite3 *db = nullptr;
    std::map<std::string, Lengths, std::less<>> tables;
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();

    bool expired() const
    {
        return deadline != std::chrono::steady_clock::time_point::max() && std::chrono::steady_clock::now() >= deadline;
    }
};

bool SqliteError::isGenericError() const
{
    return (m_code & 0xff) == SQLITE_ERROR;
}
bool SqliteError::isOverBudget() const
{
    return (m_code & 0xff) == SQLITE_INTERRUPT || (m_code & 0xff) == SQLITE_TOOBIG;
}
bool SqliteError::isOutOfTime() const
{
    return (m_code & 0xff) == SQLITE_INTERRUPT;
}
bool SqliteError::isNotADatabase() const
{
    return (m_code & 0xff) == SQLITE_NOTADB;
}

SqliteInfo sqliteInfo()
{
    return { sqlite3_libversion(), sqlite3_compileoption_used("ENABLE_FTS5") != 0 };
}

namespace {

// SQLite's varint (the %_docsize blob is one per column): big-endian 7-bit groups, the ninth
// byte, if reached, holds 8 bits.
std::uint64_t readVarint(const unsigned char *&p, const unsigned char *end)
{
    std::uint64_t value = 0;
    for (int i = 0; i < 9 && p < end; ++i) {
        const unsigned char byte = *p++;
        if (i == 8)
            return (value << 8) | byte;
        value = (value << 7) | (byte & 0x7f);
        if (!(byte & 0x80))
            break;
    }
    return value;
}

// Reloads `lengths` from "<table>_docsize" when the database changed since it was loaded. Only
// outside explicit transactions: a rollback (of a transaction or a savepoint) can restore old
// page texts without changing either counter, so the copy is neither used nor made inside one.
const ConnectionState::Lengths *rowLengths(ConnectionState &state, std::string_view table)
{
    if (!sqlite3_get_autocommit(state.db))
        return nullptr;
    auto it = state.tables.find(table);
    if (it == state.tables.end())
        it = state.tables.emplace(std::string(table), ConnectionState::Lengths {}).first;
    ConnectionState::Lengths &lengths = it->second;
    unsigned int version = 0;
    if (sqlite3_file_control(state.db, "main", SQLITE_FCNTL_DATA_VERSION, &version) != SQLITE_OK)
        return nullptr;
    const sqlite3_int64 changes = sqlite3_total_changes64(state.db);
    if (lengths.totalChanges == changes && lengths.dataVersion == version)
        return lengths.usable ? &lengths : nullptr;
    lengths.dataVersion = version;
    lengths.totalChanges = changes;
    lengths.usable = false;
    lengths.tokens.clear();

    std::string name(table);
    for (std::size_t at = name.find('"'); at != std::string::npos; at = name.find('"', at + 2))
        name.insert(at, 1, '"');
    const std::string count = "SELECT count(*), max(id) FROM \"" + name + "_docsize\"";
    sqlite3_stmt *s = nullptr;
    if (sqlite3_prepare_v2(state.db, count.c_str(), -1, &s, nullptr) != SQLITE_OK) { // columnsize=0
        sqlite3_finalize(s);
        return nullptr;
    }
    sqlite3_int64 nRows = 0, maxId = 0;
    if (sqlite3_step(s) == SQLITE_ROW) {
        nRows = sqlite3_column_int64(s, 0);
        maxId = sqlite3_column_int64(s, 1);
    }
    sqlite3_finalize(s);
    // A dense array by rowid; rowids far sparser than the rows (or negative) keep the slow path.
    if (maxId < 0 || maxId > 4 * nRows + (1 << 20))
        return nullptr;
    lengths.tokens.assign(static_cast<std::size_t>(maxId) + 1, 0);
    const std::string select = "SELECT id, sz FROM \"" + name + "_docsize\"";
    if (sqlite3_prepare_v2(state.db, select.c_str(), -1, &s, nullptr) != SQLITE_OK) {
        sqlite3_finalize(s);
        return nullptr;
    }
    while (sqlite3_step(s) == SQLITE_ROW) {
        const sqlite3_int64 id = sqlite3_column_int64(s, 0);
        const auto *p = static_cast<const unsigned char *>(sqlite3_column_blob(s, 1));
        const unsigned char *end = p + sqlite3_column_bytes(s, 1);
        std::uint64_t tokens = 0;
        while (p && p < end)
            tokens += readVarint(p, end);
        if (id >= 0 && id <= maxId)
            lengths.tokens[static_cast<std::size_t>(id)]
                = static_cast<std::uint32_t>(std::min<std::uint64_t>(tokens, UINT32_MAX));
    }
    const int rc = sqlite3_finalize(s);
    lengths.usable = rc == SQLITE_OK;
    return lengths.usable ? &lengths : nullptr;
}

// What nw_bm25 computes once per query (FTS5 keeps it as the query's auxiliary data).
struct Bm25Query {
    std::vector<double> idf; // [nPhrases]
    std::vector<double> freq; // [nPhrases], per row scratch
    double avgdl = 1; // tokens per row over the table
    const ConnectionState::Lengths *lengths = nullptr;
};

int countRow(const Fts5ExtensionApi *, Fts5Context *, void *userData)
{
    ++*static_cast<sqlite3_int64 *>(userData);
    return SQLITE_OK;
}

// Okapi BM25 with FTS5's constants and idf (fts5_aux.c documents them): per phrase,
// idf = ln((N - n + 0.5) / (n + 0.5)) floored at 1e-6, times f (k1 + 1) / (f + k1 (1 - b + b D / avgdl)).
void bm25Function(
    const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *context, int nArgs, sqlite3_value **args)
{
    constexpr double k1 = 1.2, b = 0.75;
    auto *query = static_cast<Bm25Query *>(api->xGetAuxdata(fts, 0));
    if (!query) {
        auto owned = std::make_unique<Bm25Query>();
        sqlite3_int64 nRows = 0, nTokens = 0;
        int rc = api->xRowCount(fts, &nRows);
        if (rc == SQLITE_OK)
            rc = api->xColumnTotalSize(fts, -1, &nTokens);
        const int nPhrases = api->xPhraseCount(fts);
        owned->idf.resize(static_cast<std::size_t>(nPhrases));
        owned->freq.resize(static_cast<std::size_t>(nPhrases));
        owned->avgdl = nRows > 0 ? static_cast<double>(nTokens) / static_cast<double>(nRows) : 1;
        const auto *connection = static_cast<const ConnectionState *>(api->xUserData(fts));
        for (int i = 0; rc == SQLITE_OK && i < nPhrases; ++i) {
            // Each phrase is a scan of its whole posting list, inside one step of the virtual
            // machine, where the progress handler does not look: the budget is checked here.
            if (connection->expired()) {
                rc = SQLITE_INTERRUPT;
                break;
            }
            sqlite3_int64 nHits = 0;
            rc = api->xQueryPhrase(fts, i, &nHits, countRow);
            const double idf
                = std::log((static_cast<double>(nRows - nHits) + 0.5) / (static_cast<double>(nHits) + 0.5));
            owned->idf[static_cast<std::size_t>(i)] = idf <= 0 ? 1e-6 : idf;
        }
        if (rc == SQLITE_OK && nArgs >= 1 && sqlite3_value_type(args[0]) == SQLITE_TEXT) {
            const std::string_view table(reinterpret_cast<const char *>(sqlite3_value_text(args[0])),
                static_cast<std::size_t>(sqlite3_value_bytes(args[0])));
            owned->lengths = rowLengths(*static_cast<ConnectionState *>(api->xUserData(fts)), table);
        }
        if (rc == SQLITE_OK) {
            query = owned.release(); // FTS5 owns it now, and frees it itself when this fails
            rc = api->xSetAuxdata(fts, query, [](void *p) { delete static_cast<Bm25Query *>(p); });
        }
        if (rc != SQLITE_OK) {
            sqlite3_result_error_code(context, rc);
            return;
        }
    }

    std::fill(query->freq.begin(), query->freq.end(), 0.0);
    int nInstances = 0;
    int rc = api->xInstCount(fts, &nInstances);
    for (int i = 0; rc == SQLITE_OK && i < nInstances; ++i) {
        int phrase = 0, column = 0, offset = 0;
        rc = api->xInst(fts, i, &phrase, &column, &offset);
        if (rc == SQLITE_OK)
            query->freq[static_cast<std::size_t>(phrase)] += 1;
    }
    // The row's token count: from the connection's copy when it knows the row (a row added in
    // this very statement, say, it does not), else from FTS5.
    int dl = 0;
    const sqlite3_int64 rowid = api->xRowid(fts);
    const ConnectionState::Lengths *lengths = query->lengths;
    if (lengths && rowid >= 0 && static_cast<std::uint64_t>(rowid) < lengths->tokens.size()
        && lengths->tokens[static_cast<std::size_t>(rowid)] != 0)
        dl = static_cast<int>(lengths->tokens[static_cast<std::size_t>(rowid)]);
    else if (rc == SQLITE_OK)
        rc = api->xColumnSize(fts, -1, &dl);
    if (rc != SQLITE_OK) {
        sqlite3_result_error_code(context, rc);
        return;
    }
    double score = 0;
    for (std::size_t i = 0; i < query->idf.size(); ++i) {
        const double f = query->freq[i];
        score += query->idf[i] * (f * (k1 + 1)) / (f + k1 * (1 - b + b * dl / query->avgdl));
    }
    sqlite3_result_double(context, -score);
}

// Registers nw_bm25 on `db`; without FTS5 there is nothing to rank, so nothing to register.
void registerRanking(sqlite3 *db, ConnectionState *state)
{
    fts5_api *api = nullptr;
    sqlite3_stmt *s = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &s, nullptr) == SQLITE_OK) {
        sqlite3_bind_pointer(s, 1, &api, "fts5_api_ptr", nullptr);
        sqlite3_step(s);
    }
    sqlite3_finalize(s);
    if (api && api->iVersion >= 2)
        api->xCreateFunction(api, "nw_bm25", state, bm25Function, nullptr);
}

// SQLite's progress handler: a non-zero return stops the running statement (SQLITE_INTERRUPT).
int stopWhenExpired(void *state)
{
    return static_cast<const ConnectionState *>(state)->expired() ? 1 : 0;
}

} // namespace

Database::Database(const std::string &path, OpenMode mode)
    : m_path(path)
    , m_mode(mode)
{
    const int flags
        = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (mode == OpenMode::Create ? SQLITE_OPEN_CREATE : 0);
    const int rc = sqlite3_open_v2(path.c_str(), &m_db, flags, nullptr);
    if (rc != SQLITE_OK) {
        const std::string message = m_db ? sqlite3_errmsg(m_db) : sqlite3_errstr(rc);
        sqlite3_close(m_db);
        m_db = nullptr;
        fail("cannot open database {}: {}", path, message);
    }
    sqlite3_extended_result_codes(m_db, 1);
    sqlite3_busy_timeout(m_db, 5000);
    // journal_mode is written into the file, and synchronous reads it (a file that is not a
    // database fails there): only for a database this connection may have made. The others
    // are the connection's own.
    if (mode == OpenMode::Create)
        exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
    exec("PRAGMA foreign_keys=ON");
    if (mode == OpenMode::ReadOnly)
        exec("PRAGMA query_only=ON");
    m_state = std::make_unique<ConnectionState>();
    m_state->db = m_db;
    registerRanking(m_db, m_state.get());
}

Database::~Database()
{
    sqlite3_close_v2(m_db);
}

void Database::check(int rc, std::string_view what) const
{
    if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE)
        return;
    throw SqliteError(fmt::format("database {}: {} failed: {}", m_path, what, sqlite3_errmsg(m_db)), rc);
}

void Database::exec(std::string_view sql)
{
    char *message = nullptr;
    const std::string statement(sql);
    const int rc = sqlite3_exec(m_db, statement.c_str(), nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
        const std::string text = message ? message : sqlite3_errstr(rc);
        sqlite3_free(message);
        throw SqliteError(fmt::format("database {}: {} failed: {}", m_path, statement.substr(0, 80), text),
            sqlite3_extended_errcode(m_db));
    }
}

bool Database::inTransaction() const
{
    return sqlite3_get_autocommit(m_db) == 0;
}
std::int64_t Database::lastInsertId() const
{
    return sqlite3_last_insert_rowid(m_db);
}
int Database::changes() const
{
    return sqlite3_changes(m_db);
}

std::optional<std::int64_t> Database::queryInt(std::string_view sql)
{
    Statement statement(*this, sql);
    if (!statement.step() || statement.isNull(0))
        return std::nullopt;
    return statement.columnInt(0);
}

Statement::Statement(Database &db, std::string_view sql)
    : m_db(&db)
    , m_sql(sql)
{
    db.check(sqlite3_prepare_v2(db.handle(), m_sql.data(), static_cast<int>(m_sql.size()), &m_stmt, nullptr),
        "preparing '" + m_sql.substr(0, 80) + "'");
}

Statement::~Statement()
{
    sqlite3_finalize(m_stmt);
}

Statement::Statement(Statement &&other) noexcept
    : m_db(other.m_db)
    , m_stmt(other.m_stmt)
    , m_sql(std::move(other.m_sql))
{
    other.m_stmt = nullptr;
}

Statement &Statement::bind(int index, std::int64_t value)
{
    m_db->check(sqlite3_bind_int64(m_stmt, index, value), "binding");
    return *this;
}

Statement &Statement::bind(int index, double value)
{
    m_db->check(sqlite3_bind_double(m_stmt, index, value), "binding");
    return *this;
}

Statement &Statement::bind(int index, std::string_view text)
{
    m_db->check(sqlite3_bind_text64(m_stmt, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8), "binding");
    return *this;
}

Statement &Statement::bindBlob(int index, const void *data, std::size_t bytes)
{
    m_db->check(sqlite3_bind_blob64(m_stmt, index, data, bytes, SQLITE_TRANSIENT), "binding");
    return *this;
}

Statement &Statement::bindNull(int index)
{
    m_db->check(sqlite3_bind_null(m_stmt, index), "binding");
    return *this;
}

bool Statement::step()
{
    const int rc = sqlite3_step(m_stmt);
    m_db->check(rc, "running '" + m_sql.substr(0, 80) + "'");
    return rc == SQLITE_ROW;
}

void Statement::run()
{
    while (step()) { }
}

void Statement::reset()
{
    sqlite3_reset(m_stmt);
}

bool Statement::isNull(int column) const
{
    return sqlite3_column_type(m_stmt, column) == SQLITE_NULL;
}
std::int64_t Statement::columnInt(int column) const
{
    return sqlite3_column_int64(m_stmt, column);
}
double Statement::columnDouble(int column) const
{
    return sqlite3_column_double(m_stmt, column);
}

std::string Statement::columnText(int column) const
{
    const auto *text = reinterpret_cast<const char *>(sqlite3_column_text(m_stmt, column));
    return text ? std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, column))) : std::string();
}

std::string Statement::columnBlob(int column) const
{
    const auto *data = static_cast<const char *>(sqlite3_column_blob(m_stmt, column));
    return data ? std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, column))) : std::string();
}

Transaction::Transaction(Database &db)
    : m_db(db)
{
    m_db.exec("BEGIN IMMEDIATE");
}

Transaction::~Transaction()
{
    if (m_done)
        return;
    try {
        m_db.exec("ROLLBACK");
    } catch (const Error &e) {
        log::get("store")->error("rollback failed: {}", e.what());
    }
}

void Transaction::commit()
{
    m_db.exec("COMMIT");
    m_done = true;
}

Savepoint::Savepoint(Database &db)
    : m_db(db)
{
    m_db.exec("SAVEPOINT nw_savepoint");
}

Savepoint::~Savepoint()
{
    if (m_done)
        return;
    try {
        m_db.exec("ROLLBACK TO nw_savepoint; RELEASE nw_savepoint");
    } catch (const Error &e) {
        log::get("store")->error("rollback to savepoint failed: {}", e.what());
    }
}

void Savepoint::release()
{
    m_db.exec("RELEASE nw_savepoint");
    m_done = true;
}

QueryBudget::QueryBudget(Database &db, std::chrono::steady_clock::time_point deadline, int maxBytes)
    : m_db(db)
    , m_previousMaxBytes(sqlite3_limit(db.m_db, SQLITE_LIMIT_LENGTH, maxBytes))
{
    NW_ASSERT(db.m_state->deadline == std::chrono::steady_clock::time_point::max());
    db.m_state->deadline = deadline;
    sqlite3_progress_handler(db.m_db, 1000, stopWhenExpired, db.m_state.get());
}

QueryBudget::~QueryBudget()
{
    sqlite3_progress_handler(m_db.m_db, 0, nullptr, nullptr);
    m_db.m_state->deadline = std::chrono::steady_clock::time_point::max();
    sqlite3_limit(m_db.m_db, SQLITE_LIMIT_LENGTH, m_previousMaxBytes);
}

bool QueryBudget::expired() const
{
    return m_db.m_state->expired();
}

} // namespace nw::store
