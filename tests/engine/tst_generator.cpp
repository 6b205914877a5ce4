// Generator: chunked prefill with progress, prefix reuse (fewer positions computed, same logits
// as a fresh session), streaming equals the final text, stop strings, seeded sampling,
// context full and cancel from another thread — on a tiny random llama with a byte vocabulary.
#include "common/error.h"
#include "engine/generator.h"
#include "engine/gguf_file.h"
#include "engine/gguf_writer.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "tests/engine/reference/byte_llama.h"
#include "tests/engine/reference/reference_llama.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>

using namespace nw;
using nw::test::f32Rows;
using nw::test::greedy;

TEST_CASE("prefill runs in chunks with progress and matches the reference")
{
    test::ByteLlama f;
    Generator generator(*f.model, *f.tokenizer, f32Rows(), 128);
    const std::vector<std::int32_t> prompt = f.tokenizer->encode("The quick brown fox", true, false);
    // BOS + one token per byte of "▁The▁quick▁brown▁fox" (SentencePiece's space prefix; ▁ is 3 bytes).
    REQUIRE(prompt.size() == 1 + 16 + 4 * 3);
    std::vector<std::pair<std::int64_t, std::int64_t>> calls;
    const std::vector<float> logits
        = generator.prefill(prompt, 8, [&](std::int64_t done, std::int64_t total) { calls.emplace_back(done, total); });
    const std::vector<std::pair<std::int64_t, std::int64_t>> expected
        = { { 8, 29 }, { 16, 29 }, { 24, 29 }, { 29, 29 } };
    CHECK(calls == expected);
    const auto want = nw::test::referenceLlamaLogits(*f.file, prompt).back();
    double maxDiff = 0, maxRef = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        maxDiff = std::max(maxDiff, std::abs(logits[i] - want[i]));
        maxRef = std::max(maxRef, std::abs(want[i]));
    }
    CHECK(maxDiff / maxRef < 1e-4);
}

TEST_CASE("a prompt sharing a prefix reuses the cached positions and gives the same logits")
{
    test::ByteLlama f;
    const std::vector<std::int32_t> first = f.tokenizer->encode("Once upon a time there was", true, false);
    const std::vector<std::int32_t> second = f.tokenizer->encode("Once upon a time, a dragon", true, false);
    std::size_t common = 0;
    while (first[common] == second[common])
        ++common;
    REQUIRE(common == 1 + 13 + 4 * 3); // BOS + "▁Once▁upon▁a▁time"

    for (int chunk : { 1, 512 }) {
        CAPTURE(chunk);
        Generator reused(*f.model, *f.tokenizer, f32Rows(), 128);
        reused.prefill(first, chunk);
        CHECK(reused.lastPrefilledTokens() == static_cast<std::int64_t>(first.size()));
        const std::vector<float> a = reused.prefill(second, chunk);
        CHECK(reused.lastReusedTokens() == static_cast<std::int64_t>(common));
        CHECK(reused.lastPrefilledTokens() == static_cast<std::int64_t>(second.size() - common));
        CHECK(reused.cache().tokens() == static_cast<std::int64_t>(second.size()));

        Generator fresh(*f.model, *f.tokenizer, f32Rows(), 128);
        const std::vector<float> b = fresh.prefill(second, chunk);
        CHECK(fresh.lastReusedTokens() == 0);
        if (chunk == 1) {
            CHECK(a == b); // the same computation, token by token: bit-identical
        } else {
            double maxDiff = 0;
            for (std::size_t i = 0; i < a.size(); ++i)
                maxDiff = std::max(maxDiff, static_cast<double>(std::abs(a[i] - b[i])));
            CHECK(maxDiff < 1e-5); // batch shapes differ: float sums may round differently
        }
    }

    // The same prompt again recomputes only its last token.
    Generator again(*f.model, *f.tokenizer, f32Rows(), 128);
    again.prefill(first);
    again.prefill(first);
    CHECK(again.lastReusedTokens() == static_cast<std::int64_t>(first.size() - 1));
    CHECK(again.lastPrefilledTokens() == 1);
}

