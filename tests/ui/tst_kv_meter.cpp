// The KV Meter reacts to engine snapshots: figures, bars, per-layer bars, tokens/s and the chart
// follow MemoryCounters, polled at >= 10 Hz while another thread writes them.
#include "engine/memory_stats.h"
#include "kernels/device_info.h"
#include "ui/kv_meter.h"

#include <QLabel>
#include <QTest>

#include <atomic>
#include <thread>

using nw::MemoryCounters;
using nw::MemoryStats;
using nw::ui::KvMeter;

namespace {

// An MLA-shaped cache worked by hand: 4 layers, a 576-element f16 row (512 latent + 64 rope)
// = 1152 B per token and layer; the MHA f16 baseline is 16 heads × (192 + 128) × 2 B = 10240 B
// per token and layer.
constexpr std::uint64_t kRowBytes = 1152;
constexpr std::uint64_t kMhaRowBytes = 10240;
constexpr std::size_t kLayers = 4;

void writeTokens(MemoryCounters &counters, std::int64_t tokens)
{
    const std::int64_t blocks = (tokens + 63) / 64; // 64-token blocks
    counters.beginWrite();
    counters.setTokens(tokens, 4096);
    counters.setPerToken(kRowBytes * kLayers, kMhaRowBytes * kLayers);
    for (std::size_t l = 0; l < kLayers; ++l)
        counters.setLayer(l, std::uint64_t(tokens) * kRowBytes, std::uint64_t(blocks) * 64 * kRowBytes);
    counters.endWrite();
}

QString labelText(const KvMeter &meter, const char *name)
{
    auto *label = meter.findChild<QLabel *>(QString::fromLatin1(name));
    return label ? label->text() : QStringLiteral("<no label %1>").arg(QLatin1StringView(name));
}

} // namespace

class TestKvMeter : public QObject {
    Q_OBJECT
private slots:
    void showsFiguresOfASnapshot();
    void tokensPerSecondFromCacheGrowth_data();
    void tokensPerSecondFromCacheGrowth();
    void chartTakesAPointEveryQuarterSecond();
    void chartShowsGapsWhereNothingRan();
    void resetClearsEveryFigure();
    void pollsAtTenHertzWhileAnotherThreadWrites();
    void deviceRowIsShortWithoutAGpu();
};

void TestKvMeter::showsFiguresOfASnapshot()
{
    MemoryCounters counters(kLayers);
    counters.beginWrite();
    counters.setWeightsBytes(3u * 1024 * 1024 * 1024); // 3 GiB
    counters.endWrite();
    writeTokens(counters, 100);

    KvMeter meter;
    meter.showSnapshot(counters.snapshot(), 0);

    // used: 100 × 1152 × 4 = 460800 B = 450.0 KiB; reserved: 2 blocks × 64 × 1152 × 4 = 589824 B
    // = 576.0 KiB; baseline: 100 × 40960 = 4096000 B = 3.91 MiB; saving 40960 / 4608 = 8.89.
    QCOMPARE(labelText(meter, "KvUsed"), QStringLiteral("450.0 KiB"));
    QCOMPARE(labelText(meter, "KvReserved"), QStringLiteral("576.0 KiB"));
    QCOMPARE(labelText(meter, "KvBaseline"), QStringLiteral("3.91 MiB"));
    QCOMPARE(labelText(meter, "KvSaving"), QStringLiteral("8.89×"));
    QCOMPARE(labelText(meter, "KvWeights"), QStringLiteral("3.00 GiB"));
    QVERIFY2(labelText(meter, "KvTokens").startsWith(QStringLiteral("100 ")), qPrintable(labelText(meter, "KvTokens")));
    QVERIFY(labelText(meter, "KvTokens").contains(QStringLiteral("4,096"))
        || labelText(meter, "KvTokens").contains(QStringLiteral("4096")));

    const std::vector<double> f = meter.bytesBars()->fractions();
    QCOMPARE(f.size(), std::size_t(3));
    QVERIFY(qAbs(f[0] - 460800.0 / 4096000.0) < 1e-12);
    QVERIFY(qAbs(f[1] - 589824.0 / 4096000.0) < 1e-12);
    QCOMPARE(f[2], 1.0);

    QCOMPARE(meter.layerBars()->layers().size(), kLayers);
    for (const nw::LayerKvBytes &layer : meter.layerBars()->layers()) {
        QCOMPARE(layer.used, std::uint64_t(115200));
        QCOMPARE(layer.reserved, std::uint64_t(147456));
    }

    // An empty cache still shows the per-token saving of its layout.
    writeTokens(counters, 0);
    meter.showSnapshot(counters.snapshot(), 1000);
    QCOMPARE(labelText(meter, "KvUsed"), QStringLiteral("0 B"));
    QCOMPARE(labelText(meter, "KvSaving"), QStringLiteral("8.89×"));
}

