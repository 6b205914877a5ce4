// The needle grid walk without a model (a per-trial function that records its calls): cells in
// sorted order, a cancel mid-cell drops that cell and saves the ones before it, a resumed walk
// runs only the cells results.json lacks, a results file the run refuses stops before any trial,
// and an empty grid is refused. Expected counts and orders are worked out by hand below.
#include "app/needle_walk.h"

#include "common/error.h"

#include <QTemporaryDir>
#include <QTest>

#include <tuple>
#include <vector>

using namespace nw::app;

namespace {

using Call = std::tuple<std::int64_t, int, int>; // length, depth, trial

NeedleConfig gridConfig(const QString &outDir)
{
    NeedleConfig cfg;
    cfg.lengths = { 200, 100, 200 }; // sorted and deduplicated: 100, 200
    cfg.depths = { 50, 0 }; // 0, 50
    cfg.variants = { NeedleVariant::Single };
    cfg.trials = 2;
    cfg.seed = 3;
    cfg.outDir = outDir;
    return cfg;
}

// The row a trial gives: exact for every other length, so a resumed file can be told apart.
NeedleTrial row(const std::string &mode, std::int64_t length, int depth, int trial)
{
    NeedleTrial t;
    t.mode = mode;
    t.length = length;
    t.depth = depth;
    t.variant = "single";
    t.trial = trial;
    t.exact = length == 100;
    return t;
}

} // namespace

class TestNeedleWalk : public QObject {
    Q_OBJECT
private slots:
    void cancelThenResume();
    void refusedResults();
    void emptyGrid();
};

void TestNeedleWalk::cancelThenResume()
{
    QTemporaryDir scratch;
    const NeedleConfig cfg = gridConfig(scratch.path());
    const std::string mode = "full";

    // First run: the cancel comes during the fifth trial, the first of the third cell (200, 0).
    std::atomic<bool> cancel { false };
    std::vector<Call> calls;
    NeedleProgress last;
    int saves = 0;
    NeedleRunOutcome first;
    {
        NeedleWalk walk(
            cfg, first, cancel, [&](const NeedleProgress &p) { last = p; }, [&](const NeedleResults &) { ++saves; });
        walk.open("model.gguf", [](const NeedleResults &) { QFAIL("no results.json yet"); });
        walk.count({ mode });
        walk.run(mode, [&](std::int64_t length, int depth, NeedleVariant, int trial) -> std::optional<NeedleTrial> {
            calls.emplace_back(length, depth, trial);
            if (calls.size() == 5)
                cancel = true; // this trial finishes, but its cell is not whole
            return row(mode, length, depth, trial);
        });
        walk.finish();
    }
    QCOMPARE(first.lengths, (std::vector<std::int64_t> { 100, 200 }));
    QCOMPARE(first.depths, (std::vector<int> { 0, 50 }));
    const std::vector<Call> firstCalls { { 100, 0, 0 }, { 100, 0, 1 }, { 100, 50, 0 }, { 100, 50, 1 }, { 200, 0, 0 } };
    QCOMPARE(calls, firstCalls);
    QVERIFY(first.cancelled);
    QCOMPARE(first.trialsRun, std::int64_t(4)); // two whole cells
    QCOMPARE(first.trialsSkipped, std::int64_t(0));
    QCOMPARE(first.results.trials.size(), std::size_t(4));
    QCOMPARE(last.done, std::int64_t(4));
    QCOMPARE(last.total, std::int64_t(8)); // 2 lengths x 2 depths x 2 trials
    QCOMPARE(saves, 3); // after each whole cell, and at the end
    QCOMPARE(first.files.size(), 2); // results.json and results.csv

    // Resumed: the two saved cells are skipped; the cut cell runs again from its first trial.
    cancel = false;
    calls.clear();
    NeedleRunOutcome second;
    int accepted = 0;
    {
        NeedleWalk walk(cfg, second, cancel, [&](const NeedleProgress &p) { last = p; }, {});
        walk.open("model.gguf", [&](const NeedleResults &previous) {
            ++accepted;
            QCOMPARE(previous.trials.size(), std::size_t(4));
        });
        walk.count({ mode });
        walk.run(mode, [&](std::int64_t length, int depth, NeedleVariant, int trial) -> std::optional<NeedleTrial> {
            calls.emplace_back(length, depth, trial);
            return row(mode, length, depth, trial);
        });
        walk.finish();
    }
    QCOMPARE(accepted, 1);
    const std::vector<Call> secondCalls { { 200, 0, 0 }, { 200, 0, 1 }, { 200, 50, 0 }, { 200, 50, 1 } };
    QCOMPARE(calls, secondCalls);
    QVERIFY(!second.cancelled);
    QCOMPARE(second.trialsRun, std::int64_t(4));
    QCOMPARE(second.trialsSkipped, std::int64_t(4));
    QCOMPARE(last.done, std::int64_t(4));
    QCOMPARE(last.total, std::int64_t(4));
    QCOMPARE(second.results.trials.size(), std::size_t(8));
    int exact = 0;
    for (const NeedleTrial &t : second.results.trials)
        exact += t.exact ? 1 : 0;
    QCOMPARE(exact, 4); // the four rows of length 100 came back from the file

    // Once more: nothing to do; a trial function that would fail is never called.
    NeedleRunOutcome third;
    NeedleWalk walk(cfg, third, cancel, {}, {});
    walk.open("model.gguf", [](const NeedleResults &) {});
    walk.count({ mode });
    walk.run(mode, [](std::int64_t, int, NeedleVariant, int) -> std::optional<NeedleTrial> {
        throw nw::Error("no trial is left to run");
    });
    QCOMPARE(third.trialsRun, std::int64_t(0));
    QCOMPARE(third.trialsSkipped, std::int64_t(8));
}

void TestNeedleWalk::refusedResults()
{
    QTemporaryDir scratch;
    const NeedleConfig cfg = gridConfig(scratch.path());
    std::atomic<bool> cancel { false };
    {
        NeedleRunOutcome outcome;
        NeedleWalk walk(cfg, outcome, cancel, {}, {});
        walk.open("model.gguf", [](const NeedleResults &) {});
        walk.finish(); // an empty results.json of model.gguf
    }
    NeedleRunOutcome outcome;
    NeedleWalk walk(cfg, outcome, cancel, {}, {});
    QVERIFY_THROWS_EXCEPTION(nw::Error, walk.open("other.gguf", [](const NeedleResults &previous) {
        if (previous.model != "other.gguf")
            throw nw::Error("another model's results");
    }));
}

void TestNeedleWalk::emptyGrid()
{
    QTemporaryDir scratch;
    std::atomic<bool> cancel { false };
    NeedleRunOutcome outcome;
    NeedleConfig cfg = gridConfig(scratch.path());
    cfg.depths.clear();
    QVERIFY_THROWS_EXCEPTION(nw::Error, NeedleWalk(cfg, outcome, cancel, {}, {}));
    cfg = gridConfig(scratch.path());
    cfg.trials = 0;
    QVERIFY_THROWS_EXCEPTION(nw::Error, NeedleWalk(cfg, outcome, cancel, {}, {}));
}

QTEST_GUILESS_MAIN(TestNeedleWalk)
#include "tst_needle_walk.moc"
