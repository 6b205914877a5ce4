// The workbench window: menus, status bar and the Library, Chat and KV Meter docks around the
// central page viewer.
#pragma once

#include <QMainWindow>

class QDockWidget;
class QLabel;

namespace nw::ui {

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

private:
    void createMenus();
    QDockWidget *createDock(const QString &title, const QString &objectName, const QString &placeholder,
                            Qt::DockWidgetArea area);
    void showAbout();

    MainWindowOptions m_options;
    QDockWidget *m_libraryDock = nullptr;
    QDockWidget *m_chatDock = nullptr;
    QDockWidget *m_kvMeterDock = nullptr;
    QLabel *m_statusLabel = nullptr;
};

} // namespace nw::ui
