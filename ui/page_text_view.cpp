// Highlights are QTextEdit extra selections, so the text stays plain and selectable.
#include "ui/page_text_view.h"

#include "app/page_numbers.h"
#include "common/error.h"

#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QRegularExpression>
#include <QTextBrowser>
#include <QVBoxLayout>

#include <algorithm>

namespace nw::ui {

PageTextView::PageTextView(QWidget *parent)
    : QWidget(parent)
{
    setObjectName(QStringLiteral("PageView"));
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_header = new QLabel(tr("Open a document from the Library to read it here."), this);
    m_header->setObjectName(QStringLiteral("PageHeader"));
    m_header->setMargin(6);
    layout->addWidget(m_header);
    m_text = new QTextBrowser(this);
    m_text->setObjectName(QStringLiteral("PageText"));
    m_text->setOpenLinks(false);
    layout->addWidget(m_text, 1);
}

void PageTextView::setWorkbench(std::shared_ptr<app::Workbench> workbench)
{
    m_workbench = std::move(workbench);
    m_documentId = 0;
    m_pageNumber = 0;
    m_pageCount = 0;
    m_highlights = 0;
    m_text->clear();
}

bool PageTextView::showPage(qint64 documentId, int pageNumber, const QStringList &terms)
{
    if (!m_workbench)
        return false;
    std::optional<app::DocumentInfo> doc;
    std::optional<app::PageRecord> page;
    try {
        doc = m_workbench->findDocument(documentId);
        if (doc)
            page = m_workbench->findPage(documentId, pageNumber);
    } catch (const Error &e) {
        m_header->setText(tr("Cannot read the page: %1").arg(QString::fromUtf8(e.what())));
        return false;
    }
    if (!doc || !page)
        return false;
    m_documentId = documentId;
    m_pageNumber = pageNumber;
    m_pageCount = doc->pageCount;
    m_terms = terms;
    QString title = doc->title.isEmpty() ? doc->path.section(QLatin1Char('/'), -1) : doc->title;
    try {
        title = m_workbench->documentTitles().value(documentId, title);
        m_labels = m_workbench->pageLabels(documentId);
    } catch (const Error &) {
        m_labels.clear(); // the plain title and numbers will do
    }
    m_header->setText(tr("%1 — %2 of %3").arg(title, app::pageCitation(pageNumber, page->label)).arg(doc->pageCount));
    m_text->setPlainText(page->text);

    QList<QTextEdit::ExtraSelection> selections;
    QTextCharFormat mark;
    mark.setBackground(QColor(255, 214, 0, 170));
    mark.setForeground(Qt::black);
    QTextCursor first;
    for (const QString &term : terms) {
        if (term.isEmpty())
            continue;
        const QRegularExpression re(
            QStringLiteral("\\b%1").arg(QRegularExpression::escape(term)), QRegularExpression::CaseInsensitiveOption);
        QTextCursor c = m_text->document()->find(re);
        while (!c.isNull()) {
            selections.append({ c, mark });
            if (first.isNull() || c.position() < first.position())
                first = c;
            c = m_text->document()->find(re, c);
        }
    }
    std::sort(selections.begin(), selections.end(),
        [](const auto &a, const auto &b) { return a.cursor.position() < b.cursor.position(); });
    m_text->setExtraSelections(selections);
    m_highlights = static_cast<int>(selections.size());
    if (!first.isNull()) {
        QTextCursor at = first;
        at.clearSelection();
        m_text->setTextCursor(at);
        m_text->ensureCursorVisible();
    }
    return true;
}

bool PageTextView::showPassage(qint64 documentId, int pageNumber, int start, int length)
{
    if (!showPage(documentId, pageNumber))
        return false;
    const int size = static_cast<int>(m_text->toPlainText().size());
    start = std::clamp(start, 0, size);
    length = std::clamp(length, 0, size - start);
    if (length == 0)
        return true;
    QTextCursor c(m_text->document());
    c.setPosition(start);
    c.setPosition(start + length, QTextCursor::KeepAnchor);
    QTextCharFormat mark;
    mark.setBackground(QColor(120, 200, 255, 170));
    mark.setForeground(Qt::black);
    m_text->setExtraSelections({ { c, mark } });
    m_highlights = 1;
    QTextCursor at = c;
    at.setPosition(start);
    m_text->setTextCursor(at);
    m_text->ensureCursorVisible();
    return true;
}

QString PageTextView::pageText() const
{
    return m_text->toPlainText();
}

QStringList PageTextView::highlightedTexts() const
{
    QStringList out;
    for (const QTextEdit::ExtraSelection &s : m_text->extraSelections())
        out << s.cursor.selectedText();
    return out;
}

void PageTextView::nextPage()
{
    if (m_pageNumber < m_pageCount)
        showPage(m_documentId, m_pageNumber + 1, m_terms);
}

void PageTextView::previousPage()
{
    if (m_pageNumber > 1)
        showPage(m_documentId, m_pageNumber - 1, m_terms);
}

void PageTextView::askGoToPage()
{
    if (m_pageCount == 0)
        return;
    bool ok = false;
    const QString text = QInputDialog::getText(this, tr("Go to Page"),
        tr("Page as printed (%1), or #N for the Nth of %2:").arg(app::labelRanges(m_labels)).arg(m_pageCount),
        QLineEdit::Normal, m_labels.value(m_pageNumber - 1), &ok);
    if (!ok)
        return;
    if (const int page = app::resolvePage(text, m_labels); page > 0)
        showPage(m_documentId, page, m_terms);
    else
        m_header->setText(tr("This document has no page “%1”.").arg(text.trimmed()));
}

} // namespace nw::ui
