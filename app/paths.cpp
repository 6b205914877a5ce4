// XDG locations through QStandardPaths.
#include "app/paths.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSettings>
#include <QStandardPaths>

#include <unistd.h>

namespace nw::app {
namespace {

QString ensured(QStandardPaths::StandardLocation location)
{
    // The generic location and the application's name, not Qt's per-application location: that
    // one puts the organisation's name in the path too.
    const QString path
        = QStandardPaths::writableLocation(location) + QLatin1Char('/') + QCoreApplication::applicationName();
    QDir().mkpath(path);
    return path;
}

// Earlier versions had no organisation name, so QSettings wrote to "Unknown Organization/";
// the first start of this version takes those settings over (the window's layout, the theme).
void adoptOldSettings()
{
    QSettings settings;
    if (QFileInfo::exists(settings.fileName()))
        return;
    QSettings old(QSettings::NativeFormat, QSettings::UserScope, QStringLiteral("Unknown Organization"),
        QCoreApplication::applicationName());
    if (!QFileInfo::exists(old.fileName()))
        return;
    for (const QString &key : old.allKeys())
        settings.setValue(key, old.value(key));
    settings.sync();
}

} // namespace

void ensureRuntimeDirectory()
{
    if (!qEnvironmentVariableIsEmpty("XDG_RUNTIME_DIR"))
        return;
    const QString dir = QDir::tempPath() + QStringLiteral("/needlework-runtime-%1").arg(::getuid());
    QDir().mkpath(dir);
    const QFileInfo info(dir);
    // Only a folder of our own that nobody else can read: what the XDG spec asks of this one.
    if (!info.isDir() || info.ownerId() != ::getuid()
        || !QFile::setPermissions(dir, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner))
        return;
    qputenv("XDG_RUNTIME_DIR", QFile::encodeName(dir));
}

void setApplicationIdentity()
{
    QCoreApplication::setOrganizationName(QStringLiteral("needlework"));
    QCoreApplication::setApplicationName(QStringLiteral("needlework"));
    QCoreApplication::setApplicationVersion(QStringLiteral(NW_VERSION));
    adoptOldSettings();
}

QString dataDirectory()
{
    return ensured(QStandardPaths::GenericDataLocation);
}
QString cacheDirectory()
{
    return ensured(QStandardPaths::GenericCacheLocation);
}
QString defaultDatabasePath()
{
    return dataDirectory() + QStringLiteral("/library.sqlite");
}
QString logFilePath()
{
    return dataDirectory() + QStringLiteral("/needlework.log");
}

} // namespace nw::app
