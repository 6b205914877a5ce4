// Tokenizers on tiny hand-built vocabularies, with the expected ids worked out by hand from
// the algorithms' definitions (SentencePiece: highest-scoring adjacent pair first, leftmost on
// ties, byte fallback; byte-level BPE: lowest merge rank first, leftmost on ties).
#include "common/error.h"
#include "engine/bpe_tokenizer.h"
#include "engine/spm_tokenizer.h"
#include "engine/tokenizer.h"
#include "engine/unicode.h"

#include <doctest/doctest.h>

#include <fmt/format.h>

using nw::TokenType;
using Ids = std::vector<std::int32_t>;

namespace {

const std::string kSpace = "\xE2\x96\x81"; // ▁

// 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then:
// 259 ▁ (-1), 260 a (-2), 261 b (-2), 262 ▁a (spaceAScore), 263 ab (-1), 264 ▁b (-3), 265 aa (-1),
// 266 <t> (user-defined).
std::unique_ptr<nw::Tokenizer> spmTokenizer(float spaceAScore)
{
    nw::VocabSpec spec;
    spec.model = nw::VocabModel::Spm;
    auto add = [&](std::string text, float score, TokenType type) {
        spec.tokens.push_back(std::move(text));
        spec.scores.push_back(score);
        spec.types.push_back(type);
    };
    add("<unk>", 0, TokenType::Unknown);
    add("<s>", 0, TokenType::Control);
    add("</s>", 0, TokenType::Control);
    for (int b = 0; b < 256; ++b)
        add(fmt::format("<0x{:02X}>", b), 0, TokenType::Byte);
    add(kSpace, -1, TokenType::Normal);
    add("a", -2, TokenType::Normal);
    add("b", -2, TokenType::Normal);
    add(kSpace + "a", spaceAScore, TokenType::Normal);
    add("ab", -1, TokenType::Normal);
    add(kSpace + "b", -3, TokenType::Normal);
    add("aa", -1, TokenType::Normal);
    add("<t>", 0, TokenType::UserDefined);
    spec.unk = 0;
    spec.bos = 1;
    spec.eos = 2;
    spec.addBos = true;
    spec.addSpacePrefix = true;
    return nw::Tokenizer::fromVocab(nw::Vocab(std::move(spec)));
}

std::int32_t byteId(unsigned char b) { return 3 + b; }

// Byte-level BPE: ids 0..255 are the 256 byte symbols (id = byte), then
// 256 ll, 257 he, 258 hell, 259 hello, 260 Ġw, 261 or, 262 <|endoftext|> (control), 263 el.
// Merge ranks: 0 "l l", 1 "h e", 2 "he ll", 3 "hell o", 4 "Ġ w", 5 "o r", 6 "e l".
std::unique_ptr<nw::Tokenizer> bpeTokenizer(bool addBos = false)
{
    nw::VocabSpec spec;
    spec.model = nw::VocabModel::Bpe;
    spec.pre = "gpt-2";
    for (int b = 0; b < 256; ++b)
        spec.tokens.push_back(nw::unicode::bytesToByteLevel(std::string(1, static_cast<char>(b))));
    for (const char *t : {"ll", "he", "hell", "hello", "\xC4\xA0w", "or", "<|endoftext|>", "el"})
        spec.tokens.emplace_back(t);
    spec.types.assign(spec.tokens.size(), TokenType::Normal);
    spec.types[262] = TokenType::Control;
    spec.merges = {"l l", "h e", "he ll", "hell o", "\xC4\xA0 w", "o r", "e l"};
    spec.bos = 262;
    spec.eos = 262;
    spec.addBos = addBos;
    return nw::Tokenizer::fromVocab(nw::Vocab(std::move(spec)));
}

} // namespace

TEST_CASE("SPM: the highest-scoring pair merges first")
{
    // "▁ab": pairs ▁a and ab; with ▁a at -5, ab (-1) wins and ▁ab is no token.
    CHECK(spmTokenizer(-5)->encode("ab", false, false) == Ids{259, 263});
    // With ▁a at -0.5 it wins instead.
    CHECK(spmTokenizer(-0.5f)->encode("ab", false, false) == Ids{262, 261});
}

