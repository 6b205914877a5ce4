// What every tokenizer shares: special-token partitioning, BOS/EOS, decoding and the factory.
#include "engine/tokenizer.h"

#include "common/error.h"
#include "engine/bpe_tokenizer.h"
#include "engine/gguf_file.h"
#include "engine/spm_tokenizer.h"

#include <algorithm>

namespace nw {
namespace {

// A run of the input: plain text [begin, begin + length) or one special token.
struct Fragment {
    std::size_t begin = 0;
    std::size_t length = 0;
    std::int32_t token = -1; // >= 0: a special token, no text
};

// Cuts the text at each special token, taking the tokens longest first over the whole text
// (so "<|im_end|>" wins over a shorter token inside it), as GGUF runtimes partition it.
std::vector<Fragment> partition(const Vocab &vocab, std::string_view text, bool parseSpecial)
{
    std::vector<Fragment> fragments{{0, text.size(), -1}};
    for (const std::int32_t id : vocab.specialTokens()) {
        const TokenType type = vocab.type(id);
        // Without parseSpecial only user-defined tokens are matched (they are part of the
        // vocabulary's plain text, as Hugging Face tokenizers treat added tokens).
        if (!parseSpecial && type != TokenType::UserDefined)
            continue;
        const std::string &special = vocab.text(id);
        if (special.size() > text.size())
            continue;
        std::vector<Fragment> next;
        next.reserve(fragments.size());
        for (const Fragment &fragment : fragments) {
            if (fragment.token >= 0 || fragment.length < special.size()) {
                next.push_back(fragment);
                continue;
            }
            const std::string_view run = text.substr(fragment.begin, fragment.length);
            std::size_t from = 0;
            for (std::size_t at = run.find(special); at != std::string_view::npos; at = run.find(special, from)) {
                if (at > from)
                    next.push_back({fragment.begin + from, at - from, -1});
                next.push_back({0, 0, id});
                from = at + special.size();
                // C isspace(): what llama.cpp strips after a token with its RSTRIP attribute.
                if (vocab.stripsSpaceAfter(id))
                    while (from < run.size() && std::string_view(" \t\n\v\f\r").find(run[from]) != std::string_view::npos)
                        ++from;
            }
            if (from < run.size())
                next.push_back({fragment.begin + from, run.size() - from, -1});
        }
        fragments = std::move(next);
    }
    return fragments;
}

} // namespace

Tokenizer::Tokenizer(Vocab vocab) : m_vocab(std::move(vocab)) {}

Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::fromVocab(Vocab vocab)
{
    if (vocab.model() == VocabModel::Spm)
        return std::make_unique<SpmTokenizer>(std::move(vocab));
    return std::make_unique<BpeTokenizer>(std::move(vocab));
}

std::unique_ptr<Tokenizer> Tokenizer::fromGguf(const GgufFile &file)
{
    Vocab vocab = Vocab::fromGguf(file);
    try {
        return fromVocab(std::move(vocab));
    } catch (const Error &e) {
        fail("{}: {}", file.label(), e.what());
    }
}

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, bool addSpecial, bool parseSpecial) const
{
    std::vector<std::int32_t> ids;
    ids.reserve(text.size() / 3 + 2);
    const VocabSpec &spec = m_vocab.spec();
    if (addSpecial && spec.addBos)
        ids.push_back(spec.bos);
    // An empty text is no text: no space prefix, nothing but the special tokens asked for.
    if (!text.empty()) {
        bool afterSpecial = true;
        for (const Fragment &fragment : partition(m_vocab, text, parseSpecial)) {
            if (fragment.token >= 0) {
                ids.push_back(fragment.token);
                afterSpecial = true;
            } else {
                encodeText(text.substr(fragment.begin, fragment.length), afterSpecial, ids);
                afterSpecial = false;
            }
        }
    }
    if (addSpecial && spec.addEos)
        ids.push_back(spec.eos);
    return ids;
}

std::string Tokenizer::tokenPiece(std::int32_t id, bool renderSpecial) const
{
    if (!m_vocab.contains(id))
        fail("token id {} is outside the vocabulary of {} tokens", id, m_vocab.size());
    switch (m_vocab.type(id)) {
    case TokenType::Control:
    case TokenType::Unknown:
        return renderSpecial ? m_vocab.text(id) : std::string();
    case TokenType::Normal:
    case TokenType::UserDefined:
    case TokenType::Byte:
        return textPiece(id);
    case TokenType::Unused:
    case TokenType::Undefined:
        break;
    }
    return renderSpecial ? m_vocab.text(id) : std::string();
}

std::string Tokenizer::decode(std::span<const std::int32_t> ids) const
{
    std::string text;
    bool atStart = true;
    for (const std::int32_t id : ids) {
        std::string piece = tokenPiece(id);
        if (piece.empty())
            continue;
        if (atStart && piece.front() == ' ' && stripsLeadingSpace())
            piece.erase(0, 1);
        atStart = false;
        text += piece;
    }
    return text;
}

bool Tokenizer::isEog(std::int32_t id) const
{
    const std::vector<std::int32_t> &eog = m_vocab.endOfGeneration();
    return std::binary_search(eog.begin(), eog.end(), id);
}

} // namespace nw
