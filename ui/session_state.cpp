// QSettings keys under "session/"; the timer compares with what was last written, so an idle
// window does not touch the disk.
#include "ui/session_state.h"

#include <QSettings>
#include <QTimer>

namespace nw::ui {

WindowSession loadWindowSession()
{
    QSettings settings;
    settings.beginGroup(QStringLiteral("session"));
    WindowSession s;
    s.databasePath = settings.value(QStringLiteral("database")).toString();
    s.documentSha256 = settings.value(QStringLiteral("document")).toString();
    s.page = settings.value(QStringLiteral("page"), 0).toInt();
    s.zoom = settings.value(QStringLiteral("zoom"), 0.0).toDouble();
    s.chatSessionId = settings.value(QStringLiteral("chatSession"), 0).toLongLong();
    s.modelPath = settings.value(QStringLiteral("model")).toString();
    s.kvMode = settings.value(QStringLiteral("kvMode")).toString();
    s.device = settings.value(QStringLiteral("device")).toString();
    s.geometry = settings.value(QStringLiteral("geometry")).toByteArray();
    s.dockState = settings.value(QStringLiteral("docks")).toByteArray();
    return s;
}

void saveWindowSession(const WindowSession &s)
{
    QSettings settings;
    settings.beginGroup(QStringLiteral("session"));
    settings.setValue(QStringLiteral("database"), s.databasePath);
    settings.setValue(QStringLiteral("document"), s.documentSha256);
    settings.setValue(QStringLiteral("page"), s.page);
    settings.setValue(QStringLiteral("zoom"), s.zoom);
    settings.setValue(QStringLiteral("chatSession"), s.chatSessionId);
    settings.setValue(QStringLiteral("model"), s.modelPath);
    settings.setValue(QStringLiteral("kvMode"), s.kvMode);
    settings.setValue(QStringLiteral("device"), s.device);
    settings.setValue(QStringLiteral("geometry"), s.geometry);
    settings.setValue(QStringLiteral("docks"), s.dockState);
    settings.endGroup();
    settings.sync();
}

SessionAutosave::SessionAutosave(Capture capture, QObject *parent) : QObject(parent), m_capture(std::move(capture))
{
    m_timer = new QTimer(this);
    m_timer->setInterval(kIntervalMs);
    connect(m_timer, &QTimer::timeout, this, &SessionAutosave::saveIfChanged);
}

void SessionAutosave::start() { m_timer->start(); }
void SessionAutosave::stop() { m_timer->stop(); }
bool SessionAutosave::isRunning() const { return m_timer->isActive(); }

void SessionAutosave::saveIfChanged()
{
    const WindowSession now = m_capture();
    if (m_haveSaved && now == m_saved)
        return;
    saveWindowSession(now);
    m_saved = now;
    m_haveSaved = true;
    ++m_saves;
}

void SessionAutosave::saveNow()
{
    m_haveSaved = false;
    saveIfChanged();
}

} // namespace nw::ui
