// `needlework doctor`: what this installation has — library versions, GPUs, CPU features and
// the directories in use — so a user can tell at a glance why something is slow or missing.
#include "app/commands/commands.h"

#include "app/paths.h"
#include "ingest/mail_message.h"
#include "ingest/ocr_engine.h"
#include "ingest/poppler_info.h"
#include "ingest/zip_archive.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/device_info.h"
#include "store/database.h"

#include <nlohmann/json.hpp>
#include <spdlog/version.h>

#include <QtGlobal>

namespace nw::app {
namespace {

nlohmann::json doctorReport()
{
    const auto &cpu = cpu::cpuFeatures();
    const GpuInfo &gpu = gpuInfo();
    const store::SqliteInfo sqlite = store::sqliteInfo();

    nlohmann::json gpus = nlohmann::json::array();
    for (const GpuDevice &device : gpu.devices) {
        gpus.push_back({ { "index", device.index }, { "name", device.name },
            { "compute_capability", std::to_string(device.computeMajor) + "." + std::to_string(device.computeMinor) },
            { "memory_bytes", device.totalBytes }, { "free_bytes", device.freeBytes },
            { "multiprocessors", device.multiprocessors } });
    }
    return {
        { "needlework", NW_VERSION },
        { "qt", qVersion() },
        { "poppler", ingest::popplerVersion().toStdString() },
        // The other formats' readers: OCR of scans (with the languages whose data is installed),
        // email, the zip of office files.
        { "ocr",
            { { "tesseract", ingest::tesseractVersion().toStdString() },
                { "languages",
                    [] {
                        nlohmann::json languages = nlohmann::json::array();
                        for (const QString &language : ingest::installedOcrLanguages())
                            languages.push_back(language.toStdString());
                        return languages;
                    }() } } },
        { "gmime", ingest::gmimeVersion().toStdString() },
        { "libzip", ingest::libzipVersion().toStdString() },
        { "sqlite", { { "version", sqlite.version }, { "fts5", sqlite.fts5 } } },
        { "spdlog",
            std::to_string(SPDLOG_VER_MAJOR) + "." + std::to_string(SPDLOG_VER_MINOR) + "."
                + std::to_string(SPDLOG_VER_PATCH) },
        // "loaded": the CUDA module (libneedlework-cuda.so, package needlework-cuda) could be
        // used; when not, "status" says why (not installed, libcudart missing, other version).
        { "cuda",
            { { "loaded", gpu.built }, { "module", gpu.module }, { "runtime", cudaVersionString(gpu.runtimeVersion) },
                { "driver", cudaVersionString(gpu.driverVersion) }, { "status", gpu.status }, { "devices", gpus } } },
        { "cpu",
            { { "model", cpu.model }, { "threads", cpu.logicalCores }, { "simd", cpu::describeSimd(cpu) },
                { "avx2", cpu.avx2 }, { "fma", cpu.fma }, { "f16c", cpu.f16c }, { "avx512f", cpu.avx512f } } },
        { "compute_backend", gpu.devices.empty() ? "cpu" : "cuda" },
        { "paths",
            { { "data", dataDirectory().toStdString() }, { "database", defaultDatabasePath().toStdString() },
                { "log", logFilePath().toStdString() }, { "cache", cacheDirectory().toStdString() } } },
    };
}

QString gib(std::uint64_t bytes)
{
    return QString::number(static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0), 'f', 1) + QStringLiteral(" GiB");
}

void printText(const nlohmann::json &r, QTextStream &out)
{
    auto line = [&out](const char *label, const QString &value) {
        out << QString::fromLatin1(label).leftJustified(16) << value << '\n';
    };
    auto str = [](const nlohmann::json &v) { return QString::fromStdString(v.get<std::string>()); };
    line("needlework", str(r["needlework"]));
    line("Qt", str(r["qt"]));
    line("Poppler", str(r["poppler"]));
    QStringList languages;
    for (const auto &language : r["ocr"]["languages"])
        languages << str(language);
    line("Tesseract",
        str(r["ocr"]["tesseract"])
            + QStringLiteral(" (OCR languages: %1)")
                  .arg(languages.isEmpty() ? QStringLiteral("none: install tesseract-ocr-eng")
                                           : languages.join(QStringLiteral(", "))));
    line("GMime", str(r["gmime"]));
    line("libzip", str(r["libzip"]));
    line("SQLite",
        str(r["sqlite"]["version"])
            + (r["sqlite"]["fts5"].get<bool>() ? QStringLiteral(" (FTS5)")
                                               : QStringLiteral(" (no FTS5: search will not work)")));
    line("spdlog", str(r["spdlog"]));
    const auto &cuda = r["cuda"];
    const bool loaded = cuda["loaded"].get<bool>();
    if (loaded)
        line("CUDA module", str(cuda["module"]));
    line("CUDA",
        loaded ? QStringLiteral("runtime %1, driver %2: %3")
                     .arg(str(cuda["runtime"]), str(cuda["driver"]), str(cuda["status"]))
               : str(cuda["status"]));
    for (const auto &device : cuda["devices"])
        line("  GPU",
            QStringLiteral("%1: %2 (sm_%3), %4 total, %5 free")
                .arg(device["index"].get<int>())
                .arg(str(device["name"]), str(device["compute_capability"]).remove(QLatin1Char('.')),
                    gib(device["memory_bytes"].get<std::uint64_t>()), gib(device["free_bytes"].get<std::uint64_t>())));
    line("CPU", str(r["cpu"]["model"]));
    line("  threads", QString::number(r["cpu"]["threads"].get<int>()));
    line("  SIMD", str(r["cpu"]["simd"]));
    line("Backend",
        str(r["compute_backend"]) == QLatin1String("cuda") ? QStringLiteral("CUDA")
            : loaded                                       ? QStringLiteral("CPU (no CUDA device)")
                                                           : QStringLiteral("CPU (no CUDA module)"));
    line("Data", str(r["paths"]["data"]));
    line("  database", str(r["paths"]["database"]));
    line("  log", str(r["paths"]["log"]));
    line("Cache", str(r["paths"]["cache"]));
}

} // namespace

Command doctorCommand()
{
    return {
        .name = QStringLiteral("doctor"),
        .summary = QStringLiteral("Show library versions, GPUs, CPU features and data directories."),
        .usage = QStringLiteral("[--json]"),
        .description = QStringLiteral("Reports what this installation can use: Qt, Poppler, Tesseract (and the OCR "
                                      "languages installed), GMime, libzip, SQLite (and FTS5), "
                                      "spdlog, the CUDA module with the CUDA runtime, driver and GPUs it finds (or "
                                      "why it cannot be used), the CPU and its SIMD extensions, and the directories "
                                      "for data, logs and caches."),
        .configure = [](QCommandLineParser &parser) { addJsonOption(parser); },
        .run =
            [](const QCommandLineParser &parser, CommandIo &io) {
                const nlohmann::json report = doctorReport();
                if (parser.isSet(QStringLiteral("json")))
                    io.out << QString::fromStdString(report.dump(2)) << '\n';
                else
                    printText(report, io.out);
                return static_cast<int>(ExitOk);
            },
    };
}

} // namespace nw::app
