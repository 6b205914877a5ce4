// KV figures per mode from the engine's arch table, in the front ends' terms.
#include "app/kv_plan.h"

#include "engine/arch_table.h"

namespace nw::app {

const std::vector<KvPlanArchitecture> &kvPlanArchitectures()
{
    static const std::vector<KvPlanArchitecture> list = [] {
        std::vector<KvPlanArchitecture> out;
        for (const KnownArchitecture &a : knownArchitectures())
            out.push_back({QString::fromStdString(a.name), QString::fromStdString(a.source)});
        return out;
    }();
    return list;
}

std::optional<HParams> kvPlanArchitecture(const QString &name)
{
    if (const KnownArchitecture *a = findKnownArchitecture(name.toStdString()))
        return a->hp;
    return std::nullopt;
}

KvPlan kvPlan(const HParams &hp, std::int64_t contextTokens)
{
    KvPlan plan;
    for (const KvModeFigures &f : kvModeFigures(hp, contextTokens)) {
        plan.rows.push_back({QString::fromStdString(f.spec.toString()), f.bytesPerToken, f.usedBytes, f.reservedBytes,
                             f.savingVsMha});
        plan.mhaF16BytesPerToken = f.mhaF16BytesPerToken;
    }
    return plan;
}

} // namespace nw::app
