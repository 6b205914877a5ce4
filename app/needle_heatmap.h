// Heatmaps of needle accuracy for one KV mode: x = haystack length, y = needle depth (0 % at the
// top), colour = exact accuracy from red (0) through yellow to green (1), the percentage in each
// cell, KV bytes per token and total in the title. Written as PNG (QPainter; drawing text needs
// a QGuiApplication) and as SVG (plain XML: one <rect> per cell, nothing else is a rect).
#pragma once

#include "app/needle_results.h"

#include <QByteArray>
#include <QColor>
#include <QImage>
#include <QSize>
#include <QString>

namespace nw::app {

// Pixel layout, the same for PNG and SVG: margins around a grid of equal cells.
struct NeedleHeatmapLayout {
    static constexpr int kCellWidth = 64;
    static constexpr int kCellHeight = 24;
    static constexpr int kLeft = 72; // depth labels and the axis name
    static constexpr int kTop = 48; // title lines
    static constexpr int kRight = 96; // colour legend
    static constexpr int kBottom = 44; // length labels and the axis name
    static constexpr int kMinWidth = 520; // room for the title line of a grid of few lengths

    // kLeft + nLengths × kCellWidth + kRight (at least kMinWidth) by
    // kTop + nDepths × kCellHeight + kBottom.
    static QSize size(int nLengths, int nDepths);
};

// Accuracy in [0, 1] to the red–yellow–green scale (ColorBrewer RdYlGn end points).
QColor needleAccuracyColor(double accuracy);
// The cache a trial left, as every needle view labels it: "309.0 KiB for 309 tokens in cache" —
// the engine's byte count and the tokens it counts them for (prompt and answer, not the haystack).
QString needleCacheBytesText(std::uint64_t bytes, std::int64_t tokens);
// "KV latent:64+q8 · 96 B/token · 192.0 KiB for 2070 tokens in cache · PPL 3.07" (PPL when
// measured); the bytes are the largest trial's.
QString needleHeatmapTitle(const NeedleGrid &grid);

// "exact 83.3 % of 12 trials (lenient 91.7 %) · needles nolima": the second line.
QString needleHeatmapSubtitle(const NeedleGrid &grid);

QImage renderNeedleHeatmap(const NeedleGrid &grid);
QByteArray needleHeatmapSvg(const NeedleGrid &grid);

// "heatmap-latent-64+q8": the mode with characters other than letters, digits, '+', '.' and '-'
// turned into '-'; the files are <dir>/<base>.png and <dir>/<base>.svg.
QString needleHeatmapBaseName(const std::string &mode);
// Writes both files through writeOutputFile (app/output_file.h); throws nw::Error when one cannot
// be written.
void writeNeedleHeatmaps(const NeedleGrid &grid, const QString &directory);

} // namespace nw::app
