// One worker thread per dock, with an event loop: a question is a job posted to it, which hands
// the pickers' model settings and the question to the workbench. The workbench keeps the model
// between jobs and reloads only when the settings change; Stop sets the job's flag, which the
// workbench passes on to the generation at the next token.
#include "ui/chat_dock.h"

#include "app/needle_results.h"
#include "app/numeric_options.h"
#include "app/remote_engine.h"
#include "common/error.h"
#include "common/log.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QPushButton>
#include <QScrollArea>
#include <QSignalBlocker>
#include <QTextBrowser>
#include <QThread>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <optional>

namespace nw::ui {

// The server the worker is connected to (a question connects, the next ones reuse it).
struct ChatDock::RemoteConnection {
    QString url;
    QString keyFile;
    QString model;
    std::shared_ptr<const app::RemoteEngine> engine;
};

struct ChatDock::Outcome {
    app::AskResult result;
    std::vector<ChatCitation> citations;
    QString error;
    bool stopped = false;
    qint64 sessionId = 0;
    bool hasStats = false; // a model answered: stats is its last snapshot
    app::MemoryStats stats;
};

ChatDock::ChatDock(QWidget *parent)
    : QWidget(parent)
{
    setObjectName(QStringLiteral("ChatView"));
    m_renderTimer = new QTimer(this);
    m_renderTimer->setSingleShot(true);
    m_renderTimer->setInterval(50);
    connect(m_renderTimer, &QTimer::timeout, this, &ChatDock::renderTranscript);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);

    // The pickers, one to a row: the tab is a quarter of the window or less.
    auto *pickers = new QGridLayout;
    pickers->setHorizontalSpacing(6);
    pickers->setVerticalSpacing(2);
    const auto label = [this](const QString &text, QWidget *buddy) {
        auto *l = new QLabel(text, this);
        l->setBuddy(buddy);
        return l;
    };
    m_engineBox = new QComboBox(this);
    m_engineBox->setObjectName(QStringLiteral("EnginePicker"));
    m_engineBox->addItem(tr("In process (GGUF)"));
    m_engineBox->addItem(tr("Server (OpenAI-compatible)"));
    m_engineBox->setToolTip(tr("Answer with the model below, here, or with a server: vLLM, SGLang, llama-server or "
                               "needlework serve, which holds its own model, KV cache and device"));
    pickers->addWidget(label(tr("&Engine"), m_engineBox), 0, 0);
    pickers->addWidget(m_engineBox, 0, 1);
    m_serverRow = new QWidget(this);
    auto *serverRow = new QGridLayout(m_serverRow);
    serverRow->setContentsMargins(0, 0, 0, 0);
    serverRow->setHorizontalSpacing(2);
    serverRow->setVerticalSpacing(2);
    m_engineUrl = new QLineEdit(m_serverRow);
    m_engineUrl->setObjectName(QStringLiteral("EngineUrl"));
    m_engineUrl->setPlaceholderText(QStringLiteral("http://127.0.0.1:8080/v1"));
    m_engineUrl->setToolTip(tr("The server's URL; it connects with the next question"));
    m_keyFile = new QLineEdit(m_serverRow);
    m_keyFile->setObjectName(QStringLiteral("ApiKeyFile"));
    m_keyFile->setPlaceholderText(tr("API key file (optional)"));
    m_keyFile->setToolTip(tr("A file whose first line is the API key, sent as 'Authorization: Bearer KEY'; empty: "
                             "$NEEDLEWORK_API_KEY, else none"));
    m_remoteModelBox = new QComboBox(m_serverRow);
    m_remoteModelBox->setObjectName(QStringLiteral("EngineModel"));
    m_remoteModelBox->setEditable(true); // a model the list leaves out can still be asked for
    m_remoteModelBox->setInsertPolicy(QComboBox::NoInsert);
    m_remoteModelBox->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_remoteModelBox->setMinimumContentsLength(10);
    m_remoteModelBox->lineEdit()->setPlaceholderText(tr("model: the server's first"));
    m_remoteModelBox->setToolTip(tr("The server's model, as its /v1/models lists them; empty: the first it lists"));
    m_serverNote = new QLabel(m_serverRow);
    m_serverNote->setObjectName(QStringLiteral("EngineNote"));
    m_serverNote->setWordWrap(true);
    m_serverNote->setTextInteractionFlags(Qt::TextSelectableByMouse);
    serverRow->addWidget(m_engineUrl, 0, 0);
    serverRow->addWidget(m_remoteModelBox, 0, 1);
    serverRow->addWidget(m_keyFile, 1, 0, 1, 2);
    serverRow->addWidget(m_serverNote, 2, 0, 1, 2);
    serverRow->setColumnStretch(0, 3);
    serverRow->setColumnStretch(1, 2);
    pickers->addWidget(m_serverRow, 1, 1);
    m_serverRow->setVisible(false);

