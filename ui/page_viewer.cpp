// Reads everything it shows through the library (page sizes and text when a document opens,
// word boxes of a page when it is highlighted or selected on) and leaves pixels to the renderer.
#include "ui/page_viewer.h"

#include "common/error.h"
#include "ui/page_render_cache.h"
#include "ui/page_renderer.h"
#include "ui/thumbnail_strip.h"

#include <QAction>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QInputDialog>
#include <QLabel>
#include <QRegularExpression>
#include <QSpinBox>
#include <QToolBar>
#include <QVBoxLayout>

#include <algorithm>

namespace nw::ui {

PageViewer::PageViewer(QWidget *parent)
    : QWidget(parent), m_cache(std::make_unique<PageRenderCache>(kDefaultCacheBytes))
{
    setObjectName(QStringLiteral("PageViewer"));
    m_renderer = new PageRenderer(m_cache.get(), this);
    m_canvas = new PageCanvas(m_renderer, m_cache.get(), this);
    m_thumbnails = new ThumbnailStrip(m_renderer, m_cache.get(), this);

    auto *toolbar = new QToolBar(this);
    toolbar->setObjectName(QStringLiteral("PageViewerToolbar"));
    m_title = new QLabel(tr("Open a document from the Library to read it here."), this);
    m_title->setObjectName(QStringLiteral("PageViewerTitle"));
    m_title->setMargin(4);
    toolbar->addWidget(m_title);
    auto *spacer = new QWidget(this);
    spacer->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Preferred);
    toolbar->addWidget(spacer);

    auto addZoomAction = [&](const QString &text, const QString &name, const QList<QKeySequence> &keys, auto slot) {
        auto *action = new QAction(text, this);
        action->setObjectName(name);
        action->setShortcuts(keys);
        connect(action, &QAction::triggered, this, slot);
        toolbar->addAction(action);
        m_zoomActions << action;
    };
    addZoomAction(tr("Zoom &Out"), QStringLiteral("ZoomOutAction"), {QKeySequence::ZoomOut}, &PageViewer::zoomOut);
    addZoomAction(tr("Zoom &In"), QStringLiteral("ZoomInAction"),
                  {QKeySequence::ZoomIn, QKeySequence(Qt::CTRL | Qt::Key_Equal)}, &PageViewer::zoomIn);
    addZoomAction(tr("Fit &Width"), QStringLiteral("FitWidthAction"), {QKeySequence(Qt::CTRL | Qt::Key_0)},
                  &PageViewer::fitWidth);
    addZoomAction(tr("Fit &Page"), QStringLiteral("FitPageAction"), {QKeySequence(Qt::CTRL | Qt::Key_9)},
                  &PageViewer::fitPage);
    m_zoomLabel = new QLabel(this);
    m_zoomLabel->setObjectName(QStringLiteral("ZoomLabel"));
    m_zoomLabel->setMinimumWidth(fontMetrics().horizontalAdvance(QStringLiteral("8888 %")));
    toolbar->addWidget(m_zoomLabel);
    toolbar->addSeparator();
    toolbar->addWidget(new QLabel(tr("Page "), this));
    m_pageBox = new QSpinBox(this);
    m_pageBox->setObjectName(QStringLiteral("PageNumberBox"));
    m_pageBox->setRange(0, 0);
    m_pageBox->setKeyboardTracking(false);
    toolbar->addWidget(m_pageBox);
    m_pageTotal = new QLabel(this);
    toolbar->addWidget(m_pageTotal);

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

    connect(m_pageBox, &QSpinBox::valueChanged, this, [this](int page) {
        if (page >= 1 && page != pageNumber())
            goToPage(page);
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
    m_pageBox->setRange(0, 0);
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
    m_canvas->setDocument(doc->path, doc->sha256, sizes);
    m_thumbnails->setDocument(doc->path, doc->sha256, sizes);
    const QString title = doc->title.isEmpty() ? QFileInfo(doc->path).fileName() : doc->title;
    m_title->setText(title);
    m_title->setToolTip(doc->path);
    const QSignalBlocker block(m_pageBox);
    m_pageBox->setRange(1, std::max(1, doc->pageCount));
    m_pageBox->setValue(1);
    m_pageTotal->setText(tr(" of %1").arg(doc->pageCount));
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
            const bool hit = std::any_of(ranges.begin(), ranges.end(), [&](const QPair<int, int> &r) {
                return begin < r.first + r.second && end > r.first;
            });
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
        const QRegularExpression re(QStringLiteral("\\b%1").arg(QRegularExpression::escape(term)),
                                    QRegularExpression::CaseInsensitiveOption);
        for (auto it = re.globalMatch(text); it.hasNext();) {
            const QRegularExpressionMatch match = it.next();
            ranges.append({static_cast<int>(match.capturedStart()), static_cast<int>(match.capturedLength())});
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
        ranges.append({start, length});
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
        saved = m_workbench->annotations().list({.documentSha256 = m_documentSha256});
    } catch (const Error &e) {
        m_error = tr("Cannot read the annotations: %1").arg(QString::fromUtf8(e.what()));
        return;
    }
    QHash<int, QList<ColoredBox>> byPage;
    for (const app::Annotation &a : saved) {
        const QColor color(a.color);
        for (const QRectF &rect : a.rects)
            byPage[a.page].append({rect, color.isValid() ? color : QColor(255, 213, 79)});
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
    {
        const QSignalBlocker block(m_pageBox);
        m_pageBox->setValue(index + 1);
    }
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
    bool ok = false;
    const int page = QInputDialog::getInt(this, tr("Go to Page"), tr("Page (1–%1):").arg(pageCount()), pageNumber(), 1,
                                          pageCount(), 1, &ok);
    if (ok)
        goToPage(page);
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
