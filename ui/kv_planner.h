// The KV planner: pick an architecture from the bundled table (or the loaded model) and a
// context length, and see the bytes every KV mode would need side by side with the MHA-f16
// baseline. The figures come from app/kv_plan.h; this view only lays them out.
#pragma once

#include "app/kv_plan.h"

#include <QDialog>

#include <optional>

class QComboBox;
class QLabel;
class QSpinBox;
class QTableWidget;

namespace nw::ui {

class KvPlanner : public QDialog {
    Q_OBJECT
public:
    enum Column { ModeColumn, PerTokenColumn, UsedColumn, ReservedColumn, SavingColumn, ColumnCount };

    explicit KvPlanner(QWidget *parent = nullptr);

    // Adds (or replaces) the "loaded model" entry and selects it.
    void setLoadedModel(const QString &name, const app::HParams &hp);
    void selectArchitecture(const QString &name); // bundled name or the loaded model's name
    void setContextTokens(int tokens);

    QComboBox *architectureBox() const { return m_arch; }
    QSpinBox *contextBox() const { return m_ctx; }
    QTableWidget *table() const { return m_table; }

private:
    void recompute();
    std::optional<app::HParams> selectedHParams() const;

    QComboBox *m_arch = nullptr;
    QSpinBox *m_ctx = nullptr;
    QTableWidget *m_table = nullptr;
    QLabel *m_summary = nullptr;
    QString m_loadedName;
    std::optional<app::HParams> m_loaded;
};

} // namespace nw::ui
