// SentencePiece BPE by score, as GGUF runtimes implement it for "llama" vocabularies
// (llama.cpp llm_tokenizer_spm): symbols start as UTF-8 characters; a max-heap of adjacent pairs
// keyed by the score of their merged token picks the next merge (ties: the leftmost pair).
#include "engine/spm_tokenizer.h"

#include "common/assert.h"
#include "common/error.h"
#include "engine/unicode.h"

#include <cstdlib>
#include <queue>

namespace nw {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81"; // U+2581 LOWER ONE EIGHTH BLOCK

struct Symbol {
    std::size_t begin; // byte offset in the escaped text
    std::size_t length; // 0: merged into its left neighbour
    int prev;
    int next;
};

struct Pair {
    int left;
    int right;
    float score;
    std::size_t length; // bytes of the merged text, to detect a pair made stale by other merges
};

struct PairOrder {
    bool operator()(const Pair &a, const Pair &b) const
    {
        // Top of the heap: highest score, then the leftmost pair.
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
};

} // namespace

SpmTokenizer::SpmTokenizer(Vocab vocab) : Tokenizer(std::move(vocab))
{
    NW_ASSERT(m_vocab.model() == VocabModel::Spm);
    m_splitAtSpaces = true;
    for (std::int32_t id = 0; id < m_vocab.size() && m_splitAtSpaces; ++id) {
        const std::string &token = m_vocab.text(id);
        for (std::size_t at = token.find(kSpaceMark, 1); at != std::string::npos; at = token.find(kSpaceMark, at + 1)) {
            if (at < kSpaceMark.size() || token.compare(at - kSpaceMark.size(), kSpaceMark.size(), kSpaceMark) != 0) {
                m_splitAtSpaces = false;
                break;
            }
        }
    }
}

void SpmTokenizer::encodeText(std::string_view raw, bool afterSpecial, std::vector<std::int32_t> &out) const
{
    std::string text;
    text.reserve(raw.size() * 2 + 3);
    if (afterSpecial && m_vocab.spec().addSpacePrefix)
        text += kSpaceMark;
    for (const char c : raw) {
        if (c == ' ')
            text += kSpaceMark;
        else
            text += c;
    }

    if (!m_splitAtSpaces) {
        encodeSegment(text, out);
        return;
    }
    // No token holds a ▁ right after another character, so no merge crosses the start of a
    // ▁ run: each word merges on its own (same result, much smaller heaps). The cut must fall
    // between symbols: a malformed lead byte before a ▁ takes some of its bytes into its symbol.
    std::size_t begin = 0;
    bool afterSpaceMark = false;
    for (std::size_t at = 0; at < text.size();) {
        const std::size_t length = std::min(unicode::symbolLength(static_cast<unsigned char>(text[at])), text.size() - at);
        const bool spaceMark = text.compare(at, length, kSpaceMark) == 0;
        if (spaceMark && !afterSpaceMark && at > begin) {
            encodeSegment(std::string_view(text).substr(begin, at - begin), out);
            begin = at;
        }
        afterSpaceMark = spaceMark;
        at += length;
    }
    encodeSegment(std::string_view(text).substr(begin), out);
}

void SpmTokenizer::encodeSegment(std::string_view text, std::vector<std::int32_t> &out) const
{
    std::vector<Symbol> symbols;
    symbols.reserve(text.size());
    for (std::size_t offset = 0; offset < text.size();) {
        const std::size_t length = std::min(unicode::symbolLength(static_cast<unsigned char>(text[offset])), text.size() - offset);
        const int index = static_cast<int>(symbols.size());
        offset += length;
        symbols.push_back({offset - length, length, index - 1, offset == text.size() ? -1 : index + 1});
    }

    std::priority_queue<Pair, std::vector<Pair>, PairOrder> queue;
    auto tryPair = [&](int left, int right) {
        if (left < 0 || right < 0)
            return;
        const Symbol &l = symbols[static_cast<std::size_t>(left)];
        const Symbol &r = symbols[static_cast<std::size_t>(right)];
        const std::size_t length = l.length + r.length;
        const std::optional<std::int32_t> id = m_vocab.find(text.substr(l.begin, length));
        if (!id)
            return;
        queue.push({left, right, m_vocab.score(*id), length});
    };
    for (int i = 1; i < static_cast<int>(symbols.size()); ++i)
        tryPair(i - 1, i);

    while (!queue.empty()) {
        const Pair pair = queue.top();
        queue.pop();
        Symbol &left = symbols[static_cast<std::size_t>(pair.left)];
        Symbol &right = symbols[static_cast<std::size_t>(pair.right)];
        if (left.length == 0 || right.length == 0 || left.length + right.length != pair.length)
            continue;
        left.length += right.length;
        right.length = 0;
        left.next = right.next;
        if (right.next >= 0)
            symbols[static_cast<std::size_t>(right.next)].prev = pair.left;
        tryPair(left.prev, pair.left);
        tryPair(pair.left, left.next);
    }

    // Every merged symbol is a token (a pair is only queued when its text is one); single
    // characters that are not fall back to their bytes.
    for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[static_cast<std::size_t>(i)].next) {
        const Symbol &symbol = symbols[static_cast<std::size_t>(i)];
        const std::string_view piece = text.substr(symbol.begin, symbol.length);
        if (const std::optional<std::int32_t> id = m_vocab.find(piece)) {
            out.push_back(*id);
            continue;
        }
        for (const char c : piece) {
            const std::optional<std::int32_t> id = m_vocab.byteToken(static_cast<std::uint8_t>(c));
            if (!id)
                fail("text has byte 0x{:02X}, which the vocabulary can represent neither as a token nor as <unk>",
                     static_cast<unsigned char>(c));
            out.push_back(*id);
        }
    }
}

std::string SpmTokenizer::textPiece(std::int32_t id) const
{
    const std::string &text = m_vocab.text(id);
    if (m_vocab.type(id) == TokenType::Byte) {
        // "<0xNN>"
        if (text.size() == 6 && text.starts_with("<0x") && text.back() == '>') {
            const std::string hex = text.substr(3, 2);
            char *end = nullptr;
            const long value = std::strtol(hex.c_str(), &end, 16);
            if (end == hex.c_str() + 2)
                return std::string(1, static_cast<char>(value));
        }
        return text;
    }
    if (m_vocab.type(id) == TokenType::UserDefined)
        return text;
    std::string piece;
    piece.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        if (std::string_view(text).substr(i, kSpaceMark.size()) == kSpaceMark) {
            piece += ' ';
            i += kSpaceMark.size();
        } else {
            piece += text[i++];
        }
    }
    return piece;
}

} // namespace nw
