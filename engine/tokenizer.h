// Text <-> token ids for a model, from its GGUF vocabulary: the interface the engine and app
// use, and the factory that picks SentencePiece-style or byte-level BPE by tokenizer.ggml.model.
#pragma once

#include "engine/vocab.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nw {

class GgufFile;

class Tokenizer {
public:
    virtual ~Tokenizer();
    Tokenizer(const Tokenizer &) = delete;
    Tokenizer &operator=(const Tokenizer &) = delete;

    // Reads the vocabulary from the file's metadata (no weights are touched). Throws nw::Error
    // for an unsupported tokenizer model or pre-tokenizer, or a malformed vocabulary.
    static std::unique_ptr<Tokenizer> fromGguf(const GgufFile &file);
    static std::unique_ptr<Tokenizer> fromVocab(Vocab vocab);

    // Token ids of `text`. addSpecial: BOS/EOS as the vocabulary asks (add_bos_token,
    // add_eos_token). parseSpecial: control tokens written in the text ("<|eot_id|>") become
    // their ids, longest text first; user-defined tokens are always matched whole.
    std::vector<std::int32_t> encode(std::string_view text, bool addSpecial, bool parseSpecial) const;

    // The text of ids: byte tokens and byte-level BPE code points become their exact bytes,
    // control tokens render as nothing, and the space SentencePiece put before the text goes.
    std::string decode(std::span<const std::int32_t> ids) const;

    // The bytes one token adds to a decoded text, for streaming: may be part of a UTF-8
    // sequence (byte tokens), so a stream must hold bytes until a sequence is complete
    // (unicode::completeUtf8Prefix says how much can be shown).
    // renderSpecial: control tokens give their text instead of nothing. Throws nw::Error for an
    // id outside the vocabulary.
    std::string tokenPiece(std::int32_t id, bool renderSpecial = false) const;

    std::int32_t bos() const { return m_vocab.spec().bos; }
    std::int32_t eos() const { return m_vocab.spec().eos; }
    std::int32_t eot() const { return m_vocab.spec().eot; }
    bool isEog(std::int32_t id) const;
    std::int32_t nVocab() const { return m_vocab.size(); }
    const Vocab &vocab() const { return m_vocab; }

protected:
    explicit Tokenizer(Vocab vocab);

    // Appends the ids of a run of plain text (no special tokens in it). `afterSpecial`: the run
    // starts the text or follows a special token (SentencePiece adds its space prefix there).
    virtual void encodeText(std::string_view text, bool afterSpecial, std::vector<std::int32_t> &out) const = 0;
    // The bytes of a normal or user-defined token.
    virtual std::string textPiece(std::int32_t id) const = 0;
    // Whether decode() drops one leading space (the SentencePiece space prefix).
    virtual bool stripsLeadingSpace() const { return false; }

    Vocab m_vocab;
};

} // namespace nw
