// Fills the planner's table from app::kvPlan; errors (a context that does not parse, a shape that
// cannot be planned) are shown in the summary line instead of escaping the slot.
#include "ui/kv_planner.h"

#include "app/ask_report.h"
#include "app/numeric_options.h"
#include "common/error.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QRegularExpression>
#include <QTableWidget>
#include <QVBoxLayout>

namespace nw::ui {

namespace {
constexpr int kLoadedRole = Qt::UserRole + 1; // true on the loaded model's entry
}

KvPlanner::KvPlanner(QWidget *parent)
    : QDialog(parent)
{
    setObjectName(QStringLiteral("KvPlanner"));
    setWindowTitle(tr("KV Planner"));
    auto *layout = new QVBoxLayout(this);
    auto *form = new QFormLayout;
    m_arch = new QComboBox(this);
    m_arch->setObjectName(QStringLiteral("PlannerArchitecture"));
    for (const app::KvPlanArchitecture &a : app::kvPlanArchitectures()) {
        m_arch->addItem(a.name);
        m_arch->setItemData(m_arch->count() - 1, a.source, Qt::ToolTipRole);
    }
    form->addRow(tr("&Model"), m_arch);
    m_ctx = new QLineEdit(QStringLiteral("32k"), this);
    m_ctx->setObjectName(QStringLiteral("PlannerContext"));
    m_ctx->setToolTip(tr("Tokens of context: 4096, 32k, 128k, 1M (k = 1024)"));
    form->addRow(tr("&Context"), m_ctx);
    m_ranks = new QLineEdit(this);
    m_ranks->setObjectName(QStringLiteral("PlannerRanks"));
    m_ranks->setToolTip(tr("Ranks of latent:R to size, comma-separated; empty: 1/16, 1/8 and 1/4 of the key width"));
    form->addRow(tr("&Latent ranks"), m_ranks);
    layout->addLayout(form);

    m_table = new QTableWidget(0, ColumnCount, this);
    m_table->setObjectName(QStringLiteral("PlannerTable"));
    m_table->setHorizontalHeaderLabels(
        { tr("KV mode"), tr("Bytes / token"), tr("Used"), tr("Reserved"), tr("vs MHA f16") });
    m_table->horizontalHeaderItem(UsedColumn)->setToolTip(tr("The bytes of the context's tokens"));
    m_table->horizontalHeaderItem(ReservedColumn)->setToolTip(tr("What the cache allocates for them (see below)"));
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->verticalHeader()->hide();
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    layout->addWidget(m_table, 1);
    m_note = new QLabel(this);
    m_note->setObjectName(QStringLiteral("PlannerReservedNote"));
    m_note->setWordWrap(true);
    layout->addWidget(m_note);
    m_summary = new QLabel(this);
    m_summary->setObjectName(QStringLiteral("PlannerSummary"));
    m_summary->setWordWrap(true);
    layout->addWidget(m_summary);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);

    connect(m_arch, &QComboBox::currentIndexChanged, this, [this] {
        m_ranks->clear(); // another shape, other useful ranks
        recompute();
    });
    connect(m_ctx, &QLineEdit::textChanged, this, &KvPlanner::recompute);
    connect(m_ranks, &QLineEdit::editingFinished, this, &KvPlanner::recompute);
    resize(680, 560);
    recompute();
}

void KvPlanner::setLoadedModel(const QString &name, const app::HParams &hp)
{
    const QString label = tr("%1 (loaded)").arg(name);
    for (int i = 0; i < m_arch->count(); ++i) {
        if (m_arch->itemData(i, kLoadedRole).toBool()) {
            m_arch->removeItem(i);
            break;
        }
    }
    m_loadedName = label;
    m_loaded = hp;
    const QSignalBlocker block(m_arch);
    m_arch->insertItem(0, label);
    m_arch->setItemData(0, true, kLoadedRole);
    m_arch->setCurrentIndex(0);
    m_ranks->clear();
    recompute();
}

void KvPlanner::selectArchitecture(const QString &name)
{
    const int index = m_arch->findText(name, Qt::MatchFixedString);
    if (index >= 0)
        m_arch->setCurrentIndex(index);
}

void KvPlanner::setContextTokens(qint64 tokens)
{
    m_ctx->setText(QString::number(tokens));
}

void KvPlanner::setContextText(const QString &text)
{
    m_ctx->setText(text);
}

void KvPlanner::setLatentRanks(const QString &text)
{
    m_ranks->setText(text);
    recompute();
}

