// Scans made on the spot, for the OCR tests and the OCR benchmark: pages drawn by Poppler from a
// PDF of known text, degraded as a scanner and a copier degrade them (a little skew, speckle
// noise, JPEG compression), and wrapped back into an image-only PDF of the page's size. Needs a
// QGuiApplication (image writers).
#pragma once

#include <QBuffer>
#include <QImage>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QRandomGenerator>
#include <QSizeF>
#include <QString>
#include <QStringList>
#include <QTransform>

#include <algorithm>
#include <cmath>
#include <vector>

namespace nw::test {

struct ScanDefects {
    double skewDegrees = 0.4; // the page turned on the glass
    double speckles = 0.002; // share of pixels turned to random dark or light specks
    int greyJitter = 12; // each pixel's grey level moved by up to this much
    int jpegQuality = 55; // what the scanner saves at
    quint32 seed = 1;
};

// `page` turned, speckled and JPEG-compressed; greyscale, white where the turn uncovers paper.
inline QImage degradeScan(const QImage &page, const ScanDefects &defects)
{
    const QImage grey = page.convertToFormat(QImage::Format_Grayscale8);
    QImage turned(grey.size(), QImage::Format_Grayscale8);
    turned.fill(Qt::white);
    {
        QPainter painter(&turned);
        painter.setRenderHint(QPainter::SmoothPixmapTransform);
        painter.translate(grey.width() / 2.0, grey.height() / 2.0);
        painter.rotate(defects.skewDegrees);
        painter.translate(-grey.width() / 2.0, -grey.height() / 2.0);
        painter.drawImage(0, 0, grey);
    }
    QRandomGenerator random(defects.seed);
    for (int y = 0; y < turned.height(); ++y) {
        uchar *line = turned.scanLine(y);
        for (int x = 0; x < turned.width(); ++x) {
            int v = line[x];
            if (defects.greyJitter > 0)
                v += random.bounded(2 * defects.greyJitter + 1) - defects.greyJitter;
            if (random.generateDouble() < defects.speckles)
                v = random.bounded(2) ? random.bounded(40) : 255 - random.bounded(40);
            line[x] = static_cast<uchar>(std::clamp(v, 0, 255));
        }
    }
    QByteArray jpeg;
    QBuffer buffer(&jpeg);
    buffer.open(QIODevice::WriteOnly);
    turned.save(&buffer, "JPG", defects.jpegQuality);
    QImage decoded;
    decoded.loadFromData(jpeg, "JPG");
    return decoded.convertToFormat(QImage::Format_Grayscale8);
}

// An image-only PDF: one page per image, each image filling a page of `pagePoints` (its own
// size when given per page in `sizes`).
inline bool writeImagePdf(const QString &path, const std::vector<QImage> &pages, const std::vector<QSizeF> &sizes = {})
{
    QPdfWriter writer(path);
    writer.setResolution(72);
    writer.setPageMargins(QMarginsF(0, 0, 0, 0));
    const auto sizeOf
        = [&](std::size_t i) { return i < sizes.size() ? sizes[i] : QPageSize(QPageSize::A4).size(QPageSize::Point); };
    if (!pages.empty())
        writer.setPageSize(QPageSize(sizeOf(0), QPageSize::Point));
    QPainter painter;
    if (!painter.begin(&writer))
        return false;
    for (std::size_t i = 0; i < pages.size(); ++i) {
        if (i > 0) {
            writer.setPageSize(QPageSize(sizeOf(i), QPageSize::Point));
            writer.newPage();
        }
        const QSizeF size = sizeOf(i);
        painter.drawImage(QRectF(0, 0, size.width(), size.height()), pages[i]);
    }
    return painter.end();
}

} // namespace nw::test