void TestKvMeter::tokensPerSecondFromCacheGrowth_data()
{
    QTest::addColumn<QList<qint64>>("times");
    QTest::addColumn<QList<qint64>>("tokens");
    QTest::addColumn<double>("expected");
    QTest::addRow("50 tokens in half a second") << QList<qint64> { 0, 500 } << QList<qint64> { 0, 50 } << 100.0;
    QTest::addRow("steady decode") << QList<qint64> { 0, 250, 500, 750, 1000 } << QList<qint64> { 10, 15, 20, 25, 30 }
                                   << 20.0;
    // Only the last second counts: (200 - 100) tokens over 1500 - 500 ms.
    QTest::addRow("window of one second")
        << QList<qint64> { 0, 500, 1000, 1500 } << QList<qint64> { 0, 100, 150, 200 } << 100.0;
    QTest::addRow("idle cache") << QList<qint64> { 0, 500, 1000 } << QList<qint64> { 64, 64, 64 } << 0.0;
    QTest::addRow("truncated cache restarts the rate")
        << QList<qint64> { 0, 500, 600 } << QList<qint64> { 0, 400, 10 } << 0.0;
}

void TestKvMeter::tokensPerSecondFromCacheGrowth()
{
    QFETCH(QList<qint64>, times);
    QFETCH(QList<qint64>, tokens);
    QFETCH(double, expected);
    MemoryCounters counters(kLayers);
    KvMeter meter;
    for (qsizetype i = 0; i < times.size(); ++i) {
        writeTokens(counters, tokens[i]);
        meter.showSnapshot(counters.snapshot(), times[i]);
    }
    QVERIFY2(qAbs(meter.tokensPerSecond() - expected) < 1e-9,
        qPrintable(QStringLiteral("%1 vs %2").arg(meter.tokensPerSecond()).arg(expected)));
}

void TestKvMeter::chartTakesAPointEveryQuarterSecond()
{
    MemoryCounters counters(kLayers);
    KvMeter meter;
    meter.resetSeries();
    for (qint64 t : { 0, 100, 200, 300, 400, 550, 600 }) {
        writeTokens(counters, t / 10);
        meter.showSnapshot(counters.snapshot(), t);
    }
    QCOMPARE(meter.chartPointCount(), 3); // at 0, 300 and 550 ms
    meter.resetSeries();
    QCOMPARE(meter.chartPointCount(), 0);
}

// Each question is its own stretch of the chart: between two, nothing is drawn (no line from the
// last speed down to zero across the idle time), and the speed shown is 0 while nothing runs.
void TestKvMeter::chartShowsGapsWhereNothingRan()
{
    MemoryCounters counters(kLayers);
    writeTokens(counters, 10);
    KvMeter meter;
    std::int64_t tokens = 10;
    const auto source = [&] {
        tokens += 5; // the cache grows while a question runs
        writeTokens(counters, tokens);
        return counters.snapshot();
    };
    meter.setStatsSource(source);
    QTest::qWait(600);
    meter.clearStatsSource();
    QCOMPARE(labelText(meter, "KvRate"), QStringLiteral("0.0"));
    QTest::qWait(800); // idle
    meter.setStatsSource(source);
    QTest::qWait(600);
    meter.clearStatsSource();

    QCOMPARE(meter.chartStretchCount(), 2);
    const QList<QList<QPointF>> kv = meter.kvChartStretches();
    const QList<QList<QPointF>> rate = meter.rateChartStretches();
    QVERIFY(kv[0].size() >= 2 && kv[1].size() >= 2);
    QCOMPARE(rate[0].size(), kv[0].size());
    // The idle time lies between the stretches, in neither.
    QVERIFY2(kv[1].front().x() - kv[0].back().x() >= 0.7,
        qPrintable(QStringLiteral("%1 s .. %2 s").arg(kv[0].back().x()).arg(kv[1].front().x())));
    // The second stretch's speed is its own: it starts from its first poll, not from the first stretch.
    QVERIFY(rate[1].front().y() >= 0.0);
    QCOMPARE(meter.chartPointCount(), int(kv[0].size() + kv[1].size()));
    meter.resetSeries();
    QCOMPARE(meter.chartStretchCount(), 0);
}

