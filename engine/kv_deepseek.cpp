// The cache stores of DeepSeek V3.2 and V4 layers (engine/kv_cache.h): what each layer keeps,
// by the rule llama.cpp's llama_kv_cache_dsa / llama_kv_cache_dsv4 follow.
//   V3.2 (DeepSeek-V3.2-Exp §2): the MLA row of every token, and the lightning indexer's key of
//     every token (attention.indexer.key_length elements).
//   V4: every layer its sliding window of latent rows (K = V, one shared row of key_length);
//     a CSA layer (ratio 4) one entry per 4 tokens, pooled with an overlap over the previous
//     block, and the indexer's key of each entry; an HCA layer (ratio 128) one entry per 128
//     tokens; each compressor the f32 rows [kv | score] of the tokens whose block is not yet
//     complete (and, with the overlap, of the previous block): a ring of fixed size.
#include "engine/kv_cache.h"

#include "common/error.h"
#include "engine/hparams.h"

#include <fmt/format.h>

namespace nw {

KvLayout sharedRowLayout(const KvModeSpec &spec, std::int64_t width, std::int64_t valueDim)
{
    if (spec.rowType != TensorType::F16 && spec.rowType != TensorType::F32)
        fail("KV rows must be F16 or F32, not {}", tensorTypeName(spec.rowType));
    KvLayout layout;
    layout.spec = spec;
    // One row for K and V, so one precision; these rows stay unrotated (the sparse attention
    // and the indexer read them as stored).
    if (spec.kQuant != spec.vQuant)
        fail("KV mode '{}': these rows hold keys and values in one, so keys and values share one precision",
            spec.toString());
    if (spec.protect > 0)
        fail("KV mode '{}': protect:N is not available for DeepSeek V3.2 / V4 caches yet", spec.toString());
    if (kvTurboBits(spec.kQuant) > 0)
        fail("KV mode '{}': tq rows are not available for DeepSeek V3.2 / V4 caches (use +q8 or +q4)", spec.toString());
    layout.kType = spec.kQuant == KvQuant::Q8 ? TensorType::Q8_0
        : spec.kQuant == KvQuant::Q4          ? TensorType::Q4_0
                                              : spec.rowType;
    layout.vType = layout.kType;
    layout.nKvHeads = 1;
    layout.kHeadDim = width;
    layout.vHeadDim = 0;
    layout.mlaValueDim = valueDim;
    if (spec.kQuant != KvQuant::None && (width % std::int64_t(kQk) != 0 || valueDim % std::int64_t(kQk) != 0))
        fail("KV mode '{}' quantizes rows in groups of {}: rows of {} elements are not multiples of it (use {} without "
             "+q8/+q4)",
            spec.toString(), kQk, width, kvModeName(spec.mode));
    return layout;
}

namespace {

// A compressor's pending rows, always f32: [kv | score], each coff · width.
KvLayout poolLayout(const KvModeSpec &spec, std::int64_t width, bool overlap)
{
    KvModeSpec f32 = spec;
    f32.kQuant = f32.vQuant = KvQuant::None;
    f32.protect = 0;
    f32.rowType = TensorType::F32;
    return sharedRowLayout(f32, 2 * (overlap ? 2 : 1) * width, 0);
}

KvLayerPlan store(std::int64_t layer, KvPart part, KvLayout layout, KvLayerKind kind, std::string label)
{
    KvLayerPlan p;
    p.layout = std::move(layout);
    p.kind = kind;
    p.layer = layer;
    p.part = part;
    p.label = std::move(label);
    return p;
}

std::vector<KvLayerPlan> deepseek32Plan(const HParams &hp, const KvModeSpec &spec)
{
    if (spec.mode != KvMode::Mla)
        fail("KV mode '{}': {} keeps the MLA latent of every token and the indexer's keys (use mla)", spec.toString(),
            hp.arch);
    const KvLayout rows = KvLayout::forModel(hp, spec);
    const KvLayout keys = sharedRowLayout(spec, hp.indexerHeadDim, 0);
    std::vector<KvLayerPlan> plan;
    for (std::int64_t il = 0; il < hp.nLayers; ++il) {
        plan.push_back(store(il, KvPart::Attention, rows, KvLayerKind::Full, ""));
        plan.push_back(store(il, KvPart::IndexerKeys, keys, KvLayerKind::Full, "indexer"));
    }
    return plan;
}

std::vector<KvLayerPlan> deepseek4Plan(const HParams &hp, const KvModeSpec &spec)
{
    if (spec.mode != KvMode::Mla)
        fail("KV mode '{}': {} keeps one latent row per token (K and V) and its compressed entries (use mla)",
            spec.toString(), hp.arch);
    if (std::int64_t(hp.compressRatios.size()) != hp.nLayers)
        fail("{}: {} compression ratios for {} layers", hp.arch, hp.compressRatios.size(), hp.nLayers);
    if (hp.slidingWindow <= 0)
        fail("{}: the sliding window must be positive, got {}", hp.arch, hp.slidingWindow);
    const std::int64_t d = hp.headDimK;
    const KvLayout latent = sharedRowLayout(spec, d, d);
    std::vector<KvLayerPlan> plan;
    for (std::int64_t il = 0; il < hp.nLayers; ++il) {
        KvLayerPlan window = store(il, KvPart::Attention, latent, KvLayerKind::Window, "");
        window.window = hp.slidingWindow;
        plan.push_back(window);
        const std::int64_t ratio = hp.compressRatios[std::size_t(il)];
        if (ratio == 0)
            continue;
        const bool csa = ratio == 4; // overlapped pooling and the indexer (llama.cpp's DSV4_CSA_RATIO)
        KvLayerPlan entries = store(il, KvPart::Entries, latent, KvLayerKind::Compressed, csa ? "csa" : "hca");
        entries.ratio = ratio;
        plan.push_back(entries);
        KvLayerPlan pending = store(il, KvPart::AttentionPool, poolLayout(spec, d, csa), KvLayerKind::Ring, "state");
        pending.ratio = ratio;
        pending.ringRows = (csa ? 2 : 1) * ratio;
        plan.push_back(pending);
        if (!csa)
            continue;
        KvLayerPlan keys = store(
            il, KvPart::IndexerKeys, sharedRowLayout(spec, hp.indexerHeadDim, 0), KvLayerKind::Compressed, "indexer");
        keys.ratio = ratio;
        plan.push_back(keys);
        KvLayerPlan keysPending
            = store(il, KvPart::IndexerPool, poolLayout(spec, hp.indexerHeadDim, true), KvLayerKind::Ring, "state");
        keysPending.ratio = ratio;
        keysPending.ringRows = 2 * ratio;
        plan.push_back(keysPending);
    }
    return plan;
}

} // namespace

std::vector<KvLayerPlan> deepseekKvPlan(const HParams &hp, const KvModeSpec &spec)
{
    if (hp.indexerHeadDim <= 0 && hp.compressRatios.empty())
        fail("{}: no lightning indexer and no compression ratios: not a DeepSeek V3.2 / V4 model", hp.arch);
    return hp.compressRatios.empty() ? deepseek32Plan(hp, spec) : deepseek4Plan(hp, spec);
}

} // namespace nw
