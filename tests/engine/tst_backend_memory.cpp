// The llama graph on a backend whose memory is not the host's: a checking backend reports
// BackendMemory::Device, hands out tracked buffers and runs every op on the CPU kernels after
// checking that activations, ids, positions, KV blocks and block tables come from its own
// buffers and weights from the host. Logits must equal the plain CPU backend's; the same
// wiring runs the CUDA backend on a GPU (tests/kernels/tst_cuda_model.cpp).
#include "common/error.h"
#include "engine/gguf_file.h"
#include "engine/model.h"
#include "kernels/device_info.h"
#include "tests/engine/reference/tiny_llama.h"

#include <doctest/doctest.h>

#include <cstring>
#include <map>
#include <numeric>

using namespace nw;
using nw::test::TinyLlamaSpec;

namespace {

class CheckingBackend final : public Backend {
public:
    CheckingBackend()
        : m_cpu(makeCpuBackend(1))
    {
    }
    std::string name() const override { return "checking"; }
    int threads() const override { return 1; }
    BackendMemory memoryKind() const override { return BackendMemory::Device; }

    void *allocate(std::size_t bytes) override
    {
        void *data = Backend::allocate(bytes);
        m_live[reinterpret_cast<std::uintptr_t>(data)] = std::max<std::size_t>(bytes, 1);
        ++allocations;
        return data;
    }
    void release(void *data, std::size_t bytes) noexcept override
    {
        m_live.erase(reinterpret_cast<std::uintptr_t>(data));
        Backend::release(data, bytes);
    }
    void upload(void *dst, const void *src, std::size_t bytes) override
    {
        requireOwn(dst, bytes, "upload destination");
        requireHost(src, "upload source");
        uploadedBytes += bytes;
        Backend::upload(dst, src, bytes);
    }
    void download(void *dst, const void *src, std::size_t bytes) override
    {
        requireOwn(src, bytes, "download source");
        requireHost(dst, "download destination");
        downloadedBytes += bytes;
        Backend::download(dst, src, bytes);
    }
    void prepareWeights(std::span<const WeightMatrix> weights) override
    {
        for (const WeightMatrix &w : weights)
            requireHost(w.data, "prepared weight");
        preparedWeights += weights.size();
        m_cpu->prepareWeights(weights); // as the plain CPU model does (repacking), so logits match bit for bit
    }

    void matmul(const WeightMatrix &w, const float *x, float *y, int nTokens) override
    {
        requireHost(w.data, "matmul weight");
        requireOwn(x, 1, "matmul x");
        requireOwn(y, 1, "matmul y");
        m_cpu->matmul(w, x, y, nTokens);
    }
    void embed(const WeightMatrix &table, const std::int32_t *ids, int n, float *out) override
    {
        requireHost(table.data, "embed table");
        requireOwn(ids, std::size_t(n) * sizeof(std::int32_t), "embed ids");
        requireOwn(out, 1, "embed out");
        m_cpu->embed(table, ids, n, out);
    }
    void rmsNorm(const float *x, const float *weight, float *y, int nTokens, int dim, float eps) override
    {
        requireOwn(x, 1, "rmsNorm x");
        requireOwn(y, 1, "rmsNorm y");
        if (weight != nullptr)
            requireHost(weight, "rmsNorm weight");
        m_cpu->rmsNorm(x, weight, y, nTokens, dim, eps);
    }
    void rope(float *x, int nTokens, int nHeads, int headStride, int offset, const std::int32_t *positions,
        const RopeParams &p) override
    {
        requireOwn(x, 1, "rope x");
        requireOwn(positions, std::size_t(nTokens) * sizeof(std::int32_t), "rope positions");
        m_cpu->rope(x, nTokens, nHeads, headStride, offset, positions, p);
    }
    void swiglu(const float *gate, const float *up, float *y, std::size_t n) override
    {
        requireOwn(gate, n * sizeof(float), "swiglu gate");
        requireOwn(up, n * sizeof(float), "swiglu up");
        m_cpu->swiglu(gate, up, y, n);
    }
    void attention(const AttentionArgs &a) override
    {
        requireOwn(a.q, 1, "attention q");
        requireOwn(a.out, 1, "attention out");
        requireOwn(a.queryPositions, std::size_t(a.nTokens) * sizeof(std::int32_t), "attention positions");
        requireView(a.kv);
        m_cpu->attention(a);
    }
    void storeKv(
        const KvLayerView &kv, const float *k, const float *v, int nTokens, const std::int32_t *positions) override
    {
        requireOwn(k, 1, "storeKv k");
        requireOwn(v, 1, "storeKv v");
        requireOwn(positions, std::size_t(nTokens) * sizeof(std::int32_t), "storeKv positions");
        requireView(kv);
        m_cpu->storeKv(kv, k, v, nTokens, positions);
    }
    void add(float *y, const float *x, std::size_t n) override
    {
        requireOwn(y, n * sizeof(float), "add y");
        requireOwn(x, n * sizeof(float), "add x");
        Backend::add(y, x, n);
    }