    m_modelBox = new QComboBox(this);
    m_modelBox->setObjectName(QStringLiteral("ModelPicker"));
    m_modelBox->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_modelBox->setMinimumContentsLength(10);
    m_modelBox->addItem(tr("None (quote the passages)"), QString());
    m_browse = new QToolButton(this);
    m_browse->setText(tr("…"));
    m_browse->setObjectName(QStringLiteral("BrowseModelButton"));
    m_browse->setToolTip(tr("Choose a GGUF model file"));
    auto *modelRow = new QHBoxLayout;
    modelRow->setSpacing(2);
    modelRow->addWidget(m_modelBox, 1);
    modelRow->addWidget(m_browse);
    pickers->addWidget(label(tr("&Model"), m_modelBox), 2, 0);
    pickers->addLayout(modelRow, 2, 1);

    m_kvBox = new QComboBox(this);
    m_kvBox->setObjectName(QStringLiteral("KvModePicker"));
    m_kvBox->setEditable(true); // latent:R takes any rank
    m_kvBox->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_kvBox->setMinimumContentsLength(8);
    m_kvBox->setToolTip(
        tr("KV cache mode: full, mla or latent:R, optionally +q8, +q4 (Hadamard-rotated; :plain unrotated), "
           "+tq2, +tq3, +tq4 (TurboQuant codes; full and latent:R), +K/V (e.g. +q8/tq3) and +protect:N"));
    m_kvBox->addItem(tr("model default"));
    for (const char *mode : { "full", "full+q8", "full+q4", "full+tq3", "full+q8/tq3", "mla", "latent:8", "latent:16",
             "latent:32", "latent:64" })
        m_kvBox->addItem(QString::fromLatin1(mode));
    m_kvBox->setEnabled(false);
    pickers->addWidget(label(tr("&KV"), m_kvBox), 3, 0);
    pickers->addWidget(m_kvBox, 3, 1);

    m_contextBox = new QComboBox(this);
    m_contextBox->setObjectName(QStringLiteral("ContextPicker"));
    m_contextBox->setEditable(true); // any count: 3000, 12k
    m_contextBox->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_contextBox->setMinimumContentsLength(4);
    m_contextBox->setToolTip(tr("The model's context in tokens (4096, 32k); auto: its training context, at least %1 "
                                "and at most %2 unless the model was trained on less")
                                 .arg(app::kMinimumContextTokens)
                                 .arg(app::kDefaultContextTokens));
    m_contextBox->addItem(tr("auto"));
    for (const char *tokens : { "1k", "2k", "4k", "8k", "16k", "32k" })
        m_contextBox->addItem(QString::fromLatin1(tokens));
    m_contextBox->setEnabled(false);
    pickers->addWidget(label(tr("C&ontext"), m_contextBox), 4, 0);
    pickers->addWidget(m_contextBox, 4, 1);

    m_deviceBox = new QComboBox(this);
    m_deviceBox->setObjectName(QStringLiteral("DevicePicker"));
    m_deviceBox->setToolTip(tr("Where the model runs: auto (CUDA when a GPU is present, else the CPU), cpu or cuda"));
    for (const QString &name : app::deviceNames())
        m_deviceBox->addItem(name, name);
    pickers->addWidget(label(tr("&Device"), m_deviceBox), 5, 0);
    pickers->addWidget(m_deviceBox, 5, 1);
    pickers->setColumnStretch(1, 1);
    layout->addLayout(pickers);

    m_answer = new QTextBrowser(this);
    m_answer->setObjectName(QStringLiteral("AnswerText"));
    m_answer->setMinimumHeight(fontMetrics().lineSpacing() * 6);
    layout->addWidget(m_answer, 4);

