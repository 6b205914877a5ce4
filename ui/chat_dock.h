// The Chat dock: a question box (Ctrl+L focuses it), Ask and Stop, the model and KV-mode pickers,
// the answer, and the answer's citations as clickable chips (title + page) that ask the main
// window to show the cited passage. Questions run on one worker thread that keeps its library
// connection and the loaded model (and its engine session) from one question to the next, so a
// follow-up reuses the cached prompt prefix; the model loads there too, never on the GUI thread.
// Without a model the answer is extractive. Every answer is recorded as a turn of the dock's
// session (store/session_store.h), and the transcript shows the session's turns.
#pragma once

#include "engine/memory_stats.h"

#include <QString>
#include <QStringList>
#include <QWidget>

#include <atomic>
#include <memory>
#include <vector>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QTextBrowser;
class QToolButton;
class QThread;
class QTimer;
class QVBoxLayout;

namespace nw::ui {

struct ChatCitation {
    qint64 documentId = 0;
    int page = 0;   // 1-based
    int start = 0;  // UTF-16 offset of the quote in the page text
    int length = 0;
    QString label;  // "GPL-3, p. 7"
};

// What the engine did for the latest answer; zeros for an extractive one.
struct ChatEngineFigures {
    int contextTokens = 0; // the loaded model's context
    int promptTokens = 0;
    int reusedTokens = 0;  // prompt tokens kept from the previous question's cache
    int generatedTokens = 0;
};

class ChatDock : public QWidget {
    Q_OBJECT
public:
    // The context asked for when nobody says: room for the instructions, several passages and the
    // answer without reserving more KV memory than a desktop can spare.
    static constexpr int kDefaultContextTokens = 4096;
    // A model trained on fewer tokens still gets this much: retrieved passages need it, and a
    // 128-token context holds no prompt at all (the model then runs past its training length).
    static constexpr int kMinimumContextTokens = 1024;
    // The context used for a model trained on `trainContext` tokens (0: unknown) when `requested`
    // are asked for (0: kDefaultContextTokens): no more than the model's own limit, raised to
    // kMinimumContextTokens, and never more than requested.
    static int effectiveContextTokens(int requested, qint64 trainContext);

    explicit ChatDock(QWidget *parent = nullptr);
    ~ChatDock() override; // stops the answer and waits for the worker

    void setDatabasePath(const QString &path);
    // "" : extractive answers. The model loads on the worker with the next question (and stays);
    // contextTokens as effectiveContextTokens() takes them.
    void setModelPath(const QString &path, int contextTokens = 0);
    QString modelPath() const;
    // "" : the model's default mode; else as --kv takes it ("full", "latent:16+q8", "mla").
    void setKvMode(const QString &mode);
    QString kvMode() const;
    int requestedContextTokens() const { return m_contextTokens; }

    bool isBusy() const { return m_busy; }
    QString answerText() const;
    const std::vector<ChatCitation> &citations() const { return m_citations; }
    ChatEngineFigures lastFigures() const { return m_lastFigures; }
    // How many times the worker has loaded a model (a new path, context or KV mode reloads).
    int modelLoads() const;
    QLineEdit *questionBox() const { return m_question; }
    QPushButton *askButton() const { return m_ask; }
    QPushButton *stopButton() const { return m_stop; }
    QComboBox *modelPicker() const { return m_modelBox; }
    QComboBox *kvModePicker() const { return m_kvBox; }
    // The chip widgets, in citation order.
    QList<QPushButton *> chips() const { return m_chips; }

    // The KV memory of the loaded model (a lock-free snapshot: poll it from a timer, also while it
    // answers), or the last snapshot while none is ready; empty without a model.
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
    void browseModel(); // a file dialog for a .gguf

signals:
    void citationActivated(qint64 documentId, int page, int start, int length);
    void questionStarted();
    void prefillProgress(qint64 done, qint64 total);
    void answerFinished(bool ok);
    void sessionChanged(qint64 sessionId);
    void modelChanged(const QString &path); // the picker's model ("" : none)
    void kvModeChanged(const QString &mode);

private:
    struct Worker;
    struct Outcome;
    void appendText(const QString &text);
    void finish(const Outcome &outcome);
    void clearChips();
    void renderTranscript();
    int addModelItem(const QString &path);

    QString m_databasePath;
    int m_contextTokens = 0;
    QLineEdit *m_question = nullptr;
    QPushButton *m_ask = nullptr;
    QPushButton *m_stop = nullptr;
    QComboBox *m_modelBox = nullptr;
    QToolButton *m_browse = nullptr;
    QComboBox *m_kvBox = nullptr;
    QTextBrowser *m_answer = nullptr;
    QLabel *m_status = nullptr;
    QWidget *m_chipArea = nullptr;
    QVBoxLayout *m_chipLayout = nullptr;
    QList<QPushButton *> m_chips;
    std::vector<ChatCitation> m_citations;
    // The worker thread runs one question at a time in its event loop; m_worker's state is touched
    // only there, except what its mutex guards (cancel and the meter's polls).
    QThread *m_thread = nullptr;
    QObject *m_threadContext = nullptr; // lives in m_thread: questions are posted to it
    std::shared_ptr<Worker> m_worker;
    std::shared_ptr<std::atomic<bool>> m_stopFlag; // the running question's
    bool m_busy = false;
    QString m_streamed;
    // Streamed text is drawn at most every 50 ms: re-laying out the transcript for every piece
    // kept the GUI thread busy for hundreds of ms once decoding got fast.
    QTimer *m_renderTimer = nullptr;
    QString m_current;           // the question being answered, "" when idle
    QString m_answerText;        // the latest answer
    QStringList m_pastQuestions; // earlier turns of the session, shown above the latest
    QStringList m_pastAnswers;
    qint64 m_sessionId = 0;
    MemoryStats m_lastStats;
    ChatEngineFigures m_lastFigures;
};

} // namespace nw::ui
