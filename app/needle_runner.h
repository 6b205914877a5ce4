// The needle-in-a-haystack run: for each KV mode, the perplexity on the held-out text, then
// every (length, depth, variant, trial) cell — a haystack, the question through the model's chat
// template, a greedy answer, its scores — with results.json rewritten atomically after each
// cell, so a run can be stopped at any time and resumed with the same --out; at the end, the
// heatmaps and the Pareto chart (pareto.png/.svg) of every mode.
#pragma once

#include "app/needle_haystack.h"
#include "app/needle_results.h"

#include <QString>
#include <QStringList>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace nw {
class Generator;
}

namespace nw::app {

class RemoteEngine;

struct NeedleConfig {
    QString modelPath;
    std::vector<std::int64_t> lengths { 1024, 2048, 4096 };
    std::vector<int> depths { 0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100 };
    std::vector<std::string> kvModes; // empty: the model's own default mode
    std::vector<NeedleVariant> variants { NeedleVariant::Single };
    NeedleSet needleSet; // default: the pass-key needles
    int trials = 1; // per cell and variant
    std::uint64_t seed = 1;
    QString outDir = QStringLiteral("needle-results");
    int threads = 0; // CPU threads, <= 0: all
    int answerTokens = 16; // generation stops at EOS or after this many tokens
    // <= 0: min(256, the model's trained context); no PPL if the held-out text is shorter
    std::int64_t perplexityCtx = 0;
    bool perplexity = true;
    // `+snapkv:B` modes: the haystack is prefilled and compressed before the question is known
    // (what happens to a cached document); default: the compression's observation window ends
    // with the question. Other modes answer the same prompt either way. Not with `engine`.
    bool compressBeforeQuestion = false;
    // Set: this server answers instead of modelPath's model (app/needle_remote.h); kvModes and
    // the perplexity do not apply.
    std::shared_ptr<const RemoteEngine> engine;
};

struct NeedleProgress {
    std::int64_t done = 0; // trials finished in this run
    std::int64_t total = 0; // trials this run has to do (resumed ones excluded)
    double elapsedSeconds = 0.0;
    double etaSeconds = -1.0; // unknown until a trial is done
    std::string mode;
    std::int64_t length = 0;
    int depth = 0;
    std::string variant;
    bool perplexity = false; // measuring the perplexity of `mode`
};

struct NeedleRunOutcome {
    NeedleResults results; // everything in results.json, resumed rows included
    std::vector<NeedleGrid> grids; // one per KV mode, in --kv order
    std::vector<std::int64_t> lengths;
    std::vector<int> depths;
    std::int64_t trialsRun = 0;
    std::int64_t trialsSkipped = 0; // already in results.json
    bool cancelled = false;
    QStringList files; // what was written
    QStringList notes; // e.g. "PNG heatmaps skipped: no QGuiApplication"
};

class NeedleRunner {
public:
    NeedleRunner(NeedleConfig config, FillerText filler);
    ~NeedleRunner();

    // Loads the model, runs what results.json does not hold yet, writes results.json/.csv and
    // the heatmaps. Throws nw::Error for a model that cannot be loaded, a KV mode it cannot
    // run, or a results.json from another model or seed. `progress` is called before each
    // trial and once more when the run ends (done == total unless cancelled); `saved` after
    // each rewrite of results.json with everything it holds, so a view can draw finished cells.
    // Both run on the caller's thread.
    NeedleRunOutcome run(const std::function<void(const NeedleProgress &)> &progress = {},
        const std::function<void(const NeedleResults &)> &saved = {});

    // Stops after the trial in progress (its cell is not saved); safe from a signal handler and
    // from any thread: atomic stores only.
    void cancel();
    bool cancelRequested() const { return m_cancel.load(std::memory_order_relaxed); }

    const NeedleConfig &config() const { return m_config; }

private:
    NeedleConfig m_config;
    FillerText m_filler;
    std::atomic<bool> m_cancel { false };
    std::atomic<Generator *> m_generator { nullptr };
};

// The terminal table: one row per mode, fewest KV bytes per token first, with those bytes and
// the total, perplexity, exact and lenient accuracy, "*" for the modes on the Pareto frontier
// (app/needle_pareto.h), and exact accuracy per length.
QString needleSummaryTable(const NeedleRunOutcome &outcome);
// The --json summary: per mode (same order) the same figures, plus the files and trial counts.
nlohmann::json needleSummaryJson(const NeedleRunOutcome &outcome, const QString &outDir);
// "[ 12/140] full 2k depth 50 % single  ETA 0:42", cut to `width` columns when width > 0.
QString needleProgressLine(const NeedleProgress &progress, int width);

// A KV mode a model can run, with its exact cache bytes per token (all layers).
struct NeedleKvChoice {
    std::string mode; // KvModeSpec::toString()
    std::uint64_t bytesPerToken = 0;
};
// The modes worth offering for a model, in this order, each only when the model accepts it:
// full, mla, latent:R for R = its K/V width and 1/2, 1/4, 1/8 of it (even ranks only), then the
// same with +q8 and +q4. Reads the GGUF metadata only; throws nw::Error when it cannot.
std::vector<NeedleKvChoice> needleKvChoices(const QString &modelPath);

} // namespace nw::app
