// Painting and polling for the KV Meter. Everything shown comes from MemoryStats (DESIGN.md:
// nothing is estimated twice); tokens/s is the growth of the cache's token count over time.
#include "ui/kv_meter.h"

#include "app/ask_report.h"
#include "ui/remote_metrics_poller.h"

#include <QChart>
#include <QChartView>
#include <QFormLayout>
#include <QLabel>
#include <QLegendMarker>
#include <QLineSeries>
#include <QPainter>
#include <QProgressBar>
#include <QRegularExpression>
#include <QScrollArea>
#include <QTimer>
#include <QVBoxLayout>
#include <QValueAxis>

#include <algorithm>

namespace nw::ui {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

QColor usedColor(const QPalette &palette)
{
    return palette.color(QPalette::Highlight);
}
QColor reservedColor(const QPalette &palette)
{
    QColor c = palette.color(QPalette::Highlight);
    c.setAlphaF(0.35f);
    return c;
}
QColor baselineColor()
{
    return QColor(0xd0, 0x60, 0x40);
}

// Without a GPU, the row names the reason in a few words ("CPU (no CUDA device)"); the whole
// status, with paths and driver messages, is the row's tooltip (and in `needlework doctor`).
QString deviceText()
{
    const app::DeviceStatus device = app::deviceStatus();
    if (!device.gpu) {
        const qsizetype cut = device.status.indexOf(QRegularExpression(QStringLiteral("[(:]")));
        return QObject::tr("CPU (%1)").arg(cut > 0 ? device.status.left(cut).trimmed() : device.status);
    }
    return QObject::tr("%1: %2 free of %3")
        .arg(device.name, app::formatBytes(device.freeBytes), app::formatBytes(device.totalBytes));
}

} // namespace

KvBytesBars::KvBytesBars(QWidget *parent)
    : QWidget(parent)
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
    const std::uint64_t longest = std::max({ m_used, m_reserved, m_baseline });
    if (longest == 0)
        return { 0.0, 0.0, 0.0 };
    const auto frac = [&](std::uint64_t v) { return static_cast<double>(v) / static_cast<double>(longest); };
    return { frac(m_used), frac(m_reserved), frac(m_baseline) };
}

QSize KvBytesBars::sizeHint() const
{
    return { 240, 3 * (fontMetrics().height() + 6) + 4 };
}

void KvBytesBars::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    const std::vector<double> f = fractions();
    const QString names[] = { tr("used"), tr("reserved"), tr("MHA f16") };
    const std::uint64_t values[] = { m_used, m_reserved, m_baseline };
    const QColor colors[] = { usedColor(palette()), reservedColor(palette()), baselineColor() };
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
            app::formatBytes(values[i]));
    }
}

LayerBars::LayerBars(QWidget *parent)
    : QWidget(parent)
{
    setObjectName(QStringLiteral("LayerBars"));
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    setToolTip(tr("KV bytes per layer: filled = used, outline = reserved blocks"));
}

void LayerBars::setLayers(const std::vector<app::LayerKvBytes> &layers)
{
    const bool same = layers.size() == m_layers.size()
        && std::equal(layers.begin(), layers.end(), m_layers.begin(),
            [](const auto &a, const auto &b) { return a.used == b.used && a.reserved == b.reserved; });
    if (same)
        return;
    m_layers = layers;
    update();
}

QSize LayerBars::sizeHint() const
{
    return { 240, 64 };
}

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
        top = std::max({ top, l.used, l.reserved });
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

