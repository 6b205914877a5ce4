// The Pareto chart of a needle run: the frontier of hand-made points (ties, dominated points,
// any input order), the SVG's frontier line through exactly the non-dominated points at
// positions computed here from the documented log scale, the PNG's colours, and the summaries
// sorted by bytes per token. GUI test (offscreen): the PNG draws text.
#include "app/needle_heatmap.h"
#include "app/needle_pareto.h"
#include "app/needle_runner.h"

#include <QImage>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>
#include <QXmlStreamReader>

#include <cmath>

using namespace nw::app;

Q_DECLARE_METATYPE(std::vector<ParetoPoint>)
Q_DECLARE_METATYPE(std::vector<std::size_t>)

namespace {

// Five modes: b doubles a's bytes for more recall, c costs more than b for the same recall
// (dominated), d is the best, e costs more than d for less (dominated).
const std::vector<ParetoPoint> kRun {
    { "full", 1024, 1.0 },
    { "latent:8", 128, 0.25 },
    { "full+q8", 544, 1.0 },
    { "latent:32", 512, 0.875 },
    { "latent:16", 256, 0.25 },
};

NeedleGrid grid(const std::string &mode, std::uint64_t bytes, int trials, int exact)
{
    NeedleGrid g;
    g.mode = mode;
    g.lengths = { 256 };
    g.depths = { 50 };
    g.cells = { NeedleCell { .trials = trials, .exact = exact, .lenient = exact } };
    g.kvBytesPerToken = bytes;
    g.kvBytesHeldPerToken = static_cast<double>(bytes);
    return g;
}

} // namespace

class TestNeedlePareto : public QObject {
    Q_OBJECT
private slots:
    void frontier_data();
    void frontier();
    void svg();
    void png();
    void summariesByBytes();
    void evictionModesByBytesHeld();
};

void TestNeedlePareto::frontier_data()
{
    QTest::addColumn<std::vector<ParetoPoint>>("points");
    QTest::addColumn<std::vector<std::size_t>>("expected");
    QTest::addRow("none") << std::vector<ParetoPoint> {} << std::vector<std::size_t> {};
    QTest::addRow("one") << std::vector<ParetoPoint> { { "a", 100, 0.5 } } << std::vector<std::size_t> { 0 };
    QTest::addRow("run") << kRun << std::vector<std::size_t> { 1, 3, 2 };
    QTest::addRow("more bytes, less recall")
        << std::vector<ParetoPoint> { { "a", 100, 0.5 }, { "b", 200, 0.4 } } << std::vector<std::size_t> { 0 };
    QTest::addRow("same bytes, less recall")
        << std::vector<ParetoPoint> { { "a", 128, 0.5 }, { "b", 128, 0.4 } } << std::vector<std::size_t> { 0 };
    QTest::addRow("same recall, more bytes")
        << std::vector<ParetoPoint> { { "a", 256, 0.5 }, { "b", 128, 0.5 } } << std::vector<std::size_t> { 1 };
    QTest::addRow("equal points both stay") << std::vector<ParetoPoint> { { "a", 128, 0.5 }, { "b", 128, 0.5 },
        { "c", 64, 0.1 } } << std::vector<std::size_t> { 2, 0, 1 };
    QTest::addRow("all on it, unordered") << std::vector<ParetoPoint> { { "a", 512, 0.9 }, { "b", 64, 0.1 },
        { "c", 128, 0.5 } } << std::vector<std::size_t> { 1, 2, 0 };
}

void TestNeedlePareto::frontier()
{
    QFETCH(std::vector<ParetoPoint>, points);
    QFETCH(std::vector<std::size_t>, expected);
    QCOMPARE(paretoFrontier(points), expected);
}