void KvPlanner::setMessage(const QString &text)
{
    m_summary->setText(text);
}

QString KvPlanner::summary() const
{
    return m_summary->text();
}

QString KvPlanner::reservedNote() const
{
    return m_note->text();
}

std::optional<app::HParams> KvPlanner::selectedHParams() const
{
    const int index = m_arch->currentIndex();
    if (index < 0)
        return std::nullopt;
    if (m_arch->itemData(index, kLoadedRole).toBool())
        return m_loaded;
    return app::kvPlanArchitecture(m_arch->currentText());
}

void KvPlanner::recompute()
{
    m_table->setRowCount(0);
    m_note->clear();
    const std::optional<app::HParams> hp = selectedHParams();
    if (!hp) {
        m_summary->setText(tr("Pick a model or an architecture."));
        return;
    }
    const std::optional<std::int64_t> ctx = app::parseTokenCount(m_ctx->text());
    if (!ctx) {
        m_summary->setText(tr("The context is a token count: 4096, 32k, 1M."));
        return;
    }
    std::vector<std::int64_t> ranks;
    for (const QString &part :
        m_ranks->text().split(QRegularExpression(QStringLiteral("[,\\s]+")), Qt::SkipEmptyParts)) {
        bool ok = false;
        const qlonglong r = part.toLongLong(&ok);
        if (!ok || r <= 0) {
            m_summary->setText(tr("Latent ranks are whole numbers, comma-separated (not “%1”).").arg(part));
            return;
        }
        ranks.push_back(r);
    }
    if (ranks.empty()) {
        ranks = app::defaultLatentRanks(*hp);
        QStringList shown;
        for (std::int64_t r : ranks)
            shown << QString::number(r);
        const QSignalBlocker block(m_ranks);
        m_ranks->setPlaceholderText(shown.join(QStringLiteral(", ")));
    }
    app::KvPlan plan;
    try {
        plan = app::kvPlan(*hp, *ctx, app::kvPlanModes(*hp, ranks));
    } catch (const Error &e) {
        m_summary->setText(tr("Cannot plan: %1").arg(QString::fromUtf8(e.what())));
        return;
    }
    const auto addRow = [&](const QString &mode, const QStringList &cells, const QString &tooltip) {
        const int row = m_table->rowCount();
        m_table->insertRow(row);
        for (int c = 0; c < ColumnCount; ++c) {
            auto *item = new QTableWidgetItem(c == ModeColumn ? mode : cells.value(c - 1));
            if (c != ModeColumn)
                item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            if (!tooltip.isEmpty()) {
                item->setToolTip(tooltip);
                item->setForeground(palette().color(QPalette::Disabled, QPalette::Text));
            }
            m_table->setItem(row, c, item);
        }
    };
    const std::uint64_t mha = plan.mhaF16BytesPerToken;
    addRow(tr("MHA f16 (baseline)"),
        { QStringLiteral("%L1").arg(mha), app::formatBytes(mha * static_cast<std::uint64_t>(*ctx)), QStringLiteral("–"),
            app::formatSaving(1.0) },
        {});
    int refused = 0;
    for (const app::KvPlanRow &row : plan.rows) {
        if (!row.refused.isEmpty()) {
            ++refused;
            addRow(row.mode, { tr("cannot apply"), QStringLiteral("–"), QStringLiteral("–"), QStringLiteral("–") },
                row.refused);
            continue;
        }
        addRow(row.mode,
            { QStringLiteral("%L1").arg(row.bytesPerToken), app::formatBytes(row.usedBytes),
                app::formatBytes(row.reservedBytes), app::formatSaving(row.savingVsMha) },
            {});
    }
    m_note->setText(plan.reservedNote);
    QString shape
        = tr("%1 layers, %2 heads (%3 KV heads), head dims %4/%5%6; %L7 tokens")
              .arg(hp->nLayers)
              .arg(hp->nHeads)
              .arg(hp->nKvHeads)
              .arg(hp->headDimK)
              .arg(hp->headDimV)
              .arg(hp->kvLoraRank > 0 ? tr(", latent rank %1 + rope %2").arg(hp->kvLoraRank).arg(hp->qkRopeHeadDim)
                                      : QString())
              .arg(*ctx);
    if (refused > 0)
        shape += QLatin1Char('\n') + tr("%n mode(s) cannot apply to this shape (hover for why).", nullptr, refused);
    m_summary->setText(shape);
}

} // namespace nw::ui
