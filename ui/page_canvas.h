// The pages of one PDF drawn one under the other in a scroll area: only the pages in view are
// rendered (off the GUI thread, through PageRenderer), the others are white placeholders of the
// page's size. Zoom (free, fit width, fit page), highlight boxes over words, and a rubber band
// that reports the rectangle the user dragged over a page.
#pragma once

#include <QAbstractScrollArea>
#include <QColor>
#include <QHash>
#include <QList>
#include <QMap>
#include <QRectF>
#include <QSizeF>
#include <QString>

#include <vector>

namespace nw::ui {

class PageRenderCache;
class PageRenderer;
struct RenderKey;

enum class ZoomMode { Free, FitWidth, FitPage };

// Why a box is highlighted; each kind has its own colour and is set and cleared on its own.
enum class HighlightKind { SearchHit, Citation, Selection };

// A saved annotation's rectangle (points) in the annotation's own colour.
struct ColoredBox {
    QRectF points;
    QColor color;
};

class PageCanvas : public QAbstractScrollArea {
    Q_OBJECT
public:
    static constexpr int kMargin = 8;  // logical pixels around the pages
    static constexpr int kSpacing = 8; // between pages
    static constexpr double kMinZoom = 0.1;
    static constexpr double kMaxZoom = 8.0;

    PageCanvas(PageRenderer *renderer, PageRenderCache *cache, QWidget *parent = nullptr);

    // `documentKey` names the document in the render cache; `pageSizes` are in points.
    void setDocument(const QString &pdfPath, const QString &documentKey, std::vector<QSizeF> pageSizes);
    void clear();
    const QString &pdfPath() const { return m_pdfPath; }
    const QString &documentKey() const { return m_documentKey; }
    int pageCount() const { return static_cast<int>(m_pageSizes.size()); }
    QSizeF pageSizePoints(int index) const { return m_pageSizes.at(static_cast<std::size_t>(index)); }

    // 1.0 draws one point as one logical pixel (72 dpi at a device pixel ratio of 1).
    double zoom() const { return m_zoom; }
    ZoomMode zoomMode() const { return m_zoomMode; }
    void setZoom(double zoom); // switches to ZoomMode::Free, keeps the current page in view
    void setZoomMode(ZoomMode mode);
    // The dpi a page is rendered at for the current zoom and screen.
    double renderDpi() const;

    // Page rectangles in logical pixels: in the whole scrolled content, and in the viewport.
    QRect pageRect(int index) const;
    QRect pageRectInViewport(int index) const;
    // Points on a page ↔ viewport pixels.
    QPointF toViewport(int index, QPointF points) const;
    QRectF toViewport(int index, const QRectF &points) const;
    // The page under a viewport point, -1 for the gaps; `points` gets the position on it.
    int pageAt(QPoint viewportPos, QPointF *points = nullptr) const;
    // Pages that intersect the viewport, top to bottom.
    QList<int> visiblePages() const;
    // The page that fills most of the upper half of the viewport (0-based; -1 with no document).
    int currentPage() const;
    // Scrolls so that page `index` starts at the top, or so that `pointsY` (a y on that page, in
    // points) sits a third down the viewport.
    void scrollToPage(int index, double pointsY = -1);
    // Whether the image at the current zoom is in the cache (else a placeholder is drawn).
    bool isRendered(int index) const;

    void setHighlights(int index, HighlightKind kind, const QList<QRectF> &boxes); // boxes in points
    void clearHighlights(HighlightKind kind);
    QList<QRectF> highlights(int index, HighlightKind kind) const;
    static QColor highlightColor(HighlightKind kind);
    // Saved annotations, drawn under the highlights; replaces page `index`'s boxes.
    void setAnnotationBoxes(int index, const QList<ColoredBox> &boxes);
    void clearAnnotationBoxes();
    QList<ColoredBox> annotationBoxes(int index) const { return m_annotationBoxes.value(index); }

public slots:
    void zoomIn();
    void zoomOut();

signals:
    void zoomChanged(double zoom);
    void currentPageChanged(int index);
    // The user dragged a rectangle (points) over page `index`; a click without a drag gives an
    // empty rectangle (the selection is cleared).
    void rectangleSelected(int index, const QRectF &points);

protected:
    void paintEvent(QPaintEvent *event) override;
    void resizeEvent(QResizeEvent *event) override;
    void scrollContentsBy(int dx, int dy) override;
    void mousePressEvent(QMouseEvent *event) override;
    void mouseMoveEvent(QMouseEvent *event) override;
    void mouseReleaseEvent(QMouseEvent *event) override;
    void wheelEvent(QWheelEvent *event) override;

private:
    RenderKey keyFor(int index) const;
    double fitZoom(ZoomMode mode) const;
    void applyZoom(double zoom);
    void layoutPages();
    void updateScrollBars();
    void requestVisible();
    void onRendered(const RenderKey &key, const QImage &image, const QString &error);
    void checkCurrentPage();

    PageRenderer *m_renderer;
    PageRenderCache *m_cache;
    QString m_pdfPath;
    QString m_documentKey;
    std::vector<QSizeF> m_pageSizes; // points
    std::vector<int> m_tops;          // logical pixels, the top of each page in the content
    int m_contentWidth = 0;
    int m_contentHeight = 0;
    double m_zoom = 1.0;
    ZoomMode m_zoomMode = ZoomMode::Free;
    QHash<int, int> m_lastMilliDpi;   // page → the dpi of its latest image, drawn scaled until the new one comes
    QHash<int, QString> m_errors;     // page → why it could not be drawn
    QHash<int, QMap<HighlightKind, QList<QRectF>>> m_highlights; // page → kind → boxes (points)
    QHash<int, QList<ColoredBox>> m_annotationBoxes;             // page → saved annotations' boxes
    int m_currentPage = -1;
    // Rubber band: page and start point in points while dragging.
    int m_dragPage = -1;
    QPointF m_dragStart;
    QPointF m_dragEnd;
};

} // namespace nw::ui
