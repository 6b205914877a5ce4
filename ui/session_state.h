// The window's session: which database, document and page were open, the zoom, the dock layout,
// the chat session and the chat's model, KV mode and device, kept in QSettings ("session/…") so the next start reopens them. Written
// on a timer while the window runs and on close, so a killed process loses a few seconds at most.
#pragma once

#include <QByteArray>
#include <QObject>
#include <QString>

#include <functional>

class QTimer;

namespace nw::ui {

struct WindowSession {
    QString databasePath;
    QString documentSha256;   // "" : no document open (the content hash survives re-ingest)
    int page = 0;             // 1-based, 0 with no document
    double zoom = 0;          // the page viewer's zoom; 0: its default
    qint64 chatSessionId = 0; // in databasePath's sessions table; 0: none yet
    QString modelPath;        // the chat's model picker; "" : no model
    QString kvMode;           // the chat's KV mode picker; "" : the model's default
    QString device;           // the chat's device picker: "auto", "cpu" or "cuda"; "" : auto
    QByteArray geometry;      // QMainWindow::saveGeometry
    QByteArray dockState;     // QMainWindow::saveState

    bool operator==(const WindowSession &) const = default;
};

// What QSettings holds; an empty WindowSession when nothing was saved.
WindowSession loadWindowSession();
// Writes and flushes to disk (QSettings::sync), so the state survives a kill right after.
void saveWindowSession(const WindowSession &session);

// Saves what `capture` returns every kIntervalMs when it changed, and on saveNow().
class SessionAutosave : public QObject {
    Q_OBJECT
public:
    static constexpr int kIntervalMs = 2000;
    using Capture = std::function<WindowSession()>;

    SessionAutosave(Capture capture, QObject *parent = nullptr);

    void start();
    void stop();
    bool isRunning() const;
    int saveCount() const { return m_saves; } // writes to disk so far (unchanged states are skipped)

public slots:
    void saveNow();

private:
    void saveIfChanged();

    Capture m_capture;
    QTimer *m_timer = nullptr;
    WindowSession m_saved;
    bool m_haveSaved = false;
    int m_saves = 0;
};

} // namespace nw::ui
