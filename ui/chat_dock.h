// The Chat dock: a question box (Ctrl+L focuses it), Ask and Stop, the answer, and the answer's
// citations as clickable chips (title + page) that ask the main window to show the cited passage.
// Each question runs on its own thread with its own LibraryStore connection (SQLite connections
// are per thread); without a model the answer is extractive. Every answer is recorded as a turn
// of the dock's session (store/session_store.h), and the transcript shows the session's turns.
#pragma once

#include "engine/memory_stats.h"

#include <QString>
#include <QStringList>
#include <QWidget>

#include <memory>
#include <vector>

class QLabel;
class QLineEdit;
class QPushButton;
class QTextBrowser;
class QThread;
class QVBoxLayout;

namespace nw::ui {

struct ChatCitation {
    qint64 documentId = 0;
    int page = 0;   // 1-based
    int start = 0;  // UTF-16 offset of the quote in the page text
    int length = 0;
    QString label;  // "GPL-3, p. 7"
};

class ChatDock : public QWidget {
    Q_OBJECT
public:
    explicit ChatDock(QWidget *parent = nullptr);
    ~ChatDock() override;

    void setDatabasePath(const QString &path);
    // "" : extractive answers; contextTokens 0 takes the model's training context (at most 8192).
    void setModelPath(const QString &path, int contextTokens = 0);

    bool isBusy() const { return m_thread != nullptr; }
    QString answerText() const;
    const std::vector<ChatCitation> &citations() const { return m_citations; }
    QLineEdit *questionBox() const { return m_question; }
    QPushButton *askButton() const { return m_ask; }
    QPushButton *stopButton() const { return m_stop; }
    // The chip widgets, in citation order.
    QList<QPushButton *> chips() const { return m_chips; }

    // The KV memory of the model answering now (a lock-free snapshot: poll it from a timer), or
    // the last snapshot once the answer is done; empty without a model.
    MemoryStats memoryStats() const;
    // The session the answers are recorded in; 0 until the first answer (or after newSession()).
    qint64 sessionId() const { return m_sessionId; }
    // Shows a stored session's turns and records the next answers in it; false when the
    // database has no such session.
    bool openSession(qint64 sessionId);
    // The transcript as plain text: "Q: …" and the answer, turn after turn.
    QString transcriptText() const;

public slots:
    void focusQuestion();
    bool ask(); // false when busy, the question is empty or no database is set
    void stop();
    void newSession(); // the next answer starts a new session

signals:
    void citationActivated(qint64 documentId, int page, int start, int length);
    void questionStarted();
    void prefillProgress(qint64 done, qint64 total);
    void answerFinished(bool ok);
    void sessionChanged(qint64 sessionId);

private:
    struct Shared;
    void appendText(const QString &text);
    struct Outcome;
    void finish(const Outcome &outcome);
    void clearChips();
    void renderTranscript();

    QString m_databasePath;
    QString m_modelPath;
    int m_contextTokens = 0;
    QLineEdit *m_question = nullptr;
    QPushButton *m_ask = nullptr;
    QPushButton *m_stop = nullptr;
    QTextBrowser *m_answer = nullptr;
    QLabel *m_status = nullptr;
    QWidget *m_chipArea = nullptr;
    QVBoxLayout *m_chipLayout = nullptr;
    QList<QPushButton *> m_chips;
    std::vector<ChatCitation> m_citations;
    QThread *m_thread = nullptr;
    std::shared_ptr<Shared> m_shared;
    QString m_streamed;
    QString m_current;           // the question being answered, "" when idle
    QString m_answerText;        // the latest answer
    QStringList m_pastQuestions; // earlier turns of the session, shown above the latest
    QStringList m_pastAnswers;
    qint64 m_sessionId = 0;
    MemoryStats m_lastStats;
};

} // namespace nw::ui
