// Recognising and creating library files.
#include "store/library_file.h"

#include "store/migrations.h"

#include "common/error.h"
#include "common/log.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>
#include <unistd.h>

namespace nw::store {
namespace {

std::set<std::string> tableNames(Database &db)
{
    std::set<std::string> names;
    Statement s(db, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'");
    while (s.step())
        names.insert(s.columnText(0));
    return names;
}

// The tables a library of schema `version` has: those the migrations make, made in memory.
std::set<std::string> tablesOfVersion(int version)
{
    Database reference(":memory:");
    migrateTo(reference, version);
    return tableNames(reference);
}

[[noreturn]] void notALibrary(const Database &db, const std::string &what)
{
    throw NotALibrary(fmt::format("{} is not a Needlework library ({}); give the path of a library, or a new path "
                                  "to start one",
                                  db.path(), what));
}

} // namespace

void createLibraryFile(const std::string &path)
{
    namespace fs = std::filesystem;
    const fs::path target(path);
    std::error_code error;
    if (fs::symlink_status(target, error).type() != fs::file_type::not_found)
        return;
    const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
    if (!fs::is_directory(folder, error))
        fail("cannot create the library {}: the folder {} does not exist", path, folder.string());
    const std::string temporary =
        fmt::format("{}.new-{}-{:08x}", path, static_cast<long>(getpid()), std::random_device()());
    try {
        Database db(temporary);
        // A rollback journal while it is private: nothing beside it (-wal, -shm) is left when it
        // closes, and the library's first writable open switches it to WAL.
        db.exec("PRAGMA journal_mode=DELETE");
        migrate(db);
    } catch (...) {
        ::unlink(temporary.c_str());
        throw;
    }
    // link() fails when `path` appeared meanwhile (another process made the library first):
    // then that one is used. Filesystems without hard links get a plain rename.
    int failure = ::link(temporary.c_str(), path.c_str()) == 0 ? 0 : errno;
    if ((failure == EPERM || failure == EOPNOTSUPP || failure == ENOSYS || failure == EMLINK) &&
        fs::symlink_status(target, error).type() == fs::file_type::not_found)
        failure = ::rename(temporary.c_str(), path.c_str()) == 0 ? 0 : errno;
    ::unlink(temporary.c_str());
    if (failure != 0 && failure != EEXIST)
        fail("cannot create the library {}: {}", path, std::strerror(failure));
}

void recogniseLibrary(Database &db)
{
    std::int64_t applicationId = 0;
    int version = 0;
    std::set<std::string> tables;
    try {
        applicationId = db.queryInt("PRAGMA application_id").value_or(0);
        version = schemaVersion(db);
        tables = tableNames(db);
    } catch (const SqliteError &e) {
        if (e.isNotADatabase())
            notALibrary(db, "it is not an SQLite database");
        throw;
    }
    if (applicationId == kLibraryApplicationId) {
        if (version < 1)
            notALibrary(db, "it has Needlework's mark but no schema: it is damaged");
        return;
    }
    if (applicationId != 0)
        notALibrary(db, fmt::format("it is a database of another program, SQLite application id {:#010x}",
                                    static_cast<std::uint32_t>(applicationId)));
    if (version == 0 && tables.empty()) {
        std::error_code error;
        const bool emptyFile = std::filesystem::file_size(db.path(), error) == 0 && !error;
        notALibrary(db, emptyFile ? "it is an empty file" : "it is an empty SQLite database");
    }
    // A library made before the application id: the tables its schema version has.
    const std::set<std::string> expected = tablesOfVersion(std::clamp(version, 1, latestSchemaVersion()));
    if (version == 0 || !std::includes(tables.begin(), tables.end(), expected.begin(), expected.end()))
        notALibrary(db, "it is an SQLite database of another program");
    if (db.mode() == OpenMode::ReadOnly)
        return;
    Transaction transaction(db);
    db.exec(fmt::format("PRAGMA application_id = {}", kLibraryApplicationId));
    transaction.commit();
    log::get("store")->info("{}: a library from before the application id; stamped it", db.path());
}

} // namespace nw::store
