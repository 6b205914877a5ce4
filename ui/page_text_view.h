// The central page view, text edition: shows one stored page's text (from the library, not a
// rendering) with search hits highlighted, and steps through pages. Poppler rendering with
// word-box highlights replaces it once ingest/pdf_document offers renderPage().
#pragma once

#include "app/workbench.h"

#include <QStringList>
#include <QWidget>

class QLabel;
class QTextBrowser;

namespace nw::ui {

class PageTextView : public QWidget {
    Q_OBJECT
public:
    explicit PageTextView(QWidget *parent = nullptr);

    void setWorkbench(std::shared_ptr<app::Workbench> workbench); // the library read; null clears the view
    // Shows a page (1-based) with every occurrence of `terms` highlighted (case-insensitive);
    // false when the page does not exist.
    bool showPage(qint64 documentId, int pageNumber, const QStringList &terms = {});
    // Shows a page with the passage [start, start + length) of its text (UTF-16 offsets, as a
    // citation gives them) highlighted and scrolled into view; false when the page does not exist.
    bool showPassage(qint64 documentId, int pageNumber, int start, int length);

    qint64 documentId() const { return m_documentId; }
    int pageNumber() const { return m_pageNumber; }
    int pageCount() const { return m_pageCount; }
    int highlightCount() const { return m_highlights; }
    QString pageText() const;
    // The highlighted passages, in page order.
    QStringList highlightedTexts() const;

public slots:
    void nextPage();
    void previousPage();
    void askGoToPage(); // Ctrl+G

private:
    std::shared_ptr<app::Workbench> m_workbench;
    QLabel *m_header = nullptr;
    QTextBrowser *m_text = nullptr;
    qint64 m_documentId = 0;
    int m_pageNumber = 0;
    int m_pageCount = 0;
    int m_highlights = 0;
    QStringList m_terms;
    QStringList m_labels; // the document's printed page labels, [page - 1]
};

} // namespace nw::ui
