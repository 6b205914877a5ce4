// The text-layer verdict that decides which pages `--ocr auto` recognises.
#include "ingest/text_layer.h"

namespace nw::ingest {
namespace {

bool isOpening(QChar ch)
{
    return QStringView(u"([{<\"'«“‘„¿¡*•·-–—#§¶").contains(ch);
}

bool isClosing(QChar ch)
{
    return QStringView(u")]}>\"'»”’.,;:!?…*%-–—").contains(ch);
}

bool isInside(QChar ch)
{
    return QStringView(u"-'’./&_@:+,").contains(ch);
}

bool isLatinLetter(QChar ch)
{
    return ch.isLetter() && ch.unicode() < 0x250;
}

bool isLatinVowel(QChar ch)
{
    // Accented vowels decompose to their base letter first.
    const QString base = QString(ch).normalized(QString::NormalizationForm_D);
    return !base.isEmpty() && QStringView(u"aeiouyAEIOUY").contains(base.front());
}

} // namespace

bool recognisableWord(QStringView token)
{
    qsizetype begin = 0;
    qsizetype end = token.size();
    while (begin < end && isOpening(token[begin]))
        ++begin;
    while (end > begin && isClosing(token[end - 1]))
        --end;
    const QStringView core = token.sliced(begin, end - begin);
    if (core.isEmpty() || core.size() > 32)
        return false;
    int letters = 0;
    int latin = 0;
    int vowels = 0;
    int alnum = 0;
    for (qsizetype i = 0; i < core.size(); ++i) {
        const QChar ch = core[i];
        if (ch.isHighSurrogate() && i + 1 < core.size()) { // letters outside the BMP (CJK extension, ...)
            const char32_t cp = QChar::surrogateToUcs4(ch, core[i + 1]);
            if (!QChar::isLetter(cp) && !QChar::isDigit(cp))
                return false;
            ++alnum;
            ++i;
            continue;
        }
        if (ch.isLetter()) {
            ++letters;
            ++alnum;
            if (isLatinLetter(ch)) {
                ++latin;
                vowels += isLatinVowel(ch) ? 1 : 0;
            }
        } else if (ch.isDigit()) {
            ++alnum;
        } else if (ch.isMark()) {
            // combining accents, Indic vowel signs
        } else if (!isInside(ch)) {
            return false; // a symbol, a private-use or control code point, U+FFFD
        }
    }
    if (alnum == 0)
        return false;
    if (latin >= 4 && latin == letters && vowels == 0)
        return false;
    return true;
}

TextLayerVerdict judgeTextLayer(const QString &text)
{
    TextLayerVerdict verdict;
    const QStringView all(text);
    qsizetype i = 0;
    while (i < all.size()) {
        while (i < all.size() && all[i].isSpace())
            ++i;
        const qsizetype start = i;
        while (i < all.size() && !all[i].isSpace())
            ++i;
        if (i == start)
            break;
        ++verdict.tokens;
        verdict.words += recognisableWord(all.sliced(start, i - start)) ? 1 : 0;
    }
    verdict.usable = verdict.words >= kMinWords && verdict.words >= kMinWordShare * verdict.tokens;
    return verdict;
}

} // namespace nw::ingest
