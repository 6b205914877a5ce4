// The names documents go by in lists, citations and exports: the title the file gives (or its
// file name when it gives none), made distinct within the library — two documents with the same
// title ("GNU Lesser General Public License", versions 2.1 and 3) get their file names added, and
// the folder too when even those are the same.
#pragma once

#include "app/library_types.h"

#include <QHash>
#include <QString>

#include <vector>

namespace nw::app {

// The document's own title, or its file name.
QString plainTitle(const DocumentInfo &document);
// Document id → distinct title, for every document of `documents`.
QHash<std::int64_t, QString> distinctTitles(const std::vector<DocumentInfo> &documents);

} // namespace nw::app
