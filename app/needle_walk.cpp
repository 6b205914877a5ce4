// The needle run's grid walk, shared by the in-process and the remote runs.
#include "app/needle_walk.h"

#include "app/needle_heatmap.h"
#include "app/needle_pareto.h"
#include "app/output_file.h"
#include "common/error.h"

#include <QCoreApplication>
#include <QDir>
#include <QGuiApplication>

#include <algorithm>

namespace nw::app {

NeedleWalk::NeedleWalk(const NeedleConfig &config, NeedleRunOutcome &outcome, const std::atomic<bool> &cancel,
    const std::function<void(const NeedleProgress &)> &progress,
    const std::function<void(const NeedleResults &)> &saved)
    : m_config(config)
    , m_outcome(outcome)
    , m_cancel(cancel)
    , m_progress(progress)
    , m_saved(saved)
{
    const NeedleConfig &cfg = m_config;
    if (cfg.lengths.empty() || cfg.depths.empty() || cfg.variants.empty() || cfg.trials < 1)
        fail("the needle run needs at least one length, depth, variant and trial");
    if (!cfg.needleSet.isPassKey()
        && std::find(cfg.variants.begin(), cfg.variants.end(), NeedleVariant::MultiKey) != cfg.variants.end())
        fail("the multi-key variant needs the pass-key needles; the needle set {} has none", cfg.needleSet.name);
    outcome.lengths = cfg.lengths;
    outcome.depths = cfg.depths;
    std::sort(outcome.lengths.begin(), outcome.lengths.end());
    outcome.lengths.erase(std::unique(outcome.lengths.begin(), outcome.lengths.end()), outcome.lengths.end());
    std::sort(outcome.depths.begin(), outcome.depths.end());
    outcome.depths.erase(std::unique(outcome.depths.begin(), outcome.depths.end()), outcome.depths.end());
    m_clock.start();
}

void NeedleWalk::open(const std::string &model, const std::function<void(const NeedleResults &previous)> &accept)
{
    const NeedleConfig &cfg = m_config;
    if (!QDir().mkpath(cfg.outDir))
        fail("cannot create the output directory {}", cfg.outDir.toStdString());
    m_jsonPath = QDir(cfg.outDir).filePath(QStringLiteral("results.json"));
    m_csvPath = QDir(cfg.outDir).filePath(QStringLiteral("results.csv"));
    NeedleResults &results = m_outcome.results;
    if (std::optional<NeedleResults> previous = readNeedleResultsJson(m_jsonPath)) {
        accept(*previous);
        results = std::move(*previous);
    } else {
        results.model = model;
        results.seed = cfg.seed;
        results.needleSet = cfg.needleSet.name;
    }
}

void NeedleWalk::count(const std::vector<std::string> &modes)
{
    for (const std::string &mode : modes)
        for (std::int64_t length : m_outcome.lengths)
            for (int depth : m_outcome.depths)
                for (NeedleVariant variant : m_config.variants)
                    for (int trial = 0; trial < m_config.trials; ++trial) {
                        if (m_outcome.results.hasTrial(
                                { mode, length, depth, std::string(needleVariantName(variant)), trial }))
                            ++m_outcome.trialsSkipped;
                        else
                            ++m_p.total;
                    }
    m_clock.restart(); // the ETA counts the trials, not the loading before them
}

void NeedleWalk::run(const std::string &mode, const NeedleTrialRun &runTrial)
{
    NeedleResults &results = m_outcome.results;
    m_p.mode = mode;
    for (std::int64_t length : m_outcome.lengths) {
        for (int depth : m_outcome.depths) {
            for (NeedleVariant variant : m_config.variants) {
                const std::string variantName(needleVariantName(variant));
                std::vector<NeedleTrial> cell;
                for (int trial = 0; trial < m_config.trials && !m_cancel.load(); ++trial) {
                    if (results.hasTrial({ mode, length, depth, variantName, trial }))
                        continue;
                    m_p.length = length;
                    m_p.depth = depth;
                    m_p.variant = variantName;
                    report();
                    std::optional<NeedleTrial> row = runTrial(length, depth, variant, trial);
                    if (!row)
                        break;
                    cell.push_back(std::move(*row));
                    ++m_p.done;
                    ++m_outcome.trialsRun;
                }
                if (m_cancel.load()) {
                    // A cell is saved whole or not at all: its finished trials are dropped from
                    // the count too, and a resumed run does them again.
                    m_p.done -= static_cast<std::int64_t>(cell.size());
                    m_outcome.trialsRun -= static_cast<std::int64_t>(cell.size());
                    return;
                }
                if (!cell.empty()) {
                    results.trials.insert(results.trials.end(), cell.begin(), cell.end());
                    save();
                }
            }
        }
    }
}

void NeedleWalk::reportPerplexity(const std::string &mode)
{
    m_p.mode = mode;
    m_p.perplexity = true;
    report();
    m_p.perplexity = false;
}

void NeedleWalk::save()
{
    writeNeedleResultsJson(m_outcome.results, m_jsonPath);
    writeNeedleResultsCsv(m_outcome.results, m_csvPath);
    if (m_saved)
        m_saved(m_outcome.results);
}

void NeedleWalk::finish()
{
    m_outcome.cancelled = m_cancel.load();
    save();
    m_outcome.files << m_jsonPath << m_csvPath;
    report();
}

void NeedleWalk::report()
{
    m_p.elapsedSeconds = static_cast<double>(m_clock.elapsed()) / 1000.0;
    m_p.etaSeconds = m_p.done > 0
        ? m_p.elapsedSeconds / static_cast<double>(m_p.done) * static_cast<double>(m_p.total - m_p.done)
        : -1.0;
    if (m_progress)
        m_progress(m_p);
}

void writeNeedleCharts(
    NeedleRunOutcome &outcome, const std::vector<std::string> &modes, const QString &outDir, bool pareto)
{
    const bool canDrawText = qobject_cast<QGuiApplication *>(QCoreApplication::instance()) != nullptr;
    for (const std::string &mode : modes) {
        NeedleGrid grid = needleGrid(outcome.results, mode, outcome.lengths, outcome.depths);
        const QString base = QDir(outDir).filePath(needleHeatmapBaseName(grid.mode));
        if (canDrawText) {
            writeNeedleHeatmaps(grid, outDir);
            outcome.files << base + QStringLiteral(".png");
        } else {
            writeOutputFile(base + QStringLiteral(".svg"), needleHeatmapSvg(grid));
        }
        outcome.files << base + QStringLiteral(".svg");
        outcome.grids.push_back(std::move(grid));
    }
    const std::vector<ParetoPoint> points = pareto ? needleParetoPoints(outcome.grids) : std::vector<ParetoPoint> {};
    if (!points.empty()) {
        const QString title = paretoChartTitle(outcome.results.model, outcome.results.needleSet);
        const QString base = QDir(outDir).filePath(QStringLiteral("pareto"));
        if (canDrawText) {
            writeParetoCharts(points, title, outDir);
            outcome.files << base + QStringLiteral(".png");
        } else {
            writeOutputFile(base + QStringLiteral(".svg"), paretoChartSvg(points, title));
        }
        outcome.files << base + QStringLiteral(".svg");
    }
    if (!canDrawText)
        outcome.notes << (pareto ? QStringLiteral("PNG heatmaps and Pareto chart skipped: drawing text needs a "
                                                  "QGuiApplication (SVG written)")
                                 : QStringLiteral("PNG heatmap skipped: drawing text needs a QGuiApplication (SVG "
                                                  "written)"));
}

} // namespace nw::app