TEST_CASE("SPM: equal scores merge the leftmost pair")
{
    // "▁aaa": aa at positions 1 and 2 tie at -1; the left one merges, leaving ▁ aa a.
    CHECK(spmTokenizer(-5)->encode("aaa", false, false) == Ids{259, 265, 260});
}

TEST_CASE("SPM: spaces become ▁ and a space prefix starts the text")
{
    const auto tok = spmTokenizer(-5);
    // "▁a▁b": ▁b (-3) merges before ▁a (-5); both end as tokens.
    CHECK(tok->encode("a b", false, false) == Ids{262, 264});
    // "▁▁a": the first pair ▁▁ is no token, ▁a is.
    CHECK(tok->encode(" a", false, false) == Ids{259, 262});
    CHECK(tok->encode("", false, false).empty());
    CHECK(tok->encode("", true, false) == Ids{1});
}

TEST_CASE("SPM: a token with ▁ inside lets merges cross word starts")
{
    // ▁ (-1), a (-2), b (-2), a▁ (-0.1), a▁b (-0.2): "▁a▁b" merges a▁ first, then a▁b.
    nw::VocabSpec spec;
    spec.model = nw::VocabModel::Spm;
    spec.tokens = {"<unk>", kSpace, "a", "b", "a" + kSpace, "a" + kSpace + "b"};
    spec.scores = {0, -1, -2, -2, -0.1f, -0.2f};
    spec.types = {TokenType::Unknown, TokenType::Normal, TokenType::Normal, TokenType::Normal, TokenType::Normal,
                  TokenType::Normal};
    spec.unk = 0;
    spec.addSpacePrefix = true;
    const auto tok = nw::Tokenizer::fromVocab(nw::Vocab(std::move(spec)));
    CHECK(tok->encode("a b", false, false) == Ids{1, 5});
    CHECK(tok->encode("a b a b", false, false) == Ids{1, 5, 1, 5});
    // No byte tokens: an unknown character becomes <unk>.
    CHECK(tok->encode("c", false, false) == Ids{1, 0});
}

TEST_CASE("SPM: characters without a token fall back to their bytes")
{
    const auto tok = spmTokenizer(-5);
    CHECK(tok->encode("\xC3\xA9", false, false) == Ids{259, byteId(0xC3), byteId(0xA9)}); // é
    CHECK(tok->encode("\n", false, false) == Ids{259, byteId('\n')});
}

TEST_CASE("SPM: BOS, control tokens in the text, user-defined tokens")
{
    const auto tok = spmTokenizer(-5);
    CHECK(tok->encode("a", true, false) == Ids{1, 262});
    // Parsed: "a", </s>, then "b" gets the space prefix again because it follows a special token.
    CHECK(tok->encode("a</s>b", false, true) == Ids{262, 2, 264});
    // Not parsed: the control token's text is plain text (here all bytes but 'b').
    CHECK(tok->encode("a</s>b", false, false) ==
          Ids{262, byteId('<'), byteId('/'), byteId('s'), byteId('>'), 261});
    // User-defined tokens match whole even without parseSpecial.
    CHECK(tok->encode("a<t>b", false, false) == Ids{262, 266, 264});
    CHECK(tok->bos() == 1);
    CHECK(tok->eos() == 2);
    CHECK(tok->isEog(2));
    CHECK_FALSE(tok->isEog(1));
    CHECK(tok->nVocab() == 267);
}

