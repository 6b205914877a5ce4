// Fills the planner's table from app::kvPlan; errors (a mode the model cannot use, a bad context)
// are shown in the summary line instead of escaping the slot.
#include "ui/kv_planner.h"

#include "common/error.h"
#include "ui/byte_format.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHeaderView>
#include <QLabel>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>

namespace nw::ui {

namespace {
constexpr int kLoadedRole = Qt::UserRole + 1; // true on the loaded model's entry
}

KvPlanner::KvPlanner(QWidget *parent) : QDialog(parent)
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
    form->addRow(tr("&Architecture"), m_arch);
    m_ctx = new QSpinBox(this);
    m_ctx->setObjectName(QStringLiteral("PlannerContext"));
    m_ctx->setRange(1, 1 << 24);
    m_ctx->setSingleStep(1024);
    m_ctx->setValue(32768);
    m_ctx->setSuffix(tr(" tokens"));
    m_ctx->setGroupSeparatorShown(true);
    form->addRow(tr("&Context"), m_ctx);
    layout->addLayout(form);

    m_table = new QTableWidget(0, ColumnCount, this);
    m_table->setObjectName(QStringLiteral("PlannerTable"));
    m_table->setHorizontalHeaderLabels(
        {tr("KV mode"), tr("Bytes / token"), tr("KV bytes"), tr("Reserved"), tr("vs MHA f16")});
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->verticalHeader()->hide();
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    layout->addWidget(m_table, 1);
    m_summary = new QLabel(this);
    m_summary->setObjectName(QStringLiteral("PlannerSummary"));
    m_summary->setWordWrap(true);
    layout->addWidget(m_summary);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);

    connect(m_arch, &QComboBox::currentIndexChanged, this, &KvPlanner::recompute);
    connect(m_ctx, &QSpinBox::valueChanged, this, &KvPlanner::recompute);
    resize(640, 320);
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
    m_arch->insertItem(0, label);
    m_arch->setItemData(0, true, kLoadedRole);
    m_arch->setCurrentIndex(0);
    recompute();
}

void KvPlanner::selectArchitecture(const QString &name)
{
    const int index = m_arch->findText(name, Qt::MatchFixedString);
    if (index >= 0)
        m_arch->setCurrentIndex(index);
}

void KvPlanner::setContextTokens(int tokens) { m_ctx->setValue(tokens); }

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
    const std::optional<app::HParams> hp = selectedHParams();
    if (!hp) {
        m_summary->setText(tr("Pick an architecture."));
        return;
    }
    app::KvPlan plan;
    try {
        plan = app::kvPlan(*hp, m_ctx->value());
    } catch (const Error &e) {
        m_summary->setText(tr("Cannot plan: %1").arg(QString::fromUtf8(e.what())));
        return;
    }
    const auto addRow = [&](const QString &mode, std::uint64_t perToken, std::uint64_t used, std::uint64_t reserved,
                            double saving) {
        const int row = m_table->rowCount();
        m_table->insertRow(row);
        const QString cells[] = {mode, QStringLiteral("%L1").arg(perToken), formatByteCount(used),
                                 reserved > 0 ? formatByteCount(reserved) : QStringLiteral("–"), formatSaving(saving)};
        for (int c = 0; c < ColumnCount; ++c) {
            auto *item = new QTableWidgetItem(cells[c]);
            if (c != ModeColumn)
                item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            m_table->setItem(row, c, item);
        }
    };
    const std::uint64_t ctx = static_cast<std::uint64_t>(m_ctx->value());
    for (const app::KvPlanRow &row : plan.rows)
        addRow(row.mode, row.bytesPerToken, row.usedBytes, row.reservedBytes, row.savingVsMha);
    if (!plan.rows.empty()) {
        const std::uint64_t mha = plan.mhaF16BytesPerToken;
        addRow(tr("MHA f16 (baseline)"), mha, mha * ctx, 0, 1.0);
    }
    m_summary->setText(tr("%1 layers, %2 heads (%3 KV heads), head dims %4/%5%6")
                           .arg(hp->nLayers)
                           .arg(hp->nHeads)
                           .arg(hp->nKvHeads)
                           .arg(hp->headDimK)
                           .arg(hp->headDimV)
                           .arg(hp->kvLoraRank > 0 ? tr(", latent rank %1 + rope %2").arg(hp->kvLoraRank).arg(hp->qkRopeHeadDim)
                                                   : QString()));
}

} // namespace nw::ui