    void addRow(float *y, const float *row, int nTokens, int dim) override
    {
        requireOwn(y, std::size_t(nTokens) * std::size_t(dim) * sizeof(float), "addRow y");
        requireHost(row, "addRow row");
        m_cpu->addRow(y, row, nTokens, dim);
    }
    void zero(float *x, std::size_t n) override
    {
        requireOwn(x, n * sizeof(float), "zero x");
        m_cpu->zero(x, n);
    }
    void scale(float *x, float s, std::size_t n) override
    {
        requireOwn(x, n * sizeof(float), "scale x");
        m_cpu->scale(x, s, n);
    }
    void geglu(const float *gate, const float *up, float *y, std::size_t n) override
    {
        requireOwn(gate, n * sizeof(float), "geglu gate");
        requireOwn(up, n * sizeof(float), "geglu up");
        m_cpu->geglu(gate, up, y, n);
    }
    void swigluOai(const float *gate, const float *up, float *y, std::size_t n, float alpha, float limit) override
    {
        requireOwn(gate, n * sizeof(float), "swigluOai gate");
        requireOwn(up, n * sizeof(float), "swigluOai up");
        m_cpu->swigluOai(gate, up, y, n, alpha, limit);
    }
    void copyRows(
        float *dst, std::size_t dstStride, const float *src, std::size_t srcStride, int rows, int cols) override
    {
        requireOwn(dst, 1, "copyRows dst");
        requireOwn(src, 1, "copyRows src");
        m_cpu->copyRows(dst, dstStride, src, srcStride, rows, cols);
    }
    void gatherRows(const float *src, const std::int32_t *rows, int n, int dim, float *dst) override
    {
        requireOwn(src, 1, "gatherRows src");
        requireOwn(rows, std::size_t(n) * sizeof(std::int32_t), "gatherRows rows");
        requireOwn(dst, std::size_t(n) * std::size_t(dim) * sizeof(float), "gatherRows dst");
        m_cpu->gatherRows(src, rows, n, dim, dst);
    }
    void scatterAddRows(
        float *dst, const float *src, const std::int32_t *rows, const float *weights, int n, int dim) override
    {
        requireOwn(dst, 1, "scatterAddRows dst");
        requireOwn(src, std::size_t(n) * std::size_t(dim) * sizeof(float), "scatterAddRows src");
        requireOwn(rows, std::size_t(n) * sizeof(std::int32_t), "scatterAddRows rows");
        requireOwn(weights, std::size_t(n) * sizeof(float), "scatterAddRows weights");
        m_cpu->scatterAddRows(dst, src, rows, weights, n, dim);
    }
    void moeRoute(
        const MoeRouting &routing, const float *logits, int nTokens, std::int32_t *ids, float *weights) override
    {
        requireOwn(logits, std::size_t(nTokens) * std::size_t(routing.nExperts) * sizeof(float), "moeRoute logits");
        requireOwn(ids, std::size_t(nTokens) * std::size_t(routing.nUsed) * sizeof(std::int32_t), "moeRoute ids");
        requireOwn(weights, std::size_t(nTokens) * std::size_t(routing.nUsed) * sizeof(float), "moeRoute weights");
        if (routing.selectionBias != nullptr)
            requireHost(routing.selectionBias, "moeRoute selection bias");
        m_cpu->moeRoute(routing, logits, nTokens, ids, weights);
    }

    std::size_t allocations = 0;
    std::size_t uploadedBytes = 0;
    std::size_t downloadedBytes = 0;
    std::size_t preparedWeights = 0;

private:
    // Whether [p, p + bytes) lies inside one live buffer of ours.
    bool own(const void *p, std::size_t bytes) const
    {
        const auto at = reinterpret_cast<std::uintptr_t>(p);
        auto it = m_live.upper_bound(at);
        if (it == m_live.begin())
            return false;
        --it;
        return at >= it->first && at + bytes <= it->first + it->second;
    }
    void requireOwn(const void *p, std::size_t bytes, const char *what) const
    {
        if (p == nullptr || !own(p, bytes))
            fail("{}: not in the backend's memory", what);
    }
    void requireHost(const void *p, const char *what) const
    {
        if (p == nullptr || own(p, 1))
            fail("{}: expected host memory, got a backend buffer", what);
    }
    void requireView(const KvLayerView &kv) const
    {
        requireOwn(kv.blockTable, sizeof(std::int32_t), "KV block table");
        requireOwn(kv.kBlocks, 1, "KV K blocks");
        requireOwn(kv.vBlocks, 1, "KV V blocks");
    }

    std::unique_ptr<Backend> m_cpu;
    std::map<std::uintptr_t, std::size_t> m_live;
};

TinyLlamaSpec gqaSpec()
{
    TinyLlamaSpec spec;
    spec.nLayers = 2;
    spec.nEmbd = 128; // head dim 32: the quantized KV rows would fit, only the device refuses them
    spec.nHeads = 4;
    spec.nKvHeads = 2;
    spec.nFf = 96;
    spec.nVocab = 80;
    spec.weightType = TensorType::Q8_0;
    spec.seed = 7;
    return spec;
}

} // namespace

