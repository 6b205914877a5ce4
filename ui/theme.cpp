// Fusion palettes for light and dark; "system" puts back what the platform gave the application
// at start (Qt 6.4 has no colour-scheme query, so the desktop's palette is the signal).
#include "ui/theme.h"

#include <QApplication>
#include <QSettings>
#include <QStyle>
#include <QStyleFactory>

namespace nw::ui {

namespace {

const char *const kThemeKey = "ui/theme";

struct SystemLook {
    QPalette palette;
    QString styleName;
};

// Captured on first use, before any theme is applied, so "system" can always go back to it.
SystemLook &systemLook()
{
    static SystemLook look = [] {
        SystemLook l;
        l.palette = QApplication::palette();
        l.styleName = QApplication::style() ? QApplication::style()->name() : QString();
        return l;
    }();
    return look;
}

// The colours a Fusion palette is made of; the roles not named here follow from these.
struct FusionColours {
    QColor window, base, text;
    QColor alternateBase, toolTipBase, placeholderText, button, brightText;
    QColor light, midlight, mid, dark, shadow;
    QColor highlight, link, linkVisited;
    QColor disabledText; // WindowText, Text and ButtonText when disabled
};

QPalette fusionPalette(const FusionColours &c)
{
    QPalette p;
    p.setColor(QPalette::Window, c.window);
    p.setColor(QPalette::WindowText, c.text);
    p.setColor(QPalette::Base, c.base);
    p.setColor(QPalette::AlternateBase, c.alternateBase);
    p.setColor(QPalette::ToolTipBase, c.toolTipBase);
    p.setColor(QPalette::ToolTipText, c.text);
    p.setColor(QPalette::PlaceholderText, c.placeholderText);
    p.setColor(QPalette::Text, c.text);
    p.setColor(QPalette::Button, c.button);
    p.setColor(QPalette::ButtonText, c.text);
    p.setColor(QPalette::BrightText, c.brightText);
    p.setColor(QPalette::Light, c.light);
    p.setColor(QPalette::Midlight, c.midlight);
    p.setColor(QPalette::Mid, c.mid);
    p.setColor(QPalette::Dark, c.dark);
    p.setColor(QPalette::Shadow, c.shadow);
    p.setColor(QPalette::Highlight, c.highlight);
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::Link, c.link);
    p.setColor(QPalette::LinkVisited, c.linkVisited);
    for (QPalette::ColorRole role : {QPalette::WindowText, QPalette::Text, QPalette::ButtonText})
        p.setColor(QPalette::Disabled, role, c.disabledText);
    return p;
}

QPalette lightPalette()
{
    const QColor window(0xef, 0xef, 0xef);
    return fusionPalette({.window = window, .base = QColor(0xff, 0xff, 0xff), .text = QColor(0x1e, 0x1e, 0x1e),
                          .alternateBase = QColor(0xf5, 0xf5, 0xf5), .toolTipBase = QColor(0xff, 0xff, 0xdc),
                          .placeholderText = QColor(0x80, 0x80, 0x80), .button = window, .brightText = Qt::red,
                          .light = Qt::white, .midlight = QColor(0xe3, 0xe3, 0xe3), .mid = QColor(0xb8, 0xb8, 0xb8),
                          .dark = QColor(0x9f, 0x9f, 0x9f), .shadow = QColor(0x76, 0x76, 0x76),
                          .highlight = QColor(0x30, 0x8c, 0xc6), .link = QColor(0x00, 0x5a, 0xb4),
                          .linkVisited = QColor(0x6a, 0x1b, 0x9a), .disabledText = QColor(0x9a, 0x9a, 0x9a)});
}

QPalette darkPalette()
{
    return fusionPalette({.window = QColor(0x2b, 0x2b, 0x2e), .base = QColor(0x1e, 0x1e, 0x20),
                          .text = QColor(0xe6, 0xe6, 0xe6), .alternateBase = QColor(0x33, 0x33, 0x37),
                          .toolTipBase = QColor(0x3a, 0x3a, 0x3e), .placeholderText = QColor(0x8a, 0x8a, 0x8a),
                          .button = QColor(0x35, 0x35, 0x39), .brightText = QColor(0xff, 0x6b, 0x6b),
                          .light = QColor(0x4a, 0x4a, 0x4f), .midlight = QColor(0x3e, 0x3e, 0x43),
                          .mid = QColor(0x5a, 0x5a, 0x60), .dark = QColor(0x18, 0x18, 0x1a), .shadow = Qt::black,
                          .highlight = QColor(0x3d, 0x8e, 0xd8), .link = QColor(0x6c, 0xb4, 0xff),
                          .linkVisited = QColor(0xc0, 0x9c, 0xff), .disabledText = QColor(0x7a, 0x7a, 0x7a)});
}

Theme s_current = Theme::System;

} // namespace

QString themeName(Theme theme)
{
    switch (theme) {
    case Theme::Light: return QStringLiteral("light");
    case Theme::Dark: return QStringLiteral("dark");
    case Theme::System: break;
    }
    return QStringLiteral("system");
}

Theme parseTheme(const QString &name)
{
    if (name == QLatin1String("light"))
        return Theme::Light;
    if (name == QLatin1String("dark"))
        return Theme::Dark;
    return Theme::System;
}

QPalette paletteFor(Theme theme, const QPalette &systemPalette)
{
    switch (theme) {
    case Theme::Light: return lightPalette();
    case Theme::Dark: return darkPalette();
    case Theme::System: break;
    }
    return systemPalette;
}

bool isDarkPalette(const QPalette &palette)
{
    return palette.color(QPalette::Window).lightness() < palette.color(QPalette::WindowText).lightness();
}

void applyTheme(Theme theme)
{
    const SystemLook &system = systemLook();
    const QString wanted = theme == Theme::System ? system.styleName : QStringLiteral("Fusion");
    if (!wanted.isEmpty() && QApplication::style() &&
        QApplication::style()->name().compare(wanted, Qt::CaseInsensitive) != 0) {
        if (QStyle *style = QStyleFactory::create(wanted))
            QApplication::setStyle(style); // the application owns it from here
    }
    QApplication::setPalette(paletteFor(theme, system.palette));
    s_current = theme;
    QSettings settings;
    settings.setValue(QLatin1String(kThemeKey), themeName(theme));
}

Theme currentTheme() { return s_current; }

Theme savedTheme()
{
    QSettings settings;
    return parseTheme(settings.value(QLatin1String(kThemeKey)).toString());
}

} // namespace nw::ui
