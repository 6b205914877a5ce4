// SQLite behind one small RAII interface; this is the only place that includes <sqlite3.h>.
// Errors become nw::Error with the statement and the database path (SQLiteCpp's check() idea).
#pragma once

#include "common/error.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace nw::store {

// What the linked SQLite offers (for `needlework doctor`).
struct SqliteInfo {
    std::string version; // "3.40.1"
    bool fts5 = false; // compiled with FTS5
};
SqliteInfo sqliteInfo();

class Database;
struct ConnectionState;

// An SQLite failure; `code` is SQLite's extended result code.
class SqliteError : public Error {
public:
    SqliteError(const std::string &message, int code)
        : Error(message)
        , m_code(code)
    {
    }
    int code() const { return m_code; }
    // SQLITE_ERROR: the statement or its input is wrong (an FTS5 query that does not parse),
    // as opposed to busy, I/O, corruption or constraint failures.
    bool isGenericError() const;
    // A QueryBudget stopped the statement: SQLITE_INTERRUPT (time) or SQLITE_TOOBIG (size).
    bool isOverBudget() const;
    bool isOutOfTime() const; // SQLITE_INTERRUPT: the budget's time ran out

    // SQLITE_NOTADB: the file is not an SQLite database at all.
    bool isNotADatabase() const;

private:
    int m_code;
};

// A prepared statement; bind with 1-based indexes, step() until it returns false.
class Statement {
public:
    Statement(Database &db, std::string_view sql);
    ~Statement();
    Statement(const Statement &) = delete;
    Statement &operator=(const Statement &) = delete;
    Statement(Statement &&other) noexcept;

    Statement &bind(int index, std::int64_t value);
    Statement &bind(int index, double value);
    Statement &bind(int index, std::string_view text);
    Statement &bindBlob(int index, const void *data, std::size_t bytes);
    Statement &bindNull(int index);

    // Advances; true while a row is available. Throws nw::Error on failure.
    bool step();
    // Runs to completion (for statements without results).
    void run();
    void reset(); // rebind and run again; bindings are kept

    bool isNull(int column) const;
    std::int64_t columnInt(int column) const;
    double columnDouble(int column) const;
    std::string columnText(int column) const;
    std::string columnBlob(int column) const;

private:
    Database *m_db;
    sqlite3_stmt *m_stmt = nullptr;
    std::string m_sql;
};

// How a connection opens its file. Every mode turns on foreign keys and a busy timeout, which
// live in the connection, not in the file.
enum class OpenMode {
    Create, // creates the file when missing, switches it to WAL journaling, synchronous=NORMAL
    ReadWrite, // an existing file, which nothing changes or reads until a statement does (the
               // journal mode too: set it, and synchronous, once the file is known)
    ReadOnly, // an existing file that no statement may change (PRAGMA query_only)
};

class Database {
public:
    explicit Database(const std::string &path, OpenMode mode = OpenMode::Create);
    ~Database();
    Database(const Database &) = delete;
    Database &operator=(const Database &) = delete;

    const std::string &path() const { return m_path; }
    OpenMode mode() const { return m_mode; }
    void exec(std::string_view sql); // one or more statements, no results
    std::int64_t lastInsertId() const;
    bool inTransaction() const; // inside BEGIN ... COMMIT (changes other connections cannot see yet)
    int changes() const;
    // Single value of a one-row query; nullopt when there is no row.
    std::optional<std::int64_t> queryInt(std::string_view sql);

    sqlite3 *handle() const { return m_db; }
    // Every connection has the FTS5 ranking function nw_bm25(fts, 'fts'): the same Okapi BM25
    // as FTS5's own bm25() (k1 = 1.2, b = 0.75, same idf, negated: smaller is better), but it
    // reads each row's token count from a copy of the table's %_docsize held by the connection
    // (reloaded when the database has changed) instead of one B-tree lookup per row; ranking a
    // term found on all 100,000 pages drops from ~190 to ~50 ms of CPU (store/README.md). The
    // second argument names the FTS5 table; without it the function asks FTS5 row by row.
    // Throws nw::Error naming the database and `what` when rc is not OK/ROW/DONE.
    void check(int rc, std::string_view what) const;

private:
    friend class QueryBudget;
    std::string m_path;
    OpenMode m_mode;
    sqlite3 *m_db = nullptr;
    std::unique_ptr<ConnectionState> m_state; // nw_bm25's and the budget's; outlives m_db's close
};

// Bounds what the statements of one connection may cost while it lives, so that a hostile query
// comes back in time: past `deadline` SQLite's progress handler (every 1,000 virtual-machine steps)
// and nw_bm25 (between the scans it makes for each phrase of a query) stop the running statement
// with SQLITE_INTERRUPT; no string or blob a statement binds, reads or makes may exceed
// `maxBytes` (sqlite3_limit SQLITE_LIMIT_LENGTH: SQLITE_TOOBIG). Both come back from step() as
// a SqliteError with isOverBudget(). One budget per connection at a time; restores the
// connection's limits when it ends.
class QueryBudget {
public:
    // An absolute deadline, so that several budgets of one search (its parallel ranges, then its
    // snippets) end at the same instant, the one the search reports.
    QueryBudget(Database &db, std::chrono::steady_clock::time_point deadline, int maxBytes);
    ~QueryBudget();
    QueryBudget(const QueryBudget &) = delete;
    QueryBudget &operator=(const QueryBudget &) = delete;
    bool expired() const; // the time is up

private:
    Database &m_db;
    int m_previousMaxBytes;
};

// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() was called.
class Transaction {
public:
    explicit Transaction(Database &db);
    ~Transaction();
    Transaction(const Transaction &) = delete;
    Transaction &operator=(const Transaction &) = delete;
    void commit();

private:
    Database &m_db;
    bool m_done = false;
};

// SAVEPOINT on construction, ROLLBACK TO on destruction unless released: atomic on its own
// and inside an enclosing Transaction alike (SQLite savepoints nest).
class Savepoint {
public:
    explicit Savepoint(Database &db);
    ~Savepoint();
    Savepoint(const Savepoint &) = delete;
    Savepoint &operator=(const Savepoint &) = delete;
    void release();

private:
    Database &m_db;
    bool m_done = false;
};

} // namespace nw::store
