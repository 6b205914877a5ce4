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
};

} // namespace nw
