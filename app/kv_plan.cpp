// KV figures per mode from the engine's layouts, in the front ends' terms.
#include "app/kv_plan.h"

#include "app/ask_report.h"
#include "common/error.h"
#include "engine/arch_table.h"
#include "engine/gguf_file.h"
#include "engine/kv_cache.h"

#include <unistd.h>

#include <algorithm>

namespace nw::app {

const std::vector<KvPlanArchitecture> &kvPlanArchitectures()
{
    static const std::vector<KvPlanArchitecture> list = [] {
        std::vector<KvPlanArchitecture> out;
        for (const KnownArchitecture &a : knownArchitectures())
            out.push_back({ QString::fromStdString(a.name), QString::fromStdString(a.source) });
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

HParams kvPlanModel(const QString &ggufPath)
{
    const auto file = GgufFile::open(ggufPath.toStdString());
    return HParams::fromGguf(*file);
}

std::vector<std::int64_t> defaultLatentRanks(const HParams &hp)
{
    const std::int64_t width = hp.nKvHeads * hp.headDimK;
    std::vector<std::int64_t> ranks;
    for (std::int64_t part : { 16, 8, 4 }) {
        const std::int64_t r = std::max<std::int64_t>(2, width / part / 2 * 2);
        if (std::find(ranks.begin(), ranks.end(), r) == ranks.end())
            ranks.push_back(r);
    }
    return ranks;
}

QStringList kvPlanModes(const HParams &hp, const std::vector<std::int64_t> &latentRanks)
{
    QStringList bases { QStringLiteral("full") };
    if (hp.hasMla())
        bases << QStringLiteral("mla");
    for (std::int64_t r : latentRanks)
        bases << QStringLiteral("latent:%1").arg(r);
    QStringList modes;
    for (const QString &base : bases) {
        modes << base << base + QStringLiteral("+q8") << base + QStringLiteral("+q4");
        if (base != QLatin1String("mla")) // mla reads its values from the key row: no tq rows
            modes << base + QStringLiteral("+tq3");
    }
    return modes;
}

namespace {

struct ModeLayout {
    KvModeSpec spec;
    std::optional<KvLayout> layout; // nullopt: refused
    QString refused;
};

ModeLayout layoutOf(const HParams &hp, const QString &mode)
{
    ModeLayout m;
    try {
        m.spec = KvModeSpec::parse(mode.trimmed().toStdString());
        m.layout = KvLayout::forModel(hp, m.spec);
    } catch (const Error &e) {
        m.refused = QString::fromUtf8(e.what());
    }
    return m;
}

} // namespace

KvPlan kvPlan(const HParams &hp, std::int64_t contextTokens, const QStringList &modes)
{
    if (contextTokens <= 0)
        fail("the context size must be positive, got {}", contextTokens);
    KvPlan plan;
    const std::uint64_t layers = static_cast<std::uint64_t>(hp.nLayers);
    plan.mhaF16BytesPerToken = layers * mhaF16BytesPerTokenLayer(hp);
    QStringList asked = modes;
    if (asked.isEmpty())
        for (const KvModeFigures &f : kvModeFigures(hp, contextTokens))
            asked << QString::fromStdString(f.spec.toString());
    for (const QString &mode : asked) {
        KvPlanRow row;
        row.mode = mode.trimmed();
        // The engine's own per-layer plan (kvCachePlan): window layers, eviction, +protect and
        // the DeepSeek stores each counted by their kind's rule, as `needlework kv` and the meter.
        try {
            const KvModeFigures f = kvModeFiguresFor(hp, KvModeSpec::parse(row.mode.toStdString()), contextTokens);
            row.mode = QString::fromStdString(f.spec.toString());
            row.bytesPerToken = f.bytesPerToken;
            row.usedBytes = f.usedBytes;
            row.reservedBytes = f.reservedBytes;
            row.savingVsMha = f.savingVsMha;
        } catch (const Error &e) {
            row.refused = QString::fromUtf8(e.what());
        }
        plan.rows.push_back(row);
    }
    plan.reservedNote = kvReservedNote(hp, asked);
    return plan;
}

QString kvReservedNote(const HParams &hp, const QStringList &modes)
{
    const auto page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
    const std::uint64_t blockTokens = static_cast<std::uint64_t>(KvCache::kBlockTokens);
    QString worst;
    std::uint64_t worstRows = 0, worstTaken = 0;
    for (const QString &mode : modes) {
        const ModeLayout m = layoutOf(hp, mode);
        if (!m.layout)
            continue;
        const std::uint64_t rows = blockTokens * m.layout->bytesPerTokenLayer();
        const std::uint64_t taken = KvCache::reservedBytesFor(*m.layout, 1, KvCache::kBlockTokens);
        if (worst.isEmpty() || static_cast<double>(taken) / rows > static_cast<double>(worstTaken) / worstRows) {
            worst = QString::fromStdString(m.spec.toString());
            worstRows = rows;
            worstTaken = taken;
        }
    }
    if (worst.isEmpty() || static_cast<double>(worstTaken) < 1.05 * static_cast<double>(worstRows))
        return {};
    return QStringLiteral(
        "Reserved is what the cache allocates: whole blocks of %1 tokens per layer, each rounded up to "
        "whole %2 memory pages. Small rows leave part of each page empty: a %3 block holds %4 of rows "
        "per layer in %5.")
        .arg(blockTokens)
        .arg(formatBytes(page), worst, formatBytes(worstRows), formatBytes(worstTaken));
}

} // namespace nw::app
