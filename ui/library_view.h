// The Library tab of the library panel: collections and documents (distinct titles, page counts,
// status), ingest errors, Add Files and Add Folder, and an ingest job with a progress bar and a
// cancel button (off the GUI thread; files and folders by menu, button or drag-and-drop).
// Activating a document asks for its first page. Everything goes through the window's workbench
// (app/workbench.h); searching is the Search tab's (ui/search_view.h).
#pragma once

#include "app/workbench.h"

#include <QStringList>
#include <QWidget>

#include <atomic>
#include <memory>

class QLabel;
class QListWidget;
class QProgressBar;
class QPushButton;
class QThread;
class QTreeWidget;

namespace nw::ui {

class LibraryView : public QWidget {
    Q_OBJECT
public:
    explicit LibraryView(QWidget *parent = nullptr);
    ~LibraryView() override;

    // The library shown; null empties the view. An ingest under way finishes into the library it
    // started on.
    void setWorkbench(std::shared_ptr<app::Workbench> workbench);
    app::Workbench *workbench() const { return m_workbench.get(); }
    void showMessage(const QString &text); // in the status line under the lists

    // Starts an ingest job off the GUI thread (into `collection` when it is not empty); false when
    // one is already running or no library is open.
    bool ingest(const QStringList &paths, const QString &collection = {});
    bool isIngesting() const { return m_thread != nullptr; }
    void cancelIngest();

    QTreeWidget *documentTree() const { return m_tree; }
    QListWidget *errorList() const { return m_errors; }
    QPushButton *addFilesButton() const { return m_addFiles; }
    QPushButton *addFolderButton() const { return m_addFolder; }
    int documentCount() const { return m_documentCount; } // in the library, after the last refresh

signals:
    void pageRequested(qint64 documentId, int pageNumber, const QStringList &terms);
    void ingestFinished(int added, int failed, bool cancelled);
    void refreshed(); // the lists were read again (after opening a library or an ingest)

public slots:
    void refresh();

protected:
    void dragEnterEvent(QDragEnterEvent *event) override;
    void dropEvent(QDropEvent *event) override;

private:
    void showIngestProgress(int filesDone, int filesTotal, qint64 pages, const QString &file);
    void finishIngest(int added, int failed, bool cancelled, const QString &error);

    std::shared_ptr<app::Workbench> m_workbench;
    QTreeWidget *m_tree = nullptr;
    QListWidget *m_errors = nullptr;
    QPushButton *m_addFiles = nullptr;
    QPushButton *m_addFolder = nullptr;
    int m_documentCount = 0;
    QProgressBar *m_progress = nullptr;
    QPushButton *m_cancel = nullptr;
    QLabel *m_status = nullptr;
    QThread *m_thread = nullptr;
    std::shared_ptr<std::atomic<bool>> m_cancelFlag;
};

} // namespace nw::ui
