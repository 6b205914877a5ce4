// The architecture registry and loadModel's checks: unknown architectures are refused in one
// line that lists the supported ones, a file holding tensors the graph does not use (a
// block_count lower than its layers, a stray tensor) is refused as llama.cpp refuses it, graphs
// without device kernels stay off --device cuda, and each architecture offers its KV modes.
#include "common/error.h"
#include "engine/architecture.h"
#include "engine/gguf_file.h"
#include "engine/hparams.h"
#include "engine/model.h"
#include "kernels/device_info.h"
#include "tests/engine/reference/tiny_llama.h"
#include "tests/support/model_edit.h"
#include "tests/support/test_data.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace nw;

namespace {

std::string loadError(const std::vector<std::byte> &bytes)
{
    try {
        auto file = GgufFile::fromMemory(bytes, "t.gguf");
        loadModel(std::shared_ptr<const GgufFile>(std::move(file)), { .threads = 1 });
    } catch (const Error &e) {
        return e.what();
    }
    return {};
}

test::TinyLlamaSpec threeLayers()
{
    test::TinyLlamaSpec spec;
    spec.nLayers = 3;
    return spec;
}

} // namespace

TEST_CASE("the registry lists llama first and finds every architecture by its GGUF name")
{
    CHECK(architectureList().starts_with("llama, deepseek2"));
    for (const char *name : { "llama", "deepseek2", "qwen2", "qwen3", "qwen3moe", "phi3", "gemma3", "gpt-oss", "qwen35",
             "qwen35moe", "gemma4" }) {
        CAPTURE(name);
        const Architecture *a = findArchitecture(name);
        REQUIRE(a != nullptr);
        CHECK(a->name == name);
        CHECK(bool(a->readHParams));
        CHECK(bool(a->makeModel));
        CHECK_FALSE(a->kvModes.empty());
    }
    CHECK(findArchitecture("mamba") == nullptr);
}