void TestNeedlePareto::svg()
{
    const QByteArray svg = paretoChartSvg(kRun, QStringLiteral("t & <t>"));
    // The plot spans 128 (a power of two at or below the fewest bytes) to 1024, log2-spaced.
    using L = ParetoChartLayout;
    const double left = L::kLeft, width = L::kWidth - L::kLeft - L::kRight;
    const double bottom = L::kHeight - L::kBottom, height = L::kHeight - L::kTop - L::kBottom;
    auto expectedAt = [&](double bytes, double recall) {
        return QPointF(left + std::log2(bytes / 128.0) / 3.0 * width, bottom - recall * height);
    };
    const std::vector<QPointF> frontier { expectedAt(128, 0.25), expectedAt(512, 0.875), expectedAt(544, 1.0) };

    QXmlStreamReader xml(svg);
    int polylines = 0, circles = 0;
    QStringList onFrontier;
    while (!xml.atEnd()) {
        if (xml.readNext() != QXmlStreamReader::StartElement)
            continue;
        const QString cls = xml.attributes().value(QStringLiteral("class")).toString();
        if (xml.name() == QLatin1String("polyline")) {
            ++polylines;
            QCOMPARE(cls, QStringLiteral("frontier"));
            const QStringList pairs
                = xml.attributes().value(QStringLiteral("points")).toString().split(QLatin1Char(' '));
            QCOMPARE(pairs.size(), qsizetype(frontier.size()));
            for (qsizetype i = 0; i < pairs.size(); ++i) {
                const QStringList xy = pairs[i].split(QLatin1Char(','));
                QCOMPARE(xy.size(), qsizetype(2));
                QVERIFY2(std::abs(xy[0].toDouble() - frontier[std::size_t(i)].x()) < 0.01, qPrintable(pairs[i]));
                QVERIFY2(std::abs(xy[1].toDouble() - frontier[std::size_t(i)].y()) < 0.01, qPrintable(pairs[i]));
            }
        } else if (xml.name() == QLatin1String("circle")) {
            ++circles;
            if (cls == QStringLiteral("point frontier")) {
                QVERIFY(xml.readNextStartElement());
                const QString title = xml.readElementText(); // "MODE: BYTES B/token, recall R %"
                onFrontier << title.left(title.indexOf(QStringLiteral(": ")));
            }
        }
    }
    QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
    QCOMPARE(polylines, 1);
    QCOMPARE(circles, 5);
    onFrontier.sort();
    QCOMPARE(onFrontier,
        (QStringList { QStringLiteral("full+q8"), QStringLiteral("latent:32"), QStringLiteral("latent:8") }));
    QVERIFY(svg.contains("t &amp; &lt;t&gt;"));
}

void TestNeedlePareto::png()
{
    const QImage image = renderParetoChart(kRun, QStringLiteral("title"));
    QCOMPARE(image.size(), QSize(ParetoChartLayout::kWidth, ParetoChartLayout::kHeight));
    const ParetoChartLayout layout(kRun);
    const QColor on = image.pixelColor(layout.position(512, 0.875).toPoint());
    const QColor off = image.pixelColor(layout.position(256, 0.25).toPoint());
    QVERIFY2(on.green() > on.red() + 60, qPrintable(on.name()));
    QVERIFY2(std::abs(off.red() - off.green()) < 10 && off.red() < 200, qPrintable(off.name()));
    QTemporaryDir dir;
    writeParetoCharts(kRun, QStringLiteral("title"), dir.path());
    QCOMPARE(QImage(dir.filePath(QStringLiteral("pareto.png"))).size(), image.size());
    QVERIFY(QFile::exists(dir.filePath(QStringLiteral("pareto.svg"))));
}

void TestNeedlePareto::summariesByBytes()
{
    NeedleRunOutcome outcome;
    outcome.lengths = { 256 };
    outcome.depths = { 50 };
    outcome.grids = { grid("full", 1024, 8, 8), grid("latent:8", 128, 8, 2), grid("latent:16", 256, 8, 2) };
    const QStringList lines = needleSummaryTable(outcome).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), qsizetype(4));
    QVERIFY(lines[0].contains(QStringLiteral("Pareto")));
    QVERIFY(lines[1].startsWith(QStringLiteral("latent:8 ")));
    QVERIFY(lines[2].startsWith(QStringLiteral("latent:16 ")));
    QVERIFY(lines[3].startsWith(QStringLiteral("full ")));
    QVERIFY(lines[1].contains(QLatin1Char('*')));
    QVERIFY(!lines[2].contains(QLatin1Char('*'))); // twice latent:8's bytes, the same recall
    QVERIFY(lines[3].contains(QLatin1Char('*')));
    const nlohmann::json json = needleSummaryJson(outcome, QStringLiteral("out"));
    QCOMPARE(json["modes"][0]["mode"].get<std::string>(), std::string("latent:8"));
    QCOMPARE(json["modes"][1]["pareto"].get<bool>(), false);
    QCOMPARE(json["modes"][2]["pareto"].get<bool>(), true);

    // results.json's summary, from the trials alone.
    NeedleResults results;
    for (const auto &[mode, bytes, exact] :
        { std::tuple { "full", 1024, true }, std::tuple { "latent:8", 128, false } }) {
        NeedleTrial t;
        t.mode = mode;
        t.kvBytesPerToken = static_cast<std::uint64_t>(bytes);
        t.kvBytesTotal = static_cast<std::uint64_t>(bytes) * 300;
        t.kvTokens = 300;
        t.exact = exact;
        results.trials.push_back(t);
    }
    const nlohmann::json summary = results.toJson()["summary"];
    QCOMPARE(summary.size(), std::size_t(2));
    QCOMPARE(summary[0]["mode"].get<std::string>(), std::string("latent:8"));
    QCOMPARE(summary[1]["exact"].get<double>(), 1.0);
    QCOMPARE(summary[1]["pareto"].get<bool>(), true);
}

