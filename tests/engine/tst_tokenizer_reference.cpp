// The tokenizers against a plain reference written separately from their definitions —
// quadratic scans for the best pair instead of heaps, strings instead of symbol links — on
// random strings over the conformance vocabularies (skipped when ../shared/conformance is
// absent). The reference itself reproduces the conformance vectors (checked first).
#include "engine/gguf_file.h"
#include "engine/pre_tokenizer.h"
#include "engine/tokenizer.h"
#include "engine/unicode.h"
#include "tests/support/test_data.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <variant>

namespace {

using Ids = std::vector<std::int32_t>;

std::vector<std::string> utf8Chars(std::string_view text)
{
    std::vector<std::string> chars;
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t n = std::min(nw::unicode::utf8Length(static_cast<unsigned char>(text[i])), text.size() - i);
        chars.emplace_back(text.substr(i, n));
        i += n;
    }
    return chars;
}

// Merges the best adjacent pair until none is left; `rank` gives a pair's priority (lower is
// better) or nullopt. Ties go to the leftmost pair.
template <typename Rank>
void mergeAll(std::vector<std::string> &symbols, Rank rank)
{
    for (;;) {
        std::optional<double> best;
        std::size_t at = 0;
        for (std::size_t i = 0; i + 1 < symbols.size(); ++i) {
            const std::optional<double> r = rank(symbols[i], symbols[i + 1]);
            if (r && (!best || *r < *best)) {
                best = r;
                at = i;
            }
        }
        if (!best)
            return;
        symbols[at] += symbols[at + 1];
        symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(at) + 1);
    }
}

Ids referenceSpm(const nw::Vocab &vocab, std::string text, bool first)
{
    std::string escaped = first ? "\xE2\x96\x81" : "";
    for (char c : text)
        escaped += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
    std::vector<std::string> symbols = utf8Chars(escaped);
    mergeAll(symbols, [&](const std::string &a, const std::string &b) -> std::optional<double> {
        const auto id = vocab.find(a + b);
        return id ? std::optional<double>(-vocab.score(*id)) : std::nullopt;
    });
    Ids ids;
    for (const std::string &s : symbols) {
        if (const auto id = vocab.find(s)) {
            ids.push_back(*id);
        } else {
            for (unsigned char b : s)
                ids.push_back(*vocab.byteToken(b));
        }
    }
    return ids;
}

Ids referenceBpe(const nw::Vocab &vocab, nw::PreTokenizerKind pre, std::string_view text)
{
    Ids ids;
    for (std::string_view word : nw::preTokenize(pre, text)) {
        std::vector<std::string> symbols = utf8Chars(nw::unicode::bytesToByteLevel(word));
        mergeAll(symbols, [&](const std::string &a, const std::string &b) -> std::optional<double> {
            const auto rank = vocab.mergeRank(a, b);
            return rank ? std::optional<double>(*rank) : std::nullopt;
        });
        for (const std::string &s : symbols)
            ids.push_back(*vocab.find(s));
    }
    return ids;
}

// User-defined token ids, longest text first.
std::vector<std::int32_t> userDefined(const nw::Vocab &vocab)
{
    std::vector<std::int32_t> user;
    for (std::int32_t id = 0; id < vocab.size(); ++id)
        if (vocab.type(id) == nw::TokenType::UserDefined)
            user.push_back(id);
    std::stable_sort(user.begin(), user.end(), [&](auto a, auto b) { return vocab.text(a).size() > vocab.text(b).size(); });
    return user;
}

// User-defined tokens cut out first (longest first), then each run of text on its own.
Ids referenceEncode(const nw::Vocab &vocab, const std::vector<std::int32_t> &user, std::string_view text)
{
    if (text.empty())
        return {};
    std::vector<std::variant<std::string, std::int32_t>> parts{std::string(text)};
    for (std::int32_t id : user) {
        const std::string &t = vocab.text(id);
        std::vector<std::variant<std::string, std::int32_t>> next;
        for (const auto &part : parts) {
            if (!std::holds_alternative<std::string>(part)) {
                next.push_back(part);
                continue;
            }
            std::string rest = std::get<std::string>(part);
            for (std::size_t at; (at = rest.find(t)) != std::string::npos; rest = rest.substr(at + t.size())) {
                if (at > 0)
                    next.emplace_back(rest.substr(0, at));
                next.emplace_back(id);
            }
            if (!rest.empty())
                next.emplace_back(rest);
        }
        parts = std::move(next);
    }
    Ids ids;
    bool afterSpecial = true;
    const auto pre = nw::preTokenizerFromName(vocab.spec().pre);
    for (const auto &part : parts) {
        if (const auto *id = std::get_if<std::int32_t>(&part)) {
            ids.push_back(*id);
            afterSpecial = true;
            continue;
        }
        const std::string &run = std::get<std::string>(part);
        const Ids more = vocab.model() == nw::VocabModel::Spm ? referenceSpm(vocab, run, afterSpecial && vocab.spec().addSpacePrefix)
                                                             : referenceBpe(vocab, pre->kind, run);
        ids.insert(ids.end(), more.begin(), more.end());
        afterSpecial = false;
    }
    return ids;
}

