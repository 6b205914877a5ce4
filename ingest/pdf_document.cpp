// Poppler lives here and nowhere else: the one file that includes <poppler-qt6.h>.
#include "ingest/poppler_info.h"

#include <poppler-qt6.h>
#include <poppler-version.h>

namespace nw::ingest {

QString popplerVersion()
{
    return Poppler::Version::string();
}

} // namespace nw::ingest
