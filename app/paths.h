// Where Needlework keeps its files, following the XDG base directories through QStandardPaths:
// data (the library database, logs) in $XDG_DATA_HOME/needlework, caches (SVD factors, page
// renders) in $XDG_CACHE_HOME/needlework.
#pragma once

#include <QString>

namespace nw::app {

// Sets the organisation and application names QStandardPaths and QSettings use (settings in
// $XDG_CONFIG_HOME/needlework/needlework.conf, taken over once from where older versions wrote
// them); call before any path.
void setApplicationIdentity();

// Before any Q*Application: a session without XDG_RUNTIME_DIR (a container, ssh, a service) gets a
// private one (/tmp/needlework-runtime-UID, mode 0700), so Qt does not warn about it on every start.
void ensureRuntimeDirectory();

QString dataDirectory(); // created on demand
QString cacheDirectory(); // created on demand
QString defaultDatabasePath(); // dataDirectory()/library.sqlite
QString logFilePath(); // dataDirectory()/needlework.log

} // namespace nw::app
