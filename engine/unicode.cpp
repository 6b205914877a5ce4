// UTF-8 decoding, code point classes and GPT-2's byte-level map.
#include "engine/unicode.h"

#include <algorithm>
#include <array>

namespace nw::unicode {
namespace {

// Flags for U+0000..U+00FF, looked up without a search (nearly all text is mostly ASCII).
std::array<std::uint16_t, 256> makeLatin1Classes()
{
    std::array<std::uint16_t, 256> classes{};
    std::size_t run = 0;
    for (char32_t cp = 0; cp < 256; ++cp) {
        while (run + 1 < detail::kClassRunCount && detail::kClassRuns[run + 1].first <= cp)
            ++run;
        classes[cp] = detail::kClassRuns[run].flags;
    }
    return classes;
}

struct ByteMap {
    std::array<char32_t, 256> toCodepoint{};
    std::array<std::int16_t, 324> toByte{}; // every mapped code point is below U+0144
};

ByteMap makeByteMap()
{
    ByteMap map;
    map.toByte.fill(-1);
    auto printable = [](int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
    char32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
        const char32_t cp = printable(b) ? static_cast<char32_t>(b) : next++;
        map.toCodepoint[static_cast<std::size_t>(b)] = cp;
        map.toByte[cp] = static_cast<std::int16_t>(b);
    }
    return map;
}

const ByteMap &byteMap()
{
    static const ByteMap map = makeByteMap();
    return map;
}

} // namespace

std::uint16_t classOf(char32_t cp)
{
    static const std::array<std::uint16_t, 256> latin1 = makeLatin1Classes();
    if (cp < 256)
        return latin1[cp];
    if (cp > 0x10FFFF)
        return Undefined;
    const detail::ClassRun *begin = detail::kClassRuns;
    const detail::ClassRun *end = begin + detail::kClassRunCount;
    const detail::ClassRun *after = std::upper_bound(begin, end, cp, [](char32_t value, const detail::ClassRun &run) {
        return value < run.first;
    });
    return (after - 1)->flags;
}

std::string_view tableVersion() { return detail::kUnicodeVersion; }

std::size_t utf8Length(unsigned char lead)
{
    if (lead < 0x80)
        return 1;
    if ((lead & 0xE0) == 0xC0)
        return 2;
    if ((lead & 0xF0) == 0xE0)
        return 3;
    if ((lead & 0xF8) == 0xF0)
        return 4;
    return 1;
}

std::size_t symbolLength(unsigned char lead)
{
    static constexpr std::uint8_t kByHighBits[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return kByHighBits[lead >> 4];
}

Decoded decodeUtf8(std::string_view text, std::size_t offset)
{
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[offset + i]); };
    const unsigned char lead = byte(0);
    const std::size_t length = utf8Length(lead);
    if (length == 1)
        return {lead < 0x80 ? char32_t(lead) : char32_t(0xFFFD), 1};
    if (offset + length > text.size())
        return {0xFFFD, 1};
    char32_t cp = lead & (0x7F >> length);
    for (std::size_t i = 1; i < length; ++i) {
        if ((byte(i) & 0xC0) != 0x80)
            return {0xFFFD, 1};
        cp = (cp << 6) | (byte(i) & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are malformed.
    static constexpr char32_t kMinimum[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinimum[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return {0xFFFD, 1};
    return {cp, length};
}

Decoded decodeUtf8Lax(std::string_view text, std::size_t offset)
{
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[offset + i]); };
    const unsigned char lead = byte(0);
    if (lead < 0x80)
        return {lead, 1};
    std::size_t length = 0;
    if ((lead & 0xE0) == 0xC0)
        length = 2;
    else if ((lead & 0xF0) == 0xE0)
        length = 3;
    else if ((lead & 0xF8) == 0xF0)
        length = 4;
    if (length == 0 || offset + length > text.size())
        return {0xFFFD, 1};
    char32_t cp = lead & (0x7F >> length);
    for (std::size_t i = 1; i < length; ++i) {
        if ((byte(i) & 0xC0) != 0x80)
            return {0xFFFD, 1};
        cp = (cp << 6) | (byte(i) & 0x3F);
    }
    return {cp, length};
}

std::string_view withInvalidUtf8Replaced(std::string_view text, std::string &storage)
{
    // Only a code point whose decoding is not its own bytes changes anything: find the first.
    std::size_t offset = 0;
    std::string shortest;
    for (; offset < text.size();) {
        const Decoded d = decodeUtf8Lax(text, offset);
        if (d.bytes > 1 || d.cp >= 0x80) {
            shortest.clear();
            appendUtf8(shortest, d.cp);
            if (shortest != text.substr(offset, d.bytes))
                break;
        }
        offset += d.bytes;
    }
    if (offset == text.size())
        return text;
    storage.assign(text.substr(0, offset));
    while (offset < text.size()) {
        const Decoded d = decodeUtf8Lax(text, offset);
        appendUtf8(storage, d.cp);
        offset += d.bytes;
    }
    return storage;
}

CodepointText toCodepoints(std::string_view text)
{
    CodepointText result;
    result.cps.reserve(text.size());
    result.offsets.reserve(text.size() + 1);
    std::size_t offset = 0;
    while (offset < text.size()) {
        const Decoded d = decodeUtf8Lax(text, offset);
        result.cps.push_back(d.cp);
        result.offsets.push_back(offset);
        offset += d.bytes;
    }
    result.offsets.push_back(text.size());
    return result;
}

void appendUtf8(std::string &out, char32_t cp)
{
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | ((cp >> 18) & 0x07)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::size_t completeUtf8Prefix(std::string_view bytes)
{
    // Only the last three bytes can belong to an unfinished sequence.
    const std::size_t n = bytes.size();
    for (std::size_t back = 1; back <= 3 && back <= n; ++back) {
        const auto lead = static_cast<unsigned char>(bytes[n - back]);
        if ((lead & 0xC0) == 0x80)
            continue; // a continuation byte: look further back for its lead
        const std::size_t length = utf8Length(lead);
        if (length <= back)
            return n;
        // Finish the sequence with the smallest continuation bytes the lead allows; if that
        // decodes, more bytes can still make it valid.
        std::string probe(bytes.substr(n - back));
        if (back == 1)
            probe.push_back(static_cast<char>(lead == 0xE0 ? 0xA0 : lead == 0xF0 ? 0x90 : 0x80));
        probe.resize(length, static_cast<char>(0x80));
        return decodeUtf8(probe, 0).bytes == length ? n - back : n;
    }
    return n;
}

char32_t byteToCodepoint(std::uint8_t byte) { return byteMap().toCodepoint[byte]; }

std::optional<std::uint8_t> codepointToByte(char32_t cp)
{
    const ByteMap &map = byteMap();
    if (cp >= map.toByte.size() || map.toByte[cp] < 0)
        return std::nullopt;
    return static_cast<std::uint8_t>(map.toByte[cp]);
}

std::string bytesToByteLevel(std::string_view bytes)
{
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const char c : bytes)
        appendUtf8(out, byteToCodepoint(static_cast<std::uint8_t>(c)));
    return out;
}

std::optional<std::string> byteLevelToBytes(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (std::size_t offset = 0; offset < text.size();) {
        const Decoded d = decodeUtf8(text, offset);
        const std::optional<std::uint8_t> byte = codepointToByte(d.cp);
        if (!byte)
            return std::nullopt;
        out.push_back(static_cast<char>(*byte));
        offset += d.bytes;
    }
    return out;
}

} // namespace nw::unicode
