// Unicode helpers for the tokenizers: UTF-8 decoding that never throws, code point classes
// (letter, number, punctuation, whitespace, ...) from a generated table, and the byte-level BPE
// byte <-> code point map of GPT-2.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nw::unicode {

// Flags of a code point: one general-category bit plus Whitespace (White_Space property).
enum CodepointClass : std::uint16_t {
    Undefined = 0x0001,   // Cn: unassigned
    Number = 0x0002,      // N*
    Letter = 0x0004,      // L*
    Separator = 0x0008,   // Z*
    Mark = 0x0010,        // M*
    Punctuation = 0x0020, // P*
    Symbol = 0x0040,      // S*
    Control = 0x0080,     // Cc, Cf, Cs, Co
    Whitespace = 0x0100,  // White_Space=yes (tab, newline, space, NBSP, U+3000, ...)
};

// The class flags of a code point; code points past U+10FFFF are Undefined.
std::uint16_t classOf(char32_t cp);
inline bool isLetter(char32_t cp) { return classOf(cp) & Letter; }
inline bool isNumber(char32_t cp) { return classOf(cp) & Number; }
inline bool isWhitespace(char32_t cp) { return classOf(cp) & Whitespace; }
inline bool isPunctuation(char32_t cp) { return classOf(cp) & Punctuation; }
inline bool isSymbol(char32_t cp) { return classOf(cp) & Symbol; }
inline bool isMark(char32_t cp) { return classOf(cp) & Mark; }

// The Unicode version the class table was generated from.
std::string_view tableVersion();

// Bytes in the UTF-8 sequence that starts with `lead` (1 for continuation or invalid bytes).
std::size_t utf8Length(unsigned char lead);
// The symbol length GGUF runtimes (llama.cpp unicode_len_utf8) give a byte when they cut text
// into characters for merging: by its high four bits alone, so 0xF8..0xFF count as 4-byte leads.
// The SentencePiece merge loop must cut invalid UTF-8 the same way to produce the same tokens.
std::size_t symbolLength(unsigned char lead);

// One decoded code point and the bytes it took. Malformed input decodes to U+FFFD over one
// byte, so every byte of the input belongs to exactly one code point and nothing is lost.
struct Decoded {
    char32_t cp;
    std::size_t bytes;
};
Decoded decodeUtf8(std::string_view text, std::size_t offset);

// The decoding GGUF runtimes apply before pre-tokenizing (llama.cpp unicode_cpt_from_utf8): a
// lead byte with enough continuation bytes gives its code point with no check for overlong
// forms, surrogates or values past U+10FFFF (F5..F7 leads reach U+1FFFFF); a byte that starts
// no such sequence (a continuation byte, F8..FF, a lead cut short) gives U+FFFD over one byte.
Decoded decodeUtf8Lax(std::string_view text, std::size_t offset);

// The text byte-level BPE actually merges: each lax-decoded code point written back as UTF-8,
// so every malformed byte becomes U+FFFD's three bytes, exactly as GGUF runtimes rebuild their
// pre-tokenized words. Returns `text` itself when that changes nothing (valid UTF-8, the usual
// case), else a view of `storage`, which it fills.
std::string_view withInvalidUtf8Replaced(std::string_view text, std::string &storage);

// Text as lax-decoded code points, with the byte offset where each starts (offsets has one more
// entry: text.size()), so pieces found on code points map back to the exact input bytes.
struct CodepointText {
    std::vector<char32_t> cps;
    std::vector<std::size_t> offsets; // [cps.size() + 1]
};
CodepointText toCodepoints(std::string_view text);

// The shortest UTF-8 form of `cp`; values past U+10FFFF (from decodeUtf8Lax) keep the 4-byte
// form their lead byte had.
void appendUtf8(std::string &out, char32_t cp);

// The length of the longest prefix of `bytes` that does not end inside a UTF-8 sequence still
// waiting for continuation bytes: what a token stream can show now, keeping the rest for the
// next piece. Malformed bytes count as complete (they will never become valid).
std::size_t completeUtf8Prefix(std::string_view bytes);

// GPT-2's byte-level map: every byte gets a printable code point (printable Latin-1 bytes map
// to themselves, the others to U+0100 + n in byte order), so BPE works on visible text.
char32_t byteToCodepoint(std::uint8_t byte);
std::optional<std::uint8_t> codepointToByte(char32_t cp);
// Each byte of `bytes` as its mapped code point, UTF-8 encoded.
std::string bytesToByteLevel(std::string_view bytes);
// The inverse; nullopt when a code point is outside the map.
std::optional<std::string> byteLevelToBytes(std::string_view text);

namespace detail {
struct ClassRun {
    char32_t first;
    std::uint16_t flags;
};
extern const char *const kUnicodeVersion;
extern const ClassRun kClassRuns[];
extern const std::size_t kClassRunCount;
} // namespace detail

} // namespace nw::unicode
