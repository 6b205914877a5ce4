// One worker thread per dock, with an event loop: a question is a job posted to it. The worker
// keeps the LibraryStore (SQLite connections are per thread) and the AskService with its model
// between jobs; it reloads only when the database, the model path or the context changes, and a
// new KV mode only makes a new cache. Stop and the KV meter's polls reach the service through the
// worker's mutex (AskService::cancel and memoryStats are safe from any thread once a model is in).
#include "ui/chat_dock.h"

#include "app/ask_service.h"
#include "app/session_service.h"
#include "common/log.h"
#include "engine/gguf_file.h"
#include "store/library_store.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QPushButton>
#include <QScrollArea>
#include <QTextBrowser>
#include <QThread>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>
#include <mutex>

namespace nw::ui {

namespace {

// The training context a GGUF declares ("<arch>.context_length"), 0 when it says none.
qint64 trainingContext(const QString &path)
{
    const auto file = GgufFile::open(path.toStdString());
    const auto arch = file->findString("general.architecture");
    return arch ? file->findInt(*arch + ".context_length").value_or(0) : 0;
}

struct Job {
    QString database;
    QString model;
    QString kvMode;
    int contextTokens = 0;
    QString question;
    qint64 sessionId = 0;
    std::shared_ptr<std::atomic<bool>> stopped;
};

} // namespace

struct ChatDock::Worker {
    // Reached from the GUI thread, under the mutex.
    std::mutex mutex;
    app::AskService *service = nullptr; // while one exists: Stop cancels through it
    bool modelReady = false;            // a model is loaded and not being replaced: memoryStats is safe
    std::atomic<int> loads{0};

    // The worker thread's own.
    std::unique_ptr<store::LibraryStore> store;
    std::unique_ptr<app::AskService> asker;
    QString database;
    QString model;         // loaded, as asked for
    QString kvMode;        // "" : the model's default
    int contextTokens = 0; // as asked for

