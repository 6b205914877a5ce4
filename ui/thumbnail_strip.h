// A column of small page pictures beside the page canvas: one item per page from the start (a
// blank of the page's shape), drawn off the GUI thread as the items scroll into view. Clicking
// one asks to show that page.
#pragma once

#include <QListWidget>
#include <QSizeF>
#include <QStringList>

#include <vector>

namespace nw::ui {

class PageRenderCache;
class PageRenderer;
struct RenderKey;

class ThumbnailStrip : public QListWidget {
    Q_OBJECT
public:
    static constexpr int kThumbnailWidth = 96; // logical pixels

    ThumbnailStrip(PageRenderer *renderer, PageRenderCache *cache, QWidget *parent = nullptr);

    // Each thumbnail is captioned with the page's printed label (`pageLabels`, "" or missing: its
    // number in the file), as the page box names pages.
    void setDocument(const QString &pdfPath, const QString &documentKey, const std::vector<QSizeF> &pageSizes,
        const QStringList &pageLabels = {});
    void setCurrentPage(int index); // selects and scrolls to it without emitting pageActivated
    bool isRendered(int index) const; // the item shows the drawn page, not the blank

signals:
    void pageActivated(int index); // 0-based

protected:
    void showEvent(QShowEvent *event) override;
    void resizeEvent(QResizeEvent *event) override;
    void scrollContentsBy(int dx, int dy) override;

private:
    RenderKey keyFor(int index) const;
    void requestVisible();
    void onRendered(const RenderKey &key, const QImage &image, const QString &error);

    PageRenderer *m_renderer;
    PageRenderCache *m_cache;
    QString m_pdfPath;
    QString m_documentKey;
    std::vector<QSizeF> m_pageSizes;
    std::vector<bool> m_rendered;
    bool m_settingCurrent = false;
};

} // namespace nw::ui
