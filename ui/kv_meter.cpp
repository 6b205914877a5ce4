// Painting and polling for the KV Meter. Everything shown comes from MemoryStats (DESIGN.md:
// nothing is estimated twice); tokens/s is the growth of the cache's token count over time.
#include "ui/kv_meter.h"

#include "ui/byte_format.h"

#include <QChart>
#include <QChartView>
#include <QFormLayout>
#include <QLabel>
#include <QLineSeries>
#include <QPainter>
#include <QProgressBar>
#include <QRegularExpression>
#include <QTimer>
#include <QValueAxis>
#include <QVBoxLayout>

#include <algorithm>

namespace nw::ui {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

QColor usedColor(const QPalette &palette) { return palette.color(QPalette::Highlight); }
QColor reservedColor(const QPalette &palette)
{
    QColor c = palette.color(QPalette::Highlight);
    c.setAlphaF(0.35f);
    return c;
}
QColor baselineColor() { return QColor(0xd0, 0x60, 0x40); }

// Without a GPU, the row names the reason in a few words ("CPU (no CUDA device)"); the whole
// status, with paths and driver messages, is the row's tooltip (and in `needlework doctor`).
QString deviceText()
{
    const app::DeviceStatus device = app::deviceStatus();
    if (!device.gpu) {
        const qsizetype cut = device.status.indexOf(QRegularExpression(QStringLiteral("[(:]")));
        return QObject::tr("CPU (%1)").arg(cut > 0 ? device.status.left(cut).trimmed() : device.status);
    }
    return QObject::tr("%1: %2 free of %3").arg(device.name, formatByteCount(device.freeBytes), formatByteCount(device.totalBytes));
}

} // namespace

KvBytesBars::KvBytesBars(QWidget *parent) : QWidget(parent)
{
    setObjectName(QStringLiteral("KvBytesBars"));
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
}

void KvBytesBars::setBytes(std::uint64_t used, std::uint64_t reserved, std::uint64_t mhaBaseline)
{
    if (used == m_used && reserved == m_reserved && mhaBaseline == m_baseline)
        return;
    m_used = used;
    m_reserved = reserved;
    m_baseline = mhaBaseline;
    update();
}

std::vector<double> KvBytesBars::fractions() const
{
    const std::uint64_t longest = std::max({m_used, m_reserved, m_baseline});
    if (longest == 0)
        return {0.0, 0.0, 0.0};
    const auto frac = [&](std::uint64_t v) { return static_cast<double>(v) / static_cast<double>(longest); };
    return {frac(m_used), frac(m_reserved), frac(m_baseline)};
}

QSize KvBytesBars::sizeHint() const { return {240, 3 * (fontMetrics().height() + 6) + 4}; }

void KvBytesBars::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    const std::vector<double> f = fractions();
    const QString names[] = {tr("used"), tr("reserved"), tr("MHA f16")};
    const std::uint64_t values[] = {m_used, m_reserved, m_baseline};
    const QColor colors[] = {usedColor(palette()), reservedColor(palette()), baselineColor()};
    const int rowH = fontMetrics().height() + 6;
    const int labelW = fontMetrics().horizontalAdvance(tr("MHA f16")) + 8;
    const int barW = std::max(10, width() - labelW - 2);
    for (int i = 0; i < 3; ++i) {
        const QRect row(0, 2 + i * rowH, width(), rowH - 2);
        p.setPen(palette().color(QPalette::WindowText));
        p.drawText(QRect(row.left(), row.top(), labelW, row.height()), Qt::AlignVCenter | Qt::AlignLeft, names[i]);
        const QRect bar(labelW, row.top() + 1, std::max(values[i] > 0 ? 1 : 0, int(f[i] * barW)), row.height() - 2);
        p.fillRect(bar, colors[i]);
        p.setPen(palette().color(QPalette::WindowText));
        p.drawText(QRect(labelW + 4, row.top(), barW - 4, row.height()), Qt::AlignVCenter | Qt::AlignLeft,
                   formatByteCount(values[i]));
    }
}

