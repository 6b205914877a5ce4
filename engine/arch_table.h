// Well-known model architectures with their published hyperparameters (the models' config.json),
// so `needlework kv --arch NAME` can size KV caches without the weights, and the KV figures
// (bytes per token, totals, saving vs plain MHA f16) every mode of a model would need.
#pragma once

#include "engine/hparams.h"
#include "engine/kv_cache.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nw {

struct KnownArchitecture {
    std::string name; // "DeepSeek-V2-Lite", matched case-insensitively
    std::string source; // where the numbers come from
    HParams hp;
};

const std::vector<KnownArchitecture> &knownArchitectures();
const KnownArchitecture *findKnownArchitecture(std::string_view name);
// Throws nw::Error listing the known names.
const KnownArchitecture &requireKnownArchitecture(std::string_view name);

struct KvModeFigures {
    KvModeSpec spec;
    std::uint64_t bytesPerToken = 0; // usedBytes / ctx: all layers, window layers at their cap
    std::uint64_t usedBytes = 0; // what the layers hold for ctx tokens, each by its kind's rule
    std::uint64_t reservedBytes = 0; // what a KvCache of ctx tokens allocates when full
    std::uint64_t mhaF16BytesPerToken = 0;
    double savingVsMha = 0.0; // mhaF16 bytes for ctx tokens / usedBytes
    std::vector<KindKvBytes> kinds; // usedBytes and reservedBytes by store kind (KvLayerPlan::name)
};

// The figures of one mode for ctx tokens; throws nw::Error when the mode does not apply.
KvModeFigures kvModeFiguresFor(const HParams &hp, const KvModeSpec &spec, std::int64_t ctx);

// Figures of every mode the hyperparameters allow today: full (f16), and mla when the model
// has multi-head latent attention; DeepSeek V3.2 / V4 mla alone.
std::vector<KvModeFigures> kvModeFigures(const HParams &hp, std::int64_t ctx);

} // namespace nw
