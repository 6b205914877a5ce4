// The bundled architecture table; every number is from the model's published config.json (or, for
// Qwen3.6, the model card that lists them).
#include "engine/arch_table.h"

#include "common/error.h"
#include "engine/snapkv.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>

namespace nw {
namespace {

HParams dense(std::string arch, std::int64_t layers, std::int64_t embd, std::int64_t ff, std::int64_t heads,
    std::int64_t kvHeads, std::int64_t vocab, std::int64_t ctx, double ropeBase, double eps)
{
    HParams hp;
    hp.arch = std::move(arch);
    hp.nLayers = layers;
    hp.nEmbd = embd;
    hp.nFf = ff;
    hp.nHeads = heads;
    hp.nKvHeads = kvHeads;
    hp.headDimK = embd / heads;
    hp.headDimV = embd / heads;
    hp.nRot = hp.headDimK;
    hp.nVocab = vocab;
    hp.nCtxTrain = ctx;
    hp.ropeFreqBase = ropeBase;
    hp.rmsEps = eps;
    return hp;
}

// DeepSeek-V2 family: qk_nope_head_dim 128 + qk_rope_head_dim 64 = 192 key dims, v_head_dim 128.
HParams deepseek(std::int64_t layers, std::int64_t embd, std::int64_t ff, std::int64_t heads, std::int64_t qLora,
    std::int64_t vocab, std::int64_t experts, std::int64_t used, std::int64_t shared, std::int64_t leadingDense,
    std::int64_t ffExpert)
{
    HParams hp = dense("deepseek2", layers, embd, ff, heads, heads, vocab, 163840, 10000.0, 1e-6);
    hp.headDimK = 192;
    hp.headDimV = 128;
    hp.nRot = 64;
    hp.qLoraRank = qLora;
    hp.kvLoraRank = 512;
    hp.qkRopeHeadDim = 64;
    hp.qkNopeHeadDim = 128;
    hp.nExperts = experts;
    hp.nExpertsUsed = used;
    hp.nSharedExperts = shared;
    hp.nLeadingDense = leadingDense;
    hp.nFfExpert = ffExpert;
    hp.ropeScaling.type = RopeScalingType::Yarn;
    hp.ropeScaling.factor = 40.0;
    hp.ropeScaling.originalContext = 4096;
    return hp;
}

// A dense model whose head dim is not embd / heads (Qwen3, Gemma 3).
HParams withHeadDim(HParams hp, std::int64_t headDim)
{
    hp.headDimK = headDim;
    hp.headDimV = headDim;
    hp.nRot = headDim;
    return hp;
}

// Sliding-window layers: layer il attends within `window` tokens when il % period < period - 1
// (llama.cpp's set_swa_pattern; Gemma 3: period 6, gpt-oss: 2).
HParams withWindow(HParams hp, std::int64_t window, std::int64_t period, double ropeBaseSwa)
{
    hp.slidingWindow = window;
    hp.slidingLayers.resize(static_cast<std::size_t>(hp.nLayers));
    for (std::int64_t il = 0; il < hp.nLayers; ++il)
        hp.slidingLayers[static_cast<std::size_t>(il)] = il % period < period - 1;
    hp.ropeFreqBaseSwa = ropeBaseSwa;
    return hp;
}

HParams withExperts(HParams hp, std::int64_t experts, std::int64_t used, std::int64_t ffExpert)
{
    hp.nExperts = experts;
    hp.nExpertsUsed = used;
    hp.nFfExpert = ffExpert;
    return hp;
}

// DeepSeek V3.2: V3 with the lightning indexer (DeepSeek-V3.2-Exp config.json: index_n_heads 64,
// index_head_dim 128, index_topk 2048).
HParams deepseek32()
{
    HParams hp = deepseek(61, 7168, 18432, 128, 1536, 129280, 256, 8, 1, 3, 2048);
    hp.arch = "deepseek32";
    hp.indexerHeads = 64;
    hp.indexerHeadDim = 128;
    hp.indexerTopK = 2048;
    return hp;
}

// DeepSeek V4 (config.json; layer schedule as the model cards describe it): one latent row of
// 512 per token is K and V (64 dims rotated), a 128-token window in every layer, CSA (ratio 4,
// with the indexer: 64 heads of 128 dims) and HCA (ratio 128) alternating from layer 2 on, CSA
// on even layers; `first` is the ratio of layers 0 and 1. nFf is the expert width (every layer
// is MoE).
HParams deepseek4(std::int64_t layers, std::int64_t embd, std::int64_t heads, std::int64_t first, std::int64_t topK,
    std::int64_t experts, std::int64_t ffExpert)
{
    HParams hp = dense("deepseek4", layers, embd, ffExpert, heads, 1, 129280, 1048576, 10000.0, 1e-6);
    hp.headDimK = 512;
    hp.headDimV = 512;
    hp.nRot = 64;
    hp.slidingWindow = 128;
    hp.compressRatios.assign(std::size_t(layers), first);
    for (std::int64_t il = 2; il < layers; ++il)
        hp.compressRatios[std::size_t(il)] = il % 2 == 0 ? 4 : 128;
    hp.indexerHeads = 64;
    hp.indexerHeadDim = 128;
    hp.indexerTopK = topK;
    hp.nExperts = experts;
    hp.nExpertsUsed = 6;
    hp.nSharedExperts = 1;
    hp.nFfExpert = ffExpert;
    return hp;
}

// The Qwen3.5 / Qwen3.6 hybrid: three Gated DeltaNet layers then one gated attention layer,
// repeated (full_attention_interval 4); DeltaNet with `vHeads` value heads over `qkHeads` key
// heads of 128 dims and a 4-tap convolution; attention heads of 256 dims with 64 rotated.
HParams qwen35Hybrid(HParams hp, std::int64_t qkHeads, std::int64_t vHeads)
{
    hp.headDimK = 256;
    hp.headDimV = 256;
    hp.nRot = 64;
    hp.recurrentLayers.resize(static_cast<std::size_t>(hp.nLayers));
    for (std::int64_t il = 0; il < hp.nLayers; ++il)
        hp.recurrentLayers[static_cast<std::size_t>(il)] = (il + 1) % 4 != 0;
    hp.ssmConvKernel = 4;
    hp.ssmStateSize = 128;
    hp.ssmGroupCount = qkHeads;
    hp.ssmTimeStepRank = vHeads;
    hp.ssmInnerSize = vHeads * 128;
    return hp;
}

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(
        out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

} // namespace

const std::vector<KnownArchitecture> &knownArchitectures()
{
    static const std::vector<KnownArchitecture> table = {
        { "DeepSeek-V2", "deepseek-ai/DeepSeek-V2 config.json",
            deepseek(60, 5120, 12288, 128, 1536, 102400, 160, 6, 2, 1, 1536) },
        { "DeepSeek-V2-Lite", "deepseek-ai/DeepSeek-V2-Lite config.json",
            deepseek(27, 2048, 10944, 16, 0, 102400, 64, 6, 2, 1, 1408) },
        { "DeepSeek-V3", "deepseek-ai/DeepSeek-V3 config.json",
            deepseek(61, 7168, 18432, 128, 1536, 129280, 256, 8, 1, 3, 2048) },
        { "DeepSeek-V3.2", "deepseek-ai/DeepSeek-V3.2-Exp config.json", deepseek32() },
        { "DeepSeek-V4-Flash", "deepseek-ai/DeepSeek-V4-Flash config.json and model card (layers 0-1 window only)",
            deepseek4(43, 4096, 64, 0, 512, 256, 2048) },
        { "DeepSeek-V4-Pro", "deepseek-ai/DeepSeek-V4-Pro config.json and model card (layers 0-1 HCA)",
            deepseek4(61, 7168, 128, 128, 1024, 384, 3072) },
        { "Llama-3.1-8B", "meta-llama/Llama-3.1-8B config.json",
            dense("llama", 32, 4096, 14336, 32, 8, 128256, 131072, 500000.0, 1e-5) },
        { "Llama-3.1-70B", "meta-llama/Llama-3.1-70B config.json",
            dense("llama", 80, 8192, 28672, 64, 8, 128256, 131072, 500000.0, 1e-5) },
        { "Qwen2.5-7B", "Qwen/Qwen2.5-7B config.json",
            dense("qwen2", 28, 3584, 18944, 28, 4, 152064, 131072, 1000000.0, 1e-6) },
        { "Mistral-7B", "mistralai/Mistral-7B-v0.3 config.json",
            dense("llama", 32, 4096, 14336, 32, 8, 32768, 32768, 1000000.0, 1e-5) },
        { "Qwen3-8B", "Qwen/Qwen3-8B config.json",
            withHeadDim(dense("qwen3", 36, 4096, 12288, 32, 8, 151936, 40960, 1000000.0, 1e-6), 128) },
        { "Qwen3-30B-A3B", "Qwen/Qwen3-30B-A3B config.json",
            withExperts(withHeadDim(dense("qwen3moe", 48, 2048, 6144, 32, 4, 151936, 40960, 1000000.0, 1e-6), 128), 128,
                8, 768) },
        { "Phi-4-mini", "microsoft/Phi-4-mini-instruct config.json (partial_rotary_factor 0.75)",
            [] {
                HParams hp = dense("phi3", 32, 3072, 8192, 24, 8, 200064, 131072, 10000.0, 1e-5);
                hp.nRot = 96;
                return hp;
            }() },
        { "Gemma-3-4B", "google/gemma-3-4b-it config.json (text_config: sliding_window 1024, pattern 6)",
            withWindow(withHeadDim(dense("gemma3", 34, 2560, 10240, 8, 4, 262208, 131072, 1000000.0, 1e-6), 256), 1024,
                6, 10000.0) },
        { "Qwen3.6-27B",
            "Qwen/Qwen3.6-27B model card (64 layers = 16 × (3 DeltaNet + 1 attention), DeltaNet 48 V / 16 QK heads "
            "of 128, attention 24 Q / 4 KV heads of 256, RoPE dim 64) and config.json (rope_theta 1e7, conv kernel 4)",
            qwen35Hybrid(dense("qwen35", 64, 5120, 17408, 24, 4, 248320, 262144, 10000000.0, 1e-6), 16, 48) },
        { "Qwen3.6-35B-A3B",
            "Qwen/Qwen3.6-35B-A3B model card (40 layers = 10 × (3 DeltaNet + 1 attention), DeltaNet 32 V / 16 QK "
            "heads of 128, attention 16 Q / 2 KV heads of 256, 256 experts of 512, 8 routed + 1 shared)",
            [] {
                HParams hp = withExperts(
                    qwen35Hybrid(dense("qwen35moe", 40, 2048, 512, 16, 2, 248320, 262144, 10000000.0, 1e-6), 16, 32),
                    256, 8, 512);
                hp.nFfShared = 512;
                return hp;
            }() },
    };
    return table;
}

const KnownArchitecture *findKnownArchitecture(std::string_view name)
{
    const std::string wanted = lower(name);
    for (const KnownArchitecture &a : knownArchitectures())
        if (lower(a.name) == wanted)
            return &a;
    return nullptr;
}

const KnownArchitecture &requireKnownArchitecture(std::string_view name)
{
    if (const KnownArchitecture *a = findKnownArchitecture(name))
        return *a;
    std::vector<std::string_view> names;
    for (const KnownArchitecture &a : knownArchitectures())
        names.push_back(a.name);
    fail("unknown architecture '{}' (known: {})", name, fmt::join(names, ", "));
}

KvModeFigures kvModeFiguresFor(const HParams &hp, const KvModeSpec &spec, std::int64_t ctx)
{
    if (ctx <= 0)
        fail("the context size must be positive, got {}", ctx);
    const std::vector<KvLayerPlan> plan = kvCachePlan(hp, spec);
    // `+snapkv:B` (every layer keeps every token, kvCachePlan checks): the cache right after a
    // prompt of ctx tokens is compressed holds min(ctx, B + 32) rows per layer; an answer adds rows.
    const std::int64_t rows = spec.snapkv > 0 ? snapKvRows(ctx, spec.snapkv) : ctx;
    KvModeFigures f;
    f.spec = spec;
    for (const KvLayerPlan &layer : plan) {
        const std::string kind(layer.name()); // DeepSeek V3.2 / V4: "indexer", "csa", "hca", "state" apart
        auto it = std::find_if(f.kinds.begin(), f.kinds.end(), [&](const KindKvBytes &k) { return k.kind == kind; });
        if (it == f.kinds.end())
            it = f.kinds.insert(f.kinds.end(), KindKvBytes { kind });
        ++it->layers;
        it->used += layer.bytesFor(rows);
        it->reserved += KvCache::reservedBytesFor(std::vector<KvLayerPlan> { layer }, rows);
        f.usedBytes += layer.bytesFor(rows);
    }
    f.bytesPerToken = f.usedBytes / static_cast<std::uint64_t>(ctx);
    f.reservedBytes = KvCache::reservedBytesFor(plan, rows);
    f.mhaF16BytesPerToken = static_cast<std::uint64_t>(hp.nLayers) * mhaF16BytesPerTokenLayer(hp);
    f.savingVsMha
        = static_cast<double>(f.mhaF16BytesPerToken) * static_cast<double>(ctx) / static_cast<double>(f.usedBytes);
    return f;
}

std::vector<KvModeFigures> kvModeFigures(const HParams &hp, std::int64_t ctx)
{
    // DeepSeek V3.2 and V4 keep only their latent stores (and the indexer's keys, the compressed
    // entries): mla is their one mode.
    if (hp.indexerHeadDim > 0 || !hp.compressRatios.empty())
        return { kvModeFiguresFor(hp, KvModeSpec::parse("mla"), ctx) };
    std::vector<KvModeFigures> out = { kvModeFiguresFor(hp, KvModeSpec::parse("full"), ctx) };
    if (hp.hasMla())
        out.push_back(kvModeFiguresFor(hp, KvModeSpec::parse("mla"), ctx));
    return out;
}

} // namespace nw
