// Annotations live in the library database, keyed by the document's content hash; the panel maps
// hashes back to the library's document ids to jump to pages.
#include "ui/annotations_panel.h"

#include "app/output_file.h"
#include "app/page_numbers.h"
#include "common/log.h"

#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPainter>
#include <QPixmap>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QToolButton>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <algorithm>

namespace nw::ui {

namespace {

enum Column { DocumentColumn, PageColumn, TextColumn, TagsColumn, ColumnCount };

QIcon swatch(const QString &color)
{
    QPixmap pixmap(12, 12);
    pixmap.fill(Qt::transparent);
    QPainter painter(&pixmap);
    painter.setPen(QColor(0, 0, 0, 90));
    painter.setBrush(QColor(color));
    painter.drawRoundedRect(QRectF(0.5, 0.5, 11, 11), 2, 2);
    return QIcon(pixmap);
}

QStringList parseTags(const QString &text)
{
    QStringList tags;
    for (const QString &t : text.split(QLatin1Char(','), Qt::SkipEmptyParts))
        if (const QString tag = t.trimmed(); !tag.isEmpty() && !tags.contains(tag))
            tags << tag;
    return tags;
}

// QTextCursor::selectedText() separates paragraphs with U+2029; the page text uses '\n'.
QString plainQuote(QString text)
{
    text.replace(QChar::ParagraphSeparator, QLatin1Char('\n'));
    return text;
}

struct EditValues {
    QString note;
    QStringList tags;
    QString color;
};

bool editDialog(QWidget *parent, const QString &title, EditValues &values, bool withColor)
{
    QDialog dialog(parent);
    dialog.setObjectName(QStringLiteral("AnnotationDialog"));
    dialog.setWindowTitle(title);
    auto *form = new QFormLayout(&dialog);
    auto *note = new QPlainTextEdit(values.note, &dialog);
    note->setObjectName(QStringLiteral("AnnotationNote"));
    form->addRow(AnnotationsPanel::tr("Note"), note);
    auto *tags = new QLineEdit(values.tags.join(QStringLiteral(", ")), &dialog);
    tags->setObjectName(QStringLiteral("AnnotationTags"));
    tags->setPlaceholderText(AnnotationsPanel::tr("comma-separated"));
    form->addRow(AnnotationsPanel::tr("Tags"), tags);
    QComboBox *color = nullptr;
    if (withColor) {
        color = new QComboBox(&dialog);
        color->setObjectName(QStringLiteral("AnnotationColor"));
        for (const QString &c : AnnotationsPanel::colors())
            color->addItem(swatch(c), c, c);
        const int at = color->findData(values.color);
        color->setCurrentIndex(at >= 0 ? at : 0);
        form->addRow(AnnotationsPanel::tr("Colour"), color);
    }
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, &dialog);
    QObject::connect(buttons, &QDialogButtonBox::accepted, &dialog, &QDialog::accept);
    QObject::connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
    form->addRow(buttons);
    if (dialog.exec() != QDialog::Accepted)
        return false;
    values.note = note->toPlainText().trimmed();
    values.tags = parseTags(tags->text());
    if (color)
        values.color = color->currentData().toString();
    return true;
}

} // namespace

const QStringList &AnnotationsPanel::colors()
{
    static const QStringList list = { QStringLiteral("#ffd54f"), QStringLiteral("#81c784"), QStringLiteral("#64b5f6"),
        QStringLiteral("#f48fb1"), QStringLiteral("#ffb74d") };
    return list;
}

