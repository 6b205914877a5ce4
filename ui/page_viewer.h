// The rendered page viewer: a bar that never hides its controls (title, zoom out/in, fit width,
// fit page, the zoom, and the page box: the printed page label, with the file's page beside it
// where they differ — a label or #N typed there goes to that page), the thumbnail strip (shown
// when the viewer is wide enough and View ▸ Thumbnails is on) and the page canvas of one library document, with search
// hits, cited passages and the user's text selection highlighted from the page's word boxes. Rendering runs off the GUI
// thread with an LRU cache bounded in bytes. Documents without a PDF file are refused (the window then shows the page
// text view instead).
#pragma once

#include "app/workbench.h"
#include "ui/page_canvas.h"

#include <QHash>
#include <QList>
#include <QString>
#include <QStringList>
#include <QWidget>

#include <memory>

class QAction;
class QLabel;
class QLineEdit;

namespace nw::ui {

class PageRenderCache;
class PageRenderer;
class ThumbnailStrip;

class PageViewer : public QWidget {
    Q_OBJECT
public:
    static constexpr qint64 kDefaultCacheBytes = 256ll << 20;

    explicit PageViewer(QWidget *parent = nullptr);
    ~PageViewer() override;

    void setWorkbench(std::shared_ptr<app::Workbench> workbench); // the library read; closes the document
    // Opens a library document; false (and the view unchanged) when it is not a PDF, its file is
    // gone or changed in size, or the library cannot be read — errorString() says which.
    bool showDocument(qint64 documentId);
    // Opens the document if needed and shows page `pageNumber` (1-based) with every word that
    // starts an occurrence of one of `terms` highlighted (case-insensitive, as the text view
    // matches them); false when the document cannot be shown or the page does not exist.
    bool showPage(qint64 documentId, int pageNumber, const QStringList &terms = {});
    // Shows a page with the words of the passage [start, start + length) of its text (UTF-16
    // offsets, as a citation gives them) highlighted and scrolled into view.
    bool showPassage(qint64 documentId, int pageNumber, int start, int length);

    qint64 documentId() const { return m_documentId; }
    int pageNumber() const; // 1-based page in view, 0 with no document
    int pageCount() const;
    QString errorString() const { return m_error; }
    // Boxes highlighted by the last showPage()/showPassage(), and their words' text.
    int highlightCount() const;
    QStringList highlightedTexts() const { return m_highlightedTexts; }
    // The words of the current selection (page order) and their text; empty when none.
    const QList<app::WordBox> &selectedWords() const { return m_selectedWords; }
    QString selectedText() const { return m_selectedText; }
    int selectedPage() const { return m_selectedPage; } // 1-based, 0 when nothing is selected

    PageCanvas *canvas() const { return m_canvas; }
    ThumbnailStrip *thumbnails() const { return m_thumbnails; }
    PageRenderCache *cache() const { return m_cache.get(); }
    PageRenderer *renderer() const { return m_renderer; }
    // Zoom in (Ctrl++), zoom out (Ctrl+-), fit width (Ctrl+0), fit page (Ctrl+9): for menus.
    QList<QAction *> zoomActions() const { return m_zoomActions; }
    QAction *thumbnailsAction() const { return m_thumbnailsAction; } // View ▸ Thumbnails (checkable)
    QLineEdit *pageBox() const { return m_pageBox; }
    QString pageBoxCaption() const; // what the bar shows beside the box: "(10 of 36)" or "of 36"
    QString pageLabel(int pageNumber) const; // the open document's printed label of a page; "" : none
    // Goes to the page a user typed (a printed label, or #N); false, with the reason in
    // errorString(), when the document has no such page.
    bool goToPageText(const QString &text);

public slots:
    void goToPage(int pageNumber); // 1-based
    void nextPage();
    void previousPage();
    void askGoToPage(); // Ctrl+G
    void zoomIn();
    void zoomOut();
    void fitWidth();
    void fitPage();
    void clearSelection();
    // Draws the open document's saved annotations (each rectangle in its colour) afresh from the
    // library: on opening a document, and after an annotation is added, edited or deleted.
    void reloadAnnotations();

signals:
    // The user selected words by dragging a rectangle over page `pageNumber` (1-based) of
    // document `documentId`: `words` are the word boxes (offsets into the page text, boxes in
    // points) in reading order, `text` their text with the page's spaces and line breaks between
    // them. Emitted with empty `words` and `text` when the selection is cleared. For annotations:
    // the boxes are the highlight's rectangles and `text` its quote.
    void selectionChanged(qint64 documentId, int pageNumber, const QList<nw::app::WordBox> &words, const QString &text);
    void pageChanged(int pageNumber); // 1-based

protected:
    void resizeEvent(QResizeEvent *event) override; // the thumbnails give way to the page when narrow

private:
    struct PageWords {
        QString text;
        std::vector<app::WordBox> words;
    };
    const PageWords *pageWords(int pageNumber); // nullptr (and m_error set) when unknown
    bool highlightRanges(int pageNumber, HighlightKind kind, const QList<QPair<int, int>> &ranges);
    void onRectangleSelected(int index, const QRectF &points);
    void onCurrentPageChanged(int index);
    void updateZoomLabel();
    void updatePageBox(int pageNumber);
    void updateThumbnailsVisibility();

    std::shared_ptr<app::Workbench> m_workbench;
    std::unique_ptr<PageRenderCache> m_cache;
    PageRenderer *m_renderer = nullptr;
    PageCanvas *m_canvas = nullptr;
    ThumbnailStrip *m_thumbnails = nullptr;
    QLineEdit *m_pageBox = nullptr;
    QLabel *m_pageTotal = nullptr;
    QLabel *m_zoomLabel = nullptr;
    QLabel *m_title = nullptr;
    QList<QAction *> m_zoomActions;
    QAction *m_thumbnailsAction = nullptr;
    QStringList m_labels; // the open document's printed page labels, [page - 1]
    qint64 m_documentId = 0;
    QString m_documentSha256;
    QString m_error;
    QHash<int, PageWords> m_words; // by 1-based page, for the open document
    QStringList m_highlightedTexts;
    QList<app::WordBox> m_selectedWords;
    QString m_selectedText;
    int m_selectedPage = 0;
};

} // namespace nw::ui
