// Layout is a column of page rectangles whose tops are kept in m_tops; painting asks the cache
// for each visible page and falls back to an older zoom's image (scaled) or a placeholder.
// Highlights multiply their colour onto the page, so the glyphs under them stay black.
#include "ui/page_canvas.h"

#include "common/assert.h"
#include "ui/page_render_cache.h"
#include "ui/page_renderer.h"

#include <QMouseEvent>
#include <QPaintEvent>
#include <QPainter>
#include <QScrollBar>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>

namespace nw::ui {
namespace {

constexpr int kRenderClient = 1;     // PageRenderer client id of the canvas
constexpr double kZoomStep = 1.25;

} // namespace

PageCanvas::PageCanvas(PageRenderer *renderer, PageRenderCache *cache, QWidget *parent)
    : QAbstractScrollArea(parent), m_renderer(renderer), m_cache(cache)
{
    setObjectName(QStringLiteral("PageCanvas"));
    // Always there, so fit-width does not change the width it fits to.
    setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOn);
    setHorizontalScrollBarPolicy(Qt::ScrollBarAsNeeded);
    setFocusPolicy(Qt::StrongFocus);
    viewport()->setAttribute(Qt::WA_OpaquePaintEvent);
    viewport()->setCursor(Qt::IBeamCursor);
    viewport()->setMouseTracking(true); // moves reach the rubber band whatever the button state says
    verticalScrollBar()->setSingleStep(24);
    horizontalScrollBar()->setSingleStep(24);
    connect(m_renderer, &PageRenderer::rendered, this, &PageCanvas::onRendered);
}

void PageCanvas::setDocument(const QString &pdfPath, const QString &documentKey, std::vector<QSizeF> pageSizes)
{
    m_pdfPath = pdfPath;
    m_documentKey = documentKey;
    m_pageSizes = std::move(pageSizes);
    m_tops.clear(); // the old layout must not index the new pages
    m_lastMilliDpi.clear();
    m_errors.clear();
    m_highlights.clear();
    m_annotationBoxes.clear();
    m_dragPage = -1;
    m_currentPage = -1;
    m_zoom = m_zoomMode == ZoomMode::Free ? m_zoom : fitZoom(m_zoomMode);
    layoutPages();
    verticalScrollBar()->setValue(0);
    horizontalScrollBar()->setValue(0);
    viewport()->update();
    requestVisible();
    checkCurrentPage();
}

void PageCanvas::clear()
{
    setDocument({}, {}, {});
}

double PageCanvas::renderDpi() const
{
    return 72.0 * m_zoom * devicePixelRatioF();
}

RenderKey PageCanvas::keyFor(int index) const
{
    return {m_documentKey, index, RenderKey::toMilliDpi(renderDpi())};
}

// --- zoom

double PageCanvas::fitZoom(ZoomMode mode) const
{
    if (m_pageSizes.empty() || mode == ZoomMode::Free)
        return m_zoom;
    double widest = 0;
    for (const QSizeF &size : m_pageSizes)
        widest = std::max(widest, size.width());
    const double width = std::max(1, viewport()->width() - 2 * kMargin);
    double zoom = width / std::max(1.0, widest);
    if (mode == ZoomMode::FitPage) {
        const int index = std::clamp(currentPage(), 0, pageCount() - 1);
        const QSizeF page = m_pageSizes[static_cast<std::size_t>(index)];
        const double height = std::max(1, viewport()->height() - 2 * kMargin);
        zoom = std::min(width / std::max(1.0, page.width()), height / std::max(1.0, page.height()));
    }
    return std::clamp(zoom, kMinZoom, kMaxZoom);
}

void PageCanvas::setZoom(double zoom)
{
    m_zoomMode = ZoomMode::Free;
    applyZoom(std::clamp(zoom, kMinZoom, kMaxZoom));
}

void PageCanvas::setZoomMode(ZoomMode mode)
{
    m_zoomMode = mode;
    applyZoom(fitZoom(mode));
}

void PageCanvas::zoomIn()
{
    setZoom(m_zoom * kZoomStep);
}

void PageCanvas::zoomOut()
{
    setZoom(m_zoom / kZoomStep);
}

