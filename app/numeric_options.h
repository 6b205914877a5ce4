// Numeric command-line options, one way for every subcommand: a command lists the range of each
// numeric option it takes (Command::numbers), the command line checks every value given before
// the command runs (so a bad `--ctx abc` is one line and exit 2, before any model is loaded), and
// the command reads the values back through the same parser.
#pragma once

#include <QCommandLineParser>
#include <QString>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace nw::app {

enum class NumberKind {
    Integer, // a whole number: 12
    Real,    // a finite decimal number: 0.95 (nan and inf are refused)
    Tokens,  // a whole token count, with an optional k (×1024) or M (×1024²) suffix: 512, 1.5k, 32k, 1M
};

struct NumericOption {
    QString name;      // without the dashes: "ctx"
    NumberKind kind = NumberKind::Integer;
    double min = 0;
    double max = 0;
    bool list = false; // a comma-separated list of such numbers ("0,25,50")

    // The rules shared by several commands.
    static NumericOption threads() { return {QStringLiteral("threads"), NumberKind::Integer, 0, 4096}; }
    static NumericOption contextTokens() { return {QStringLiteral("ctx"), NumberKind::Tokens, 8, 1 << 24}; }
    static NumericOption documentId(const QString &name = QStringLiteral("doc"))
    {
        return {name, NumberKind::Integer, 1, 9007199254740992.0}; // up to 2^53
    }
};

// Parses one value of `kind` (no range check); nullopt when it is not such a number.
std::optional<double> parseNumber(const QString &text, NumberKind kind);
// A token count as NumberKind::Tokens reads it, at least 1 ("1.5k" = 1536); nullopt otherwise.
std::optional<std::int64_t> parseTokenCount(const QString &text);

// Checks every value given for the options in `rules` (repeated options: each value; lists:
// each item); returns the first problem as one line without the command name
// ("--ctx needs a whole number from 8 to 16777216, not 'abc'"), or an empty string.
QString checkNumericOptions(const QCommandLineParser &parser, std::span<const NumericOption> rules);

// Readers for values the check has passed: nullopt (or the fallback) when the option is absent.
std::optional<std::int64_t> integerValue(const QCommandLineParser &parser, const QString &name);
std::int64_t integerValue(const QCommandLineParser &parser, const QString &name, std::int64_t fallback);
double realValue(const QCommandLineParser &parser, const QString &name, double fallback);
// Every value of a repeated option, or every item of a list option, in order.
std::vector<std::int64_t> integerValues(const QCommandLineParser &parser, const QString &name);

} // namespace nw::app
