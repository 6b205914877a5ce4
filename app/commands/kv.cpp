// `needlework kv`: how many bytes the KV cache needs per token and for a whole context, in each
// mode a model can use, against the plain multi-head f16 baseline — from a GGUF file's metadata
// or the bundled table of well-known architectures, without loading any weights. `needlework kv
// snapshots` lists, removes and caps the KV snapshots whole-documents questions keep on disk.
#include "app/ask_report.h"
#include "app/commands/commands.h"
#include "app/commands/device_option.h"
#include "app/kv_plan.h"
#include "app/kv_snapshot_settings.h"

#include "common/error.h"
#include "engine/arch_table.h"
#include "engine/gguf_file.h"
#include "engine/hparams.h"
#include "engine/kv_cache.h"
#include "engine/kv_snapshot_directory.h"
#include "kernels/device_info.h"

#include <nlohmann/json.hpp>

#include <QDateTime>
#include <QRegularExpression>
#include <QStringList>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

namespace nw::app {
namespace {

// The figures of the modes the user listed (--kv full+q8,latent:64,...), from the layouts alone.
std::vector<KvModeFigures> listedModeFigures(const HParams &hp, std::int64_t ctx, const QString &list)
{
    std::vector<KvModeFigures> out;
    for (const QString &text : list.split(QLatin1Char(','), Qt::SkipEmptyParts))
        out.push_back(kvModeFiguresFor(hp, KvModeSpec::parse(text.trimmed().toStdString()), ctx));
    if (out.empty())
        fail("--kv lists no mode: give e.g. full,full+q8,latent:64+q4");
    return out;
}

// Row type as the table shows it: f16 rows, or the quantized block format; keys/values when
// they differ.
std::string rowTypeName(const KvModeSpec &spec)
{
    const auto name = [](KvQuant quant) {
        switch (quant) {
        case KvQuant::Q8:
            return "q8_0";
        case KvQuant::Q4:
            return "q4_0";
        case KvQuant::Tq2:
            return "tq2";
        case KvQuant::Tq3:
            return "tq3";
        case KvQuant::Tq4:
            return "tq4";
        case KvQuant::None:
            break;
        }
        return "f16";
    };
    std::string s = name(spec.kQuant);
    if (spec.vQuant != spec.kQuant)
        s.append("/").append(name(spec.vQuant));
    return s;
}

// "8G", "512M", "1.5GiB", "0" → bytes (powers of 1024); nullopt for anything else.
std::optional<std::uint64_t> byteSize(const QString &text)
{
    static const QRegularExpression form(
        QStringLiteral("^\\s*(\\d+(?:\\.\\d+)?)\\s*([kmgt]?)(?:i?b)?\\s*$"), QRegularExpression::CaseInsensitiveOption);
    const QRegularExpressionMatch m = form.match(text);
    if (!m.hasMatch())
        return std::nullopt;
    const int power = static_cast<int>(QStringLiteral("kmgt").indexOf(m.captured(2).toLower())) + 1;
    const double bytes = m.captured(1).toDouble() * std::pow(1024.0, power);
    if (!(bytes < 1e18)) // also keeps the conversion below defined
        return std::nullopt;
    return static_cast<std::uint64_t>(bytes);
}

QString lastUsedText(std::filesystem::file_time_type time)
{
    const auto system = std::chrono::time_point_cast<std::chrono::milliseconds>(
        time - std::filesystem::file_time_type::clock::now() + std::chrono::system_clock::now());
    return QDateTime::fromMSecsSinceEpoch(system.time_since_epoch().count()).toUTC().toString(Qt::ISODate);
}

// `needlework kv snapshots [--remove NAME|all] [--max-size SIZE] [--json]`
int runSnapshots(const QCommandLineParser &parser, CommandIo &io)
{
    std::optional<std::uint64_t> newCap;
    if (parser.isSet(QStringLiteral("max-size"))) {
        newCap = byteSize(parser.value(QStringLiteral("max-size")));
        if (!newCap) {
            io.err << "needlework kv: --max-size needs a size such as 8G, 512M or 0, not '"
                   << parser.value(QStringLiteral("max-size")) << "' (see 'needlework kv --help')\n";
            return ExitUsage;
        }
    }
    const KvSnapshotDirectory dir(kvSnapshotDirectory().toStdString());
    QStringList removed;
    if (parser.isSet(QStringLiteral("remove"))) {
        for (const QString &name : parser.values(QStringLiteral("remove"))) {
            if (name == QLatin1String("all")) {
                for (const KvSnapshotEntry &e : dir.list())
                    if (dir.remove(e.path.filename().string()))
                        removed << QString::fromStdString(e.path.filename().string());
            } else if (dir.remove(name.toStdString())) {
                removed << name;
            } else {
                io.err << "needlework kv: no KV snapshot named '" << name << "' in "
                       << QString::fromStdString(dir.dir().string()) << " ('needlework kv snapshots' lists them)\n";
                return ExitFailed;
            }
        }
    }
    if (newCap) {
        setKvSnapshotMaxBytes(*newCap);
        for (const KvSnapshotEntry &e : dir.evict(*newCap))
            removed << QString::fromStdString(e.path.filename().string());
    }
    const std::vector<KvSnapshotEntry> entries = dir.list();
    std::uint64_t total = 0;
    for (const KvSnapshotEntry &e : entries)
        total += e.bytes;
    const std::uint64_t cap = kvSnapshotMaxBytes();
    if (parser.isSet(QStringLiteral("json"))) {
        nlohmann::json list = nlohmann::json::array();
        for (const KvSnapshotEntry &e : entries) {
            nlohmann::json j = { { "name", e.path.filename().string() }, { "path", e.path.string() },
                { "bytes", e.bytes }, { "last_used", lastUsedText(e.lastUsed).toStdString() } };
            if (e.problem == KvSnapshotProblem::None) {
                j["model_hash"] = fmt::format("{:016x}", e.modelHash);
                j["kv_mode"] = e.kvMode;
                j["tokens"] = e.tokens;
                j["prefill_seconds"] = e.prefillSeconds;
            } else {
                j["problem"] = std::string(kvSnapshotProblemName(e.problem));
            }
            list.push_back(std::move(j));
        }
        nlohmann::json removedJson = nlohmann::json::array();
        for (const QString &name : removed)
            removedJson.push_back(name.toStdString());
        const nlohmann::json report = { { "directory", dir.dir().string() }, { "snapshots", list },
            { "total_bytes", total }, { "max_bytes", cap }, { "removed", removedJson } };
        io.out << QString::fromStdString(report.dump(2)) << '\n';
        return ExitOk;
    }
    for (const QString &name : removed)
        io.out << "removed " << name << '\n';
    io.out << QStringLiteral("%1: %2 %3, %4 of %5%6\n")
                  .arg(QString::fromStdString(dir.dir().string()))
                  .arg(entries.size())
                  .arg(entries.size() == 1 ? QStringLiteral("snapshot") : QStringLiteral("snapshots"))
                  .arg(formatBytes(total), cap == 0 ? QStringLiteral("0") : formatBytes(cap))
                  .arg(cap == 0 ? QStringLiteral(" (snapshots are off)") : QString());
    for (const KvSnapshotEntry &e : entries) {
        const QString what = e.problem == KvSnapshotProblem::None
            ? QStringLiteral("%1 tokens, %2%3")
                  .arg(e.tokens)
                  .arg(QString::fromStdString(e.kvMode))
                  .arg(e.prefillSeconds > 0 ? QStringLiteral(", saves a %1 s prefill").arg(e.prefillSeconds, 0, 'f', 1)
                                            : QString())
            : QStringLiteral("unreadable (%1)").arg(QString::fromUtf8(kvSnapshotProblemName(e.problem).data()));
        io.out << QStringLiteral("  %1  %2  last used %3  %4\n")
                      .arg(QString::fromStdString(e.path.filename().string()))
                      .arg(formatBytes(e.bytes), 10)
                      .arg(lastUsedText(e.lastUsed), what);
    }
    return ExitOk;
}

int runKv(const QCommandLineParser &parser, CommandIo &io)
{
    auto usage = [&io](const QString &message) {
        io.err << "needlework kv: " << message << " (see 'needlework kv --help')\n";
        return static_cast<int>(ExitUsage);
    };
    const QStringList args = parser.positionalArguments();
    if (args == QStringList { QStringLiteral("snapshots") })
        return runSnapshots(parser, io);
    if (!args.isEmpty())
        return usage(QStringLiteral("unknown argument '%1': the one subcommand is 'snapshots'").arg(args.front()));
    if (parser.isSet(QStringLiteral("remove")) || parser.isSet(QStringLiteral("max-size")))
        return usage(QStringLiteral("--remove and --max-size go with 'needlework kv snapshots'"));
    const bool hasModel = parser.isSet(QStringLiteral("model"));
    const bool hasArch = parser.isSet(QStringLiteral("arch"));
    if (hasModel == hasArch) {
        QStringList names;
        for (const KnownArchitecture &a : knownArchitectures())
            names << QString::fromStdString(a.name);
        return usage(QStringLiteral("give exactly one of --model M.gguf and --arch NAME (known: %1)")
                         .arg(names.join(QStringLiteral(", "))));
    }
    const std::optional<std::int64_t> ctxOption = integerValue(parser, QStringLiteral("ctx"));
    if (!ctxOption)
        return usage(QStringLiteral("--ctx N (a number of tokens: 4096, 32k, 1M) is required"));
    const std::int64_t ctx = *ctxOption;

    QString badDevice;
    const std::optional<DeviceChoice> device = deviceOption(parser, badDevice);
    if (!device)
        return usage(badDevice);
    // The GPU the cache would live on (a device cache is allocated whole: the "allocated" figure).
    const BackendDecision decision = decideBackend(*device, gpuInfo());
    if (!decision.error.empty())
        fail(Remedy::CpuDevice, "{}", decision.error);
    const GpuDevice *gpu = decision.useCuda ? &gpuInfo().devices.front() : nullptr;

    HParams hp;
    std::string name;
    if (hasArch) {
        const KnownArchitecture &a = requireKnownArchitecture(parser.value(QStringLiteral("arch")).toStdString());
        hp = a.hp;
        name = a.name;
    } else {
        const std::string path = parser.value(QStringLiteral("model")).toStdString();
        const auto file = GgufFile::open(path);
        hp = HParams::fromGguf(*file);
        name = file->findString("general.name").value_or(path);
    }
    const std::vector<KvModeFigures> figures = parser.isSet(QStringLiteral("kv"))
        ? listedModeFigures(hp, ctx, parser.value(QStringLiteral("kv")))
        : kvModeFigures(hp, ctx);
    const std::uint64_t mhaPerToken = figures.front().mhaF16BytesPerToken;

    if (parser.isSet(QStringLiteral("json"))) {
        nlohmann::json modes = nlohmann::json::array();
        for (const KvModeFigures &f : figures) {
            nlohmann::json kinds = nlohmann::json::array();
            for (const KindKvBytes &k : f.kinds)
                kinds.push_back({ { "kind", k.kind }, { "layers", k.layers }, { "bytes_used", k.used },
                    { "bytes_reserved", k.reserved } });
            modes.push_back({ { "mode", f.spec.toString() }, { "row_type", rowTypeName(f.spec) },
                { "kv_bytes_per_token", f.bytesPerToken }, { "bytes_used", f.usedBytes },
                { "bytes_reserved", f.reservedBytes }, { "saving_vs_mha_f16", f.savingVsMha },
                { "layer_kinds", kinds } });
        }
        nlohmann::json report = {
            { "name", name },
            { "arch", hp.arch },
            { "ctx", ctx },
            { "layers", hp.nLayers },
            { "heads", hp.nHeads },
            { "kv_heads", hp.nKvHeads },
            { "head_dim_k", hp.headDimK },
            { "head_dim_v", hp.headDimV },
            { "kv_lora_rank", hp.kvLoraRank },
            { "qk_rope_head_dim", hp.qkRopeHeadDim },
            { "sliding_window", hp.slidingWindow },
            { "mha_f16_kv_bytes_per_token", mhaPerToken },
            { "mha_f16_bytes", mhaPerToken * static_cast<std::uint64_t>(ctx) },
            { "modes", modes },
        };
        QStringList modeNames;
        for (const KvModeFigures &f : figures)
            modeNames << QString::fromStdString(f.spec.toString());
        if (const QString note = kvReservedNote(hp, modeNames); !note.isEmpty())
            report["reserved_note"] = note.toStdString();
        if (gpu) {
            report["device"]
                = { { "name", gpu->name }, { "free_bytes", gpu->freeBytes }, { "total_bytes", gpu->totalBytes } };
            for (std::size_t i = 0; i < figures.size(); ++i)
                report["modes"][i]["fits_device_free"] = figures[i].reservedBytes <= gpu->freeBytes;
        }
        io.out << QString::fromStdString(report.dump(2)) << '\n';
        return ExitOk;
    }
    io.out << QStringLiteral("%1 (%2): %3 layers, %4 heads (%5 KV), key/value dims %6/%7")
                  .arg(QString::fromStdString(name), QString::fromStdString(hp.arch))
                  .arg(hp.nLayers)
                  .arg(hp.nHeads)
                  .arg(hp.nKvHeads)
                  .arg(hp.headDimK)
                  .arg(hp.headDimV);
    if (hp.hasMla())
        io.out << QStringLiteral(", MLA latent %1 + rope %2").arg(hp.kvLoraRank).arg(hp.qkRopeHeadDim);
    if (hp.slidingWindow > 0)
        io.out << QStringLiteral(", %1 of the layers attend to a window of %2 tokens")
                      .arg(std::count(hp.slidingLayers.begin(), hp.slidingLayers.end(), true))
                      .arg(hp.slidingWindow);
    io.out << QStringLiteral("\ncontext %1 tokens\n\n").arg(ctx);
    const auto label
        = [](const KvModeFigures &f) { return QString::fromStdString(f.spec.toString() + " " + rowTypeName(f.spec)); };
    int width = 20; // the mode column: the longest label and two spaces
    for (const KvModeFigures &f : figures)
        width = std::max(width, int(label(f).size()) + 2);
    io.out << QStringLiteral("%1%2%3%4%5\n")
                  .arg(QStringLiteral("mode"), -width)
                  .arg(QStringLiteral("per token"), 14)
                  .arg(QStringLiteral("total"), 14)
                  .arg(QStringLiteral("allocated"), 14)
                  .arg(QStringLiteral("vs MHA f16"), 12);
    auto row = [&io, width](const QString &mode, std::uint64_t perToken, std::uint64_t total, const QString &allocated,
                   const QString &saving) {
        io.out << QStringLiteral("%1%2%3%4%5\n")
                      .arg(mode, -width)
                      .arg(formatBytes(perToken), 14)
                      .arg(formatBytes(total), 14)
                      .arg(allocated, 14)
                      .arg(saving, 12);
    };
    row(QStringLiteral("MHA f16"), mhaPerToken, mhaPerToken * static_cast<std::uint64_t>(ctx), QStringLiteral("-"),
        QStringLiteral("1.00×"));
    QStringList modeNames;
    for (const KvModeFigures &f : figures) {
        row(label(f), f.bytesPerToken, f.usedBytes, formatBytes(f.reservedBytes), formatSaving(f.savingVsMha));
        modeNames << QString::fromStdString(f.spec.toString());
        // Layers of different kinds grow differently (a window layer stops at its window).
        if (f.kinds.size() > 1)
            for (const KindKvBytes &k : f.kinds)
                io.out << QStringLiteral("  %1 layers (%2)%3%4\n")
                              .arg(QString::fromStdString(k.kind), -8)
                              .arg(k.layers, 3)
                              .arg(formatBytes(k.used), width + 5) // under "total"
                              .arg(formatBytes(k.reserved), 14);
    }
    // "total" is what the tokens use; "allocated" what the paged cache takes for them.
    if (const QString note = kvReservedNote(hp, modeNames); !note.isEmpty())
        io.out << '\n' << note << '\n';
    if (gpu) {
        QStringList fitting;
        for (const KvModeFigures &f : figures)
            if (f.reservedBytes <= gpu->freeBytes)
                fitting << QString::fromStdString(f.spec.toString());
        io.out << QStringLiteral("\n%1: %2 free of %3; fits in free memory: %4\n")
                      .arg(QString::fromStdString(gpu->name), formatBytes(gpu->freeBytes), formatBytes(gpu->totalBytes),
                          fitting.isEmpty() ? QStringLiteral("none") : fitting.join(QStringLiteral(", ")));
    }
    return ExitOk;
}

} // namespace

Command kvCommand()
{
    return {
        .name = QStringLiteral("kv"),
        .summary = QStringLiteral("KV cache bytes per token and per context for each mode, vs MHA f16."),
        .usage = QStringLiteral("(--model M.gguf | --arch NAME) --ctx N [--kv MODES] [--device D] [--json]\n"
                                "       needlework kv snapshots [--remove NAME|all] [--max-size SIZE] [--json]"),
        .description = QStringLiteral(
            "Sizes the KV cache of a model from its GGUF metadata (no weights are read) or of a well-known "
            "architecture from the bundled table (DeepSeek-V2, DeepSeek-V2-Lite, DeepSeek-V3, Llama-3.1-8B, "
            "Llama-3.1-70B, Qwen2.5-7B, Mistral-7B). For each mode the model can use — full K/V per KV head, "
            "and mla for models with multi-head latent attention — it prints the bytes per token, the total "
            "for the context, what the paged cache allocates (whole blocks of 64 tokens) and the saving "
            "against plain multi-head attention in f16. --kv lists other modes to size instead, "
            "comma-separated, each BASE[+PRECISION][+protect:N][+window:W[+sinks:S] | +snapkv:B]:\n"
            "  BASE       full | mla | latent:R (a rank-R latent of K and of V per token, for MHA/GQA models)\n"
            "  PRECISION  P, or K/V for keys and values apart (full+q8/q4), each f16 | q8 | q4 | tq2 | tq3 | tq4. "
            "q8, q4: rows quantized in groups of 32 with an f16 scale (34 or 18 bytes per 32 values), "
            "Hadamard-rotated per head first (queries rotated alike, outputs rotated back); :plain keeps them "
            "unrotated (full+q4:plain). tq2, tq3, tq4 (TurboQuant; full and latent:R): per head an f16 scale "
            "(the norm) and 2, 3 or 4 bits per value, Lloyd-Max codes of the head after a fixed random rotation; "
            "attention reads the codes (full+tq3, full+q8/tq3)\n"
            "  protect:N  the first and last N layers keep f16 rows\n"
            "  window:W   eviction (StreamingLLM): each attention layer keeps only the last W tokens, and with "
            "sinks:S the first S too (full+window:4096+sinks:4); tokens between leave the cache and attention, "
            "kept tokens keep their original positions. MHA/GQA models, CPU only; a model's own sliding-window "
            "layers keep their window\n"
            "  snapkv:B   eviction (SnapKV): once a prompt is prefilled, each layer and KV head keeps the B prompt "
            "tokens the prompt's last 32 attend to most (max-pooled over 7 neighbours) and those 32; later tokens "
            "are all kept. full caches on MHA/GQA models whose layers all keep every token, CPU only. Sized here "
            "as the cache right after a prompt of the context's length is compressed: min(P, B + 32) rows per "
            "layer (an answer adds its tokens)\n"
            "e.g. --kv full,full+q8,full+q4:plain,full+q8/q4,full+tq3,latent:64+q4+protect:1\n\n"
            "`needlework kv snapshots` lists the KV snapshots in $XDG_CACHE_HOME/needlework/kv: the cache of a "
            "whole-documents prompt before its question, written by the first question (ask --mode whole, chat, "
            "the window) and loaded by later ones on the same documents, model and KV mode, so that only the "
            "question is prefilled. Each line gives the name, size, last use, tokens and KV mode. --remove NAME "
            "(or all) deletes snapshots; --max-size SIZE (8G, 512M; 0 turns snapshots off) sets the cap the "
            "directory is kept under, least recently used first, and applies it now.\n\n"
            "Exit status: 0 on success, 1 when the model cannot be read or the arch is unknown, 2 for a usage error."),
        .configure =
            [](QCommandLineParser &parser) {
                parser.addOption({ QStringLiteral("model"), QStringLiteral("A GGUF model (metadata only)."),
                    QStringLiteral("M.gguf") });
                parser.addOption({ QStringLiteral("arch"), QStringLiteral("A well-known architecture by name."),
                    QStringLiteral("NAME") });
                parser.addOption(
                    { QStringLiteral("ctx"), QStringLiteral("Context size in tokens."), QStringLiteral("N") });
                addDeviceOption(parser);
                parser.addOption({ QStringLiteral("kv"),
                    QStringLiteral("Modes to size, comma-separated, each BASE[+PRECISION][+protect:N] as above "
                                   "(default: the model's own modes)."),
                    QStringLiteral("MODES") });
                addJsonOption(parser);
                parser.addOption({ QStringLiteral("remove"),
                    QStringLiteral("snapshots: remove the snapshot NAME, or all of them."), QStringLiteral("NAME") });
                parser.addOption({ QStringLiteral("max-size"),
                    QStringLiteral("snapshots: keep them under SIZE (8G, 512M; 0: off), least recently used go."),
                    QStringLiteral("SIZE") });
                parser.addPositionalArgument(QStringLiteral("snapshots"),
                    QStringLiteral("List (and remove, cap) the KV snapshots."), QStringLiteral("[snapshots]"));
            },
        .numbers = { { QStringLiteral("ctx"), NumberKind::Tokens, 1, 1ll << 32 } },
        .run = runKv,
    };
}

} // namespace nw::app
