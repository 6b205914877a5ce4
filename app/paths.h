// Where Needlework keeps its files, following the XDG base directories through QStandardPaths:
// data (the library database, logs) in $XDG_DATA_HOME/needlework, caches (SVD factors, page
// renders) in $XDG_CACHE_HOME/needlework.
#pragma once

#include <QString>

namespace nw::app {

// Sets the organisation and application names QStandardPaths uses; call before any path.
void setApplicationIdentity();

QString dataDirectory();        // created on demand
QString cacheDirectory();       // created on demand
QString defaultDatabasePath();  // dataDirectory()/library.sqlite
QString logFilePath();          // dataDirectory()/needlework.log

} // namespace nw::app
