// The conformance set for the Qt suites: ../shared/conformance next to the source tree (or
// $NW_CONFORMANCE_DIR), external reference files that users' checkouts do not have, so a suite
// skips when it is absent. Header-only: each Qt suite is one source file (tests/CMakeLists.txt).
#pragma once

#include <QFileInfo>
#include <QString>

namespace nw::test {

// Where the set should be; it may be absent.
inline QString conformanceFolder()
{
    const QString dir = qEnvironmentVariable("NW_CONFORMANCE_DIR");
    return dir.isEmpty() ? qEnvironmentVariable("NW_SOURCE_DIR") + QStringLiteral("/../shared/conformance") : dir;
}

// Where the set's stories260K model should be; the file may be absent.
inline QString stories260KPath() { return conformanceFolder() + QStringLiteral("/models/stories260K.gguf"); }

// stories260K's path, or empty when the set is not there.
inline QString findStories260K()
{
    const QString model = stories260KPath();
    return QFileInfo::exists(model) ? model : QString();
}

// The set's folder, or empty when it does not hold stories260K.
inline QString findConformanceFolder() { return QFileInfo::exists(stories260KPath()) ? conformanceFolder() : QString(); }

} // namespace nw::test