TEST_CASE("streamed text is the final text; a stop string cuts it; the same seed repeats")
{
    test::ByteLlama f;
    Generator generator(*f.model, *f.tokenizer, f32Rows(), 256);
    std::string streamed;
    std::vector<std::int32_t> seen;
    const GenerationResult r = generator.generate("Hello", greedy(40),
        { .onText = [&](std::string_view t) { streamed += t; },
            .onToken = [&](std::int32_t id) { seen.push_back(id); } });
    CHECK(r.generatedTokens.size() == 40);
    CHECK(r.stop == StopReason::Length);
    CHECK(seen == r.generatedTokens);
    CHECK(streamed == r.text);
    CHECK(r.text == f.tokenizer->decode(r.generatedTokens)); // byte tokens: pieces are the bytes

    // Stop at a string taken from the middle of that greedy output.
    REQUIRE(r.text.size() >= 12);
    const std::string stop = r.text.substr(8, 3);
    const std::size_t at = r.text.find(stop);
    GenerateOptions o = greedy(40);
    o.stopStrings = { stop };
    streamed.clear();
    Generator other(*f.model, *f.tokenizer, f32Rows(), 256);
    const GenerationResult s = other.generate("Hello", o, { .onText = [&](std::string_view t) { streamed += t; } });
    CHECK(s.stop == StopReason::StopString);
    CHECK(s.text == r.text.substr(0, at));
    CHECK(streamed == s.text);

    GenerateOptions sampled;
    sampled.maxTokens = 30;
    sampled.sampler.temperature = 1.0f;
    sampled.sampler.seed = 1234;
    Generator s1(*f.model, *f.tokenizer, f32Rows(), 256);
    Generator s2(*f.model, *f.tokenizer, f32Rows(), 256);
    CHECK(s1.generate("Hi", sampled).generatedTokens == s2.generate("Hi", sampled).generatedTokens);
}

TEST_CASE("context full stops generation; a prompt longer than the context is an error")
{
    test::ByteLlama f;
    Generator generator(*f.model, *f.tokenizer, f32Rows(), 30);
    const GenerationResult r = generator.generate("0123456789", greedy(100));
    CHECK(r.stop == StopReason::ContextFull);
    CHECK(generator.cache().tokens() == 30);
    CHECK(r.promptTokens.size() + r.generatedTokens.size() == 31); // the last token is sampled, not stored
    CHECK(r.memory.tokens == 30);
    CHECK_THROWS_AS(generator.generate(std::string(40, 'x'), greedy(1)), Error);
}

TEST_CASE("cancel from another thread stops decoding")
{
    test::ByteLlama f;
    Generator generator(*f.model, *f.tokenizer, f32Rows(), 256);
    std::atomic<int> tokens { 0 };
    std::atomic<bool> cancelled { false };
    std::thread canceller([&] {
        while (tokens.load() < 3)
            std::this_thread::yield();
        generator.cancel();
        cancelled = true;
    });
    const GenerationResult r = generator.generate("Cancel me", greedy(200), { .onToken = [&](std::int32_t) {
        if (tokens.fetch_add(1) + 1 == 3)
            while (!cancelled.load())
                std::this_thread::yield();
    } });
    canceller.join();
    CHECK(r.stop == StopReason::Cancelled);
    CHECK(r.generatedTokens.size() == 3);
}

TEST_CASE("the end-of-generation token stops decoding and is not part of the output")
{
    nw::test::TinyLlamaSpec spec;
    spec.byteVocab = true;
    spec.nKvHeads = 2;
    spec.weightScale = 1.5f;
    spec.seed = 21;
    auto run = [&](std::int32_t eos) {
        GgufWriter w = nw::test::tinyLlamaWriter(spec);
        if (eos >= 0)
            w.setUInt32("tokenizer.ggml.eos_token_id", static_cast<std::uint32_t>(eos));
        const std::vector<std::byte> bytes = w.toBytes();
        std::shared_ptr<GgufFile> file = GgufFile::fromMemory(bytes, "tiny-eos.gguf");
        auto model = loadModel(file, { .threads = 2 });
        auto tokenizer = Tokenizer::fromGguf(*file);
        Generator generator(*model, *tokenizer, f32Rows(), 128);
        return generator.generate("Hello", greedy(30));
    };
    const GenerationResult plain = run(-1);
    REQUIRE(plain.generatedTokens.size() == 30);
    // The first generated id not seen before step k becomes EOS: greedy stops right there.
    std::size_t k = 3;
    while (k < plain.generatedTokens.size()
        && std::find(plain.generatedTokens.begin(), plain.generatedTokens.begin() + static_cast<std::ptrdiff_t>(k),
               plain.generatedTokens[k])
            != plain.generatedTokens.begin() + static_cast<std::ptrdiff_t>(k))
        ++k;
    REQUIRE(k < plain.generatedTokens.size());
    const GenerationResult stopped = run(plain.generatedTokens[k]);
    CHECK(stopped.stop == StopReason::EndOfGeneration);
    CHECK(stopped.generatedTokens
        == std::vector<std::int32_t>(
            plain.generatedTokens.begin(), plain.generatedTokens.begin() + static_cast<std::ptrdiff_t>(k)));
}
