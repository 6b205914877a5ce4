// Pre-tokenizer splits against the patterns themselves: the expected words were computed with
// Python's `regex` module (which knows \p{L}) running each published pattern list of
// tokenizer.ggml.pre in sequence, matches and the text between them kept as pieces — not with
// this code. A random differential run of the same kind agreed on 20,000 strings per kind.
#include "engine/pre_tokenizer.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

namespace {

struct SplitCase {
    const char *pre;
    const char *text;
    std::vector<std::string> words;
};

const std::vector<SplitCase> &splitCases()
{
    static const std::vector<SplitCase> cases = {
        // gpt-2
        { "gpt-2", "Hello world's  123456 !!!\n\n  x",
            { "Hello", " world", "'s", " ", " 123456", " !!!", "\n\n ", " x" } },
        { "gpt-2", "I'M HAPPY 'll ' ve it's", { "I", "'", "M", " HAPPY", " '", "ll", " '", " ve", " it", "'s" } },
        { "gpt-2", "中文テキスト カタカナ 한국어 123 4567",
            { "中文テキスト", " カタカナ", " 한국어", " 123", " 4567" } },
        { "gpt-2", "  leading\ttab\r\n trailing   ", { " ", " leading", "\t", "tab", "\r\n", " trailing", "   " } },
        { "gpt-2",
            "naïve café a\xCC\x81"
            " x² ١٢",
            { "naïve", " café", " a",
                "\xCC\x81"
                "",
                " x", "²", " ١٢" } },
        { "gpt-2", "$100.50 (approx.) #tag @user e-mail",
            { "$", "100", ".", "50", " (", "approx", ".)", " #", "tag", " @", "user", " e", "-", "mail" } },
        { "gpt-2",
            "😀😀 ok🙂\xC2\xA0"
            "\xE3\x80\x80"
            "end",
            { "😀😀", " ok", "🙂",
                "\xC2\xA0"
                "",
                "\xE3\x80\x80"
                "",
                "end" } },
        // llama-bpe
        { "llama-bpe", "Hello world's  123456 !!!\n\n  x",
            { "Hello", " world", "'s", " ", " ", "123", "456", " !!!\n\n", " ", " x" } },
        { "llama-bpe", "I'M HAPPY 'll ' ve it's", { "I", "'M", " HAPPY", " '", "ll", " '", " ve", " it", "'s" } },
        { "llama-bpe", "中文テキスト カタカナ 한국어 123 4567",
            { "中文テキスト", " カタカナ", " 한국어", " ", "123", " ", "456", "7" } },
        { "llama-bpe", "  leading\ttab\r\n trailing   ", { " ", " leading", "\ttab", "\r\n", " trailing", "   " } },
        { "llama-bpe",
            "naïve café a\xCC\x81"
            " x² ١٢",
            { "naïve", " café", " a",
                "\xCC\x81"
                "",
                " x", "²", " ", "١٢" } },
        { "llama-bpe", "$100.50 (approx.) #tag @user e-mail",
            { "$", "100", ".", "50", " (", "approx", ".)", " #", "tag", " @", "user", " e", "-mail" } },
        { "llama-bpe",
            "😀😀 ok🙂\xC2\xA0"
            "\xE3\x80\x80"
            "end",
            { "😀😀", " ok", "🙂",
                "\xC2\xA0"
                "",
                "\xE3\x80\x80"
                "end" } },
        // qwen2
        { "qwen2", "Hello world's  123456 !!!\n\n  x",
            { "Hello", " world", "'s", " ", " ", "1", "2", "3", "4", "5", "6", " !!!\n\n", " ", " x" } },
        { "qwen2", "I'M HAPPY 'll ' ve it's", { "I", "'M", " HAPPY", " '", "ll", " '", " ve", " it", "'s" } },
        { "qwen2", "中文テキスト カタカナ 한국어 123 4567",
            { "中文テキスト", " カタカナ", " 한국어", " ", "1", "2", "3", " ", "4", "5", "6", "7" } },
        { "qwen2", "  leading\ttab\r\n trailing   ", { " ", " leading", "\ttab", "\r\n", " trailing", "   " } },
        { "qwen2",
            "naïve café a\xCC\x81"
            " x² ١٢",
            { "naïve", " café", " a",
                "\xCC\x81"
                "",
                " x", "²", " ", "١", "٢" } },
        { "qwen2", "$100.50 (approx.) #tag @user e-mail",
            { "$", "1", "0", "0", ".", "5", "0", " (", "approx", ".)", " #", "tag", " @", "user", " e", "-mail" } },
        { "qwen2",
            "😀😀 ok🙂\xC2\xA0"
            "\xE3\x80\x80"
            "end",
            { "😀😀", " ok", "🙂",
                "\xC2\xA0"
                "",
                "\xE3\x80\x80"
                "end" } },
        // deepseek-llm
        { "deepseek-llm", "Hello world's  123456 !!!\n\n  x",
            { "Hello", " world", "'", "s", "  ", "123456", " !!!", "\n", "\n", " ", " x" } },
        { "deepseek-llm", "I'M HAPPY 'll ' ve it's",
            { "I", "'", "M", " HAPPY", " '", "ll", " '", " ve", " it", "'", "s" } },
        { "deepseek-llm", "中文テキスト カタカナ 한국어 123 4567",
            { "中文テキスト", " ", "カタカナ", " ", "한국어", " ", "123", " ", "4567" } },
        { "deepseek-llm", "  leading\ttab\r\n trailing   ",
            { " ", " leading", "\ttab", "\r", "\n", " trailing", "   " } },
        { "deepseek-llm",
            "naïve café a\xCC\x81"
            " x² ١٢",
            { "na", "ï", "ve", " caf", "é", " a",
                "\xCC\x81"
                "",
                " x", "²", " ", "١٢" } },
        { "deepseek-llm", "$100.50 (approx.) #tag @user e-mail",
            { "$", "100", ".", "50", " (", "approx", ".)", " #", "tag", " @", "user", " e", "-", "mail" } },
        { "deepseek-llm",
            "😀😀 ok🙂\xC2\xA0"
            "\xE3\x80\x80"
            "end",
            { "😀😀", " ok", "🙂",
                "\xC2\xA0"
                "",
                "\xE3\x80\x80"
                "",
                "end" } },
        // deepseek-v3
        { "deepseek-v3", "Hello world's  123456 !!!\n\n  x",
            { "Hello", " world", "'s", "  ", "123", "456", " !!!\n\n", " ", " x" } },
        { "deepseek-v3", "I'M HAPPY 'll ' ve it's", { "I", "'M", " HAPPY", " '", "ll", " '", " ve", " it", "'s" } },
        { "deepseek-v3", "中文テキスト カタカナ 한국어 123 4567",
            { "中文テキスト", " ", "カタカナ", " 한국어", " ", "123", " ", "456", "7" } },
        { "deepseek-v3", "  leading\ttab\r\n trailing   ", { " ", " leading", "\ttab", "\r\n", " trailing", "   " } },
        { "deepseek-v3",
            "naïve café a\xCC\x81"
            " x² ١٢",
            { "naïve", " café",
                " a\xCC\x81"
                "",
                " x", "²", " ", "١٢" } },
        { "deepseek-v3", "$100.50 (approx.) #tag @user e-mail",
            { "$", "100", ".", "50", " (", "approx", ".)", " #", "tag", " @", "user", " e", "-mail" } },
        { "deepseek-v3",
            "😀😀 ok🙂\xC2\xA0"
            "\xE3\x80\x80"
            "end",
            { "😀😀", " ok", "🙂",
                "\xC2\xA0"
                "",
                "\xE3\x80\x80"
                "end" } },
    };
    return cases;
}

} // namespace

