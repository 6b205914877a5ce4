// The Needle Test view: configuration, a worker thread running app::NeedleRunner, live heatmaps.
#include "ui/needle_view.h"

#include "app/ingest_progress.h"
#include "app/model_settings.h"
#include "app/needle_haystack.h"
#include "app/needle_pareto.h"
#include "app/needle_runner.h"
#include "app/needle_set.h"
#include "app/numeric_options.h"
#include "common/log.h"
#include "ui/needle_heatmap_view.h"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPixmap>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QStandardPaths>
#include <QThread>
#include <QVBoxLayout>

#include <algorithm>
#include <atomic>
#include <limits>
#include <mutex>

namespace nw::ui {

// What the GUI thread and the worker share: the runner, once it exists, for Cancel.
struct NeedleView::Shared {
    std::mutex mutex;
    app::NeedleRunner *runner = nullptr; // guarded by mutex; set while run() goes
    std::atomic<bool> cancelled { false };
};

namespace {

QStringList commaList(const QString &text)
{
    QStringList out;
    for (const QString &item : text.split(QLatin1Char(','), Qt::SkipEmptyParts))
        if (!item.trimmed().isEmpty())
            out << item.trimmed();
    return out;
}

} // namespace

NeedleView::NeedleView(QWidget *parent)
    : QWidget(parent)
{
    setObjectName(QStringLiteral("NeedleView"));

    auto *form = new QFormLayout;
    m_model = new QLineEdit(this);
    m_model->setObjectName(QStringLiteral("NeedleModel"));
    m_model->setPlaceholderText(tr("model.gguf"));
    auto *browseModel = new QPushButton(tr("…"), this);
    browseModel->setObjectName(QStringLiteral("NeedleBrowseModel"));
    connect(browseModel, &QPushButton::clicked, this, &NeedleView::chooseModel);
    connect(m_model, &QLineEdit::textEdited, this, [this] { m_modelChosen = true; });
    connect(m_model, &QLineEdit::editingFinished, this, &NeedleView::refreshModes);
    auto *modelRow = new QHBoxLayout;
    modelRow->addWidget(m_model, 1);
    modelRow->addWidget(browseModel);
    auto *modelLabel = new QLabel(tr("&Model:"), this); // a row of a layout takes no buddy by itself
    modelLabel->setBuddy(m_model);
    form->addRow(modelLabel, modelRow);

    m_lengths = new QLineEdit(QStringLiteral("1k,2k,4k"), this);
    m_lengths->setObjectName(QStringLiteral("NeedleLengths"));
    m_lengths->setToolTip(tr("Haystack lengths in tokens, comma separated (1k = 1024)"));
    form->addRow(tr("&Lengths:"), m_lengths);
    m_depths = new QLineEdit(QStringLiteral("0,10,20,30,40,50,60,70,80,90,100"), this);
    m_depths->setObjectName(QStringLiteral("NeedleDepths"));
    m_depths->setToolTip(tr("Needle depths in percent of the haystack, comma separated"));
    form->addRow(tr("&Depths %:"), m_depths);

    m_modes = new QListWidget(this);
    m_modes->setObjectName(QStringLiteral("NeedleModes"));
    m_modes->setMaximumHeight(140);
    form->addRow(tr("&KV modes:"), m_modes);
    m_extraModes = new QLineEdit(this);
    m_extraModes->setObjectName(QStringLiteral("NeedleExtraModes"));
    m_extraModes->setPlaceholderText(tr("more, e.g. latent:48+q8"));
    form->addRow(QString(), m_extraModes);

    m_variant = new QComboBox(this);
    m_variant->setObjectName(QStringLiteral("NeedleVariant"));
    m_variant->addItem(tr("single needle"), QStringLiteral("single"));
    m_variant->addItem(tr("multi-needle (3 distractors)"), QStringLiteral("multi-needle"));
    m_variant->addItem(tr("multi-key (similar keys)"), QStringLiteral("multi-key"));
    m_variant->addItem(tr("all three"), QStringLiteral("single,multi-needle,multi-key"));
    form->addRow(tr("&Variant:"), m_variant);
    m_needleSet = new QComboBox(this);
    m_needleSet->setObjectName(QStringLiteral("NeedleSet"));
    for (const QString &name : app::bundledNeedleSetNames())
        m_needleSet->addItem(name.toStdString() == app::kPassKeySetName ? tr("pass keys") : name, name);
    m_needleSet->setToolTip(tr("pass keys: \"The pass key for KEY is VALUE.\"; nolima: needles whose question shares "
                               "no word with them, so recall takes more than matching words"));
    form->addRow(tr("&Needles:"), m_needleSet);
    m_trials = new QSpinBox(this);
    m_trials->setObjectName(QStringLiteral("NeedleTrials"));
    m_trials->setRange(1, 1000);
    form->addRow(tr("&Trials per cell:"), m_trials);
    m_seed = new QSpinBox(this);
    m_seed->setObjectName(QStringLiteral("NeedleSeed"));
    m_seed->setRange(0, std::numeric_limits<int>::max());
    m_seed->setValue(1);
    form->addRow(tr("&Seed:"), m_seed);
    m_haystack = new QComboBox(this);
    m_haystack->setObjectName(QStringLiteral("NeedleHaystack"));
    m_haystack->addItem(tr("Sample corpus"), false);
    m_haystack->addItem(tr("Library documents"), true);
    form->addRow(tr("&Haystack:"), m_haystack);
    m_threads = new QSpinBox(this);
    m_threads->setObjectName(QStringLiteral("NeedleThreads"));
    m_threads->setRange(0, 4096);
    m_threads->setSpecialValueText(tr("all cores"));
    form->addRow(tr("T&hreads:"), m_threads);
    m_perplexity = new QCheckBox(tr("Perplexity beside each mode"), this);
    m_perplexity->setObjectName(QStringLiteral("NeedlePerplexity"));
    m_perplexity->setChecked(true);
    form->addRow(QString(), m_perplexity);
    m_compressBeforeQuestion = new QCheckBox(tr("Compress before the question"), this);
    m_compressBeforeQuestion->setObjectName(QStringLiteral("NeedleCompressBeforeQuestion"));
    m_compressBeforeQuestion->setToolTip(tr("SnapKV modes (+snapkv:B) compress each haystack before its question "
                                            "is read, as a cached document would be; other modes are unchanged. "
                                            "Unchecked, the compression sees the question."));
    form->addRow(QString(), m_compressBeforeQuestion);

    m_out = new QLineEdit(this);
    m_out->setObjectName(QStringLiteral("NeedleOut"));
    connect(m_out, &QLineEdit::textEdited, this, [this] { m_outEdited = true; });
    connect(m_out, &QLineEdit::editingFinished, this, &NeedleView::showSavedResults);
    auto *browseOut = new QPushButton(tr("…"), this);
    browseOut->setObjectName(QStringLiteral("NeedleBrowseOut"));
    connect(browseOut, &QPushButton::clicked, this, &NeedleView::chooseOutputFolder);
    auto *outRow = new QHBoxLayout;
    outRow->addWidget(m_out, 1);
    outRow->addWidget(browseOut);
    auto *outLabel = new QLabel(tr("&Output folder:"), this);
    outLabel->setBuddy(m_out);
    form->addRow(outLabel, outRow);

    m_run = new QPushButton(tr("&Run"), this);
    m_run->setObjectName(QStringLiteral("NeedleRun"));
    m_cancel = new QPushButton(tr("&Cancel"), this);
    m_cancel->setObjectName(QStringLiteral("NeedleCancel"));
    m_cancel->setEnabled(false);
    connect(m_run, &QPushButton::clicked, this, &NeedleView::run);
    connect(m_cancel, &QPushButton::clicked, this, &NeedleView::cancel);
    auto *buttons = new QHBoxLayout;
    buttons->addStretch(1);
    buttons->addWidget(m_run);
    buttons->addWidget(m_cancel);

    m_progress = new QProgressBar(this);
    m_progress->setObjectName(QStringLiteral("NeedleProgress"));
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_status = new QLabel(tr("Choose a model, the cells and the KV modes, then Run."), this);
    m_status->setObjectName(QStringLiteral("NeedleStatus"));
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto *left = new QVBoxLayout;
    left->addLayout(form);
    left->addLayout(buttons);
    left->addWidget(m_progress);
    left->addWidget(m_status);
    left->addStretch(1);
    auto *leftWidget = new QWidget(this);
    leftWidget->setLayout(left);
    leftWidget->setMaximumWidth(420);

    auto *heatmaps = new QWidget(this);
    auto *charts = new QVBoxLayout(heatmaps);
    m_heatmapRow = new QHBoxLayout;
    m_heatmapRow->setAlignment(Qt::AlignLeft | Qt::AlignTop);
    charts->addLayout(m_heatmapRow);
    m_pareto = new QLabel(heatmaps);
    m_pareto->setObjectName(QStringLiteral("NeedlePareto"));
    m_pareto->setAlignment(Qt::AlignLeft | Qt::AlignTop);
    m_pareto->hide();
    charts->addWidget(m_pareto);
    charts->addStretch(1);
    auto *scroll = new QScrollArea(this);
    scroll->setObjectName(QStringLiteral("NeedleHeatmaps"));
    scroll->setWidget(heatmaps);
    scroll->setWidgetResizable(true);
    m_details = new QLabel(tr("Hover a cell for its details."), this);
    m_details->setObjectName(QStringLiteral("NeedleCellDetails"));
    m_details->setTextFormat(Qt::PlainText);
    m_details->setWordWrap(true);
    m_details->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_details->setAlignment(Qt::AlignLeft | Qt::AlignTop);
    m_details->setMinimumHeight(fontMetrics().lineSpacing() * 5);
    auto *right = new QVBoxLayout;
    right->addWidget(scroll, 1);
    right->addWidget(m_details);

    auto *layout = new QHBoxLayout(this);
    layout->addWidget(leftWidget);
    layout->addLayout(right, 1);
    m_out->setText(defaultOutputFolder());
}

NeedleView::~NeedleView()
{
    if (!m_thread)
        return;
    cancel();
    m_thread->wait(); // the worker's last queued call finds no view and is dropped
}

void NeedleView::setModelPath(const QString &path)
{
    m_modelChosen = true;
    m_model->setText(path);
    if (!m_outEdited)
        m_out->setText(defaultOutputFolder());
    if (isVisible())
        refreshModes();
}

void NeedleView::showEvent(QShowEvent *event)
{
    if (m_modelSource && !m_modelChosen && !m_thread)
        m_model->setText(m_modelSource()); // refreshModes() below follows a change
    refreshModes();
    QWidget::showEvent(event);
}

void NeedleView::refreshModes()
{
    const QString path = m_model->text().trimmed();
    if (path == m_modesFor && m_modes->count() > 0)
        return;
    const QStringList wasChecked = checkedModes();
    m_modes->clear();
    m_modesFor = path;
    if (!m_outEdited)
        m_out->setText(defaultOutputFolder());
    if (path.isEmpty())
        return;
    std::vector<app::NeedleKvChoice> choices;
    try {
        choices = app::needleKvChoices(path);
    } catch (const std::exception &e) {
        m_status->setText(tr("Cannot read the model: %1").arg(QString::fromUtf8(e.what())));
        return;
    }
    for (const app::NeedleKvChoice &choice : choices) {
        const QString mode = QString::fromStdString(choice.mode);
        auto *item = new QListWidgetItem(tr("%1  (%2 B/token)").arg(mode).arg(choice.bytesPerToken), m_modes);
        item->setData(ModeRole, mode);
        item->setData(BytesPerTokenRole, QVariant::fromValue<qulonglong>(choice.bytesPerToken));
        item->setFlags(Qt::ItemIsEnabled | Qt::ItemIsUserCheckable);
        item->setCheckState(wasChecked.contains(mode) ? Qt::Checked : Qt::Unchecked);
    }
    if (checkedModes().isEmpty() && m_modes->count() > 0)
        m_modes->item(0)->setCheckState(Qt::Checked); // the model's plain cache
}

void NeedleView::setCheckedModes(const QStringList &modes)
{
    refreshModes();
    QStringList extra = modes;
    for (int i = 0; i < m_modes->count(); ++i) {
        QListWidgetItem *item = m_modes->item(i);
        const QString mode = item->data(ModeRole).toString();
        item->setCheckState(modes.contains(mode) ? Qt::Checked : Qt::Unchecked);
        extra.removeAll(mode);
    }
    m_extraModes->setText(extra.join(QLatin1Char(',')));
}

QStringList NeedleView::checkedModes() const
{
    QStringList out;
    for (int i = 0; i < m_modes->count(); ++i)
        if (m_modes->item(i)->checkState() == Qt::Checked)
            out << m_modes->item(i)->data(ModeRole).toString();
    for (const QString &mode : commaList(m_extraModes->text()))
        if (!out.contains(mode))
            out << mode;
    return out;
}

QString NeedleView::defaultOutputFolder() const
{
    const QString stem = QFileInfo(m_model->text().trimmed()).completeBaseName();
    return QDir(QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation))
        .filePath(QStringLiteral("needle/") + (stem.isEmpty() ? QStringLiteral("results") : stem));
}

