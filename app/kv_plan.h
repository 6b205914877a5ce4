// The KV planner's figures: for a bundled architecture (published hyperparameters) or a model's
// own, the bytes each KV mode needs for a context, beside the plain MHA-f16 baseline. The numbers
// come from the engine's arch table (kvModeFigures); front ends only lay them out.
#pragma once

#include "engine/hparams.h"

#include <QString>

#include <cstdint>
#include <optional>
#include <vector>

namespace nw::app {

using HParams = nw::HParams; // a model's shape, as its GGUF (or a config.json) gives it

struct KvPlanArchitecture {
    QString name;   // "DeepSeek-V2-Lite"
    QString source; // where the numbers come from
};
const std::vector<KvPlanArchitecture> &kvPlanArchitectures();
// The bundled architecture's hyperparameters (name matched case-insensitively); nullopt if unknown.
std::optional<HParams> kvPlanArchitecture(const QString &name);

struct KvPlanRow {
    QString mode;                    // "full", "mla", ...
    std::uint64_t bytesPerToken = 0; // all layers
    std::uint64_t usedBytes = 0;     // ctx tokens × bytesPerToken
    std::uint64_t reservedBytes = 0; // what a cache of ctx tokens allocates when full
    double savingVsMha = 0;
};

struct KvPlan {
    std::vector<KvPlanRow> rows;           // one per mode the shape allows
    std::uint64_t mhaF16BytesPerToken = 0; // the baseline
};
// Throws nw::Error when the shape or the context cannot be planned.
KvPlan kvPlan(const HParams &hp, std::int64_t contextTokens);

} // namespace nw::app
