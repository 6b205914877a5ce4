// The needle heatmap widget: the PNG's layout and colours, live, with hover details.
#include "ui/needle_heatmap_view.h"

#include "app/ask_report.h"
#include "app/needle_heatmap.h"

#include <QHelpEvent>
#include <QLinearGradient>
#include <QMouseEvent>
#include <QPainter>
#include <QTextDocument>
#include <QToolTip>

#include <algorithm>
#include <tuple>

namespace nw::ui {
namespace {

using Layout = app::NeedleHeatmapLayout;

const QColor kEmptyCell(220, 220, 220); // as the PNG: a cell without trials
const QColor kCellInk(40, 40, 40); // dark on every colour of the scale

QString summaryLine(const app::NeedleGrid &grid)
{
    const app::NeedleCell all = grid.total();
    return QObject::tr("exact %1 % of %2 trials (lenient %3 %)")
        .arg(100.0 * all.exactRate(), 0, 'f', 1)
        .arg(all.trials)
        .arg(100.0 * all.lenientRate(), 0, 'f', 1);
}

} // namespace

NeedleHeatmapView::NeedleHeatmapView(QWidget *parent)
    : QWidget(parent)
{
    setMouseTracking(true);
    setSizePolicy(QSizePolicy::Fixed, QSizePolicy::Fixed);
}

void NeedleHeatmapView::setGrid(app::NeedleGrid grid, std::vector<app::NeedleTrial> trials)
{
    const bool reshaped = grid.lengths != m_grid.lengths || grid.depths != m_grid.depths;
    m_grid = std::move(grid);
    m_trials = std::move(trials);
    setObjectName(QStringLiteral("NeedleHeatmap_%1").arg(QString::fromStdString(m_grid.mode)));
    if (reshaped)
        m_hovered.reset();
    updateGeometry();
    update();
    if (m_hovered)
        emit cellHovered(cellDetails(m_hovered->first, m_hovered->second)); // the cell may have changed
}

QRect NeedleHeatmapView::cellRect(int row, int column) const
{
    return { Layout::kLeft + column * Layout::kCellWidth, Layout::kTop + row * Layout::kCellHeight, Layout::kCellWidth,
        Layout::kCellHeight };
}

std::optional<std::pair<int, int>> NeedleHeatmapView::cellAt(QPoint pos) const
{
    const int x = pos.x() - Layout::kLeft;
    const int y = pos.y() - Layout::kTop;
    if (x < 0 || y < 0)
        return std::nullopt;
    const int column = x / Layout::kCellWidth;
    const int row = y / Layout::kCellHeight;
    if (column >= columnCount() || row >= rowCount())
        return std::nullopt;
    return std::pair { row, column };
}

QString NeedleHeatmapView::cellDetails(int row, int column) const
{
    if (row < 0 || column < 0 || row >= rowCount() || column >= columnCount())
        return {};
    const std::int64_t length = m_grid.lengths[static_cast<std::size_t>(column)];
    const int depth = m_grid.depths[static_cast<std::size_t>(row)];
    const app::NeedleCell &cell = m_grid.cell(static_cast<std::size_t>(row), static_cast<std::size_t>(column));
    QStringList lines;
    lines << tr("%1 · %2 tokens · depth %3 %").arg(QString::fromStdString(m_grid.mode)).arg(length).arg(depth);
    if (cell.trials == 0) {
        lines << tr("not run yet");
        return lines.join(QLatin1Char('\n'));
    }
    lines << tr("exact %1 of %2 (%3 %) · lenient %4 of %2")
                 .arg(cell.exact)
                 .arg(cell.trials)
                 .arg(qRound(100.0 * cell.exactRate()))
                 .arg(cell.lenient);
    std::vector<const app::NeedleTrial *> trials;
    for (const app::NeedleTrial &t : m_trials)
        if (t.length == length && t.depth == depth)
            trials.push_back(&t);
    std::sort(trials.begin(), trials.end(), [](const app::NeedleTrial *a, const app::NeedleTrial *b) {
        return std::tie(a->variant, a->trial) < std::tie(b->variant, b->trial);
    });
    std::uint64_t total = 0;
    std::int64_t totalTokens = 0;
    for (const app::NeedleTrial *t : trials)
        if (t->kvBytesTotal >= total) {
            total = t->kvBytesTotal;
            totalTokens = app::needleTrialKvTokens(*t); // an evicting cache holds fewer bytes than it saw tokens
        }
    // Bytes held per token of context, as the Pareto chart places the mode (a full window adds 0 B
    // per next token, yet holds its window).
    const std::uint64_t perToken = totalTokens > 0 ? total / static_cast<std::uint64_t>(totalTokens) : 0;
    lines << tr("KV %1/token held · %2 (prompt and answer)")
                 .arg(app::formatBytes(perToken), app::needleCacheBytesText(total, totalTokens));
    lines << tr("answers:");
    for (const app::NeedleTrial *t : trials)
        lines << tr("  %1 #%2: \"%3\" — pass key %4, %5")
                     .arg(QString::fromStdString(t->variant))
                     .arg(t->trial + 1)
                     .arg(QString::fromStdString(t->answer).simplified())
                     .arg(t->value)
                     .arg(t->exact        ? tr("exact")
                             : t->lenient ? tr("lenient only")
                                          : tr("missed"));
    return lines.join(QLatin1Char('\n'));
}

QSize NeedleHeatmapView::sizeHint() const
{
    const QSize grid = Layout::size(columnCount(), rowCount());
    const int title = std::max(fontMetrics().horizontalAdvance(app::needleHeatmapTitle(m_grid)),
        fontMetrics().horizontalAdvance(summaryLine(m_grid)));
    return { std::max(grid.width(), title + 16), grid.height() };
}

bool NeedleHeatmapView::event(QEvent *event)
{
    if (event->type() == QEvent::ToolTip) {
        auto *help = static_cast<QHelpEvent *>(event);
        if (const auto cell = cellAt(help->pos()))
            QToolTip::showText(help->globalPos(), Qt::convertFromPlainText(cellDetails(cell->first, cell->second)),
                this, cellRect(cell->first, cell->second));
        else
            QToolTip::hideText();
        return true;
    }
    return QWidget::event(event);
}

void NeedleHeatmapView::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.fillRect(rect(), palette().base());
    p.setRenderHint(QPainter::TextAntialiasing, true);
    const QColor ink = palette().text().color();
    p.setPen(ink);
    p.drawText(QRect(8, 4, width() - 16, 20), Qt::AlignLeft | Qt::AlignVCenter, app::needleHeatmapTitle(m_grid));
    p.drawText(QRect(8, 24, width() - 16, 20), Qt::AlignLeft | Qt::AlignVCenter, summaryLine(m_grid));