std::optional<NeedleView::RunPlan> NeedleView::readPlan(QString *error) const
{
    RunPlan plan;
    for (const QString &item : commaList(m_lengths->text())) {
        const std::optional<std::int64_t> n = app::parseTokenCount(item);
        if (!n || *n < 16) {
            *error = tr("Lengths are token counts of at least 16 like 512,1k,2k, not '%1'.").arg(item);
            return std::nullopt;
        }
        plan.lengths.push_back(*n);
    }
    for (const QString &item : commaList(m_depths->text())) {
        bool ok = false;
        const int d = item.toInt(&ok);
        if (!ok || d < 0 || d > 100) {
            *error = tr("Depths are percentages from 0 to 100, not '%1'.").arg(item);
            return std::nullopt;
        }
        plan.depths.push_back(d);
    }
    for (const QString &item : checkedModes()) {
        try {
            const std::string mode = app::canonicalKvMode(item).toStdString();
            if (std::find(plan.modes.begin(), plan.modes.end(), mode) == plan.modes.end())
                plan.modes.push_back(mode);
        } catch (const std::exception &e) {
            *error = QString::fromUtf8(e.what());
            return std::nullopt;
        }
    }
    if (plan.lengths.empty() || plan.depths.empty() || plan.modes.empty()) {
        *error = tr("Give at least one length, one depth and one KV mode.");
        return std::nullopt;
    }
    std::sort(plan.lengths.begin(), plan.lengths.end());
    plan.lengths.erase(std::unique(plan.lengths.begin(), plan.lengths.end()), plan.lengths.end());
    std::sort(plan.depths.begin(), plan.depths.end());
    plan.depths.erase(std::unique(plan.depths.begin(), plan.depths.end()), plan.depths.end());
    return plan;
}

