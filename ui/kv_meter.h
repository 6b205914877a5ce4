// The KV Meter tab's view: KV bytes used vs reserved (and why they differ) vs the plain MHA-f16
// baseline, per-layer bars, context tokens, prefill progress, tokens/s, weights and device
// memory, and a chart of KV bytes and tokens/s over the time something ran — one stretch per
// question, with gaps where nothing did. It polls MemoryStats snapshots (lock-free to read) on a
// QTimer, so the thread running the model never waits for the GUI. Every figure is the current
// model's: reset() clears them all when the model, its KV mode, context or device changes.
#pragma once

#include "app/model_settings.h"
#include "app/remote_metrics.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QList>
#include <QPointF>
#include <QWidget>

#include <deque>
#include <functional>
#include <optional>
#include <vector>

class QChartView;
class QFormLayout;
class QLabel;
class QLineSeries;
class QProgressBar;
class QTimer;
class QValueAxis;

namespace nw::ui {

class RemoteMetricsPoller;

// Three horizontal bars on one scale: used, reserved and the MHA-f16 baseline.
class KvBytesBars : public QWidget {
    Q_OBJECT
public:
    explicit KvBytesBars(QWidget *parent = nullptr);
    void setBytes(std::uint64_t used, std::uint64_t reserved, std::uint64_t mhaBaseline);
    // Bar lengths as fractions of the longest, in the order used, reserved, baseline.
    std::vector<double> fractions() const;
    QSize sizeHint() const override;

protected:
    void paintEvent(QPaintEvent *event) override;

private:
    std::uint64_t m_used = 0;
    std::uint64_t m_reserved = 0;
    std::uint64_t m_baseline = 0;
};

// One vertical bar per layer: the reserved blocks outlined, the used bytes filled.
class LayerBars : public QWidget {
    Q_OBJECT
public:
    explicit LayerBars(QWidget *parent = nullptr);
    void setLayers(const std::vector<app::LayerKvBytes> &layers);
    const std::vector<app::LayerKvBytes> &layers() const { return m_layers; }
    QSize sizeHint() const override;

protected:
    void paintEvent(QPaintEvent *event) override;

private:
    std::vector<app::LayerKvBytes> m_layers;
};

class KvMeter : public QWidget {
    Q_OBJECT
public:
    // Called on the GUI thread at every poll; must not block (MemoryCounters::snapshot does not).
    using StatsSource = std::function<app::MemoryStats()>;

    static constexpr int kPollIntervalMs = 50; // 20 Hz
    static constexpr int kChartIntervalMs = 250; // one chart point at most every 250 ms
    static constexpr int kRateWindowMs = 1000; // tokens/s over the last second
    static constexpr std::size_t kMaxChartPoints = 2400;

    explicit KvMeter(QWidget *parent = nullptr);

    // Polling starts a new stretch of the chart; clearing ends it (the chart shows a gap until the next).
    void setStatsSource(StatsSource source);
    void clearStatsSource();
    bool isPolling() const;

    // Shows one snapshot taken `elapsedMs` after the meter started. The poll calls this with its
    // own clock; tests call it with chosen times.
    void showSnapshot(const app::MemoryStats &stats, qint64 elapsedMs);

    const app::MemoryStats &lastSnapshot() const { return m_last; }
    double tokensPerSecond() const { return m_tokensPerSecond; }
    int chartPointCount() const;
    int chartStretchCount() const { return static_cast<int>(m_stretches.size()); }
    // The chart's points, per stretch, as (seconds, KV MiB) and (seconds, tokens/s).
    QList<QList<QPointF>> kvChartStretches() const;
    QList<QList<QPointF>> rateChartStretches() const;
    QString modelName() const;
    QString prefillText() const; // "241 / 241 tokens"; "" before any prefill
    // A remote engine's figures, read from its /metrics (app/remote_metrics.h): the bytes,
    // baseline and tokens where the server says them (ours), and every figure it gives in words on
    // the Server row; nullopt: it exports none the meter knows. Each reading is a chart point.
    void showRemoteFigures(const std::optional<app::RemoteKvFigures> &figures);
    QString serverText() const; // the Server row: "in process", or the server's figures
    // Polls the server's /metrics (ui/remote_metrics_poller.h) and shows each reading, also while
    // it answers; only while the meter is in view (showing it asks at once), so a hidden tab or a
    // closed window sends nothing. A server that stops answering shows "unreachable since
    // HH:MM:SS" until it answers again. keyFile as the Chat tab takes it.
    void pollServer(const QString &url, const QString &keyFile);
    void stopServerPolling(); // back to the in-process engine
    bool isPollingServer() const;
    RemoteMetricsPoller *serverPoller() const { return m_serverPoller; }
    KvBytesBars *bytesBars() const { return m_bars; }
    LayerBars *layerBars() const { return m_layerBars; }

public slots:
    void setPrefillProgress(qint64 done, qint64 total);
    void setModelName(const QString &name);
    void resetSeries();
    // Back to no figures: an empty snapshot, no rate, no prefill, an empty chart (the polling, if
    // any, stops). For a model change: the last model's bytes and speed are not this model's.
    void reset();

protected:
    void showEvent(QShowEvent *event) override;

private:
    void poll();
    void showServerUnreachable(const QDateTime &since, const QString &error);
    void updateRate(std::int64_t tokens, qint64 elapsedMs);
    void appendChartPoint(qint64 elapsedMs);
    void beginStretch();
    QLabel *addFigure(QFormLayout *form, const QString &title, const QString &objectName);

    StatsSource m_source;
    QTimer *m_timer = nullptr;
    QElapsedTimer m_clock;
    app::MemoryStats m_last;
    double m_tokensPerSecond = 0.0;
    std::deque<std::pair<qint64, std::int64_t>> m_rateWindow; // (ms, tokens)
    qint64 m_lastChartMs = -1;

    KvBytesBars *m_bars = nullptr;
    LayerBars *m_layerBars = nullptr;
    QLabel *m_saving = nullptr;
    QLabel *m_used = nullptr;
    QLabel *m_reserved = nullptr;
    QLabel *m_baseline = nullptr;
    QLabel *m_tokens = nullptr;
    QLabel *m_perToken = nullptr;
    QLabel *m_rate = nullptr;
    QLabel *m_weights = nullptr;
    QLabel *m_device = nullptr;
    QLabel *m_server = nullptr;
    RemoteMetricsPoller *m_serverPoller = nullptr;
    QDateTime m_lastServerReading; // null before the first
    QLabel *m_model = nullptr;
    QProgressBar *m_prefill = nullptr;
    QLabel *m_reservedNote = nullptr;
    QChartView *m_chartView = nullptr;
    struct Stretch {
        QLineSeries *kv = nullptr;
        QLineSeries *rate = nullptr;
    };
    std::deque<Stretch> m_stretches; // oldest first; the last one grows while polling
    bool m_stretchOpen = false;
    QValueAxis *m_timeAxis = nullptr;
    QValueAxis *m_kvAxis = nullptr;
    QValueAxis *m_rateAxis = nullptr;
    double m_kvAxisMax = 1.0;
    double m_rateAxisMax = 1.0;
};

} // namespace nw::ui
