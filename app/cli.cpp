// Command-line dispatch: global options, help, version and subcommands.
#include "app/cli.h"

#include "app/output_file.h"
#include "app/paths.h"
#include "common/error.h"
#include "common/log.h"

#include <QCoreApplication>

#include <cstdio>
#include <unistd.h>

namespace nw::app {
namespace {

// Global options that take a value (`--db FILE` or `--db=FILE`).
bool isValueOption(const QString &name)
{
    return name == QLatin1String("--log-level") || name == QLatin1String("--db") ||
           name == QLatin1String("--model");
}

QString optionName(const QString &arg)
{
    const qsizetype eq = arg.indexOf(QLatin1Char('='));
    return eq < 0 ? arg : arg.left(eq);
}

const char *kLogLevelHelp = "trace, debug, info, warn (default), error, critical or off";

} // namespace

Invocation parseInvocation(const QStringList &args)
{
    Invocation inv;
    bool help = false;
    bool version = false;
    for (qsizetype i = 1; i < args.size(); ++i) {
        const QString &arg = args[i];
        if (!arg.startsWith(QLatin1Char('-')) || arg == QLatin1String("-")) {
            inv.subcommand = arg;
            inv.commandArgs = args.mid(i + 1);
            break;
        }
        const QString name = optionName(arg);
        if (name == QLatin1String("-h") || name == QLatin1String("--help")) {
            help = true;
        } else if (name == QLatin1String("-v") || name == QLatin1String("--version")) {
            version = true;
        } else if (isValueOption(name)) {
            QString value;
            if (arg.contains(QLatin1Char('='))) {
                value = arg.mid(arg.indexOf(QLatin1Char('=')) + 1);
            } else if (i + 1 < args.size()) {
                value = args[++i];
            } else {
                inv.kind = Invocation::Kind::UsageError;
                inv.error = QStringLiteral("option %1 needs a value").arg(name);
                return inv;
            }
            if (name == QLatin1String("--log-level"))
                inv.logLevel = value;
            else if (name == QLatin1String("--db"))
                inv.database = value;
            else
                inv.model = value;
        } else {
            inv.kind = Invocation::Kind::UsageError;
            inv.error = QStringLiteral("unknown option '%1'").arg(arg);
            return inv;
        }
    }
    if (!inv.subcommand.isEmpty()) {
        if (findCommand(inv.subcommand) == nullptr) {
            inv.kind = Invocation::Kind::UsageError;
            inv.error = QStringLiteral("unknown subcommand '%1'").arg(inv.subcommand);
            return inv;
        }
        // Global --db/--model before the subcommand are passed on to it.
        if (!inv.database.isEmpty())
            inv.commandArgs.prepend(QStringLiteral("--db=") + inv.database);
        if (!inv.model.isEmpty())
            inv.commandArgs.prepend(QStringLiteral("--model=") + inv.model);
        inv.kind = help ? Invocation::Kind::Help : Invocation::Kind::Subcommand;
        if (help)
            inv.commandArgs = {QStringLiteral("--help")};
        return inv;
    }
    inv.kind = help ? Invocation::Kind::Help : version ? Invocation::Kind::Version : Invocation::Kind::Gui;
    return inv;
}

QString programHelp()
{
    QString text;
    QTextStream s(&text);
    s << "Usage: needlework [--db FILE] [--model M.gguf]      open the workbench window\n"
         "       needlework SUBCOMMAND [OPTIONS] [ARGS]       run headless\n\n"
         "Needlework ingests PDFs and text into a searchable library and answers questions about\n"
         "them with a local language model whose attention keeps a compressed KV cache.\n\n"
         "Subcommands:\n";
    for (const Command &command : allCommands())
        s << "  " << command.name.leftJustified(12) << command.summary << '\n';
    s << "\nOptions:\n"
         "  -h, --help             Show this help; 'needlework SUBCOMMAND --help' for one subcommand.\n"
         "  -v, --version          Show the version.\n"
         "  --log-level LEVEL      Console log level: " << kLogLevelHelp << ".\n"
         "  --db FILE              Library database (default: " << defaultDatabasePath() << ").\n"
         "  --model M.gguf         Model for the window's chat.\n";
    return text;
}

QString commandHelp(const Command &command)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(command.description);
    command.configure(parser);
    parser.addOption({{QStringLiteral("h"), QStringLiteral("help")}, QStringLiteral("Show this help.")});
    parser.addOption({QStringLiteral("log-level"), QString::fromLatin1(kLogLevelHelp), QStringLiteral("LEVEL")});
    QString generated = parser.helpText();
    // Replace Qt's "Usage: <program> [options]" line with ours.
    const qsizetype firstNewline = generated.indexOf(QLatin1Char('\n'));
    generated = generated.mid(firstNewline + 1);
    return QStringLiteral("Usage: needlework %1 %2\n%3").arg(command.name, command.usage, generated);
}

