// Reads everything it shows through the library (page sizes and text when a document opens,
// word boxes of a page when it is highlighted or selected on) and leaves pixels to the renderer.
#include "ui/page_viewer.h"

#include "app/page_numbers.h"
#include "common/error.h"
#include "ui/page_render_cache.h"
#include "ui/page_renderer.h"
#include "ui/thumbnail_strip.h"

#include <QAction>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPainter>
#include <QRegularExpression>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>

namespace nw::ui {
namespace {

// A label that shows what fits of its text, with an ellipsis, and asks for no width of its own.
class ElidedLabel : public QLabel {
public:
    using QLabel::QLabel;
    QSize minimumSizeHint() const override { return { 0, QLabel::minimumSizeHint().height() }; }
    QSize sizeHint() const override { return { 0, QLabel::sizeHint().height() }; }

protected:
    void paintEvent(QPaintEvent *) override
    {
        QPainter p(this);
        p.setPen(palette().color(QPalette::WindowText));
        const QRect area = contentsRect().adjusted(4, 0, -4, 0);
        p.drawText(
            area, Qt::AlignVCenter | Qt::AlignLeft, fontMetrics().elidedText(text(), Qt::ElideRight, area.width()));
    }
};

} // namespace

PageViewer::PageViewer(QWidget *parent)
    : QWidget(parent)
    , m_cache(std::make_unique<PageRenderCache>(kDefaultCacheBytes))
{
    setObjectName(QStringLiteral("PageViewer"));
    m_renderer = new PageRenderer(m_cache.get(), this);
    m_canvas = new PageCanvas(m_renderer, m_cache.get(), this);
    m_thumbnails = new ThumbnailStrip(m_renderer, m_cache.get(), this);

    // A plain bar, not a QToolBar: a toolbar moves what does not fit behind an overflow button,
    // and these controls must stay in reach however narrow the page area is. The title gives way.
    auto *toolbar = new QWidget(this);
    toolbar->setObjectName(QStringLiteral("PageViewerToolbar"));
    auto *bar = new QHBoxLayout(toolbar);
    bar->setContentsMargins(4, 2, 4, 2);
    bar->setSpacing(2);
    m_title = new ElidedLabel(tr("Open a document from the Library to read it here."), toolbar);
    m_title->setObjectName(QStringLiteral("PageViewerTitle"));
    bar->addWidget(m_title, 1);

    auto addZoomAction = [&](const QString &text, const QString &shortText, const QString &name,
                             const QList<QKeySequence> &keys, auto slot) {
        auto *action = new QAction(text, this);
        action->setObjectName(name);
        action->setShortcuts(keys);
        action->setToolTip(QStringLiteral("%1 (%2)").arg(
            QString(text).remove(QLatin1Char('&')), keys.front().toString(QKeySequence::NativeText)));
        connect(action, &QAction::triggered, this, slot);
        auto *button = new QToolButton(toolbar);
        button->setDefaultAction(action);
        button->setText(shortText);
        button->setObjectName(name + QStringLiteral("Button"));
        button->setAutoRaise(true);
        bar->addWidget(button);
        m_zoomActions << action;
    };
    addZoomAction(tr("Zoom &Out"), QStringLiteral("−"), QStringLiteral("ZoomOutAction"), { QKeySequence::ZoomOut },
        &PageViewer::zoomOut);
    addZoomAction(tr("Zoom &In"), QStringLiteral("+"), QStringLiteral("ZoomInAction"),
        { QKeySequence::ZoomIn, QKeySequence(Qt::CTRL | Qt::Key_Equal) }, &PageViewer::zoomIn);
    addZoomAction(tr("Fit &Width"), tr("Width"), QStringLiteral("FitWidthAction"),
        { QKeySequence(Qt::CTRL | Qt::Key_0) }, &PageViewer::fitWidth);
    addZoomAction(tr("Fit &Page"), tr("Page"), QStringLiteral("FitPageAction"), { QKeySequence(Qt::CTRL | Qt::Key_9) },
        &PageViewer::fitPage);
    m_zoomLabel = new QLabel(toolbar);
    m_zoomLabel->setObjectName(QStringLiteral("ZoomLabel"));
    m_zoomLabel->setMinimumWidth(fontMetrics().horizontalAdvance(QStringLiteral("8888 %")));
    m_zoomLabel->setAlignment(Qt::AlignCenter);
    bar->addWidget(m_zoomLabel);
    bar->addSpacing(6);
    auto *pageLabel = new QLabel(tr("Page"), toolbar);
    bar->addWidget(pageLabel);
    m_pageBox = new QLineEdit(toolbar);
    m_pageBox->setObjectName(QStringLiteral("PageNumberBox"));
    m_pageBox->setToolTip(tr("The page as printed on it (7, vii), or #N for the Nth page of the file"));
    m_pageBox->setFixedWidth(fontMetrics().horizontalAdvance(QStringLiteral("xxviii")) + 16);
    m_pageBox->setAlignment(Qt::AlignCenter);
    m_pageBox->setEnabled(false);
    pageLabel->setBuddy(m_pageBox);
    bar->addWidget(m_pageBox);
    m_pageTotal = new QLabel(toolbar);
    m_pageTotal->setObjectName(QStringLiteral("PageTotal"));
    bar->addWidget(m_pageTotal);

    m_thumbnailsAction = new QAction(tr("T&humbnails"), this);
    m_thumbnailsAction->setObjectName(QStringLiteral("ThumbnailsAction"));
    m_thumbnailsAction->setCheckable(true);
    m_thumbnailsAction->setChecked(true);
    m_thumbnailsAction->setToolTip(tr("Page thumbnails beside the page, when the page area is wide enough"));
    connect(m_thumbnailsAction, &QAction::toggled, this, &PageViewer::updateThumbnailsVisibility);

    auto *pages = new QHBoxLayout;
    pages->setContentsMargins(0, 0, 0, 0);
    pages->setSpacing(0);
    pages->addWidget(m_thumbnails);
    pages->addWidget(m_canvas, 1);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addWidget(toolbar);
    layout->addLayout(pages, 1);

    connect(m_pageBox, &QLineEdit::returnPressed, this, [this] {
        if (!goToPageText(m_pageBox->text()))
            updatePageBox(pageNumber()); // back to the page shown; errorString() says why
    });
    connect(m_thumbnails, &ThumbnailStrip::pageActivated, this, [this](int index) { goToPage(index + 1); });
    connect(m_canvas, &PageCanvas::currentPageChanged, this, &PageViewer::onCurrentPageChanged);
    connect(m_canvas, &PageCanvas::zoomChanged, this, &PageViewer::updateZoomLabel);
    connect(m_canvas, &PageCanvas::rectangleSelected, this, &PageViewer::onRectangleSelected);
    updateZoomLabel();
}

PageViewer::~PageViewer()
{
    // The canvas and the strip use the renderer, and the renderer's workers the cache: end them
    // in that order, before the cache (a member) goes.
    delete m_canvas;
    delete m_thumbnails;
    delete m_renderer;
}

void PageViewer::setWorkbench(std::shared_ptr<app::Workbench> workbench)
{
    m_workbench = std::move(workbench);
    m_documentId = 0;
    m_documentSha256.clear();
    m_words.clear();
    m_highlightedTexts.clear();
    m_selectedWords.clear();
    m_selectedText.clear();
    m_selectedPage = 0;
    m_canvas->clear();
    m_thumbnails->setDocument({}, {}, {});
    m_labels.clear();
    m_pageBox->clear();
    m_pageBox->setEnabled(false);
    m_pageTotal->clear();
    m_title->setText(tr("Open a document from the Library to read it here."));
}

bool PageViewer::showDocument(qint64 documentId)
{
    if (!m_workbench) {
        m_error = tr("No library is open.");
        return false;
    }
    if (documentId == m_documentId && m_canvas->pageCount() > 0)
        return true;
    std::optional<app::DocumentInfo> doc;
    std::vector<QSizeF> sizes;
    QHash<int, PageWords> words;
    QStringList labels;
    try {
        doc = m_workbench->findDocument(documentId);
        if (!doc) {
            m_error = tr("Document %1 is not in the library.").arg(documentId);
            return false;
        }
        if (doc->kind != QLatin1String("pdf")) {
            m_error = tr("%1 is not a PDF: it has no pages to draw.").arg(doc->path);
            return false;
        }
        const QFileInfo file(doc->path);
        if (!file.exists() || file.size() != doc->bytes) {
            m_error = tr("%1 is missing or changed since it was ingested.").arg(doc->path);
            return false;
        }
        sizes.reserve(static_cast<std::size_t>(doc->pageCount));
        for (int number = 1; number <= doc->pageCount; ++number) {
            const app::PageRecord page = m_workbench->requirePage(documentId, number);
            sizes.emplace_back(page.width, page.height);
            words[number].text = page.text;
            labels << page.label;
        }
    } catch (const Error &e) {
        m_error = tr("Cannot read document %1: %2").arg(documentId).arg(QString::fromUtf8(e.what()));
        return false;
    }
    clearSelection();
    m_documentId = documentId;
    m_documentSha256 = doc->sha256;
    m_words = std::move(words);
    m_highlightedTexts.clear();
    m_error.clear();
    m_labels = labels;
    m_canvas->setDocument(doc->path, doc->sha256, sizes);
    m_thumbnails->setDocument(doc->path, doc->sha256, sizes, labels);
    QString title = doc->title.isEmpty() ? QFileInfo(doc->path).fileName() : doc->title;
    try {
        title = m_workbench->documentTitles().value(documentId, title);
    } catch (const Error &) {
        // the plain title will do
    }
    m_title->setText(title);
    m_title->setToolTip(QStringLiteral("%1\n%2").arg(title, doc->path));
    m_pageBox->setEnabled(true);
    updatePageBox(1);
    m_thumbnails->setCurrentPage(0);
    reloadAnnotations();
    return true;
}

const PageViewer::PageWords *PageViewer::pageWords(int pageNumber)
{
    const auto it = m_words.find(pageNumber);
    if (it == m_words.end() || !m_workbench)
        return nullptr;
    if (it->words.empty() && !it->text.isEmpty()) {
        try {
            it->words = m_workbench->wordBoxes(m_documentId, pageNumber);
        } catch (const Error &e) {
            m_error = QString::fromUtf8(e.what());
            return nullptr;
        }
    }
    return &*it;
}

bool PageViewer::highlightRanges(int pageNumber, HighlightKind kind, const QList<QPair<int, int>> &ranges)
{
    m_highlightedTexts.clear();
    const PageWords *page = ranges.isEmpty() ? nullptr : pageWords(pageNumber);
    QList<QRectF> boxes;
    if (page) {
        for (const app::WordBox &word : page->words) {
            const qint64 begin = word.offset;
            const qint64 end = begin + word.length;
            const bool hit = std::any_of(ranges.begin(), ranges.end(),
                [&](const QPair<int, int> &r) { return begin < r.first + r.second && end > r.first; });
            if (hit) {
                boxes << word.box;
                m_highlightedTexts << page->text.mid(word.offset, word.length);
            }
        }
    }
    m_canvas->setHighlights(pageNumber - 1, kind, boxes);
    if (boxes.isEmpty())
        m_canvas->scrollToPage(pageNumber - 1);
    else
        m_canvas->scrollToPage(pageNumber - 1, boxes.front().top());
    return !boxes.isEmpty();
}

bool PageViewer::showPage(qint64 documentId, int pageNumber, const QStringList &terms)
{
    if (!showDocument(documentId))
        return false;
    if (pageNumber < 1 || pageNumber > pageCount())
        return false;
    m_canvas->clearHighlights(HighlightKind::SearchHit);
    m_canvas->clearHighlights(HighlightKind::Citation);
    QList<QPair<int, int>> ranges;
    const QString &text = m_words.value(pageNumber).text;
    for (const QString &term : terms) {
        if (term.isEmpty())
            continue;
        const QRegularExpression re(
            QStringLiteral("\\b%1").arg(QRegularExpression::escape(term)), QRegularExpression::CaseInsensitiveOption);
        for (auto it = re.globalMatch(text); it.hasNext();) {
            const QRegularExpressionMatch match = it.next();
            ranges.append({ static_cast<int>(match.capturedStart()), static_cast<int>(match.capturedLength()) });
        }
    }
    highlightRanges(pageNumber, HighlightKind::SearchHit, ranges);
    return true;
}

bool PageViewer::showPassage(qint64 documentId, int pageNumber, int start, int length)
{
    if (!showDocument(documentId))
        return false;
    if (pageNumber < 1 || pageNumber > pageCount())
        return false;
    m_canvas->clearHighlights(HighlightKind::SearchHit);
    m_canvas->clearHighlights(HighlightKind::Citation);
    QList<QPair<int, int>> ranges;
    if (length > 0)
        ranges.append({ start, length });
    highlightRanges(pageNumber, HighlightKind::Citation, ranges);
    return true;
}

void PageViewer::reloadAnnotations()
{
    m_canvas->clearAnnotationBoxes();
    if (!m_workbench || m_documentId <= 0)
        return;
    std::vector<app::Annotation> saved;
    try {
        saved = m_workbench->annotations().list({ .documentSha256 = m_documentSha256 });
    } catch (const Error &e) {
        m_error = tr("Cannot read the annotations: %1").arg(QString::fromUtf8(e.what()));
        return;
    }
    QHash<int, QList<ColoredBox>> byPage;
    for (const app::Annotation &a : saved) {
        const QColor color(a.color);
        for (const QRectF &rect : a.rects)
            byPage[a.page].append({ rect, color.isValid() ? color : QColor(255, 213, 79) });
    }
    for (auto it = byPage.cbegin(); it != byPage.cend(); ++it)
        if (it.key() >= 1 && it.key() <= pageCount())
            m_canvas->setAnnotationBoxes(it.key() - 1, it.value());
}

int PageViewer::pageNumber() const
{
    return m_canvas->currentPage() + 1;
}

int PageViewer::pageCount() const
{
    return m_canvas->pageCount();
}

int PageViewer::highlightCount() const
{
    return static_cast<int>(m_highlightedTexts.size());
}

void PageViewer::onRectangleSelected(int index, const QRectF &points)
{
    if (points.isEmpty()) {
        clearSelection();
        return;
    }
    const int number = index + 1;
    const PageWords *page = pageWords(number);
    QList<app::WordBox> selected;
    if (page)
        for (const app::WordBox &word : page->words)
            if (word.box.intersects(points))
                selected << word;
    std::sort(selected.begin(), selected.end(),
        [](const app::WordBox &a, const app::WordBox &b) { return a.offset < b.offset; });
    QString text;
    QList<QRectF> boxes;
    for (qsizetype i = 0; i < selected.size(); ++i) {
        const app::WordBox &word = selected[i];
        if (i > 0) {
            // What the page text has between the two words: a line break stays one.
            const app::WordBox &before = selected[i - 1];
            const qsizetype gapStart = before.offset + before.length;
            const QString gap = page->text.mid(gapStart, std::max<qsizetype>(0, word.offset - gapStart));
            text += gap.contains(QLatin1Char('\n')) ? QStringLiteral("\n") : QStringLiteral(" ");
        }
        text += page->text.mid(word.offset, word.length);
        boxes << word.box;
    }
    if (m_selectedPage > 0 && m_selectedPage != number)
        m_canvas->setHighlights(m_selectedPage - 1, HighlightKind::Selection, {});
    m_canvas->setHighlights(index, HighlightKind::Selection, boxes);
    m_selectedWords = selected;
    m_selectedText = text;
    m_selectedPage = selected.isEmpty() ? 0 : number;
    emit selectionChanged(m_documentId, number, m_selectedWords, m_selectedText);
}

void PageViewer::clearSelection()
{
    if (m_selectedPage == 0)
        return;
    const int page = m_selectedPage;
    if (page <= pageCount())
        m_canvas->setHighlights(page - 1, HighlightKind::Selection, {});
    m_selectedWords.clear();
    m_selectedText.clear();
    m_selectedPage = 0;
    emit selectionChanged(m_documentId, page, {}, {});
}

void PageViewer::onCurrentPageChanged(int index)
{
    if (index < 0)
        return;
    updatePageBox(index + 1);
    m_thumbnails->setCurrentPage(index);
    emit pageChanged(index + 1);
}

void PageViewer::updateZoomLabel()
{
    m_zoomLabel->setText(tr("%1 %").arg(qRound(m_canvas->zoom() * 100)));
}

void PageViewer::goToPage(int pageNumber)
{
    m_canvas->scrollToPage(pageNumber - 1);
}

void PageViewer::nextPage()
{
    if (pageNumber() < pageCount())
        goToPage(pageNumber() + 1);
}

void PageViewer::previousPage()
{
    if (pageNumber() > 1)
        goToPage(pageNumber() - 1);
}

void PageViewer::askGoToPage()
{
    if (pageCount() == 0)
        return;
    m_pageBox->setFocus(Qt::ShortcutFocusReason);
    m_pageBox->selectAll();
}

QString PageViewer::pageLabel(int pageNumber) const
{
    return m_labels.value(pageNumber - 1);
}

QString PageViewer::pageBoxCaption() const
{
    return m_pageTotal->text();
}

void PageViewer::updatePageBox(int pageNumber)
{
    if (m_documentId <= 0 || pageNumber < 1)
        return;
    const QString label = pageLabel(pageNumber);
    const bool differs = !label.isEmpty() && label != QString::number(pageNumber);
    m_pageBox->setText(differs ? label : QString::number(pageNumber));
    m_pageTotal->setText(differs ? tr("(%1 of %2)").arg(pageNumber).arg(pageCount()) : tr("of %1").arg(pageCount()));
}

bool PageViewer::goToPageText(const QString &text)
{
    const int page = app::resolvePage(text, m_labels);
    if (page < 1) {
        m_error
            = tr("This document has no page “%1”: it has %2 pages (%3); type a printed page or #N for the Nth page.")
                  .arg(text.trimmed(), QString::number(pageCount()), app::labelRanges(m_labels));
        m_pageBox->setToolTip(m_error);
        return false;
    }
    m_pageBox->setToolTip(tr("The page as printed on it (7, vii), or #N for the Nth page of the file"));
    goToPage(page);
    updatePageBox(page);
    return true;
}

void PageViewer::resizeEvent(QResizeEvent *event)
{
    QWidget::resizeEvent(event);
    updateThumbnailsVisibility();
}

void PageViewer::updateThumbnailsVisibility()
{
    // Below this width the strip would take a fifth of the page's room: the page comes first.
    constexpr int kRoomForThumbnails = 720;
    m_thumbnails->setVisible(m_thumbnailsAction->isChecked() && width() >= kRoomForThumbnails);
}

void PageViewer::zoomIn()
{
    m_canvas->zoomIn();
}

void PageViewer::zoomOut()
{
    m_canvas->zoomOut();
}

void PageViewer::fitWidth()
{
    m_canvas->setZoomMode(ZoomMode::FitWidth);
}

void PageViewer::fitPage()
{
    m_canvas->setZoomMode(ZoomMode::FitPage);
}

} // namespace nw::ui