TEST_CASE("SPM: decode restores the text; pieces for streaming")
{
    const auto tok = spmTokenizer(-5);
    CHECK(tok->decode(Ids{1, 262, 264}) == "a b");
    CHECK(tok->decode(Ids{259, byteId(0xC3), byteId(0xA9)}) == "\xC3\xA9");
    CHECK(tok->tokenPiece(264) == " b");
    CHECK(tok->tokenPiece(byteId(0xC3)) == "\xC3");
    CHECK(tok->tokenPiece(1).empty());
    CHECK(tok->tokenPiece(1, true) == "<s>");
    CHECK(tok->tokenPiece(266) == "<t>");
    CHECK_THROWS_AS(tok->tokenPiece(267), nw::Error);
    CHECK_THROWS_AS(tok->tokenPiece(-1), nw::Error);
    for (const std::string text : {"a b", "  ab  aa ", "\xC3\xA9t\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80!",
                                   "line\nbreak\ttab", " leading", "trailing "}) {
        CAPTURE(text);
        CHECK(tok->decode(tok->encode(text, true, false)) == text);
    }
}

TEST_CASE("BPE: merges apply by rank inside each pre-tokenized word")
{
    const auto tok = bpeTokenizer();
    // "hello" climbs ll, he, hell, hello; " world" -> Ġw or l d.
    CHECK(tok->encode("hello world", false, false) == Ids{259, 260, 261, 'l', 'd'});
    // "ell": l l (rank 0) beats e l (rank 6) although e l is further left.
    CHECK(tok->encode("ell", false, false) == Ids{'e', 256});
    // "hel": h e (rank 1) beats e l (rank 6).
    CHECK(tok->encode("hel", false, false) == Ids{257, 'l'});
    // "lll": the two l l pairs tie; the left one merges.
    CHECK(tok->encode("lll", false, false) == Ids{256, 'l'});
    // Bytes of é (C3 A9) are the byte symbols Ã and ©.
    CHECK(tok->encode("\xC3\xA9", false, false) == Ids{0xC3, 0xA9});
    CHECK(tok->encode("\n", false, false) == Ids{'\n'});
}