    auto *scroll = new QScrollArea(this);
    scroll->setObjectName(QStringLiteral("CitationScroll"));
    scroll->setWidgetResizable(true);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    scroll->setMinimumHeight(fontMetrics().lineSpacing() * 2 + 8);
    m_chipArea = new QWidget(scroll);
    m_chipArea->setObjectName(QStringLiteral("CitationChips"));
    m_chipLayout = new QVBoxLayout(m_chipArea);
    m_chipLayout->setContentsMargins(0, 0, 0, 0);
    m_chipLayout->setSpacing(2);
    m_chipLayout->addStretch(1);
    scroll->setWidget(m_chipArea);
    layout->addWidget(scroll, 1);

    m_status = new QLabel(this);
    m_status->setObjectName(QStringLiteral("ChatStatus"));
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_status);

    auto *row = new QHBoxLayout;
    m_question = new QLineEdit(this);
    m_question->setObjectName(QStringLiteral("QuestionBox"));
    m_question->setPlaceholderText(tr("Ask about your documents (Ctrl+L)"));
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

    connect(m_ask, &QPushButton::clicked, this, &ChatDock::ask);
    connect(m_question, &QLineEdit::returnPressed, this, &ChatDock::ask);
    connect(m_stop, &QPushButton::clicked, this, &ChatDock::stop);
    connect(m_browse, &QToolButton::clicked, this, &ChatDock::browseModel);
    connect(m_engineBox, &QComboBox::currentIndexChanged, this, &ChatDock::engineSwitched);
    // Leaving the field unchanged asks for nothing new (no new list, no restarted meter).
    for (QLineEdit *field : { m_engineUrl, m_keyFile })
        connect(field, &QLineEdit::editingFinished, this, [this] {
            if (isRemote() && engineUrl() + QLatin1Char('\n') + apiKeyFile() != m_announced)
                engineSwitched();
        });
    connect(m_remoteModelBox, &QComboBox::currentTextChanged, this, &ChatDock::showServerNote);
    m_remote = std::make_shared<RemoteConnection>();
    connect(m_modelBox, &QComboBox::currentIndexChanged, this, [this] {
        const QString path = modelPath();
        m_kvBox->setEnabled(!path.isEmpty() && !isRemote());
        m_contextBox->setEnabled(!path.isEmpty() && !isRemote());
        if (!m_busy)
            m_status->setText(path.isEmpty()
                    ? tr("No model: answers quote the passages.")
                    : tr("Model %1 loads with the next question.").arg(QFileInfo(path).fileName()));
        emit modelChanged(path);
    });
    connect(m_kvBox, &QComboBox::currentTextChanged, this, [this] { emit kvModeChanged(kvMode()); });
    connect(m_deviceBox, &QComboBox::currentIndexChanged, this, [this] { emit deviceChanged(device()); });
    connect(this, &ChatDock::kvModeChanged, this, [this] { m_lastStats = {}; });
    connect(this, &ChatDock::modelChanged, this, [this] { m_lastStats = {}; });
    connect(this, &ChatDock::deviceChanged, this, [this] { m_lastStats = {}; });
    connect(this, &ChatDock::contextChanged, this, [this] { m_lastStats = {}; });
    connect(m_contextBox, &QComboBox::currentTextChanged, this, [this] {
        // A count that does not parse asks for nothing new: the box says so until it is fixed.
        const QString text = m_contextBox->currentText().trimmed();
        const std::optional<std::int64_t> tokens
            = text == m_contextBox->itemText(0) ? std::optional<std::int64_t>(0) : app::parseTokenCount(text);
        m_contextBox->setStyleSheet(tokens ? QString() : QStringLiteral("QComboBox { color: #c62828; }"));
        if (tokens && *tokens != m_contextTokens) {
            m_contextTokens = *tokens;
            emit contextChanged(m_contextTokens);
        }
    });

    m_thread = new QThread;
    m_thread->setObjectName(QStringLiteral("ChatWorker"));
    m_threadContext = new QObject;
    m_threadContext->moveToThread(m_thread);
    m_thread->start();
}

ChatDock::~ChatDock()
{
    stop();
    // Returns after the current question (stopped above), then the thread ends.
    QMetaObject::invokeMethod(
        m_threadContext, [] {}, Qt::BlockingQueuedConnection);
    m_thread->quit();
    m_thread->wait();
    delete m_threadContext;
    delete m_thread;
}

void ChatDock::setWorkbench(std::shared_ptr<app::Workbench> workbench)
{
    m_workbench = std::move(workbench);
}

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

