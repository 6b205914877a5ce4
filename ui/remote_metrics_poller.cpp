// The poll loop: a single-shot timer between requests, a QFutureWatcher per request; a generation
// count tells the answer of a request made before the last start() or stop() from a current one.
#include "ui/remote_metrics_poller.h"

#include "app/remote_engine.h"
#include "common/error.h"

#include <QFutureWatcher>
#include <QTimer>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>

namespace nw::ui {

RemoteMetricsPoller::RemoteMetricsPoller(QObject *parent)
    : QObject(parent)
{
    m_timer = new QTimer(this);
    m_timer->setSingleShot(true);
    connect(m_timer, &QTimer::timeout, this, &RemoteMetricsPoller::request);
}

void RemoteMetricsPoller::start(const QString &url, const QString &keyFile)
{
    stop();
    m_url = url;
    m_keyFile = keyFile;
    if (!m_inFlight) // else the request under way, now stale, asks again when it ends
        request();
}

void RemoteMetricsPoller::stop()
{
    ++m_generation;
    m_timer->stop();
    m_url.clear();
    m_keyFile.clear();
    m_unreachableSince = {};
    m_lastError.clear();
    m_intervalMs = kIntervalMs;
    m_readings = 0;
}

void RemoteMetricsPoller::pollNow()
{
    if (isActive() && !m_inFlight) {
        m_timer->stop();
        request();
    }
}

void RemoteMetricsPoller::schedule()
{
    if (isActive())
        m_timer->start(m_intervalMs);
}

void RemoteMetricsPoller::request()
{
    if (!isActive() || m_inFlight)
        return;
    if (m_wanted && !m_wanted()) {
        m_timer->start(kIntervalMs); // nobody looks: ask again later, not at the back-off pace
        return;
    }
    m_inFlight = true;
    const quint64 generation = m_generation;
    const QDateTime sent = QDateTime::currentDateTime();
    auto *watcher = new QFutureWatcher<app::RemoteMetricsReading>(this);
    connect(watcher, &QFutureWatcher<app::RemoteMetricsReading>::finished, this, [this, watcher, generation, sent] {
        watcher->deleteLater();
        m_inFlight = false;
        if (generation != m_generation) { // started again or stopped meanwhile
            if (isActive())
                request();
            return;
        }
        const app::RemoteMetricsReading reading = watcher->result();
        if (reading.answered) {
            m_unreachableSince = {};
            m_lastError.clear();
            m_intervalMs = kIntervalMs;
            ++m_readings;
            schedule();
            emit answered(reading.figures);
            return;
        }
        if (m_unreachableSince.isNull())
            m_unreachableSince = sent;
        m_lastError = QString::fromStdString(reading.error);
        m_intervalMs = std::min(m_intervalMs * 2, kMaxIntervalMs);
        schedule();
        emit unreachable(m_unreachableSince, m_lastError);
    });
    watcher->setFuture(QtConcurrent::run([url = m_url, keyFile = m_keyFile] {
        app::RemoteEngineSettings settings;
        settings.url = url;
        settings.connectSeconds = kRequestSeconds;
        try {
            settings.apiKey = app::remoteApiKey(keyFile);
        } catch (const Error &e) {
            app::RemoteMetricsReading reading;
            reading.error = e.what();
            return reading;
        }
        return app::RemoteEngine::readMetrics(settings);
    }));
}

} // namespace nw::ui