    for (int r = 0; r < rowCount(); ++r) {
        for (int c = 0; c < columnCount(); ++c) {
            const app::NeedleCell &cell = m_grid.cell(static_cast<std::size_t>(r), static_cast<std::size_t>(c));
            const QRect box = cellRect(r, c);
            p.fillRect(box, cell.trials ? app::needleAccuracyColor(cell.exactRate()) : kEmptyCell);
            p.setPen(palette().base().color());
            p.drawRect(box.adjusted(0, 0, -1, -1));
            p.setPen(kCellInk);
            p.drawText(box, Qt::AlignCenter,
                cell.trials ? QString::number(qRound(100.0 * cell.exactRate())) : QStringLiteral("–"));
        }
        p.setPen(ink);
        p.drawText(QRect(0, cellRect(r, 0).top(), Layout::kLeft - 6, Layout::kCellHeight),
            Qt::AlignRight | Qt::AlignVCenter, QStringLiteral("%1 %").arg(m_grid.depths[static_cast<std::size_t>(r)]));
    }
    if (m_hovered) {
        p.setPen(QPen(ink, 2));
        p.drawRect(cellRect(m_hovered->first, m_hovered->second).adjusted(1, 1, -1, -1));
    }
    p.setPen(ink);
    const int gridBottom = Layout::kTop + rowCount() * Layout::kCellHeight;
    for (int c = 0; c < columnCount(); ++c)
        p.drawText(QRect(cellRect(0, c).left(), gridBottom + 2, Layout::kCellWidth, 18), Qt::AlignCenter,
            QString::fromStdString(app::formatTokenCount(m_grid.lengths[static_cast<std::size_t>(c)])));
    p.drawText(QRect(Layout::kLeft, gridBottom + 22, std::max(columnCount() * Layout::kCellWidth, 160), 18),
        Qt::AlignLeft | Qt::AlignVCenter, tr("context length (tokens)"));
    // The rotated axis name fits the grid's height, so a grid of few rows keeps it off the title.
    const int axis = gridBottom - Layout::kTop;
    p.save();
    p.translate(14, Layout::kTop + axis / 2);
    p.rotate(-90);
    const QString axisName = tr("needle depth");
    if (fontMetrics().horizontalAdvance(axisName) <= axis) {
        p.drawText(QRect(-axis / 2, -8, axis, 16), Qt::AlignCenter, axisName);
        p.restore();
    } else {
        // Too few rows to stand the name on its side: it goes under the depth labels, level.
        p.restore();
        p.drawText(QRect(0, gridBottom + 2, Layout::kLeft - 6, 36), Qt::AlignRight | Qt::AlignTop | Qt::TextWordWrap,
            axisName);
    }

    // The legend: 100 % at the top, 0 % at the bottom, as in the PNG.
    const int legendLeft = Layout::kLeft + columnCount() * Layout::kCellWidth + 16;
    const int legendHeight = std::max(gridBottom - Layout::kTop, 40);
    QLinearGradient gradient(0, Layout::kTop, 0, Layout::kTop + legendHeight);
    for (int i = 0; i <= 10; ++i)
        gradient.setColorAt(i / 10.0, app::needleAccuracyColor(1.0 - i / 10.0));
    p.fillRect(QRect(legendLeft, Layout::kTop, 14, legendHeight), gradient);
    p.drawText(QRect(legendLeft + 18, Layout::kTop - 2, 60, 16), Qt::AlignLeft | Qt::AlignTop, QStringLiteral("100 %"));
    p.drawText(QRect(legendLeft + 18, Layout::kTop + legendHeight - 14, 60, 16), Qt::AlignLeft | Qt::AlignBottom,
        QStringLiteral("0 %"));
}

void NeedleHeatmapView::mouseMoveEvent(QMouseEvent *event)
{
    setHovered(cellAt(event->position().toPoint()));
    QWidget::mouseMoveEvent(event);
}

void NeedleHeatmapView::leaveEvent(QEvent *event)
{
    setHovered(std::nullopt);
    QWidget::leaveEvent(event);
}

void NeedleHeatmapView::setHovered(std::optional<std::pair<int, int>> cell)
{
    if (cell == m_hovered)
        return;
    m_hovered = cell;
    update();
    emit cellHovered(cell ? cellDetails(cell->first, cell->second) : QString());
}

} // namespace nw::ui
