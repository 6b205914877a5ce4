// Rendered page images kept for reuse, least recently used first out, bounded in bytes: scrolling
// back or toggling zoom shows a page again without asking Poppler. Lives on the GUI thread.
#pragma once

#include <QHash>
#include <QImage>
#include <QString>

#include <list>

namespace nw::ui {

// One rendering of one page: which document (a stable key such as its sha256), which page
// (0-based) and at what resolution (dots per inch in thousandths, so equal zooms compare equal).
struct RenderKey {
    QString document;
    int page = 0;
    int milliDpi = 0;

    static int toMilliDpi(double dpi) { return static_cast<int>(dpi * 1000.0 + 0.5); }
    double dpi() const { return milliDpi / 1000.0; }
    friend bool operator==(const RenderKey &, const RenderKey &) = default;
};

size_t qHash(const RenderKey &key, size_t seed = 0) noexcept;

class PageRenderCache {
public:
    explicit PageRenderCache(qint64 byteLimit);

    qint64 byteLimit() const { return m_byteLimit; }
    void setByteLimit(qint64 bytes); // evicts at once when the images no longer fit
    qint64 bytes() const { return m_bytes; }
    int count() const { return static_cast<int>(m_entries.size()); }

    // The image, or nullptr; marks it most recently used.
    const QImage *find(const RenderKey &key);
    bool contains(const RenderKey &key) const { return m_index.contains(key); }
    // Stores (or replaces) the image and evicts the least recently used ones until the total fits.
    // An image larger than the whole bound is not kept: false.
    bool insert(const RenderKey &key, const QImage &image);
    void removeDocument(const QString &document);
    void clear();

private:
    struct Entry {
        RenderKey key;
        QImage image;
    };
    void evictTo(qint64 limit);

    qint64 m_byteLimit;
    qint64 m_bytes = 0;
    std::list<Entry> m_entries; // most recently used first
    QHash<RenderKey, std::list<Entry>::iterator> m_index;
};

} // namespace nw::ui
