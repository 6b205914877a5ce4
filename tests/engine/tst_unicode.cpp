// Code point classes, UTF-8 decoding and GPT-2's byte map, against the Unicode Character
// Database (general categories, White_Space) and the byte table published with GPT-2's encoder.
#include "engine/unicode.h"

#include <doctest/doctest.h>

#include <set>

using namespace nw::unicode;

TEST_CASE("code point classes follow the Unicode general categories")
{
    // Category of each from UnicodeData.txt.
    CHECK(classOf(U'A') == Letter);        // Lu
    CHECK(classOf(U'z') == Letter);        // Ll
    CHECK(classOf(0x00AA) == Letter);      // Lo FEMININE ORDINAL INDICATOR
    CHECK(classOf(0x02B0) == Letter);      // Lm MODIFIER LETTER SMALL H
    CHECK(classOf(0x4E2D) == Letter);      // Lo CJK ideograph
    CHECK(classOf(0x1F600) == Symbol);     // So GRINNING FACE
    CHECK(classOf(U'0') == Number);        // Nd
    CHECK(classOf(0x0661) == Number);      // Nd ARABIC-INDIC DIGIT ONE
    CHECK(classOf(0x00B2) == Number);      // No SUPERSCRIPT TWO
    CHECK(classOf(0x2160) == Number);      // Nl ROMAN NUMERAL ONE
    CHECK(classOf(U'!') == Punctuation);   // Po
    CHECK(classOf(U'(') == Punctuation);   // Ps
    CHECK(classOf(U'_') == Punctuation);   // Pc
    CHECK(classOf(0x2014) == Punctuation); // Pd EM DASH
    CHECK(classOf(U'+') == Symbol);        // Sm
    CHECK(classOf(U'$') == Symbol);        // Sc
    CHECK(classOf(U'^') == Symbol);        // Sk
    CHECK(classOf(0x00A9) == Symbol);      // So COPYRIGHT SIGN
    CHECK(classOf(0x0301) == Mark);        // Mn COMBINING ACUTE ACCENT
    CHECK(classOf(0x093F) == Mark);        // Mc DEVANAGARI VOWEL SIGN I
    CHECK(classOf(0x200D) == Control);     // Cf ZERO WIDTH JOINER
    CHECK(classOf(0xE000) == Control);     // Co private use
    CHECK(classOf(0x0378) == Undefined);   // Cn unassigned
    CHECK(classOf(0x10FFFF) == Undefined); // Cn noncharacter
    CHECK(classOf(0x110000) == Undefined); // past the code space
}

TEST_CASE("White_Space is its own flag on top of the category")
{
    // PropList.txt White_Space: 25 code points.
    const std::set<char32_t> whiteSpace = {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x2001,
                                           0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A,
                                           0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
    int count = 0;
    for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
        if (isWhitespace(cp)) {
            ++count;
            CHECK_MESSAGE(whiteSpace.count(cp) == 1, "unexpected whitespace ", static_cast<unsigned>(cp));
        }
    }
    CHECK(count == 25);
    CHECK(classOf(U' ') == (Separator | Whitespace)); // Zs
    CHECK(classOf(U'\n') == (Control | Whitespace));  // Cc
    CHECK(classOf(0x2028) == (Separator | Whitespace)); // Zl LINE SEPARATOR
    CHECK_FALSE(isWhitespace(0x200B));                // ZERO WIDTH SPACE is Cf, not White_Space
    CHECK_FALSE(tableVersion().empty());
}

