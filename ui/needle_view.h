// The Needle Lab (Tools ▸ Needle Lab, a tab beside the reader): the run configuration of app/needle_runner (model,
// lengths, depths, KV modes, trials, variant, needle set, seed, output folder), Run and Cancel, a progress bar
// with ETA, one heatmap per KV mode side by side, filled in as cells finish, and below them the
// Pareto chart of the modes (app/needle_pareto.h) once two or more modes have trials. The run goes on
// a worker thread; progress and results reach the widgets through queued calls only.
#pragma once

#include "app/needle_results.h"

#include <QString>
#include <QStringList>
#include <QWidget>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

class QCheckBox;
class QComboBox;
class QHBoxLayout;
class QLabel;
class QLineEdit;
class QListWidget;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QThread;

namespace nw::app {
struct NeedleProgress;
struct NeedleRunOutcome;
} // namespace nw::app

namespace nw::ui {

class NeedleHeatmapView;

class NeedleView : public QWidget {
    Q_OBJECT
public:
    enum ItemRole { ModeRole = Qt::UserRole, BytesPerTokenRole }; // data of the mode list's items

    explicit NeedleView(QWidget *parent = nullptr);
    ~NeedleView() override; // cancels a run and waits for its thread

    // Fills the model field (the window's model no longer replaces it) and lists the KV modes
    // the model accepts, the first one checked.
    void setModelPath(const QString &path);
    // The window's current model, asked each time the view is shown until the user picks one here.
    void setModelPathSource(std::function<QString()> source) { m_modelSource = std::move(source); }
    // Where "Library documents" haystacks come from, asked at each run; unset: sample corpus only.
    void setDatabasePathSource(std::function<QString()> source) { m_databasePath = std::move(source); }
    // Checks exactly these modes in the list (unknown ones go to the extra-modes field).
    void setCheckedModes(const QStringList &modes);
    QStringList checkedModes() const; // list and extra field, as typed

    bool isRunning() const { return m_thread != nullptr; }
    bool lastRunCancelled() const { return m_lastCancelled; }
    const app::NeedleResults &results() const { return m_results; }
    QList<NeedleHeatmapView *> heatmaps() const { return m_heatmaps; }
    QLabel *paretoChart() const { return m_pareto; } // hidden until two modes have trials

    QLineEdit *modelEdit() const { return m_model; }
    QLineEdit *lengthsEdit() const { return m_lengths; }
    QLineEdit *depthsEdit() const { return m_depths; }
    QListWidget *modeList() const { return m_modes; }
    QLineEdit *extraModesEdit() const { return m_extraModes; }
    QSpinBox *trialsBox() const { return m_trials; }
    QComboBox *variantBox() const { return m_variant; }
    QComboBox *needleSetBox() const { return m_needleSet; } // item data: the set's name for app::loadNeedleSet
    QSpinBox *seedBox() const { return m_seed; }
    QLineEdit *outEdit() const { return m_out; }
    QSpinBox *threadsBox() const { return m_threads; }
    QCheckBox *perplexityBox() const { return m_perplexity; }
    QCheckBox *compressBeforeQuestionBox() const { return m_compressBeforeQuestion; }
    QComboBox *haystackBox() const { return m_haystack; }
    QPushButton *runButton() const { return m_run; }
    QPushButton *cancelButton() const { return m_cancel; }
    QProgressBar *progressBar() const { return m_progress; }
    QLabel *statusLabel() const { return m_status; }
    QLabel *detailsLabel() const { return m_details; }

public slots:
    // Starts a run; false (with the reason in the status line) when one is going or the
    // configuration is incomplete. Cells already in the output folder's results.json show at once.
    bool run();
    void cancel();
    void chooseModel();
    void chooseOutputFolder();
    // Shows what the output folder's results.json holds for the configured modes, lengths and depths.
    void showSavedResults();

signals:
    void runStarted();
    void progressChanged(qint64 done, qint64 total);
    // ok: the run ended without an error (possibly cancelled); the status line says how it went.
    void runFinished(bool ok);

protected:
    void showEvent(QShowEvent *event) override; // lists the model's KV modes on first show

private:
    struct Shared;
    struct RunPlan {
        std::vector<std::string> modes; // as app::canonicalKvMode spells them
        std::vector<std::int64_t> lengths;
        std::vector<int> depths;
    };
    std::optional<RunPlan> readPlan(QString *error) const;
    void refreshModes(); // when the model path changed since the list was made
    void showResults(const app::NeedleResults &results);
    void showProgress(const app::NeedleProgress &progress);
    void finish(const std::shared_ptr<const app::NeedleRunOutcome> &outcome, const QString &error);
    QString defaultOutputFolder() const;

    QLineEdit *m_model = nullptr;
    QLineEdit *m_lengths = nullptr;
    QLineEdit *m_depths = nullptr;
    QListWidget *m_modes = nullptr;
    QLineEdit *m_extraModes = nullptr;
    QSpinBox *m_trials = nullptr;
    QComboBox *m_variant = nullptr;
    QComboBox *m_needleSet = nullptr;
    QSpinBox *m_seed = nullptr;
    QLineEdit *m_out = nullptr;
    QSpinBox *m_threads = nullptr;
    QCheckBox *m_perplexity = nullptr;
    QCheckBox *m_compressBeforeQuestion = nullptr;
    QComboBox *m_haystack = nullptr;
    QPushButton *m_run = nullptr;
    QPushButton *m_cancel = nullptr;
    QProgressBar *m_progress = nullptr;
    QLabel *m_status = nullptr;
    QLabel *m_details = nullptr;
    QHBoxLayout *m_heatmapRow = nullptr;
    QList<NeedleHeatmapView *> m_heatmaps;
    QLabel *m_pareto = nullptr;

    std::function<QString()> m_modelSource;
    std::function<QString()> m_databasePath;
    QThread *m_thread = nullptr;
    std::shared_ptr<Shared> m_shared;
    RunPlan m_plan; // of the run shown
    app::NeedleResults m_results; // what the heatmaps show
    bool m_lastCancelled = false;
    bool m_outEdited = false; // the user chose the folder: a new model keeps it
    bool m_modelChosen = false; // the user chose the model here: the window's no longer applies
    QString m_modesFor; // the model path the mode list was made for
};

} // namespace nw::ui