void NeedleView::showSavedResults()
{
    if (m_thread)
        return; // the run's own results are on screen
    QString error;
    std::optional<RunPlan> plan = readPlan(&error);
    if (!plan)
        return;
    const QString json = QDir(m_out->text().trimmed()).filePath(QStringLiteral("results.json"));
    std::optional<app::NeedleResults> saved;
    try {
        saved = app::readNeedleResultsJson(json);
    } catch (const std::exception &e) {
        m_status->setText(tr("Cannot read the saved results: %1").arg(QString::fromUtf8(e.what())));
        return;
    }
    m_plan = std::move(*plan);
    showResults(saved ? *saved : app::NeedleResults {});
    if (saved)
        m_status->setText(tr("%1 trials of %2 saved in %3; Run skips them.")
                              .arg(saved->trials.size())
                              .arg(QString::fromStdString(saved->model), QDir::toNativeSeparators(json)));
}

bool NeedleView::run()
{
    if (m_thread)
        return false;
    refreshModes();
    app::NeedleConfig cfg;
    cfg.modelPath = m_model->text().trimmed();
    if (cfg.modelPath.isEmpty()) {
        m_status->setText(tr("Choose a model (GGUF) first."));
        return false;
    }
    cfg.outDir = m_out->text().trimmed();
    if (cfg.outDir.isEmpty()) {
        m_status->setText(tr("Choose an output folder first."));
        return false;
    }
    QString error;
    const std::optional<RunPlan> plan = readPlan(&error);
    if (!plan) {
        m_status->setText(error);
        return false;
    }
    QString database;
    if (m_haystack->currentData().toBool()) {
        database = m_databasePath ? m_databasePath() : QString();
        if (database.isEmpty()) {
            m_status->setText(tr("No library is open: use the sample corpus, or open a library first."));
            return false;
        }
    }
    cfg.lengths = plan->lengths;
    cfg.depths = plan->depths;
    cfg.kvModes = plan->modes;
    cfg.variants.clear();
    for (const QString &name : m_variant->currentData().toString().split(QLatin1Char(',')))
        cfg.variants.push_back(app::parseNeedleVariant(name.toStdString()));
    cfg.needleSet = app::loadNeedleSet(m_needleSet->currentData().toString());
    if (!cfg.needleSet.isPassKey()
        && std::find(cfg.variants.begin(), cfg.variants.end(), app::NeedleVariant::MultiKey) != cfg.variants.end()) {
        m_status->setText(tr("The multi-key variant needs pass keys: choose pass keys, or another variant."));
        return false;
    }
    cfg.trials = m_trials->value();
    cfg.seed = static_cast<std::uint64_t>(m_seed->value());
    cfg.threads = m_threads->value();
    cfg.perplexity = m_perplexity->isChecked();
    cfg.compressBeforeQuestion = m_compressBeforeQuestion->isChecked();

    // What the folder holds already shows at once; the runner skips it.
    showSavedResults();
    m_plan = *plan;

    m_lastCancelled = false;
    m_run->setEnabled(false);
    m_cancel->setEnabled(true);
    m_progress->setRange(0, 0); // busy until the first trial is counted
    m_status->setText(tr("Loading %1…").arg(QFileInfo(cfg.modelPath).fileName()));

    m_shared = std::make_shared<Shared>();
    const std::shared_ptr<Shared> shared = m_shared;
    QPointer<NeedleView> self(this);
    m_thread = QThread::create([shared, cfg, database, self] {
        std::shared_ptr<const app::NeedleRunOutcome> outcome;
        QString failure;
        try {
            app::NeedleRunner runner(
                cfg, database.isEmpty() ? app::FillerText::sampleCorpus() : app::FillerText::fromDatabase(database));
            {
                std::lock_guard lock(shared->mutex);
                shared->runner = &runner;
                if (shared->cancelled.load())
                    runner.cancel();
            }
            struct Unset {
                Shared &s;
                ~Unset()
                {
                    std::lock_guard lock(s.mutex);
                    s.runner = nullptr;
                }
            } unset { *shared };
            outcome = std::make_shared<const app::NeedleRunOutcome>(runner.run(
                [self](const app::NeedleProgress &p) {
                    QMetaObject::invokeMethod(
                        self,
                        [self, p] {
                            if (self)
                                self->showProgress(p);
                        },
                        Qt::QueuedConnection);
                },
                [self](const app::NeedleResults &results) {
                    auto copy = std::make_shared<const app::NeedleResults>(results);
                    QMetaObject::invokeMethod(
                        self,
                        [self, copy] {
                            if (self && self->m_thread)
                                self->showResults(*copy);
                        },
                        Qt::QueuedConnection);
                }));
        } catch (const std::exception &e) {
            failure = QString::fromUtf8(e.what());
            log::get("ui")->error("needle run failed: {}", e.what());
        }
        QMetaObject::invokeMethod(
            self,
            [self, outcome, failure] {
                if (self)
                    self->finish(outcome, failure);
            },
            Qt::QueuedConnection);
    });
    connect(m_thread, &QThread::finished, m_thread, &QObject::deleteLater);
    m_thread->start();
    emit runStarted();
    return true;
}

