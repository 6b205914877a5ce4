// The needle harness end to end on real models: the run writes results.json/.csv and a heatmap
// pair per KV mode, a second run with the same --out skips every trial it finds, a results file
// from another seed is refused; and with the trained recall model (tests/data/recall-model.gguf)
// `full` retrieves at its trained lengths while a small latent rank retrieves measurably less, and
// --compress-before-question changes snapkv's answers only, is recorded and is not resumed across.
// GUI test (offscreen): the PNG heatmaps draw text.
#include "app/needle_heatmap.h"
#include "app/needle_pareto.h"
#include "app/needle_runner.h"
#include "app/needle_set.h"

#include "common/error.h"
#include "tests/support/conformance_qt.h"

#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>

using namespace nw::app;

class TestNeedleRun : public QObject {
    Q_OBJECT
private slots:
    void runAndResume();
    void recallModel();
    void nolimaNeedles();
    void compressBeforeQuestion();
};

void TestNeedleRun::runAndResume()
{
    const QString conformance = nw::test::findConformanceFolder();
    if (conformance.isEmpty())
        QSKIP("../shared/conformance is absent");
    QTemporaryDir scratch;
    const QString out = scratch.path();
    NeedleConfig cfg;
    cfg.modelPath = conformance + QStringLiteral("/models/stories260K.gguf");
    cfg.lengths = { 160, 256 };
    cfg.depths = { 0, 100 };
    cfg.kvModes = { "full", "latent:16" };
    cfg.variants = { NeedleVariant::Single, NeedleVariant::MultiKey };
    cfg.trials = 1;
    cfg.seed = 5;
    cfg.outDir = out;
    cfg.threads = 1;
    cfg.perplexityCtx = 64;

    std::int64_t lastTotal = -1, reports = 0;
    NeedleRunOutcome first = NeedleRunner(cfg, FillerText::sampleCorpus()).run([&](const NeedleProgress &p) {
        lastTotal = p.total;
        ++reports;
    });
    const int expected = 2 * 2 * 2 * 2; // modes × lengths × depths × variants
    QCOMPARE(first.trialsRun, std::int64_t(expected));
    QCOMPARE(first.trialsSkipped, std::int64_t(0));
    QCOMPARE(lastTotal, std::int64_t(expected));
    QVERIFY(reports >= expected);
    QCOMPARE(first.grids.size(), std::size_t(2));
    QCOMPARE(first.results.perplexity.size(), std::size_t(2));
    // The cache held the prompt and the answer: the totals are what the bytes per token say.
    for (const NeedleTrial &t : first.results.trials) {
        QVERIFY(t.kvBytesPerToken > 0);
        QCOMPARE(t.kvBytesTotal % t.kvBytesPerToken, std::uint64_t(0));
        QVERIFY(t.kvBytesTotal / t.kvBytesPerToken >= static_cast<std::uint64_t>(t.promptTokens));
        QVERIFY(t.promptTokens > t.length);
    }
    // latent:16 caches 16 + 16 numbers per token and layer instead of full's K and V heads.
    QVERIFY(first.grids[1].kvBytesPerToken < first.grids[0].kvBytesPerToken);

    QFile json(out + QStringLiteral("/results.json"));
    QVERIFY(json.open(QIODevice::ReadOnly));
    const QJsonDocument doc = QJsonDocument::fromJson(json.readAll());
    QCOMPARE(doc.object().value(QStringLiteral("trials")).toArray().size(), expected);
    QVERIFY(QFileInfo::exists(out + QStringLiteral("/results.csv")));
    for (const char *base : { "heatmap-full", "heatmap-latent-16" }) {
        const QImage png(out + QLatin1Char('/') + QLatin1String(base) + QStringLiteral(".png"));
        QCOMPARE(png.size(), NeedleHeatmapLayout::size(2, 2));
        QVERIFY(QFileInfo::exists(out + QLatin1Char('/') + QLatin1String(base) + QStringLiteral(".svg")));
    }

    // Same --out again: nothing left to do. One more depth: only its trials run.
    NeedleRunOutcome again = NeedleRunner(cfg, FillerText::sampleCorpus()).run();
    QCOMPARE(again.trialsRun, std::int64_t(0));
    QCOMPARE(again.trialsSkipped, std::int64_t(expected));
    QCOMPARE(again.results.trials.size(), std::size_t(expected));
    cfg.depths = { 0, 50, 100 };
    NeedleRunOutcome more = NeedleRunner(cfg, FillerText::sampleCorpus()).run();
    QCOMPARE(more.trialsRun, std::int64_t(expected / 2));
    QCOMPARE(more.results.trials.size(), std::size_t(expected * 3 / 2));
    // Every mode answered the same haystacks: same keys per cell.
    for (const NeedleTrial &t : more.results.trials)
        if (t.mode == "full")
            QVERIFY(std::any_of(more.results.trials.begin(), more.results.trials.end(), [&](const NeedleTrial &u) {
                return u.mode == "latent:16" && u.length == t.length && u.depth == t.depth && u.variant == t.variant
                    && u.key == t.key && u.value == t.value;
            }));

    cfg.seed = 6;
    QVERIFY_THROWS_EXCEPTION(nw::Error, NeedleRunner(cfg, FillerText::sampleCorpus()).run());

    // A cancel before the start saves nothing new and says so.
    cfg.seed = 5;
    cfg.lengths = { 200 };
    NeedleRunner cancelled(cfg, FillerText::sampleCorpus());
    cancelled.cancel();
    const NeedleRunOutcome stopped = cancelled.run();
    QVERIFY(stopped.cancelled);
    QCOMPARE(stopped.trialsRun, std::int64_t(0));
    QCOMPARE(stopped.results.trials.size(), std::size_t(expected * 3 / 2));
}