KvMeter::KvMeter(QWidget *parent)
    : QWidget(parent)
{
    setObjectName(QStringLiteral("KvMeter"));
    // Everything scrolls inside the tab: the meter never asks the window for more height than
    // the screen has.
    auto *outer = new QVBoxLayout(this);
    outer->setContentsMargins(0, 0, 0, 0);
    auto *scroll = new QScrollArea(this);
    scroll->setObjectName(QStringLiteral("KvMeterScroll"));
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    outer->addWidget(scroll);
    auto *content = new QWidget(scroll);
    scroll->setWidget(content);
    auto *layout = new QVBoxLayout(content);

    m_saving = new QLabel(QStringLiteral("–"), content);
    m_saving->setObjectName(QStringLiteral("KvSaving"));
    QFont big = m_saving->font();
    big.setPointSizeF(big.pointSizeF() * 2.0);
    big.setBold(true);
    m_saving->setFont(big);
    m_saving->setToolTip(tr("How many times less KV memory than plain multi-head attention in f16"));
    auto *savingCaption = new QLabel(tr("less KV memory than MHA f16"), content);
    savingCaption->setWordWrap(true);
    auto *savingRow = new QHBoxLayout;
    savingRow->addWidget(m_saving);
    savingRow->addWidget(savingCaption, 1);
    layout->addLayout(savingRow);

    m_bars = new KvBytesBars(content);
    layout->addWidget(m_bars);
    layout->addWidget(new QLabel(tr("Per layer"), content));
    m_layerBars = new LayerBars(content);
    layout->addWidget(m_layerBars);

    auto *form = new QFormLayout;
    form->setRowWrapPolicy(QFormLayout::WrapLongRows);
    m_model = addFigure(form, tr("Model"), QStringLiteral("KvModel"));
    m_model->setText(tr("none (extractive answers)"));
    m_model->setWordWrap(true);
    m_used = addFigure(form, tr("KV used"), QStringLiteral("KvUsed"));
    m_used->setToolTip(tr("The bytes of the tokens in the cache now"));
    m_reserved = addFigure(form, tr("KV reserved"), QStringLiteral("KvReserved"));
    m_baseline = addFigure(form, tr("MHA f16 baseline"), QStringLiteral("KvBaseline"));
    m_baseline->setToolTip(tr("What the same tokens would take with plain multi-head attention in f16"));
    m_tokens = addFigure(form, tr("Context tokens"), QStringLiteral("KvTokens"));
    m_perToken = addFigure(form, tr("Bytes per token"), QStringLiteral("KvPerToken"));
    m_perToken->setWordWrap(true);
    m_rate = addFigure(form, tr("Tokens/s"), QStringLiteral("KvRate"));
    m_rate->setToolTip(tr("How fast the cache grew over the last second of a question; 0 when nothing runs"));
    m_weights = addFigure(form, tr("Weights"), QStringLiteral("KvWeights"));
    m_device = addFigure(form, tr("Device"), QStringLiteral("KvDevice"));
    m_device->setText(deviceText());
    m_device->setToolTip(app::deviceStatus().status);
    m_device->setWordWrap(true);
    m_server = addFigure(form, tr("Server"), QStringLiteral("KvServer"));
    m_server->setText(tr("in process"));
    m_server->setWordWrap(true);
    m_server->setToolTip(tr("A remote engine's KV figures, from its /metrics every few seconds while this tab shows"));
    m_serverPoller = new RemoteMetricsPoller(this);
    m_serverPoller->setWanted([this] { return isVisible(); });
    connect(m_serverPoller, &RemoteMetricsPoller::answered, this, &KvMeter::showRemoteFigures);
    connect(m_serverPoller, &RemoteMetricsPoller::unreachable, this, &KvMeter::showServerUnreachable);
    m_prefill = new QProgressBar(content);
    m_prefill->setObjectName(QStringLiteral("KvPrefill"));
    m_prefill->setRange(0, 1);
    m_prefill->setValue(0);
    m_prefill->setTextVisible(false);
    form->addRow(tr("Prefill"), m_prefill);
    layout->addLayout(form);
    m_reservedNote = new QLabel(content);
    m_reservedNote->setObjectName(QStringLiteral("KvReservedNote"));
    m_reservedNote->setWordWrap(true);
    QFont small = m_reservedNote->font();
    small.setPointSizeF(small.pointSizeF() * 0.9);
    m_reservedNote->setFont(small);
    m_reservedNote->setText(tr("Used: the bytes of the cached tokens. Reserved: what the cache has allocated for "
                               "them — whole blocks of 64 tokens per layer, each rounded up to whole memory pages (on "
                               "a GPU, the whole context at once), so reserved is at least used."));
    layout->addWidget(m_reservedNote);

    auto *chart = new QChart;
    chart->legend()->setAlignment(Qt::AlignBottom);
    chart->setMargins(QMargins(2, 2, 2, 2));
    chart->setBackgroundRoundness(0);
    QFont axisFont = font();
    axisFont.setPointSizeF(axisFont.pointSizeF() * 0.85);
    m_timeAxis = new QValueAxis;
    m_timeAxis->setLabelFormat(QStringLiteral("%.0f s"));
    m_timeAxis->setLabelsFont(axisFont);
    m_timeAxis->setTickCount(4);
    m_timeAxis->setRange(0, 10);
    m_kvAxis = new QValueAxis;
    m_kvAxis->setLabelFormat(QStringLiteral("%.1f"));
    m_kvAxis->setLabelsFont(axisFont);
    m_kvAxis->setTickCount(4);
    m_kvAxis->setRange(0, 1);
    m_rateAxis = new QValueAxis;
    m_rateAxis->setLabelFormat(QStringLiteral("%.0f"));
    m_rateAxis->setLabelsFont(axisFont);
    m_rateAxis->setTickCount(4);
    m_rateAxis->setRange(0, 1);
    chart->addAxis(m_timeAxis, Qt::AlignBottom);
    chart->addAxis(m_kvAxis, Qt::AlignLeft);
    chart->addAxis(m_rateAxis, Qt::AlignRight);
    m_chartView = new QChartView(chart, content);
    m_chartView->setObjectName(QStringLiteral("KvChart"));
    m_chartView->setRenderHint(QPainter::Antialiasing);
    m_chartView->setMinimumHeight(180);
    m_chartView->setToolTip(
        tr("KV used (MiB, left) and tokens/s (right) while questions ran or a server was read; gaps: nothing ran"));
    layout->addWidget(m_chartView, 1);

    m_timer = new QTimer(this);
    m_timer->setInterval(kPollIntervalMs);
    connect(m_timer, &QTimer::timeout, this, &KvMeter::poll);
    m_clock.start();
    reset();
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
    const bool wasPolling = isPolling();
    m_source = std::move(source);
    if (m_source) {
        if (!wasPolling) {
            beginStretch();
            m_rateWindow.clear(); // the speed of this question only
        }
        m_timer->start();
        poll();
    } else {
        m_timer->stop();
        m_stretchOpen = false; // the next poll starts a new stretch: the chart shows the idle time as a gap
        m_rateWindow.clear();
        m_tokensPerSecond = 0.0;
        m_rate->setText(QStringLiteral("0.0"));
    }
}