    void publish(bool ready)
    {
        std::lock_guard lock(mutex);
        service = asker.get();
        modelReady = ready && asker && asker->modelStatus().loaded;
    }
    void reset()
    {
        {
            std::lock_guard lock(mutex);
            service = nullptr;
            modelReady = false;
        }
        asker.reset();
        store.reset();
        database.clear();
        model.clear();
    }
    // Brings the store and the model in line with the job; throws nw::Error (the state stays
    // consistent: after a failed load no model is marked loaded).
    void prepare(const Job &job);
};

void ChatDock::Worker::prepare(const Job &job)
{
    if (!store || database != job.database) {
        reset();
        store = std::make_unique<store::LibraryStore>(job.database);
        asker = std::make_unique<app::AskService>(*store);
        database = job.database;
        publish(false);
    }
    if (job.model.isEmpty()) {
        if (asker->modelStatus().loaded) { // drop the model: a fresh service answers extractively
            {
                std::lock_guard lock(mutex);
                service = nullptr;
                modelReady = false;
            }
            asker = std::make_unique<app::AskService>(*store);
            publish(false);
        }
        model.clear();
        return;
    }
    try {
        if (job.model != model || job.contextTokens != contextTokens || (job.kvMode != kvMode && job.kvMode.isEmpty())) {
            publish(false);
            model.clear();
            const int context = effectiveContextTokens(job.contextTokens, trainingContext(job.model));
            asker->loadModel(job.model, job.kvMode, context);
            ++loads;
            model = job.model;
            kvMode = job.kvMode;
            contextTokens = job.contextTokens;
        } else if (job.kvMode != kvMode) {
            publish(false);
            asker->setKvMode(job.kvMode); // the model stays; only the cache is new
            kvMode = job.kvMode;
        }
    } catch (...) {
        publish(!model.isEmpty());
        throw;
    }
    publish(true);
}

struct ChatDock::Outcome {
    QString answer;
    std::vector<ChatCitation> citations;
    QString error;
    bool stopped = false;
    qint64 sessionId = 0;
    bool hasStats = false; // a model answered: stats is its last snapshot
    MemoryStats stats;
    ChatEngineFigures figures;
};

int ChatDock::effectiveContextTokens(int requested, qint64 trainContext)
{
    const int asked = requested > 0 ? requested : kDefaultContextTokens;
    if (trainContext <= 0)
        return asked;
    return static_cast<int>(std::min<qint64>(asked, std::max<qint64>(trainContext, kMinimumContextTokens)));
}

ChatDock::ChatDock(QWidget *parent) : QWidget(parent), m_worker(std::make_shared<Worker>())
{
    setObjectName(QStringLiteral("ChatView"));
    m_renderTimer = new QTimer(this);
    m_renderTimer->setSingleShot(true);
    m_renderTimer->setInterval(50);
    connect(m_renderTimer, &QTimer::timeout, this, &ChatDock::renderTranscript);
    auto *layout = new QVBoxLayout(this);
    auto *row = new QHBoxLayout;
    m_question = new QLineEdit(this);
    m_question->setObjectName(QStringLiteral("QuestionBox"));
    m_question->setPlaceholderText(tr("Ask a question about your documents (Ctrl+L)"));
    m_question->setClearButtonEnabled(true);
    row->addWidget(m_question, 1);
    m_ask = new QPushButton(tr("Ask"), this);
    m_ask->setObjectName(QStringLiteral("AskButton"));
    row->addWidget(m_ask);
    m_stop = new QPushButton(tr("Stop"), this);
    m_stop->setObjectName(QStringLiteral("StopButton"));
    m_stop->setEnabled(false);
    row->addWidget(m_stop);
    layout->addLayout(row);

    auto *pickers = new QHBoxLayout;
    auto *modelLabel = new QLabel(tr("&Model"), this);
    pickers->addWidget(modelLabel);
    m_modelBox = new QComboBox(this);
    m_modelBox->setObjectName(QStringLiteral("ModelPicker"));
    m_modelBox->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_modelBox->setMinimumContentsLength(12);
    m_modelBox->addItem(tr("None (quote the passages)"), QString());
    modelLabel->setBuddy(m_modelBox);
    pickers->addWidget(m_modelBox, 1);
    m_browse = new QToolButton(this);
    m_browse->setText(tr("…"));
    m_browse->setObjectName(QStringLiteral("BrowseModelButton"));
    m_browse->setToolTip(tr("Choose a GGUF model file"));
    pickers->addWidget(m_browse);
    auto *kvLabel = new QLabel(tr("&KV"), this);
    pickers->addWidget(kvLabel);
    m_kvBox = new QComboBox(this);
    m_kvBox->setObjectName(QStringLiteral("KvModePicker"));
    m_kvBox->setEditable(true); // latent:R takes any rank
    m_kvBox->setToolTip(tr("KV cache mode: full, mla, latent:R, each optionally +q8 or +q4"));
    m_kvBox->addItem(tr("model default"));
    for (const char *mode : {"full", "full+q8", "full+q4", "mla", "latent:8", "latent:16", "latent:32", "latent:64"})
        m_kvBox->addItem(QString::fromLatin1(mode));
    m_kvBox->setEnabled(false);
    kvLabel->setBuddy(m_kvBox);
    pickers->addWidget(m_kvBox);
    layout->addLayout(pickers);

    m_answer = new QTextBrowser(this);
    m_answer->setObjectName(QStringLiteral("AnswerText"));
    layout->addWidget(m_answer, 3);
    m_status = new QLabel(this);
    m_status->setObjectName(QStringLiteral("ChatStatus"));
    m_status->setWordWrap(true);
    layout->addWidget(m_status);

    auto *scroll = new QScrollArea(this);
    scroll->setWidgetResizable(true);
    m_chipArea = new QWidget(scroll);
    m_chipArea->setObjectName(QStringLiteral("CitationChips"));
    m_chipLayout = new QVBoxLayout(m_chipArea);
    m_chipLayout->setContentsMargins(0, 0, 0, 0);
    m_chipLayout->addStretch(1);
    scroll->setWidget(m_chipArea);
    layout->addWidget(scroll, 1);

    connect(m_ask, &QPushButton::clicked, this, &ChatDock::ask);
    connect(m_question, &QLineEdit::returnPressed, this, &ChatDock::ask);
    connect(m_stop, &QPushButton::clicked, this, &ChatDock::stop);
    connect(m_browse, &QToolButton::clicked, this, &ChatDock::browseModel);
    connect(m_modelBox, &QComboBox::currentIndexChanged, this, [this] {
        const QString path = modelPath();
        m_kvBox->setEnabled(!path.isEmpty());
        if (!m_busy)
            m_status->setText(path.isEmpty() ? tr("No model: answers quote the passages.")
                                             : tr("Model %1 loads with the next question.").arg(QFileInfo(path).fileName()));
        emit modelChanged(path);
    });
    connect(m_kvBox, &QComboBox::currentTextChanged, this, [this] { emit kvModeChanged(kvMode()); });

    m_thread = new QThread;
    m_thread->setObjectName(QStringLiteral("ChatWorker"));
    m_threadContext = new QObject;
    m_threadContext->moveToThread(m_thread);
    m_thread->start();
}

ChatDock::~ChatDock()
{
    stop();
    // Runs after the current question (stopped above): the model and the library connection go
    // on the thread that made them, then the thread ends.
    QMetaObject::invokeMethod(m_threadContext, [worker = m_worker] { worker->reset(); }, Qt::BlockingQueuedConnection);
    m_thread->quit();
    m_thread->wait();
    delete m_threadContext;
    delete m_thread;
}

void ChatDock::setDatabasePath(const QString &path) { m_databasePath = path; }

int ChatDock::addModelItem(const QString &path)
{
    const int at = m_modelBox->findData(path);
    if (at >= 0)
        return at;
    m_modelBox->addItem(QFileInfo(path).fileName(), path);
    const int added = m_modelBox->count() - 1;
    m_modelBox->setItemData(added, path, Qt::ToolTipRole);
    return added;
}

void ChatDock::setModelPath(const QString &path, int contextTokens)
{
    m_contextTokens = contextTokens;
    m_modelBox->setCurrentIndex(path.isEmpty() ? 0 : addModelItem(path));
}

QString ChatDock::modelPath() const { return m_modelBox->currentData().toString(); }

void ChatDock::setKvMode(const QString &mode)
{
    if (mode.isEmpty())
        m_kvBox->setCurrentIndex(0);
    else
        m_kvBox->setCurrentText(mode);
}

QString ChatDock::kvMode() const
{
    const QString text = m_kvBox->currentText().trimmed();
    return text == m_kvBox->itemText(0) ? QString() : text;
}

void ChatDock::browseModel()
{
    const QString current = modelPath();
    const QString path = QFileDialog::getOpenFileName(this, tr("Choose a Model"), QFileInfo(current).path(),
                                                      tr("GGUF models (*.gguf);;All files (*)"));
    if (!path.isEmpty())
        setModelPath(path, m_contextTokens);
}

int ChatDock::modelLoads() const { return m_worker->loads.load(); }

QString ChatDock::answerText() const { return m_answerText; }

MemoryStats ChatDock::memoryStats() const
{
    std::lock_guard lock(m_worker->mutex);
    if (m_worker->service && m_worker->modelReady)
        return m_worker->service->memoryStats();
    return m_lastStats;
}

void ChatDock::newSession()
{
    if (m_busy)
        return;
    m_sessionId = 0;
    m_pastQuestions.clear();
    m_pastAnswers.clear();
    m_answerText.clear();
    clearChips();
    renderTranscript();
    m_status->clear();
    emit sessionChanged(0);
}

bool ChatDock::openSession(qint64 sessionId)
{
    if (m_busy || m_databasePath.isEmpty() || sessionId <= 0)
        return false;
    std::vector<store::TurnRecord> turns;
    try {
        store::LibraryStore store(m_databasePath);
        store::SessionStore sessions(store.database());
        if (!sessions.findSession(sessionId))
            return false;
        turns = sessions.turns(sessionId);
    } catch (const std::exception &e) {
        log::get("ui")->warn("cannot reopen session {}: {}", sessionId, e.what());
        return false;
    }
    m_sessionId = sessionId;
    m_pastQuestions.clear();
    m_pastAnswers.clear();
    for (const store::TurnRecord &t : turns) {
        m_pastQuestions << t.question;
        m_pastAnswers << t.answer;
    }
    m_answerText = m_pastAnswers.isEmpty() ? QString() : m_pastAnswers.back();
    clearChips();
    renderTranscript();
    m_status->setText(tr("Session reopened: %n turn(s).", nullptr, int(turns.size())));
    emit sessionChanged(m_sessionId);
    return true;
}

QString ChatDock::transcriptText() const
{
    QStringList lines;
    for (qsizetype i = 0; i < m_pastQuestions.size(); ++i)
        lines << QStringLiteral("Q: ") + m_pastQuestions[i] << m_pastAnswers[i];
    if (!m_current.isEmpty())
        lines << QStringLiteral("Q: ") + m_current << m_streamed;
    return lines.join(QLatin1Char('\n'));
}

void ChatDock::renderTranscript()
{
    m_renderTimer->stop(); // drawn now: a pending throttled redraw has nothing left to add
    const auto paragraph = [](const QString &text) {
        return QStringLiteral("<p>%1</p>").arg(text.toHtmlEscaped().replace(QLatin1Char('\n'), QStringLiteral("<br>")));
    };
    QString html;
    for (qsizetype i = 0; i < m_pastQuestions.size(); ++i)
        html += QStringLiteral("<p><b>%1</b></p>").arg(m_pastQuestions[i].toHtmlEscaped()) + paragraph(m_pastAnswers[i]);
    if (!m_current.isEmpty())
        html += QStringLiteral("<p><b>%1</b></p>").arg(m_current.toHtmlEscaped()) + paragraph(m_streamed);
    m_answer->setHtml(html);
    m_answer->moveCursor(QTextCursor::End);
    m_answer->ensureCursorVisible();
}

void ChatDock::focusQuestion()
{
    m_question->setFocus(Qt::ShortcutFocusReason);
    m_question->selectAll();
}

void ChatDock::clearChips()
{
    for (QPushButton *chip : m_chips)
        delete chip;
    m_chips.clear();
    m_citations.clear();
}

bool ChatDock::ask()
{
    const QString question = m_question->text().trimmed();
    if (m_busy || question.isEmpty() || m_databasePath.isEmpty())
        return false;
    clearChips();
    m_current = question;
    m_streamed.clear();
    renderTranscript();
    const QString model = modelPath();
    m_status->setText(model.isEmpty() ? tr("Searching…") : tr("Thinking…"));
    m_ask->setEnabled(false);
    m_stop->setEnabled(true);
    m_busy = true;
    m_stopFlag = std::make_shared<std::atomic<bool>>(false);

    Job job{m_databasePath, model, kvMode(), m_contextTokens, question, m_sessionId, m_stopFlag};
    QPointer<ChatDock> self(this);
    QMetaObject::invokeMethod(m_threadContext, [worker = m_worker, job, self] {
        Worker &w = *worker;
        Outcome out;
        out.sessionId = job.sessionId;
        try {
            if (!job.stopped->load())
                w.prepare(job);
            app::AskRequest request;
            request.question = job.question;
            const app::ModelStatus status = w.asker ? w.asker->modelStatus() : app::ModelStatus{};
            if (status.loaded) // a small context keeps three quarters for the passages, or none would fit
                request.maxTokens = std::min(request.maxTokens, status.contextTokens / 4);
            if (!job.stopped->load()) {
                // Stop may come before the engine starts a generation (which clears its cancel
                // flag), so every callback passes a pending stop on.
                const auto passStop = [&w, &job] {
                    if (job.stopped->load())
                        w.asker->cancel();
                };
                const auto onText = [self, passStop](const QString &text) {
                    passStop();
                    QMetaObject::invokeMethod(self, [self, text] {
                        if (self)
                            self->appendText(text);
                    }, Qt::QueuedConnection);
                };
                const auto onPrefill = [self, passStop](std::int64_t done, std::int64_t total) {
                    passStop();
                    QMetaObject::invokeMethod(self, [self, done, total] {
                        if (self)
                            emit self->prefillProgress(done, total);
                    }, Qt::QueuedConnection);
                };
                const app::AskResult result = w.asker->ask(request, onText, onPrefill);
                out.answer = result.answer;
                for (app::Citation c : result.citations) {
                    if (c.title.isEmpty())
                        c.title = QFileInfo(c.path).fileName();
                    out.citations.push_back({c.documentId, c.page, c.start, c.length, app::citationLabel(c)});
                }
                if (status.loaded) {
                    out.hasStats = true;
                    out.stats = w.asker->memoryStats();
                    out.figures = {status.contextTokens, result.promptTokens, result.reusedTokens, result.generatedTokens};
                }
                // A stopped answer is kept too: the transcript shows what was said.
                app::SessionService sessions(w.store->database());
                if (out.sessionId == 0)
                    out.sessionId = sessions.startSession(job.question);
                sessions.recordTurn(out.sessionId, result);
            }
        } catch (const std::exception &e) {
            out.error = QString::fromUtf8(e.what());
            log::get("ui")->error("ask failed: {}", e.what());
        }
        out.stopped = job.stopped->load();
        QMetaObject::invokeMethod(self, [self, out] {
            if (self)
                self->finish(out);
        }, Qt::QueuedConnection);
    }, Qt::QueuedConnection);
    emit questionStarted();
    return true;
}

void ChatDock::stop()
{
    if (!m_busy || !m_stopFlag)
        return;
    m_stopFlag->store(true);
    std::lock_guard lock(m_worker->mutex);
    if (m_worker->service)
        m_worker->service->cancel();
}

void ChatDock::appendText(const QString &text)
{
    m_streamed += text;
    if (!m_renderTimer->isActive())
        m_renderTimer->start();
}

void ChatDock::finish(const Outcome &outcome)
{
    m_busy = false;
    m_stopFlag.reset();
    m_ask->setEnabled(true);
    m_stop->setEnabled(false);
    if (outcome.hasStats)
        m_lastStats = outcome.stats;
    m_lastFigures = outcome.figures;
    const QString question = m_current;
    m_current.clear();
    const QString &answer = outcome.answer;
    const std::vector<ChatCitation> &citations = outcome.citations;
    const bool stopped = outcome.stopped;
    if (!outcome.error.isEmpty()) {
        renderTranscript();
        m_status->setText(tr("Could not answer: %1").arg(outcome.error));
        emit answerFinished(false);
        return;
    }
    m_answerText = answer.isEmpty() ? m_streamed : answer;
    m_pastQuestions << question;
    m_pastAnswers << m_answerText;
    renderTranscript();
    if (outcome.sessionId != m_sessionId) {
        m_sessionId = outcome.sessionId;
        emit sessionChanged(m_sessionId);
    }
    m_citations = citations;
    for (std::size_t i = 0; i < citations.size(); ++i) {
        const ChatCitation &c = citations[i];
        auto *chip = new QPushButton(QStringLiteral("[%1] %2").arg(i + 1).arg(c.label), m_chipArea);
        chip->setObjectName(QStringLiteral("CitationChip"));
        chip->setToolTip(tr("Show the cited passage"));
        chip->setFlat(true);
        chip->setStyleSheet(QStringLiteral("QPushButton { border: 1px solid palette(mid); border-radius: 9px; "
                                           "padding: 2px 8px; text-align: left; }"));
        connect(chip, &QPushButton::clicked, this,
                [this, c] { emit citationActivated(c.documentId, c.page, c.start, c.length); });
        m_chipLayout->insertWidget(m_chipLayout->count() - 1, chip);
        m_chips.append(chip);
    }
    if (stopped)
        m_status->setText(tr("Stopped."));
    else if (citations.empty() && answer.isEmpty())
        m_status->setText(tr("Nothing in the library answers this."));
    else
        m_status->setText(tr("%n citation(s).", nullptr, int(citations.size())));
    if (outcome.figures.promptTokens > 0)
        m_status->setText(m_status->text() + QLatin1Char(' ')
                          + tr("Prompt %1 tokens, %2 reused from the last question; context %3.")
                                .arg(outcome.figures.promptTokens)
                                .arg(outcome.figures.reusedTokens)
                                .arg(outcome.figures.contextTokens));
    emit answerFinished(!stopped);
}

} // namespace nw::ui