TEST_CASE("llama on a device-memory backend: every op gets backend buffers, logits equal the CPU's")
{
    const std::vector<std::byte> bytes = nw::test::makeTinyLlama(gqaSpec());
    std::shared_ptr<const GgufFile> file = GgufFile::fromMemory(bytes, "tiny.gguf");
    auto checking = std::make_shared<CheckingBackend>();
    auto onDevice = loadModel(file, { .threads = 1, .backend = checking });
    auto onCpu = loadModel(file, { .threads = 1 });
    CHECK(checking->preparedWeights == 2 + 7 * 2); // embedding, output, 7 matrices per layer

    const KvModeSpec full = KvModeSpec::parse("full");
    auto deviceCache = onDevice->makeKvCache(full, 200);
    auto cpuCache = onCpu->makeKvCache(full, 200);
    CHECK(deviceCache->onDevice());
    CHECK_FALSE(cpuCache->onDevice());

    // Prefill 70 tokens (two cache blocks), then three decode steps; all logits compared.
    std::vector<std::int32_t> tokens(70);
    for (std::size_t i = 0; i < tokens.size(); ++i)
        tokens[i] = static_cast<std::int32_t>((i * 37 + 5) % 80);
    std::vector<std::int32_t> positions(tokens.size());
    std::iota(positions.begin(), positions.end(), 0);
    std::vector<float> a, b;
    onDevice->forward(tokens, positions, *deviceCache, LogitsFor::All, a);
    onCpu->forward(tokens, positions, *cpuCache, LogitsFor::All, b);
    REQUIRE(a.size() == 70u * 80u);
    CHECK(a == b);
    for (std::int32_t step = 0; step < 3; ++step) {
        const std::int32_t token[1] = { step + 11 };
        const std::int32_t pos[1] = { 70 + step };
        onDevice->forward(token, pos, *deviceCache, LogitsFor::Last, a);
        onCpu->forward(token, pos, *cpuCache, LogitsFor::Last, b);
        REQUIRE(a.size() == 80u);
        CHECK(a == b);
    }
    // Only ids, positions and logits cross: nothing per layer.
    CHECK(checking->downloadedBytes == (70u * 80u + 3u * 80u) * sizeof(float));
    CHECK(deviceCache->tokens() == 73);
    CHECK(checking->memoryInfo().bufferBytes > 0);

    // Prefix reuse: truncating and recomputing the last token gives the same logits again.
    const std::int32_t again[1] = { 13 };
    const std::int32_t at[1] = { 72 };
    onDevice->forward(again, at, *deviceCache, LogitsFor::Last, a);
    CHECK(a == b);
}

TEST_CASE("a device-memory backend refuses the KV modes it cannot run")
{
    const std::vector<std::byte> bytes = nw::test::makeTinyLlama(gqaSpec());
    std::shared_ptr<const GgufFile> file = GgufFile::fromMemory(bytes, "tiny.gguf");
    auto model = loadModel(file, { .threads = 1, .backend = std::make_shared<CheckingBackend>() });
    CHECK_THROWS_AS(model->makeKvCache(KvModeSpec::parse("full+q8"), 64), nw::Error);
    CHECK_THROWS_AS(model->makeKvCache(KvModeSpec::parse("latent:16"), 64), nw::Error);
    try {
        model->makeKvCache(KvModeSpec::parse("full+q4"), 64);
    } catch (const nw::Error &e) {
        CHECK(e.remedy() == nw::Remedy::CpuDevice); // the front end words it: "use --device cpu", the CPU in the list
        CHECK(std::string(e.what()).find("--") == std::string::npos);
    }
}

TEST_CASE("loadModel: CUDA without a device is one clear error with the CPU remedy; cpu and auto load")
{
    const std::vector<std::byte> bytes = nw::test::makeTinyLlama(gqaSpec());
    std::shared_ptr<const GgufFile> file = GgufFile::fromMemory(bytes, "tiny.gguf");
    CHECK(
        loadModel(file, { .threads = 1, .device = DeviceChoice::Cpu })->backend().memoryKind() == BackendMemory::Host);
    const GpuInfo &gpu = gpuInfo();
    if (gpu.built && !gpu.devices.empty()) {
        MESSAGE("a CUDA device is present: the no-device error is not reachable here");
        return;
    }
    CHECK(
        loadModel(file, { .threads = 1, .device = DeviceChoice::Auto })->backend().memoryKind() == BackendMemory::Host);
    try {
        loadModel(file, { .threads = 1, .device = DeviceChoice::Cuda });
        FAIL("expected nw::Error");
    } catch (const nw::Error &e) {
        const std::string message = e.what();
        CHECK(message.find("no usable CUDA device") != std::string::npos);
        CHECK(message.find('\n') == std::string::npos);
        CHECK(message.find("--") == std::string::npos); // the engine names no CLI flag: the Remedy does
        CHECK(e.remedy() == nw::Remedy::CpuDevice);
    }
}
