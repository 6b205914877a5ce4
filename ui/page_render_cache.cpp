// A list in use order plus a hash into it: find, insert and evict are O(1).
#include "ui/page_render_cache.h"

#include "common/assert.h"

#include <QHashFunctions>

namespace nw::ui {

size_t qHash(const RenderKey &key, size_t seed) noexcept
{
    return qHashMulti(seed, key.document, key.page, key.milliDpi);
}

PageRenderCache::PageRenderCache(qint64 byteLimit) : m_byteLimit(byteLimit)
{
    NW_ASSERT(byteLimit >= 0);
}

void PageRenderCache::setByteLimit(qint64 bytes)
{
    NW_ASSERT(bytes >= 0);
    m_byteLimit = bytes;
    evictTo(m_byteLimit);
}

const QImage *PageRenderCache::find(const RenderKey &key)
{
    const auto it = m_index.constFind(key);
    if (it == m_index.cend())
        return nullptr;
    m_entries.splice(m_entries.begin(), m_entries, *it);
    return &m_entries.front().image;
}

bool PageRenderCache::insert(const RenderKey &key, const QImage &image)
{
    if (const auto it = m_index.find(key); it != m_index.end()) {
        m_bytes -= (*it)->image.sizeInBytes();
        m_entries.erase(*it);
        m_index.erase(it);
    }
    const qint64 size = image.sizeInBytes();
    if (size > m_byteLimit)
        return false;
    evictTo(m_byteLimit - size);
    m_entries.push_front({key, image});
    m_index.insert(key, m_entries.begin());
    m_bytes += size;
    return true;
}

void PageRenderCache::removeDocument(const QString &document)
{
    for (auto it = m_entries.begin(); it != m_entries.end();) {
        if (it->key.document == document) {
            m_bytes -= it->image.sizeInBytes();
            m_index.remove(it->key);
            it = m_entries.erase(it);
        } else {
            ++it;
        }
    }
}

void PageRenderCache::clear()
{
    m_entries.clear();
    m_index.clear();
    m_bytes = 0;
}

void PageRenderCache::evictTo(qint64 limit)
{
    while (m_bytes > limit && !m_entries.empty()) {
        const Entry &last = m_entries.back();
        m_bytes -= last.image.sizeInBytes();
        m_index.remove(last.key);
        m_entries.pop_back();
    }
}

} // namespace nw::ui