TEST_CASE("BPE: special tokens, BOS, decode")
{
    const auto tok = bpeTokenizer();
    CHECK(tok->encode("hello<|endoftext|>", false, true) == Ids{259, 262});
    CHECK(tok->encode("hello<|endoftext|>", false, false) ==
          Ids{259, '<', '|', 'e', 'n', 'd', 'o', 'f', 't', 'e', 'x', 't', '|', '>'});
    CHECK(tok->encode("hello", true, false) == Ids{259}); // add_bos_token false
    CHECK(bpeTokenizer(true)->encode("hello", true, false) == Ids{262, 259});
    CHECK(tok->isEog(262));

    CHECK(tok->decode(Ids{262, 259, 260, 261, 'l', 'd'}) == "hello world");
    CHECK(tok->tokenPiece(260) == " w");
    CHECK(tok->tokenPiece(0xC3) == "\xC3");
    CHECK(tok->tokenPiece(262, true) == "<|endoftext|>");
    for (const std::string text : {"hello world", "  hello\n\n world  ", "h\xC3\xA9llo w\xC3\xB6rld \xF0\x9F\x98\x80",
                                   "\xE4\xB8\xAD\xE6\x96\x87\r\n\t"}) {
        CAPTURE(text);
        CHECK(tok->decode(tok->encode(text, false, false)) == text);
    }
    // Malformed UTF-8 reaches the merges as U+FFFD (EF BF BD), one per malformed byte, as GGUF
    // runtimes rebuild pre-tokenized words from code points.
    CHECK(tok->decode(tok->encode("bad \xFF\xFE utf8 \xE4\xB8", false, false)) ==
          "bad \xEF\xBF\xBD\xEF\xBF\xBD utf8 \xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("BPE: llama-bpe takes a word that is a token whole, other pre-tokenizers merge")
{
    // Byte symbols, "ab" (256) and "abc" (257); the only merge is "a b", so merging alone never
    // reaches abc.
    auto make = [](const char *pre) {
        nw::VocabSpec spec;
        spec.model = nw::VocabModel::Bpe;
        spec.pre = pre;
        for (int b = 0; b < 256; ++b)
            spec.tokens.push_back(nw::unicode::bytesToByteLevel(std::string(1, static_cast<char>(b))));
        spec.tokens.emplace_back("ab");
        spec.tokens.emplace_back("abc");
        spec.merges = {"a b"};
        return nw::Tokenizer::fromVocab(nw::Vocab(std::move(spec)));
    };
    CHECK(make("llama-bpe")->encode("abc", false, false) == Ids{257});
    CHECK(make("gpt-2")->encode("abc", false, false) == Ids{256, 'c'});
    CHECK(make("qwen2")->encode("abc", false, false) == Ids{256, 'c'});
}

TEST_CASE("end of generation: eos, eot and control tokens with end-of-turn texts")
{
    nw::VocabSpec spec;
    spec.tokens = {"<unk>", "<s>", "</s>", "<|eot_id|>", "<|im_end|>", "x", "<|eot_id|>x"};
    spec.types = {TokenType::Unknown, TokenType::Control, TokenType::Control, TokenType::Control, TokenType::Control,
                  TokenType::Normal, TokenType::Normal};
    spec.unk = 0;
    spec.bos = 1;
    spec.eos = 2;
    const auto tok = nw::Tokenizer::fromVocab(nw::Vocab(std::move(spec)));
    CHECK(tok->eot() == 3); // no eot id in the spec: the first end-of-turn control token
    CHECK(tok->isEog(2));
    CHECK(tok->isEog(3));
    CHECK(tok->isEog(4));
    CHECK_FALSE(tok->isEog(1));
    CHECK_FALSE(tok->isEog(5));
    CHECK_FALSE(tok->isEog(6)); // a normal token, whatever its text
    // Longest special text first: "<|eot_id|>x" is not special, so <|eot_id|> is cut out.
    CHECK(tok->encode("<|eot_id|><|im_end|>", false, true) == Ids{3, 4});
}

TEST_CASE("vocabularies that cannot work are refused")
{
    nw::VocabSpec empty;
    CHECK_THROWS_AS(nw::Vocab{empty}, nw::Error);

    nw::VocabSpec mismatched;
    mismatched.tokens = {"a", "b"};
    mismatched.scores = {0.0f};
    CHECK_THROWS_AS(nw::Vocab{mismatched}, nw::Error);

    nw::VocabSpec noMerges;
    noMerges.model = nw::VocabModel::Bpe;
    noMerges.tokens = {"a"};
    CHECK_THROWS_AS(nw::Vocab{noMerges}, nw::Error);

    nw::VocabSpec badMerge;
    badMerge.model = nw::VocabModel::Bpe;
    badMerge.tokens = {"a", "b", "ab"};
    badMerge.merges = {"ab"};
    CHECK_THROWS_AS(nw::Vocab{badMerge}, nw::Error);

    nw::VocabSpec unknownPre;
    unknownPre.model = nw::VocabModel::Bpe;
    unknownPre.pre = "not-a-pre-tokenizer";
    unknownPre.tokens = {"a", "b", "ab"};
    unknownPre.merges = {"a b"};
    CHECK_THROWS_WITH_AS(nw::Tokenizer::fromVocab(nw::Vocab(unknownPre)),
                         doctest::Contains("not-a-pre-tokenizer"), nw::Error);

    nw::VocabSpec bosMissing;
    bosMissing.tokens = {"a"};
    bosMissing.addBos = true;
    CHECK_THROWS_AS(nw::Vocab{bosMissing}, nw::Error);
}

namespace {

// Byte symbols 0..255, then `extra` as control tokens from id 256, merges none useful.
nw::VocabSpec bpeWithSpecials(std::initializer_list<const char *> extra)
{
    nw::VocabSpec spec;
    spec.model = nw::VocabModel::Bpe;
    spec.pre = "gpt-2";
    for (int b = 0; b < 256; ++b)
        spec.tokens.push_back(nw::unicode::bytesToByteLevel(std::string(1, static_cast<char>(b))));
    spec.types.assign(256, TokenType::Normal);
    for (const char *t : extra) {
        spec.tokens.emplace_back(t);
        spec.types.push_back(TokenType::Control);
    }
    spec.merges = {"a b"};
    return spec;
}

} // namespace

// The rules below are llama.cpp's (llama_vocab::impl::load), worked through by hand.
TEST_CASE("Harmony vocabularies: markers become user-defined, <|end|> stops nothing")
{
    nw::VocabSpec spec = bpeWithSpecials({"<|start|>", "<|channel|>", "<|message|>", "<|end|>", "<|return|>",
                                          "<|call|>", "<|endoftext|>", "<|constrain|>"});
    spec.eos = 260; // <|return|>
    const auto tok = nw::Tokenizer::fromVocab(nw::Vocab(std::move(spec)));
    for (std::int32_t id : {256, 257, 258, 259, 263})
        CHECK(tok->vocab().type(id) == TokenType::UserDefined);
    CHECK(tok->vocab().endOfGeneration() == Ids{260, 261, 262});
    // User-defined tokens are matched without parse_special and render as their text.
    CHECK(tok->encode("<|start|>x<|end|>", false, false) == Ids{256, 'x', 259});
    CHECK(tok->tokenPiece(257) == "<|channel|>");
    CHECK(tok->tokenPiece(260).empty());
}

TEST_CASE("a vocabulary with <|end|> but no <|return|>/<|call|> ends turns with it (Phi)")
{
    const auto tok = nw::Tokenizer::fromVocab(nw::Vocab(bpeWithSpecials({"<|end|>", "<|user|>", "<|endoftext|>"})));
    CHECK(tok->vocab().endOfGeneration() == Ids{256, 258});
    CHECK(tok->vocab().type(256) == TokenType::Control);
    CHECK(tok->eot() == 256); // the first end-of-turn text in llama.cpp's list
}

TEST_CASE("fill-in-the-middle pad, repo and file separator end generation (Qwen)")
{
    const auto tok = nw::Tokenizer::fromVocab(nw::Vocab(
        bpeWithSpecials({"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|fim_prefix|>", "<|fim_pad|>", "<|repo_name|>",
                         "<|file_sep|>"})));
    CHECK(tok->vocab().endOfGeneration() == Ids{256, 258, 260, 261, 262});
    CHECK(tok->vocab().spec().fimPre == 259);
    CHECK(tok->vocab().spec().fimPad == 260);
    CHECK_FALSE(tok->isEog(257));
}

TEST_CASE("Gemma 4's </s> is an ordinary token when <|tool_response> is there")
{
    nw::VocabSpec spec = bpeWithSpecials({"</s>", "<|tool_response>", "<turn|>"});
    const auto tok = nw::Tokenizer::fromVocab(nw::Vocab(std::move(spec)));
    CHECK(tok->vocab().type(256) == TokenType::Normal);
    CHECK(tok->vocab().endOfGeneration() == Ids{257, 258});
    // Without <|tool_response>, </s> ends generation.
    const auto plain = nw::Tokenizer::fromVocab(nw::Vocab(bpeWithSpecials({"</s>"})));
    CHECK(plain->vocab().endOfGeneration() == Ids{256});
}

TEST_CASE("Phi-3 files: whitespace after a special token is dropped, except after <s> and <|endoftext|>")
{
    auto make = [](const char *name) {
        nw::VocabSpec spec = bpeWithSpecials({"<|user|>", "<|end|>", "<s>", "<|endoftext|>"});
        spec.name = name;
        return nw::Tokenizer::fromVocab(nw::Vocab(std::move(spec)));
    };
    const auto phi = make("Phi3");
    CHECK(phi->encode("<|user|>\n x<|end|> \t<s> y<|endoftext|>\n", false, true) ==
          Ids{256, 'x', 257, 258, ' ', 'y', 259, '\n'});
    // Another name: the text is kept as it is.
    CHECK(make("Phi 4 Mini Instruct")->encode("<|user|>\n x", false, true) == Ids{256, '\n', ' ', 'x'});
}
