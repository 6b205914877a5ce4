// Byte-level BPE by merge rank (Sennrich et al. 2016, GPT-2's byte-level variant), merging as
// GGUF runtimes do (llama.cpp llm_tokenizer_bpe): a min-heap of adjacent pairs keyed by rank,
// ties to the leftmost pair, stale pairs skipped when popped.
#include "engine/bpe_tokenizer.h"

#include "common/assert.h"
#include "common/error.h"
#include "common/log.h"
#include "engine/unicode.h"

#include <cstdio>
#include <fmt/format.h>
#include <queue>

namespace nw {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81"; // U+2581, Gemma 4's space

struct Symbol {
    std::size_t begin;  // byte offset in the byte-level word
    std::size_t length; // 0: merged into its left neighbour
    int prev;
    int next;
};

struct Pair {
    int left;
    int right;
    std::int32_t rank;
    std::size_t leftLength; // the symbols' lengths when queued, to detect a stale pair
    std::size_t rightLength;
};

struct PairOrder {
    bool operator()(const Pair &a, const Pair &b) const
    {
        // Top of the heap: lowest rank, then the leftmost pair.
        return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
};

} // namespace

BpeTokenizer::BpeTokenizer(Vocab vocab) : Tokenizer(std::move(vocab))
{
    NW_ASSERT(m_vocab.model() == VocabModel::Bpe);
    const std::string &pre = m_vocab.spec().pre;
    const std::optional<PreTokenizerSpec> spec = preTokenizerFromName(pre);
    if (!spec)
        fail("pre-tokenizer '{}' (tokenizer.ggml.pre) is not supported; known: {}", pre, knownPreTokenizerNames());
    if (pre.empty())
        log::get("engine")->warn("vocabulary names no pre-tokenizer (tokenizer.ggml.pre); using the default one, as "
                                 "GGUF runtimes do: tokens may differ from the model's own tokenizer");
    m_pre = spec->kind;
    m_wholeWordsFirst = spec->ignoreMerges;
    m_byteLevel = m_pre != PreTokenizerKind::Gemma4;
}

void BpeTokenizer::encodeText(std::string_view raw, bool, std::vector<std::int32_t> &out) const
{
    // GGUF runtimes pre-tokenize code points and rebuild each word from them, so malformed
    // UTF-8 reaches the merges as U+FFFD, not as its bytes.
    std::string escaped;
    if (!m_byteLevel) {
        escaped.reserve(raw.size() + raw.size() / 4);
        for (const char c : raw) {
            if (c == ' ')
                escaped += kSpaceMark;
            else
                escaped += c;
        }
        raw = escaped;
    }
    std::string replaced;
    const std::string_view text = unicode::withInvalidUtf8Replaced(raw, replaced);
    for (const std::string_view word : preTokenize(m_pre, text)) {
        if (m_byteLevel)
            encodeWord(unicode::bytesToByteLevel(word), out);
        else
            encodeWord(word, out);
    }
}

void BpeTokenizer::encodeWord(std::string_view word, std::vector<std::int32_t> &out) const
{
    // Gemma 4 takes a run of newlines whole when it is a token (llama.cpp PR 21343).
    const bool newlines = !m_byteLevel && word.find_first_not_of('\n') == std::string_view::npos;
    if (m_wholeWordsFirst || newlines) {
        if (const std::optional<std::int32_t> id = m_vocab.find(word)) {
            out.push_back(*id);
            return;
        }
    }

    std::vector<Symbol> symbols;
    symbols.reserve(word.size());
    for (std::size_t offset = 0; offset < word.size();) {
        const std::size_t length = std::min(unicode::symbolLength(static_cast<unsigned char>(word[offset])), word.size() - offset);
        const int index = static_cast<int>(symbols.size());
        offset += length;
        symbols.push_back({offset - length, length, index - 1, offset == word.size() ? -1 : index + 1});
    }

    std::priority_queue<Pair, std::vector<Pair>, PairOrder> queue;
    auto tryPair = [&](int left, int right) {
        if (left < 0 || right < 0)
            return;
        const Symbol &l = symbols[static_cast<std::size_t>(left)];
        const Symbol &r = symbols[static_cast<std::size_t>(right)];
        const std::optional<std::int32_t> rank =
            m_vocab.mergeRank(word.substr(l.begin, l.length), word.substr(r.begin, r.length));
        if (rank)
            queue.push({left, right, *rank, l.length, r.length});
    };
    for (int i = 1; i < static_cast<int>(symbols.size()); ++i)
        tryPair(i - 1, i);

    while (!queue.empty()) {
        const Pair pair = queue.top();
        queue.pop();
        Symbol &left = symbols[static_cast<std::size_t>(pair.left)];
        Symbol &right = symbols[static_cast<std::size_t>(pair.right)];
        // Symbols only grow rightwards and stay adjacent in the text, so unchanged lengths mean
        // the pair still spells the text it was queued for.
        if (left.length != pair.leftLength || right.length != pair.rightLength || left.next != pair.right)
            continue;
        left.length += right.length;
        right.length = 0;
        left.next = right.next;
        if (right.next >= 0)
            symbols[static_cast<std::size_t>(right.next)].prev = pair.left;
        tryPair(left.prev, pair.left);
        tryPair(pair.left, left.next);
    }

    for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[static_cast<std::size_t>(i)].next) {
        const Symbol &symbol = symbols[static_cast<std::size_t>(i)];
        const std::string_view piece = word.substr(symbol.begin, symbol.length);
        if (const std::optional<std::int32_t> id = m_vocab.find(piece)) {
            out.push_back(*id);
            continue;
        }
        // A symbol the vocabulary lacks (a character outside a small vocabulary): its bytes,
        // as one-byte tokens (byte-level) or <0xNN> tokens (Gemma 4), where the vocabulary has
        // them; GGUF runtimes drop the others.
        for (const char c : piece) {
            const std::optional<std::int32_t> id =
                m_byteLevel ? m_vocab.find(std::string_view(&c, 1)) : m_vocab.find(fmt::format("<0x{:02X}>", static_cast<unsigned char>(c)));
            if (id)
                out.push_back(*id);
        }
    }
}

