// A model's vocabulary as GGUF metadata describes it (tokenizer.ggml.*): token texts, scores,
// types, BPE merges and the special ids, with the lookups the tokenizers need.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace nw {

class GgufFile;

// tokenizer.ggml.token_type values, numbered as on disk (llama.cpp's llama_token_type).
enum class TokenType : std::int32_t {
    Undefined = 0,
    Normal = 1,
    Unknown = 2,
    Control = 3,     // <s>, </s>, <|eot_id|>: never produced from plain text unless parsed as special
    UserDefined = 4, // added tokens matched as a whole even in plain text
    Unused = 5,
    Byte = 6,        // SentencePiece byte fallback, text "<0xNN>"
};

enum class VocabModel {
    Spm, // "llama": SentencePiece-style, merges by score, byte fallback
    Bpe, // "gpt2": byte-level BPE, merges by rank, pre-tokenizer by tokenizer.ggml.pre; "gemma4": BPE
         // by rank over raw UTF-8 with spaces as U+2581 and <0xNN> byte fallback (pre "gemma4")
};

// Everything read from the metadata; -1 for an id the file does not define.
struct VocabSpec {
    VocabModel model = VocabModel::Spm;
    std::string pre;                  // tokenizer.ggml.pre ("" when absent)
    std::vector<std::string> tokens;  // [nVocab]
    std::vector<float> scores;        // [nVocab] or empty (all 0)
    std::vector<TokenType> types;     // [nVocab] or empty (all Normal)
    std::vector<std::string> merges;  // BPE: "left right", in rank order
    std::int32_t bos = -1;
    std::int32_t eos = -1;
    std::int32_t eot = -1;
    std::int32_t eom = -1;
    std::int32_t unk = -1;
    std::int32_t pad = -1;
    std::int32_t fimPre = -1; // fill-in-the-middle markers: pad, repo and file separator end
    std::int32_t fimSuf = -1; // generation as llama.cpp decides it (Qwen's <|fim_pad|>, ...)
    std::int32_t fimMid = -1;
    std::int32_t fimPad = -1;
    std::int32_t fimRep = -1;
    std::int32_t fimSep = -1;
    bool addBos = false;
    bool addEos = false;
    bool addSpacePrefix = false; // SPM: a leading space before the text (sentencepiece's add_dummy_prefix)
    std::string name;            // general.name: Phi-3 files get llama.cpp's whitespace rule for specials
};

class Vocab {
public:
    // Validates the spec (sizes agree, ids in range, merges well formed); throws nw::Error. Then
    // derives what GGUF runtimes derive from token texts (llama.cpp llama_vocab::impl::load):
    // end-of-turn and fill-in-the-middle ids the file does not name, the end-of-generation set,
    // and token types they override (end-of-generation texts become control tokens; gpt-oss's
    // Harmony markers <|start|> <|channel|> <|message|> <|constrain|> become user-defined, and so
    // does <|end|> next to <|return|> and <|call|>, which leaves the end-of-generation set).
    explicit Vocab(VocabSpec spec);
    // Reads tokenizer.ggml.* with the defaults GGUF runtimes use when a key is missing; refuses
    // tokenizer models other than "llama", "gpt2" and "gemma4".
    static Vocab fromGguf(const GgufFile &file);

    const VocabSpec &spec() const { return m_spec; }
    VocabModel model() const { return m_spec.model; }
    std::int32_t size() const { return static_cast<std::int32_t>(m_spec.tokens.size()); }
    const std::string &text(std::int32_t id) const;
    float score(std::int32_t id) const;
    TokenType type(std::int32_t id) const;
    bool contains(std::int32_t id) const { return id >= 0 && id < size(); }

    // The id of a token text; when several tokens share a text the last one wins (as in
    // llama.cpp, so ids agree with it).
    std::optional<std::int32_t> find(std::string_view text) const;
    // The rank of merging `left` + `right` (lower merges first); nullopt when not a merge.
    std::optional<std::int32_t> mergeRank(std::string_view left, std::string_view right) const;
    // SPM byte fallback: the "<0xNN>" token for a byte (or the one-byte token, or unk).
    std::optional<std::int32_t> byteToken(std::uint8_t byte) const;

    // Tokens matched as whole units before tokenizing (control, user-defined, unknown),
    // longest text first.
    const std::vector<std::int32_t> &specialTokens() const { return m_special; }
    // Whether whitespace right after this special token is dropped from the text (llama.cpp's
    // RSTRIP attribute, which it gives the specials of Phi-3 files).
    bool stripsSpaceAfter(std::int32_t id) const;
    // End-of-generation ids, sorted, as llama.cpp collects them: eos, eot, eom, the FIM pad /
    // repo / file-separator ids and every token whose text is a known end of turn
    // (<|im_end|>, <end_of_turn>, <|end|>, <|return|>, <|call|>, <turn|>, ...).
    const std::vector<std::int32_t> &endOfGeneration() const { return m_eog; }

private:
    void deriveSpecialTokens();
    void setType(std::int32_t id, TokenType type);

    // Hashes std::string and std::string_view alike, so lookups by view allocate nothing.
    struct TextHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
    };
    using TextMap = std::unordered_map<std::string, std::int32_t, TextHash, std::equal_to<>>;

    VocabSpec m_spec;
    TextMap m_ids;
    TextMap m_mergeRanks; // key: the left text's length (4 bytes), then left and right
    std::vector<std::int32_t> m_byteTokens;                     // [256], -1: none
    std::vector<std::int32_t> m_special;
    std::vector<std::uint8_t> m_stripsSpaceAfter; // [nVocab] or empty (none)
    std::vector<std::int32_t> m_eog;
};

std::string_view vocabModelName(VocabModel model);

} // namespace nw
