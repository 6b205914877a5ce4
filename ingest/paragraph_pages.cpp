// Paragraphs into pages.
#include "ingest/paragraph_pages.h"

#include <algorithm>

namespace nw::ingest {
namespace {

// Lines trimmed, runs of blank lines removed: a paragraph holds no blank line, so the blank
// lines of page text are exactly the paragraph ends.
QString cleanParagraph(const QString &text)
{
    QString out;
    out.reserve(text.size());
    for (QStringView line : QStringView(text).split(QLatin1Char('\n'))) {
        const QStringView trimmed = line.trimmed();
        if (trimmed.isEmpty())
            continue;
        if (!out.isEmpty())
            out += QLatin1Char('\n');
        out += trimmed;
    }
    return out;
}

// Where to cut `text` to keep at most `limit` characters: the last blank before it, else the
// limit (not inside a surrogate pair).
qsizetype cutBefore(QStringView text, qsizetype limit)
{
    if (text.size() <= limit)
        return text.size();
    for (qsizetype i = limit; i > limit / 2; --i)
        if (text[i].isSpace())
            return i;
    return text[limit - 1].isHighSurrogate() ? limit - 1 : limit;
}

class PageBuilder {
public:
    PageBuilder(std::vector<PageContent> &pages, int pageChars)
        : m_pages(pages)
        , m_pageChars(pageChars)
    {
    }

    void startPage(const QString &label)
    {
        closePage();
        m_open = true;
        m_label = label;
    }

    // Adds paragraph `number`, cutting it over pages when it does not fit.
    void add(int number, QStringView text, bool fill)
    {
        if (!m_open)
            startPage(m_label);
        if (fill && !m_text.isEmpty() && m_text.size() + 2 + text.size() > m_pageChars)
            startPage(m_label);
        while (!text.isEmpty()) {
            if (m_first == 0)
                m_first = number;
            if (!m_text.isEmpty())
                m_text += QStringLiteral("\n\n");
            const qsizetype room = std::max<qsizetype>(m_pageChars - m_text.size(), m_pageChars / 4);
            const qsizetype cut = text.size() > m_pageChars ? cutBefore(text, room) : text.size();
            m_text += text.first(cut);
            text = text.sliced(cut).trimmed();
            if (!text.isEmpty())
                startPage(m_label);
        }
    }

    qsizetype size() const { return m_text.size(); }

    void closePage()
    {
        if (!m_open)
            return;
        PageContent page;
        page.number = static_cast<int>(m_pages.size()) + 1;
        page.label = m_label;
        page.text = std::move(m_text);
        page.firstParagraph = m_first;
        m_pages.push_back(std::move(page));
        m_text.clear();
        m_first = 0;
        m_open = false;
    }

private:
    std::vector<PageContent> &m_pages;
    int m_pageChars;
    bool m_open = false;
    QString m_label;
    QString m_text;
    int m_first = 0;
};

} // namespace

std::vector<PageContent> paginate(const std::vector<Paragraph> &paragraphs, int pageChars, bool recordedBreaks)
{
    pageChars = std::max(pageChars, 64);
    std::vector<PageContent> pages;
    int printed = 1;
    int number = 0;
    if (recordedBreaks) {
        // A recorded page that is too long is cut in pages of the ordinary size.
        PageBuilder builder(pages, 4 * pageChars);
        builder.startPage(QString::number(printed));
        bool first = true;
        for (const Paragraph &p : paragraphs) {
            if (p.pageBreakBefore && !first)
                builder.startPage(QString::number(++printed));
            const QString text = cleanParagraph(p.text);
            if (text.isEmpty())
                continue;
            first = false;
            builder.add(p.continuesPrevious && number > 0 ? number : ++number, text, true);
        }
        builder.closePage();
    } else {
        PageBuilder builder(pages, pageChars);
        for (const Paragraph &p : paragraphs) {
            const QString text = cleanParagraph(p.text);
            if (!text.isEmpty())
                builder.add(p.continuesPrevious && number > 0 ? number : ++number, text, true);
        }
        builder.closePage();
    }
    // Pages a run of recorded breaks left empty are kept: they are pages of the document.
    if (pages.empty()) {
        PageContent page;
        page.number = 1;
        pages.push_back(std::move(page));
    }
    return pages;
}

std::vector<Paragraph> paragraphsOf(const QString &text)
{
    std::vector<Paragraph> paragraphs;
    QString current;
    for (QStringView line : QStringView(text).split(QLatin1Char('\n'))) {
        if (line.trimmed().isEmpty()) {
            if (!current.isEmpty())
                paragraphs.push_back({ std::move(current), false });
            current.clear();
            continue;
        }
        if (!current.isEmpty())
            current += QLatin1Char('\n');
        current += line;
    }
    if (!current.isEmpty())
        paragraphs.push_back({ std::move(current), false });
    return paragraphs;
}

} // namespace nw::ingest
