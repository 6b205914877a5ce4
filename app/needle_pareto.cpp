// The Pareto frontier of KV modes and its chart as PNG and SVG, from one layout.
#include "app/needle_pareto.h"

#include "app/output_file.h"
#include "common/assert.h"
#include "common/error.h"

#include <QBuffer>
#include <QPainter>
#include <QPolygonF>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>

namespace nw::app {
namespace {

const QColor kInk(40, 40, 40);
const QColor kGrid(225, 225, 225);
const QColor kFrontier(26, 152, 80); // the green of the heatmaps' scale
const QColor kDominated(150, 150, 150);
constexpr double kPointRadius = 4.0;

QString recallText(double recall)
{
    return QStringLiteral("%1 %").arg(100.0 * recall, 0, 'f', 1);
}

QString bytesTick(double bytes)
{
    return bytes >= 1024 ? QStringLiteral("%1 Ki").arg(bytes / 1024.0) : QString::number(bytes);
}

QString coordinate(double v)
{
    return QString::number(v, 'f', 2);
}

QRectF plotArea()
{
    using L = ParetoChartLayout;
    return { double(L::kLeft), double(L::kTop), double(L::kWidth - L::kLeft - L::kRight),
        double(L::kHeight - L::kTop - L::kBottom) };
}

// The x ticks: every power of two of the range.
std::vector<double> byteTicks(const ParetoChartLayout &layout)
{
    std::vector<double> ticks;
    for (double b = layout.minBytes(); b <= layout.maxBytes() * 1.0001; b *= 2)
        ticks.push_back(b);
    return ticks;
}

// Labels go right of their point in the left half of the plot and left of it in the right half,
// so that none runs off the image.
bool labelLeftOfPoint(const QPointF &point)
{
    return point.x() > plotArea().center().x();
}

std::vector<bool> onFrontier(const std::vector<ParetoPoint> &points)
{
    std::vector<bool> on(points.size(), false);
    for (std::size_t i : paretoFrontier(points))
        on[i] = true;
    return on;
}

} // namespace

std::vector<std::size_t> paretoFrontier(const std::vector<ParetoPoint> &points)
{
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < points.size(); ++i) {
        const ParetoPoint &p = points[i];
        const bool dominated = std::any_of(points.begin(), points.end(), [&](const ParetoPoint &q) {
            return q.bytesPerToken <= p.bytesPerToken && q.recall >= p.recall
                && (q.bytesPerToken < p.bytesPerToken || q.recall > p.recall);
        });
        if (!dominated)
            out.push_back(i);
    }
    std::sort(out.begin(), out.end(), [&](std::size_t a, std::size_t b) {
        return std::tuple(points[a].bytesPerToken, points[a].recall, a)
            < std::tuple(points[b].bytesPerToken, points[b].recall, b);
    });
    return out;
}

std::vector<ParetoPoint> needleParetoPoints(const std::vector<NeedleGrid> &grids)
{
    std::vector<ParetoPoint> out;
    for (const NeedleGrid &g : grids) {
        const NeedleCell all = g.total();
        if (all.trials > 0 && g.kvBytesHeldPerToken > 0)
            out.push_back({ g.mode, g.kvBytesHeldPerToken, all.exactRate() });
    }
    return out;
}

ParetoChartLayout::ParetoChartLayout(const std::vector<ParetoPoint> &points)
{
    if (points.empty())
        return;
    const auto [lo, hi] = std::minmax_element(points.begin(), points.end(),
        [](const ParetoPoint &a, const ParetoPoint &b) { return a.bytesPerToken < b.bytesPerToken; });
    NW_ASSERT(lo->bytesPerToken > 0);
    m_minBytes = std::exp2(std::floor(std::log2(lo->bytesPerToken)));
    m_maxBytes = std::max(std::exp2(std::ceil(std::log2(hi->bytesPerToken))), 2 * m_minBytes);
}

QPointF ParetoChartLayout::position(double bytesPerToken, double recall) const
{
    const QRectF area = plotArea();
    const double x = std::log2(bytesPerToken / m_minBytes) / std::log2(m_maxBytes / m_minBytes);
    return { area.left() + x * area.width(), area.bottom() - std::clamp(recall, 0.0, 1.0) * area.height() };
}

QString paretoChartTitle(const std::string &model, const std::string &needleSet)
{
    return QStringLiteral("KV bytes held per token against recall · %1 · needles %2")
        .arg(QString::fromStdString(model), QString::fromStdString(needleSet));
}