TEST_CASE("an unknown architecture is refused in one line naming it and the supported ones")
{
    GgufWriter w = test::tinyLlamaWriter({});
    w.setString("general.architecture", "mamba");
    const std::string message = loadError(w.toBytes());
    CHECK(message.find("'mamba'") != std::string::npos);
    CHECK(message.find(architectureList()) != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
}

TEST_CASE("a file with tensors the graph does not use is refused: wrong number of tensors")
{
    CHECK(loadError(test::makeTinyLlama(threeLayers())).empty()); // as written, it loads

    // block_count 2 over a file that holds three layers (llama.cpp: done_getting_tensors).
    GgufWriter fewer = test::tinyLlamaWriter(threeLayers());
    fewer.setUInt32("llama.block_count", 2);
    std::string message = loadError(fewer.toBytes());
    CHECK(message.find("wrong number of tensors") != std::string::npos);
    CHECK(message.find("blk.2.") != std::string::npos);
    // The counts: 3 global tensors + 9 per layer in the file, 3 + 2 × 9 used.
    CHECK(message.find("expected 30, got 21") != std::string::npos);

    // A stray tensor.
    GgufWriter stray = test::tinyLlamaWriter({});
    const std::vector<float> data(8, 1.f);
    stray.addTensor("blk.0.mystery.weight", { 8 }, data.data(), TensorType::F32);
    message = loadError(stray.toBytes());
    CHECK(message.find("wrong number of tensors") != std::string::npos);
    CHECK(message.find("blk.0.mystery.weight") != std::string::npos);
}

TEST_CASE("architectures without device kernels are refused on --device cuda, and run on auto")
{
    const auto path = test::sourceDir() / "tests/data/models/qwen3-q8_0.gguf";
    std::shared_ptr<const GgufFile> file = GgufFile::open(path);
    CHECK_FALSE(requireArchitecture("test", "qwen3").runsOnDevice);
    CHECK(
        loadModel(file, { .threads = 1, .device = DeviceChoice::Auto })->backend().memoryKind() == BackendMemory::Host);
    try {
        loadModel(file, { .threads = 1, .device = DeviceChoice::Cuda });
        FAIL("expected nw::Error");
    } catch (const Error &e) {
        const std::string message = e.what();
        CHECK(message.find("qwen3") != std::string::npos);
        CHECK(e.remedy() == Remedy::CpuDevice); // the CLI adds "use --device cpu"
        CHECK(message.find('\n') == std::string::npos);
    }
}

TEST_CASE("each architecture's KV modes: latent:R only where the keys are linear in the input")
{
    for (const auto &[name, latent] : std::vector<std::pair<std::string, bool>> { { "qwen2", true }, { "qwen3", false },
             { "qwen3moe", false }, { "phi3", true }, { "gemma3", false }, { "gpt-oss", true }, { "qwen35", false },
             { "qwen35moe", false }, { "gemma4", false } }) {
        const std::string arch = name; // clang 14 lets no lambda (CAPTURE's) refer to a structured binding
        CAPTURE(arch);
        std::shared_ptr<const GgufFile> file
            = GgufFile::open(test::sourceDir() / ("tests/data/models/" + name + "-q8_0.gguf"));
        auto model = loadModel(file, { .threads = 1 });
        CHECK(model->kvModes().front() == KvMode::Full);
        CHECK(model->makeKvCache(KvModeSpec::parse("full+q8"), 64)->layout().bytesPerTokenLayer() == 2 * 2 * 34);
        CHECK(model->makeKvCache(KvModeSpec::parse("full+q4"), 64)->layout().bytesPerTokenLayer() == 2 * 2 * 18);
        CHECK_THROWS_AS(model->makeKvCache(KvModeSpec::parse("mla"), 64), Error);
        if (latent)
            CHECK(model->makeKvCache(KvModeSpec::parse("latent:32"), 64)->layout().bytesPerTokenLayer() == 2 * 32 * 2);
        else
            CHECK_THROWS_WITH_AS(
                model->makeKvCache(KvModeSpec::parse("latent:32"), 64), doctest::Contains("latent"), Error);
    }
}

TEST_CASE("latent:R at full rank reproduces full attention: qwen2's K/V biases enter through the factors, "
          "phi3's partial NeoX rotary and LongRoPE tables rotate the latents, gpt-oss's sinks and windows apply")
{
    for (const char *name : { "qwen2-f32", "phi3-f32", "gpt-oss-f32" }) {
        CAPTURE(name);
        std::shared_ptr<const GgufFile> file
            = GgufFile::open(test::sourceDir() / "tests/data/models" / (std::string(name) + ".gguf"));
        auto model = loadModel(file, { .threads = 2 });
        std::vector<std::int32_t> tokens(60), positions(60); // past gpt-oss's 16-token window
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            tokens[i] = std::int32_t((i * 97 + 11) % 512);
            positions[i] = std::int32_t(i);
        }
        std::vector<float> full, latent;
        for (const char *mode : { "full", "latent:64" }) { // 64 = 2 KV heads × 32: the whole K/V width
            KvModeSpec spec = KvModeSpec::parse(mode);
            spec.rowType = TensorType::F32;
            auto cache = model->makeKvCache(spec, 512); // above phi3's original context: long factors
            model->forward(tokens, positions, *cache, LogitsFor::All, std::string(mode) == "full" ? full : latent);
        }
        REQUIRE(full.size() == latent.size());
        double worst = 0, largest = 0;
        for (std::size_t i = 0; i < full.size(); ++i) {
            worst = std::max(worst, double(std::fabs(full[i] - latent[i])));
            largest = std::max(largest, double(std::fabs(full[i])));
        }
        CHECK(worst <= 1e-4 * largest);
    }
}

TEST_CASE("block_count out of 1..512 is refused for every architecture before it sizes per-layer tables")
{
    // Found by fuzz_model: gemma3 sized its sliding-window flags by a negative block_count
    // (std::length_error) before the shared checks ran; 512 is llama.cpp's LLAMA_MAX_LAYERS.
    for (const Architecture *a : architectures()) {
        for (const std::int64_t layers :
            { std::int64_t(-1), std::int64_t(0), std::int64_t(513), std::int64_t(1) << 40 }) {
            CAPTURE(a->name);
            CAPTURE(layers);
            const std::string arch(a->name);
            GgufWriter w;
            w.setString("general.architecture", arch);
            w.setInt64(arch + ".block_count", layers);
            w.setUInt32(arch + ".embedding_length", 64);
            w.setUInt32(arch + ".feed_forward_length", 96);
            w.setUInt32(arch + ".attention.head_count", 4);
            w.setUInt32(arch + ".context_length", 256);
            w.setUInt32(arch + ".attention.sliding_window", 16); // gemma3 and gpt-oss size flags by it
            w.setUInt32(arch + ".vocab_size", 32);
            const auto bytes = w.toBytes();
            const auto file = GgufFile::fromMemory(bytes, "t.gguf");
            CHECK_THROWS_WITH_AS(
                HParams::fromGguf(*file), doctest::Contains("block_count must be within 1..512"), Error);
        }
    }
}

