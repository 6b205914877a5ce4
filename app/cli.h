// The `needlework` command line: splits global options from the subcommand, prints help and
// version, and runs a subcommand headless. main() uses it to decide between GUI and terminal.
#pragma once

#include "app/command.h"

#include <QString>
#include <QStringList>

#include <optional>

namespace nw::app {

// What the user asked for, decided from argv before any QCoreApplication exists.
struct Invocation {
    enum class Kind { Gui, Help, Version, Subcommand, UsageError };
    Kind kind = Kind::Gui;
    QString subcommand;       // for Subcommand
    QStringList commandArgs;  // arguments after the subcommand name
    QString logLevel;         // --log-level, "" for the default
    QString database;         // --db for the GUI
    QString model;            // --model for the GUI
    QString error;            // for UsageError: one line
};

Invocation parseInvocation(const QStringList &args);

// Help texts, also the source of the man page (packaging), so the two cannot drift.
QString programHelp();
QString commandHelp(const Command &command);

// Sets up logging (console, and the rotating file in the data directory); false with a message
// on err for an unknown level name.
bool setupLogging(const QString &level, QTextStream &err);

// Runs a parsed invocation that is not Gui; returns the process exit code.
int runHeadless(const Invocation &invocation);

} // namespace nw::app
