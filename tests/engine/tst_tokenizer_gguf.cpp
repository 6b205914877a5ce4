// Vocabularies read from GGUF metadata (files built with GgufWriter): the defaults GGUF
// runtimes assume for missing keys, the keys that override them, and files refused.
#include "common/error.h"
#include "engine/bpe_tokenizer.h"
#include "engine/gguf_file.h"
#include "engine/gguf_writer.h"
#include "engine/tokenizer.h"
#include "engine/unicode.h"

#include <doctest/doctest.h>

#include <fmt/format.h>

using Ids = std::vector<std::int32_t>;

namespace {

const std::string kSpace = "\xE2\x96\x81"; // ▁

// Keeps the image alive as long as the file that views it.
struct MemoryGguf {
    std::vector<std::byte> bytes;
    std::unique_ptr<nw::GgufFile> file;
};

MemoryGguf build(const nw::GgufWriter &writer)
{
    MemoryGguf g;
    g.bytes = writer.toBytes();
    g.file = nw::GgufFile::fromMemory(g.bytes, "test.gguf");
    return g;
}

// <unk> <s> </s> <0x00>..<0xFF> ▁ a ▁a: a SentencePiece vocabulary with only the required keys.
nw::GgufWriter spmWriter()
{
    std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
    std::vector<std::int32_t> types = {2, 3, 3};
    for (int b = 0; b < 256; ++b) {
        tokens.push_back(fmt::format("<0x{:02X}>", b));
        types.push_back(6);
    }
    for (const std::string &t : {kSpace, std::string("a"), kSpace + "a"}) {
        tokens.push_back(t);
        types.push_back(1);
    }
    std::vector<float> scores(tokens.size(), 0.0f);
    scores[261] = -1.0f; // ▁a
    nw::GgufWriter w;
    w.setString("general.architecture", "llama");
    w.setString("tokenizer.ggml.model", "llama");
    w.setStringArray("tokenizer.ggml.tokens", tokens);
    w.setFloat32Array("tokenizer.ggml.scores", scores);
    w.setInt32Array("tokenizer.ggml.token_type", types);
    return w;
}

// The 256 byte symbols, "a b" merged to "ab" (id 256), <|end|> (id 257, control).
nw::GgufWriter bpeWriter(const char *pre)
{
    std::vector<std::string> tokens;
    for (int b = 0; b < 256; ++b)
        tokens.push_back(nw::unicode::bytesToByteLevel(std::string(1, static_cast<char>(b))));
    tokens.push_back("ab");
    tokens.push_back("<|end|>");
    std::vector<std::int32_t> types(tokens.size(), 1);
    types[257] = 3;
    nw::GgufWriter w;
    w.setString("general.architecture", "llama");
    w.setString("tokenizer.ggml.model", "gpt2");
    if (pre)
        w.setString("tokenizer.ggml.pre", pre);
    w.setStringArray("tokenizer.ggml.tokens", tokens);
    w.setInt32Array("tokenizer.ggml.token_type", types);
    const std::vector<std::string> merges = {"a b"};
    w.setStringArray("tokenizer.ggml.merges", merges);
    return w;
}

} // namespace

TEST_CASE("llama vocabulary without special keys takes SentencePiece's defaults")
{
    const MemoryGguf g = build(spmWriter());
    const auto tok = nw::Tokenizer::fromGguf(*g.file);
    CHECK(tok->bos() == 1);
    CHECK(tok->eos() == 2);
    CHECK(tok->vocab().spec().unk == 0);
    CHECK(tok->nVocab() == 262);
    // BOS added and a space prefix: "a" -> <s> ▁a.
    CHECK(tok->encode("a", true, false) == Ids{1, 261});
    CHECK(tok->vocab().type(3 + 0x41) == nw::TokenType::Byte);
    CHECK(tok->vocab().score(261) == -1.0f);
}