void TestNeedleRun::recallModel()
{
    const QString model = qEnvironmentVariable("NW_SOURCE_DIR") + QStringLiteral("/tests/data/recall-model.gguf");
    if (!QFileInfo::exists(model))
        QSKIP("tests/data/recall-model.gguf is not there yet");
    QTemporaryDir scratch;
    const QString out = scratch.path();
    NeedleConfig cfg;
    cfg.modelPath = model;
    cfg.lengths = { 256 };
    cfg.depths = { 0, 50, 100 };
    cfg.kvModes = { "full", "latent:8" };
    cfg.trials = 2;
    cfg.seed = 11;
    cfg.outDir = out;
    cfg.perplexity = false;
    cfg.threads = 2;
    const NeedleRunOutcome r = NeedleRunner(cfg, FillerText::sampleCorpus()).run();
    QCOMPARE(r.grids.size(), std::size_t(2));
    const NeedleCell full = r.grids[0].total();
    const NeedleCell low = r.grids[1].total();
    QCOMPARE(full.trials, 6);
    qInfo("recall model: full %d/%d exact, latent:8 %d/%d exact", full.exact, full.trials, low.exact, low.trials);
    QVERIFY2(full.exactRate() >= 0.95, qPrintable(QStringLiteral("full: %1 of %2").arg(full.exact).arg(full.trials)));
    QVERIFY2(low.exactRate() <= full.exactRate() - 0.2,
        qPrintable(QStringLiteral("latent:8 %1 vs full %2 of %3").arg(low.exact).arg(full.exact).arg(full.trials)));
    // The Pareto chart of the two modes: full is on the frontier (more recall), latent:8 too (fewer bytes).
    QCOMPARE(QImage(out + QStringLiteral("/pareto.png")).size(),
        QSize(ParetoChartLayout::kWidth, ParetoChartLayout::kHeight));
    QVERIFY(QFileInfo::exists(out + QStringLiteral("/pareto.svg")));
    QVERIFY(r.files.contains(out + QStringLiteral("/pareto.svg")));
}