AnnotationsPanel::AnnotationsPanel(QWidget *parent)
    : QWidget(parent)
{
    setObjectName(QStringLiteral("AnnotationsPanel"));
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);

    auto *filters = new QHBoxLayout;
    m_scope = new QComboBox(this);
    m_scope->setObjectName(QStringLiteral("AnnotationScope"));
    m_scope->addItem(tr("This document"));
    m_scope->addItem(tr("All documents"));
    filters->addWidget(m_scope);
    m_tag = new QLineEdit(this);
    m_tag->setObjectName(QStringLiteral("AnnotationTagFilter"));
    m_tag->setPlaceholderText(tr("Filter by tag"));
    m_tag->setClearButtonEnabled(true);
    filters->addWidget(m_tag, 1);
    layout->addLayout(filters);

    auto *actions = new QHBoxLayout;
    m_color = new QComboBox(this);
    m_color->setObjectName(QStringLiteral("HighlightColor"));
    m_color->setToolTip(tr("Highlight colour"));
    for (const QString &c : colors())
        m_color->addItem(swatch(c), QString(), c);
    actions->addWidget(m_color);
    m_highlight = new QPushButton(tr("Highlight"), this);
    m_highlight->setObjectName(QStringLiteral("HighlightButton"));
    m_highlight->setToolTip(tr("Highlight the text selected on the page (Ctrl+Shift+H)"));
    actions->addWidget(m_highlight);
    m_note = new QPushButton(tr("Note…"), this);
    m_note->setObjectName(QStringLiteral("NoteButton"));
    actions->addWidget(m_note);
    actions->addStretch(1);
    layout->addLayout(actions);
    // Two rows of buttons: the panel is a third of the window or less.
    actions = new QHBoxLayout;
    m_edit = new QToolButton(this); // text buttons of their own width: the panel is narrow
    m_edit->setText(tr("Edit…"));
    m_edit->setObjectName(QStringLiteral("EditAnnotationButton"));
    actions->addWidget(m_edit);
    m_delete = new QToolButton(this);
    m_delete->setText(tr("Delete"));
    m_delete->setObjectName(QStringLiteral("DeleteAnnotationButton"));
    actions->addWidget(m_delete);
    m_export = new QToolButton(this);
    m_export->setText(tr("Export…"));
    m_export->setObjectName(QStringLiteral("ExportAnnotationsButton"));
    actions->addWidget(m_export);
    actions->addStretch(1);
    layout->addLayout(actions);

    m_list = new QTreeWidget(this);
    m_list->setObjectName(QStringLiteral("AnnotationList"));
    m_list->setColumnCount(ColumnCount);
    m_list->setHeaderLabels({ tr("Document"), tr("Page"), tr("Text"), tr("Tags") });
    m_list->setRootIsDecorated(false);
    m_list->setAlternatingRowColors(true);
    m_list->setSelectionMode(QAbstractItemView::SingleSelection);
    m_list->header()->setStretchLastSection(false);
    m_list->header()->setSectionResizeMode(DocumentColumn, QHeaderView::Interactive);
    m_list->header()->setSectionResizeMode(PageColumn, QHeaderView::ResizeToContents);
    m_list->header()->setSectionResizeMode(TextColumn, QHeaderView::Stretch);
    m_list->header()->setSectionResizeMode(TagsColumn, QHeaderView::ResizeToContents);
    m_list->setColumnWidth(DocumentColumn, 120);
    layout->addWidget(m_list, 1);
    m_message = new QLabel(this);
    m_message->setObjectName(QStringLiteral("AnnotationMessage"));
    m_message->setWordWrap(true);
    layout->addWidget(m_message);

    connect(m_scope, &QComboBox::currentIndexChanged, this, &AnnotationsPanel::refresh);
    connect(m_tag, &QLineEdit::textChanged, this, &AnnotationsPanel::refresh);
    connect(m_highlight, &QPushButton::clicked, this, &AnnotationsPanel::highlightFromSelection);
    connect(m_note, &QPushButton::clicked, this, &AnnotationsPanel::noteFromDialog);
    connect(m_edit, &QToolButton::clicked, this, &AnnotationsPanel::editCurrent);
    connect(m_delete, &QToolButton::clicked, this, &AnnotationsPanel::deleteCurrent);
    connect(m_export, &QToolButton::clicked, this, &AnnotationsPanel::exportFromDialog);
    connect(m_list, &QTreeWidget::itemActivated, this, &AnnotationsPanel::activateCurrent);
    setSelection(0, 0, 0, 0, QString());
    refresh();
}

void AnnotationsPanel::setWorkbench(std::shared_ptr<app::Workbench> workbench)
{
    m_workbench = std::move(workbench);
    m_documentId = 0;
    m_currentPage = 0;
    m_selection = {};
    m_highlight->setEnabled(false);
    refresh();
}

void AnnotationsPanel::setCurrentDocument(qint64 documentId)
{
    if (documentId == m_documentId)
        return;
    m_documentId = documentId;
    if (scope() == Scope::CurrentDocument)
        refresh();
}

void AnnotationsPanel::setScope(Scope scope)
{
    m_scope->setCurrentIndex(scope == Scope::AllDocuments ? 1 : 0);
}

AnnotationsPanel::Scope AnnotationsPanel::scope() const
{
    return m_scope->currentIndex() == 1 ? Scope::AllDocuments : Scope::CurrentDocument;
}

void AnnotationsPanel::setTagFilter(const QString &tag)
{
    m_tag->setText(tag);
}

void AnnotationsPanel::setSelection(qint64 documentId, int page, int start, int length, const QString &text)
{
    m_selection = length > 0 ? app::PageSelection { documentId, page, start, length, plainQuote(text), {} }
                             : app::PageSelection {};
    if (length > 0) {
        setCurrentDocument(documentId);
        m_currentPage = page;
    }
    m_highlight->setEnabled(m_workbench && length > 0);
}