TEST_CASE("pre-tokenizers split as their regex lists do")
{
    for (const SplitCase &c : splitCases()) {
        CAPTURE(c.pre);
        CAPTURE(c.text);
        const std::optional<nw::PreTokenizerSpec> spec = nw::preTokenizerFromName(c.pre);
        REQUIRE(spec.has_value());
        std::vector<std::string> words;
        for (std::string_view word : nw::preTokenize(spec->kind, c.text))
            words.emplace_back(word);
        CHECK(words == c.words);
    }
}

TEST_CASE("words cover the text exactly, malformed UTF-8 included")
{
    const std::string text = "ok\xFF\xFE bad \xE4\xB8 tail\xC3";
    for (auto kind : { nw::PreTokenizerKind::Default, nw::PreTokenizerKind::Gpt2, nw::PreTokenizerKind::Llama3,
             nw::PreTokenizerKind::Qwen2, nw::PreTokenizerKind::Qwen35, nw::PreTokenizerKind::Gpt4o,
             nw::PreTokenizerKind::Starcoder, nw::PreTokenizerKind::Falcon, nw::PreTokenizerKind::DeepSeekLlm,
             nw::PreTokenizerKind::DeepSeekCoder, nw::PreTokenizerKind::DeepSeek3, nw::PreTokenizerKind::Gemma4 }) {
        std::string joined;
        for (std::string_view word : nw::preTokenize(kind, text)) {
            CHECK_FALSE(word.empty());
            joined += word;
        }
        CHECK(joined == text);
        CHECK(nw::preTokenize(kind, "").empty());
    }
}