TEST_CASE("UTF-8 decodes valid sequences and turns each malformed byte into U+FFFD")
{
    const std::string text = "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80";
    const CodepointText decoded = toCodepoints(text);
    CHECK(decoded.cps == std::vector<char32_t>{U'a', 0xE9, 0x4E2D, 0x1F600});
    CHECK(decoded.offsets == std::vector<std::size_t>{0, 1, 3, 6, 10});

    CHECK(decodeUtf8("\xC0\xAF", 0).cp == 0xFFFD);         // overlong '/'
    CHECK(decodeUtf8("\xC0\xAF", 0).bytes == 1);
    CHECK(decodeUtf8("\xED\xA0\x80", 0).cp == 0xFFFD);     // surrogate U+D800
    CHECK(decodeUtf8("\xF4\x90\x80\x80", 0).cp == 0xFFFD); // U+110000
    CHECK(decodeUtf8("\xE4\xB8", 0).cp == 0xFFFD);         // truncated
    CHECK(decodeUtf8("\x80", 0).bytes == 1);               // stray continuation byte
    CHECK(decodeUtf8("\xE4\x41\x41", 0).bytes == 1);       // lead without continuation

    const CodepointText broken = toCodepoints("x\xFFy");
    CHECK(broken.cps == std::vector<char32_t>{U'x', 0xFFFD, U'y'});
    CHECK(broken.offsets == std::vector<std::size_t>{0, 1, 2, 3});
}

TEST_CASE("completeUtf8Prefix holds back only sequences that can still complete")
{
    CHECK(completeUtf8Prefix("") == 0);
    CHECK(completeUtf8Prefix("ab") == 2);
    CHECK(completeUtf8Prefix("a\xC3") == 1);             // é started
    CHECK(completeUtf8Prefix("a\xC3\xA9") == 3);         // é complete
    CHECK(completeUtf8Prefix("a\xE4\xB8") == 1);         // 中 missing its last byte
    CHECK(completeUtf8Prefix("\xF0\x9F\x98") == 0);      // 😀 missing one byte
    CHECK(completeUtf8Prefix("\xF0\x9F\x98\x80") == 4);  // 😀 complete
    CHECK(completeUtf8Prefix("a\xE0") == 1);              // E0 can start U+0800..U+0FFF
    CHECK(completeUtf8Prefix("a\xE0\x80") == 3);          // ...but never with 0x80 (overlong)
    CHECK(completeUtf8Prefix("a\xED\xA0") == 3);          // surrogates never complete
    CHECK(completeUtf8Prefix("a\xC0") == 2);              // C0 is always overlong
    CHECK(completeUtf8Prefix("a\x80") == 2);              // stray continuation byte
}

TEST_CASE("appendUtf8 writes the shortest form")
{
    std::string out;
    for (char32_t cp : {char32_t(0x24), char32_t(0xA2), char32_t(0x20AC), char32_t(0x10348)})
        appendUtf8(out, cp);
    CHECK(out == "\x24\xC2\xA2\xE2\x82\xAC\xF0\x90\x8D\x88"); // examples from RFC 3629 / Wikipedia
}

TEST_CASE("GPT-2 byte map: printable Latin-1 stays, the rest moves to U+0100 and up")
{
    // bytes_to_unicode() in GPT-2's encoder.py: ' ' -> 'Ġ' (U+0120), '\n' -> 'Ċ' (U+010A),
    // 0x00 -> U+0100, 0x7F -> U+0121, 0xAD (soft hyphen) -> U+0143, the last one.
    CHECK(byteToCodepoint(' ') == 0x0120);
    CHECK(byteToCodepoint('\n') == 0x010A);
    CHECK(byteToCodepoint(0x00) == 0x0100);
    CHECK(byteToCodepoint(0x7F) == 0x0121);
    CHECK(byteToCodepoint(0xAD) == 0x0143);
    CHECK(byteToCodepoint('A') == U'A');
    CHECK(byteToCodepoint(0xE9) == 0xE9);
    std::set<char32_t> seen;
    for (int b = 0; b < 256; ++b) {
        const char32_t cp = byteToCodepoint(static_cast<std::uint8_t>(b));
        seen.insert(cp);
        REQUIRE(codepointToByte(cp).has_value());
        CHECK(*codepointToByte(cp) == b);
    }
    CHECK(seen.size() == 256);
    CHECK_FALSE(codepointToByte(0x0144).has_value());
    CHECK_FALSE(codepointToByte(U' ').has_value());

    std::string all;
    for (int b = 0; b < 256; ++b)
        all.push_back(static_cast<char>(b));
    CHECK(bytesToByteLevel(" hi\n") == "\xC4\xA0hi\xC4\x8A");
    CHECK(byteLevelToBytes(bytesToByteLevel(all)) == all);
    CHECK_FALSE(byteLevelToBytes("a b").has_value());
}
