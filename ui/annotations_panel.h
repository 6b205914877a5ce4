// The Annotations dock: lists the highlights and notes of the open document (or of all), filtered
// by tag; makes a highlight or a note from the page view's text selection; edits, deletes, jumps
// to the annotated page and exports (JSON, CSV, Markdown). The annotations are the workbench's
// (app/annotation_service.h); the panel shows them and passes the user's changes on.
#pragma once

#include "app/workbench.h"

#include <QList>
#include <QWidget>

#include <functional>
#include <memory>
#include <vector>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QToolButton;
class QTreeWidget;

namespace nw::ui {

class AnnotationsPanel : public QWidget {
    Q_OBJECT
public:
    enum class Scope { CurrentDocument, AllDocuments };
    static const QStringList &colors(); // the highlight colours offered, "#rrggbb"

    explicit AnnotationsPanel(QWidget *parent = nullptr);

    void setWorkbench(std::shared_ptr<app::Workbench> workbench); // the library's; null empties the panel
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
    void setWordSelection(qint64 documentId, int page, const QList<app::WordBox> &words, const QString &text);
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
    const std::vector<app::Annotation> &shownAnnotations() const { return m_shown; }
    QTreeWidget *list() const { return m_list; }
    QString message() const;
    QByteArray exportShown(app::AnnotationFormat format) const;
    bool exportToFile(const QString &path,
        app::AnnotationFormat format); // through app::writeOutputFile; false and a message when it fails

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
    // Runs `add` (a new annotation through the workbench); refreshes and tells the page views.
    // Returns its id, 0 when it failed (the reason is shown).
    qint64 addAnnotation(const std::function<qint64(app::AnnotationService &)> &add);
    qint64 selectedId() const;
    qint64 documentIdOf(const QString &sha256);
    void showMessage(const QString &text);

    std::shared_ptr<app::Workbench> m_workbench;
    qint64 m_documentId = 0;
    int m_currentPage = 0;
    app::PageSelection m_selection; // rects empty: the service looks them up from the text span
    std::vector<app::Annotation> m_shown;
    QComboBox *m_scope = nullptr;
    QLineEdit *m_tag = nullptr;
    QComboBox *m_color = nullptr;
    QPushButton *m_highlight = nullptr;
    QPushButton *m_note = nullptr;
    QToolButton *m_edit = nullptr;
    QToolButton *m_delete = nullptr;
    QToolButton *m_export = nullptr;
    QTreeWidget *m_list = nullptr;
    QLabel *m_message = nullptr;
};

} // namespace nw::ui
