// XDG locations through QStandardPaths.
#include "app/paths.h"

#include <QCoreApplication>
#include <QDir>
#include <QStandardPaths>

namespace nw::app {
namespace {

QString ensured(QStandardPaths::StandardLocation location)
{
    const QString path = QStandardPaths::writableLocation(location);
    QDir().mkpath(path);
    return path;
}

} // namespace

void setApplicationIdentity()
{
    QCoreApplication::setOrganizationName(QString());
    QCoreApplication::setApplicationName(QStringLiteral("needlework"));
    QCoreApplication::setApplicationVersion(QStringLiteral(NW_VERSION));
}

QString dataDirectory() { return ensured(QStandardPaths::AppLocalDataLocation); }
QString cacheDirectory() { return ensured(QStandardPaths::CacheLocation); }
QString defaultDatabasePath() { return dataDirectory() + QStringLiteral("/library.sqlite"); }
QString logFilePath() { return dataDirectory() + QStringLiteral("/needlework.log"); }

} // namespace nw::app
