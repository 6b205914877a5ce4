// UI tests that depend on the screen's size give the offscreen platform a screen of their own
// (its default, 800 × 600, is smaller than any screen the window is laid out for).
#pragma once

#include <QByteArray>
#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QString>

namespace nw::test {

// Call from the test class's static initMain(), before the QApplication exists: the offscreen
// platform with one screen of width × height logical pixels at 96 dpi.
inline void useOffscreenScreen(int width, int height)
{
    const QString config = QDir::temp().filePath(
        QStringLiteral("nw-screen-%1x%2-%3.json").arg(width).arg(height).arg(QCoreApplication::applicationPid()));
    QFile file(config);
    if (file.open(QIODevice::WriteOnly))
        file.write(
            QStringLiteral("{\"screens\": [{\"name\": \"Screen\", \"x\": 0, \"y\": 0, \"width\": %1, \"height\": %2, "
                           "\"logicalDpiX\": 96, \"logicalDpiY\": 96, \"dpr\": 1}]}")
                .arg(width)
                .arg(height)
                .toUtf8());
    qputenv("QT_QPA_PLATFORM", ("offscreen:configfile=" + config).toUtf8());
}

} // namespace nw::test
