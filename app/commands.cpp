// The registry of subcommands and the options they share.
#include "app/command.h"

#include "app/commands/commands.h"
#include "app/paths.h"
#include "common/error.h"
#include "store/library_store.h"

#include <QFileInfo>

namespace nw::app {

const std::vector<Command> &allCommands()
{
    static const std::vector<Command> commands = {
        doctorCommand(),
        ingestCommand(),
        searchCommand(),
        libraryCommand(),
        tokenizeCommand(),
        generateCommand(),
        perplexityCommand(),
        kvCommand(),
        askCommand(),
        sessionsCommand(),
        annotationsCommand(),
        chatCommand(),
        demoCommand(),
        needleCommand(),
        serveCommand(),
    };
    return commands;
}

const Command *findCommand(const QString &name)
{
    for (const Command &command : allCommands())
        if (command.name == name)
            return &command;
    return nullptr;
}

void addDatabaseOption(QCommandLineParser &parser)
{
    parser.addOption({ QStringLiteral("db"),
        QStringLiteral("Library database (default: %1).").arg(defaultDatabasePath()), QStringLiteral("FILE") });
}

void addJsonOption(QCommandLineParser &parser)
{
    parser.addOption({ QStringLiteral("json"), QStringLiteral("Print machine-readable JSON instead of text.") });
}

QString databasePath(const QCommandLineParser &parser)
{
    const QString db = parser.value(QStringLiteral("db"));
    return db.isEmpty() ? defaultDatabasePath() : db;
}

std::unique_ptr<store::LibraryStore> openLibrary(const QCommandLineParser &parser, store::LibraryAccess access)
{
    const QString path = databasePath(parser);
    if (access == store::LibraryAccess::ReadOnly && !QFileInfo::exists(path)) {
        const QString option
            = parser.value(QStringLiteral("db")).isEmpty() ? QString() : QStringLiteral(" --db ") + path;
        fail("there is no library at {}: make one by adding documents with 'needlework ingest{} FILE...'",
            path.toStdString(), option.toStdString());
    }
    return std::make_unique<store::LibraryStore>(path, access);
}

} // namespace nw::app