void ChatDock::setModelPath(const QString &path)
{
    m_modelBox->setCurrentIndex(path.isEmpty() ? 0 : addModelItem(path));
}

void ChatDock::setContextTokens(qint64 tokens)
{
    if (tokens <= 0) {
        m_contextBox->setCurrentIndex(0);
        return;
    }
    const QString text = QString::fromStdString(app::formatTokenCount(tokens));
    const int at = m_contextBox->findText(text);
    if (at >= 0)
        m_contextBox->setCurrentIndex(at);
    else
        m_contextBox->setCurrentText(text);
}

qint64 ChatDock::contextTokens() const
{
    return m_contextTokens;
}

QString ChatDock::statusText() const
{
    return m_status->text();
}

QString ChatDock::modelPath() const
{
    return m_modelBox->currentData().toString();
}

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

void ChatDock::setDevice(app::DeviceChoice device)
{
    m_deviceBox->setCurrentIndex(std::max(0, m_deviceBox->findData(app::deviceName(device))));
}

app::DeviceChoice ChatDock::device() const
{
    return app::parseDevice(m_deviceBox->currentData().toString());
}

app::ModelSettings ChatDock::modelSettings() const
{
    return { .path = modelPath(), .kvMode = kvMode(), .contextTokens = contextTokens(), .device = device() };
}

void ChatDock::engineSwitched()
{
    // A server holds its own model, cache and device: the pickers for them rest while it answers.
    const bool remote = m_engineBox->currentIndex() == 1;
    m_serverRow->setVisible(remote);
    const bool local = !remote && !modelPath().isEmpty();
    m_modelBox->setEnabled(!remote);
    m_browse->setEnabled(!remote);
    m_kvBox->setEnabled(local);
    m_contextBox->setEnabled(local);
    m_deviceBox->setEnabled(!remote);
    m_lastStats = {};
    if (!m_busy)
        m_status->setText(remote ? tr("Questions go to the server at %1.").arg(engineUrl())
                                 : tr("Questions go to the in-process engine."));
    m_announced = remote ? engineUrl() + QLatin1Char('\n') + apiKeyFile() : QString();
    listRemoteModels();
    emit engineChanged(engineUrl());
}

void ChatDock::listRemoteModels()
{
    ++m_listGeneration;
    m_listError.clear();
    m_listing = isRemote();
    showServerNote();
    if (!m_listing)
        return;
    using Listed = std::pair<QStringList, QString>; // the ids, or why none
    auto *watcher = new QFutureWatcher<Listed>(this);
    connect(watcher, &QFutureWatcher<Listed>::finished, this, [this, watcher, generation = m_listGeneration] {
        watcher->deleteLater();
        if (generation != m_listGeneration)
            return; // another URL or key since
        const auto [ids, error] = watcher->result();
        m_listing = false;
        m_listError = error;
        if (error.isEmpty()) {
            // The model typed or restored stays (the question says so if the server lacks it);
            // an empty field takes the first listed.
            const QString keep = remoteModel();
            const QSignalBlocker quiet(m_remoteModelBox);
            m_listedModels = ids;
            m_remoteModelBox->clear();
            m_remoteModelBox->addItems(ids);
            if (keep.isEmpty())
                m_remoteModelBox->setCurrentIndex(0);
            else
                m_remoteModelBox->setCurrentText(keep);
        }
        showServerNote();
        emit remoteModelsListed(error.isEmpty());
    });
    watcher->setFuture(QtConcurrent::run([url = engineUrl(), keyFile = apiKeyFile()]() -> Listed {
        try {
            app::RemoteEngineSettings settings;
            settings.url = url;
            settings.apiKey = app::remoteApiKey(keyFile);
            settings.connectSeconds = 3; // a server that hangs holds a pool thread 12 s at most
            QStringList ids;
            for (const std::string &id : app::RemoteEngine::listModels(settings))
                ids << QString::fromStdString(id);
            return { ids, {} };
        } catch (const std::exception &e) {
            return { {}, QString::fromUtf8(e.what()) };
        }
    }));
}

