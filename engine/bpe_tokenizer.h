// BPE tokenizer by merge rank. Byte-level ("gpt2" vocabularies: GPT-2, Llama 3, Qwen, DeepSeek,
// gpt-oss): the text is split into words by the vocabulary's pre-tokenizer, each word's bytes
// are mapped to GPT-2's printable code points, and merges apply inside each word. Gemma 4
// ("gemma4"): spaces become U+2581, the text is cut only at newline runs, merges apply to its
// UTF-8 characters, and what no token covers falls back to <0xNN> byte tokens.
#pragma once

#include "engine/pre_tokenizer.h"
#include "engine/tokenizer.h"

namespace nw {

class BpeTokenizer final : public Tokenizer {
public:
    // Throws nw::Error when tokenizer.ggml.pre names a pre-tokenizer this engine lacks.
    explicit BpeTokenizer(Vocab vocab);

    PreTokenizerKind preTokenizer() const { return m_pre; }

protected:
    void encodeText(std::string_view text, bool afterSpecial, std::vector<std::int32_t> &out) const override;
    std::string textPiece(std::int32_t id) const override;

private:
    void encodeWord(std::string_view word, std::vector<std::int32_t> &out) const;

    PreTokenizerKind m_pre = PreTokenizerKind::Default;
    // Llama 3 vocabularies take a word that is itself a token whole, before any merge.
    bool m_wholeWordsFirst = false;
    // Byte-level (GPT-2's byte map) unless the vocabulary merges raw UTF-8 (Gemma 4).
    bool m_byteLevel = true;
};

} // namespace nw