void NeedleView::cancel()
{
    if (!m_shared)
        return;
    m_shared->cancelled.store(true);
    {
        std::lock_guard lock(m_shared->mutex);
        if (m_shared->runner)
            m_shared->runner->cancel();
    }
    m_cancel->setEnabled(false);
    m_status->setText(tr("Stopping after the trial in progress…"));
}

void NeedleView::showProgress(const app::NeedleProgress &p)
{
    if (!m_thread)
        return;
    m_progress->setRange(0, static_cast<int>(std::max<std::int64_t>(p.total, 1)));
    m_progress->setValue(static_cast<int>(p.total > 0 ? p.done : 1));
    if (!m_shared->cancelled.load()) {
        const QString doing = p.done == p.total ? tr("writing the heatmaps")
            : p.perplexity                      ? tr("%1: perplexity").arg(QString::fromStdString(p.mode))
                                                : tr("%1: %2 tokens, depth %3 %, %4")
                                 .arg(QString::fromStdString(p.mode))
                                 .arg(p.length)
                                 .arg(p.depth)
                                 .arg(QString::fromStdString(p.variant));
        m_status->setText(tr("%1 of %2 trials · %3 · %4 elapsed · ETA %5")
                              .arg(p.done)
                              .arg(p.total)
                              .arg(doing, app::formatDuration(p.elapsedSeconds), app::formatDuration(p.etaSeconds)));
    }
    emit progressChanged(p.done, p.total);
}

