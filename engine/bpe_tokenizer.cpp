// Byte-level BPE by merge rank (Sennrich et al. 2016, GPT-2's byte-level variant), merging as
// GGUF runtimes do (llama.cpp llm_tokenizer_bpe): a min-heap of adjacent pairs keyed by rank,
// ties to the leftmost pair, stale pairs skipped when popped.
#include "engine/bpe_tokenizer.h"

#include "common/assert.h"
#include "common/error.h"
#include "common/log.h"
#include "engine/unicode.h"

#include <queue>

namespace nw {
namespace {

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
    const std::optional<PreTokenizerKind> kind = preTokenizerFromName(pre);
    if (!kind)
        fail("pre-tokenizer '{}' (tokenizer.ggml.pre) is not supported; known: gpt-2, llama-bpe, qwen2, deepseek-llm, "
             "deepseek-v3, default", pre);
    if (pre.empty())
        log::get("engine")->warn("vocabulary names no pre-tokenizer (tokenizer.ggml.pre); using the default (llama-bpe): "
                                 "tokens may differ from the model's own tokenizer");
    m_pre = *kind;
    m_wholeWordsFirst = pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3";
}

void BpeTokenizer::encodeText(std::string_view text, bool, std::vector<std::int32_t> &out) const
{
    for (const std::string_view word : preTokenize(m_pre, text))
        encodeWord(unicode::bytesToByteLevel(word), out);
}

void BpeTokenizer::encodeWord(std::string_view word, std::vector<std::int32_t> &out) const
{
    if (m_wholeWordsFirst) {
        if (const std::optional<std::int32_t> id = m_vocab.find(word)) {
            out.push_back(*id);
            return;
        }
    }

    std::vector<Symbol> symbols;
    symbols.reserve(word.size());
    for (std::size_t offset = 0; offset < word.size();) {
        const std::size_t length = std::min(unicode::utf8Length(static_cast<unsigned char>(word[offset])), word.size() - offset);
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
        // A symbol the merges built but the vocabulary lacks: its single code points, where
        // they are tokens (byte-level vocabularies hold all 256).
        for (std::size_t offset = 0; offset < piece.size();) {
            const std::size_t length = std::min(unicode::utf8Length(static_cast<unsigned char>(piece[offset])), piece.size() - offset);
            if (const std::optional<std::int32_t> id = m_vocab.find(piece.substr(offset, length)))
                out.push_back(*id);
            offset += length;
        }
    }
}

std::string BpeTokenizer::textPiece(std::int32_t id) const
{
    const std::string &text = m_vocab.text(id);
    if (m_vocab.type(id) != TokenType::Normal)
        return text;
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
