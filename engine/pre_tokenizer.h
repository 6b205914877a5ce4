// Pre-tokenizers of byte-level BPE vocabularies: split text into the words that BPE merges
// inside of, as the `tokenizer.ggml.pre` regexes of GGUF runtimes (llama.cpp llama-vocab.cpp)
// and Hugging Face tokenizer.json files define them — written as hand-made matchers over code
// point classes, since std::regex knows no \p{L}.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace nw {

enum class PreTokenizerKind {
    Gpt2,        // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
    Llama3,      // llama-bpe: contractions, [^\r\n\p{L}\p{N}]?\p{L}+, \p{N}{1,3}, punctuation, spaces
    Qwen2,       // as Llama3 with single digits
    DeepSeekLlm, // six passes: newlines, Latin/Greek/... words, ASCII punctuation, trailing spaces, CJK, numbers
    DeepSeek3,   // three passes: \p{N}{1,3}, CJK + kana, then a Llama3-like pattern with \p{P}\p{S}\p{M}
};

// The kind for a `tokenizer.ggml.pre` value ("" and "default" give the default, Llama3, as in
// llama.cpp); nullopt for a name this engine does not implement.
std::optional<PreTokenizerKind> preTokenizerFromName(std::string_view name);
std::string_view preTokenizerName(PreTokenizerKind kind);

// Splits UTF-8 text into words: consecutive views into `text` that together cover it exactly.
// Each pass of the kind's pattern list splits the pieces of the previous one, keeping the
// text between matches as pieces of its own (regex "isolated" splitting).
std::vector<std::string_view> preTokenize(PreTokenizerKind kind, std::string_view text);

} // namespace nw
