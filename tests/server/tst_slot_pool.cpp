// The server's slots over one tiny llama: generations in several threads at once, sharing the
// model's weights, give the float64 reference's greedy tokens; a prompt goes to the slot that holds
// its prefix (a shared BOS alone does not count); requests beyond the slots wait and are counted.
#include "server/slot_pool.h"

#include "engine/gguf_file.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "tests/engine/reference/byte_llama.h"
#include "tests/engine/reference/reference_llama.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>

using namespace nw;
using nw::server::SlotPool;
using nw::test::f32Rows;
using nw::test::greedy;

namespace {

// Greedy continuation by the float64 reference: argmax of the last position's logits, n times.
std::vector<std::int32_t> referenceGreedy(const GgufFile &file, std::vector<std::int32_t> tokens, int n)
{
    std::vector<std::int32_t> out;
    for (int i = 0; i < n; ++i) {
        const std::vector<double> last = nw::test::referenceLlamaLogits(file, tokens).back();
        const auto id = static_cast<std::int32_t>(std::max_element(last.begin(), last.end()) - last.begin());
        out.push_back(id);
        tokens.push_back(id);
    }
    return out;
}

} // namespace

TEST_CASE("four threads on two slots generate what the reference generates, each its own")
{
    test::ByteLlama f;
    SlotPool pool(*f.model, *f.tokenizer, f32Rows(), 128, 2);
    const std::vector<std::string> texts = { "The quick brown fox", "jumps over", "the lazy dog", "Pack my box" };
    std::vector<std::vector<std::int32_t>> prompts, got(texts.size()), want;
    for (const std::string &t : texts) {
        prompts.push_back(f.tokenizer->encode(t, true, false));
        want.push_back(referenceGreedy(*f.file, prompts.back(), 10));
    }
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < texts.size(); ++i)
        threads.emplace_back([&, i] {
            SlotPool::Lease lease = pool.acquire(prompts[i]);
            GenerateOptions options = greedy(10);
            const GenerationResult r = lease.generator().generateFromTokens(prompts[i], options);
            pool.record(r, false);
            got[i] = r.generatedTokens;
        });
    for (std::thread &t : threads)
        t.join();
    for (std::size_t i = 0; i < texts.size(); ++i) {
        CAPTURE(texts[i]);
        CHECK(got[i] == want[i]);
    }
    const server::ServerMetrics m = pool.metrics();
    CHECK(m.requestsFinished == 4);
    CHECK(m.requestsRunning == 0);
    CHECK(m.requestsQueued == 0);
    CHECK(m.generatedTokens == 40);
    REQUIRE(m.slotMemory.size() == 2);
    CHECK(m.slotMemory[0].capacityTokens == 128);
}

TEST_CASE("a prompt goes to the slot holding its prefix; a shared BOS alone does not count")
{
    test::ByteLlama f;
    SlotPool pool(*f.model, *f.tokenizer, f32Rows(), 128, 2);
    // Token ids written out (bytes of the byte vocabulary), so the prompts share exactly BOS.
    const std::int32_t bos = f.tokenizer->bos();
    const std::vector<std::int32_t> a = { bos, 40, 41, 42, 43, 44, 45 };
    const std::vector<std::int32_t> b = { bos, 50, 51, 52 };
    struct Run {
        std::size_t slot;
        GenerationResult result;
    };
    const auto run = [&](const std::vector<std::int32_t> &prompt) {
        SlotPool::Lease lease = pool.acquire(prompt);
        GenerationResult r = lease.generator().generateFromTokens(prompt, greedy(3));
        pool.record(r, false);
        return Run { lease.slot(), std::move(r) };
    };
    const Run first = run(a);
    CHECK(first.result.reusedTokens == 0);
    const Run other = run(b); // shares only BOS with slot 0: the unused slot
    CHECK(other.slot != first.slot);
    CHECK(other.result.reusedTokens == 0);
    // A's prompt and two tokens that are not its continuation: the cache held A and the first two
    // generated tokens (the last one is never fed), so exactly A is reused.
    std::vector<std::int32_t> c = a;
    for (std::int32_t id : { 60, 61 })
        c.push_back(id == first.result.generatedTokens[0] ? id + 10 : id);
    const Run again = run(c);
    CHECK(again.slot == first.slot);
    CHECK(again.result.reusedTokens == static_cast<std::int64_t>(a.size()));
    const server::ServerMetrics m = pool.metrics();
    CHECK(m.prefixCacheHits == 1);
    CHECK(m.prefixCacheReusedTokens == a.size());
    // A again: slot 1 has been idle longer, but slot 0 holds A's prefix.
    CHECK(run(a).slot == first.slot);
}

TEST_CASE("requests beyond the slots wait, are counted as queued, and run when a slot frees")
{
    test::ByteLlama f;
    SlotPool pool(*f.model, *f.tokenizer, f32Rows(), 64, 1);
    const std::vector<std::int32_t> prompt = f.tokenizer->encode("hi", true, false);
    std::optional<SlotPool::Lease> held(pool.acquire(prompt));
    CHECK(pool.metrics().requestsRunning == 1);
    bool served = false;
    std::thread waiter([&] {
        SlotPool::Lease lease = pool.acquire(prompt);
        served = true;
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (pool.metrics().requestsQueued != 1 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    CHECK(pool.metrics().requestsQueued == 1);
    held.reset(); // frees the slot
    waiter.join();
    CHECK(served);
    const server::ServerMetrics m = pool.metrics();
    CHECK(m.requestsQueued == 0);
    CHECK(m.requestsRunning == 0);
}

TEST_CASE("tryAcquire refuses a request that would wait behind the most allowed, and changes nothing")
{
    test::ByteLlama f;
    SlotPool pool(*f.model, *f.tokenizer, f32Rows(), 64, 1);
    const std::vector<std::int32_t> prompt = f.tokenizer->encode("hi", true, false);
    std::optional<SlotPool::Lease> held = pool.tryAcquire(prompt, 0); // a free slot: served at once
    REQUIRE(held);
    CHECK_FALSE(pool.tryAcquire(prompt, 0)); // it would wait, and nobody may
    std::thread waiter([&] { CHECK(pool.tryAcquire(prompt, 1)); }); // one may wait
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (pool.metrics().requestsQueued != 1 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    REQUIRE(pool.metrics().requestsQueued == 1);
    CHECK_FALSE(pool.tryAcquire(prompt, 1)); // a second may not
    const server::ServerMetrics m = pool.metrics();
    CHECK(m.requestsQueued == 1);
    CHECK(m.requestsRunning == 1);
    held.reset();
    waiter.join();
    CHECK(pool.metrics().requestsRunning == 0);
    CHECK(pool.tryAcquire(prompt, 0)); // free again
}