std::string BpeTokenizer::textPiece(std::int32_t id) const
{
    const std::string &text = m_vocab.text(id);
    const TokenType type = m_vocab.type(id);
    if (type == TokenType::Byte) {
        // "<0xNN>" (Gemma 4's byte fallback)
        if (text.size() == 6 && text.starts_with("<0x") && text.back() == '>') {
            unsigned value = 0;
            if (std::sscanf(text.c_str() + 3, "%2x", &value) == 1)
                return std::string(1, static_cast<char>(value));
        }
        return text;
    }
    if (type != TokenType::Normal)
        return text;
    if (!m_byteLevel) {
        std::string piece;
        piece.reserve(text.size());
        for (std::size_t at = 0; at < text.size();) {
            if (text.compare(at, kSpaceMark.size(), kSpaceMark) == 0) {
                piece += ' ';
                at += kSpaceMark.size();
            } else {
                piece += text[at++];
            }
        }
        return piece;
    }
    // Byte-level code points back to bytes; a code point outside the map (a hand-made
    // vocabulary) is kept as its UTF-8.
    std::string bytes;
    bytes.reserve(text.size());
    for (std::size_t offset = 0; offset < text.size();) {
        const unicode::Decoded d = unicode::decodeUtf8(text, offset);
        if (const std::optional<std::uint8_t> byte = unicode::codepointToByte(d.cp))
            bytes.push_back(static_cast<char>(*byte));
        else
            bytes.append(text, offset, d.bytes);
        offset += d.bytes;
    }
    return bytes;
}

} // namespace nw
