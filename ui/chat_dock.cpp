// The worker thread owns its LibraryStore and AskService; Stop and the KV meter's polls reach the
// service through a shared, mutex-guarded pointer (AskService::cancel and memoryStats are safe
// from any thread once the model is loaded). The worker also records the turn in the session.
#include "ui/chat_dock.h"

#include "app/ask_service.h"
#include "app/session_service.h"
#include "common/log.h"
#include "store/library_store.h"

#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QPushButton>
#include <QScrollArea>
#include <QTextBrowser>
#include <QThread>
#include <QVBoxLayout>

#include <algorithm>
#include <atomic>
#include <mutex>

namespace nw::ui {

struct ChatDock::Shared {
    std::mutex mutex;
    app::AskService *service = nullptr; // set while a question runs
    bool modelReady = false;             // loadModel returned: memoryStats may be read
    std::atomic<bool> stopped{false};
};

struct ChatDock::Outcome {
    QString answer;
    std::vector<ChatCitation> citations;
    QString error;
    bool stopped = false;
    qint64 sessionId = 0;
    bool hasStats = false; // a model answered: stats is its last snapshot
    MemoryStats stats;
};

ChatDock::ChatDock(QWidget *parent) : QWidget(parent)
{
    setObjectName(QStringLiteral("ChatView"));
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
}

ChatDock::~ChatDock()
{
    if (m_thread) {
        stop();
        m_thread->wait();
    }
}

void ChatDock::setDatabasePath(const QString &path) { m_databasePath = path; }
void ChatDock::setModelPath(const QString &path, int contextTokens)
{
    m_modelPath = path;
    m_contextTokens = contextTokens;
}

QString ChatDock::answerText() const { return m_answerText; }

MemoryStats ChatDock::memoryStats() const
{
    if (m_shared) {
        std::lock_guard lock(m_shared->mutex);
        if (m_shared->service && m_shared->modelReady)
            return m_shared->service->memoryStats();
    }
    return m_lastStats;
}

void ChatDock::newSession()
{
    if (m_thread)
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
    if (m_thread || m_databasePath.isEmpty() || sessionId <= 0)
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
    if (m_thread || question.isEmpty() || m_databasePath.isEmpty())
        return false;
    clearChips();
    m_current = question;
    m_streamed.clear();
    renderTranscript();
    m_status->setText(m_modelPath.isEmpty() ? tr("Searching…") : tr("Thinking…"));
    m_ask->setEnabled(false);
    m_stop->setEnabled(true);

    m_shared = std::make_shared<Shared>();
    const auto shared = m_shared;
    const QString database = m_databasePath;
    const QString model = m_modelPath;
    const int contextTokens = m_contextTokens;
    const qint64 sessionId = m_sessionId;
    QPointer<ChatDock> self(this);
    m_thread = QThread::create([shared, database, model, contextTokens, question, sessionId, self] {
        Outcome out;
        out.sessionId = sessionId;
        try {
            store::LibraryStore store(database);
            app::AskService service(store);
            {
                std::lock_guard lock(shared->mutex);
                shared->service = &service;
            }
            struct Unset {
                Shared &s;
                ~Unset()
                {
                    std::lock_guard lock(s.mutex);
                    s.service = nullptr;
                }
            } unset{*shared};
            app::AskRequest request;
            request.question = question;
            if (!model.isEmpty() && !shared->stopped.load()) {
                service.loadModel(model, QString(), contextTokens);
                {
                    std::lock_guard lock(shared->mutex);
                    shared->modelReady = true;
                }
                // A small context keeps three quarters for the passages, or none would fit.
                request.maxTokens = std::min(request.maxTokens, service.modelStatus().contextTokens / 4);
            }
            if (!shared->stopped.load()) {
                const auto onText = [self](const QString &text) {
                    QMetaObject::invokeMethod(self, [self, text] {
                        if (self)
                            self->appendText(text);
                    }, Qt::QueuedConnection);
                };
                const auto onPrefill = [self](std::int64_t done, std::int64_t total) {
                    QMetaObject::invokeMethod(self, [self, done, total] {
                        if (self)
                            emit self->prefillProgress(done, total);
                    }, Qt::QueuedConnection);
                };
                const app::AskResult result = service.ask(request, onText, onPrefill);
                out.answer = result.answer;
                for (app::Citation c : result.citations) {
                    if (c.title.isEmpty())
                        c.title = QFileInfo(c.path).fileName();
                    out.citations.push_back({c.documentId, c.page, c.start, c.length, app::citationLabel(c)});
                }
                if (!model.isEmpty()) {
                    out.hasStats = true;
                    out.stats = service.memoryStats();
                }
                // A stopped answer is kept too: the transcript shows what was said.
                app::SessionService sessions(store.database());
                if (out.sessionId == 0)
                    out.sessionId = sessions.startSession(question);
                sessions.recordTurn(out.sessionId, result);
            }
        } catch (const std::exception &e) {
            out.error = QString::fromUtf8(e.what());
            log::get("ui")->error("ask failed: {}", e.what());
        }
        out.stopped = shared->stopped.load();
        QMetaObject::invokeMethod(self, [self, out] {
            if (self)
                self->finish(out);
        }, Qt::QueuedConnection);
    });
    connect(m_thread, &QThread::finished, m_thread, &QObject::deleteLater);
    m_thread->start();
    emit questionStarted();
    return true;
}

void ChatDock::stop()
{
    if (!m_shared)
        return;
    m_shared->stopped.store(true);
    std::lock_guard lock(m_shared->mutex);
    if (m_shared->service)
        m_shared->service->cancel();
}

void ChatDock::appendText(const QString &text)
{
    m_streamed += text;
    renderTranscript();
}

void ChatDock::finish(const Outcome &outcome)
{
    if (m_thread)
        m_thread->wait();
    m_thread = nullptr;
    m_shared.reset();
    m_ask->setEnabled(true);
    m_stop->setEnabled(false);
    if (outcome.hasStats)
        m_lastStats = outcome.stats;
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
    emit answerFinished(!stopped);
}

} // namespace nw::ui
