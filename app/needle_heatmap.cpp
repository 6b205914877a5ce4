// Needle heatmaps as PNG and SVG, from one layout.
#include "app/needle_heatmap.h"

#include "app/ask_report.h"
#include "app/output_file.h"

#include "common/error.h"

#include <QBuffer>
#include <QLinearGradient>
#include <QPainter>

#include <algorithm>

namespace nw::app {
namespace {

const QColor kEmptyCell(220, 220, 220);
const QColor kInk(40, 40, 40);

QString cellLabel(const NeedleCell &c)
{
    return c.trials ? QString::number(qRound(100.0 * c.exactRate())) : QStringLiteral("–");
}

QString xmlEscaped(const QString &text)
{
    return text.toHtmlEscaped(); // & < > " → entities, enough for text and attribute values
}

QRect cellRect(std::size_t row, std::size_t column)
{
    using L = NeedleHeatmapLayout;
    return { L::kLeft + static_cast<int>(column) * L::kCellWidth, L::kTop + static_cast<int>(row) * L::kCellHeight,
        L::kCellWidth, L::kCellHeight };
}

} // namespace

QSize NeedleHeatmapLayout::size(int nLengths, int nDepths)
{
    return { std::max(kMinWidth, kLeft + nLengths * kCellWidth + kRight), kTop + nDepths * kCellHeight + kBottom };
}

QColor needleAccuracyColor(double accuracy)
{
    const double a = std::clamp(accuracy, 0.0, 1.0);
    const QColor red(215, 48, 39), yellow(254, 224, 139), green(26, 152, 80);
    const QColor &from = a < 0.5 ? red : yellow;
    const QColor &to = a < 0.5 ? yellow : green;
    const double t = a < 0.5 ? a * 2.0 : (a - 0.5) * 2.0;
    auto mix = [t](int x, int y) { return qRound(x + (y - x) * t); };
    return QColor(mix(from.red(), to.red()), mix(from.green(), to.green()), mix(from.blue(), to.blue()));
}

QString needleCacheBytesText(std::uint64_t bytes, std::int64_t tokens)
{
    return QStringLiteral("%1 for %2 tokens in cache").arg(formatBytes(bytes)).arg(tokens);
}

QString needleHeatmapTitle(const NeedleGrid &grid)
{
    // Bytes held per token of context: an eviction mode's next-token figure is 0 once it is full.
    QString title = QStringLiteral("KV %1 · %2 B/token")
                        .arg(QString::fromStdString(grid.mode))
                        .arg(QString::number(grid.kvBytesHeldPerToken, 'f', 0));
    if (grid.kvBytesTotal > 0)
        title += QStringLiteral(" · %1").arg(needleCacheBytesText(grid.kvBytesTotal, grid.kvBytesTotalTokens));
    if (grid.ppl)
        title += QStringLiteral(" · PPL %1").arg(*grid.ppl, 0, 'f', 2);
    return title;
}

QString needleHeatmapSubtitle(const NeedleGrid &grid)
{
    const NeedleCell all = grid.total();
    return QStringLiteral("exact %1 % of %2 trials (lenient %3 %) · needles %4")
        .arg(100.0 * all.exactRate(), 0, 'f', 1)
        .arg(all.trials)
        .arg(100.0 * all.lenientRate(), 0, 'f', 1)
        .arg(QString::fromStdString(grid.needleSet));
}

QImage renderNeedleHeatmap(const NeedleGrid &grid)
{
    using L = NeedleHeatmapLayout;
    const QSize size = L::size(static_cast<int>(grid.lengths.size()), static_cast<int>(grid.depths.size()));
    QImage image(size, QImage::Format_RGB32);
    image.fill(Qt::white);
    QPainter p(&image);
    p.setRenderHint(QPainter::Antialiasing, false);
    p.setRenderHint(QPainter::TextAntialiasing, true);
    QFont font = p.font();
    font.setPixelSize(12);
    p.setFont(font);

    p.setPen(kInk);
    p.drawText(QRect(8, 4, size.width() - 16, 20), Qt::AlignLeft | Qt::AlignVCenter, needleHeatmapTitle(grid));
    p.drawText(QRect(8, 24, size.width() - 16, 20), Qt::AlignLeft | Qt::AlignVCenter, needleHeatmapSubtitle(grid));
    for (std::size_t r = 0; r < grid.depths.size(); ++r) {
        for (std::size_t c = 0; c < grid.lengths.size(); ++c) {
            const NeedleCell &cell = grid.cell(r, c);
            const QRect rect = cellRect(r, c);
            p.fillRect(rect, cell.trials ? needleAccuracyColor(cell.exactRate()) : kEmptyCell);
            p.setPen(Qt::white);
            p.drawRect(rect.adjusted(0, 0, -1, -1));
            p.setPen(kInk);
            p.drawText(rect, Qt::AlignCenter, cellLabel(cell));
        }
        const QRect row = cellRect(r, 0);
        p.drawText(QRect(0, row.top(), L::kLeft - 6, L::kCellHeight), Qt::AlignRight | Qt::AlignVCenter,
            QStringLiteral("%1 %").arg(grid.depths[r]));
    }
    const int gridBottom = L::kTop + static_cast<int>(grid.depths.size()) * L::kCellHeight;
    for (std::size_t c = 0; c < grid.lengths.size(); ++c) {
        const QRect column = cellRect(0, c);
        p.drawText(QRect(column.left(), gridBottom + 2, L::kCellWidth, 18), Qt::AlignCenter,
            QString::fromStdString(formatTokenCount(grid.lengths[c])));
    }
    p.drawText(QRect(L::kLeft, gridBottom + 22, static_cast<int>(grid.lengths.size()) * L::kCellWidth, 18),
        Qt::AlignCenter, QStringLiteral("context length (tokens)"));
    p.save();
    p.translate(14, L::kTop + (gridBottom - L::kTop) / 2);
    p.rotate(-90);
    p.drawText(QRect(-60, -8, 120, 16), Qt::AlignCenter, QStringLiteral("needle depth"));
    p.restore();

    // Legend: a vertical bar from 100 % (top) to 0 % (bottom).
    const int legendLeft = L::kLeft + static_cast<int>(grid.lengths.size()) * L::kCellWidth + 16; // right of the grid
    const int legendHeight = std::max(gridBottom - L::kTop, 40);
    QLinearGradient gradient(0, L::kTop, 0, L::kTop + legendHeight);
    for (int i = 0; i <= 10; ++i)
        gradient.setColorAt(i / 10.0, needleAccuracyColor(1.0 - i / 10.0));
    p.fillRect(QRect(legendLeft, L::kTop, 14, legendHeight), gradient);
    p.drawText(QRect(legendLeft + 18, L::kTop - 2, 60, 16), Qt::AlignLeft | Qt::AlignTop, QStringLiteral("100 %"));
    p.drawText(QRect(legendLeft + 18, L::kTop + legendHeight - 14, 60, 16), Qt::AlignLeft | Qt::AlignBottom,
        QStringLiteral("0 %"));
    p.end();
    return image;
}

QByteArray needleHeatmapSvg(const NeedleGrid &grid)
{
    using L = NeedleHeatmapLayout;
    const QSize size = L::size(static_cast<int>(grid.lengths.size()), static_cast<int>(grid.depths.size()));
    const int gridBottom = L::kTop + static_cast<int>(grid.depths.size()) * L::kCellHeight;
    QString s;
    s += QStringLiteral("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s += QStringLiteral("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%1\" height=\"%2\" viewBox=\"0 0 %1 %2\" "
                        "font-family=\"sans-serif\" font-size=\"12\">\n")
             .arg(size.width())
             .arg(size.height());
    s += QStringLiteral("<title>%1</title>\n").arg(xmlEscaped(needleHeatmapTitle(grid)));
    s += QStringLiteral("<defs><linearGradient id=\"scale\" x1=\"0\" y1=\"0\" x2=\"0\" y2=\"1\">");
    for (int i = 0; i <= 10; ++i)
        s += QStringLiteral("<stop offset=\"%1\" stop-color=\"%2\"/>")
                 .arg(i / 10.0)
                 .arg(needleAccuracyColor(1.0 - i / 10.0).name());
    s += QStringLiteral("</linearGradient></defs>\n");
    s += QStringLiteral("<path d=\"M0 0H%1V%2H0Z\" fill=\"#ffffff\"/>\n").arg(size.width()).arg(size.height());
    s += QStringLiteral("<text x=\"8\" y=\"18\" fill=\"%1\">%2</text>\n")
             .arg(kInk.name(), xmlEscaped(needleHeatmapTitle(grid)));
    s += QStringLiteral("<text x=\"8\" y=\"38\" fill=\"%1\">%2</text>\n")
             .arg(kInk.name(), xmlEscaped(needleHeatmapSubtitle(grid)));
    for (std::size_t r = 0; r < grid.depths.size(); ++r) {
        for (std::size_t c = 0; c < grid.lengths.size(); ++c) {
            const NeedleCell &cell = grid.cell(r, c);
            const QRect rect = cellRect(r, c);
            const QColor fill = cell.trials ? needleAccuracyColor(cell.exactRate()) : kEmptyCell;
            s += QStringLiteral("<rect x=\"%1\" y=\"%2\" width=\"%3\" height=\"%4\" fill=\"%5\" stroke=\"#ffffff\">"
                                "<title>%6 tokens, depth %7 %: %8 of %9 exact, %10 lenient</title></rect>\n")
                     .arg(rect.x())
                     .arg(rect.y())
                     .arg(rect.width())
                     .arg(rect.height())
                     .arg(fill.name())
                     .arg(grid.lengths[c])
                     .arg(grid.depths[r])
                     .arg(cell.exact)
                     .arg(cell.trials)
                     .arg(cell.lenient);
            s += QStringLiteral("<text x=\"%1\" y=\"%2\" text-anchor=\"middle\" fill=\"%3\">%4</text>\n")
                     .arg(rect.center().x() + 1)
                     .arg(rect.top() + 16)
                     .arg(kInk.name(), cellLabel(cell));
        }
        s += QStringLiteral("<text x=\"%1\" y=\"%2\" text-anchor=\"end\" fill=\"%3\">%4 %</text>\n")
                 .arg(L::kLeft - 6)
                 .arg(cellRect(r, 0).top() + 16)
                 .arg(kInk.name())
                 .arg(grid.depths[r]);
    }
    for (std::size_t c = 0; c < grid.lengths.size(); ++c)
        s += QStringLiteral("<text x=\"%1\" y=\"%2\" text-anchor=\"middle\" fill=\"%3\">%4</text>\n")
                 .arg(cellRect(0, c).center().x() + 1)
                 .arg(gridBottom + 16)
                 .arg(kInk.name(), QString::fromStdString(formatTokenCount(grid.lengths[c])));
    s += QStringLiteral("<text x=\"%1\" y=\"%2\" text-anchor=\"middle\" fill=\"%3\">context length (tokens)</text>\n")
             .arg(L::kLeft + static_cast<int>(grid.lengths.size()) * L::kCellWidth / 2)
             .arg(gridBottom + 36)
             .arg(kInk.name());
    s += QStringLiteral(
        "<text transform=\"translate(18 %1) rotate(-90)\" text-anchor=\"middle\" fill=\"%2\">needle depth</text>\n")
             .arg(L::kTop + (gridBottom - L::kTop) / 2)
             .arg(kInk.name());
    const int legendLeft = L::kLeft + static_cast<int>(grid.lengths.size()) * L::kCellWidth + 16; // right of the grid
    const int legendHeight = std::max(gridBottom - L::kTop, 40);
    s += QStringLiteral("<path d=\"M%1 %2h14v%3h-14Z\" fill=\"url(#scale)\"/>\n")
             .arg(legendLeft)
             .arg(L::kTop)
             .arg(legendHeight);
    s += QStringLiteral("<text x=\"%1\" y=\"%2\" fill=\"%3\">100 %</text>\n")
             .arg(legendLeft + 18)
             .arg(L::kTop + 10)
             .arg(kInk.name());
    s += QStringLiteral("<text x=\"%1\" y=\"%2\" fill=\"%3\">0 %</text>\n")
             .arg(legendLeft + 18)
             .arg(L::kTop + legendHeight)
             .arg(kInk.name());
    s += QStringLiteral("</svg>\n");
    return s.toUtf8();
}

QString needleHeatmapBaseName(const std::string &mode)
{
    QString base = QStringLiteral("heatmap-");
    for (const QChar c : QString::fromStdString(mode))
        base += (c.isLetterOrNumber() && c.unicode() < 128) || c == QLatin1Char('+') || c == QLatin1Char('.')
                || c == QLatin1Char('-')
            ? c
            : QLatin1Char('-');
    return base;
}

void writeNeedleHeatmaps(const NeedleGrid &grid, const QString &directory)
{
    const QString base = directory + QLatin1Char('/') + needleHeatmapBaseName(grid.mode);
    QByteArray png;
    QBuffer buffer(&png);
    buffer.open(QIODevice::WriteOnly);
    if (!renderNeedleHeatmap(grid).save(&buffer, "PNG"))
        fail("cannot encode the heatmap {}.png (Qt's PNG plugin missing?)", base.toStdString());
    writeOutputFile(base + QStringLiteral(".png"), png);
    writeOutputFile(base + QStringLiteral(".svg"), needleHeatmapSvg(grid));
}

} // namespace nw::app
