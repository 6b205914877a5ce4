// The Search tab of the library panel: the search box (Ctrl+F) and the FTS hits, each with its
// document's title, the page as printed (with the file's page beside it where they differ) and
// a one-paragraph snippet with the matched words in bold. Clicking a hit asks for that page with
// the query's terms to highlight. Reads through the window's workbench (app/workbench.h).
#pragma once

#include "app/workbench.h"

#include <QStringList>
#include <QWidget>

#include <memory>

class QLabel;
class QLineEdit;
class QListWidget;

namespace nw::ui {

class SearchView : public QWidget {
    Q_OBJECT
public:
    enum ItemRole { DocumentRole = Qt::UserRole + 1, PageRole, HtmlRole };

    explicit SearchView(QWidget *parent = nullptr);

    void setWorkbench(std::shared_ptr<app::Workbench> workbench); // null empties the view
    void search(const QString &query);
    void focusSearch();

    QLineEdit *searchBox() const { return m_searchBox; }
    QListWidget *resultList() const { return m_results; }
    QString status() const;

signals:
    void pageRequested(qint64 documentId, int pageNumber, const QStringList &terms);

private:
    std::shared_ptr<app::Workbench> m_workbench;
    QLineEdit *m_searchBox = nullptr;
    QListWidget *m_results = nullptr;
    QLabel *m_status = nullptr;
    QStringList m_lastTerms;
};

// The words of an FTS query worth highlighting: operators, quotes and prefix stars removed.
QStringList highlightTerms(const QString &query);
// A hit as the list draws it: "<b>Title</b> — p. 7 (file page 10)" and the snippet on one
// paragraph (the page's line breaks are not sentence breaks), HTML-escaped, the matched words
// (between `markOpen` and `markClose`) in bold.
QString hitHtml(const QString &title, const QString &page, const QString &snippet, const QString &markOpen,
    const QString &markClose);

} // namespace nw::ui
