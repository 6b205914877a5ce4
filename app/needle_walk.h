// The walk over a needle run's grid that the in-process and the remote runs share: the grid
// checked and sorted, results.json read back to resume, the trials left to do counted for the
// progress bar, then per KV mode every (length, depth, variant) cell in order, each trial asked
// of a per-trial function, each finished cell saved whole (a cancel drops the cell in
// progress), and the last save and progress report; then the heatmaps (and Pareto chart).
#pragma once

#include "app/needle_runner.h"

#include <QElapsedTimer>
#include <QString>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace nw::app {

// One trial of a cell: its row for results.json, or nothing when a cancel cut it short.
using NeedleTrialRun
    = std::function<std::optional<NeedleTrial>(std::int64_t length, int depth, NeedleVariant variant, int trial)>;

class NeedleWalk {
public:
    // Throws nw::Error for an empty grid, or the multi-key variant with needles that are not
    // pass keys. `outcome` (its lengths and depths sorted here) must outlive the walk;
    // `progress` and `saved` as in NeedleRunner::run().
    NeedleWalk(const NeedleConfig &config, NeedleRunOutcome &outcome, const std::atomic<bool> &cancel,
        const std::function<void(const NeedleProgress &)> &progress,
        const std::function<void(const NeedleResults &)> &saved);

    // Creates the output directory and reads its results.json into the outcome once `accept`
    // (which throws nw::Error when it cannot be continued) has seen it; without one, the results
    // of `model` with the config's seed and needles start empty.
    void open(const std::string &model, const std::function<void(const NeedleResults &previous)> &accept);
    // Counts, over `modes`, the trials to run and the ones results.json already holds.
    void count(const std::vector<std::string> &modes);

    // Every trial of `mode` results.json does not hold yet, cell by cell; stops on a cancel.
    void run(const std::string &mode, const NeedleTrialRun &runTrial);
    // The progress report before measuring the perplexity of `mode`.
    void reportPerplexity(const std::string &mode);
    // results.json and results.csv rewritten with everything the outcome holds.
    void save();
    // The end of the walk: cancelled or not, the last save, the files, the last report (done ==
    // total unless cancelled).
    void finish();

    const QString &jsonPath() const { return m_jsonPath; }

private:
    void report();

    const NeedleConfig &m_config;
    NeedleRunOutcome &m_outcome;
    const std::atomic<bool> &m_cancel;
    std::function<void(const NeedleProgress &)> m_progress;
    std::function<void(const NeedleResults &)> m_saved;
    QString m_jsonPath;
    QString m_csvPath;
    NeedleProgress m_p;
    QElapsedTimer m_clock; // restarted by count(), for the ETA
};

// The heatmap of each of `modes` in the output directory, and with `pareto` the Pareto chart of
// them all; PNG and SVG, or SVG alone (said in the notes) without a QGuiApplication to draw text.
void writeNeedleCharts(
    NeedleRunOutcome &outcome, const std::vector<std::string> &modes, const QString &outDir, bool pareto);

} // namespace nw::app
