// Draws PDF pages through Poppler on worker threads so the GUI thread never waits for a render.
// Clients (the page canvas, the thumbnail strip) say which pages they want now, in order; the
// renderer runs a few at a time and reports each image back on the GUI thread.
#pragma once

#include "ui/page_render_cache.h"

#include <QImage>
#include <QList>
#include <QObject>
#include <QSet>
#include <QThreadPool>

#include <deque>

namespace nw::ui {

struct RenderJob {
    RenderKey key;   // key.page is the 0-based page index, key.dpi() the resolution
    QString pdfPath; // the file to draw from
};

class PageRenderer : public QObject {
    Q_OBJECT
public:
    // Finished images go into `cache` (not owned) before rendered() is emitted.
    // `nThreads` 0: half the cores, 1 to 4 (the GUI thread keeps a core to itself).
    explicit PageRenderer(PageRenderCache *cache, QObject *parent = nullptr, int nThreads = 0);
    ~PageRenderer() override; // waits for the renders under way (one page each at most)

    // Replaces what `client` has queued and not yet started with `jobs` (most wanted first);
    // jobs already cached, running or queued by another client are not repeated.
    void request(int client, const QList<RenderJob> &jobs);
    bool isBusy(const RenderKey &key) const; // queued or running
    int runningCount() const { return static_cast<int>(m_running.size()); }
    int queuedCount() const { return static_cast<int>(m_queue.size()); }
    // How many renders ran to the end (successful or not) since construction.
    int finishedCount() const { return m_finished; }

signals:
    // `image` is null when the page could not be drawn; `error` then says why.
    void rendered(const nw::ui::RenderKey &key, const QImage &image, const QString &error);

private:
    struct Queued {
        int client;
        RenderJob job;
    };
    void startMore();
    void done(const RenderKey &key, const QImage &image, const QString &error);

    PageRenderCache *m_cache;
    QThreadPool m_pool;
    int m_nThreads;
    std::deque<Queued> m_queue;
    QSet<RenderKey> m_running;
    int m_finished = 0;
};

} // namespace nw::ui
