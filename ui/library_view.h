// The Library dock's view: collections and documents (page counts, status), ingest errors, an
// ingest job with a progress bar and a cancel button (off the GUI thread; files and folders by
// menu or drag-and-drop), and the search bar with FTS results and snippets. Clicking a result
// asks for that page with the query's terms to highlight. Everything goes through the window's
// workbench (app/workbench.h).
#pragma once

#include "app/workbench.h"

#include <QStringList>
#include <QWidget>

#include <atomic>
#include <memory>

class QLabel;
class QLineEdit;
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

    // Starts an ingest job off the GUI thread; false when one is already running or no library is open.
    bool ingest(const QStringList &paths);
    bool isIngesting() const { return m_thread != nullptr; }
    void cancelIngest();

    // Searches within store::SearchBudget; a query over it (too many terms or bytes, or too
    // slow) comes back at once with the reason in the status line.
    void search(const QString &query);
    void focusSearch();
    QString statusText() const;

    QTreeWidget *documentTree() const { return m_tree; }
    QListWidget *resultList() const { return m_results; }
    QListWidget *errorList() const { return m_errors; }
    QLineEdit *searchBox() const { return m_searchBox; }

signals:
    void pageRequested(qint64 documentId, int pageNumber, const QStringList &terms);
    void ingestFinished(int added, int failed, bool cancelled);

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
    QLineEdit *m_searchBox = nullptr;
    QListWidget *m_results = nullptr;
    QListWidget *m_errors = nullptr;
    QProgressBar *m_progress = nullptr;
    QPushButton *m_cancel = nullptr;
    QLabel *m_status = nullptr;
    QThread *m_thread = nullptr;
    std::shared_ptr<std::atomic<bool>> m_cancelFlag;
    QStringList m_lastTerms;
};

// The words of an FTS query worth highlighting: operators, quotes and prefix stars removed.
QStringList highlightTerms(const QString &query);

} // namespace nw::ui