void ChatDock::showServerNote()
{
    const QString model = remoteModel();
    QString text;
    bool bad = false;
    if (m_listing)
        text = tr("Reading the server's models…");
    else if (!m_listError.isEmpty()) {
        text = tr("No model list: %1").arg(m_listError);
        bad = true;
    } else if (!model.isEmpty() && !m_listedModels.isEmpty() && !m_listedModels.contains(model)) {
        text = tr("The server does not list model '%1' (it lists: %2).")
                   .arg(model, m_listedModels.join(QStringLiteral(", ")));
        bad = true;
    } else if (!m_listedModels.isEmpty())
        text = tr("The server lists %n model(s).", nullptr, int(m_listedModels.size()));
    m_serverNote->setText(text);
    m_serverNote->setStyleSheet(bad ? QStringLiteral("QLabel { color: #c62828; }") : QString());
}

QString ChatDock::serverNote() const
{
    return m_serverNote->text();
}

void ChatDock::setRemoteEngine(const QString &url, const QString &keyFile, const QString &model)
{
    m_engineUrl->setText(url.trimmed());
    m_keyFile->setText(keyFile);
    m_remoteModelBox->setCurrentText(model.trimmed());
    const int index = url.trimmed().isEmpty() ? 0 : 1;
    if (m_engineBox->currentIndex() == index)
        engineSwitched(); // the box did not change: the URL or key did
    else
        m_engineBox->setCurrentIndex(index);
}

QString ChatDock::remoteModel() const
{
    return m_remoteModelBox->currentText().trimmed();
}

QString ChatDock::engineUrl() const
{
    return m_engineBox->currentIndex() == 1 ? m_engineUrl->text().trimmed() : QString();
}

QString ChatDock::apiKeyFile() const
{
    return m_keyFile->text().trimmed();
}

std::optional<app::RemoteKvFigures> ChatDock::remoteKvFigures() const
{
    return m_lastResult.remoteKv;
}

void ChatDock::browseModel()
{
    const QString current = modelPath();
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Choose a Model"), QFileInfo(current).path(), tr("GGUF models (*.gguf);;All files (*)"));
    if (!path.isEmpty())
        setModelPath(path);
}

int ChatDock::modelLoads() const
{
    return m_workbench ? m_workbench->modelLoads() : 0;
}

QString ChatDock::answerText() const
{
    return m_answerText;
}

