// The recurrent layers' state in the KV cache (engine/recurrent_state.h), on the random-weight
// qwen35 model of tests/data/models: the plan marks its Gated DeltaNet layers, their bytes are
// the state's size whatever the length and the meters count them (checkpoints included); a
// prompt fed in pieces of any size (the chunked prefill, the one-token recurrence, the short
// convolution's carried rows) gives the logits of one pass; truncate() goes back to a
// checkpoint, or to empty, and continuing from there gives the logits of a fresh run; the
// Generator takes a checkpoint before the end of each prompt and reuses it.
#include "common/error.h"
#include "engine/arch_table.h"
#include "engine/generator.h"
#include "engine/gguf_file.h"
#include "engine/hparams.h"
#include "engine/kv_cache.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "tests/support/test_data.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

using namespace nw;

namespace {

std::shared_ptr<const GgufFile> qwen35File()
{
    return GgufFile::open(test::sourceDir() / "tests/data/models/qwen35-f32.gguf");
}

std::vector<std::int32_t> someTokens(int n, int seed)
{
    std::vector<std::int32_t> ids(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
        ids[std::size_t(i)] = 3 + (i * 37 + seed * 101) % 500;
    return ids;
}

// Runs tokens[first, first + count) at their positions and returns the last position's logits.
std::vector<float> run(
    Model &model, KvCache &cache, const std::vector<std::int32_t> &tokens, std::int64_t first, std::int64_t count)
{
    std::vector<std::int32_t> part(tokens.begin() + first, tokens.begin() + first + count), positions(part.size());
    std::iota(positions.begin(), positions.end(), std::int32_t(first));
    std::vector<float> logits;
    model.forward(part, positions, cache, LogitsFor::Last, logits);
    return logits;
}

double maxDiff(const std::vector<float> &a, const std::vector<float> &b)
{
    REQUIRE(a.size() == b.size());
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
    return worst;
}

} // namespace

TEST_CASE("qwen35's plan: recurrent layers hold the state's bytes at any length, and the meters count them")
{
    auto file = qwen35File();
    auto model = loadModel(file, { .threads = 2 });
    const HParams &hp = model->hparams();
    // The state by the formula, from the file's keys: (kernel − 1) rows of q, k and v channels,
    // and one [keyDim, valueDim] matrix per value head, f32.
    const std::int64_t kernel = *file->findInt("qwen35.ssm.conv_kernel");
    const std::int64_t d = *file->findInt("qwen35.ssm.state_size");
    const std::int64_t nK = *file->findInt("qwen35.ssm.group_count"), nV = *file->findInt("qwen35.ssm.time_step_rank");
    const std::uint64_t stateBytes = std::uint64_t((kernel - 1) * (2 * nK * d + nV * d) + nV * d * d) * 4;
    CHECK(stateBytes == 19456);

    auto cache = model->makeKvCache(KvModeSpec::parse("full"), 128);
    REQUIRE(cache->nLayers() == 3);
    CHECK(cache->plan(0).kind == KvLayerKind::Recurrent);
    CHECK(cache->plan(1).kind == KvLayerKind::Full);
    CHECK(cache->plan(2).kind == KvLayerKind::Recurrent);
    CHECK(cache->hasRecurrentLayers());
    for (std::int64_t tokens : { 1, 7, 128 })
        CHECK(cache->plan(0).bytesFor(tokens) == stateBytes);
    CHECK(cache->plan(0).bytesFor(0) == 0);

    const auto tokens = someTokens(40, 1);
    run(*model, *cache, tokens, 0, 40);
    MemoryStats stats = cache->memoryStats();
    CHECK(stats.layers[0].kind == "recurrent");
    CHECK(stats.layers[0].used == stateBytes);
    CHECK(stats.layers[0].reserved == stateBytes);
    CHECK(stats.layers[2].used == stateBytes);
    const std::uint64_t rowBytes = std::uint64_t(2 * hp.nKvHeads * hp.headDimK) * 2; // K and V rows, f16
    CHECK(stats.layers[1].used == 40 * rowBytes);
    CHECK(stats.kvBytesReserved == cache->allocatedBytes());
    // Only the attention layer grows.
    CHECK(stats.bytesPerToken == rowBytes);

    cache->checkpoint();
    stats = cache->memoryStats();
    CHECK(stats.layers[0].used == stateBytes);
    CHECK(stats.layers[0].reserved == 2 * stateBytes); // the live state and one checkpoint
    CHECK(stats.kvBytesReserved == cache->allocatedBytes());
    MESSAGE("qwen35 test model: " << stateBytes << " state bytes per recurrent layer and sequence");
}

TEST_CASE("a prompt fed in pieces of any size gives the logits of one pass")
{
    auto model = loadModel(qwen35File(), { .threads = 2 });
    const auto tokens = someTokens(90, 2);
    auto cache = model->makeKvCache(KvModeSpec::parse("full"), 128);
    const std::vector<float> once = run(*model, *cache, tokens, 0, 90);
    // Pieces shorter than the convolution's kernel, single tokens (the recurrence) and chunks
    // longer than the delta rule's 64-token chunk.
    for (const std::vector<std::int64_t> &pieces :
        std::vector<std::vector<std::int64_t>> { { 1, 1, 2, 86 }, { 70, 1, 19 }, { 45, 45 }, { 30, 1, 1, 1, 57 } }) {
        cache->clear();
        std::int64_t at = 0;
        std::vector<float> last;
        for (std::int64_t n : pieces) {
            last = run(*model, *cache, tokens, at, n);
            at += n;
        }
        CAPTURE(pieces.front());
        CHECK(maxDiff(last, once) < 1e-4);
    }
}

TEST_CASE("truncate goes back to the newest checkpoint at or before the position, or to empty")
{
    auto model = loadModel(qwen35File(), { .threads = 2 });
    const auto tokens = someTokens(60, 3);
    auto cache = model->makeKvCache(KvModeSpec::parse("full"), 128);
    const std::vector<float> fresh = run(*model, *cache, tokens, 0, 60);

    cache->clear();
    run(*model, *cache, tokens, 0, 20);
    cache->checkpoint();
    run(*model, *cache, tokens, 20, 15);
    cache->checkpoint();
    run(*model, *cache, tokens, 35, 25);
    CHECK(cache->checkpoints() == std::vector<std::int64_t> { 20, 35 });

    cache->truncate(50); // nothing saved at 50: back to 35
    CHECK(cache->tokens() == 35);
    CHECK(maxDiff(run(*model, *cache, tokens, 35, 25), fresh) < 1e-4);

    cache->truncate(30); // back to 20; the checkpoint at 35 belongs to a past that is gone
    CHECK(cache->tokens() == 20);
    CHECK(cache->checkpoints() == std::vector<std::int64_t> { 20 });
    CHECK(maxDiff(run(*model, *cache, tokens, 20, 40), fresh) < 1e-4);

    cache->truncate(10); // before every checkpoint: empty
    CHECK(cache->tokens() == 0);
    CHECK(cache->checkpoints().empty());
    CHECK(maxDiff(run(*model, *cache, tokens, 0, 60), fresh) < 1e-4);

    // A batch that does not start where the cache continues is refused.
    cache->truncate(59);
    CHECK(cache->tokens() == 0);
    CHECK_THROWS_AS(run(*model, *cache, tokens, 5, 3), Error);

    cache->setMaxCheckpoints(1);
    run(*model, *cache, tokens, 0, 10);
    cache->checkpoint();
    run(*model, *cache, tokens, 10, 10);
    cache->checkpoint();
    CHECK(cache->checkpoints() == std::vector<std::int64_t> { 20 }); // the oldest went
}

TEST_CASE("the Generator checkpoints before each prompt's end and continues from there")
{
    auto file = qwen35File();
    auto model = loadModel(file, { .threads = 2 });
    const auto tokenizer = Tokenizer::fromGguf(*file);
    Generator generator(*model, *tokenizer, KvModeSpec::parse("full"), 128);
    auto first = someTokens(40, 4);
    generator.prefill(first, 16);
    CHECK(generator.lastPrefilledTokens() == 40);

    // A follow-up that differs two tokens before the first prompt's end: the checkpoint four
    // tokens before it is reused.
    auto second = first;
    second.resize(38);
    const auto more = someTokens(20, 5);
    second.insert(second.end(), more.begin(), more.end());
    const std::vector<float> reused = generator.prefill(second, 16);
    CHECK(generator.lastReusedTokens() == 40 - Generator::kCheckpointTail);

    auto cache = model->makeKvCache(KvModeSpec::parse("full"), 128);
    CHECK(maxDiff(reused, run(*model, *cache, second, 0, std::int64_t(second.size()))) < 1e-4);
}

TEST_CASE("the planner sizes Qwen3.6-27B: 16 attention layers grow, 48 recurrent layers hold a fixed state")
{
    const HParams &hp = requireKnownArchitecture("Qwen3.6-27B").hp;
    const std::int64_t ctx = 262144;
    const KvModeFigures f = kvModeFiguresFor(hp, KvModeSpec::parse("full"), ctx);
    // From the model card: an attention layer keeps K and V of 4 heads × 256 dims in f16 per
    // token; a DeltaNet layer 3 conv rows of 2 × 16 × 128 + 48 × 128 channels and 48 state
    // matrices of 128 × 128, f32.
    const std::uint64_t attentionPerToken = 4 * 256 * 2 * 2;
    const std::uint64_t state = (3 * (2 * 16 * 128 + 48 * 128) + 48 * 128 * 128) * 4;
    REQUIRE(f.kinds.size() == 2);
    CHECK(f.kinds[0].kind == "recurrent");
    CHECK(f.kinds[0].layers == 48);
    CHECK(f.kinds[0].used == 48 * state);
    CHECK(f.kinds[1].kind == "full");
    CHECK(f.kinds[1].layers == 16);
    CHECK(f.kinds[1].used == 16 * attentionPerToken * std::uint64_t(ctx));
    CHECK(f.usedBytes == 48 * state + 16 * attentionPerToken * std::uint64_t(ctx));
    MESSAGE("Qwen3.6-27B at " << ctx << " tokens: " << 48 * state << " bytes of recurrent state per sequence (" << state
                              << " per layer), " << 16 * attentionPerToken << " KV bytes per token");
}
