// Polls a remote engine's /metrics for the KV Meter: one request at a time on a pool thread
// (cpp-httplib blocks), the next one kIntervalMs after the last answer. A server that does not
// answer is asked less and less often (the wait doubles up to kMaxIntervalMs) and back at
// kIntervalMs as soon as it answers again.
#pragma once

#include "app/remote_metrics.h"

#include <QDateTime>
#include <QObject>
#include <QString>

#include <functional>
#include <optional>

class QTimer;

namespace nw::ui {

class RemoteMetricsPoller : public QObject {
    Q_OBJECT
public:
    static constexpr int kIntervalMs = 2000;
    static constexpr int kMaxIntervalMs = 30000;
    static constexpr int kRequestSeconds = 3; // to connect, and again for the answer

    explicit RemoteMetricsPoller(QObject *parent = nullptr);

    // Starts (or restarts, for another server or key) with a request now. keyFile as the Chat
    // tab takes it ("" : $NEEDLEWORK_API_KEY, else none); it is read on the pool thread.
    void start(const QString &url, const QString &keyFile);
    // No more requests; the answer of one under way is dropped.
    void stop();
    bool isActive() const { return !m_url.isEmpty(); }
    QString url() const { return m_url; }
    // While it waits between two requests: asks now (e.g. when the meter comes into view).
    void pollNow();
    // Asked by the timer before each request: false skips this one (the timer keeps running).
    void setWanted(std::function<bool()> wanted) { m_wanted = std::move(wanted); }

    bool isReachable() const { return m_unreachableSince.isNull(); }
    QDateTime unreachableSince() const { return m_unreachableSince; } // null while it answers
    QString lastError() const { return m_lastError; } // why the latest request got no answer
    int intervalMs() const { return m_intervalMs; } // the wait before the next request
    int readings() const { return m_readings; } // answers so far, since start()

signals:
    // An answer: the figures the meter knows (nullopt: /metrics has none of them).
    void answered(const std::optional<nw::app::RemoteKvFigures> &figures);
    // No answer; `since` is the first request of this unanswered run.
    void unreachable(const QDateTime &since, const QString &error);

private:
    void request();
    void schedule();

    QString m_url;
    QString m_keyFile;
    std::function<bool()> m_wanted;
    QTimer *m_timer = nullptr;
    bool m_inFlight = false;
    quint64 m_generation = 0; // a restart or stop makes the answers of older requests stale
    QDateTime m_unreachableSince;
    QString m_lastError;
    int m_intervalMs = kIntervalMs;
    int m_readings = 0;
};

} // namespace nw::ui
