// Fuzz entry point for the tokenizers: any byte string (invalid UTF-8, NULs, control-token text,
// long runs without a space) must encode to ids inside the vocabulary, and any ids must decode or
// give nw::Error. Byte 0 picks the vocabulary (every tokenizer GGUF of tests/data/tokenizers, and
// a tiny llama's byte-fallback SentencePiece one), byte 1 the flags, the rest is the text; the
// text's bytes read as ids are decoded too (ids outside the vocabulary must give nw::Error).
#include "common/error.h"
#include "engine/gguf_file.h"
#include "engine/tokenizer.h"
#include "tests/engine/reference/tiny_llama.h"
#include "tests/fuzz/fuzz_input.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

struct Vocabulary {
    std::string label;
    std::vector<std::byte> bytes;
    std::unique_ptr<nw::Tokenizer> tokenizer;
};

std::vector<Vocabulary> loadVocabularies()
{
    std::vector<Vocabulary> out;
    const auto add = [&](std::string label, std::vector<std::byte> bytes) {
        const auto file = nw::GgufFile::fromMemory(bytes, label);
        out.push_back({ std::move(label), std::move(bytes), nw::Tokenizer::fromGguf(*file) });
    };
    std::vector<std::filesystem::path> files;
    for (const auto &entry : std::filesystem::directory_iterator(nw::fuzz::sourceDir() / "tests/data/tokenizers"))
        if (entry.path().extension() == ".gguf")
            files.push_back(entry.path());
    std::sort(files.begin(), files.end()); // the same index picks the same vocabulary everywhere
    for (const auto &path : files)
        add(path.filename().string(), nw::fuzz::readFile(path));
    nw::test::TinyLlamaSpec spm;
    spm.byteVocab = true;
    add("tiny-llama-spm", nw::test::makeTinyLlama(spm));
    return out;
}

const std::vector<Vocabulary> &vocabularies()
{
    static const std::vector<Vocabulary> v = loadVocabularies();
    return v;
}

volatile std::size_t g_sink;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    nw::fuzz::InputReader in(data, size);
    const Vocabulary &v = vocabularies()[in.u8() % vocabularies().size()];
    const nw::Tokenizer &tok = *v.tokenizer;
    const std::uint8_t flags = in.u8();
    const std::string text = in.rest();
    std::size_t h = 0;
    try {
        const auto ids = tok.encode(text, flags & 1, flags & 2);
        for (const std::int32_t id : ids) {
            if (id < 0 || id >= tok.nVocab())
                nw::fuzz::die(v.label + ": encode gave id " + std::to_string(id) + " outside the vocabulary");
            h += tok.tokenPiece(id, flags & 4).size();
        }
        h += tok.decode(ids).size();
    } catch (const nw::Error &) {
        // a refusal with a message is allowed (e.g. text the vocabulary cannot spell)
    }
    // The text's bytes as ids, some outside the vocabulary.
    std::vector<std::int32_t> ids;
    for (std::size_t i = 0; i + 3 < text.size() && ids.size() < 4096; i += 4) {
        std::int32_t id;
        std::memcpy(&id, text.data() + i, sizeof id);
        ids.push_back(
            flags & 8 ? id : static_cast<std::int32_t>(static_cast<std::uint32_t>(id) % std::uint32_t(tok.nVocab())));
    }
    try {
        h += tok.decode(ids).size();
        for (const std::int32_t id : ids)
            h += tok.isEog(id);
    } catch (const nw::Error &) {
    }
    g_sink = h;
    return 0;
}

// Seeds: the conformance inputs of tests/data/tokenizers (each vocabulary with its own text).
std::vector<std::vector<std::uint8_t>> nwFuzzSeeds()
{
    std::vector<std::vector<std::uint8_t>> seeds;
    const auto &v = vocabularies();
    for (std::size_t i = 0; i < v.size(); ++i) {
        std::string text = "Hello world! <|endoftext|> 123 \xF0\x9F\x98\x80 \xC3\x28";
        auto stem = std::filesystem::path(v[i].label).stem().string();
        const auto inp = nw::fuzz::sourceDir() / "tests/data/tokenizers" / (stem + ".inp");
        if (std::filesystem::exists(inp)) {
            const auto bytes = nw::fuzz::readFile(inp);
            text.assign(reinterpret_cast<const char *>(bytes.data()), std::min<std::size_t>(bytes.size(), 2048));
        }
        for (const std::uint8_t flags : { 0, 3 }) {
            std::vector<std::uint8_t> seed = { static_cast<std::uint8_t>(i), flags };
            seed.insert(seed.end(), text.begin(), text.end());
            seeds.push_back(std::move(seed));
        }
    }
    return seeds;
}
