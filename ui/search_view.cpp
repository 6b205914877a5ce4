// Hits are list items whose text is plain (for accessibility and tests) and whose HtmlRole the
// delegate draws with QTextDocument, wrapped to the panel's width.
#include "ui/search_view.h"

#include "app/page_numbers.h"
#include "common/error.h"

#include <QAbstractTextDocumentLayout>
#include <QApplication>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPainter>
#include <QRegularExpression>
#include <QStyledItemDelegate>
#include <QTextDocument>
#include <QVBoxLayout>

namespace nw::ui {
namespace {

// Private-use characters mark the matched words: they cannot occur in page text, so escaping the
// snippet for HTML never touches them.
const QString kMarkOpen = QStringLiteral("\uE000");
const QString kMarkClose = QStringLiteral("\uE001");

class HitDelegate : public QStyledItemDelegate {
public:
    using QStyledItemDelegate::QStyledItemDelegate;

    void paint(QPainter *painter, const QStyleOptionViewItem &option, const QModelIndex &index) const override
    {
        QStyleOptionViewItem opt = option;
        initStyleOption(&opt, index);
        opt.text.clear();
        QStyle *style = opt.widget ? opt.widget->style() : QApplication::style();
        style->drawControl(QStyle::CE_ItemViewItem, &opt, painter, opt.widget);
        QTextDocument doc;
        layout(doc, index, option);
        QAbstractTextDocumentLayout::PaintContext context;
        context.palette = opt.palette;
        if (opt.state & QStyle::State_Selected)
            context.palette.setColor(QPalette::Text, opt.palette.color(QPalette::HighlightedText));
        painter->save();
        painter->translate(opt.rect.topLeft() + QPoint(kPadding, kPadding));
        painter->setClipRect(QRect(QPoint(0, 0), opt.rect.size() - QSize(2 * kPadding, 2 * kPadding)));
        doc.documentLayout()->draw(painter, context);
        painter->restore();
    }

    QSize sizeHint(const QStyleOptionViewItem &option, const QModelIndex &index) const override
    {
        QTextDocument doc;
        layout(doc, index, option);
        return QSize(
            static_cast<int>(doc.idealWidth()) + 2 * kPadding, static_cast<int>(doc.size().height()) + 2 * kPadding);
    }

private:
    static constexpr int kPadding = 4;