void NeedleView::showResults(const app::NeedleResults &results)
{
    m_results = results;
    while (m_heatmaps.size() > static_cast<qsizetype>(m_plan.modes.size()))
        delete m_heatmaps.takeLast();
    for (std::size_t i = 0; i < m_plan.modes.size(); ++i) {
        if (static_cast<qsizetype>(i) == m_heatmaps.size()) {
            auto *view = new NeedleHeatmapView(m_heatmapRow->parentWidget());
            connect(view, &NeedleHeatmapView::cellHovered, this, [this](const QString &details) {
                if (!details.isEmpty())
                    m_details->setText(details);
            });
            m_heatmapRow->addWidget(view);
            m_heatmaps.push_back(view);
        }
        const std::string &mode = m_plan.modes[i];
        std::vector<app::NeedleTrial> trials;
        for (const app::NeedleTrial &t : results.trials)
            if (t.mode == mode)
                trials.push_back(t);
        m_heatmaps[static_cast<qsizetype>(i)]->setGrid(
            app::needleGrid(results, mode, m_plan.lengths, m_plan.depths), std::move(trials));
    }
    std::vector<app::NeedleGrid> grids;
    for (const NeedleHeatmapView *view : m_heatmaps)
        grids.push_back(view->grid());
    const std::vector<app::ParetoPoint> points = app::needleParetoPoints(grids);
    m_pareto->setVisible(points.size() >= 2);
    if (points.size() >= 2) {
        const QImage chart = app::renderParetoChart(points, app::paretoChartTitle(results.model, results.needleSet));
        m_pareto->setPixmap(QPixmap::fromImage(chart));
        m_pareto->setToolTip(tr("KV bytes per token against exact recall; the green line is the Pareto frontier."));
    }
}