// An eviction mode adds 0 bytes per token once its window is full (MemoryStats::bytesPerToken);
// the chart and the summaries place it by the bytes its cache held per token of context instead,
// so it is neither dropped nor sorted before every other mode.
void TestNeedlePareto::evictionModesByBytesHeld()
{
    NeedleResults results;
    auto add = [&](const std::string &mode, std::int64_t length, std::uint64_t next, std::uint64_t total,
                   std::int64_t tokens, bool exact) {
        NeedleTrial t;
        t.mode = mode;
        t.length = length;
        t.depth = 50;
        t.variant = "single";
        t.trial = static_cast<int>(results.trials.size());
        t.kvBytesPerToken = next;
        t.kvBytesTotal = total;
        t.kvTokens = tokens;
        t.exact = exact;
        results.trials.push_back(t);
    };
    // full: 1024 B for each of 540 and 1030 tokens. The window keeps 260 rows of 1024 B in both.
    add("full", 512, 1024, 1024 * 540, 540, true);
    add("full", 1000, 1024, 1024 * 1030, 1030, true);
    add("full+window:256+sinks:4", 512, 0, 1024 * 260, 540, true);
    add("full+window:256+sinks:4", 1000, 0, 1024 * 260, 1030, false);
    // A trial from a file written before kv_tokens: 1,280,000 B at 640 B a token = 2000 tokens.
    add("latent:8", 1000, 640, 1'280'000, 0, false);
    QCOMPARE(needleTrialKvTokens(results.trials[4]), std::int64_t(2000));

    const std::vector<std::int64_t> lengths { 512, 1000 };
    const std::vector<int> depths { 50 };
    NeedleRunOutcome outcome;
    outcome.lengths = lengths;
    outcome.depths = depths;
    outcome.results = results;
    for (const std::string mode : { "full", "full+window:256+sinks:4", "latent:8" })
        outcome.grids.push_back(needleGrid(results, mode, lengths, depths));
    const double windowHeld = 2.0 * 1024 * 260 / (540 + 1030); // 339.16…
    QCOMPARE(outcome.grids[0].kvBytesHeldPerToken, 1024.0);
    QVERIFY(std::abs(outcome.grids[1].kvBytesHeldPerToken - windowHeld) < 1e-9);
    QCOMPARE(outcome.grids[1].kvBytesTotalTokens, std::int64_t(540)); // the first of the equal totals
    QCOMPARE(outcome.grids[2].kvBytesHeldPerToken, 640.0);
    QCOMPARE(outcome.grids[2].kvBytesTotalTokens, std::int64_t(2000));
    QVERIFY2(
        needleHeatmapTitle(outcome.grids[1]).startsWith(QStringLiteral("KV full+window:256+sinks:4 · 339 B/token · ")),
        qPrintable(needleHeatmapTitle(outcome.grids[1])));

    const std::vector<ParetoPoint> points = needleParetoPoints(outcome.grids);
    QCOMPARE(points.size(), std::size_t(3)); // the window is on the chart
    QCOMPARE(points[1].label, std::string("full+window:256+sinks:4"));
    QVERIFY(std::abs(points[1].bytesPerToken - windowHeld) < 1e-9);
    QCOMPARE(paretoFrontier(points), (std::vector<std::size_t> { 1, 0 })); // latent:8 is dominated

    const QStringList lines = needleSummaryTable(outcome).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), qsizetype(4));
    QVERIFY2(lines[1].startsWith(QStringLiteral("full+window:256+sinks:4 ")), qPrintable(lines[1]));
    QVERIFY2(lines[1].contains(QStringLiteral(" 339 ")), qPrintable(lines[1]));
    QVERIFY2(lines[2].startsWith(QStringLiteral("latent:8 ")), qPrintable(lines[2]));
    QVERIFY2(lines[3].startsWith(QStringLiteral("full ")), qPrintable(lines[3]));
    QVERIFY(lines[1].contains(QLatin1Char('*')));

    const nlohmann::json json = results.toJson();
    const nlohmann::json &summary = json["summary"];
    QCOMPARE(summary.size(), std::size_t(3));
    QCOMPARE(summary[0]["mode"].get<std::string>(), std::string("full+window:256+sinks:4"));
    QVERIFY(std::abs(summary[0]["kv_bytes_held_per_token"].get<double>() - windowHeld) < 1e-9);
    QCOMPARE(summary[0]["kv_bytes_per_token"].get<std::uint64_t>(), std::uint64_t(0));
    QCOMPARE(summary[0]["pareto"].get<bool>(), true);
    QCOMPARE(summary[1]["pareto"].get<bool>(), false);
    QCOMPARE(json["trials"][2]["kv_tokens"].get<std::int64_t>(), std::int64_t(540));
    const nlohmann::json runSummary = needleSummaryJson(outcome, QStringLiteral("out"));
    QVERIFY(std::abs(runSummary["modes"][0]["kv_bytes_held_per_token"].get<double>() - windowHeld) < 1e-9);
}

QTEST_MAIN(TestNeedlePareto)
#include "tst_needle_pareto.moc"
