// The workbench window: menus, status bar and the Library, Chat and KV Meter docks around the
// central page viewer.
#pragma once

#include <QMainWindow>

class QDockWidget;
class QAction;
class QLabel;
class QStackedWidget;

namespace nw::ui {

class ChatDock;
class KvMeter;
class KvPlanner;
class LibraryView;
class PageTextView;
class PageViewer;

struct MainWindowOptions {
    QString databasePath; // empty: the default library database
    QString modelPath;    // empty: no model (extractive answers)
};

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(const MainWindowOptions &options, QWidget *parent = nullptr);

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

    MainWindowOptions m_options;
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
};

} // namespace nw::ui