TEST_CASE("pre-tokenizer names: aliases, default, and unknown ones refused")
{
    // As llama.cpp's llama_vocab::impl::load maps them.
    const auto kind = [](std::string_view name) { return nw::preTokenizerFromName(name).value().kind; };
    CHECK(kind("gpt-2") == nw::PreTokenizerKind::Gpt2);
    CHECK(kind("llama-bpe") == nw::PreTokenizerKind::Llama3);
    CHECK(kind("llama3") == nw::PreTokenizerKind::Llama3);
    CHECK(kind("default") == nw::PreTokenizerKind::Default);
    CHECK(kind("") == nw::PreTokenizerKind::Default);
    CHECK(kind("qwen2") == nw::PreTokenizerKind::Qwen2);
    CHECK(kind("qwen35") == nw::PreTokenizerKind::Qwen35);
    CHECK(kind("gpt-4o") == nw::PreTokenizerKind::Gpt4o);
    CHECK(kind("command-r") == nw::PreTokenizerKind::Starcoder);
    CHECK(kind("deepseek-llm") == nw::PreTokenizerKind::DeepSeekLlm);
    CHECK(kind("deepseek-coder") == nw::PreTokenizerKind::DeepSeekCoder);
    CHECK(kind("deepseek-v3") == nw::PreTokenizerKind::DeepSeek3);
    CHECK(kind("gemma4") == nw::PreTokenizerKind::Gemma4);
    // Llama 3's names take whole-word tokens first and add BOS; the same pattern under DBRX's
    // name does neither.
    CHECK(nw::preTokenizerFromName("llama-bpe")->ignoreMerges);
    CHECK(nw::preTokenizerFromName("llama-bpe")->addBos);
    CHECK_FALSE(nw::preTokenizerFromName("dbrx")->ignoreMerges);
    CHECK_FALSE(nw::preTokenizerFromName("dbrx")->addBos);
    CHECK_FALSE(nw::preTokenizerFromName("qwen2")->ignoreMerges);
    CHECK_FALSE(nw::preTokenizerFromName("tekken").has_value());
    CHECK_FALSE(nw::preTokenizerFromName("GPT-2").has_value());
    CHECK(nw::preTokenizerName(nw::PreTokenizerKind::DeepSeek3) == "deepseek-v3");
}

TEST_CASE("long runs of one kind of code point split in linear time")
{
    // Found by fuzz_tokenizer: \p{N}{1,3} scanned the whole digit run at every match, so 80,000
    // digits took 16 s on the Qwen2 pattern. 200,000 code points of each kind now take
    // milliseconds; the bound is loose for loaded machines, and far below the old quadratic time.
    const auto start = std::chrono::steady_clock::now();
    for (const char *unit : { "7", "a", " ", "!", "\n", "\xE4\xB8\xAD", "A" }) {
        std::string text;
        for (int i = 0; i < 200000; ++i)
            text += unit;
        for (auto kind : { nw::PreTokenizerKind::Default, nw::PreTokenizerKind::Gpt2, nw::PreTokenizerKind::Llama3,
                 nw::PreTokenizerKind::Qwen2, nw::PreTokenizerKind::Qwen35, nw::PreTokenizerKind::Gpt4o,
                 nw::PreTokenizerKind::Starcoder, nw::PreTokenizerKind::Falcon, nw::PreTokenizerKind::DeepSeekLlm,
                 nw::PreTokenizerKind::DeepSeekCoder, nw::PreTokenizerKind::DeepSeek3, nw::PreTokenizerKind::Gemma4 }) {
            CAPTURE(unit);
            CAPTURE(int(kind));
            const auto t0 = std::chrono::steady_clock::now();
            std::size_t covered = 0;
            for (std::string_view word : nw::preTokenize(kind, text))
                covered += word.size();
            CHECK(covered == text.size());
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            CHECK(seconds < 2.0);
        }
    }
    const auto words = nw::preTokenize(nw::PreTokenizerKind::Llama3, std::string(3000, '7'));
    CHECK(words.size() == 1000); // \p{N}{1,3}
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
}
