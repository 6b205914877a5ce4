// Word boxes: where each word of a page's text sits on the page, for highlighting hits and
// citations. Stored per page as one packed BLOB (little-endian records, see pack()).
#pragma once

#include <QByteArray>
#include <QRectF>

#include <cstdint>
#include <vector>

namespace nw::store {

struct WordBox {
    std::uint32_t offset = 0; // first UTF-16 code unit of the word in the page text
    std::uint16_t length = 0; // UTF-16 code units
    QRectF box;               // points, origin at the page's top-left
};

// 14 bytes a word: offset u32, length u16, then x, y, width, height as u16 in 1/16 point
// (page sizes up to 4095 pt, ~57 inches, which covers every paper size; larger is clamped).
QByteArray packWordBoxes(const std::vector<WordBox> &words);
// Throws nw::Error when the blob is not a whole number of records.
std::vector<WordBox> unpackWordBoxes(const QByteArray &blob);

} // namespace nw::store
