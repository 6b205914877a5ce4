// What makes a file a Needlework library: an SQLite database stamped by the schema with
// Needlework's application id (PRAGMA application_id) and its version (PRAGMA user_version).
// A library is recognised before anything writes to it, and created whole.
#pragma once

#include "store/database.h"

#include <cstdint>
#include <string>

namespace nw::store {

// "NWLB" (NeedleWork LiBrary), at offset 68 of the SQLite header, where `file` reads it.
constexpr std::int32_t kLibraryApplicationId = 0x4e574c42;

// The file given as a library is not one: another program's database, an empty file, or no
// SQLite database at all. The message is one line, and the file was not changed.
class NotALibrary : public Error {
public:
    using Error::Error;
};

// Creates a library with the whole current schema at `path`, unless a file is there already:
// the schema is written into a temporary file in the same folder, which is then linked to
// `path`, so `path` never holds a half-made or empty library, not even after a crash.
void createLibraryFile(const std::string &path);

// Checks that `db` is a Needlework library, reading only. A library from before the
// application id (id 0, but the tables of its schema version) is accepted and, when `db` may
// write, stamped. Throws NotALibrary for anything else.
void recogniseLibrary(Database &db);

} // namespace nw::store
