// The KV planner: pick the loaded model (its own shape, read from the GGUF) or an architecture
// from the bundled table, type a context (4096, 32k, 1M) and latent ranks, and see the bytes every
// KV mode the engine has would need — full, mla, latent:R, each plain, +q8 and +q4 — side by side
// with the MHA-f16 baseline; a mode the shape cannot use shows why. Below the table, why reserved
// exceeds used. The figures come from app/kv_plan.h; this view only lays them out.
#pragma once

#include "app/kv_plan.h"

#include <QDialog>

#include <optional>

class QComboBox;
class QLabel;
class QLineEdit;
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
    void setContextTokens(qint64 tokens);
    void setContextText(const QString &text); // as typed: "32k", "131072"
    void setLatentRanks(const QString &text); // "64, 128"; "" : app::defaultLatentRanks
    void setMessage(const QString &text); // shown in the summary line until the next change

    QComboBox *architectureBox() const { return m_arch; }
    QLineEdit *contextBox() const { return m_ctx; }
    QLineEdit *ranksBox() const { return m_ranks; }
    QTableWidget *table() const { return m_table; }
    QString summary() const;
    QString reservedNote() const;

private:
    void recompute();
    std::optional<app::HParams> selectedHParams() const;

    QComboBox *m_arch = nullptr;
    QLineEdit *m_ctx = nullptr;
    QLineEdit *m_ranks = nullptr;
    QTableWidget *m_table = nullptr;
    QLabel *m_summary = nullptr;
    QLabel *m_note = nullptr;
    QString m_loadedName;
    std::optional<app::HParams> m_loaded;
};

} // namespace nw::ui
