// The Annotations dock: lists the highlights and notes of the open document (or of all), filtered
// by tag; makes a highlight or a note from the page view's text selection; edits, deletes, jumps
// to the annotated page and exports (JSON, CSV, Markdown through app/annotation_service.h).
#pragma once

#include "app/annotation_service.h"
#include "store/annotation_store.h"
#include "store/word_boxes.h"

#include <QList>

#include <QWidget>

#include <vector>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QTreeWidget;

namespace nw::store {
class LibraryStore;
}

namespace nw::ui {

class AnnotationsPanel : public QWidget {
    Q_OBJECT
public:
    enum class Scope { CurrentDocument, AllDocuments };
    static const QStringList &colors(); // the highlight colours offered, "#rrggbb"

    explicit AnnotationsPanel(QWidget *parent = nullptr);

    void setStore(store::LibraryStore *store); // not owned; nullptr empties the panel
    void setCurrentDocument(qint64 documentId);
    qint64 currentDocument() const { return m_documentId; }
    void setScope(Scope scope);
    Scope scope() const;
    void setTagFilter(const QString &tag);

    // The text selected on a page now ([start, start + length) in UTF-16 units of the page text),
    // what Highlight and Note act on; a length of 0 clears it.
    void setSelection(qint64 documentId, int page, int start, int length, const QString &text);
    // A selection made of words on the rendered page (PageViewer::selectionChanged): their boxes
    // are the highlight's rectangles. Empty `words` clears it.
    void setWordSelection(qint64 documentId, int page, const QList<store::WordBox> &words, const QString &text);
    bool hasSelection() const { return m_selection.length > 0; }

    // Highlights the selection (its words' boxes on the page; a document without boxes, such as a
    // text file, gets a note carrying the quote). Returns the new id, 0 when nothing is selected
    // or the store refused (the reason is shown in the panel).
    qint64 highlightSelection(const QString &color = {}, const QString &note = {}, const QStringList &tags = {});
    // A note on the selection's page (quoting it), else on the current page; 0 when there is none.
    qint64 addNote(const QString &note, const QStringList &tags = {});
    bool updateAnnotation(qint64 id, const QString &note, const QStringList &tags, const QString &color);
    bool removeAnnotation(qint64 id);

    // What the list shows, in its order.
    const std::vector<store::Annotation> &shownAnnotations() const { return m_shown; }
    QTreeWidget *list() const { return m_list; }
    QString message() const;
    QByteArray exportShown(app::AnnotationFormat format) const;
    bool exportToFile(const QString &path, app::AnnotationFormat format); // through QSaveFile

    void setCurrentPage(int page) { m_currentPage = page; }

public slots:
    void refresh();
    void highlightFromSelection(); // Ctrl+Shift+H, with the colour picked in the panel
    void noteFromDialog();
    void editCurrent();
    void deleteCurrent();
    void exportFromDialog();
    void activateCurrent(); // asks for the annotated page

signals:
    void pageRequested(qint64 documentId, int page, const QString &quote);
    void annotationsChanged();

private:
    struct Selection {
        qint64 documentId = 0;
        int page = 0;
        int start = 0;
        int length = 0;
        QString text;
        std::vector<QRectF> rects; // known boxes (rendered view); empty: looked up from the text span
    };
    qint64 insert(store::Annotation annotation);
    qint64 selectedId() const;
    qint64 documentIdOf(const QString &sha256);
    void showMessage(const QString &text);

    store::LibraryStore *m_store = nullptr;
    qint64 m_documentId = 0;
    int m_currentPage = 0;
    Selection m_selection;
    std::vector<store::Annotation> m_shown;
    QComboBox *m_scope = nullptr;
    QLineEdit *m_tag = nullptr;
    QComboBox *m_color = nullptr;
    QPushButton *m_highlight = nullptr;
    QPushButton *m_note = nullptr;
    QPushButton *m_edit = nullptr;
    QPushButton *m_delete = nullptr;
    QPushButton *m_export = nullptr;
    QTreeWidget *m_list = nullptr;
    QLabel *m_message = nullptr;
};

} // namespace nw::ui
