// `needlework sessions [list|show ID|export ID --format md|json]`: the questions asked so far.
#include "app/commands/commands.h"

#include "app/session_service.h"
#include "common/error.h"
#include "store/library_store.h"

#include <nlohmann/json.hpp>

namespace nw::app {
namespace {

std::int64_t sessionIdArgument(const QStringList &args)
{
    const std::optional<double> id = args.size() >= 2 ? parseNumber(args[1], NumberKind::Integer) : std::nullopt;
    if (!id || *id < 1)
        throw UsageError(args.size() >= 2 ? "'" + args[1].left(40).toStdString() + "' is not a session id (see 'needlework sessions list')"
                                          : std::string("give a session id (see 'needlework sessions list')"));
    return static_cast<std::int64_t>(*id);
}

} // namespace

Command sessionsCommand()
{
    return {
        .name = QStringLiteral("sessions"),
        .summary = QStringLiteral("List, show and export question sessions."),
        .usage = QStringLiteral("[list | show ID | export ID] [--format md|json] [--db FILE] [--json]"),
        .description = QStringLiteral(
            "Every 'ask' and 'chat' is kept as a session: the questions, answers, citations, model, KV mode, KV bytes "
            "and timings. 'list' shows the sessions, 'show ID' one session as text, 'export ID' writes it as Markdown "
            "(default) or JSON."),
        .configure =
            [](QCommandLineParser &parser) {
                addDatabaseOption(parser);
                addJsonOption(parser);
                parser.addOption({QStringLiteral("format"), QStringLiteral("md or json (export)."), QStringLiteral("FORMAT"),
                                  QStringLiteral("md")});
                parser.addPositionalArgument(QStringLiteral("action"), QStringLiteral("list (default), show ID or export ID."));
            },
        .run =
            [](const QCommandLineParser &parser, CommandIo &io) {
                const QStringList args = parser.positionalArguments();
                const QString action = args.isEmpty() ? QStringLiteral("list") : args.front();
                const auto library = openLibrary(parser, store::LibraryAccess::ReadOnly);
                SessionService sessions(library->database());
                if (action == QLatin1String("list")) {
                    const auto list = sessions.store().sessions();
                    if (parser.isSet(QStringLiteral("json"))) {
                        nlohmann::json j = nlohmann::json::array();
                        for (const auto &s : list)
                            j.push_back({{"id", s.id}, {"title", s.title.toStdString()}, {"turns", s.turnCount},
                                         {"created", s.created.toStdString()}, {"updated", s.updated.toStdString()}});
                        io.out << QString::fromStdString(j.dump(2)) << '\n';
                    } else if (list.empty()) {
                        io.out << "No sessions yet: ask something with 'needlework ask \"...\"' or 'needlework chat'.\n";
                    } else {
                        for (const auto &s : list)
                            io.out << QString::number(s.id).rightJustified(5) << "  " << s.updated.left(19) << "  "
                                   << QString::number(s.turnCount).rightJustified(3) << " turns  " << s.title << '\n';
                    }
                    return static_cast<int>(ExitOk);
                }
                if (action == QLatin1String("show") || action == QLatin1String("export")) {
                    const std::int64_t id = sessionIdArgument(args);
                    const QString format = action == QLatin1String("show") && !parser.isSet(QStringLiteral("format"))
                                               ? (parser.isSet(QStringLiteral("json")) ? QStringLiteral("json") : QStringLiteral("md"))
                                               : parser.value(QStringLiteral("format"));
                    if (format == QLatin1String("json"))
                        io.out << QString::fromStdString(sessions.exportJson(id).dump(2)) << '\n';
                    else if (format == QLatin1String("md") || format == QLatin1String("markdown"))
                        io.out << sessions.exportMarkdown(id);
                    else
                        fail("unknown format '{}': use md or json", format.toStdString());
                    return static_cast<int>(ExitOk);
                }
                io.err << "needlework sessions: unknown action '" << action << "' (use list, show ID or export ID)\n";
                return static_cast<int>(ExitUsage);
            },
    };
}

} // namespace nw::app
