// SentencePiece-style tokenizer ("llama" vocabularies): spaces become U+2581, then the adjacent
// pair whose merged text is the highest-scoring token merges first; what stays unknown falls
// back to <0xNN> byte tokens.
#pragma once

#include "engine/tokenizer.h"

namespace nw {

class SpmTokenizer final : public Tokenizer {
public:
    explicit SpmTokenizer(Vocab vocab);

protected:
    void encodeText(std::string_view text, bool afterSpecial, std::vector<std::int32_t> &out) const override;
    std::string textPiece(std::int32_t id) const override;
    bool stripsLeadingSpace() const override { return m_vocab.spec().addSpacePrefix; }

private:
    // The merge loop over one run of escaped text.
    void encodeSegment(std::string_view text, std::vector<std::int32_t> &out) const;

    // Whether words (a ▁ run and what follows up to the next ▁ run) can merge independently:
    // true when no token has a ▁ right after another character.
    bool m_splitAtSpaces = false;
};

} // namespace nw