std::string randomText(std::mt19937 &rng)
{
    static const std::vector<std::string> pieces = {
        " ", " ", "  ", "\t", "\n", "\n\n", "\r\n", "a", "Z", "e", "s", "t", "'", "'s", "'M", "0", "1", "42", "2024",
        "!", "?", ".", ",", "-", "_", "\"", "(", ")", "#", "<", ">", "/", "Hello", " world", "the", " quick", "ing",
        "tion", " I'm", "don't", "\xC3\xA9", "\xC3\x9F", "\xC3\xB8", "\xC3\xB6", "\xC3\xBC", "\xC2\xB5", "\xC2\xBD",
        "\xD9\xA1", "\xCC\x81", "\xE4\xB8\xAD", "\xE6\x96\x87", "\xE3\x81\x82", "\xE3\x82\xA2", "\xEA\xB0\x80",
        "\xE3\x80\x80", "\xE2\x80\x98", "\xE2\x80\x94", "\xC2\xA0", "\xD0\x90", "\xCE\xB1", "\xE2\x82\xAC",
        "\xF0\x9F\x98\x80", "\xE2\x80\x8D", "\xEF\xB8\x8F", "\xE0\xB8\x81", "\xD7\x90", "\xE0\xA4\x95", "\xE2\x96\x81",
    };
    std::uniform_int_distribution<std::size_t> length(0, 14);
    std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1);
    std::string text;
    for (std::size_t n = length(rng); n > 0; --n)
        text += pieces[pick(rng)];
    return text;
}

std::string readFile(const std::filesystem::path &path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

void compareWithReference(const std::string &name)
{
    const auto dir = nw::test::conformanceDir();
    if (!dir) {
        MESSAGE("../shared/conformance is absent: skipping ", name);
        return;
    }
    const std::filesystem::path path = *dir / "tokenizers" / (name + ".gguf");
    const auto file = nw::GgufFile::open(path);
    const auto tokenizer = nw::Tokenizer::fromGguf(*file);
    const nw::Vocab &vocab = tokenizer->vocab();
    const std::vector<std::int32_t> user = userDefined(vocab);

    // The reference first earns its place on the published vectors.
    const std::string separator = "\n__ggml_vocab_test__\n";
    const std::string inputs = readFile(path.string() + ".inp");
    std::istringstream outputs(readFile(path.string() + ".out"));
    int vectors = 0;
    for (std::size_t from = 0, at; (at = inputs.find(separator, from)) != std::string::npos; from = at + separator.size()) {
        std::string line;
        std::getline(outputs, line);
        std::istringstream row(line);
        Ids expected;
        for (std::int32_t id; row >> id;)
            expected.push_back(id);
        CHECK(referenceEncode(vocab, user, inputs.substr(from, at - from)) == expected);
        ++vectors;
    }
    CHECK(vectors == 46);

    std::mt19937 rng(20261122);
    int agreed = 0;
    constexpr int kStrings = 1500;
    for (int i = 0; i < kStrings; ++i) {
        const std::string text = randomText(rng);
        CAPTURE(text);
        const Ids ids = tokenizer->encode(text, false, false);
        const Ids expected = referenceEncode(vocab, user, text);
        CHECK(ids == expected);
        agreed += ids == expected;
        // SentencePiece writes spaces as ▁, so a literal ▁ in the text comes back as a space.
        if (vocab.model() == nw::VocabModel::Bpe || text.find("\xE2\x96\x81") == std::string::npos)
            CHECK(tokenizer->decode(ids) == text);
    }
    MESSAGE(name, ": ", agreed, "/", kStrings, " random strings agree with the plain reference");
}

} // namespace

TEST_CASE("llama-spm: heap-based merging agrees with the plain reference")
{
    compareWithReference("ggml-vocab-llama-spm");
}

TEST_CASE("gpt-2: heap-based merging agrees with the plain reference")
{
    compareWithReference("ggml-vocab-gpt-2");
}

TEST_CASE("deepseek-llm: heap-based merging agrees with the plain reference")
{
    compareWithReference("ggml-vocab-deepseek-llm");
}
