// The SQLite wrapper: the one file that includes <sqlite3.h>.
#include "store/database.h"

#include "common/error.h"
#include "common/log.h"

#include <sqlite3.h>

namespace nw::store {

bool SqliteError::isGenericError() const { return (m_code & 0xff) == SQLITE_ERROR; }

SqliteInfo sqliteInfo()
{
    return {sqlite3_libversion(), sqlite3_compileoption_used("ENABLE_FTS5") != 0};
}

Database::Database(const std::string &path) : m_path(path)
{
    const int rc = sqlite3_open_v2(path.c_str(), &m_db,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        const std::string message = m_db ? sqlite3_errmsg(m_db) : sqlite3_errstr(rc);
        sqlite3_close(m_db);
        m_db = nullptr;
        fail("cannot open database {}: {}", path, message);
    }
    sqlite3_extended_result_codes(m_db, 1);
    sqlite3_busy_timeout(m_db, 5000);
    exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
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
        fail("database {}: {} failed: {}", m_path, statement.substr(0, 80), text);
    }
}

std::int64_t Database::lastInsertId() const { return sqlite3_last_insert_rowid(m_db); }
int Database::changes() const { return sqlite3_changes(m_db); }

std::optional<std::int64_t> Database::queryInt(std::string_view sql)
{
    Statement statement(*this, sql);
    if (!statement.step() || statement.isNull(0))
        return std::nullopt;
    return statement.columnInt(0);
}

Statement::Statement(Database &db, std::string_view sql) : m_db(&db), m_sql(sql)
{
    db.check(sqlite3_prepare_v2(db.handle(), m_sql.data(), static_cast<int>(m_sql.size()), &m_stmt, nullptr),
             "preparing '" + m_sql.substr(0, 80) + "'");
}

Statement::~Statement() { sqlite3_finalize(m_stmt); }

Statement::Statement(Statement &&other) noexcept
    : m_db(other.m_db), m_stmt(other.m_stmt), m_sql(std::move(other.m_sql))
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
    m_db->check(sqlite3_bind_text64(m_stmt, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
                "binding");
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
    while (step()) {
    }
}

void Statement::reset()
{
    sqlite3_reset(m_stmt);
}

bool Statement::isNull(int column) const { return sqlite3_column_type(m_stmt, column) == SQLITE_NULL; }
std::int64_t Statement::columnInt(int column) const { return sqlite3_column_int64(m_stmt, column); }
double Statement::columnDouble(int column) const { return sqlite3_column_double(m_stmt, column); }

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

Transaction::Transaction(Database &db) : m_db(db)
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

Savepoint::Savepoint(Database &db) : m_db(db)
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

} // namespace nw::store
