// UI tests keep QSettings (window session, theme) and the standard paths in scratch places, so
// running them never reads or changes the user's own Needlework settings or library.
#pragma once

#include <QCoreApplication>
#include <QSettings>
#include <QStandardPaths>
#include <QString>

namespace nw::test {

// Call in initTestCase, before anything reads QSettings: QStandardPaths' test mode (data and
// config under ~/.qttest, so app::defaultDatabasePath() is not the user's library), a test-only
// organisation and application name, and INI settings under `folder`, emptied.
inline void useScratchSettings(const QString &folder, const QString &application)
{
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("NeedleworkTests"));
    QCoreApplication::setApplicationName(application);
    QSettings::setDefaultFormat(QSettings::IniFormat);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, folder);
    QSettings().clear();
}

} // namespace nw::test
