// The Poppler library in use, for `needlework doctor`.
#pragma once

#include <QString>

namespace nw::ingest {

QString popplerVersion(); // "22.12.0"

} // namespace nw::ingest
