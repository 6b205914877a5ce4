// The application an ingest bench runs in: a QGuiApplication (Poppler and QPdfWriter need Qt's
// fonts) that needs no display, and its command line parsed with --help.
#pragma once

#include <QByteArray>
#include <QCommandLineParser>
#include <QGuiApplication>

namespace nw::bench {

// Offscreen unless QT_QPA_PLATFORM names a platform. A base of BenchApplication, so that it is
// set before QGuiApplication picks its platform.
struct OffscreenByDefault {
    OffscreenByDefault()
    {
        if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
            qputenv("QT_QPA_PLATFORM", "offscreen");
    }
};

class BenchApplication : private OffscreenByDefault, public QGuiApplication {
public:
    BenchApplication(int &argc, char **argv) : QGuiApplication(argc, argv) {}

    // Adds --help to the options and arguments the bench declared, then parses; exits on --help or
    // a bad option, as QCommandLineParser::process does.
    void parse(QCommandLineParser &parser)
    {
        parser.addHelpOption();
        parser.process(*this);
    }
};

} // namespace nw::bench
