// Each worker thread keeps its own open PdfDocument (Poppler documents are not shared between
// threads), reopened only when the path or the file's modification time changes.
#include "ui/page_renderer.h"

#include "common/error.h"
#include "common/log.h"
#include "ingest/pdf_document.h"

#include <QDateTime>
#include <QFileInfo>
#include <QThread>

#include <algorithm>
#include <optional>

namespace nw::ui {
namespace {

struct OpenDocument {
    QString path;
    QDateTime modified;
    std::optional<ingest::PdfDocument> document;
};

// Throws nw::Error or ingest::IngestFailure.
QImage renderOnThisThread(const RenderJob &job)
{
    thread_local OpenDocument open;
    const QDateTime modified = QFileInfo(job.pdfPath).lastModified();
    if (!open.document || open.path != job.pdfPath || open.modified != modified) {
        open.document.reset();
        open.document = ingest::PdfDocument::open(job.pdfPath);
        open.path = job.pdfPath;
        open.modified = modified;
    }
    QImage image = open.document->renderPage(job.key.page, job.key.dpi());
    // Pages are opaque: in the screen's own format, painting them is a plain copy.
    if (!image.isNull() && image.format() != QImage::Format_RGB32)
        image.convertTo(QImage::Format_RGB32);
    return image;
}

} // namespace

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
                image = renderOnThisThread(job);
                if (image.isNull())
                    error = tr("Poppler could not draw page %1").arg(job.key.page + 1);
            } catch (const ingest::IngestFailure &f) {
                error = f.reason();
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
