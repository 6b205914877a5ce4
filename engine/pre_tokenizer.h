// Pre-tokenizers of BPE vocabularies: split text into the words that BPE merges inside of, as
// the `tokenizer.ggml.pre` regex lists of GGUF runtimes (llama.cpp llama-vocab.cpp) define them —
// written as hand-made matchers over code point classes, since std::regex knows no \p{L}.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace nw {

enum class PreTokenizerKind {
    Default,       // no or "default" pre: [\p{P}$+<=>^~|]+, then GPT-2's pattern, \p{N}+, [0-9]{3}
    Gpt2,          // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
    Llama3,        // contractions, [^\r\n\p{L}\p{N}]?\p{L}+, \p{N}{1,3}, punctuation, spaces
    Qwen2,         // as Llama3 with single digits
    Qwen35,        // as Qwen2 with combining marks inside letter runs ([\p{L}\p{M}]+)
    Gpt4o,         // o200k (gpt-oss, Phi-4-mini, Llama 4): case-split letter runs, \p{N}{1,3}
    Starcoder,     // \p{N}, then GPT-2's pattern (starcoder, refact, command-r, smollm)
    Falcon,        // [\p{P}$+<=>^~|`]+, GPT-2's pattern, [0-9]{3}
    DeepSeekLlm,   // six passes: newlines, Latin/Greek/... words, ASCII punctuation, trailing spaces, CJK, numbers
    DeepSeekCoder, // [\r\n], \s?\p{L}+, \s?\p{P}+, CJK, \p{N}
    DeepSeek3,     // three passes: \p{N}{1,3}, CJK + kana, then a Llama3-like pattern with \p{P}\p{S}\p{M}
    Gemma4,        // runs of newlines and of everything else; BPE then merges raw UTF-8 with spaces as U+2581
};

// What a `tokenizer.ggml.pre` name selects: the pattern list and the options GGUF runtimes tie
// to that name.
struct PreTokenizerSpec {
    PreTokenizerKind kind = PreTokenizerKind::Default;
    bool ignoreMerges = false; // a word that is itself a token is taken whole (Llama 3, Tekken)
    bool addBos = false;       // BOS is added unless the file says otherwise (Llama 3)
};

// The spec for a `tokenizer.ggml.pre` value ("" and "default" give Default, as in llama.cpp);
// nullopt for a name this engine does not implement.
std::optional<PreTokenizerSpec> preTokenizerFromName(std::string_view name);
std::string_view preTokenizerName(PreTokenizerKind kind);
// The names preTokenizerFromName knows, for error messages.
std::string_view knownPreTokenizerNames();

// Splits UTF-8 text into words: consecutive views into `text` that together cover it exactly.
// Each pass of the kind's pattern list splits the pieces of the previous one, keeping the text
// between matches as pieces of its own (regex "isolated" splitting). Malformed UTF-8 is read
// as unicode::decodeUtf8Lax reads it; byte-level BPE first replaces it
// (unicode::withInvalidUtf8Replaced) so the words are what GGUF runtimes merge.
std::vector<std::string_view> preTokenize(PreTokenizerKind kind, std::string_view text);

} // namespace nw