bool setupLogging(const QString &level, QTextStream &err)
{
    log::LogSetup setup;
    setup.level = spdlog::level::warn;
    if (!level.isEmpty() && !log::parseLevel(level.toStdString(), setup.level)) {
        err << "needlework: unknown log level '" << level << "' (use " << kLogLevelHelp << ")\n";
        return false;
    }
    setup.filePath = logFilePath().toStdString();
    log::setup(setup);
    return true;
}

QString remedyHint(Remedy remedy)
{
    switch (remedy) {
    case Remedy::None: return {};
    case Remedy::LargerContext: return QStringLiteral(" (raise --ctx)");
    case Remedy::CpuDevice: return QStringLiteral(" (use --device cpu)");
    }
    return {};
}

namespace {

int runInvocation(const Invocation &inv, QTextStream &out, QTextStream &err)
{
    switch (inv.kind) {
    case Invocation::Kind::UsageError:
        err << "needlework: " << inv.error << " (see 'needlework --help')\n";
        return ExitUsage;
    case Invocation::Kind::Version:
        out << "needlework " << NW_VERSION << '\n';
        return ExitOk;
    case Invocation::Kind::Help:
        if (inv.subcommand.isEmpty())
            out << programHelp();
        else
            out << commandHelp(*findCommand(inv.subcommand));
        return ExitOk;
    case Invocation::Kind::Gui:
        break;
    case Invocation::Kind::Subcommand: {
        const Command &command = *findCommand(inv.subcommand);
        QCommandLineParser parser;
        parser.setSingleDashWordOptionMode(QCommandLineParser::ParseAsLongOptions);
        command.configure(parser);
        const QCommandLineOption helpOption({QStringLiteral("h"), QStringLiteral("help")}, QStringLiteral("Show this help."));
        const QCommandLineOption logOption(QStringLiteral("log-level"), QString::fromLatin1(kLogLevelHelp), QStringLiteral("LEVEL"));
        parser.addOption(helpOption);
        parser.addOption(logOption);
        if (!parser.parse(QStringList{QStringLiteral("needlework")} + inv.commandArgs)) {
            err << "needlework " << command.name << ": " << parser.errorText()
                << " (see 'needlework " << command.name << " --help')\n";
            return ExitUsage;
        }
        if (parser.isSet(helpOption)) {
            out << commandHelp(command);
            return ExitOk;
        }
        if (const QString bad = checkNumericOptions(parser, command.numbers); !bad.isEmpty()) {
            err << "needlework " << command.name << ": " << bad << " (see 'needlework " << command.name << " --help')\n";
            return ExitUsage;
        }
        const QString level = parser.isSet(logOption) ? parser.value(logOption) : inv.logLevel;
        if (!setupLogging(level, err))
            return ExitUsage;
        CommandIo io{out, err, static_cast<bool>(isatty(STDOUT_FILENO)), static_cast<bool>(isatty(STDERR_FILENO))};
        try {
            return command.run(parser, io);
        } catch (const UsageError &e) {
            out.flush();
            err << "needlework " << command.name << ": " << e.what() << " (see 'needlework " << command.name
                << " --help')\n";
            return ExitUsage;
        } catch (const Error &e) {
            out.flush();
            err << "needlework " << command.name << ": " << e.what() << remedyHint(e.remedy()) << '\n';
            return ExitFailed;
        } catch (const std::exception &e) {
            out.flush();
            log::get("app")->error("{}: unexpected error: {}", command.name.toStdString(), e.what());
            err << "needlework " << command.name << ": unexpected error: " << e.what() << '\n';
            return ExitFailed;
        }
    }
    }
    return ExitOk;
}

} // namespace

int runHeadless(const Invocation &inv)
{
    QTextStream out(stdout);
    QTextStream err(stderr);
    const int code = runInvocation(inv, out, err);
    // Results that did not reach their reader (a full disk, a closed pipe's device) make a
    // successful run a failure; a run that failed has said why already.
    const QString lost = finishStandardOutput(out);
    if (!lost.isEmpty() && code == ExitOk) {
        err << "needlework" << (inv.subcommand.isEmpty() ? QString() : QLatin1Char(' ') + inv.subcommand)
            << ": cannot write the output: " << lost << '\n';
        return ExitFailed;
    }
    return code;
}

} // namespace nw::app
