// Light, dark or follow-the-desktop colours for the whole application: one Fusion palette per
// choice, applied to QApplication, and the choice kept in QSettings ("ui/theme").
#pragma once

#include <QPalette>
#include <QString>

namespace nw::ui {

enum class Theme { System, Light, Dark };

QString themeName(Theme theme);               // "system", "light", "dark"
Theme parseTheme(const QString &name);        // anything unknown is System (a stale setting must not stop the window)

// The palette a theme gives; System hands back `systemPalette` (what the desktop gave at start).
QPalette paletteFor(Theme theme, const QPalette &systemPalette);
// True when a palette reads as dark (window background darker than its text).
bool isDarkPalette(const QPalette &palette);

// Applies to the running QApplication (palette and, for Light/Dark, the Fusion style so the
// palette is honoured everywhere) and remembers the choice in QSettings.
void applyTheme(Theme theme);
Theme currentTheme();
// The theme remembered in QSettings; System when none was chosen.
Theme savedTheme();

} // namespace nw::ui
