// The workbench window: menus, status bar and the Library, Chat and KV Meter docks around the
// central page viewer. It owns the window's workbench (app/workbench.h) — the open library and
// the answering model — and hands it to every view.
#pragma once

#include "app/workbench.h"
#include "ui/session_state.h"

#include <QMainWindow>

#include <memory>
#include <utility>

class QDockWidget;
class QAction;
class QLabel;
class QStackedWidget;

namespace nw::ui {

class AnnotationsPanel;
class ChatDock;
class KvMeter;
class KvPlanner;
class LibraryView;
class PageTextView;
class PageViewer;
class SessionAutosave;

struct MainWindowOptions {
    QString databasePath; // empty: the default library database
    QString modelPath;    // empty: no model (extractive answers)
    int contextTokens = 0; // the model's context; 0: the workbench's default (app::contextTokensFor)
};

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    // An empty databasePath reopens the last session's database (else the default one); the
    // last session's page, docks and chat come back when the database is the same.
    explicit MainWindow(const MainWindowOptions &options, QWidget *parent = nullptr);
    ~MainWindow() override; // saves the session

    // The open library and its model; null when the database could not be opened.
    app::Workbench *workbench() const { return m_workbench.get(); }
    QDockWidget *libraryDock() const { return m_libraryDock; }
    QDockWidget *chatDock() const { return m_chatDock; }
    QDockWidget *kvMeterDock() const { return m_kvMeterDock; }
    KvMeter *kvMeter() const { return m_kvMeter; }
    LibraryView *library() const { return m_library; }
    ChatDock *chat() const { return m_chat; }
    PageTextView *pageView() const { return m_pageView; }
    // The rendered pages; the central widget shows it unless the document has no PDF or the
    // View ▸ Page Text toggle is on. Library hits and citations open both views.
    PageViewer *pageViewer() const { return m_pageViewer; }
    KvPlanner *kvPlanner(); // created on first use
    QDockWidget *annotationsDock() const { return m_annotationsDock; }
    AnnotationsPanel *annotations() const { return m_annotations; }
    SessionAutosave *autosave() const { return m_autosave; }
    WindowSession captureSession() const;

public slots:
    void showKvPlanner();
    bool openDatabase(const QString &path);
    void addFiles();
    void addFolder();
    void chooseDatabase();

private:
    void createMenus();
    QDockWidget *createDock(const QString &title, const QString &objectName, const QString &placeholder,
                            Qt::DockWidgetArea area);
    void showAbout();
    void showPageWidget(bool rendered); // the rendered view when it could open the page
    void restoreModel(const WindowSession &session); // the chat's model, KV mode and device pickers
    void restoreSession(const WindowSession &session);
    void syncAnnotations(); // the panel follows the document in the page view
    std::pair<qint64, int> currentPage() const; // document and 1-based page on screen; {0, 0} for none

    MainWindowOptions m_options;
    std::shared_ptr<app::Workbench> m_workbench;
    QDockWidget *m_libraryDock = nullptr;
    QDockWidget *m_chatDock = nullptr;
    QDockWidget *m_kvMeterDock = nullptr;
    KvMeter *m_kvMeter = nullptr;
    KvPlanner *m_kvPlanner = nullptr;
    LibraryView *m_library = nullptr;
    ChatDock *m_chat = nullptr;
    PageTextView *m_pageView = nullptr;
    PageViewer *m_pageViewer = nullptr;
    QStackedWidget *m_pages = nullptr;
    QAction *m_pageTextAction = nullptr;
    QLabel *m_statusLabel = nullptr;
    QLabel *m_modelLabel = nullptr;
    QDockWidget *m_annotationsDock = nullptr;
    AnnotationsPanel *m_annotations = nullptr;
    SessionAutosave *m_autosave = nullptr;
};

} // namespace nw::ui