void AnnotationsPanel::setWordSelection(
    qint64 documentId, int page, const QList<app::WordBox> &words, const QString &text)
{
    if (words.isEmpty()) {
        setSelection(0, 0, 0, 0, QString());
        return;
    }
    int start = static_cast<int>(words.front().offset), end = start;
    for (const app::WordBox &w : words) {
        start = std::min(start, static_cast<int>(w.offset));
        end = std::max(end, static_cast<int>(w.offset + w.length));
    }
    setSelection(documentId, page, start, end - start, text);
    for (const app::WordBox &w : words)
        m_selection.rects.push_back(w.box);
}

QString AnnotationsPanel::message() const
{
    return m_message->text();
}

void AnnotationsPanel::showMessage(const QString &text)
{
    m_message->setText(text);
}

qint64 AnnotationsPanel::documentIdOf(const QString &sha256)
{
    if (!m_workbench)
        return 0;
    try {
        const auto doc = m_workbench->findDocumentBySha256(sha256);
        return doc ? doc->id : 0;
    } catch (const std::exception &) {
        return 0; // an unreadable library: as if the document were not in it
    }
}

void AnnotationsPanel::refresh()
{
    m_shown.clear();
    m_list->clear();
    if (!m_workbench)
        return;
    try {
        app::AnnotationFilter filter;
        filter.tag = m_tag->text().trimmed();
        if (scope() == Scope::CurrentDocument) {
            const auto doc = m_documentId > 0 ? m_workbench->findDocument(m_documentId) : std::nullopt;
            if (!doc) {
                showMessage(tr("Open a document to see its annotations."));
                return;
            }
            filter.documentSha256 = doc->sha256;
        }
        m_shown = m_workbench->annotations().list(filter);
        const app::AnnotationPlaces places = m_workbench->annotations().places();
        // In "This document" every row is the same document: the column would only take room.
        m_list->setColumnHidden(DocumentColumn, scope() == Scope::CurrentDocument);
        for (const app::Annotation &a : m_shown) {
            const app::AnnotationPlace place = places(a);
            auto *item = new QTreeWidgetItem(m_list);
            item->setData(0, Qt::UserRole, QVariant::fromValue<qint64>(a.id));
            item->setText(DocumentColumn, place.inLibrary ? place.title : tr("(not in this library)"));
            item->setToolTip(
                DocumentColumn, place.inLibrary ? QStringLiteral("%1\n%2").arg(place.title, place.path) : QString());
            item->setText(PageColumn, app::pageName(a.page, place.pageLabel));
            // The note first: it is what the reader wrote; the quote is what it is about.
            const QString quote = a.quote.simplified();
            QString text = a.note.simplified();
            if (!quote.isEmpty())
                text = text.isEmpty() ? QStringLiteral("\u201C%1\u201D").arg(quote)
                                      : QStringLiteral("%1 — \u201C%2\u201D").arg(text, quote);
            item->setText(TextColumn, text);
            QStringList tip;
            if (!a.note.isEmpty())
                tip << tr("Note: %1").arg(a.note);
            if (!a.quote.isEmpty())
                tip << tr("Quote: \u201C%1\u201D").arg(a.quote);
            item->setToolTip(TextColumn, tip.join(QLatin1Char('\n')));
            item->setIcon(TextColumn, a.kind == QLatin1String("note") ? QIcon() : swatch(a.color));
            item->setText(TagsColumn, a.tags.join(QStringLiteral(", ")));
        }
        showMessage(tr("%n annotation(s).", nullptr, int(m_shown.size())));
    } catch (const std::exception &e) {
        showMessage(tr("Cannot read the annotations: %1").arg(QString::fromUtf8(e.what())));
    }
}

qint64 AnnotationsPanel::addAnnotation(const std::function<qint64(app::AnnotationService &)> &add)
{
    if (!m_workbench)
        return 0;
    try {
        const qint64 id = add(m_workbench->annotations());
        refresh();
        emit annotationsChanged();
        return id;
    } catch (const std::exception &e) {
        showMessage(tr("Cannot save the annotation: %1").arg(QString::fromUtf8(e.what())));
        return 0;
    }
}

qint64 AnnotationsPanel::highlightSelection(const QString &color, const QString &note, const QStringList &tags)
{
    if (!m_workbench || m_selection.length <= 0) {
        showMessage(tr("Select text on the page first."));
        return 0;
    }
    const app::PageSelection selection = m_selection;
    const QString chosen = color.isEmpty() ? m_color->currentData().toString() : color;
    return addAnnotation(
        [&](app::AnnotationService &annotations) { return annotations.highlight(selection, chosen, note, tags); });
}

