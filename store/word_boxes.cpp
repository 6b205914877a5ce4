// Packing of word boxes into a compact BLOB.
#include "store/word_boxes.h"

#include "common/error.h"

#include <algorithm>
#include <cmath>

namespace nw::store {
namespace {

constexpr int kRecordBytes = 14;
constexpr double kUnitsPerPoint = 16.0;

void putU16(char *p, std::uint16_t v)
{
    p[0] = static_cast<char>(v & 0xff);
    p[1] = static_cast<char>(v >> 8);
}

std::uint16_t getU16(const char *p)
{
    return static_cast<std::uint16_t>(static_cast<unsigned char>(p[0]) | (static_cast<unsigned char>(p[1]) << 8));
}

std::uint16_t fixed(double points)
{
    return static_cast<std::uint16_t>(std::clamp(std::lround(points * kUnitsPerPoint), 0L, 65535L));
}

} // namespace

QByteArray packWordBoxes(const std::vector<WordBox> &words)
{
    QByteArray blob(static_cast<qsizetype>(words.size()) * kRecordBytes, Qt::Uninitialized);
    char *p = blob.data();
    for (const WordBox &w : words) {
        putU16(p, static_cast<std::uint16_t>(w.offset & 0xffff));
        putU16(p + 2, static_cast<std::uint16_t>(w.offset >> 16));
        putU16(p + 4, w.length);
        putU16(p + 6, fixed(w.box.x()));
        putU16(p + 8, fixed(w.box.y()));
        putU16(p + 10, fixed(w.box.width()));
        putU16(p + 12, fixed(w.box.height()));
        p += kRecordBytes;
    }
    return blob;
}

std::vector<WordBox> unpackWordBoxes(const QByteArray &blob)
{
    if (blob.size() % kRecordBytes != 0)
        fail("word boxes: a blob of {} bytes is not a whole number of {}-byte records", blob.size(), kRecordBytes);
    std::vector<WordBox> words(static_cast<std::size_t>(blob.size() / kRecordBytes));
    const char *p = blob.constData();
    for (WordBox &w : words) {
        w.offset = getU16(p) | (static_cast<std::uint32_t>(getU16(p + 2)) << 16);
        w.length = getU16(p + 4);
        w.box = QRectF(getU16(p + 6) / kUnitsPerPoint, getU16(p + 8) / kUnitsPerPoint,
                       getU16(p + 10) / kUnitsPerPoint, getU16(p + 12) / kUnitsPerPoint);
        p += kRecordBytes;
    }
    return words;
}

} // namespace nw::store