LayerBars::LayerBars(QWidget *parent) : QWidget(parent)
{
    setObjectName(QStringLiteral("LayerBars"));
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    setToolTip(tr("KV bytes per layer: filled = used, outline = reserved blocks"));
}

void LayerBars::setLayers(const std::vector<app::LayerKvBytes> &layers)
{
    const bool same = layers.size() == m_layers.size() &&
                      std::equal(layers.begin(), layers.end(), m_layers.begin(), [](const auto &a, const auto &b) {
                          return a.used == b.used && a.reserved == b.reserved;
                      });
    if (same)
        return;
    m_layers = layers;
    update();
}

QSize LayerBars::sizeHint() const { return {240, 64}; }

void LayerBars::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    if (m_layers.empty()) {
        p.setPen(palette().color(QPalette::PlaceholderText));
        p.drawText(rect(), Qt::AlignCenter, tr("no layers yet"));
        return;
    }
    std::uint64_t top = 0;
    for (const app::LayerKvBytes &l : m_layers)
        top = std::max({top, l.used, l.reserved});
    if (top == 0)
        top = 1;
    const double slot = static_cast<double>(width()) / static_cast<double>(m_layers.size());
    const int h = height() - 2;
    for (std::size_t i = 0; i < m_layers.size(); ++i) {
        const int x = int(i * slot);
        const int w = std::max(1, int(slot) - (slot > 3 ? 1 : 0));
        const int hr = int(static_cast<double>(m_layers[i].reserved) / static_cast<double>(top) * h);
        const int hu = int(static_cast<double>(m_layers[i].used) / static_cast<double>(top) * h);
        p.fillRect(QRect(x, height() - 1 - hr, w, hr), reservedColor(palette()));
        p.fillRect(QRect(x, height() - 1 - hu, w, hu), usedColor(palette()));
    }
}