void TestNeedleRun::nolimaNeedles()
{
    // The bundled low-overlap set through the whole run: results.json names it and records each
    // trial's question and expected answer from it; resuming with pass keys is refused.
    const QString model = qEnvironmentVariable("NW_SOURCE_DIR") + QStringLiteral("/tests/data/recall-model.gguf");
    QTemporaryDir scratch;
    NeedleConfig cfg;
    cfg.modelPath = model;
    cfg.lengths = { 256 };
    cfg.depths = { 0, 50, 100 };
    cfg.kvModes = { "full" };
    cfg.trials = 2;
    cfg.seed = 11;
    cfg.outDir = scratch.path();
    cfg.perplexity = false;
    cfg.threads = 2;
    cfg.needleSet = loadNeedleSet(QStringLiteral("nolima"));
    const NeedleRunOutcome r = NeedleRunner(cfg, FillerText::sampleCorpus()).run();
    const NeedleCell all = r.grids[0].total();
    QCOMPARE(all.trials, 6);
    qInfo("recall model, nolima needles: full %d/%d exact, %d lenient", all.exact, all.trials, all.lenient);
    QCOMPARE(r.results.needleSet, std::string("nolima"));
    for (const NeedleTrial &t : r.results.trials)
        QVERIFY(std::any_of(cfg.needleSet.needles.begin(), cfg.needleSet.needles.end(),
            [&](const NeedleText &n) { return n.question == t.question && n.answer == t.expected; }));
    QFile json(scratch.filePath(QStringLiteral("results.json")));
    QVERIFY(json.open(QIODevice::ReadOnly));
    QCOMPARE(QJsonDocument::fromJson(json.readAll()).object().value(QStringLiteral("needles")).toString(),
        QStringLiteral("nolima"));
    cfg.needleSet = NeedleSet {};
    QVERIFY_THROWS_EXCEPTION(nw::Error, NeedleRunner(cfg, FillerText::sampleCorpus()).run());
    cfg.variants = { NeedleVariant::MultiKey };
    cfg.needleSet = loadNeedleSet(QStringLiteral("nolima"));
    QVERIFY_THROWS_EXCEPTION(nw::Error, NeedleRunner(cfg, FillerText::sampleCorpus()).run());
}

void TestNeedleRun::compressBeforeQuestion()
{
    const QString model = qEnvironmentVariable("NW_SOURCE_DIR") + QStringLiteral("/tests/data/recall-model.gguf");
    if (!QFileInfo::exists(model))
        QSKIP("tests/data/recall-model.gguf is not there yet");
    QTemporaryDir known, before;
    NeedleConfig cfg;
    cfg.modelPath = model;
    cfg.lengths = { 400 };
    cfg.depths = { 0, 50 };
    cfg.kvModes = { "full", "full+snapkv:64" };
    cfg.seed = 11;
    cfg.perplexity = false;
    cfg.threads = 2;
    cfg.outDir = known.path();
    const NeedleRunOutcome a = NeedleRunner(cfg, FillerText::sampleCorpus()).run();
    cfg.compressBeforeQuestion = true;
    cfg.outDir = before.path();
    const NeedleRunOutcome b = NeedleRunner(cfg, FillerText::sampleCorpus()).run();
    QVERIFY(!a.results.compressBeforeQuestion);
    QVERIFY(b.results.compressBeforeQuestion);
    QCOMPARE(a.results.trials.size(), std::size_t(4));
    QCOMPARE(b.results.trials.size(), std::size_t(4));
    bool snapDiffers = false;
    for (std::size_t i = 0; i < a.results.trials.size(); ++i) {
        const NeedleTrial &x = a.results.trials[i], &y = b.results.trials[i];
        QCOMPARE(x.mode, y.mode);
        QCOMPARE(x.promptTokens, y.promptTokens);
        if (x.mode == "full") {
            QCOMPARE(x.kvTokens, y.kvTokens);
            QCOMPARE(x.answer, y.answer); // the same prompt in one go
            QCOMPARE(x.kvBytesTotal, y.kvBytesTotal);
        } else {
            // 64 + 32 prompt rows per layer and head, then the answer's: less than full's prompt.
            QCOMPARE(a.results.trials[i - 2].mode, std::string("full"));
            QVERIFY(x.kvBytesTotal < a.results.trials[i - 2].kvBytesTotal);
            QVERIFY(y.kvBytesTotal < a.results.trials[i - 2].kvBytesTotal);
            snapDiffers = snapDiffers || x.answer != y.answer;
        }
    }
    qInfo("snapkv:64 answers differ with the haystack compressed first: %s", snapDiffers ? "yes" : "no");
    QFile json(before.filePath(QStringLiteral("results.json")));
    QVERIFY(json.open(QIODevice::ReadOnly));
    QVERIFY(
        QJsonDocument::fromJson(json.readAll()).object().value(QStringLiteral("compress_before_question")).toBool());
    cfg.compressBeforeQuestion = false; // resuming the other way would mix the two
    QVERIFY_THROWS_EXCEPTION(nw::Error, NeedleRunner(cfg, FillerText::sampleCorpus()).run());
}

QTEST_MAIN(TestNeedleRun)
#include "tst_needle_run.moc"