TEST_CASE("widths and expert counts past any model's are refused before a graph computes with them")
{
    // Found by the engine-instrumented fuzz_model campaign: 2 x expert_feed_forward_length
    // overflowed in the MoE block for 8391735729016799336.
    const std::vector<std::byte> base = test::makeTinyLlama(threeLayers());
    const auto file = GgufFile::fromMemory(base, "t.gguf");
    const auto refused = [&](const char *key, std::int64_t value, const char *expected) {
        CAPTURE(key);
        CAPTURE(value);
        const auto bytes = test::rewrittenModel(*file, [&](GgufWriter &w) { w.setInt64(key, value); });
        const auto edited = GgufFile::fromMemory(bytes, "t.gguf");
        CHECK_THROWS_WITH_AS(HParams::fromGguf(*edited), doctest::Contains(expected), Error);
    };
    refused("llama.expert_feed_forward_length", 8391735729016799336, "expert_feed_forward_length");
    refused("llama.expert_feed_forward_length", -1, "expert_feed_forward_length");
    refused("llama.feed_forward_length", std::int64_t(1) << 21, "feed_forward_length");
    refused("llama.expert_count", std::int64_t(1) << 40, "expert_count");
    refused("llama.expert_count", -5, "expert_count");
    refused("llama.expert_group_count", std::int64_t(1) << 32, "expert_group_count");
    refused("llama.expert_group_used_count", -1, "expert_group_used_count");
    refused("llama.vocab_size", std::int64_t(1) << 31, "token ids are 32-bit");

    // The graphs hold heads x head dim in an int: 2^20 heads of 64 would be 2^26 wide, and 2^32
    // heads a silent 0 once narrowed.
    for (const std::int64_t heads : { std::int64_t(1) << 20, std::int64_t(1) << 32 }) {
        CAPTURE(heads);
        const auto bytes = test::rewrittenModel(*file, [&](GgufWriter &w) {
            w.setInt64("llama.attention.head_count", heads);
            w.setInt64("llama.attention.head_count_kv", heads);
            w.setUInt32("llama.attention.key_length", 64);
            w.setUInt32("llama.attention.value_length", 64);
        });
        const auto edited = GgufFile::fromMemory(bytes, "t.gguf");
        CHECK_THROWS_WITH_AS(HParams::fromGguf(*edited), doctest::Contains("is wider than"), Error);
    }
}

TEST_CASE("a sliding window past what an int holds is refused, not narrowed")
{
    // gemma3 and gpt-oss hand the window to the attention as an int: 2^32 + 16 would attend over 16.
    for (const char *arch : { "gemma3", "gpt-oss" }) {
        CAPTURE(arch);
        const std::string a(arch);
        GgufWriter w;
        w.setString("general.architecture", a);
        w.setUInt32(a + ".block_count", 3);
        w.setUInt32(a + ".embedding_length", 64);
        w.setUInt32(a + ".feed_forward_length", 96);
        w.setUInt32(a + ".attention.head_count", 4);
        w.setUInt32(a + ".context_length", 256);
        w.setUInt32(a + ".expert_count", 4); // gpt-oss is MoE
        w.setUInt32(a + ".expert_used_count", 2);
        w.setUInt32(a + ".expert_feed_forward_length", 32);
        w.setInt64(a + ".attention.sliding_window", (std::int64_t(1) << 32) + 16);
        w.setUInt32(a + ".vocab_size", 32);
        const auto bytes = w.toBytes();
        const auto file = GgufFile::fromMemory(bytes, "t.gguf");
        CHECK_THROWS_WITH_AS(
            HParams::fromGguf(*file), doctest::Contains("attention.sliding_window must be within"), Error);
    }
}

TEST_CASE("qwen35: a rope.dimension_count beyond the key length is refused in one line, not walked pair by pair")
{
    // Found by fuzz_model: 2^31 - 2 rotated dims made the IMRoPE section check loop for minutes.
    // The real test file with its u32 value patched in place (key, then type 4 = u32, then value).
    std::ifstream in(test::sourceDir() / "tests/data/models/qwen35-f32.gguf", std::ios::binary);
    std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string key = "qwen35.rope.dimension_count";
    const auto at = std::search(chars.begin(), chars.end(), key.begin(), key.end());
    REQUIRE(at != chars.end());
    const std::size_t valueAt = std::size_t(at - chars.begin()) + key.size() + 4;
    std::uint32_t type = 0;
    std::memcpy(&type, chars.data() + valueAt - 4, 4);
    REQUIRE(type == 4);
    const std::uint32_t huge = 0x7ffffffe;
    std::memcpy(chars.data() + valueAt, &huge, 4);
    std::vector<std::byte> bytes(chars.size());
    std::memcpy(bytes.data(), chars.data(), chars.size());
    const std::shared_ptr<const GgufFile> file = GgufFile::fromMemory(bytes, "qwen35-huge-rope.gguf");
    try {
        loadModel(file, { .threads = 1 });
        FAIL("expected nw::Error");
    } catch (const Error &e) {
        const std::string message = e.what();
        CHECK(message.find("rope.dimension_count 2147483646 must be even and within the key length")
            != std::string::npos);
        CHECK(message.find('\n') == std::string::npos);
    }
}
