// The workbench window, laid out as a reader: the page in the middle, one collapsible side panel
// on each side — Library, Search and Annotations as tabs on the left, Chat and the KV Meter as
// tabs on the right — and the Needle Lab as a tab of the middle when it is opened. Reading mode
// (F9) hides both panels; View ▸ Reset Layout brings the default back. A library with no
// documents shows the first-run view in place of the page. The window never asks for more room
// than the screen has. It owns the window's workbench (app/workbench.h) — the open library and
// the answering model — and hands it to every view.
#pragma once

#include "app/workbench.h"
#include "ui/workspace_state.h"

#include <QMainWindow>

#include <memory>
#include <utility>

class QAction;
class QDockWidget;
class QLabel;
class QStackedWidget;
class QTabWidget;

namespace nw::ui {

class AnnotationsPanel;
class ChatDock;
class FirstRunView;
class KvMeter;
class KvPlanner;
class LibraryView;
class NeedleView;
class PageTextView;
class PageViewer;
class SearchView;
class WorkspaceAutosave;

struct MainWindowOptions {
    QString databasePath; // empty: the default library database
    QString modelPath; // empty: no model (extractive answers)
    qint64 contextTokens = 0; // the model's context; 0: the workbench's default (app::contextTokensFor)
};

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    // An empty databasePath reopens the last workspace's database (else the default one); the
    // last workspace's page, panels and chat come back when the database is the same.
    explicit MainWindow(const MainWindowOptions &options, QWidget *parent = nullptr);
    ~MainWindow() override; // saves the workspace

    // The open library and its model; null when the database could not be opened.
    app::Workbench *workbench() const { return m_workbench.get(); }

    // The side panels (dock widgets without title bars) and their tabs.
    QDockWidget *libraryPanel() const { return m_libraryPanel; }
    QDockWidget *assistantPanel() const { return m_assistantPanel; }
    QTabWidget *libraryTabs() const { return m_libraryTabs; }
    QTabWidget *assistantTabs() const { return m_assistantTabs; }
    // Shows the panel that holds `tab` (one of the views below) and selects it.
    void showTab(QWidget *tab);

    LibraryView *library() const { return m_library; }
    SearchView *search() const { return m_search; }
    AnnotationsPanel *annotations() const { return m_annotations; }
    ChatDock *chat() const { return m_chat; }
    KvMeter *kvMeter() const { return m_kvMeter; }
    // The middle: the reader (first-run view, rendered pages or page text) and, once opened, the
    // Needle Lab as a second tab.
    QTabWidget *centralTabs() const { return m_centralTabs; }
    FirstRunView *firstRun() const { return m_firstRun; }
    PageTextView *pageView() const { return m_pageView; }
    // The rendered pages; the middle shows it unless the document has no PDF or the View ▸ Page
    // Text toggle is on. Search hits and citations open both views.
    PageViewer *pageViewer() const { return m_pageViewer; }
    QWidget *readerArea() const; // what the middle shows of the reader now
    NeedleView *needleView(); // created (and its tab added) on first use
    KvPlanner *kvPlanner(); // created on first use
    WorkspaceAutosave *autosave() const { return m_autosave; }
    Workspace captureWorkspace() const;

    bool isReadingMode() const;
    QAction *readingModeAction() const { return m_readingModeAction; }

public slots:
    void showKvPlanner(); // sizes the chat's model (when one is picked) beside the bundled architectures
    void showNeedleLab();
    bool openDatabase(const QString &path);
    void addFiles();
    void addFolder();
    void addSampleDocuments(); // the bundled licence texts, into this library's "Sample" collection
    void chooseDatabase();
    void setReadingMode(bool on);
    void resetLayout();

protected:
    void showEvent(QShowEvent *event) override;
    void dragEnterEvent(QDragEnterEvent *event) override;
    void dropEvent(QDropEvent *event) override;

private:
    void createPanels();
    void createMenus();
    void showAbout();
    void showPageWidget(bool rendered); // the rendered view when it could open the page
    void updateReader(); // the first-run view while the library is empty and nothing is open
    void openPage(qint64 documentId, int page, const QStringList &terms);
    void restoreModel(const Workspace &workspace); // the chat's model, KV mode, context and device pickers
    void restoreWorkspace(const Workspace &workspace);
    void syncAnnotations(); // the panel follows the document in the page view
    void fitToScreen(); // never larger than the screen's available area
    std::pair<qint64, int> currentPage() const; // document and 1-based page on screen; {0, 0} for none

    MainWindowOptions m_options;
    std::shared_ptr<app::Workbench> m_workbench;
    QDockWidget *m_libraryPanel = nullptr;
    QDockWidget *m_assistantPanel = nullptr;
    QTabWidget *m_libraryTabs = nullptr;
    QTabWidget *m_assistantTabs = nullptr;
    LibraryView *m_library = nullptr;
    SearchView *m_search = nullptr;
    AnnotationsPanel *m_annotations = nullptr;
    ChatDock *m_chat = nullptr;
    KvMeter *m_kvMeter = nullptr;
    KvPlanner *m_kvPlanner = nullptr;
    NeedleView *m_needleView = nullptr;
    QWidget *m_needleTab = nullptr; // the scroll area holding the needle view
    QTabWidget *m_centralTabs = nullptr;
    QStackedWidget *m_pages = nullptr;
    FirstRunView *m_firstRun = nullptr;
    PageTextView *m_pageView = nullptr;
    PageViewer *m_pageViewer = nullptr;
    QAction *m_pageTextAction = nullptr;
    QAction *m_readingModeAction = nullptr;
    QLabel *m_statusLabel = nullptr;
    QLabel *m_modelLabel = nullptr;
    WorkspaceAutosave *m_autosave = nullptr;
    bool m_laidOut = false; // the panels got their default widths (first show, or Reset Layout)
    bool m_restoredLayout = false; // the workspace brought its own panel layout
    // Which panels were open when reading mode hid them.
    bool m_libraryWasOpen = true;
    bool m_assistantWasOpen = true;
};

} // namespace nw::ui
