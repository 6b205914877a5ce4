// The KV planner's figures: for a bundled architecture (published hyperparameters) or a model's
// own (its GGUF metadata), the bytes each KV mode the engine has would need for a context,
// beside the plain MHA-f16 baseline, and why reserved memory exceeds what the tokens use. The
// numbers come from the engine's KV layouts (engine/kv_cache.h); front ends only lay them out.
#pragma once

#include "engine/hparams.h"

#include <QString>
#include <QStringList>

#include <cstdint>
#include <optional>
#include <vector>

namespace nw::app {

using HParams = nw::HParams; // a model's shape, as its GGUF (or a config.json) gives it

struct KvPlanArchitecture {
    QString name; // "DeepSeek-V2-Lite"
    QString source; // where the numbers come from
};
const std::vector<KvPlanArchitecture> &kvPlanArchitectures();
// The bundled architecture's hyperparameters (name matched case-insensitively); nullopt if unknown.
std::optional<HParams> kvPlanArchitecture(const QString &name);
// A model file's shape from its metadata (no weights are read); throws nw::Error.
HParams kvPlanModel(const QString &ggufPath);

// Latent ranks worth showing for a shape: 1/16, 1/8 and 1/4 of its key width (KV heads × key
// dim), even, at least 2.
std::vector<std::int64_t> defaultLatentRanks(const HParams &hp);
// The modes worth comparing for the shape: full, mla (MLA models), latent:R for each rank — each
// plain, +q8, +q4 and (but mla) +tq3, TurboQuant's 3 bits — in that order.
QStringList kvPlanModes(const HParams &hp, const std::vector<std::int64_t> &latentRanks);

struct KvPlanRow {
    QString mode; // "full", "latent:64+q8", ...
    std::uint64_t bytesPerToken = 0; // usedBytes / ctx: all layers, window layers at their cap
    std::uint64_t usedBytes = 0; // what the layers hold for ctx tokens, each by its kind's rule
    std::uint64_t reservedBytes = 0; // what a cache of ctx tokens allocates when full
    double savingVsMha = 0;
    QString refused; // why the shape cannot use the mode; "" when it can (figures 0 then)
};

struct KvPlan {
    std::vector<KvPlanRow> rows; // one per mode asked for
    std::uint64_t mhaF16BytesPerToken = 0; // the baseline
    QString reservedNote; // why reserved > used for these modes (kvReservedNote)
};
// `modes` empty: the model's own modes (full, and mla for MLA models). Throws nw::Error when the
// shape or the context cannot be planned (a mode the shape cannot use is a refused row instead).
KvPlan kvPlan(const HParams &hp, std::int64_t contextTokens, const QStringList &modes = {});

// One or two sentences on reserved versus used: the cache allocates whole blocks of 64 tokens per
// layer, each rounded up to whole memory pages, so a mode with small rows (latent, q8, q4) leaves
// part of each page empty — with the worst of `modes` as the example. "" when no mode wastes
// more than a few percent.
QString kvReservedNote(const HParams &hp, const QStringList &modes);

} // namespace nw::app