void KvMeter::clearStatsSource()
{
    setStatsSource({});
}

bool KvMeter::isPolling() const
{
    return m_timer->isActive();
}

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
    m_saving->setText(app::formatSaving(stats.savingVsMha()));
    m_used->setText(app::formatBytes(stats.kvBytesUsed));
    m_reserved->setText(app::formatBytes(stats.kvBytesReserved));
    m_baseline->setText(app::formatBytes(stats.mhaF16Bytes));
    m_tokens->setText(stats.capacityTokens > 0 ? tr("%L1 of %L2").arg(stats.tokens).arg(stats.capacityTokens)
                                               : QStringLiteral("%L1").arg(stats.tokens));
    m_reserved->setToolTip(stats.kvBytesUsed > 0
            ? tr("%1 allocated for %2 used (%3 %)")
                  .arg(app::formatBytes(stats.kvBytesReserved), app::formatBytes(stats.kvBytesUsed))
                  .arg(qRound(100.0 * static_cast<double>(stats.kvBytesUsed)
                      / static_cast<double>(std::max<std::uint64_t>(stats.kvBytesReserved, 1))))
            : QString());
    m_perToken->setText(tr("%L1 B (MHA f16: %L2 B)").arg(stats.bytesPerToken).arg(stats.mhaF16BytesPerToken));
    m_rate->setText(QStringLiteral("%1").arg(m_tokensPerSecond, 0, 'f', 1));
    m_weights->setText(stats.weightsBytes > 0 ? app::formatBytes(stats.weightsBytes) : QStringLiteral("–"));
    appendChartPoint(elapsedMs);
}