QImage renderParetoChart(const std::vector<ParetoPoint> &points, const QString &title)
{
    using L = ParetoChartLayout;
    const L layout(points);
    const QRectF area = plotArea();
    QImage image(L::size(), QImage::Format_RGB32);
    image.fill(Qt::white);
    QPainter p(&image);
    p.setRenderHint(QPainter::Antialiasing, true);
    QFont font = p.font();
    font.setPixelSize(12);
    p.setFont(font);

    p.setPen(kInk);
    p.drawText(QRectF(8, 4, L::kWidth - 16, 20), Qt::AlignLeft | Qt::AlignVCenter, title);
    p.drawText(QRectF(8, 24, L::kWidth - 16, 20), Qt::AlignLeft | Qt::AlignVCenter,
        QStringLiteral("green: the Pareto frontier (no mode has fewer bytes and more recall)"));
    for (int r = 0; r <= 100; r += 25) {
        const double y = layout.position(layout.minBytes(), r / 100.0).y();
        p.setPen(kGrid);
        p.drawLine(QPointF(area.left(), y), QPointF(area.right(), y));
        p.setPen(kInk);
        p.drawText(
            QRectF(0, y - 8, L::kLeft - 6, 16), Qt::AlignRight | Qt::AlignVCenter, QStringLiteral("%1 %").arg(r));
    }
    for (double b : byteTicks(layout)) {
        const double x = layout.position(b, 0).x();
        p.setPen(kGrid);
        p.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()));
        p.setPen(kInk);
        p.drawText(QRectF(x - 30, area.bottom() + 4, 60, 16), Qt::AlignCenter, bytesTick(b));
    }
    p.drawText(QRectF(area.left(), area.bottom() + 24, area.width(), 18), Qt::AlignCenter,
        QStringLiteral("KV bytes held per token of context (log scale)"));
    p.save();
    p.translate(14, area.center().y());
    p.rotate(-90);
    p.drawText(QRectF(-60, -8, 120, 16), Qt::AlignCenter, QStringLiteral("recall (exact)"));
    p.restore();
    p.setPen(kInk);
    p.drawRect(area);

    QPolygonF frontier;
    for (std::size_t i : paretoFrontier(points))
        frontier << layout.position(points[i].bytesPerToken, points[i].recall);
    p.setPen(QPen(kFrontier, 2));
    p.drawPolyline(frontier);
    const std::vector<bool> on = onFrontier(points);
    for (std::size_t i = 0; i < points.size(); ++i) {
        const QPointF at = layout.position(points[i].bytesPerToken, points[i].recall);
        p.setPen(Qt::NoPen);
        p.setBrush(on[i] ? kFrontier : kDominated);
        p.drawEllipse(at, kPointRadius, kPointRadius);
        p.setPen(kInk);
        const QString label = QString::fromStdString(points[i].label);
        const double width = p.fontMetrics().horizontalAdvance(label);
        p.drawText(at + QPointF(labelLeftOfPoint(at) ? -6 - width : 6, -6), label);
    }
    p.end();
    return image;
}