    static void layout(QTextDocument &doc, const QModelIndex &index, const QStyleOptionViewItem &option)
    {
        doc.setDefaultFont(option.font);
        doc.setDocumentMargin(0);
        doc.setHtml(index.data(SearchView::HtmlRole).toString());
        const int width = option.widget ? option.widget->width() - 2 * kPadding - 24 : 300; // the scroll bar
        doc.setTextWidth(std::max(120, width));
    }
};

} // namespace

QStringList highlightTerms(const QString &query)
{
    static const QRegularExpression word(QStringLiteral("[\\p{L}\\p{N}_]+"));
    static const QStringList operators
        = { QStringLiteral("AND"), QStringLiteral("OR"), QStringLiteral("NOT"), QStringLiteral("NEAR") };
    QStringList terms;
    for (auto it = word.globalMatch(query); it.hasNext();) {
        const QString w = it.next().captured();
        if (!operators.contains(w) && !terms.contains(w, Qt::CaseInsensitive))
            terms << w;
    }
    return terms;
}

QString hitHtml(const QString &title, const QString &page, const QString &snippet, const QString &markOpen,
    const QString &markClose)
{
    QString body = snippet.simplified().toHtmlEscaped();
    if (!markOpen.isEmpty())
        body.replace(markOpen.toHtmlEscaped(), QStringLiteral("<b>"));
    if (!markClose.isEmpty())
        body.replace(markClose.toHtmlEscaped(), QStringLiteral("</b>"));
    return QStringLiteral("<b>%1</b> — %2<br>%3").arg(title.toHtmlEscaped(), page.toHtmlEscaped(), body);
}

SearchView::SearchView(QWidget *parent)
    : QWidget(parent)
{
    setObjectName(QStringLiteral("SearchView"));
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    m_searchBox = new QLineEdit(this);
    m_searchBox->setObjectName(QStringLiteral("SearchBox"));
    m_searchBox->setPlaceholderText(tr("Search the library (Ctrl+F)"));
    m_searchBox->setClearButtonEnabled(true);
    m_searchBox->setToolTip(tr("Words (all must match), \"exact phrases\", OR, NOT, NEAR(a b, 10), prefix*"));
    layout->addWidget(m_searchBox);
    connect(m_searchBox, &QLineEdit::returnPressed, this, [this] { search(m_searchBox->text()); });

    m_results = new QListWidget(this);
    m_results->setObjectName(QStringLiteral("SearchResults"));
    m_results->setItemDelegate(new HitDelegate(m_results));
    m_results->setAlternatingRowColors(true);
    m_results->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    m_results->setVerticalScrollMode(QAbstractItemView::ScrollPerPixel);
    m_results->setResizeMode(QListView::Adjust); // re-wrap the hits when the panel is resized
    m_results->setUniformItemSizes(false);
    layout->addWidget(m_results, 1);
    m_status = new QLabel(this);
    m_status->setObjectName(QStringLiteral("SearchStatus"));
    m_status->setWordWrap(true);
    layout->addWidget(m_status);

    const auto open = [this](QListWidgetItem *item) {
        if (item && item->data(DocumentRole).isValid())
            emit pageRequested(item->data(DocumentRole).toLongLong(), item->data(PageRole).toInt(), m_lastTerms);
    };
    connect(m_results, &QListWidget::itemActivated, this, open);
    connect(m_results, &QListWidget::itemClicked, this, open);
}

void SearchView::setWorkbench(std::shared_ptr<app::Workbench> workbench)
{
    m_workbench = std::move(workbench);
    m_results->clear();
    m_status->clear();
}

QString SearchView::status() const
{
    return m_status->text();
}

void SearchView::focusSearch()
{
    m_searchBox->setFocus(Qt::ShortcutFocusReason);
    m_searchBox->selectAll();
}

void SearchView::search(const QString &query)
{
    m_results->clear();
    if (m_searchBox->text() != query)
        m_searchBox->setText(query);
    if (!m_workbench || query.trimmed().isEmpty())
        return;
    m_lastTerms = highlightTerms(query);
    std::vector<app::SearchHit> hits;
    QHash<std::int64_t, QString> titles;
    try {
        app::SearchOptions options;
        options.markOpen = kMarkOpen;
        options.markClose = kMarkClose;
        hits = m_workbench->search(query, options);
        titles = m_workbench->documentTitles();
    } catch (const Error &e) {
        m_status->setText(tr("Search: %1").arg(QString::fromUtf8(e.what())));
        return;
    }
    for (const app::SearchHit &hit : hits) {
        const QString title = titles.value(hit.documentId, hit.title);
        const QString page = app::pageCitation(hit.pageNumber, hit.pageLabel);
        QString plain = hit.snippet.simplified();
        plain.remove(kMarkOpen).remove(kMarkClose);
        auto *item = new QListWidgetItem(QStringLiteral("%1 — %2\n%3").arg(title, page, plain), m_results);
        item->setData(HtmlRole, hitHtml(title, page, hit.snippet, kMarkOpen, kMarkClose));
        item->setToolTip(hit.path);
        item->setData(DocumentRole, QVariant::fromValue<qint64>(hit.documentId));
        item->setData(PageRole, hit.pageNumber);
    }
    m_status->setText(
        hits.empty() ? tr("No pages match “%1”.").arg(query) : tr("%n page(s) match.", nullptr, int(hits.size())));
}

} // namespace nw::ui