void PageCanvas::applyZoom(double zoom)
{
    const bool changed = std::abs(zoom - m_zoom) > 1e-9;
    // Keep the same spot of the current page at the top of the viewport.
    const int page = currentPage();
    double fraction = 0;
    if (page >= 0) {
        const QRect rect = pageRect(page);
        fraction = (verticalScrollBar()->value() - rect.top()) / static_cast<double>(std::max(1, rect.height()));
    }
    m_zoom = zoom;
    layoutPages();
    if (page >= 0) {
        const QRect rect = pageRect(page);
        verticalScrollBar()->setValue(rect.top() + static_cast<int>(std::lround(fraction * rect.height())));
    }
    viewport()->update();
    requestVisible();
    if (changed)
        emit zoomChanged(m_zoom);
}

// --- layout

void PageCanvas::layoutPages()
{
    m_tops.resize(m_pageSizes.size());
    int y = kMargin;
    int widest = 0;
    for (std::size_t i = 0; i < m_pageSizes.size(); ++i) {
        m_tops[i] = y;
        y += static_cast<int>(std::lround(m_pageSizes[i].height() * m_zoom)) + kSpacing;
        widest = std::max(widest, static_cast<int>(std::lround(m_pageSizes[i].width() * m_zoom)));
    }
    m_contentHeight = m_pageSizes.empty() ? 0 : y - kSpacing + kMargin;
    m_contentWidth = m_pageSizes.empty() ? 0 : widest + 2 * kMargin;
    updateScrollBars();
}

void PageCanvas::updateScrollBars()
{
    const QSize view = viewport()->size();
    verticalScrollBar()->setPageStep(view.height());
    verticalScrollBar()->setRange(0, std::max(0, m_contentHeight - view.height()));
    horizontalScrollBar()->setPageStep(view.width());
    horizontalScrollBar()->setRange(0, std::max(0, m_contentWidth - view.width()));
}

QRect PageCanvas::pageRect(int index) const
{
    NW_ASSERT(index >= 0 && index < pageCount());
    const QSizeF points = m_pageSizes[static_cast<std::size_t>(index)];
    const int width = static_cast<int>(std::lround(points.width() * m_zoom));
    const int height = static_cast<int>(std::lround(points.height() * m_zoom));
    const int room = std::max(viewport()->width(), m_contentWidth);
    const int x = std::max(kMargin, (room - width) / 2);
    return {x, m_tops[static_cast<std::size_t>(index)], width, height};
}

QRect PageCanvas::pageRectInViewport(int index) const
{
    return pageRect(index).translated(-horizontalScrollBar()->value(), -verticalScrollBar()->value());
}

QPointF PageCanvas::toViewport(int index, QPointF points) const
{
    return QPointF(pageRectInViewport(index).topLeft()) + points * m_zoom;
}

QRectF PageCanvas::toViewport(int index, const QRectF &points) const
{
    return {toViewport(index, points.topLeft()), points.size() * m_zoom};
}

int PageCanvas::pageAt(QPoint viewportPos, QPointF *points) const
{
    for (int index : visiblePages()) {
        const QRect rect = pageRectInViewport(index);
        if (rect.contains(viewportPos)) {
            if (points)
                *points = QPointF(viewportPos - rect.topLeft()) / m_zoom;
            return index;
        }
    }
    return -1;
}

QList<int> PageCanvas::visiblePages() const
{
    QList<int> out;
    if (m_pageSizes.empty())
        return out;
    const int top = verticalScrollBar()->value();
    const int bottom = top + viewport()->height();
    // First page whose bottom is below the viewport's top.
    auto it = std::upper_bound(m_tops.begin(), m_tops.end(), top);
    int index = std::max(0, static_cast<int>(it - m_tops.begin()) - 1);
    for (; index < pageCount(); ++index) {
        const QRect rect = pageRect(index);
        if (rect.top() >= bottom)
            break;
        if (rect.bottom() >= top)
            out << index;
    }
    return out;
}

int PageCanvas::currentPage() const
{
    if (m_pageSizes.empty())
        return -1;
    const int probe = verticalScrollBar()->value() + viewport()->height() / 3;
    const auto it = std::upper_bound(m_tops.begin(), m_tops.end(), probe);
    return std::max(0, static_cast<int>(it - m_tops.begin()) - 1);
}