QByteArray paretoChartSvg(const std::vector<ParetoPoint> &points, const QString &title)
{
    using L = ParetoChartLayout;
    const L layout(points);
    const QRectF area = plotArea();
    QString s;
    s += QStringLiteral("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s += QStringLiteral("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%1\" height=\"%2\" viewBox=\"0 0 %1 %2\" "
                        "font-family=\"sans-serif\" font-size=\"12\">\n")
             .arg(L::kWidth)
             .arg(L::kHeight);
    s += QStringLiteral("<title>%1</title>\n").arg(title.toHtmlEscaped());
    s += QStringLiteral("<rect x=\"0\" y=\"0\" width=\"%1\" height=\"%2\" fill=\"#ffffff\"/>\n")
             .arg(L::kWidth)
             .arg(L::kHeight);
    s += QStringLiteral("<text x=\"8\" y=\"18\" fill=\"%1\">%2</text>\n").arg(kInk.name(), title.toHtmlEscaped());
    s += QStringLiteral(
        "<text x=\"8\" y=\"38\" fill=\"%1\">green: the Pareto frontier (no mode has fewer bytes and more "
        "recall)</text>\n")
             .arg(kInk.name());
    for (int r = 0; r <= 100; r += 25) {
        const double y = layout.position(layout.minBytes(), r / 100.0).y();
        s += QStringLiteral("<line x1=\"%1\" y1=\"%2\" x2=\"%3\" y2=\"%2\" stroke=\"%4\"/>"
                            "<text x=\"%5\" y=\"%6\" text-anchor=\"end\" fill=\"%7\">%8 %</text>\n")
                 .arg(coordinate(area.left()), coordinate(y), coordinate(area.right()), kGrid.name(),
                     coordinate(L::kLeft - 6), coordinate(y + 4), kInk.name())
                 .arg(r);
    }
    for (double b : byteTicks(layout)) {
        const double x = layout.position(b, 0).x();
        s += QStringLiteral("<line x1=\"%1\" y1=\"%2\" x2=\"%1\" y2=\"%3\" stroke=\"%4\"/>"
                            "<text x=\"%1\" y=\"%5\" text-anchor=\"middle\" fill=\"%6\">%7</text>\n")
                 .arg(coordinate(x), coordinate(area.top()), coordinate(area.bottom()), kGrid.name(),
                     coordinate(area.bottom() + 16), kInk.name(), bytesTick(b));
    }
    s += QStringLiteral("<text x=\"%1\" y=\"%2\" text-anchor=\"middle\" fill=\"%3\">KV bytes held per token of context "
                        "(log scale)</text>\n")
             .arg(coordinate(area.center().x()), coordinate(area.bottom() + 38), kInk.name());
    s += QStringLiteral("<text transform=\"translate(18 %1) rotate(-90)\" text-anchor=\"middle\" fill=\"%2\">recall "
                        "(exact)</text>\n")
             .arg(coordinate(area.center().y()), kInk.name());
    s += QStringLiteral("<path d=\"M%1 %2H%3V%4H%1Z\" fill=\"none\" stroke=\"%5\"/>\n")
             .arg(coordinate(area.left()), coordinate(area.top()), coordinate(area.right()), coordinate(area.bottom()),
                 kInk.name());

    QStringList frontier;
    for (std::size_t i : paretoFrontier(points)) {
        const QPointF at = layout.position(points[i].bytesPerToken, points[i].recall);
        frontier << coordinate(at.x()) + QLatin1Char(',') + coordinate(at.y());
    }
    s += QStringLiteral("<polyline class=\"frontier\" points=\"%1\" fill=\"none\" stroke=\"%2\" stroke-width=\"2\"/>\n")
             .arg(frontier.join(QLatin1Char(' ')), kFrontier.name());
    const std::vector<bool> on = onFrontier(points);
    for (std::size_t i = 0; i < points.size(); ++i) {
        const QPointF at = layout.position(points[i].bytesPerToken, points[i].recall);
        const QString label = QString::fromStdString(points[i].label).toHtmlEscaped();
        s += QStringLiteral(
            "<circle class=\"%1\" cx=\"%2\" cy=\"%3\" r=\"%4\" fill=\"%5\"><title>%6: %7 B/token, recall "
            "%8</title></circle><text x=\"%9\" y=\"%10\" text-anchor=\"%11\" fill=\"%12\">%6</text>\n")
                 .arg(on[i] ? QStringLiteral("point frontier") : QStringLiteral("point"), coordinate(at.x()),
                     coordinate(at.y()), coordinate(kPointRadius), (on[i] ? kFrontier : kDominated).name(), label,
                     QString::number(points[i].bytesPerToken), recallText(points[i].recall),
                     coordinate(at.x() + (labelLeftOfPoint(at) ? -6 : 6)))
                 .arg(coordinate(at.y() - 6), labelLeftOfPoint(at) ? QStringLiteral("end") : QStringLiteral("start"),
                     kInk.name());
    }
    s += QStringLiteral("</svg>\n");
    return s.toUtf8();
}

void writeParetoCharts(const std::vector<ParetoPoint> &points, const QString &title, const QString &directory)
{
    const QString base = directory + QStringLiteral("/pareto");
    QByteArray png;
    QBuffer buffer(&png);
    buffer.open(QIODevice::WriteOnly);
    if (!renderParetoChart(points, title).save(&buffer, "PNG"))
        fail("cannot encode the Pareto chart {}.png (Qt's PNG plugin missing?)", base.toStdString());
    writeOutputFile(base + QStringLiteral(".png"), png);
    writeOutputFile(base + QStringLiteral(".svg"), paretoChartSvg(points, title));
}

} // namespace nw::app