TEST_CASE("metadata keys override the defaults")
{
    nw::GgufWriter w = spmWriter();
    w.setUInt32("tokenizer.ggml.bos_token_id", 2);
    w.setUInt32("tokenizer.ggml.eos_token_id", 1);
    w.setUInt32("tokenizer.ggml.padding_token_id", 0xFFFFFFFFu); // "none": keeps -1
    w.setBool("tokenizer.ggml.add_bos_token", false);
    w.setBool("tokenizer.ggml.add_eos_token", true);
    w.setBool("tokenizer.ggml.add_space_prefix", false);
    const MemoryGguf g = build(w);
    const auto tok = nw::Tokenizer::fromGguf(*g.file);
    CHECK(tok->bos() == 2);
    CHECK(tok->eos() == 1);
    CHECK(tok->vocab().spec().pad == -1);
    // No BOS, EOS appended, no space prefix: "a" is the token a, not ▁a.
    CHECK(tok->encode("a", true, false) == Ids{260, 1});
    CHECK(tok->decode(Ids{259, 260}) == " a"); // no prefix to strip
}

TEST_CASE("gpt2 vocabulary: pre-tokenizer by name, merges, special ids")
{
    nw::GgufWriter w = bpeWriter("qwen2");
    w.setUInt32("tokenizer.ggml.eos_token_id", 257);
    const MemoryGguf g = build(w);
    const auto tok = nw::Tokenizer::fromGguf(*g.file);
    const auto *bpe = dynamic_cast<const nw::BpeTokenizer *>(tok.get());
    REQUIRE(bpe != nullptr);
    CHECK(bpe->preTokenizer() == nw::PreTokenizerKind::Qwen2);
    CHECK(tok->eos() == 257);
    CHECK(tok->isEog(257));
    CHECK(tok->encode("ab", true, false) == Ids{256}); // gpt2 adds no BOS by default
    CHECK(tok->encode("ab<|end|>", false, true) == Ids{256, 257});
}

TEST_CASE("llama-bpe vocabularies add BOS by default")
{
    nw::GgufWriter w = bpeWriter("llama-bpe");
    w.setUInt32("tokenizer.ggml.bos_token_id", 257);
    const MemoryGguf g = build(w);
    CHECK(nw::Tokenizer::fromGguf(*g.file)->encode("ab", true, false) == Ids{257, 256});
}

TEST_CASE("unsupported or incomplete tokenizers are refused with a clear error")
{
    {
        nw::GgufWriter w = spmWriter();
        w.setString("tokenizer.ggml.model", "bert");
        const MemoryGguf g = build(w);
        CHECK_THROWS_WITH_AS(nw::Tokenizer::fromGguf(*g.file), doctest::Contains("tokenizer model 'bert' is not supported"),
                             nw::Error);
    }
    {
        nw::GgufWriter w;
        w.setString("general.architecture", "llama");
        const MemoryGguf g = build(w);
        CHECK_THROWS_WITH_AS(nw::Tokenizer::fromGguf(*g.file), doctest::Contains("tokenizer.ggml.model"), nw::Error);
    }
    {
        const MemoryGguf g = build(bpeWriter("tekken"));
        CHECK_THROWS_WITH_AS(nw::Tokenizer::fromGguf(*g.file), doctest::Contains("'tekken'"), nw::Error);
    }
    {
        nw::GgufWriter w = bpeWriter("gpt-2");
        w.setStringArray("tokenizer.ggml.merges", std::vector<std::string>{});
        const MemoryGguf g = build(w);
        CHECK_THROWS_WITH_AS(nw::Tokenizer::fromGguf(*g.file), doctest::Contains("merges"), nw::Error);
    }
    {
        nw::GgufWriter w = spmWriter();
        w.setFloat32Array("tokenizer.ggml.scores", std::vector<float>(3, 0.0f));
        const MemoryGguf g = build(w);
        CHECK_THROWS_WITH_AS(nw::Tokenizer::fromGguf(*g.file), doctest::Contains("test.gguf"), nw::Error);
    }
}
