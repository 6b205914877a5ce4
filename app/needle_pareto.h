// The Pareto chart of a needle run: KV bytes per token (x, log scale) against recall (y, exact
// accuracy over every trial of the mode), one labelled point per KV mode, and the frontier — the
// modes no other mode beats on both counts — drawn as a line through them. Written as PNG
// (QPainter; its text needs a QGuiApplication) and as SVG (plain XML, one layout for both).
#pragma once

#include "app/needle_results.h"

#include <QByteArray>
#include <QImage>
#include <QPointF>
#include <QSize>
#include <QString>

#include <string>
#include <vector>

namespace nw::app {

struct ParetoPoint {
    std::string label; // the KV mode
    double bytesPerToken = 0; // > 0
    double recall = 0; // in [0, 1]
};

// Indices of the points no other point dominates, ordered by bytes (then recall, then index).
// A point dominates another when it needs no more bytes and recalls no less, and is better in
// one of the two; equal points do not dominate each other, so both stay on the frontier.
std::vector<std::size_t> paretoFrontier(const std::vector<ParetoPoint> &points);

// One point per grid with trials and known bytes, in the grids' order.
std::vector<ParetoPoint> needleParetoPoints(const std::vector<NeedleGrid> &grids);

// Where things go, the same for PNG and SVG: a plot area inside fixed margins; x from the power
// of two at or below the fewest bytes to the one at or above the most (one octave at least),
// log2-spaced; y from 0 % (bottom) to 100 % (top).
class ParetoChartLayout {
public:
    static constexpr int kWidth = 640;
    static constexpr int kHeight = 420;
    static constexpr int kLeft = 64; // recall ticks and the axis name
    static constexpr int kRight = 32;
    static constexpr int kTop = 64; // title lines, and room for the labels of points at 100 %
    static constexpr int kBottom = 56; // byte ticks and the axis name

    explicit ParetoChartLayout(const std::vector<ParetoPoint> &points);
    static QSize size() { return { kWidth, kHeight }; }
    QPointF position(double bytesPerToken, double recall) const;
    double minBytes() const { return m_minBytes; }
    double maxBytes() const { return m_maxBytes; }

private:
    double m_minBytes = 1;
    double m_maxBytes = 2;
};

// "KV bytes held per token against recall · model.gguf · needles passkey" (the title line).
QString paretoChartTitle(const std::string &model, const std::string &needleSet);

QImage renderParetoChart(const std::vector<ParetoPoint> &points, const QString &title);
// The frontier is the one <polyline class="frontier">; each point a <circle class="point"> (with
// class "point frontier" when on it) holding a <title>.
QByteArray paretoChartSvg(const std::vector<ParetoPoint> &points, const QString &title);
// <directory>/pareto.png and <directory>/pareto.svg through writeOutputFile; throws nw::Error.
void writeParetoCharts(const std::vector<ParetoPoint> &points, const QString &title, const QString &directory);

} // namespace nw::app