// After a model change nothing of the last model's stays: bytes, speed, prefill, chart.
void TestKvMeter::resetClearsEveryFigure()
{
    MemoryCounters counters(kLayers);
    writeTokens(counters, 100);
    KvMeter meter;
    meter.setModelName(QStringLiteral("stories260K.gguf"));
    meter.showSnapshot(counters.snapshot(), 0);
    writeTokens(counters, 300);
    meter.showSnapshot(counters.snapshot(), 1000);
    meter.setPrefillProgress(241, 241);
    QVERIFY(meter.tokensPerSecond() > 0);
    QCOMPARE(meter.prefillText(), QStringLiteral("241 / 241 tokens"));
    QVERIFY(meter.chartPointCount() > 0);

    meter.reset();
    QCOMPARE(meter.lastSnapshot().kvBytesUsed, std::uint64_t(0));
    QCOMPARE(meter.lastSnapshot().tokens, std::int64_t(0));
    QCOMPARE(meter.tokensPerSecond(), 0.0);
    QCOMPARE(labelText(meter, "KvUsed"), QStringLiteral("0 B"));
    QCOMPARE(labelText(meter, "KvReserved"), QStringLiteral("0 B"));
    QCOMPARE(labelText(meter, "KvRate"), QStringLiteral("0.0"));
    QCOMPARE(labelText(meter, "KvSaving"), QStringLiteral("–"));
    QCOMPARE(meter.prefillText(), QString());
    QCOMPARE(meter.chartPointCount(), 0);
    QVERIFY(!meter.isPolling());
}

void TestKvMeter::pollsAtTenHertzWhileAnotherThreadWrites()
{
    MemoryCounters counters(kLayers);
    writeTokens(counters, 0);
    std::atomic<int> polls { 0 };
    std::atomic<bool> inconsistent { false };
    KvMeter meter;
    meter.setStatsSource([&] {
        ++polls;
        MemoryStats s = counters.snapshot();
        if (s.kvBytesUsed != std::uint64_t(s.tokens) * kRowBytes * kLayers)
            inconsistent = true;
        return s;
    });
    QVERIFY(meter.isPolling());

    std::atomic<bool> stop { false };
    std::atomic<std::int64_t> written { 0 };
    std::thread writer([&] {
        for (std::int64_t t = 1; !stop; t = t % 4096 + 1) {
            writeTokens(counters, t);
            written = t;
        }
    });
    const int before = polls;
    QTest::qWait(1000);
    const int inOneSecond = polls - before;
    stop = true;
    writer.join();
    QVERIFY2(inOneSecond >= 10, qPrintable(QStringLiteral("%1 polls in one second").arg(inOneSecond)));
    QVERIFY(!inconsistent);

    writeTokens(counters, 777);
    QTRY_COMPARE_WITH_TIMEOUT(meter.lastSnapshot().tokens, std::int64_t(777), 500);
    QVERIFY(labelText(meter, "KvTokens").startsWith(QStringLiteral("777")));
    meter.clearStatsSource();
    QVERIFY(!meter.isPolling());
}

void TestKvMeter::deviceRowIsShortWithoutAGpu()
{
    const nw::GpuInfo &info = nw::gpuInfo();
    if (!info.devices.empty())
        QSKIP("a GPU is present: the row shows the device instead");
    KvMeter meter;
    auto *row = meter.findChild<QLabel *>(QStringLiteral("KvDevice"));
    QVERIFY(row);
    // The reason in a few words; paths and driver messages only in the tooltip.
    QVERIFY2(row->text().startsWith(QStringLiteral("CPU (")) && !row->text().contains(QLatin1Char('/'))
            && row->text().size() <= 40,
        qPrintable(row->text()));
    QCOMPARE(row->toolTip(), QString::fromStdString(info.status));
}

QTEST_MAIN(TestKvMeter)
#include "tst_kv_meter.moc"
