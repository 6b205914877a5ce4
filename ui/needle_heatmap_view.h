// One KV mode's needle heatmap drawn in a widget: the cells of the PNG heatmap (same layout and
// colour scale, app/needle_heatmap.h) from the results, redrawn as cells finish; hovering a cell
// tells its context length, depth, accuracy, the answers given and the KV bytes.
#pragma once

#include "app/needle_results.h"

#include <QString>
#include <QWidget>

#include <optional>
#include <utility>
#include <vector>

namespace nw::ui {

class NeedleHeatmapView : public QWidget {
    Q_OBJECT
public:
    explicit NeedleHeatmapView(QWidget *parent = nullptr);

    // `trials`: the grid mode's trials, for the answers shown on hover.
    void setGrid(app::NeedleGrid grid, std::vector<app::NeedleTrial> trials);
    const app::NeedleGrid &grid() const { return m_grid; }
    int rowCount() const { return static_cast<int>(m_grid.depths.size()); }       // depths
    int columnCount() const { return static_cast<int>(m_grid.lengths.size()); }   // lengths

    QRect cellRect(int row, int column) const;
    // {row, column} of the cell under `pos`, nullopt outside the grid.
    std::optional<std::pair<int, int>> cellAt(QPoint pos) const;
    // Plain text: "96 tokens · depth 100 %", the exact and lenient counts, KV bytes per token and
    // total, then one line per trial with the answer it gave.
    QString cellDetails(int row, int column) const;

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override { return sizeHint(); }

signals:
    // The details of the cell under the mouse; empty when it leaves the grid.
    void cellHovered(const QString &details);

protected:
    bool event(QEvent *event) override; // tooltips
    void paintEvent(QPaintEvent *event) override;
    void mouseMoveEvent(QMouseEvent *event) override;
    void leaveEvent(QEvent *event) override;

private:
    void setHovered(std::optional<std::pair<int, int>> cell);

    app::NeedleGrid m_grid;
    std::vector<app::NeedleTrial> m_trials;
    std::optional<std::pair<int, int>> m_hovered;
};

} // namespace nw::ui
