// Plain-text documents.
#include "ingest/text_document.h"

#include <QStringDecoder>

#include <algorithm>

namespace nw::ingest {

bool looksLikeText(const QByteArray &head)
{
    if (head.contains('\0'))
        return head.startsWith("\xff\xfe") || head.startsWith("\xfe\xff"); // UTF-16 has NULs
    QStringDecoder utf8(QStringDecoder::Utf8);
    const QString decoded = utf8(head);
    // A multi-byte sequence may be cut at the end of `head`; only errors before it count.
    if (!utf8.hasError())
        return true;
    qsizetype control = 0;
    for (char c : head) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f')
            ++control;
    }
    Q_UNUSED(decoded);
    return control * 100 <= head.size(); // Latin-1 text: at most 1% control bytes
}

QString decodeText(const QByteArray &bytes)
{
    if (bytes.startsWith("\xff\xfe") || bytes.startsWith("\xfe\xff")) {
        QStringDecoder utf16(QStringDecoder::Utf16, QStringDecoder::Flag::ConvertInitialBom);
        QString text = utf16(bytes);
        if (text.startsWith(QChar(0xfeff)))
            text.remove(0, 1);
        return text;
    }
    QStringDecoder utf8(QStringDecoder::Utf8);
    QString text = utf8(bytes);
    if (utf8.hasError())
        return QString::fromLatin1(bytes);
    if (text.startsWith(QChar(0xfeff)))
        text.remove(0, 1);
    return text;
}

std::vector<PageContent> splitIntoPages(const QString &text, int pageChars)
{
    pageChars = std::max(pageChars, 64);
    std::vector<PageContent> pages;
    qsizetype start = 0;
    const qsizetype n = text.size();
    while (start < n) {
        qsizetype end = std::min(n, start + pageChars);
        if (end < n) {
            // Prefer a break in the last half of the page: paragraph, then line, then word.
            const qsizetype floor = start + pageChars / 2;
            qsizetype cut = text.lastIndexOf(QStringLiteral("\n\n"), end - 1);
            if (cut < floor)
                cut = text.lastIndexOf(QLatin1Char('\n'), end - 1);
            if (cut < floor)
                cut = text.lastIndexOf(QLatin1Char(' '), end - 1);
            if (cut >= floor)
                end = cut + 1;
            else if (text.at(end - 1).isHighSurrogate())
                --end;
        }
        PageContent page;
        page.number = static_cast<int>(pages.size()) + 1;
        page.text = text.mid(start, end - start).trimmed();
        pages.push_back(std::move(page));
        start = end;
    }
    return pages;
}

QString guessTitle(const QString &text)
{
    const qsizetype limit = std::min<qsizetype>(text.size(), 4096);
    for (const QStringView line : QStringView(text).left(limit).split(QLatin1Char('\n'))) {
        QString title = line.trimmed().toString();
        while (title.startsWith(QLatin1Char('#')))
            title.remove(0, 1);
        title = title.trimmed();
        if (!title.isEmpty())
            return title.left(200);
    }
    return {};
}

} // namespace nw::ingest
