// The window's workspace: which database, document and page were open, the zoom, the side
// panels (their tabs, sizes, reading mode), the chat session shown and the chat's model, KV mode,
// context, device and engine (in process or a server and its model), kept in QSettings ("workspace/…") so the next
// start reopens them. Written on a timer while the window runs and on close, so a killed process loses a few seconds at
// most.
// ("Session" means a chat transcript, app/session_service.h; this is the window around it.)
#pragma once

#include <QByteArray>
#include <QObject>
#include <QString>

#include <functional>

class QTimer;

namespace nw::ui {

struct Workspace {
    QString databasePath;
    QString documentSha256; // "" : no document open (the content hash survives re-ingest)
    int page = 0; // 1-based, 0 with no document
    double zoom = 0; // the page viewer's zoom; 0: its default
    qint64 chatSessionId = 0; // in databasePath's sessions table; 0: none yet
    QString modelPath; // the chat's model picker; "" : no model
    QString kvMode; // the chat's KV mode picker; "" : the model's default
    qint64 contextTokens = 0; // the chat's context field; 0: the workbench's default
    QString device; // the chat's device picker: "auto", "cpu" or "cuda"; "" : auto
    QString engineUrl; // the chat's Engine picker: a server's URL; "" : the in-process engine
    QString engineKeyFile; // with engineUrl, its API key file (the path, never the key); "" : none
    QString engineModel; // with engineUrl, the server's model; "" : the first it lists
    QString libraryTab; // the side panels' current tabs, by object name; "" : the first
    QString assistantTab;
    bool readingMode = false; // both side panels hidden (View ▸ Reading Mode)
    QByteArray geometry; // QMainWindow::saveGeometry
    QByteArray dockState; // QMainWindow::saveState

    bool operator==(const Workspace &) const = default;
};

// What QSettings holds; an empty Workspace when nothing was saved. Before the first save the
// settings of older versions (the "session/" group) are read, so an upgrade keeps the layout.
Workspace loadWorkspace();
// Writes and flushes to disk (QSettings::sync), so the state survives a kill right after; the
// old "session/" group goes.
void saveWorkspace(const Workspace &workspace);

// Saves what `capture` returns every kIntervalMs when it changed, and on saveNow().
class WorkspaceAutosave : public QObject {
    Q_OBJECT
public:
    static constexpr int kIntervalMs = 2000;
    using Capture = std::function<Workspace()>;

    WorkspaceAutosave(Capture capture, QObject *parent = nullptr);

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
    Workspace m_saved;
    bool m_haveSaved = false;
    int m_saves = 0;
};

} // namespace nw::ui