app::MemoryStats ChatDock::memoryStats() const
{
    // The workbench's while it holds the picked model, else the last answer's (cleared when the
    // pickers change: another model, mode, context or device is another cache).
    if (m_workbench) {
        const app::ModelStatus status = m_workbench->modelStatus();
        if (status.loaded && status.path == modelPath())
            return m_workbench->memoryStats();
    }
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
    if (m_busy || !m_workbench || sessionId <= 0)
        return false;
    std::optional<std::vector<app::TurnRecord>> turns;
    try {
        turns = m_workbench->sessionTurns(sessionId);
    } catch (const std::exception &e) {
        log::get("ui")->warn("cannot reopen session {}: {}", sessionId, e.what());
        return false;
    }
    if (!turns)
        return false;
    m_sessionId = sessionId;
    m_pastQuestions.clear();
    m_pastAnswers.clear();
    for (const app::TurnRecord &t : *turns) {
        m_pastQuestions << t.question;
        m_pastAnswers << t.answer;
    }
    m_answerText = m_pastAnswers.isEmpty() ? QString() : m_pastAnswers.back();
    clearChips();
    renderTranscript();
    m_status->setText(tr("Session reopened: %n turn(s).", nullptr, int(turns->size())));
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
        html
            += QStringLiteral("<p><b>%1</b></p>").arg(m_pastQuestions[i].toHtmlEscaped()) + paragraph(m_pastAnswers[i]);
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
    if (m_busy || question.isEmpty() || !m_workbench)
        return false;
    clearChips();
    m_current = question;
    m_streamed.clear();
    renderTranscript();
    const app::ModelSettings settings = modelSettings();
    const QString url = engineUrl();
    m_status->setText(!url.isEmpty()  ? tr("Asking %1…").arg(url)
            : settings.path.isEmpty() ? tr("Searching…")
                                      : tr("Thinking…"));
    m_ask->setEnabled(false);
    m_stop->setEnabled(true);
    m_busy = true;
    m_stopFlag = std::make_shared<std::atomic<bool>>(false);

    app::AskRequest request;
    request.question = question;
    QPointer<ChatDock> self(this);
    QMetaObject::invokeMethod(
        m_threadContext,
        [workbench = m_workbench, settings, request, sessionId = m_sessionId, stop = m_stopFlag, self, url,
            keyFile = apiKeyFile(), model = remoteModel(), remote = m_remote] {
            Outcome out;
            out.sessionId = sessionId;
            try {
                app::AskCallbacks callbacks;
                callbacks.stop = stop.get();
                callbacks.onText = [self](const QString &text) {
                    QMetaObject::invokeMethod(
                        self,
                        [self, text] {
                            if (self)
                                self->appendText(text);
                        },
                        Qt::QueuedConnection);
                };
                callbacks.onPrefill = [self](std::int64_t done, std::int64_t total) {
                    QMetaObject::invokeMethod(
                        self,
                        [self, done, total] {
                            if (self)
                                emit self->prefillProgress(done, total);
                        },
                        Qt::QueuedConnection);
                };
                if (url.isEmpty()) {
                    workbench->setRemoteEngine(nullptr);
                } else {
                    // Connects (the model list, the context, how it counts tokens) once per URL, key
                    // and model; a model the server does not list is refused there, as with --model.
                    if (!remote->engine || remote->url != url || remote->keyFile != keyFile || remote->model != model) {
                        remote->engine.reset();
                        app::RemoteEngineSettings engineSettings;
                        engineSettings.url = url;
                        engineSettings.model = model;
                        engineSettings.apiKey = app::remoteApiKey(keyFile);
                        remote->engine = std::make_shared<const app::RemoteEngine>(engineSettings);
                        remote->url = url;
                        remote->keyFile = keyFile;
                        remote->model = model;
                    }
                    workbench->setRemoteEngine(remote->engine);
                }
                workbench->setModel(settings);
                const app::WorkbenchAnswer answer = workbench->ask(request, sessionId, callbacks);
                out.sessionId = answer.sessionId;
                out.result = answer.result;
                for (app::Citation c : answer.result.citations) {
                    if (c.title.isEmpty())
                        c.title = QFileInfo(c.path).fileName();
                    out.citations.push_back({ c.documentId, c.page, c.start, c.length, app::citationLabel(c) });
                }
                if (answer.asked && !answer.result.extractive && url.isEmpty()) {
                    out.hasStats = true;
                    out.stats = workbench->memoryStats();
                }
            } catch (const Error &e) {
                // The window's words for what the user can change (the CLI names its flags instead).
                out.error = QString::fromUtf8(e.what());
                if (e.remedy() == Remedy::LargerContext)
                    out.error += tr(" — choose a larger Context above.");
                else if (e.remedy() == Remedy::CpuDevice)
                    out.error += tr(" — choose the CPU in the device list.");
                log::get("ui")->error("ask failed: {}", e.what());
            } catch (const std::exception &e) {
                out.error = QString::fromUtf8(e.what());
                log::get("ui")->error("ask failed: {}", e.what());
            }
            out.stopped = stop->load();
            QMetaObject::invokeMethod(
                self,
                [self, out] {
                    if (self)
                        self->finish(out);
                },
                Qt::QueuedConnection);
        },
        Qt::QueuedConnection);
    emit questionStarted();
    return true;
}

void ChatDock::stop()
{
    if (!m_busy || !m_stopFlag)
        return;
    m_stopFlag->store(true);
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
    const app::AskResult &result = outcome.result;
    m_lastResult = result;
    m_lastFigures = { result.contextTokens, result.promptTokens, result.reusedTokens, result.generatedTokens };
    const QString question = m_current;
    m_current.clear();
    const QString &answer = result.answer;
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
    if (m_lastFigures.promptTokens > 0) {
        QString figures = tr("Prompt %1 tokens (%2 sources), %3 reused from the last question; context %4.")
                              .arg(m_lastFigures.promptTokens)
                              .arg(result.sources.size())
                              .arg(m_lastFigures.reusedTokens)
                              .arg(m_lastFigures.contextTokens);
        if (result.droppedSources > 0)
            figures += QLatin1Char(' ')
                + tr("%n lower-ranked source(s) left out to fit the context.", nullptr, result.droppedSources);
        if (result.bestSourceCut)
            figures += QLatin1Char(' ') + tr("The best source was cut to its cited passage to fit.");
        if (const QString context = app::contextSourceLine(result); !context.isEmpty())
            figures += QLatin1Char(' ') + tr("Documents: %1.").arg(context);
        m_status->setText(m_status->text() + QLatin1Char(' ') + figures);
    }
    emit answerFinished(!stopped);
}

} // namespace nw::ui
