// Build-time tool: writes the man page and the bash and zsh completions from the help texts that
// `needlework --help` and `needlework SUBCOMMAND --help` print (app/cli.h), for every registered
// subcommand, so the three cannot drift from the program.
//
//   nw_help_docs --version V --date YYYY-MM-DD --summary TEXT
//                [--man FILE] [--bash FILE] [--zsh FILE]
#include "app/cli.h"
#include "app/command.h"
#include "app/paths.h"
#include "common/log.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QRegularExpression>
#include <QSaveFile>
#include <QTemporaryDir>
#include <QTextStream>

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace {

struct OptionDoc {
    QStringList names;   // "-h", "--help"
    QString valueName;   // "FILE" for "--db <FILE>" or "--db FILE"; empty for a flag
    QString description; // continuation lines joined with spaces
};

struct ArgumentDoc {
    QString name;
    QString description;
};

// One help text taken apart. Both layouts are read: Qt's QCommandLineParser::helpText()
// (subcommands) and programHelp()'s own, which lists subcommands and writes "--db FILE".
struct HelpDoc {
    QStringList usage;                            // each "Usage:" line without the word
    QStringList description;                      // lines up to the first section; "" between paragraphs
    QList<std::pair<QString, QString>> commands;  // name, summary ("Subcommands:")
    QList<OptionDoc> options;                     // "Options:"
    QList<ArgumentDoc> arguments;                 // "Arguments:"
};

// The first run of two or more spaces after the indent separates a term from its description.
std::pair<QString, QString> splitColumns(const QString &line)
{
    const QString trimmed = line.trimmed();
    static const QRegularExpression gap(QStringLiteral("\\s{2,}"));
    const QRegularExpressionMatch m = gap.match(trimmed);
    if (!m.hasMatch())
        return {trimmed, QString()};
    return {trimmed.left(m.capturedStart()), trimmed.mid(m.capturedEnd())};
}

OptionDoc parseOptionTerm(const QString &term, const QString &description)
{
    OptionDoc option;
    option.description = description;
    for (const QString &piece : term.split(QStringLiteral(", "), Qt::SkipEmptyParts)) {
        const qsizetype space = piece.indexOf(QLatin1Char(' '));
        option.names << (space < 0 ? piece : piece.left(space));
        if (space >= 0) {
            QString value = piece.mid(space + 1).trimmed();
            if (value.startsWith(QLatin1Char('<')) && value.endsWith(QLatin1Char('>')))
                value = value.mid(1, value.size() - 2);
            option.valueName = value;
        }
    }
    return option;
}

// Appends a wrapped line to a description. QCommandLineParser wraps at the last space before
// column 79, dropping that space, and cuts a line that has no space at all (a long path) in the
// middle of the word: only then do the pieces join without a space.
void joinWrapped(QString &description, QString &lastSegment, const QString &segment)
{
    const bool cutMidWord = !lastSegment.contains(QLatin1Char(' '));
    description += cutMidWord ? segment : QLatin1Char(' ') + segment;
    lastSegment = segment;
}

HelpDoc parseHelp(const QString &text)
{
    enum class Section { Usage, Description, Commands, Options, Arguments };
    HelpDoc doc;
    Section section = Section::Usage;
    QString lastSegment; // the previous line of the description being read
    const QStringList lines = text.split(QLatin1Char('\n'));
    for (const QString &raw : lines) {
        const QString line = raw.trimmed().isEmpty() ? QString() : raw;
        if (line.startsWith(QLatin1String("Usage: "))) {
            doc.usage << line.mid(7).trimmed();
            continue;
        }
        if (line == QLatin1String("Subcommands:")) {
            section = Section::Commands;
            continue;
        }
        if (line == QLatin1String("Options:")) {
            section = Section::Options;
            continue;
        }
        if (line == QLatin1String("Arguments:")) {
            section = Section::Arguments;
            continue;
        }
        const bool continuation = line.startsWith(QLatin1String("   "));
        switch (section) {
        case Section::Usage:
            if (continuation) {
                doc.usage << line.trimmed();
                break;
            }
            section = Section::Description;
            [[fallthrough]];
        case Section::Description:
            if (!line.isEmpty() || (!doc.description.isEmpty() && !doc.description.last().isEmpty()))
                doc.description << line.trimmed();
            break;
        case Section::Commands:
            if (!line.isEmpty())
                doc.commands << splitColumns(line);
            break;
        case Section::Options:
            if (line.isEmpty())
                break;
            if (continuation && !doc.options.isEmpty()) {
                joinWrapped(doc.options.last().description, lastSegment, line.trimmed());
            } else {
                const auto [term, description] = splitColumns(line);
                doc.options << parseOptionTerm(term, description);
                lastSegment = description;
            }
            break;
        case Section::Arguments:
            if (line.isEmpty())
                break;
            if (continuation && !doc.arguments.isEmpty()) {
                joinWrapped(doc.arguments.last().description, lastSegment, line.trimmed());
            } else {
                const auto [name, description] = splitColumns(line);
                doc.arguments << ArgumentDoc{name, description};
                lastSegment = description;
            }
            break;
        }
    }
    while (!doc.description.isEmpty() && doc.description.last().isEmpty())
        doc.description.removeLast();
    return doc;
}

struct CommandDoc {
    QString name;
    QString summary;
    HelpDoc help;
};

// ---- roff ----------------------------------------------------------------------------------

// Escapes text for roff: backslashes, a leading dot or quote, non-ASCII as \[uXXXX], and every
// hyphen of a word that starts with one ("-h", "--log-level") as a minus sign, so an option
// copied from the rendered page still works.
QString roff(const QString &text)
{
    QString out;
    bool inOption = false;
    for (qsizetype i = 0; i < text.size(); ++i) {
        const QChar c = text[i];
        const QChar before = i > 0 ? text[i - 1] : QLatin1Char(' ');
        if (c == QLatin1Char('-') && !inOption)
            inOption = before.isSpace() || QStringLiteral("[('|\"").contains(before);
        else if (!c.isLetterOrNumber() && c != QLatin1Char('-'))
            inOption = false;
        if (c == QLatin1Char('\\'))
            out += QLatin1String("\\e");
        else if (c == QLatin1Char('-') && inOption)
            out += QLatin1String("\\-");
        else if (c.unicode() > 0x7e)
            out += QStringLiteral("\\[u%1]").arg(QString::number(c.unicode(), 16).toUpper().rightJustified(4, QLatin1Char('0')));
        else
            out += c;
    }
    if (out.startsWith(QLatin1Char('.')) || out.startsWith(QLatin1Char('\'')))
        out.prepend(QLatin1String("\\&"));
    return out;
}

QString bold(const QString &text) { return QStringLiteral("\\fB%1\\fR").arg(roff(text)); }
QString italic(const QString &text) { return QStringLiteral("\\fI%1\\fR").arg(roff(text)); }

void writeParagraphs(QTextStream &s, const QStringList &lines)
{
    for (const QString &line : lines)
        s << (line.isEmpty() ? QStringLiteral(".PP") : roff(line)) << '\n';
}

void writeOptions(QTextStream &s, const QList<OptionDoc> &options)
{
    for (const OptionDoc &option : options) {
        QStringList names;
        for (const QString &name : option.names)
            names << bold(name);
        s << ".TP\n" << names.join(QStringLiteral(", "));
        if (!option.valueName.isEmpty())
            s << ' ' << italic(option.valueName);
        s << '\n' << roff(option.description) << '\n';
    }
}

void writeArguments(QTextStream &s, const QList<ArgumentDoc> &arguments)
{
    for (const ArgumentDoc &argument : arguments)
        s << ".TP\n" << italic(argument.name) << '\n' << roff(argument.description) << '\n';
}

struct PathsDoc {
    QString data, database, log, cache;
};

QString manPage(const HelpDoc &program, const QList<CommandDoc> &commands, const PathsDoc &paths,
                const QString &version, const QString &date, const QString &summary)
{
    QString text;
    QTextStream s(&text);
    s << ".\\\" Generated by packaging/help_docs.cpp from the --help texts; do not edit.\n"
      << ".TH NEEDLEWORK 1 \"" << date << "\" \"needlework " << version << "\" \"User Commands\"\n"
      << ".SH NAME\n"
      << "needlework \\- " << roff(summary.left(1).toLower() + summary.mid(1)) << '\n'
      << ".SH SYNOPSIS\n";
    for (qsizetype i = 0; i < program.usage.size(); ++i) {
        const auto [form, remark] = splitColumns(program.usage[i]);
        if (i > 0)
            s << ".br\n";
        const QString rest = form.section(QLatin1Char(' '), 1);
        s << ".B needlework\n" << roff(rest) << '\n';
    }
    s << ".SH DESCRIPTION\n";
    writeParagraphs(s, program.description);
    for (const QString &usage : program.usage) {
        const auto [form, remark] = splitColumns(usage);
        if (remark.isEmpty())
            continue;
        s << ".TP\n" << bold(form) << '\n' << roff(remark.left(1).toUpper() + remark.mid(1)) << ".\n";
    }
    s << ".SH OPTIONS\n";
    writeOptions(s, program.options);
    s << ".SH SUBCOMMANDS\n"
      << "Each subcommand runs without a window and takes the options listed with it; "
         "\\fBneedlework\\fR \\fISUBCOMMAND\\fR \\fB\\-\\-help\\fR prints the same text.\n";
    for (const CommandDoc &command : commands) {
        s << ".SS \"" << roff(command.help.usage.value(0)).replace(QLatin1Char('"'), QLatin1String("\\(dq")) << "\"\n";
        writeParagraphs(s, command.help.description);
        if (!command.help.arguments.isEmpty()) {
            s << ".PP\nArguments:\n.RS\n";
            writeArguments(s, command.help.arguments);
            s << ".RE\n";
        }
        if (!command.help.options.isEmpty()) {
            s << ".PP\nOptions:\n.RS\n";
            writeOptions(s, command.help.options);
            s << ".RE\n";
        }
    }
    s << ".SH FILES\n"
      << "Needlework follows the XDG base directories; \\fBneedlework doctor\\fR prints the ones in use.\n"
      << ".TP\n" << italic(paths.database) << "\nThe library database (SQLite), unless \\fB\\-\\-db\\fR names another.\n"
      << ".TP\n" << italic(paths.log) << "\nThe log file (rotated).\n"
      << ".TP\n" << italic(paths.cache) << "/\nCaches that can be rebuilt, such as SVD factors and page renders.\n"
      << ".SH ENVIRONMENT\n"
      << ".TP\n.B XDG_DATA_HOME\nWhere the data directory " << italic(paths.data) << " is made; default "
      << italic(QStringLiteral("~/.local/share")) << ".\n"
      << ".TP\n.B XDG_CACHE_HOME\nWhere the cache directory is made; default " << italic(QStringLiteral("~/.cache")) << ".\n"
      << ".SH EXIT STATUS\n"
      << ".TP\n.B " << nw::app::ExitOk << "\nThe job was done.\n"
      << ".TP\n.B " << nw::app::ExitFailed << "\nThe job could not be done (for example every input failed, or a model "
         "would not load); one line on standard error says why.\n"
      << ".TP\n.B " << nw::app::ExitUsage << "\nThe command line was wrong: an unknown subcommand or option, or a "
         "missing argument.\n";
    return text;
}

// ---- completions ---------------------------------------------------------------------------

enum class ValueKind { None, File, Directory, Words };

// What a value name asks for: FILE, PATH, M.gguf → files; DIR → directories; LEVEL → the
// words in the option's description that the log level parser accepts.
ValueKind valueKind(const OptionDoc &option, QStringList &words)
{
    const QString value = option.valueName.toUpper();
    if (value.isEmpty())
        return ValueKind::None;
    if (value.contains(QLatin1String("DIR")))
        return ValueKind::Directory;
    if (value.contains(QLatin1String("FILE")) || value.contains(QLatin1String("PATH")) || value.contains(QLatin1Char('.')))
        return ValueKind::File;
    if (value == QLatin1String("LEVEL")) {
        static const QRegularExpression word(QStringLiteral("[a-z]+"));
        for (auto it = word.globalMatch(option.description); it.hasNext();) {
            const QString candidate = it.next().captured();
            spdlog::level::level_enum level{};
            if (nw::log::parseLevel(candidate.toStdString(), level) && !words.contains(candidate))
                words << candidate;
        }
        return ValueKind::Words;
    }
    return ValueKind::None;
}

// What a positional argument takes, from its name as --help shows it (PATH, FILE, DIR, QUERY).
ValueKind argumentKind(const QList<ArgumentDoc> &arguments)
{
    for (const ArgumentDoc &argument : arguments) {
        const QString name = argument.name.toUpper();
        if (name.contains(QLatin1String("DIR")))
            return ValueKind::Directory;
        if (name.contains(QLatin1String("PATH")) || name.contains(QLatin1String("FILE")))
            return ValueKind::File;
    }
    return ValueKind::None;
}

QString bashValueCase(const QList<OptionDoc> &options, const QString &indent)
{
    QString text;
    QTextStream s(&text);
    for (const OptionDoc &option : options) {
        QStringList words;
        const ValueKind kind = valueKind(option, words);
        if (option.valueName.isEmpty())
            continue;
        s << indent << option.names.join(QLatin1Char('|')) << ")\n" << indent << "    ";
        switch (kind) {
        case ValueKind::File:
            s << "compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\"))";
            break;
        case ValueKind::Directory:
            s << "compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- \"$cur\"))";
            break;
        case ValueKind::Words:
            s << "COMPREPLY=($(compgen -W \"" << words.join(QLatin1Char(' ')) << "\" -- \"$cur\"))";
            break;
        case ValueKind::None:
            s << "COMPREPLY=()";
            break;
        }
        s << "\n" << indent << "    return ;;\n";
    }
    return text;
}

QStringList allNames(const QList<OptionDoc> &options)
{
    QStringList names;
    for (const OptionDoc &option : options)
        names << option.names;
    return names;
}

QString bashCompletion(const HelpDoc &program, const QList<CommandDoc> &commands)
{
    QStringList valueOptions;
    for (const OptionDoc &option : program.options)
        if (!option.valueName.isEmpty())
            valueOptions << option.names;
    QStringList names;
    for (const CommandDoc &command : commands)
        names << command.name;

    QString text;
    QTextStream s(&text);
    s << "# bash completion for needlework; generated by packaging/help_docs.cpp from the --help texts.\n"
         "_needlework()\n{\n"
         "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
         "    local i sub=\n"
         "    # '--db=FILE' reaches us as '--db' '=' 'FILE' (COMP_WORDBREAKS holds '=')\n"
         "    if [[ $cur == = ]]; then cur=; elif [[ $prev == = && $COMP_CWORD -ge 2 ]]; then prev=${COMP_WORDS[COMP_CWORD-2]}; fi\n"
         "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
         "        case ${COMP_WORDS[i]} in\n";
    if (!valueOptions.isEmpty())
        s << "            " << valueOptions.join(QLatin1Char('|')) << ") ((i++)) ;;\n";
    s << "            -* | =) ;;\n"
         "            *) sub=${COMP_WORDS[i]}; break ;;\n"
         "        esac\n"
         "    done\n"
         "    case $sub in\n"
         "        '')\n"
         "            case $prev in\n"
      << bashValueCase(program.options, QStringLiteral("                "))
      << "            esac\n"
         "            COMPREPLY=($(compgen -W \"" << (names + allNames(program.options)).join(QLatin1Char(' ')) << "\" -- \"$cur\"))\n"
         "            ;;\n";
    for (const CommandDoc &command : commands) {
        s << "        " << command.name << ")\n"
          << "            case $prev in\n"
          << bashValueCase(command.help.options, QStringLiteral("                "))
          << "            esac\n";
        const QString optionWords = allNames(command.help.options).join(QLatin1Char(' '));
        const ValueKind arguments = argumentKind(command.help.arguments);
        if (arguments == ValueKind::None) {
            s << "            COMPREPLY=($(compgen -W \"" << optionWords << "\" -- \"$cur\"))\n";
        } else {
            s << "            if [[ $cur == -* ]]; then\n"
              << "                COMPREPLY=($(compgen -W \"" << optionWords << "\" -- \"$cur\"))\n"
              << "            else\n"
              << "                compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen "
              << (arguments == ValueKind::Directory ? "-d" : "-f") << " -- \"$cur\"))\n"
              << "            fi\n";
        }
        s << "            ;;\n";
    }
    s << "    esac\n"
         "}\n"
         "complete -F _needlework needlework\n";
    return text;
}

// zsh _arguments specs: descriptions go inside [...] within single quotes.
QString zshDescription(QString text)
{
    const qsizetype stop = text.indexOf(QLatin1String(". "));
    if (stop >= 0)
        text = text.left(stop);
    if (text.endsWith(QLatin1Char('.')))
        text.chop(1);
    text.replace(QLatin1Char('\\'), QLatin1String("\\\\"));
    text.replace(QLatin1Char('['), QLatin1String("\\["));
    text.replace(QLatin1Char(']'), QLatin1String("\\]"));
    text.replace(QLatin1Char('\''), QLatin1String("'\\''"));
    return text;
}

QString zshSpecs(const QList<OptionDoc> &options, bool exclusiveHelp, const QString &indent)
{
    QString text;
    QTextStream s(&text);
    for (const OptionDoc &option : options) {
        QStringList words;
        const ValueKind kind = valueKind(option, words);
        const QString description = zshDescription(option.description);
        QString action;
        switch (kind) {
        case ValueKind::File: action = QStringLiteral(":file:_files"); break;
        case ValueKind::Directory: action = QStringLiteral(":directory:_files -/"); break;
        case ValueKind::Words: action = QStringLiteral(":level:(%1)").arg(words.join(QLatin1Char(' '))); break;
        case ValueKind::None:
            action = option.valueName.isEmpty() ? QString() : QStringLiteral(":%1: ").arg(option.valueName.toLower());
            break;
        }
        const bool isHelpOrVersion = option.names.contains(QLatin1String("--help")) || option.names.contains(QLatin1String("--version"));
        const QString exclusion = exclusiveHelp && isHelpOrVersion
                                      ? QStringLiteral("(- *)")
                                      : option.names.size() > 1 ? QStringLiteral("(%1)").arg(option.names.join(QLatin1Char(' ')))
                                                                : QString();
        for (const QString &name : option.names) {
            const QString spelled = option.valueName.isEmpty() || !name.startsWith(QLatin1String("--")) ? name : name + QLatin1Char('=');
            s << indent << '\'' << exclusion << spelled << '[' << description << ']' << action << "' \\\n";
        }
    }
    return text;
}

QString zshCompletion(const HelpDoc &program, const QList<CommandDoc> &commands)
{
    QString text;
    QTextStream s(&text);
    s << "#compdef needlework\n"
         "# zsh completion for needlework; generated by packaging/help_docs.cpp from the --help texts.\n"
         "_needlework() {\n"
         "    local curcontext=$curcontext state line ret=1\n"
         "    typeset -A opt_args\n"
         "    _arguments -C -S \\\n"
      << zshSpecs(program.options, true, QStringLiteral("        "))
      << "        '1: :->subcommand' \\\n"
         "        '*:: :->arguments' && ret=0\n"
         "    case $state in\n"
         "        subcommand)\n"
         "            local -a subcommands\n"
         "            subcommands=(\n";
    for (const CommandDoc &command : commands)
        s << "                '" << command.name << ':' << zshDescription(command.summary) << "'\n";
    s << "            )\n"
         "            _describe -t subcommands 'needlework subcommand' subcommands && ret=0\n"
         "            ;;\n"
         "        arguments)\n"
         "            curcontext=${curcontext%:*:*}:needlework-$words[1]:\n"
         "            case $words[1] in\n";
    for (const CommandDoc &command : commands) {
        s << "                " << command.name << ")\n"
          << "                    _arguments -S \\\n"
          << zshSpecs(command.help.options, false, QStringLiteral("                        "));
        switch (argumentKind(command.help.arguments)) {
        case ValueKind::File: s << "                        '*:file:_files' && ret=0\n"; break;
        case ValueKind::Directory: s << "                        '*:directory:_files -/' && ret=0\n"; break;
        default:
            if (command.help.arguments.isEmpty())
                s << "                        && ret=0\n";
            else
                s << "                        '*:" << zshDescription(command.help.arguments.first().name.toLower()) << ": ' && ret=0\n";
            break;
        }
        s << "                    ;;\n";
    }
    s << "            esac\n"
         "            ;;\n"
         "    esac\n"
         "    return ret\n"
         "}\n"
         "_needlework \"$@\"\n";
    return text;
}

bool writeFile(const QString &path, const QString &text)
{
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        std::fprintf(stderr, "nw_help_docs: cannot write %s: %s\n", qPrintable(path), qPrintable(file.errorString()));
        return false;
    }
    file.write(text.toUtf8());
    if (!file.commit()) {
        std::fprintf(stderr, "nw_help_docs: cannot write %s: %s\n", qPrintable(path), qPrintable(file.errorString()));
        return false;
    }
    return true;
}

} // namespace