qint64 AnnotationsPanel::addNote(const QString &note, const QStringList &tags)
{
    const qint64 documentId = m_selection.length > 0 ? m_selection.documentId : m_documentId;
    const int page = m_selection.length > 0 ? m_selection.page : m_currentPage;
    if (!m_workbench || documentId <= 0 || page <= 0) {
        showMessage(tr("Open a page to add a note to it."));
        return 0;
    }
    const QString quote = m_selection.length > 0 ? m_selection.text : QString();
    const QString color = m_color->currentData().toString();
    return addAnnotation([&](app::AnnotationService &annotations) {
        return annotations.addNote(documentId, page, quote, note, tags, color);
    });
}

bool AnnotationsPanel::updateAnnotation(qint64 id, const QString &note, const QStringList &tags, const QString &color)
{
    if (!m_workbench)
        return false;
    try {
        if (!m_workbench->annotations().update(id, note, tags, color))
            return false;
    } catch (const std::exception &e) {
        showMessage(tr("Cannot save the annotation: %1").arg(QString::fromUtf8(e.what())));
        return false;
    }
    refresh();
    emit annotationsChanged();
    return true;
}

bool AnnotationsPanel::removeAnnotation(qint64 id)
{
    if (!m_workbench)
        return false;
    bool removed = false;
    try {
        removed = m_workbench->annotations().remove(id);
    } catch (const std::exception &e) {
        showMessage(tr("Cannot delete the annotation: %1").arg(QString::fromUtf8(e.what())));
        return false;
    }
    refresh();
    if (removed)
        emit annotationsChanged();
    return removed;
}

qint64 AnnotationsPanel::selectedId() const
{
    const QTreeWidgetItem *item = m_list->currentItem();
    return item ? item->data(0, Qt::UserRole).toLongLong() : 0;
}

void AnnotationsPanel::highlightFromSelection()
{
    highlightSelection();
}

void AnnotationsPanel::noteFromDialog()
{
    EditValues values;
    if (editDialog(this, tr("New Note"), values, false))
        addNote(values.note, values.tags);
}

void AnnotationsPanel::editCurrent()
{
    const qint64 id = selectedId();
    const auto it = std::find_if(m_shown.begin(), m_shown.end(), [id](const auto &a) { return a.id == id; });
    if (it == m_shown.end())
        return;
    EditValues values { it->note, it->tags, it->color };
    if (editDialog(this, tr("Edit Annotation"), values, it->kind != QLatin1String("note")))
        updateAnnotation(id, values.note, values.tags, values.color);
}

void AnnotationsPanel::deleteCurrent()
{
    if (const qint64 id = selectedId(); id > 0)
        removeAnnotation(id);
}

void AnnotationsPanel::activateCurrent()
{
    const qint64 id = selectedId();
    const auto it = std::find_if(m_shown.begin(), m_shown.end(), [id](const auto &a) { return a.id == id; });
    if (it == m_shown.end())
        return;
    const qint64 documentId = documentIdOf(it->documentSha256);
    if (documentId == 0) {
        showMessage(tr("That document is not in this library."));
        return;
    }
    emit pageRequested(documentId, it->page, it->quote);
}

QByteArray AnnotationsPanel::exportShown(app::AnnotationFormat format) const
{
    if (!m_workbench)
        return app::exportAnnotations(m_shown, format);
    return m_workbench->annotations().exportAnnotations(m_shown, format); // with titles, paths and page labels
}

bool AnnotationsPanel::exportToFile(const QString &path, app::AnnotationFormat format)
{
    try {
        app::writeOutputFile(path, exportShown(format));
    } catch (const std::exception &e) {
        showMessage(QString::fromStdString(e.what()));
        return false;
    }
    showMessage(tr("Exported %n annotation(s) to %1.", nullptr, int(m_shown.size())).arg(path));
    return true;
}

void AnnotationsPanel::exportFromDialog()
{
    QString filter;
    const QString path = QFileDialog::getSaveFileName(this, tr("Export Annotations"), QStringLiteral("annotations.md"),
        tr("Markdown (*.md);;JSON (*.json);;CSV (*.csv)"), &filter);
    if (path.isEmpty())
        return;
    const QString suffix = QFileInfo(path).suffix().toLower();
    const app::AnnotationFormat format = suffix == QLatin1String("json") ? app::AnnotationFormat::Json
        : suffix == QLatin1String("csv")                                 ? app::AnnotationFormat::Csv
        : filter.startsWith(QLatin1String("JSON"))                       ? app::AnnotationFormat::Json
        : filter.startsWith(QLatin1String("CSV"))                        ? app::AnnotationFormat::Csv
                                                                         : app::AnnotationFormat::Markdown;
    exportToFile(path, format);
}

} // namespace nw::ui
