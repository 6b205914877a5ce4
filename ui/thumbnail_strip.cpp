// Thumbnails are rendered at the dpi that makes the page kThumbnailWidth pixels wide, through
// the viewer's renderer and cache (so they count against the same byte bound).
#include "ui/thumbnail_strip.h"

#include "ui/page_render_cache.h"
#include "ui/page_renderer.h"

#include <QPainter>
#include <QScrollBar>

#include <cmath>

namespace nw::ui {
namespace {

constexpr int kRenderClient = 2; // PageRenderer client id of the strip

QSize thumbnailSize(QSizeF points)
{
    const double scale = ThumbnailStrip::kThumbnailWidth / std::max(1.0, points.width());
    return { ThumbnailStrip::kThumbnailWidth, std::max(1, static_cast<int>(std::lround(points.height() * scale))) };
}

} // namespace

ThumbnailStrip::ThumbnailStrip(PageRenderer *renderer, PageRenderCache *cache, QWidget *parent)
    : QListWidget(parent)
    , m_renderer(renderer)
    , m_cache(cache)
{
    setObjectName(QStringLiteral("PageThumbnails"));
    setViewMode(QListView::IconMode);
    setFlow(QListView::TopToBottom);
    setWrapping(false);
    setMovement(QListView::Static);
    setResizeMode(QListView::Adjust);
    setUniformItemSizes(false);
    setSpacing(4);
    setIconSize(QSize(kThumbnailWidth, kThumbnailWidth * 3 / 2));
    setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    setFixedWidth(kThumbnailWidth + 40);
    connect(m_renderer, &PageRenderer::rendered, this, &ThumbnailStrip::onRendered);
    connect(this, &QListWidget::currentRowChanged, this, [this](int row) {
        if (!m_settingCurrent && row >= 0)
            emit pageActivated(row);
    });
}

void ThumbnailStrip::setDocument(const QString &pdfPath, const QString &documentKey,
    const std::vector<QSizeF> &pageSizes, const QStringList &pageLabels)
{
    m_pdfPath = pdfPath;
    m_documentKey = documentKey;
    m_pageSizes = pageSizes;
    m_rendered.assign(pageSizes.size(), false);
    m_settingCurrent = true;
    clear();
    int tallest = 0;
    for (std::size_t i = 0; i < pageSizes.size(); ++i) {
        const QSize size = thumbnailSize(pageSizes[i]);
        tallest = std::max(tallest, size.height());
        QPixmap blank(size);
        blank.fill(Qt::white);
        QPainter painter(&blank);
        painter.setPen(QColor(200, 200, 200));
        painter.drawRect(blank.rect().adjusted(0, 0, -1, -1));
        painter.end();
        const QString label = pageLabels.value(static_cast<qsizetype>(i));
        auto *item = new QListWidgetItem(QIcon(blank), label.isEmpty() ? QString::number(i + 1) : label, this);
        item->setTextAlignment(Qt::AlignHCenter);
        item->setSizeHint(QSize(kThumbnailWidth + 8, size.height() + fontMetrics().height() + 8));
    }
    setIconSize(QSize(kThumbnailWidth, std::max(1, tallest)));
    m_settingCurrent = false;
    requestVisible();
}

RenderKey ThumbnailStrip::keyFor(int index) const
{
    const double dpi = 72.0 * kThumbnailWidth / std::max(1.0, m_pageSizes[static_cast<std::size_t>(index)].width())
        * devicePixelRatioF();
    return { m_documentKey, index, RenderKey::toMilliDpi(dpi) };
}

void ThumbnailStrip::setCurrentPage(int index)
{
    if (index < 0 || index >= count())
        return;
    m_settingCurrent = true;
    setCurrentRow(index);
    scrollToItem(item(index));
    m_settingCurrent = false;
}

bool ThumbnailStrip::isRendered(int index) const
{
    return index >= 0 && index < static_cast<int>(m_rendered.size()) && m_rendered[static_cast<std::size_t>(index)];
}

void ThumbnailStrip::requestVisible()
{
    QList<RenderJob> jobs;
    if (isVisible()) {
        const QRect view = viewport()->rect();
        for (int row = 0; row < count(); ++row) {
            const QRect rect = visualItemRect(item(row));
            if (rect.bottom() < view.top())
                continue;
            if (rect.top() > view.bottom())
                break;
            if (!m_rendered[static_cast<std::size_t>(row)])
                jobs << RenderJob { keyFor(row), m_pdfPath };
        }
    }
    m_renderer->request(kRenderClient, jobs);
}

void ThumbnailStrip::onRendered(const RenderKey &key, const QImage &image, const QString &)
{
    if (key.document != m_documentKey || key.page >= count() || image.isNull() || key != keyFor(key.page))
        return;
    QPixmap pixmap = QPixmap::fromImage(image);
    pixmap.setDevicePixelRatio(devicePixelRatioF());
    item(key.page)->setIcon(QIcon(pixmap));
    m_rendered[static_cast<std::size_t>(key.page)] = true;
}

void ThumbnailStrip::showEvent(QShowEvent *event)
{
    QListWidget::showEvent(event);
    requestVisible();
}

void ThumbnailStrip::resizeEvent(QResizeEvent *event)
{
    QListWidget::resizeEvent(event);
    requestVisible();
}

void ThumbnailStrip::scrollContentsBy(int dx, int dy)
{
    QListWidget::scrollContentsBy(dx, dy);
    requestVisible();
}

} // namespace nw::ui
