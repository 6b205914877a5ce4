// Sentence spans, word boxes, section headings and quote checks over page text.
#include "app/citations.h"

#include "app/page_numbers.h"
#include "common/error.h"

#include <QRegularExpression>
#include <QSet>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <set>

namespace nw::app {
namespace {

bool isSpace(QChar c)
{
    return c.isSpace();
}

// The token that ends just before `dot` is a list marker or section number: "6", "2.1",
// "a", "iv" (so "6. Conveying" and "a. the" do not end a sentence).
bool isMarkerBefore(const QString &text, int dot)
{
    int begin = dot;
    while (begin > 0 && !isSpace(text[begin - 1]) && text[begin - 1] != QLatin1Char('('))
        --begin;
    const QString token = text.mid(begin, dot - begin);
    if (token.isEmpty())
        return false;
    static const QRegularExpression marker(
        QStringLiteral("^(\\d+(\\.\\d+)*|[a-zA-Z]|[ivxlc]+|e\\.g|i\\.e|etc|Inc|Mr|Dr|No|vs)$"));
    return marker.match(token).hasMatch();
}

bool isRule(const QString &line)
{
    static const QRegularExpression rule(QStringLiteral("^\\s*([-=_*~])\\1{2,}\\s*$"));
    return rule.match(line).hasMatch();
}

bool startsClause(const QString &line)
{
    static const QRegularExpression clause(QStringLiteral("^\\s*((\\d+\\.)+\\d*|\\(?[a-z]\\)|\\([ivx]+\\))\\s"));
    return clause.match(line).hasMatch();
}

bool isTitle(const QString &title)
{
    static const QSet<QString> minor = { QStringLiteral("a"), QStringLiteral("an"), QStringLiteral("and"),
        QStringLiteral("as"), QStringLiteral("at"), QStringLiteral("by"), QStringLiteral("for"), QStringLiteral("from"),
        QStringLiteral("in"), QStringLiteral("of"), QStringLiteral("on"), QStringLiteral("or"), QStringLiteral("the"),
        QStringLiteral("to"), QStringLiteral("with") };
    const QStringList words = title.split(QLatin1Char(' '), Qt::SkipEmptyParts);
    if (words.isEmpty() || words.size() > 10 || title.size() > 70)
        return false;
    for (const QString &w : words)
        if (!w.front().isUpper() && !w.front().isDigit() && !w.front().isPunct() && !minor.contains(w))
            return false;
    return true;
}

} // namespace

nlohmann::json citationToJson(const Citation &c)
{
    nlohmann::json boxes = nlohmann::json::array();
    for (const QRectF &r : c.boxes)
        boxes.push_back({ r.x(), r.y(), r.width(), r.height() });
    return { { "document_id", c.documentId }, { "sha256", c.sha256.toStdString() }, { "title", c.title.toStdString() },
        { "path", c.path.toStdString() }, { "page", c.page }, { "page_label", c.pageLabel.toStdString() },
        { "section", c.section.toStdString() }, { "start", c.start }, { "length", c.length },
        { "quote", c.quote.toStdString() }, { "boxes", boxes }, { "part", c.part.toStdString() },
        { "paragraph", c.paragraph },
        { "ocr_confidence", c.ocrConfidence >= 0 ? nlohmann::json(c.ocrConfidence) : nlohmann::json() },
        { "low_confidence", isLowConfidence(c) } };
}

Citation citationFromJson(const nlohmann::json &j)
{
    try {
        Citation c;
        c.documentId = j.at("document_id").get<std::int64_t>();
        c.sha256 = QString::fromStdString(j.at("sha256").get<std::string>());
        c.title = QString::fromStdString(j.value("title", std::string()));
        c.path = QString::fromStdString(j.value("path", std::string()));
        c.page = j.at("page").get<int>();
        c.pageLabel = QString::fromStdString(j.value("page_label", std::string()));
        c.section = QString::fromStdString(j.value("section", std::string()));
        c.start = j.at("start").get<int>();
        c.length = j.at("length").get<int>();
        c.quote = QString::fromStdString(j.value("quote", std::string()));
        for (const auto &b : j.value("boxes", nlohmann::json::array()))
            c.boxes.emplace_back(
                b.at(0).get<double>(), b.at(1).get<double>(), b.at(2).get<double>(), b.at(3).get<double>());
        // Citations saved before these fields existed have none of them.
        c.part = QString::fromStdString(j.value("part", std::string()));
        c.paragraph = j.value("paragraph", 0);
        if (const auto it = j.find("ocr_confidence"); it != j.end() && it->is_number())
            c.ocrConfidence = it->get<double>();
        return c;
    } catch (const nlohmann::json::exception &e) {
        fail("citation: malformed JSON object ({})", e.what());
    }
}

QString citationLabel(const Citation &c)
{
    QString label = c.title;
    if (!c.part.isEmpty())
        label += QStringLiteral(" (") + c.part + QLatin1Char(')');
    label += QStringLiteral(", ") + pageCitation(c.page, c.pageLabel);
    if (c.paragraph > 0)
        label += QStringLiteral(", ¶ ") + QString::number(c.paragraph);
    if (!c.section.isEmpty())
        label += QStringLiteral(", §") + c.section;
    if (isLowConfidence(c))
        label += QStringLiteral(" [OCR, %1% confidence]").arg(std::lround(c.ocrConfidence));
    return label;
}

void placeCitation(Citation &c, const store::DocumentInfo &document, const store::PageRecord &page)
{
    c.part = document.part;
    c.ocrConfidence = page.source == QLatin1String(store::kSourceOcr) ? page.ocrConfidence : -1;
    // Paragraphs end at the blank lines of the page text, counted from the page's first one.
    c.paragraph = page.firstParagraph > 0 ? page.firstParagraph
            + static_cast<int>(QStringView(page.text)
                                   .left(std::clamp<qsizetype>(c.start, 0, page.text.size()))
                                   .count(QStringLiteral("\n\n")))
                                          : 0;
}

std::vector<TextSpan> sentenceSpans(const QString &text)
{
    std::vector<TextSpan> spans;
    const int n = static_cast<int>(text.size());
    int start = 0;
    auto finishAt = [&](int end) {
        int s = start;
        int e = end;
        while (s < e && isSpace(text[s]))
            ++s;
        while (e > s && isSpace(text[e - 1]))
            --e;
        if (e > s)
            spans.push_back({ s, e - s });
        start = end;
    };
    for (int i = 0; i < n; ++i) {
        const QChar c = text[i];
        if (c == QLatin1Char('\n')) {
            // A blank line (only white space until the next newline) ends a paragraph.
            int j = i + 1;
            while (j < n && text[j] != QLatin1Char('\n') && isSpace(text[j]))
                ++j;
            if (j < n && text[j] == QLatin1Char('\n')) {
                finishAt(i);
                i = j - 1;
                continue;
            }
            // PDF text has no blank lines, so structure ends sentences too: a rule line
            // ("-----", "=====") stands alone, and a numbered clause or list item starts anew.
            const qsizetype lineEnd = text.indexOf(QLatin1Char('\n'), i + 1);
            const QString next = text.mid(i + 1, lineEnd < 0 ? -1 : lineEnd - i - 1);
            const qsizetype lineStart = text.lastIndexOf(QLatin1Char('\n'), i - 1) + 1;
            const QString current = text.mid(lineStart, i - lineStart);
            if (startsClause(next) || isRule(next) || isRule(current))
                finishAt(i);
            continue;
        }
        if ((c == QLatin1Char('.') || c == QLatin1Char(';') || c == QLatin1Char('?') || c == QLatin1Char('!'))
            && (i + 1 == n || isSpace(text[i + 1])
                || ((text[i + 1] == QLatin1Char('"') || text[i + 1] == QLatin1Char(')'))
                    && (i + 2 == n || isSpace(text[i + 2]))))) {
            if (c == QLatin1Char('.') && isMarkerBefore(text, i))
                continue;
            const int end = (i + 1 < n && !isSpace(text[i + 1])) ? i + 2 : i + 1;
            finishAt(end);
            i = end - 1;
        }
    }
    finishAt(n);
    return spans;
}

std::vector<QRectF> boxesForSpan(const std::vector<store::WordBox> &words, TextSpan span)
{
    std::vector<QRectF> boxes;
    for (const store::WordBox &w : words) {
        const int ws = static_cast<int>(w.offset);
        const int we = ws + w.length;
        if (we > span.start && ws < span.end())
            boxes.push_back(w.box);
    }
    return boxes;
}

QString sectionHeadingBefore(const QString &text, int offset)
{
    static const QRegularExpression heading(
        QStringLiteral("^[ \\t]*((?:\\d+\\.)+(?:\\d+)?)[ \\t]+([A-Z][^\\n]*)$"), QRegularExpression::MultilineOption);
    QString found;
    auto it = heading.globalMatch(text);
    while (it.hasNext()) {
        const auto m = it.next();
        if (m.capturedStart() > offset)
            break;
        QString number = m.captured(1);
        QString title = m.captured(2);
        // The title ends at its first full stop (Apache: "3. Grant of Patent License. Subject to ...").
        const auto stop = title.indexOf(QRegularExpression(QStringLiteral("[.:](\\s|$)")));
        if (stop >= 0)
            title = title.left(stop);
        title = title.simplified();
        // A heading is a title in title case, or a short line of its own ("2. Termination for
        // convenience"); a numbered clause that starts a sentence ("5.1. The rights granted
        // under this License will ...") is not one.
        const bool shortLine
            = stop < 0 && title.size() <= 40 && !title.contains(QLatin1Char(',')) && title.count(QLatin1Char(' ')) < 6;
        if (!isTitle(title) && !shortLine)
            continue;
        if (!number.endsWith(QLatin1Char('.')))
            number += QLatin1Char('.');
        found = number + QLatin1Char(' ') + title;
    }
    return found;
}

namespace {

// normalizeForMatching's text, with the offset in the original of every character kept.
struct NormalizedText {
    QString text;
    std::vector<int> origin;
};

NormalizedText normalizeWithOrigins(const QString &text)
{
    NormalizedText out;
    out.text.reserve(text.size());
    out.origin.reserve(static_cast<std::size_t>(text.size()));
    bool space = false;
    for (int i = 0; i < text.size(); ++i) {
        QChar c = text[i];
        // Hyphenation at line ends: "termi-\n   nation" -> "termination".
        if (c == QLatin1Char('-') && i > 0 && text[i - 1].isLetterOrNumber()) {
            int j = i + 1;
            bool newline = false;
            for (; j < text.size() && text[j].isSpace(); ++j)
                newline = newline || text[j] == QLatin1Char('\n');
            if (newline && j < text.size() && text[j].isLetterOrNumber()) {
                i = j - 1;
                continue;
            }
        }
        switch (c.unicode()) {
        case 0x2018:
        case 0x2019:
        case 0x201A:
        case 0x2032:
            c = QLatin1Char('\'');
            break;
        case 0x201C:
        case 0x201D:
        case 0x201E:
        case 0x2033:
            c = QLatin1Char('"');
            break;
        case 0x2010:
        case 0x2011:
        case 0x2012:
        case 0x2013:
        case 0x2014:
        case 0x2212:
            c = QLatin1Char('-');
            break;
        case 0x00A0:
            c = QLatin1Char(' ');
            break;
        default:
            break;
        }
        if (c.isSpace()) {
            space = !out.text.isEmpty();
            continue;
        }
        if (space) {
            out.text += QLatin1Char(' ');
            out.origin.push_back(i);
        }
        space = false;
        out.text += c.toLower();
        out.origin.push_back(i);
    }
    return out;
}

QStringList quotePieces(const QString &quote)
{
    static const QRegularExpression ellipsis(QStringLiteral("\\s*(\\.\\.\\.|…)\\s*"));
    return normalizeForMatching(quote).split(ellipsis, Qt::SkipEmptyParts);
}

// The pieces in order in `n`, as a span of the original text.
std::optional<TextSpan> findPieces(const NormalizedText &n, const QStringList &pieces)
{
    if (pieces.isEmpty())
        return std::nullopt;
    qsizetype from = 0;
    int start = -1;
    int end = -1;
    for (const QString &piece : pieces) {
        const qsizetype at = n.text.indexOf(piece, from);
        if (at < 0)
            return std::nullopt;
        if (start < 0)
            start = n.origin[static_cast<std::size_t>(at)];
        end = n.origin[static_cast<std::size_t>(at + piece.size() - 1)] + 1;
        from = at + piece.size();
    }
    return TextSpan { start, end - start };
}

} // namespace

QString normalizeForMatching(const QString &text)
{
    return normalizeWithOrigins(text).text;
}

std::optional<TextSpan> locateQuote(const QString &text, const QString &quote)
{
    return findPieces(normalizeWithOrigins(text), quotePieces(quote));
}

std::optional<TextSpan> sentenceMatching(const QString &text, const QString &answer)
{
    static const QRegularExpression word(QStringLiteral("\\w{4,}"));
    const auto wordsOf = [](const QString &s) {
        std::set<QString> words;
        auto it = word.globalMatch(s.toLower());
        while (it.hasNext())
            words.insert(it.next().captured());
        return words;
    };
    const std::set<QString> answerWords = wordsOf(answer);
    std::optional<TextSpan> best;
    std::size_t bestShared = 0;
    for (const TextSpan &sentence : sentenceSpans(text)) {
        std::size_t shared = 0;
        for (const QString &w : wordsOf(text.mid(sentence.start, sentence.length)))
            shared += answerWords.count(w);
        if (shared > bestShared) {
            bestShared = shared;
            best = sentence;
        }
    }
    return best;
}

QStringList quotedPassages(const QString &answer, int minWords)
{
    static const QRegularExpression quoted(QStringLiteral("[\"\u201C]([^\"\u201C\u201D]+)[\"\u201D]"));
    QStringList out;
    auto it = quoted.globalMatch(answer);
    while (it.hasNext()) {
        const QString q = it.next().captured(1).trimmed();
        if (q.split(QRegularExpression(QStringLiteral("\\s+")), Qt::SkipEmptyParts).size() >= minWords)
            out << q;
    }
    return out;
}

std::vector<QuoteCheck> checkQuotes(const QString &answer, const QStringList &sources, int minWords)
{
    std::vector<NormalizedText> normalizedSources;
    for (const QString &s : sources)
        normalizedSources.push_back(normalizeWithOrigins(s));
    std::vector<QuoteCheck> checks;
    for (const QString &quote : quotedPassages(answer, minWords)) {
        QuoteCheck check { quote };
        const QStringList pieces = quotePieces(quote);
        for (std::size_t i = 0; i < normalizedSources.size() && !check.supported; ++i) {
            if (const auto span = findPieces(normalizedSources[i], pieces)) {
                check.supported = true;
                check.sourceIndex = static_cast<int>(i);
                check.span = *span;
            }
        }
        checks.push_back(check);
    }
    return checks;
}

} // namespace nw::app