void PageCanvas::scrollToPage(int index, double pointsY)
{
    if (m_pageSizes.empty())
        return;
    index = std::clamp(index, 0, pageCount() - 1);
    const QRect rect = pageRect(index);
    const int y = pointsY < 0 ? rect.top() - kMargin
                              : rect.top() + static_cast<int>(std::lround(pointsY * m_zoom)) - viewport()->height() / 3;
    verticalScrollBar()->setValue(y);
    // scrollContentsBy() is not called when the value did not change.
    requestVisible();
    checkCurrentPage();
}

bool PageCanvas::isRendered(int index) const
{
    return m_cache->contains(keyFor(index));
}

void PageCanvas::checkCurrentPage()
{
    const int page = currentPage();
    if (page != m_currentPage) {
        m_currentPage = page;
        emit currentPageChanged(page);
    }
}

// --- rendering

void PageCanvas::requestVisible()
{
    QList<RenderJob> jobs;
    if (!m_pageSizes.empty() && isVisible()) {
        QList<int> pages = visiblePages();
        // One page ahead and one behind, after the visible ones, so scrolling finds them ready.
        if (!pages.isEmpty()) {
            if (pages.back() + 1 < pageCount())
                pages << pages.back() + 1;
            if (pages.front() > 0)
                pages << pages.front() - 1;
        }
        for (int index : pages)
            if (!m_errors.contains(index))
                jobs << RenderJob{keyFor(index), m_pdfPath};
    }
    m_renderer->request(kRenderClient, jobs);
}

void PageCanvas::onRendered(const RenderKey &key, const QImage &image, const QString &error)
{
    if (key.document != m_documentKey || key.page >= pageCount())
        return;
    if (image.isNull())
        m_errors.insert(key.page, error);
    else if (key.milliDpi == RenderKey::toMilliDpi(renderDpi()))
        m_lastMilliDpi.insert(key.page, key.milliDpi);
    viewport()->update(pageRectInViewport(key.page));
}

// --- highlights

void PageCanvas::setHighlights(int index, HighlightKind kind, const QList<QRectF> &boxes)
{
    NW_ASSERT(index >= 0 && index < pageCount());
    if (boxes.isEmpty())
        m_highlights[index].remove(kind);
    else
        m_highlights[index].insert(kind, boxes);
    viewport()->update(pageRectInViewport(index));
}

void PageCanvas::clearHighlights(HighlightKind kind)
{
    for (auto &kinds : m_highlights)
        kinds.remove(kind);
    viewport()->update();
}

QList<QRectF> PageCanvas::highlights(int index, HighlightKind kind) const
{
    return m_highlights.value(index).value(kind);
}

QColor PageCanvas::highlightColor(HighlightKind kind)
{
    switch (kind) {
    case HighlightKind::SearchHit: return QColor(255, 214, 0);
    case HighlightKind::Citation: return QColor(120, 200, 255);
    case HighlightKind::Selection: return QColor(150, 170, 255);
    }
    return QColor(255, 214, 0);
}

void PageCanvas::setAnnotationBoxes(int index, const QList<ColoredBox> &boxes)
{
    NW_ASSERT(index >= 0 && index < pageCount());
    if (boxes.isEmpty())
        m_annotationBoxes.remove(index);
    else
        m_annotationBoxes.insert(index, boxes);
    viewport()->update(pageRectInViewport(index));
}

void PageCanvas::clearAnnotationBoxes()
{
    m_annotationBoxes.clear();
    viewport()->update();
}

// --- events

