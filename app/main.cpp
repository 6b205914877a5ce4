// Entry point: no subcommand opens the workbench window; a subcommand runs headless.
#include "app/cli.h"
#include "app/paths.h"
#include "ui/main_window.h"

#include <QApplication>
#include <QCoreApplication>
#include <QGuiApplication>

#include <cstdlib>

namespace {

bool displayAvailable()
{
    return std::getenv("DISPLAY") || std::getenv("WAYLAND_DISPLAY") || std::getenv("QT_QPA_PLATFORM");
}

QStringList argumentList(int argc, char **argv)
{
    QStringList args;
    for (int i = 0; i < argc; ++i)
        args << QString::fromLocal8Bit(argv[i]);
    return args;
}

} // namespace

int main(int argc, char **argv)
{
    // Qt's platforms warn on stderr when XDG_RUNTIME_DIR is unset (a CI job, a cron shell, ssh).
    nw::app::ensureRuntimeDirectory();
    const nw::app::Invocation invocation = nw::app::parseInvocation(argumentList(argc, argv));
    if (invocation.kind == nw::app::Invocation::Kind::Subcommand && invocation.subcommand == QLatin1String("needle")) {
        // The needle heatmaps draw text into PNGs, which needs a QGuiApplication; it shows no
        // window, so offscreen (unless asked otherwise) works with or without a display.
        if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
            qputenv("QT_QPA_PLATFORM", "offscreen");
        QGuiApplication app(argc, argv);
        nw::app::setApplicationIdentity();
        return nw::app::runHeadless(invocation);
    }
    if (invocation.kind != nw::app::Invocation::Kind::Gui) {
        QCoreApplication app(argc, argv);
        nw::app::setApplicationIdentity();
        return nw::app::runHeadless(invocation);
    }
    if (!displayAvailable()) {
        std::fputs("needlework: no display to open the window on (DISPLAY and WAYLAND_DISPLAY are unset);\n"
                   "run a subcommand instead, e.g. 'needlework doctor' (see 'needlework --help')\n",
            stderr);
        return nw::app::ExitFailed;
    }
    QApplication app(argc, argv);
    nw::app::setApplicationIdentity();
    QTextStream err(stderr);
    if (!nw::app::setupLogging(invocation.logLevel, err))
        return nw::app::ExitUsage;
    // The chat's context follows the workbench's policy (app/model_settings.h), as `ask` does.
    nw::ui::MainWindow window({ .databasePath = invocation.database, .modelPath = invocation.model });
    window.show();
    return app.exec();
}