KvMeter::KvMeter(QWidget *parent) : QWidget(parent)
{
    setObjectName(QStringLiteral("KvMeter"));
    auto *layout = new QVBoxLayout(this);

    m_saving = new QLabel(QStringLiteral("–"), this);
    m_saving->setObjectName(QStringLiteral("KvSaving"));
    QFont big = m_saving->font();
    big.setPointSizeF(big.pointSizeF() * 2.0);
    big.setBold(true);
    m_saving->setFont(big);
    m_saving->setToolTip(tr("How many times less KV memory than plain multi-head attention in f16"));
    auto *savingCaption = new QLabel(tr("less KV memory than MHA f16"), this);
    auto *savingRow = new QHBoxLayout;
    savingRow->addWidget(m_saving);
    savingRow->addWidget(savingCaption, 1);
    layout->addLayout(savingRow);

    m_bars = new KvBytesBars(this);
    layout->addWidget(m_bars);
    layout->addWidget(new QLabel(tr("Per layer"), this));
    m_layerBars = new LayerBars(this);
    layout->addWidget(m_layerBars);

    auto *form = new QFormLayout;
    m_model = addFigure(form, tr("Model"), QStringLiteral("KvModel"));
    m_model->setText(tr("none (extractive answers)"));
    m_used = addFigure(form, tr("KV used"), QStringLiteral("KvUsed"));
    m_reserved = addFigure(form, tr("KV reserved"), QStringLiteral("KvReserved"));
    m_baseline = addFigure(form, tr("MHA f16 baseline"), QStringLiteral("KvBaseline"));
    m_tokens = addFigure(form, tr("Context tokens"), QStringLiteral("KvTokens"));
    m_perToken = addFigure(form, tr("Bytes per token"), QStringLiteral("KvPerToken"));
    m_rate = addFigure(form, tr("Tokens/s"), QStringLiteral("KvRate"));
    m_weights = addFigure(form, tr("Weights"), QStringLiteral("KvWeights"));
    m_device = addFigure(form, tr("Device"), QStringLiteral("KvDevice"));
    m_device->setText(deviceText());
    m_device->setToolTip(app::deviceStatus().status);
    m_device->setWordWrap(true);
    m_prefill = new QProgressBar(this);
    m_prefill->setObjectName(QStringLiteral("KvPrefill"));
    m_prefill->setRange(0, 1);
    m_prefill->setValue(0);
    m_prefill->setFormat(tr("%v / %m tokens"));
    form->addRow(tr("Prefill"), m_prefill);
    layout->addLayout(form);

    m_kvSeries = new QLineSeries(this);
    m_kvSeries->setName(tr("KV used (MiB)"));
    m_rateSeries = new QLineSeries(this);
    m_rateSeries->setName(tr("tokens/s"));
    auto *chart = new QChart;
    chart->addSeries(m_kvSeries);
    chart->addSeries(m_rateSeries);
    chart->legend()->setAlignment(Qt::AlignBottom);
    chart->setMargins(QMargins(2, 2, 2, 2));
    chart->setBackgroundRoundness(0);
    m_timeAxis = new QValueAxis;
    m_timeAxis->setTitleText(tr("s"));
    m_timeAxis->setLabelFormat(QStringLiteral("%.0f"));
    m_timeAxis->setRange(0, 10);
    m_kvAxis = new QValueAxis;
    m_kvAxis->setLabelFormat(QStringLiteral("%.1f"));
    m_kvAxis->setRange(0, 1);
    m_rateAxis = new QValueAxis;
    m_rateAxis->setLabelFormat(QStringLiteral("%.0f"));
    m_rateAxis->setRange(0, 1);
    chart->addAxis(m_timeAxis, Qt::AlignBottom);
    chart->addAxis(m_kvAxis, Qt::AlignLeft);
    chart->addAxis(m_rateAxis, Qt::AlignRight);
    m_kvSeries->attachAxis(m_timeAxis);
    m_kvSeries->attachAxis(m_kvAxis);
    m_rateSeries->attachAxis(m_timeAxis);
    m_rateSeries->attachAxis(m_rateAxis);
    m_chartView = new QChartView(chart, this);
    m_chartView->setObjectName(QStringLiteral("KvChart"));
    m_chartView->setRenderHint(QPainter::Antialiasing);
    m_chartView->setMinimumHeight(160);
    layout->addWidget(m_chartView, 1);

    m_timer = new QTimer(this);
    m_timer->setInterval(kPollIntervalMs);
    connect(m_timer, &QTimer::timeout, this, &KvMeter::poll);
    m_clock.start();
    showSnapshot(app::MemoryStats{}, 0);
    resetSeries(); // the empty snapshot above only fills the labels; it is not a measurement
}

QLabel *KvMeter::addFigure(QFormLayout *form, const QString &title, const QString &objectName)
{
    auto *label = new QLabel(QStringLiteral("–"), this);
    label->setObjectName(objectName);
    label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    form->addRow(title, label);
    return label;
}

void KvMeter::setStatsSource(StatsSource source)
{
    m_source = std::move(source);
    if (m_source) {
        m_timer->start();
        poll();
    } else {
        m_timer->stop();
    }
}

void KvMeter::clearStatsSource() { setStatsSource({}); }

bool KvMeter::isPolling() const { return m_timer->isActive(); }

void KvMeter::poll()
{
    if (m_source)
        showSnapshot(m_source(), m_clock.elapsed());
}

void KvMeter::updateRate(std::int64_t tokens, qint64 elapsedMs)
{
    if (!m_rateWindow.empty() && tokens < m_rateWindow.back().second)
        m_rateWindow.clear(); // the cache was truncated or a new session began
    m_rateWindow.emplace_back(elapsedMs, tokens);
    while (m_rateWindow.size() > 2 && elapsedMs - m_rateWindow.front().first > kRateWindowMs)
        m_rateWindow.pop_front();
    const auto &[t0, n0] = m_rateWindow.front();
    const qint64 dt = elapsedMs - t0;
    m_tokensPerSecond = dt > 0 ? static_cast<double>(tokens - n0) * 1000.0 / static_cast<double>(dt) : 0.0;
}