void PageCanvas::paintEvent(QPaintEvent *event)
{
    QPainter painter(viewport());
    painter.fillRect(event->rect(), palette().color(QPalette::Dark));
    const double dpr = devicePixelRatioF();
    for (int index : visiblePages()) {
        const QRect rect = pageRectInViewport(index);
        if (!rect.intersects(event->rect()))
            continue;
        const QImage *image = m_cache->find(keyFor(index));
        if (!image && m_lastMilliDpi.contains(index)) // an older zoom, scaled, until the new one comes
            image = m_cache->find({m_documentKey, index, m_lastMilliDpi.value(index)});
        if (image) {
            painter.setRenderHint(QPainter::SmoothPixmapTransform, image->width() != qRound(rect.width() * dpr));
            painter.drawImage(QRectF(rect), *image);
        } else {
            painter.fillRect(rect, Qt::white);
            painter.setPen(QColor(160, 160, 160));
            const QString text = m_errors.contains(index)
                                     ? tr("Page %1 cannot be drawn: %2").arg(index + 1).arg(m_errors.value(index))
                                     : tr("Page %1").arg(index + 1);
            painter.drawText(rect, Qt::AlignCenter | Qt::TextWordWrap, text);
        }
        const auto kinds = m_highlights.constFind(index);
        const auto saved = m_annotationBoxes.constFind(index);
        if (kinds != m_highlights.cend() || saved != m_annotationBoxes.cend()) {
            painter.save();
            painter.setCompositionMode(QPainter::CompositionMode_Multiply);
            painter.setClipRect(rect);
            if (saved != m_annotationBoxes.cend())
                for (const ColoredBox &box : *saved)
                    painter.fillRect(toViewport(index, box.points), box.color);
            if (kinds != m_highlights.cend())
                for (auto it = kinds->cbegin(); it != kinds->cend(); ++it)
                    for (const QRectF &box : it.value())
                        painter.fillRect(toViewport(index, box), highlightColor(it.key()));
            painter.restore();
        }
    }
    if (m_dragPage >= 0) {
        painter.setPen(QPen(palette().color(QPalette::Highlight), 1, Qt::DashLine));
        painter.setBrush(Qt::NoBrush);
        painter.drawRect(toViewport(m_dragPage, QRectF(m_dragStart, m_dragEnd).normalized()));
    }
}

void PageCanvas::resizeEvent(QResizeEvent *event)
{
    QAbstractScrollArea::resizeEvent(event);
    if (m_zoomMode != ZoomMode::Free)
        applyZoom(fitZoom(m_zoomMode));
    else
        updateScrollBars();
    requestVisible();
    checkCurrentPage();
}

void PageCanvas::scrollContentsBy(int, int)
{
    viewport()->update();
    requestVisible();
    checkCurrentPage();
}

void PageCanvas::mousePressEvent(QMouseEvent *event)
{
    if (event->button() != Qt::LeftButton)
        return QAbstractScrollArea::mousePressEvent(event);
    QPointF points;
    m_dragPage = pageAt(event->position().toPoint(), &points);
    m_dragStart = m_dragEnd = points;
    viewport()->update();
}

void PageCanvas::mouseMoveEvent(QMouseEvent *event)
{
    if (m_dragPage < 0)
        return QAbstractScrollArea::mouseMoveEvent(event);
    // The band stays on the page it started on.
    const QSizeF size = pageSizePoints(m_dragPage);
    const QPointF points = (event->position() - QPointF(pageRectInViewport(m_dragPage).topLeft())) / m_zoom;
    m_dragEnd = {std::clamp(points.x(), 0.0, size.width()), std::clamp(points.y(), 0.0, size.height())};
    viewport()->update();
}

void PageCanvas::mouseReleaseEvent(QMouseEvent *event)
{
    if (m_dragPage < 0 || event->button() != Qt::LeftButton)
        return QAbstractScrollArea::mouseReleaseEvent(event);
    const int page = m_dragPage;
    const QRectF band = QRectF(m_dragStart, m_dragEnd).normalized();
    m_dragPage = -1;
    viewport()->update();
    // Less than two points either way is a click: it clears the selection.
    emit rectangleSelected(page, band.width() < 2 && band.height() < 2 ? QRectF() : band);
}

void PageCanvas::wheelEvent(QWheelEvent *event)
{
    if (event->modifiers() & Qt::ControlModifier) {
        if (event->angleDelta().y() > 0)
            zoomIn();
        else if (event->angleDelta().y() < 0)
            zoomOut();
        event->accept();
        return;
    }
    QAbstractScrollArea::wheelEvent(event);
}

} // namespace nw::ui
