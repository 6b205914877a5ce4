// The worker thread owns its LibraryStore and AskService; Stop reaches the service through a
// shared, mutex-guarded pointer (AskService::cancel is safe from any thread).
#include "ui/chat_dock.h"

#include "app/ask_service.h"
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

#include <atomic>
#include <mutex>

namespace nw::ui {

struct ChatDock::Shared {
    std::mutex mutex;
    app::AskService *service = nullptr; // set while a question runs
    std::atomic<bool> stopped{false};
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
void ChatDock::setModelPath(const QString &path) { m_modelPath = path; }

QString ChatDock::answerText() const { return m_answer->toPlainText(); }

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
    m_answer->clear();
    m_streamed.clear();
    m_status->setText(m_modelPath.isEmpty() ? tr("Searching…") : tr("Thinking…"));
    m_ask->setEnabled(false);
    m_stop->setEnabled(true);

    m_shared = std::make_shared<Shared>();
    const auto shared = m_shared;
    const QString database = m_databasePath;
    const QString model = m_modelPath;
    QPointer<ChatDock> self(this);
    m_thread = QThread::create([shared, database, model, question, self] {
        QString answer, error;
        std::vector<ChatCitation> citations;
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
            if (!model.isEmpty() && !shared->stopped.load())
                service.loadModel(model);
            if (!shared->stopped.load()) {
                app::AskRequest request;
                request.question = question;
                const app::AskResult result = service.ask(request, [self](const QString &text) {
                    QMetaObject::invokeMethod(self, [self, text] {
                        if (self)
                            self->appendText(text);
                    }, Qt::QueuedConnection);
                });
                answer = result.answer;
                for (app::Citation c : result.citations) {
                    if (c.title.isEmpty())
                        c.title = QFileInfo(c.path).fileName();
                    citations.push_back({c.documentId, c.page, c.start, c.length, app::citationLabel(c)});
                }
            }
        } catch (const std::exception &e) {
            error = QString::fromUtf8(e.what());
            log::get("ui")->error("ask failed: {}", e.what());
        }
        const bool stopped = shared->stopped.load();
        QMetaObject::invokeMethod(self, [self, answer, citations, error, stopped] {
            if (self)
                self->finish(answer, citations, error, stopped);
        }, Qt::QueuedConnection);
    });
    connect(m_thread, &QThread::finished, m_thread, &QObject::deleteLater);
    m_thread->start();
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
    m_answer->setPlainText(m_streamed);
}

void ChatDock::finish(const QString &answer, const std::vector<ChatCitation> &citations, const QString &error,
                      bool stopped)
{
    if (m_thread)
        m_thread->wait();
    m_thread = nullptr;
    m_shared.reset();
    m_ask->setEnabled(true);
    m_stop->setEnabled(false);
    if (!error.isEmpty()) {
        m_status->setText(tr("Could not answer: %1").arg(error));
        emit answerFinished(false);
        return;
    }
    m_answer->setPlainText(answer.isEmpty() ? m_streamed : answer);
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
