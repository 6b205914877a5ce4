// The library database's schema: an ordered list of forward migrations, each one a function,
// applied in its own transaction and recorded in `PRAGMA user_version`, with Needlework's
// `PRAGMA application_id` (store/library_file.h; see store/README.md).
#pragma once

#include "store/database.h"

#include <span>

namespace nw::store {

struct Migration {
    int version;                 // the schema version this migration produces (1, 2, 3, ...)
    const char *name;            // a few words for the log: "collections and ingest errors"
    void (*apply)(Database &db); // runs inside the migration's transaction; throw to abort
};

// Every migration this build knows, in order; versions are 1, 2, ... without gaps.
std::span<const Migration> migrations();
int latestSchemaVersion();

// The version recorded in the database (0 for a new, empty one).
int schemaVersion(Database &db);

// Brings the database up to the last migration in `list` (default: migrations()), one
// transaction per migration, so a failure leaves it at the last version that completed.
// Throws nw::Error when the database is newer than the list (made by a newer Needlework).
void migrate(Database &db, std::span<const Migration> list = migrations());
// Stops at `version` (tests build databases of older versions with it).
void migrateTo(Database &db, int version, std::span<const Migration> list = migrations());

} // namespace nw::store
