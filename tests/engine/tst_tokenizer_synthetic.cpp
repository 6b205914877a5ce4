// The tokenizers of the families whose real vocabularies cannot be committed (Qwen2/3, Qwen3.5,
// gpt-oss, Llama 3, DeepSeek V3/V3.2/V4, Gemma 3, Gemma 4), on small synthetic vocabularies
// with their tokenizer model, pre-tokenizer and special tokens (tests/data/tokenizers/, made by
// tools/make_tokenizer_vocabs.py). Every expected id comes from llama.cpp's llama-tokenize on
// the same files (the command is in tests/data/tokenizers/README.md): plain text, malformed
// UTF-8, chat markup with BOS and special tokens parsed, and the end-of-generation set.
#include "engine/gguf_file.h"
#include "engine/tokenizer.h"
#include "tests/support/test_data.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

namespace {

using Ids = std::vector<std::int32_t>;

std::string readFile(const std::filesystem::path &path)
{
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot read ", path.string());
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

// Test strings, each followed by "\n__ggml_vocab_test__\n" (llama.cpp's .inp format).
std::vector<std::string> readInputs(const std::filesystem::path &path)
{
    const std::string separator = "\n__ggml_vocab_test__\n";
    const std::string all = readFile(path);
    std::vector<std::string> inputs;
    for (std::size_t from = 0, at; (at = all.find(separator, from)) != std::string::npos; from = at + separator.size())
        inputs.push_back(all.substr(from, at - from));
    return inputs;
}

// One line of space-separated ids per string.
std::vector<Ids> readIdLines(const std::filesystem::path &path)
{
    std::istringstream in(readFile(path));
    std::vector<Ids> lines;
    for (std::string line; std::getline(in, line);) {
        std::istringstream ids(line);
        Ids row;
        for (std::int32_t id; ids >> id;)
            row.push_back(id);
        lines.push_back(std::move(row));
    }
    return lines;
}

std::filesystem::path dataDir() { return nw::test::sourceDir() / "tests" / "data" / "tokenizers"; }

std::unique_ptr<nw::Tokenizer> load(const std::string &name)
{
    const auto file = nw::GgufFile::open(dataDir() / (name + ".gguf"));
    return nw::Tokenizer::fromGguf(*file);
}

// Matches `inputs` against `expected`, encoding with the given flags; returns how many match.
int check(const nw::Tokenizer &tokenizer, const std::vector<std::string> &inputs, const std::vector<Ids> &expected,
          bool addSpecial, bool parseSpecial)
{
    REQUIRE(inputs.size() == expected.size());
    int matched = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        CAPTURE(i);
        CAPTURE(inputs[i]);
        const Ids ids = tokenizer.encode(inputs[i], addSpecial, parseSpecial);
        CHECK(ids == expected[i]);
        matched += ids == expected[i];
    }
    return matched;
}

const char *const kFamilies[] = {"qwen2", "qwen35", "gpt-oss", "llama-bpe", "deepseek-v3", "gemma3", "gemma4"};

// llama.cpp's own test strings for a family (models/ggml-vocab-NAME.gguf.inp), read from a
// llama.cpp checkout when there is one; the ids these vocabularies give them are committed.
std::optional<std::filesystem::path> llamaCppInputs(const std::string &family)
{
    static const std::map<std::string, std::string> kInputs = {
        {"qwen2", "qwen2"},         {"qwen35", "qwen35"},     {"llama-bpe", "llama-bpe"}, {"gemma4", "gemma-4"},
        {"gpt-oss", "llama-bpe"},   {"deepseek-v3", "qwen2"}, {"gemma3", "llama-spm"},
    };
    std::vector<std::filesystem::path> roots;
    if (const char *dir = std::getenv("NW_LLAMA_CPP_DIR"); dir && *dir)
        roots.emplace_back(dir);
    roots.push_back(nw::test::sourceDir() / ".." / "peer" / "llama.cpp");
    roots.push_back(nw::test::sourceDir() / ".." / ".." / "peer" / "llama.cpp");
    for (const auto &root : roots) {
        const auto path = root / "models" / ("ggml-vocab-" + kInputs.at(family) + ".gguf.inp");
        if (std::filesystem::exists(path))
            return path;
    }
    return std::nullopt;
}

} // namespace

TEST_CASE("synthetic vocabularies: plain text as llama.cpp tokenizes it")
{
    for (const std::string family : kFamilies) {
        CAPTURE(family);
        const auto tokenizer = load(family);
        const std::vector<std::string> inputs = readInputs(dataDir() / (family + ".inp"));
        const int matched = check(*tokenizer, inputs, readIdLines(dataDir() / (family + ".out")), false, false);
        MESSAGE(family, ": ", matched, "/", inputs.size(), " strings match llama.cpp");
    }
}

TEST_CASE("synthetic vocabularies: chat markup with BOS and special tokens parsed")
{
    for (const std::string family : kFamilies) {
        CAPTURE(family);
        const auto tokenizer = load(family);
        const std::vector<std::string> inputs = readInputs(dataDir() / (family + ".inp"));
        const int matched = check(*tokenizer, inputs, readIdLines(dataDir() / (family + ".chat.out")), true, true);
        MESSAGE(family, ": ", matched, "/", inputs.size(), " strings match llama.cpp");
    }
}

TEST_CASE("synthetic vocabularies: the end-of-generation set llama.cpp derives")
{
    for (const std::string family : kFamilies) {
        CAPTURE(family);
        const auto tokenizer = load(family);
        const std::vector<Ids> eog = readIdLines(dataDir() / (family + ".eog"));
        REQUIRE(eog.size() == 1);
        CHECK(tokenizer->vocab().endOfGeneration() == eog[0]);
    }
}

TEST_CASE("synthetic vocabularies: llama.cpp's own test strings (when a llama.cpp checkout is there)")
{
    for (const std::string family : kFamilies) {
        CAPTURE(family);
        const auto inputs = llamaCppInputs(family);
        if (!inputs) {
            MESSAGE("no llama.cpp checkout (NW_LLAMA_CPP_DIR, ../peer/llama.cpp): skipping its strings for ", family);
            continue;
        }
        const auto tokenizer = load(family);
        const std::vector<std::string> strings = readInputs(*inputs);
        const int matched =
            check(*tokenizer, strings, readIdLines(dataDir() / (family + ".llama-inp.out")), false, false);
        MESSAGE(family, ": ", matched, "/", strings.size(), " of llama.cpp's strings match");
    }
}
