// Tokenizers against the test vectors of a widely used GGUF runtime (llama.cpp models/
// ggml-vocab-*.gguf with .inp/.out, ids from the models' reference tokenizers) and a real
// model's published tokenization; skipped when ../shared/conformance is absent. The vocabularies
// of a llama.cpp checkout (NW_LLAMA_CPP_DIR, or peer/llama.cpp beside the source tree) are
// checked too when one is there; those files may not be committed.
#include "engine/bpe_tokenizer.h"
#include "engine/gguf_file.h"
#include "engine/tokenizer.h"
#include "tests/support/test_data.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace {

std::string readFile(const std::filesystem::path &path)
{
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot read ", path.string());
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

// .inp: each test string followed by "\n__ggml_vocab_test__\n" (strings may be empty).
std::vector<std::string> readInputs(const std::filesystem::path &path)
{
    const std::string separator = "\n__ggml_vocab_test__\n";
    const std::string all = readFile(path);
    std::vector<std::string> inputs;
    for (std::size_t from = 0, at; (at = all.find(separator, from)) != std::string::npos; from = at + separator.size())
        inputs.push_back(all.substr(from, at - from));
    return inputs;
}

// .out: one line of space-separated ids per input.
std::vector<std::vector<std::int32_t>> readOutputs(const std::filesystem::path &path)
{
    std::istringstream in(readFile(path));
    std::vector<std::vector<std::int32_t>> outputs;
    for (std::string line; std::getline(in, line);) {
        std::istringstream ids(line);
        std::vector<std::int32_t> row;
        for (std::int32_t id; ids >> id;)
            row.push_back(id);
        outputs.push_back(std::move(row));
    }
    return outputs;
}

// The number of test strings whose ids match; CHECKs each.
int checkVectors(const std::filesystem::path &gguf, const nw::Tokenizer &tokenizer, bool checkDecode)
{
    const std::vector<std::string> inputs = readInputs(gguf.string() + ".inp");
    const std::vector<std::vector<std::int32_t>> outputs = readOutputs(gguf.string() + ".out");
    REQUIRE(!inputs.empty());
    REQUIRE(outputs.size() == inputs.size());
    int matched = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        CAPTURE(i);
        CAPTURE(inputs[i]);
        const std::vector<std::int32_t> ids = tokenizer.encode(inputs[i], false, false);
        CHECK(ids == outputs[i]);
        matched += ids == outputs[i];
        if (checkDecode)
            CHECK(tokenizer.decode(ids) == inputs[i]);
    }
    return matched;
}

std::optional<std::filesystem::path> llamaCppDir()
{
    if (const char *dir = std::getenv("NW_LLAMA_CPP_DIR"); dir && *dir)
        return std::filesystem::path(dir);
    for (const char *up : {"..", "../.."}) {
        const std::filesystem::path dir = nw::test::sourceDir() / up / "peer" / "llama.cpp";
        if (std::filesystem::is_directory(dir / "models"))
            return std::filesystem::canonical(dir);
    }
    return std::nullopt;
}

void checkVocab(const std::string &name, std::string_view expectedModel, std::int32_t expectedVocab)
{
    const auto dir = nw::test::conformanceDir();
    if (!dir) {
        MESSAGE("../shared/conformance is absent: skipping ", name);
        return;
    }
    const std::filesystem::path gguf = *dir / "tokenizers" / (name + ".gguf");
    const auto file = nw::GgufFile::open(gguf);
    const auto tokenizer = nw::Tokenizer::fromGguf(*file);
    CHECK(nw::vocabModelName(tokenizer->vocab().model()) == expectedModel);
    CHECK(tokenizer->nVocab() == expectedVocab);

    const std::vector<std::string> inputs = readInputs(gguf.string() + ".inp");
    const std::vector<std::vector<std::int32_t>> outputs = readOutputs(gguf.string() + ".out");
    REQUIRE(inputs.size() == 46);
    REQUIRE(outputs.size() == inputs.size());
    int matched = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        CAPTURE(i);
        CAPTURE(inputs[i]);
        const std::vector<std::int32_t> ids = tokenizer->encode(inputs[i], false, false);
        CHECK(ids == outputs[i]);
        matched += ids == outputs[i];
        // Every vector here decodes back to its text exactly.
        CHECK(tokenizer->decode(ids) == inputs[i]);
    }
    MESSAGE(name, ": ", matched, "/", inputs.size(), " test strings match");
}

} // namespace

TEST_CASE("llama-spm vocabulary matches the reference ids")
{
    checkVocab("ggml-vocab-llama-spm", "llama", 32000);
}

