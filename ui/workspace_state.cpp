// QSettings keys under "workspace/"; the timer compares with what was last written, so an idle
// window does not touch the disk.
#include "ui/workspace_state.h"

#include <QSettings>
#include <QTimer>

namespace nw::ui {
namespace {

const QString kGroup = QStringLiteral("workspace");
const QString kOldGroup = QStringLiteral("session"); // versions before the workspace was named so

} // namespace

Workspace loadWorkspace()
{
    QSettings settings;
    const bool saved = settings.childGroups().contains(kGroup);
    settings.beginGroup(saved ? kGroup : kOldGroup);
    Workspace w;
    w.databasePath = settings.value(QStringLiteral("database")).toString();
    w.documentSha256 = settings.value(QStringLiteral("document")).toString();
    w.page = settings.value(QStringLiteral("page"), 0).toInt();
    w.zoom = settings.value(QStringLiteral("zoom"), 0.0).toDouble();
    w.chatSessionId = settings.value(QStringLiteral("chatSession"), 0).toLongLong();
    w.modelPath = settings.value(QStringLiteral("model")).toString();
    w.kvMode = settings.value(QStringLiteral("kvMode")).toString();
    w.contextTokens = settings.value(QStringLiteral("context"), 0).toLongLong();
    w.device = settings.value(QStringLiteral("device")).toString();
    w.engineUrl = settings.value(QStringLiteral("engineUrl")).toString();
    w.engineKeyFile = settings.value(QStringLiteral("engineKeyFile")).toString();
    w.engineModel = settings.value(QStringLiteral("engineModel")).toString();
    w.libraryTab = settings.value(QStringLiteral("libraryTab")).toString();
    w.assistantTab = settings.value(QStringLiteral("assistantTab")).toString();
    w.readingMode = settings.value(QStringLiteral("readingMode"), false).toBool();
    w.geometry = settings.value(QStringLiteral("geometry")).toByteArray();
    w.dockState = settings.value(QStringLiteral("docks")).toByteArray();
    return w;
}

void saveWorkspace(const Workspace &w)
{
    QSettings settings;
    settings.remove(kOldGroup);
    settings.beginGroup(kGroup);
    settings.setValue(QStringLiteral("database"), w.databasePath);
    settings.setValue(QStringLiteral("document"), w.documentSha256);
    settings.setValue(QStringLiteral("page"), w.page);
    settings.setValue(QStringLiteral("zoom"), w.zoom);
    settings.setValue(QStringLiteral("chatSession"), w.chatSessionId);
    settings.setValue(QStringLiteral("model"), w.modelPath);
    settings.setValue(QStringLiteral("kvMode"), w.kvMode);
    settings.setValue(QStringLiteral("context"), w.contextTokens);
    settings.setValue(QStringLiteral("device"), w.device);
    settings.setValue(QStringLiteral("engineUrl"), w.engineUrl);
    settings.setValue(QStringLiteral("engineKeyFile"), w.engineKeyFile);
    settings.setValue(QStringLiteral("engineModel"), w.engineModel);
    settings.setValue(QStringLiteral("libraryTab"), w.libraryTab);
    settings.setValue(QStringLiteral("assistantTab"), w.assistantTab);
    settings.setValue(QStringLiteral("readingMode"), w.readingMode);
    settings.setValue(QStringLiteral("geometry"), w.geometry);
    settings.setValue(QStringLiteral("docks"), w.dockState);
    settings.endGroup();
    settings.sync();
}

WorkspaceAutosave::WorkspaceAutosave(Capture capture, QObject *parent)
    : QObject(parent)
    , m_capture(std::move(capture))
{
    m_timer = new QTimer(this);
    m_timer->setInterval(kIntervalMs);
    connect(m_timer, &QTimer::timeout, this, &WorkspaceAutosave::saveIfChanged);
}

void WorkspaceAutosave::start()
{
    m_timer->start();
}
void WorkspaceAutosave::stop()
{
    m_timer->stop();
}
bool WorkspaceAutosave::isRunning() const
{
    return m_timer->isActive();
}

void WorkspaceAutosave::saveIfChanged()
{
    const Workspace now = m_capture();
    if (m_haveSaved && now == m_saved)
        return;
    saveWorkspace(now);
    m_saved = now;
    m_haveSaved = true;
    ++m_saves;
}

void WorkspaceAutosave::saveNow()
{
    m_haveSaved = false;
    saveIfChanged();
}

} // namespace nw::ui
