// The pages are drawn by app/page_rendering on the pool's threads (each keeps its own open
// document there); this file only schedules them and hands the images back.
#include "ui/page_renderer.h"

#include "app/page_rendering.h"
#include "common/log.h"

#include <QThread>

#include <algorithm>

namespace nw::ui {

PageRenderer::PageRenderer(PageRenderCache *cache, QObject *parent, int nThreads)
    : QObject(parent), m_cache(cache),
      m_nThreads(nThreads > 0 ? nThreads : std::clamp(QThread::idealThreadCount() / 2, 1, 4))
{
    m_pool.setMaxThreadCount(m_nThreads);
    m_pool.setObjectName(QStringLiteral("PageRenderer"));
}

PageRenderer::~PageRenderer()
{
    m_queue.clear();
    // The workers post their results to this object: they must be done before it goes.
    m_pool.waitForDone();
}

void PageRenderer::request(int client, const QList<RenderJob> &jobs)
{
    std::erase_if(m_queue, [client](const Queued &q) { return q.client == client; });
    std::deque<Queued> wanted;
    for (const RenderJob &job : jobs) {
        if (m_running.contains(job.key) || m_cache->contains(job.key))
            continue;
        const bool queued = std::any_of(m_queue.begin(), m_queue.end(),
                                        [&](const Queued &q) { return q.job.key == job.key; }) ||
                            std::any_of(wanted.begin(), wanted.end(),
                                        [&](const Queued &q) { return q.job.key == job.key; });
        if (!queued)
            wanted.push_back({client, job});
    }
    // The latest request is what the user looks at now: it goes first.
    m_queue.insert(m_queue.begin(), wanted.begin(), wanted.end());
    startMore();
}

bool PageRenderer::isBusy(const RenderKey &key) const
{
    return m_running.contains(key) ||
           std::any_of(m_queue.begin(), m_queue.end(), [&](const Queued &q) { return q.job.key == key; });
}

void PageRenderer::startMore()
{
    while (!m_queue.empty() && m_running.size() < m_nThreads) {
        const RenderJob job = m_queue.front().job;
        m_queue.pop_front();
        m_running.insert(job.key);
        m_pool.start([this, job] {
            QImage image;
            QString error;
            try {
                image = app::renderPdfPage(job.pdfPath, job.key.page, job.key.dpi());
                if (image.isNull())
                    error = tr("Poppler could not draw page %1").arg(job.key.page + 1);
            } catch (const std::exception &e) {
                error = QString::fromUtf8(e.what());
            }
            QMetaObject::invokeMethod(
                this, [this, key = job.key, image, error] { done(key, image, error); }, Qt::QueuedConnection);
        });
    }
}

void PageRenderer::done(const RenderKey &key, const QImage &image, const QString &error)
{
    m_running.remove(key);
    ++m_finished;
    if (!image.isNull())
        m_cache->insert(key, image);
    if (!error.isEmpty())
        log::get("ui")->warn("page {} of {}: {}", key.page + 1, key.document.toStdString(), error.toStdString());
    emit rendered(key, image, error);
    startMore();
}

} // namespace nw::ui