TEST_CASE("gpt-2 vocabulary matches the reference ids")
{
    checkVocab("ggml-vocab-gpt-2", "gpt2", 50257);
}

TEST_CASE("deepseek-llm vocabulary matches the reference ids")
{
    checkVocab("ggml-vocab-deepseek-llm", "gpt2", 102400);
}

TEST_CASE("the vocabularies of a llama.cpp checkout match their test vectors")
{
    const auto dir = llamaCppDir();
    if (!dir) {
        MESSAGE("no llama.cpp checkout (NW_LLAMA_CPP_DIR, ../peer/llama.cpp): skipping its vocabularies");
        return;
    }
    // Every vocabulary of a supported model that has test vectors; decoding gives the input back
    // for all but the ones whose tokenizers normalise text (none here).
    for (const std::string name : {"llama-spm", "phi-3", "gpt-2", "deepseek-llm", "deepseek-coder", "falcon", "mpt",
                                   "starcoder", "refact"}) {
        CAPTURE(name);
        const std::filesystem::path gguf = *dir / "models" / ("ggml-vocab-" + name + ".gguf");
        if (!std::filesystem::exists(gguf) || !std::filesystem::exists(gguf.string() + ".out")) {
            MESSAGE(gguf.string(), " is absent: skipping");
            continue;
        }
        const auto file = nw::GgufFile::open(gguf);
        const auto tokenizer = nw::Tokenizer::fromGguf(*file);
        const int matched = checkVectors(gguf, *tokenizer, true);
        MESSAGE(name, ": ", matched, " test strings match");
    }
}

TEST_CASE("the vocabularies of a llama.cpp checkout tokenize malformed UTF-8 and chat markup as llama.cpp does")
{
    const auto dir = llamaCppDir();
    if (!dir) {
        MESSAGE("no llama.cpp checkout (NW_LLAMA_CPP_DIR, ../peer/llama.cpp): skipping its vocabularies");
        return;
    }
    // The test strings of tests/data/tokenizers/ and llama-tokenize's ids for them with each
    // real vocabulary (tools/make_tokenizer_vocabs.py golden --llama-inputs).
    const std::filesystem::path data = nw::test::sourceDir() / "tests" / "data" / "tokenizers";
    const std::vector<std::string> inputs = readInputs(data / "qwen2.inp");
    for (const std::string name : {"llama-spm", "phi-3", "gpt-2", "deepseek-llm", "deepseek-coder", "falcon", "mpt",
                                   "starcoder", "refact"}) {
        CAPTURE(name);
        const std::filesystem::path gguf = *dir / "models" / ("ggml-vocab-" + name + ".gguf");
        if (!std::filesystem::exists(gguf)) {
            MESSAGE(gguf.string(), " is absent: skipping");
            continue;
        }
        const auto file = nw::GgufFile::open(gguf);
        const auto tokenizer = nw::Tokenizer::fromGguf(*file);
        for (const bool chat : {false, true}) {
            CAPTURE(chat);
            const auto expected = readOutputs(data / ("real-" + name + (chat ? ".chat.out" : ".out")));
            REQUIRE(expected.size() == inputs.size());
            int matched = 0;
            for (std::size_t i = 0; i < inputs.size(); ++i) {
                CAPTURE(inputs[i]);
                const std::vector<std::int32_t> ids = tokenizer->encode(inputs[i], chat, chat);
                CHECK(ids == expected[i]);
                matched += ids == expected[i];
            }
            MESSAGE(name, std::string(chat ? " (BOS, specials parsed): " : ": "), matched, "/", inputs.size(),
                    " strings match llama.cpp");
        }
    }
}

TEST_CASE("stories260K: 'Once upon a time' with BOS is 1 403 407 261 378")
{
    const auto dir = nw::test::conformanceDir();
    if (!dir) {
        MESSAGE("../shared/conformance is absent: skipping stories260K");
        return;
    }
    const auto file = nw::GgufFile::open(*dir / "models" / "stories260K.gguf");
    const auto tokenizer = nw::Tokenizer::fromGguf(*file);
    const std::vector<std::int32_t> ids = tokenizer->encode("Once upon a time", true, false);
    CHECK(ids == std::vector<std::int32_t>{1, 403, 407, 261, 378});
    CHECK(tokenizer->decode(ids) == "Once upon a time");
    CHECK(tokenizer->bos() == 1);
    CHECK(tokenizer->eos() == 2);
    CHECK(tokenizer->isEog(2));
    CHECK(tokenizer->nVocab() == 512);
}