int main(int argc, char **argv)
{
    // The help texts show default paths under the home directory; take them from an empty
    // temporary home and print that home as "~", so the build machine's paths stay out.
    QTemporaryDir home;
    if (!home.isValid()) {
        std::fputs("nw_help_docs: cannot make a temporary directory\n", stderr);
        return 1;
    }
    qputenv("HOME", home.path().toLocal8Bit());
    qunsetenv("XDG_DATA_HOME");
    qunsetenv("XDG_CACHE_HOME");
    qunsetenv("XDG_CONFIG_HOME");

    QCoreApplication app(argc, argv);
    nw::app::setApplicationIdentity();

    QCommandLineParser parser;
    parser.addOptions({{QStringLiteral("version"), QStringLiteral("Program version."), QStringLiteral("V")},
                       {QStringLiteral("date"), QStringLiteral("Release date for the man page."), QStringLiteral("DATE")},
                       {QStringLiteral("summary"), QStringLiteral("One-line summary for NAME."), QStringLiteral("TEXT")},
                       {QStringLiteral("man"), QStringLiteral("Write the man page here."), QStringLiteral("FILE")},
                       {QStringLiteral("bash"), QStringLiteral("Write the bash completion here."), QStringLiteral("FILE")},
                       {QStringLiteral("zsh"), QStringLiteral("Write the zsh completion here."), QStringLiteral("FILE")}});
    parser.process(app);

    const QString homePath = home.path();
    auto unhome = [&homePath](QString text) { return text.replace(homePath, QStringLiteral("~")); };

    const HelpDoc program = parseHelp(unhome(nw::app::programHelp()));
    QList<CommandDoc> commands;
    for (const nw::app::Command &command : nw::app::allCommands())
        commands << CommandDoc{command.name, command.summary, parseHelp(unhome(nw::app::commandHelp(command)))};
    const PathsDoc paths{unhome(nw::app::dataDirectory()), unhome(nw::app::defaultDatabasePath()),
                         unhome(nw::app::logFilePath()), unhome(nw::app::cacheDirectory())};

    // A help text this parser misreads would silently drop entries; refuse instead.
    if (program.commands.size() != commands.size() || program.options.isEmpty()) {
        std::fprintf(stderr, "nw_help_docs: read %lld subcommands and %lld options from 'needlework --help', "
                             "expected %zu subcommands; did its layout change?\n",
                     static_cast<long long>(program.commands.size()), static_cast<long long>(program.options.size()),
                     nw::app::allCommands().size());
        return 1;
    }
    for (const CommandDoc &command : commands) {
        if (command.help.usage.isEmpty() || !allNames(command.help.options).contains(QLatin1String("--help"))) {
            std::fprintf(stderr, "nw_help_docs: could not read 'needlework %s --help'; did its layout change?\n",
                         qPrintable(command.name));
            return 1;
        }
    }

    bool ok = true;
    if (parser.isSet(QStringLiteral("man")))
        ok = writeFile(parser.value(QStringLiteral("man")),
                       manPage(program, commands, paths, parser.value(QStringLiteral("version")),
                               parser.value(QStringLiteral("date")), parser.value(QStringLiteral("summary")))) && ok;
    if (parser.isSet(QStringLiteral("bash")))
        ok = writeFile(parser.value(QStringLiteral("bash")), bashCompletion(program, commands)) && ok;
    if (parser.isSet(QStringLiteral("zsh")))
        ok = writeFile(parser.value(QStringLiteral("zsh")), zshCompletion(program, commands)) && ok;
    return ok ? 0 : 1;
}