void KvMeter::beginStretch()
{
    Stretch st;
    st.kv = new QLineSeries(this);
    st.kv->setName(tr("KV used (MiB)"));
    st.rate = new QLineSeries(this);
    st.rate->setName(tr("tokens/s"));
    QChart *chart = m_chartView->chart();
    chart->addSeries(st.kv);
    chart->addSeries(st.rate);
    st.kv->attachAxis(m_timeAxis);
    st.kv->attachAxis(m_kvAxis);
    st.rate->attachAxis(m_timeAxis);
    st.rate->attachAxis(m_rateAxis);
    if (!m_stretches.empty()) {
        // One legend entry per quantity, in the first stretch's colours.
        st.kv->setColor(m_stretches.front().kv->color());
        st.rate->setColor(m_stretches.front().rate->color());
        for (QLegendMarker *marker : chart->legend()->markers(st.kv) + chart->legend()->markers(st.rate))
            marker->setVisible(false);
    }
    m_stretches.push_back(st);
    m_stretchOpen = true;
    m_lastChartMs = -1;
}

void KvMeter::appendChartPoint(qint64 elapsedMs)
{
    if (m_lastChartMs >= 0 && elapsedMs - m_lastChartMs < kChartIntervalMs)
        return;
    if (!m_stretchOpen)
        beginStretch();
    m_lastChartMs = elapsedMs;
    const double t = static_cast<double>(elapsedMs) / 1000.0;
    const double kvMiB = static_cast<double>(m_last.kvBytesUsed) / kMiB;
    if (static_cast<std::size_t>(chartPointCount()) >= kMaxChartPoints) {
        Stretch &oldest = m_stretches.front();
        oldest.kv->remove(0);
        oldest.rate->remove(0);
        if (oldest.kv->count() == 0 && m_stretches.size() > 1) {
            m_chartView->chart()->removeSeries(oldest.kv);
            m_chartView->chart()->removeSeries(oldest.rate);
            delete oldest.kv;
            delete oldest.rate;
            m_stretches.pop_front();
        }
    }
    Stretch &now = m_stretches.back();
    now.kv->append(t, kvMiB);
    now.rate->append(t, m_tokensPerSecond);
    const double t0 = m_stretches.front().kv->count() > 0 ? m_stretches.front().kv->at(0).x() : t;
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

int KvMeter::chartPointCount() const
{
    int n = 0;
    for (const Stretch &st : m_stretches)
        n += static_cast<int>(st.kv->count());
    return n;
}

QList<QList<QPointF>> KvMeter::kvChartStretches() const
{
    QList<QList<QPointF>> out;
    for (const Stretch &st : m_stretches)
        out << st.kv->points();
    return out;
}

QList<QList<QPointF>> KvMeter::rateChartStretches() const
{
    QList<QList<QPointF>> out;
    for (const Stretch &st : m_stretches)
        out << st.rate->points();
    return out;
}

QString KvMeter::modelName() const
{
    return m_model->text();
}

QString KvMeter::prefillText() const
{
    return m_prefill->maximum() > 1 || m_prefill->value() > 0
        ? tr("%1 / %2 tokens").arg(m_prefill->value()).arg(m_prefill->maximum())
        : QString();
}

void KvMeter::setPrefillProgress(qint64 done, qint64 total)
{
    m_prefill->setRange(0, static_cast<int>(std::max<qint64>(total, 1)));
    m_prefill->setValue(static_cast<int>(std::clamp<qint64>(done, 0, std::max<qint64>(total, 1))));
    m_prefill->setTextVisible(true);
    m_prefill->setFormat(tr("%v / %m tokens"));
}

void KvMeter::setModelName(const QString &name)
{
    m_model->setText(name.isEmpty() ? tr("none (extractive answers)") : name);
}

void KvMeter::showRemoteFigures(const std::optional<app::RemoteKvFigures> &figures)
{
    if (isPolling())
        clearStatsSource(); // the server's cache, not this process's
    m_lastServerReading = QDateTime::currentDateTime();
    m_server->setToolTip(tr("Read from the server's /metrics at %1").arg(m_lastServerReading.toString(Qt::ISODate)));
    if (!figures) {
        m_server->setText(tr("the server's /metrics gives no KV figure the meter knows"));
        return;
    }
    const app::RemoteKvFigures &f = *figures;
    app::MemoryStats stats;
    stats.kvBytesUsed = f.bytesUsed.value_or(0);
    stats.kvBytesReserved = f.bytesReserved.value_or(0);
    stats.mhaF16Bytes = f.mhaF16Bytes.value_or(0);
    stats.tokens = f.tokensCached.value_or(0);
    stats.capacityTokens = f.capacityTokens.value_or(0);
    showSnapshot(stats, m_clock.elapsed());
    m_server->setText(QString::fromStdString(app::remoteKvLine(f)));
}

void KvMeter::showServerUnreachable(const QDateTime &since, const QString &error)
{
    m_stretchOpen = false; // the chart shows the silence as a gap
    QString text = tr("unreachable since %1").arg(since.toString(QStringLiteral("HH:mm:ss")));
    if (!m_lastServerReading.isNull())
        text += tr("; the figures above are from %1").arg(m_lastServerReading.toString(QStringLiteral("HH:mm:ss")));
    m_server->setText(text);
    m_server->setToolTip(tr("%1 — asked again every %2 s").arg(error).arg(m_serverPoller->intervalMs() / 1000));
}

void KvMeter::pollServer(const QString &url, const QString &keyFile)
{
    m_lastServerReading = {};
    m_server->setText(tr("asking %1 for its /metrics").arg(url));
    m_serverPoller->start(url, keyFile);
}

void KvMeter::stopServerPolling()
{
    m_serverPoller->stop();
    m_lastServerReading = {};
    m_server->setText(tr("in process"));
}

bool KvMeter::isPollingServer() const
{
    return m_serverPoller->isActive();
}

void KvMeter::showEvent(QShowEvent *event)
{
    QWidget::showEvent(event);
    m_serverPoller->pollNow(); // no request went while the tab was out of view
}

QString KvMeter::serverText() const
{
    return m_server->text();
}

void KvMeter::resetSeries()
{
    for (const Stretch &st : m_stretches) {
        m_chartView->chart()->removeSeries(st.kv);
        m_chartView->chart()->removeSeries(st.rate);
        delete st.kv;
        delete st.rate;
    }
    m_stretches.clear();
    m_stretchOpen = false;
    m_rateWindow.clear();
    m_tokensPerSecond = 0.0;
    m_lastChartMs = -1;
    m_kvAxisMax = 1.0;
    m_rateAxisMax = 1.0;
    m_kvAxis->setRange(0, 1);
    m_rateAxis->setRange(0, 1);
    m_timeAxis->setRange(0, 10);
}

void KvMeter::reset()
{
    clearStatsSource();
    showSnapshot(app::MemoryStats {}, m_clock.elapsed());
    resetSeries(); // the empty snapshot above only fills the labels; it is not a measurement
    m_rate->setText(QStringLiteral("0.0"));
    m_prefill->setRange(0, 1);
    m_prefill->setValue(0);
    m_prefill->setTextVisible(false);
    if (!isPollingServer())
        m_server->setText(tr("in process"));
}

} // namespace nw::ui
