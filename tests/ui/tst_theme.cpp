// Themes (offscreen): light and dark palettes by their colours, "system" puts back the start-up
// palette, the View ▸ Theme menu applies a theme to the window and the choice outlives the window.
#include "ui/chat_dock.h"
#include "ui/main_window.h"
#include "ui/theme.h"

#include <QAction>
#include <QApplication>
#include <QDockWidget>
#include <QMenu>
#include <QMenuBar>
#include <QSettings>
#include <QStyle>
#include <QTemporaryDir>
#include <QTest>

class TestTheme : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void names_data();
    void names();
    void palettesByColour();
    void systemRestoresStartPalette();
    void menuAppliesAndPersists();

private:
    QTemporaryDir m_dir;
    QPalette m_startPalette;
};

void TestTheme::initTestCase()
{
    QVERIFY(m_dir.isValid());
    // Settings in a scratch folder, never the user's.
    QCoreApplication::setOrganizationName(QStringLiteral("NeedleworkTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_theme"));
    QSettings::setDefaultFormat(QSettings::IniFormat);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, m_dir.path());
    m_startPalette = QApplication::palette();
}

void TestTheme::names_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<int>("theme");
    QTest::addColumn<QString>("canonical");
    QTest::addRow("light") << "light" << int(nw::ui::Theme::Light) << "light";
    QTest::addRow("dark") << "dark" << int(nw::ui::Theme::Dark) << "dark";
    QTest::addRow("system") << "system" << int(nw::ui::Theme::System) << "system";
    QTest::addRow("empty falls back to system") << "" << int(nw::ui::Theme::System) << "system";
    QTest::addRow("unknown falls back to system") << "solarized" << int(nw::ui::Theme::System) << "system";
}

void TestTheme::names()
{
    QFETCH(QString, name);
    QFETCH(int, theme);
    QFETCH(QString, canonical);
    QCOMPARE(int(nw::ui::parseTheme(name)), theme);
    QCOMPARE(nw::ui::themeName(nw::ui::parseTheme(name)), canonical);
}

void TestTheme::palettesByColour()
{
    const QPalette system;
    const QPalette dark = nw::ui::paletteFor(nw::ui::Theme::Dark, system);
    const QPalette light = nw::ui::paletteFor(nw::ui::Theme::Light, system);
    // Dark: dark surfaces with light text; light: the reverse (HSL lightness, 0–255).
    for (QPalette::ColorRole surface : { QPalette::Window, QPalette::Base, QPalette::Button }) {
        QVERIFY(dark.color(surface).lightness() < 80);
        QVERIFY(light.color(surface).lightness() > 200);
    }
    for (QPalette::ColorRole text : { QPalette::WindowText, QPalette::Text, QPalette::ButtonText }) {
        QVERIFY(dark.color(text).lightness() > 180);
        QVERIFY(light.color(text).lightness() < 60);
    }
    QVERIFY(nw::ui::isDarkPalette(dark));
    QVERIFY(!nw::ui::isDarkPalette(light));
    QPalette custom;
    custom.setColor(QPalette::Window, QColor(0x12, 0x34, 0x56));
    QCOMPARE(nw::ui::paletteFor(nw::ui::Theme::System, custom).color(QPalette::Window), QColor(0x12, 0x34, 0x56));
}

void TestTheme::systemRestoresStartPalette()
{
    nw::ui::applyTheme(nw::ui::Theme::Dark);
    QVERIFY(QApplication::palette().color(QPalette::Window).lightness() < 80);
    QCOMPARE(QApplication::style()->name().toLower(), QStringLiteral("fusion"));
    QCOMPARE(nw::ui::savedTheme(), nw::ui::Theme::Dark);
    nw::ui::applyTheme(nw::ui::Theme::System);
    QCOMPARE(QApplication::palette().color(QPalette::Window), m_startPalette.color(QPalette::Window));
    QCOMPARE(QApplication::palette().color(QPalette::Text), m_startPalette.color(QPalette::Text));
    QCOMPARE(nw::ui::savedTheme(), nw::ui::Theme::System);
}

void TestTheme::menuAppliesAndPersists()
{
    const QString database = m_dir.filePath(QStringLiteral("library.sqlite"));
    {
        nw::ui::MainWindow window({ .databasePath = database, .modelPath = {} });
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        auto *dark = window.findChild<QAction *>(QStringLiteral("Theme_dark"));
        auto *system = window.findChild<QAction *>(QStringLiteral("Theme_system"));
        QVERIFY(dark && system && window.findChild<QAction *>(QStringLiteral("Theme_light")));
        QVERIFY(system->isChecked());
        dark->trigger();
        QVERIFY(dark->isChecked());
        QVERIFY(!system->isChecked());
        // The window and its docks' widgets take the application palette.
        QTRY_VERIFY(window.palette().color(QPalette::Window).lightness() < 80);
        QVERIFY(window.chat()->palette().color(QPalette::Base).lightness() < 80);
    }
    QCOMPARE(QSettings().value(QStringLiteral("ui/theme")).toString(), QStringLiteral("dark"));
    // A new window (the next start) comes up dark, with Dark checked.
    QApplication::setPalette(m_startPalette);
    nw::ui::MainWindow again({ .databasePath = database, .modelPath = {} });
    QVERIFY(again.findChild<QAction *>(QStringLiteral("Theme_dark"))->isChecked());
    QVERIFY(QApplication::palette().color(QPalette::Window).lightness() < 80);
    nw::ui::applyTheme(nw::ui::Theme::Light);
    QVERIFY(QApplication::palette().color(QPalette::Window).lightness() > 200);
}

QTEST_MAIN(TestTheme)
#include "tst_theme.moc"
