// The `needlework` subcommands: each one is a Command registered in app/commands.cpp, with its
// own options (so `needlework SUB --help` explains it) and a run() that returns an exit code.
#pragma once

#include "app/numeric_options.h"
#include "common/error.h"

#include <QCommandLineParser>
#include <QString>
#include <QTextStream>

#include <functional>
#include <memory>
#include <vector>

namespace nw::store {
class LibraryStore;
enum class LibraryAccess;
} // namespace nw::store

namespace nw::app {

// Exit codes shared by every subcommand.
enum ExitCode : int {
    ExitOk = 0,       // the job was done
    ExitFailed = 1,   // the job could not be done (every input failed, a model would not load, ...)
    ExitUsage = 2,    // bad command line: unknown subcommand or option, missing argument
};

// A bad command line found while a command runs (a value that is not of the option's form):
// the command line prints it as one usage line and exits with ExitUsage, like a bad option.
class UsageError : public Error {
public:
    using Error::Error;
};

// Where a command writes: stdout for results, stderr for diagnostics and progress.
struct CommandIo {
    QTextStream &out;
    QTextStream &err;
    bool outIsTerminal = false; // progress lines and colour only on a terminal
    bool errIsTerminal = false;
};

struct Command {
    QString name;          // "ingest"
    QString summary;       // one line for `needlework --help`
    QString usage;         // "PATH... [--db FILE]" — arguments after the name, for --help
    QString description;   // paragraphs shown by `needlework NAME --help`
    // Adds the command's options and positional arguments to the parser.
    std::function<void(QCommandLineParser &)> configure;
    // The range of every numeric option configure() adds: the command line checks each value
    // given before run() (one line, ExitUsage), and run() reads them with app/numeric_options.h.
    std::vector<NumericOption> numbers;
    // Runs with a parser that has already parsed the command's arguments; returns an ExitCode.
    // Throwing nw::Error is fine: the caller prints it as one line and returns ExitFailed.
    std::function<int(const QCommandLineParser &, CommandIo &)> run;
};

// The command line's words for what the user can change after an error (nw::Remedy): " (raise
// --ctx)", " (use --device cpu)", or nothing.
QString remedyHint(Remedy remedy);

// Every subcommand, in the order `needlework --help` lists them.
const std::vector<Command> &allCommands();
const Command *findCommand(const QString &name);

// Shared options: --db FILE (the library database), --json.
void addDatabaseOption(QCommandLineParser &parser);
void addJsonOption(QCommandLineParser &parser);
// The database path from --db, or the default in the user data directory.
QString databasePath(const QCommandLineParser &parser);
// The library at databasePath(). ReadOnly (search, library, listing and exporting) never creates,
// migrates or writes, and a missing file is an error that says how to make a library; neither
// access touches a file that is not a library (store/library_file.h).
std::unique_ptr<store::LibraryStore> openLibrary(const QCommandLineParser &parser, store::LibraryAccess access);

} // namespace nw::app
