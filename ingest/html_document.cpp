// Gumbo lives here and nowhere else: the one file that includes its header.
#include "ingest/html_document.h"

#include "ingest/text_document.h"

#include <gumbo.h>

#include <QStringDecoder>

#include <QSet>

#include <algorithm>
#include <cctype>
#include <memory>
#include <vector>

namespace nw::ingest {
namespace {

constexpr int kMaxHtmlDepth = 2000;

bool isSkipped(GumboTag tag)
{
    switch (tag) {
    case GUMBO_TAG_HEAD:
    case GUMBO_TAG_SCRIPT:
    case GUMBO_TAG_STYLE:
    case GUMBO_TAG_TEMPLATE:
    case GUMBO_TAG_NOSCRIPT:
    case GUMBO_TAG_IFRAME:
    case GUMBO_TAG_OBJECT:
    case GUMBO_TAG_SVG:
    case GUMBO_TAG_MATH:
    case GUMBO_TAG_SELECT:
    case GUMBO_TAG_BUTTON:
        return true;
    default:
        return false;
    }
}

bool isBlock(GumboTag tag)
{
    switch (tag) {
    case GUMBO_TAG_P:
    case GUMBO_TAG_DIV:
    case GUMBO_TAG_H1:
    case GUMBO_TAG_H2:
    case GUMBO_TAG_H3:
    case GUMBO_TAG_H4:
    case GUMBO_TAG_H5:
    case GUMBO_TAG_H6:
    case GUMBO_TAG_LI:
    case GUMBO_TAG_UL:
    case GUMBO_TAG_OL:
    case GUMBO_TAG_TABLE:
    case GUMBO_TAG_TR:
    case GUMBO_TAG_BLOCKQUOTE:
    case GUMBO_TAG_PRE:
    case GUMBO_TAG_SECTION:
    case GUMBO_TAG_ARTICLE:
    case GUMBO_TAG_HEADER:
    case GUMBO_TAG_FOOTER:
    case GUMBO_TAG_NAV:
    case GUMBO_TAG_ASIDE:
    case GUMBO_TAG_MAIN:
    case GUMBO_TAG_DL:
    case GUMBO_TAG_DT:
    case GUMBO_TAG_DD:
    case GUMBO_TAG_FIGURE:
    case GUMBO_TAG_FIGCAPTION:
    case GUMBO_TAG_ADDRESS:
    case GUMBO_TAG_HR:
    case GUMBO_TAG_FORM:
    case GUMBO_TAG_FIELDSET:
    case GUMBO_TAG_DETAILS:
    case GUMBO_TAG_SUMMARY:
    case GUMBO_TAG_CAPTION:
    case GUMBO_TAG_BODY:
    case GUMBO_TAG_CENTER:
    case GUMBO_TAG_LEGEND:
        return true;
    default:
        return false;
    }
}

// Collects paragraphs: text is appended to the open one; a block boundary closes it.
class TextSink {
public:
    void text(QStringView s, bool preformatted)
    {
        if (preformatted) {
            for (QChar ch : s) {
                if (ch == QLatin1Char('\r'))
                    continue;
                m_current += ch;
            }
            m_space = false;
            return;
        }
        for (QChar ch : s) {
            if (ch.isSpace()) {
                m_space = true;
                continue;
            }
            if (m_space && !m_current.isEmpty() && !m_current.endsWith(QLatin1Char('\n')))
                m_current += QLatin1Char(' ');
            m_space = false;
            m_current += ch;
        }
    }
    void raw(const QString &s)
    {
        m_current += s;
        m_space = false;
    }
    void lineBreak()
    {
        m_current += QLatin1Char('\n');
        m_space = false;
    }
    void endParagraph()
    {
        // A blank line inside (<br><br>, an empty line of a <pre>) reads as a paragraph break in
        // the page text, where paragraphs are counted by blank lines (paragraph_pages.h): so it
        // is one here too, or the paragraph numbers of citations after it would be off.
        for (Paragraph &paragraph : paragraphsOf(m_current))
            m_paragraphs.push_back(std::move(paragraph));
        m_current.clear();
        m_space = false;
    }
    bool atLineStart() const { return m_current.trimmed().isEmpty(); }
    std::vector<Paragraph> take()
    {
        endParagraph();
        return std::move(m_paragraphs);
    }

private:
    std::vector<Paragraph> m_paragraphs;
    QString m_current;
    bool m_space = false;
};

QString nodeText(const GumboNode *node)
{
    QString out;
    if (node->type != GUMBO_NODE_ELEMENT)
        return out;
    const GumboVector &children = node->v.element.children;
    for (unsigned i = 0; i < children.length; ++i) {
        const auto *child = static_cast<const GumboNode *>(children.data[i]);
        if (child->type == GUMBO_NODE_TEXT || child->type == GUMBO_NODE_WHITESPACE || child->type == GUMBO_NODE_CDATA)
            out += QString::fromUtf8(child->v.text.text);
    }
    return out.simplified();
}

// The text of the first <title> among the children of <head>.
QString titleIn(const GumboNode *head)
{
    const GumboVector &children = head->v.element.children;
    for (unsigned i = 0; i < children.length; ++i) {
        const auto *child = static_cast<const GumboNode *>(children.data[i]);
        if (child->type == GUMBO_NODE_ELEMENT && child->v.element.tag == GUMBO_TAG_TITLE)
            return nodeText(child);
    }
    return {};
}

// How deep the elements of `html` nest, estimated from its tags without parsing: Gumbo's time
// grows with the square of the depth (100,000 nested <div>s: a minute), so a hostile file is
// refused before it is parsed. Elements whose end tag may be left out (p, li, td, ...) and void
// elements do not count: ordinary pages leave thousands of them open.
int nestingEstimate(const QByteArray &html)
{
    static const QSet<QByteArray> flat = { "p", "li", "td", "th", "tr", "dt", "dd", "option", "optgroup", "tbody",
        "thead", "tfoot", "colgroup", "rb", "rt", "rp", "html", "head", "body", "br", "img", "meta", "link", "input",
        "hr", "wbr", "area", "base", "col", "embed", "param", "source", "track", "keygen" };
    int depth = 0;
    int deepest = 0;
    const qsizetype n = html.size();
    for (qsizetype i = html.indexOf('<'); i >= 0 && i + 1 < n; i = html.indexOf('<', i + 1)) {
        const char next = html[i + 1];
        if (next == '/') {
            depth = std::max(0, depth - 1);
            continue;
        }
        if (!std::isalpha(static_cast<unsigned char>(next)))
            continue;
        qsizetype end = i + 1;
        while (end < n && std::isalnum(static_cast<unsigned char>(html[end])))
            ++end;
        const QByteArray name = html.mid(i + 1, end - i - 1).toLower();
        const qsizetype close = html.indexOf('>', end);
        const bool selfClosing = close > 0 && html[close - 1] == '/';
        if (!flat.contains(name) && !selfClosing)
            deepest = std::max(deepest, ++depth);
    }
    return deepest;
}

HtmlText walk(const QByteArray &utf8)
{
    if (const int depth = nestingEstimate(utf8); depth > kMaxHtmlDepth)
        throw IngestFailure(IngestProblem::TooDeep,
            QStringLiteral("the HTML nests elements about %1 levels deep (the limit is %2); "
                           "a page built to be hostile is refused")
                .arg(depth)
                .arg(kMaxHtmlDepth));

    HtmlText result;
    const std::unique_ptr<GumboOutput, void (*)(GumboOutput *)> output(
        gumbo_parse_with_options(&kGumboDefaultOptions, utf8.constData(), static_cast<size_t>(utf8.size())),
        [](GumboOutput *o) { gumbo_destroy_output(&kGumboDefaultOptions, o); });
    if (!output)
        return result;
    TextSink sink;
    // An explicit stack: nesting as deep as a hostile file makes it costs no call stack.
    struct Frame {
        const GumboNode *node;
        unsigned next = 0; // the next child to visit
        int preDepth = 0; // inside <pre>
        int listIndex = 0; // the last number given in an <ol>
        bool cellSeen = false; // a <tr> had a cell already
    };
    std::vector<Frame> stack;
    stack.push_back({ output->root });
    while (!stack.empty()) {
        Frame &frame = stack.back();
        const GumboNode *node = frame.node;
        if (node->type != GUMBO_NODE_ELEMENT) {
            if (node->type == GUMBO_NODE_TEXT || node->type == GUMBO_NODE_WHITESPACE || node->type == GUMBO_NODE_CDATA)
                sink.text(QString::fromUtf8(node->v.text.text), frame.preDepth > 0);
            stack.pop_back();
            continue;
        }
        const GumboElement &element = node->v.element;
        if (frame.next == 0) { // entering
            if (element.tag == GUMBO_TAG_HEAD)
                result.title = titleIn(node);
            if (isSkipped(element.tag)) {
                stack.pop_back();
                continue;
            }
            if (isBlock(element.tag))
                sink.endParagraph();
            if (element.tag == GUMBO_TAG_BR)
                sink.lineBreak();
            if (element.tag == GUMBO_TAG_LI) {
                Frame *list = stack.size() >= 2 ? &stack[stack.size() - 2] : nullptr;
                if (list && list->node->type == GUMBO_NODE_ELEMENT && list->node->v.element.tag == GUMBO_TAG_OL)
                    sink.raw(QStringLiteral("%1. ").arg(++list->listIndex));
                else
                    sink.raw(QStringLiteral("• "));
            }
            if (element.tag == GUMBO_TAG_TD || element.tag == GUMBO_TAG_TH) {
                Frame *row = stack.size() >= 2 ? &stack[stack.size() - 2] : nullptr;
                if (row && row->cellSeen)
                    sink.raw(QStringLiteral(" | "));
                if (row)
                    row->cellSeen = true;
            }
            if (element.tag == GUMBO_TAG_PRE)
                ++frame.preDepth;
        }
        if (frame.next < element.children.length) {
            const auto *child = static_cast<const GumboNode *>(element.children.data[frame.next++]);
            const int pre = frame.preDepth;
            stack.push_back({ child, 0, pre });
            continue;
        }
        // leaving
        if (isBlock(element.tag))
            sink.endParagraph();
        stack.pop_back();
    }
    result.paragraphs = sink.take();
    return result;
}

} // namespace

HtmlText htmlToText(const QByteArray &html)
{
    // The named encoding when Qt knows it; else, and for bytes invalid in it, UTF-8 or Latin-1.
    QStringDecoder decoder = QStringDecoder::decoderForHtml(html);
    QString text;
    if (decoder.isValid())
        text = decoder.decode(html);
    if (!decoder.isValid() || decoder.hasError())
        text = decodeText(html);
    return htmlToText(text);
}

HtmlText htmlToText(const QString &html)
{
    return walk(html.toUtf8());
}

} // namespace nw::ingest
