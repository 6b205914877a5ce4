// Pre-tokenizer patterns as matchers. Each matcher answers "how long is the match of this
// pattern starting exactly at `pos`" (0: none) with the leftmost-alternative, greedy semantics
// of the regex it replaces; split() then scans like a regex search over each piece.
//
// llama.cpp runs some patterns through hand-written splitters (GPT-2, Llama 3, Qwen2, Qwen3.5,
// Gemma 4) that classify code points by their Unicode flags, and the others through std::regex
// over a "collapsed" text where every non-ASCII code point stands for its general category and
// ASCII keeps fixed class lists. The two agree except in one place that matters here: the
// collapsed \p{S} has no '~' (see regexClassOf), so the std::regex patterns use that class.
#include "engine/pre_tokenizer.h"

#include "common/assert.h"
#include "engine/unicode.h"

#include <algorithm>
#include <array>
#include <utility>

namespace nw {
namespace {

using unicode::CodepointClass;

// One piece of the current split: code point indices [begin, end).
struct Piece {
    std::size_t begin;
    std::size_t end;
};

// A pattern: the length of its match at `pos` inside the piece that ends at `end`, 0 if none.
using Matcher = std::size_t (*)(const std::vector<char32_t> &t, std::size_t pos, std::size_t end);

bool isWs(char32_t c)
{
    return unicode::isWhitespace(c);
}
bool isLetter(char32_t c)
{
    return unicode::isLetter(c);
}
bool isNumber(char32_t c)
{
    return unicode::isNumber(c);
}
bool isLetterOrMark(char32_t c)
{
    return (unicode::classOf(c) & (CodepointClass::Letter | CodepointClass::Mark)) != 0;
}
bool isNewline(char32_t c)
{
    return c == U'\r' || c == U'\n';
}
// [^\s\p{L}\p{N}]
bool isOther(char32_t c)
{
    return !(unicode::classOf(c) & (CodepointClass::Whitespace | CodepointClass::Letter | CodepointClass::Number));
}
// [^\s\p{L}\p{M}\p{N}]
bool isOtherNotMark(char32_t c)
{
    return !(unicode::classOf(c)
        & (CodepointClass::Whitespace | CodepointClass::Letter | CodepointClass::Mark | CodepointClass::Number));
}
bool isAsciiLetter(char32_t c)
{
    return (c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z');
}
bool isAsciiDigit(char32_t c)
{
    return c >= U'0' && c <= U'9';
}
char32_t asciiLower(char32_t c)
{
    return c >= U'A' && c <= U'Z' ? c + 32 : c;
}

// The classes llama.cpp's std::regex path sees (unicode_regex_split's collapsed text): non-ASCII
// code points by general category, ASCII by fixed lists whose \p{S} lacks '~' (Unicode: Sm).
std::uint16_t regexClassOf(char32_t c)
{
    const std::uint16_t flags = unicode::classOf(c);
    return c == U'~' ? static_cast<std::uint16_t>(flags & ~CodepointClass::Symbol) : flags;
}
bool regexLetter(char32_t c)
{
    return regexClassOf(c) & CodepointClass::Letter;
}
bool regexNumber(char32_t c)
{
    return regexClassOf(c) & CodepointClass::Number;
}
bool regexPunct(char32_t c)
{
    return regexClassOf(c) & CodepointClass::Punctuation;
}
bool regexPunctOrSymbol(char32_t c)
{
    return regexClassOf(c) & (CodepointClass::Punctuation | CodepointClass::Symbol);
}
bool regexLetterOrMark(char32_t c)
{
    return regexClassOf(c) & (CodepointClass::Letter | CodepointClass::Mark);
}

template <typename Pred>
std::size_t runLength(const std::vector<char32_t> &t, std::size_t pos, std::size_t end, Pred pred)
{
    std::size_t n = 0;
    while (pos + n < end && pred(t[pos + n]))
        ++n;
    return n;
}

// The run of at most `limit` code points, for \p{N}{1,3}: scanning the whole run first and
// clipping it made a long digit run quadratic (80,000 digits took 16 s; found by fuzz_tokenizer).
template <typename Pred>
std::size_t runAtMost(const std::vector<char32_t> &t, std::size_t pos, std::size_t end, std::size_t limit, Pred pred)
{
    return runLength(t, pos, std::min(end, pos + limit), pred);
}

// `prefix? class+`: an optional leading code point (when `prefix` accepts it and a class member
// follows), else the class run at pos. Covers " ?\p{L}+", "\s?[...]+", "[^\r\n\p{L}\p{N}]?\p{L}+".
template <typename Prefix, typename Class>
std::size_t optionalThenRun(const std::vector<char32_t> &t, std::size_t pos, std::size_t end, Prefix prefix, Class cls)
{
    if (prefix(t[pos]) && pos + 1 < end && cls(t[pos + 1]))
        return 1 + runLength(t, pos + 1, end, cls);
    return runLength(t, pos, end, cls);
}

// 's|'t|'re|'ve|'m|'ll|'d, case-sensitive (GPT-2) or ASCII case-insensitive (Llama 3, Qwen2).
std::size_t contraction(const std::vector<char32_t> &t, std::size_t pos, std::size_t end, bool ignoreCase)
{
    if (pos + 1 >= end || t[pos] != U'\'')
        return 0;
    const auto fold = [ignoreCase](char32_t c) { return ignoreCase ? asciiLower(c) : c; };
    const char32_t a = fold(t[pos + 1]);
    if (a == U's' || a == U't' || a == U'm' || a == U'd')
        return 2;
    if (pos + 2 >= end)
        return 0;
    const char32_t b = fold(t[pos + 2]);
    if ((a == U'r' && b == U'e') || (a == U'v' && b == U'e') || (a == U'l' && b == U'l'))
        return 3;
    return 0;
}

// \s*[\r\n]+ | \s+(?!\S) | \s+ — the whitespace tail shared by the Llama 3 family. The first
// ends after the last newline of the whitespace run; the second leaves the run's last code
// point to the word that follows.
std::size_t whitespaceTail(const std::vector<char32_t> &t, std::size_t pos, std::size_t end, bool newlineAlternative)
{
    const std::size_t n = runLength(t, pos, end, isWs);
    if (n == 0)
        return 0;
    if (newlineAlternative) {
        for (std::size_t i = n; i > 0; --i)
            if (isNewline(t[pos + i - 1]))
                return i;
    }
    if (pos + n == end)
        return n; // \s+(?!\S) up to the end
    return n > 1 ? n - 1 : n; // \s+(?!\S) leaves the last one to the next word; \s+ takes a lone one
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
std::size_t matchGpt2(const std::vector<char32_t> &t, std::size_t pos, std::size_t end)
{
    if (std::size_t n = contraction(t, pos, end, false))
        return n;
    const auto space = [](char32_t c) { return c == U' '; };
    if (std::size_t n = optionalThenRun(t, pos, end, space, isLetter))
        return n;
    if (std::size_t n = optionalThenRun(t, pos, end, space, isNumber))
        return n;
    if (std::size_t n = optionalThenRun(t, pos, end, space, isOther))
        return n;
    // \s+(?!\S): without the trailing \s+ alternative a lone space before a word has no match;
    // the search leaves it as a piece of its own, which is the same split.
    const std::size_t n = runLength(t, pos, end, isWs);
    if (n == 0)
        return 0;
    return pos + n == end ? n : n - 1;
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}|
// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ and, with `marks` (Qwen3.5), [\p{L}\p{M}]+ for the letter run and
// [^\s\p{L}\p{M}\p{N}]+ for the punctuation run.
template <std::size_t maxDigits, bool marks>
std::size_t matchLlama3Like(const std::vector<char32_t> &t, std::size_t pos, std::size_t end)
{
    if (std::size_t n = contraction(t, pos, end, true))
        return n;
    const auto letter = marks ? isLetterOrMark : isLetter;
    const auto prefix
        = [](char32_t c) { return !isNewline(c) && !isNumber(c) && !(marks ? isLetterOrMark(c) : isLetter(c)); };
    if (std::size_t n = optionalThenRun(t, pos, end, prefix, letter))
        return n;
    if (std::size_t n = runAtMost(t, pos, end, maxDigits, isNumber))
        return n;
    const auto space = [](char32_t c) { return c == U' '; };
    if (std::size_t n = optionalThenRun(t, pos, end, space, marks ? isOtherNotMark : isOther))
        return n + runLength(t, pos + n, end, isNewline);
    return whitespaceTail(t, pos, end, true);
}

// The letter runs of o200k as llama.cpp's std::regex sees them:
//   ((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+  |  ((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*
// "upper" is a letter other than a-z, "lower" a letter other than A-Z, so a letter outside
// ASCII is both (the collapsed text has no case; Hugging Face's \p{Lu}/\p{Ll} would differ).
bool o200kUpper(char32_t c)
{
    return regexLetter(c) && !(c >= U'a' && c <= U'z');
}
bool o200kLower(char32_t c)
{
    return regexLetter(c) && !(c >= U'A' && c <= U'Z');
}

// upper* lower+ contraction?, with the backtracking of a greedy upper*: the longest upper run
// that a lower letter still follows.
std::size_t o200kUpperThenLower(const std::vector<char32_t> &t, std::size_t pos, std::size_t end)
{
    const std::size_t upper = runLength(t, pos, end, o200kUpper);
    for (std::size_t k = upper + 1; k-- > 0;) {
        if (pos + k < end && o200kLower(t[pos + k])) {
            const std::size_t n = k + runLength(t, pos + k, end, o200kLower);
            return n + contraction(t, pos + n, end, true);
        }
    }
    return 0;
}

// upper+ lower* contraction?
std::size_t o200kLowerAfterUpper(const std::vector<char32_t> &t, std::size_t pos, std::size_t end)
{
    const std::size_t upper = runLength(t, pos, end, o200kUpper);
    if (upper == 0)
        return 0;
    const std::size_t n = upper + runLength(t, pos + upper, end, o200kLower);
    return n + contraction(t, pos + n, end, true);
}

// [^\r\n\p{L}\p{N}]?<upper*lower+>'s?|[^\r\n\p{L}\p{N}]?<upper+lower*>'s?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|
//  \s*[\r\n]+|\s+(?!\S)|\s+   (o200k; contractions are (?:'[sS]|'[tT]|'[rR][eE]|...))
std::size_t matchGpt4o(const std::vector<char32_t> &t, std::size_t pos, std::size_t end)
{
    const bool prefix = !isNewline(t[pos]) && !regexLetter(t[pos]) && !regexNumber(t[pos]);
    // A greedy optional prefix is tried first; without it the run must start at pos.
    for (auto word : { o200kUpperThenLower, o200kLowerAfterUpper }) {
        if (prefix && pos + 1 < end) {
            if (std::size_t n = word(t, pos + 1, end))
                return 1 + n;
        }
        if (std::size_t n = word(t, pos, end))
            return n;
    }
    if (std::size_t n = runAtMost(t, pos, end, 3, regexNumber))
        return n;
    const auto space = [](char32_t c) { return c == U' '; };
    if (std::size_t n = optionalThenRun(t, pos, end, space, isOther))
        return n + runLength(t, pos + n, end, [](char32_t c) { return isNewline(c) || c == U'/'; });
    return whitespaceTail(t, pos, end, true);
}

// [\p{P}\$\+<=>\^~\|]+ (the default list's first pass) and, with the backtick, Falcon's.
template <bool backtick>
std::size_t matchPunctuationRun(const std::vector<char32_t> &t, std::size_t pos, std::size_t end)
{
    return runLength(t, pos, end, [](char32_t c) {
        return regexPunct(c) || c == U'$' || c == U'+' || c == U'<' || c == U'=' || c == U'>' || c == U'^' || c == U'~'
            || c == U'|' || (backtick && c == U'`');
    });
}

// [0-9][0-9][0-9]
std::size_t matchThreeAsciiDigits(const std::vector<char32_t> &t, std::size_t pos, std::size_t end)
{
    return pos + 3 <= end && isAsciiDigit(t[pos]) && isAsciiDigit(t[pos + 1]) && isAsciiDigit(t[pos + 2]) ? 3 : 0;
}

// \p{N}
std::size_t matchOneNumber(const std::vector<char32_t> &t, std::size_t pos, std::size_t)
{
    return regexNumber(t[pos]) ? 1 : 0;
}

// \s?\p{L}+ and \s?\p{P}+ (DeepSeek Coder)
std::size_t matchSpaceLetters(const std::vector<char32_t> &t, std::size_t pos, std::size_t end)
{
    return optionalThenRun(t, pos, end, isWs, regexLetter);
}
std::size_t matchSpacePunctuation(const std::vector<char32_t> &t, std::size_t pos, std::size_t end)
{
    return optionalThenRun(t, pos, end, isWs, regexPunct);
}

// [^\n]+|[\n]+ (Gemma 4)
std::size_t matchNewlineRuns(const std::vector<char32_t> &t, std::size_t pos, std::size_t end)
{
    const bool newline = t[pos] == U'\n';
    return runLength(t, pos, end, [newline](char32_t c) { return (c == U'\n') == newline; });
}

// Character classes of the DeepSeek patterns, as written in the models' tokenizer.json: a
// class text where "a-b" is a range. Pass 2 of DeepSeek LLM: the cased letters of Latin, Greek,
// Cyrillic, Armenian, Georgian, Cherokee, Glagolitic, Coptic, Deseret, Osage, Adlam, ...
// clang-format 14 re-wraps these UTF-8 literals differently on every run.
// clang-format off
constexpr std::u32string_view kDeepSeekLetters
    = U"A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-"
      U"ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-"
      U"Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃";
// clang-format on
constexpr std::u32string_view kDeepSeekPunctuation = U"!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002";
constexpr std::u32string_view kDeepSeekCjk = U"\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF";
constexpr std::u32string_view kDeepSeek3Cjk = U"\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF";

// A class text parsed into ranges, tested by a scan (the classes have at most ~90 ranges and
// most code points fall in the first few).
class CharClass {
public:
    explicit CharClass(std::u32string_view spec)
    {
        for (std::size_t i = 0; i < spec.size();) {
            if (i + 2 < spec.size() && spec[i + 1] == U'-') {
                m_ranges.emplace_back(spec[i], spec[i + 2]);
                i += 3;
            } else {
                m_ranges.emplace_back(spec[i], spec[i]);
                i += 1;
            }
        }
    }
    bool contains(char32_t c) const
    {
        for (const auto &[first, last] : m_ranges)
            if (c >= first && c <= last)
                return true;
        return false;
    }

private:
    std::vector<std::pair<char32_t, char32_t>> m_ranges;
};

const CharClass &deepSeekLetters()
{
    static const CharClass cls(kDeepSeekLetters);
    return cls;
}
const CharClass &deepSeekPunctuation()
{
    static const CharClass cls(kDeepSeekPunctuation);
    return cls;
}
const CharClass &deepSeekCjk()
{
    static const CharClass cls(kDeepSeekCjk);
    return cls;
}
const CharClass &deepSeek3Cjk()
{
    static const CharClass cls(kDeepSeek3Cjk);
    return cls;
}

// [\r\n]
std::size_t matchNewline(const std::vector<char32_t> &t, std::size_t pos, std::size_t)
{
    return isNewline(t[pos]) ? 1 : 0;
}

// \s?[letters]+
std::size_t matchDeepSeekWord(const std::vector<char32_t> &t, std::size_t pos, std::size_t end)
{
    return optionalThenRun(t, pos, end, isWs, [](char32_t c) { return deepSeekLetters().contains(c); });
}

// \s?[!-/:-~！-／：-～‘-‟　-。]+
std::size_t matchDeepSeekPunctuation(const std::vector<char32_t> &t, std::size_t pos, std::size_t end)
{
    return optionalThenRun(t, pos, end, isWs, [](char32_t c) { return deepSeekPunctuation().contains(c); });
}

// \s+$ — $ is the end of the piece being split.
std::size_t matchTrailingSpace(const std::vector<char32_t> &t, std::size_t pos, std::size_t end)
{
    const std::size_t n = runLength(t, pos, end, isWs);
    return pos + n == end ? n : 0;
}

// [一-龥ࠀ-一가-퟿]+
std::size_t matchDeepSeekCjk(const std::vector<char32_t> &t, std::size_t pos, std::size_t end)
{
    return runLength(t, pos, end, [](char32_t c) { return deepSeekCjk().contains(c); });
}

// \p{N}+
std::size_t matchNumbers(const std::vector<char32_t> &t, std::size_t pos, std::size_t end)
{
    return runLength(t, pos, end, regexNumber);
}

// \p{N}{1,3}
std::size_t matchNumbers3(const std::vector<char32_t> &t, std::size_t pos, std::size_t end)
{
    return runAtMost(t, pos, end, 3, regexNumber);
}

// [一-龥぀-ゟ゠-ヿ]+
std::size_t matchDeepSeek3Cjk(const std::vector<char32_t> &t, std::size_t pos, std::size_t end)
{
    return runLength(t, pos, end, [](char32_t c) { return deepSeek3Cjk().contains(c); });
}

// [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|
//  ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
std::size_t matchDeepSeek3Words(const std::vector<char32_t> &t, std::size_t pos, std::size_t end)
{
    const auto asciiPunct = [](char32_t c) {
        return (c >= U'!' && c <= U'/') || (c >= U':' && c <= U'@') || (c >= U'[' && c <= U'`')
            || (c >= U'{' && c <= U'~');
    };
    if (asciiPunct(t[pos]) && pos + 1 < end && isAsciiLetter(t[pos + 1]))
        return 1 + runLength(t, pos + 1, end, isAsciiLetter);
    const auto prefix = [](char32_t c) { return !isNewline(c) && !regexLetter(c) && !regexPunctOrSymbol(c); };
    if (std::size_t n = optionalThenRun(t, pos, end, prefix, regexLetterOrMark))
        return n;
    const auto space = [](char32_t c) { return c == U' '; };
    if (std::size_t n = optionalThenRun(t, pos, end, space, regexPunctOrSymbol))
        return n + runLength(t, pos + n, end, isNewline);
    return whitespaceTail(t, pos, end, true);
}

// One pass: splits every piece at the leftmost matches of `match`, keeping the text between
// matches as pieces too (a regex search that restarts after each match).
std::vector<Piece> split(const std::vector<char32_t> &t, const std::vector<Piece> &pieces, Matcher match)
{
    std::vector<Piece> out;
    out.reserve(pieces.size() * 2);
    for (const Piece &piece : pieces) {
        std::size_t gapBegin = piece.begin;
        std::size_t pos = piece.begin;
        while (pos < piece.end) {
            const std::size_t n = match(t, pos, piece.end);
            if (n == 0) {
                ++pos;
                continue;
            }
            NW_ASSERT(pos + n <= piece.end);
            if (pos > gapBegin)
                out.push_back({ gapBegin, pos });
            out.push_back({ pos, pos + n });
            pos += n;
            gapBegin = pos;
        }
        if (piece.end > gapBegin)
            out.push_back({ gapBegin, piece.end });
    }
    return out;
}

std::vector<Matcher> passesOf(PreTokenizerKind kind)
{
    switch (kind) {
    case PreTokenizerKind::Default:
        return { matchPunctuationRun<false>, matchGpt2, matchNumbers, matchThreeAsciiDigits };
    case PreTokenizerKind::Gpt2:
        return { matchGpt2 };
    case PreTokenizerKind::Llama3:
        return { matchLlama3Like<3, false> };
    case PreTokenizerKind::Qwen2:
        return { matchLlama3Like<1, false> };
    case PreTokenizerKind::Qwen35:
        return { matchLlama3Like<1, true> };
    case PreTokenizerKind::Gpt4o:
        return { matchGpt4o };
    case PreTokenizerKind::Starcoder:
        return { matchOneNumber, matchGpt2 };
    case PreTokenizerKind::Falcon:
        return { matchPunctuationRun<true>, matchGpt2, matchThreeAsciiDigits };
    case PreTokenizerKind::DeepSeekLlm:
        return { matchNewline, matchDeepSeekWord, matchDeepSeekPunctuation, matchTrailingSpace, matchDeepSeekCjk,
            matchNumbers };
    case PreTokenizerKind::DeepSeekCoder:
        return { matchNewline, matchSpaceLetters, matchSpacePunctuation, matchDeepSeekCjk, matchOneNumber };
    case PreTokenizerKind::DeepSeek3:
        return { matchNumbers3, matchDeepSeek3Cjk, matchDeepSeek3Words };
    case PreTokenizerKind::Gemma4:
        return { matchNewlineRuns };
    }
    NW_ASSERT(false);
    return {};
}

struct NamedSpec {
    std::string_view name;
    PreTokenizerSpec spec;
};

constexpr PreTokenizerSpec kLlama3 { PreTokenizerKind::Llama3, true, true };

// Names as llama.cpp's llama_vocab::impl::load reads them (with the options it ties to each);
// the first name of each kind is its canonical one.
constexpr std::array<NamedSpec, 56> kNames = { {
    { "default", { PreTokenizerKind::Default } },
    { "", { PreTokenizerKind::Default } },
    { "gpt-2", { PreTokenizerKind::Gpt2 } },
    { "phi-2", { PreTokenizerKind::Gpt2 } },
    { "mpt", { PreTokenizerKind::Gpt2 } },
    { "olmo", { PreTokenizerKind::Gpt2 } },
    { "jais", { PreTokenizerKind::Gpt2 } },
    { "trillion", { PreTokenizerKind::Gpt2 } },
    { "granite-docling", { PreTokenizerKind::Gpt2 } },
    { "exaone4", { PreTokenizerKind::Gpt2 } },
    { "gigachat", { PreTokenizerKind::Gpt2 } },
    { "a.x-4.0", { PreTokenizerKind::Gpt2 } },
    { "mellum", { PreTokenizerKind::Gpt2 } },
    { "modern-bert", { PreTokenizerKind::Gpt2 } },
    { "roberta-bpe", { PreTokenizerKind::Gpt2 } },
    { "llama-bpe", kLlama3 },
    { "llama3", kLlama3 },
    { "llama-v3", kLlama3 },
    { "falcon3", kLlama3 },
    { "falcon-h1", kLlama3 },
    { "pixtral", kLlama3 },
    { "midm-2.0", kLlama3 },
    { "lfm2", kLlama3 },
    { "dbrx", { PreTokenizerKind::Llama3 } },
    { "smaug-bpe", { PreTokenizerKind::Llama3 } },
    { "glm4", { PreTokenizerKind::Llama3 } },
    { "chatglm-bpe", { PreTokenizerKind::Llama3 } },
    { "qwen2", { PreTokenizerKind::Qwen2 } },
    { "deepseek-r1-qwen", { PreTokenizerKind::Qwen2 } },
    { "megrez", { PreTokenizerKind::Qwen2 } },
    { "stablelm2", { PreTokenizerKind::Qwen2 } },
    { "hunyuan", { PreTokenizerKind::Qwen2 } },
    { "solar-open", { PreTokenizerKind::Qwen2 } },
    { "kormo", { PreTokenizerKind::Qwen2 } },
    { "grok-2", { PreTokenizerKind::Qwen2 } },
    { "qwen35", { PreTokenizerKind::Qwen35 } },
    { "gpt-4o", { PreTokenizerKind::Gpt4o } },
    { "llama4", { PreTokenizerKind::Gpt4o } },
    { "kanana2", { PreTokenizerKind::Gpt4o } },
    { "minimax-m2", { PreTokenizerKind::Gpt4o } },
    { "starcoder", { PreTokenizerKind::Starcoder } },
    { "refact", { PreTokenizerKind::Starcoder } },
    { "command-r", { PreTokenizerKind::Starcoder } },
    { "smollm", { PreTokenizerKind::Starcoder } },
    { "codeshell", { PreTokenizerKind::Starcoder } },
    { "exaone", { PreTokenizerKind::Starcoder } },
    { "minerva-7b", { PreTokenizerKind::Starcoder } },
    { "mellum2", { PreTokenizerKind::Starcoder } },
    { "falcon", { PreTokenizerKind::Falcon } },
    { "deepseek-llm", { PreTokenizerKind::DeepSeekLlm } },
    { "deepseek-coder", { PreTokenizerKind::DeepSeekCoder } },
    { "deepseek-v3", { PreTokenizerKind::DeepSeek3 } },
    { "hunyuan-dense", { PreTokenizerKind::DeepSeek3 } },
    { "joyai-llm", { PreTokenizerKind::DeepSeek3 } },
    { "gemma4", { PreTokenizerKind::Gemma4 } },
    { "granite-embed-multi-311m", { PreTokenizerKind::Gemma4 } },
} };

} // namespace

std::optional<PreTokenizerSpec> preTokenizerFromName(std::string_view name)
{
    for (const NamedSpec &named : kNames)
        if (named.name == name)
            return named.spec;
    return std::nullopt;
}

std::string_view preTokenizerName(PreTokenizerKind kind)
{
    for (const NamedSpec &named : kNames)
        if (named.spec.kind == kind)
            return named.name;
    NW_ASSERT(false);
    return {};
}

std::string_view knownPreTokenizerNames()
{
    return "default, gpt-2, llama-bpe (llama3), dbrx, qwen2, qwen35, gpt-4o, starcoder, refact, command-r, falcon, "
           "mpt, "
           "deepseek-llm, deepseek-coder, deepseek-v3, deepseek-r1-qwen, gemma4 and their aliases";
}

std::vector<std::string_view> preTokenize(PreTokenizerKind kind, std::string_view text)
{
    const unicode::CodepointText decoded = unicode::toCodepoints(text);
    std::vector<Piece> pieces;
    if (!decoded.cps.empty())
        pieces.push_back({ 0, decoded.cps.size() });
    for (Matcher match : passesOf(kind))
        pieces = split(decoded.cps, pieces, match);

    std::vector<std::string_view> words;
    words.reserve(pieces.size());
    for (const Piece &piece : pieces) {
        const std::size_t begin = decoded.offsets[piece.begin];
        words.push_back(text.substr(begin, decoded.offsets[piece.end] - begin));
    }
    return words;
}

} // namespace nw