void KvMeter::showSnapshot(const app::MemoryStats &stats, qint64 elapsedMs)
{
    updateRate(stats.tokens, elapsedMs);
    m_last = stats;
    m_bars->setBytes(stats.kvBytesUsed, stats.kvBytesReserved, stats.mhaF16Bytes);
    m_layerBars->setLayers(stats.layers);
    m_saving->setText(formatSaving(stats.savingVsMha()));
    m_used->setText(formatByteCount(stats.kvBytesUsed));
    m_reserved->setText(formatByteCount(stats.kvBytesReserved));
    m_baseline->setText(formatByteCount(stats.mhaF16Bytes));
    m_tokens->setText(stats.capacityTokens > 0 ? tr("%L1 of %L2").arg(stats.tokens).arg(stats.capacityTokens)
                                               : QStringLiteral("%L1").arg(stats.tokens));
    m_perToken->setText(tr("%L1 B (MHA f16: %L2 B)").arg(stats.bytesPerToken).arg(stats.mhaF16BytesPerToken));
    m_rate->setText(QStringLiteral("%1").arg(m_tokensPerSecond, 0, 'f', 1));
    m_weights->setText(stats.weightsBytes > 0 ? formatByteCount(stats.weightsBytes) : QStringLiteral("–"));
    appendChartPoint(elapsedMs);
}

void KvMeter::appendChartPoint(qint64 elapsedMs)
{
    if (m_lastChartMs >= 0 && elapsedMs - m_lastChartMs < kChartIntervalMs)
        return;
    m_lastChartMs = elapsedMs;
    const double t = static_cast<double>(elapsedMs) / 1000.0;
    const double kvMiB = static_cast<double>(m_last.kvBytesUsed) / kMiB;
    if (static_cast<std::size_t>(m_kvSeries->count()) >= kMaxChartPoints) {
        m_kvSeries->remove(0);
        m_rateSeries->remove(0);
    }
    m_kvSeries->append(t, kvMiB);
    m_rateSeries->append(t, m_tokensPerSecond);
    const double t0 = m_kvSeries->at(0).x();
    m_timeAxis->setRange(t0, std::max(t0 + 10.0, t));
    if (kvMiB > m_kvAxisMax) {
        m_kvAxisMax = kvMiB * 1.25;
        m_kvAxis->setRange(0, m_kvAxisMax);
    }
    if (m_tokensPerSecond > m_rateAxisMax) {
        m_rateAxisMax = m_tokensPerSecond * 1.25;
        m_rateAxis->setRange(0, m_rateAxisMax);
    }
}

int KvMeter::chartPointCount() const { return static_cast<int>(m_kvSeries->count()); }

void KvMeter::setPrefillProgress(qint64 done, qint64 total)
{
    m_prefill->setRange(0, static_cast<int>(std::max<qint64>(total, 1)));
    m_prefill->setValue(static_cast<int>(std::clamp<qint64>(done, 0, std::max<qint64>(total, 1))));
}

void KvMeter::setModelName(const QString &name)
{
    m_model->setText(name.isEmpty() ? tr("none (extractive answers)") : name);
}

void KvMeter::resetSeries()
{
    m_kvSeries->clear();
    m_rateSeries->clear();
    m_rateWindow.clear();
    m_tokensPerSecond = 0.0;
    m_lastChartMs = -1;
    m_kvAxisMax = 1.0;
    m_rateAxisMax = 1.0;
    m_kvAxis->setRange(0, 1);
    m_rateAxis->setRange(0, 1);
}

} // namespace nw::ui