void NeedleView::finish(const std::shared_ptr<const app::NeedleRunOutcome> &outcome, const QString &error)
{
    if (m_thread)
        m_thread->wait();
    m_thread = nullptr;
    m_shared.reset();
    m_run->setEnabled(true);
    m_cancel->setEnabled(false);
    if (!outcome) {
        m_progress->setRange(0, 1);
        m_progress->setValue(0);
        m_status->setText(tr("The needle test failed: %1").arg(error));
        emit runFinished(false);
        return;
    }
    m_lastCancelled = outcome->cancelled;
    showResults(outcome->results);
    const QString folder = QDir::toNativeSeparators(m_out->text().trimmed());
    QString text = outcome->cancelled
        ? tr("Cancelled: %1 trials run and saved in %2; Run again to go on where it stopped.")
              .arg(outcome->trialsRun)
              .arg(folder)
        : tr("Done: %1 trials run, %2 already in results.json; results and heatmaps in %3.")
              .arg(outcome->trialsRun)
              .arg(outcome->trialsSkipped)
              .arg(folder);
    for (const QString &note : outcome->notes)
        text += QLatin1Char('\n') + note;
    m_status->setText(text);
    emit runFinished(true);
}

void NeedleView::chooseModel()
{
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Model for the Needle Test"), m_model->text(), tr("GGUF models (*.gguf);;All files (*)"));
    if (path.isEmpty())
        return;
    setModelPath(path);
    refreshModes();
}

void NeedleView::chooseOutputFolder()
{
    const QString folder = QFileDialog::getExistingDirectory(this, tr("Folder for the Needle Results"), m_out->text());
    if (folder.isEmpty())
        return;
    m_out->setText(folder);
    m_outEdited = true;
    showSavedResults();
}

} // namespace nw::ui
