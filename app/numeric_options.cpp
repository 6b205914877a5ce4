// Numeric options: one parser for checking and for reading, so the two cannot disagree.
#include "app/numeric_options.h"

#include "common/assert.h"

#include <cmath>

namespace nw::app {
namespace {

QString kindWords(NumberKind kind, bool list)
{
    switch (kind) {
    case NumberKind::Integer:
        return list ? QStringLiteral("comma-separated whole numbers") : QStringLiteral("a whole number");
    case NumberKind::Real:
        return list ? QStringLiteral("comma-separated numbers") : QStringLiteral("a number");
    case NumberKind::Tokens:
        return list ? QStringLiteral("comma-separated token counts (512, 32k, 1M)")
                    : QStringLiteral("a token count (512, 32k, 1M)");
    }
    return {};
}

// The value as the message quotes it: at most 40 characters, control characters (a NUL from a
// script's bad quoting) shown as '?', so the line stays one printable line.
QString quoted(const QString &value)
{
    QString shown = value.left(40);
    for (QChar &c : shown)
        if (c.category() == QChar::Other_Control || c.category() == QChar::Other_Format)
            c = QLatin1Char('?');
    return shown + (value.size() > 40 ? QStringLiteral("…") : QString());
}

// 1048576 rather than 1.04858e+06: whole bounds print as integers.
QString boundText(double v)
{
    if (std::abs(v) <= 9007199254740992.0 && v == std::floor(v))
        return QString::number(static_cast<qint64>(v));
    return QString::number(v);
}

QStringList valuesOf(const QCommandLineParser &parser, const NumericOption &rule)
{
    QStringList values;
    for (const QString &value : parser.values(rule.name)) {
        if (!rule.list) {
            values.push_back(value);
            continue;
        }
        for (const QString &item : value.split(QLatin1Char(','), Qt::SkipEmptyParts))
            values.push_back(item.trimmed());
    }
    return values;
}

double requireParsed(const QString &text, NumberKind kind)
{
    const std::optional<double> v = parseNumber(text, kind);
    // The command line checks every value against Command::numbers before a command runs;
    // tests/app/tst_cli.cpp checks that every numeric-looking option is listed there.
    NW_ASSERT(v.has_value() && "numeric option read without a rule in Command::numbers");
    return *v;
}

} // namespace

std::optional<double> parseNumber(const QString &text, NumberKind kind)
{
    QString t = text.trimmed();
    if (t.isEmpty())
        return std::nullopt;
    bool ok = false;
    switch (kind) {
    case NumberKind::Integer: {
        const qlonglong v = t.toLongLong(&ok);
        return ok ? std::optional<double>(static_cast<double>(v)) : std::nullopt;
    }
    case NumberKind::Real: {
        const double v = t.toDouble(&ok);
        return ok && std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
    }
    case NumberKind::Tokens: {
        double scale = 1;
        const QChar last = t.back().toLower();
        if (last == QLatin1Char('k'))
            scale = 1024;
        else if (last == QLatin1Char('m'))
            scale = 1024.0 * 1024.0;
        if (scale != 1)
            t.chop(1);
        // A plain count is an integer; with a suffix, a fraction that lands on a whole count ("1.5k").
        const double v = scale == 1 ? static_cast<double>(t.toLongLong(&ok)) : t.toDouble(&ok) * scale;
        if (!ok || !std::isfinite(v) || v != std::floor(v) || std::abs(v) > 9007199254740992.0)
            return std::nullopt;
        return v;
    }
    }
    return std::nullopt;
}

std::optional<std::int64_t> parseTokenCount(const QString &text)
{
    const std::optional<double> v = parseNumber(text, NumberKind::Tokens);
    if (!v || *v < 1)
        return std::nullopt;
    return static_cast<std::int64_t>(*v);
}

QString checkNumericOptions(const QCommandLineParser &parser, std::span<const NumericOption> rules)
{
    for (const NumericOption &rule : rules) {
        if (!parser.isSet(rule.name))
            continue;
        const QStringList values = valuesOf(parser, rule);
        if (rule.list && values.isEmpty())
            return QStringLiteral("--%1 needs %2 from %3 to %4, not an empty list")
                .arg(rule.name, kindWords(rule.kind, rule.list), boundText(rule.min), boundText(rule.max));
        for (const QString &value : values) {
            const std::optional<double> v = parseNumber(value, rule.kind);
            if (v && *v >= rule.min && *v <= rule.max)
                continue;
            return QStringLiteral("--%1 needs %2 from %3 to %4, not '%5'")
                .arg(rule.name, kindWords(rule.kind, rule.list), boundText(rule.min), boundText(rule.max),
                    quoted(value));
        }
    }
    return {};
}

std::optional<std::int64_t> integerValue(const QCommandLineParser &parser, const QString &name)
{
    if (!parser.isSet(name))
        return std::nullopt;
    // Tokens and Integer parse the same way for plain numbers; k/M only pass the check for Tokens.
    return static_cast<std::int64_t>(requireParsed(parser.value(name), NumberKind::Tokens));
}

std::int64_t integerValue(const QCommandLineParser &parser, const QString &name, std::int64_t fallback)
{
    return integerValue(parser, name).value_or(fallback);
}

double realValue(const QCommandLineParser &parser, const QString &name, double fallback)
{
    if (!parser.isSet(name))
        return fallback;
    return requireParsed(parser.value(name), NumberKind::Real);
}

std::vector<std::int64_t> integerValues(const QCommandLineParser &parser, const QString &name)
{
    std::vector<std::int64_t> out;
    for (const QString &value : parser.values(name))
        for (const QString &item : value.split(QLatin1Char(','), Qt::SkipEmptyParts))
            out.push_back(static_cast<std::int64_t>(requireParsed(item.trimmed(), NumberKind::Tokens)));
    return out;
}

} // namespace nw::app
