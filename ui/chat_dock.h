// The Chat tab: the engine (in process, or an OpenAI-compatible server's URL, model and key file), the
// model, KV-mode, context and device pickers on top, the transcript filling the
// tab, the answer's citations as clickable chips (title + page) that ask the main window to show
// the cited passage, a status line (what the prompt held, what was left out to fit the context),
// and the question box (Ctrl+L focuses it) with Ask and Stop at the bottom. Questions go to the window's workbench
// (app/workbench.h) on one worker thread, where the model loads (never on the GUI thread) and stays from one question
// to the next, so a follow-up reuses the cached prompt prefix. Without a model the answer is extractive. The workbench
// records every answer as a turn of the dock's session, and the transcript shows the session's turns.
#pragma once

#include "app/remote_metrics.h"
#include "app/workbench.h"

#include <QString>
#include <QStringList>
#include <QWidget>

#include <atomic>
#include <memory>
#include <optional>
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
    int page = 0; // 1-based
    int start = 0; // UTF-16 offset of the quote in the page text
    int length = 0;
    QString label; // "GPL-3, p. 7"
};

// What the engine did for the latest answer; zeros for an extractive one.
struct ChatEngineFigures {
    int contextTokens = 0; // the loaded model's context
    int promptTokens = 0;
    int reusedTokens = 0; // prompt tokens kept from the previous question's cache
    int generatedTokens = 0;
};

class ChatDock : public QWidget {
    Q_OBJECT
public:
    explicit ChatDock(QWidget *parent = nullptr);
    ~ChatDock() override; // stops the answer and waits for the worker

    // The workbench questions go to; null: none (nothing can be asked). A question under way
    // finishes with the workbench it started on.
    void setWorkbench(std::shared_ptr<app::Workbench> workbench);
    // "" : extractive answers. The model loads on the worker with the next question (and stays).
    void setModelPath(const QString &path);
    QString modelPath() const;
    // The model's context in tokens; 0 : the workbench's default (app::contextTokensFor), shown
    // as "auto". A new context makes a new cache with the next question (the weights stay). Text
    // in the box that is not a count is shown in red and changes nothing.
    void setContextTokens(qint64 tokens);
    qint64 contextTokens() const;
    // "" : the model's default mode; else as --kv takes it ("full", "latent:16+q8", "mla").
    void setKvMode(const QString &mode);
    QString kvMode() const;
    // Where the model runs, as --device takes it (auto, the default, as on the command line).
    void setDevice(app::DeviceChoice device);
    app::DeviceChoice device() const;
    // What the pickers ask the workbench to load.
    app::ModelSettings modelSettings() const;
    // "" : the in-process engine (the pickers above); else questions go to the OpenAI-compatible
    // server at this URL (app/remote_engine.h), connected on the worker with the next question and
    // kept while the URL, key file and model stay; the model, KV, context and device pickers are
    // then the server's and disabled. keyFile: the API key's file ("" : $NEEDLEWORK_API_KEY, else
    // none). model: as `--model` with `--engine` ("" : the first the server lists); the server
    // model field beside the URL offers what the server's /v1/models lists, read on a pool thread
    // whenever the URL or key file changes (a failure is a line under it, never a dialog).
    void setRemoteEngine(const QString &url, const QString &keyFile = {}, const QString &model = {});
    QString engineUrl() const; // "" when the in-process engine is picked
    QString apiKeyFile() const;
    QString remoteModel() const; // the server model field ("" : the first the server lists)
    QStringList listedRemoteModels() const { return m_listedModels; } // the latest list read
    QString serverNote() const; // the line under the server's fields: the list read, or why not
    bool isRemote() const { return !engineUrl().isEmpty(); }
    // The server's /metrics figures after the latest remote answer; nullopt otherwise.
    std::optional<app::RemoteKvFigures> remoteKvFigures() const;

    bool isBusy() const { return m_busy; }
    QString answerText() const;
    const std::vector<ChatCitation> &citations() const { return m_citations; }
    ChatEngineFigures lastFigures() const { return m_lastFigures; }
    // The latest answer as the workbench gave it (empty before the first).
    const app::AskResult &lastResult() const { return m_lastResult; }
    // How many times the workbench has loaded a model (a new path, context or device reloads;
    // a new KV mode only makes a new cache).
    int modelLoads() const;
    QLineEdit *questionBox() const { return m_question; }
    QPushButton *askButton() const { return m_ask; }
    QPushButton *stopButton() const { return m_stop; }
    QComboBox *enginePicker() const { return m_engineBox; }
    QLineEdit *engineUrlBox() const { return m_engineUrl; }
    QLineEdit *apiKeyFileBox() const { return m_keyFile; }
    QComboBox *remoteModelPicker() const { return m_remoteModelBox; }
    QComboBox *modelPicker() const { return m_modelBox; }
    QComboBox *kvModePicker() const { return m_kvBox; }
    QComboBox *devicePicker() const { return m_deviceBox; }
    QComboBox *contextPicker() const { return m_contextBox; }
    QString statusText() const;
    // The chip widgets, in citation order.
    QList<QPushButton *> chips() const { return m_chips; }

    // The KV memory of the loaded model (a lock-free snapshot: poll it from a timer, also while it
    // answers), or the last snapshot while none is ready; empty without a model.
    app::MemoryStats memoryStats() const;
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
    void deviceChanged(nw::app::DeviceChoice device);
    void contextChanged(qint64 tokens);
    void engineChanged(const QString &url); // "" : back to the in-process engine
    void remoteModelsListed(bool ok); // the server's model list was read (ok) or could not be

private:
    struct Outcome;
    void appendText(const QString &text);
    void finish(const Outcome &outcome);
    void clearChips();
    void renderTranscript();
    int addModelItem(const QString &path);
    void engineSwitched(); // the Engine picker, the URL or the key file changed
    void listRemoteModels(); // on a pool thread; the answer fills the server model field
    void showServerNote();

    std::shared_ptr<app::Workbench> m_workbench;
    QComboBox *m_engineBox = nullptr; // In process / Server
    QWidget *m_serverRow = nullptr; // the URL and key file, shown for a server
    QLineEdit *m_engineUrl = nullptr;
    QLineEdit *m_keyFile = nullptr;
    QComboBox *m_remoteModelBox = nullptr; // editable: a model the list does not show can be typed
    QLabel *m_serverNote = nullptr;
    QString m_announced; // the engine engineChanged last said: URL and key file
    QStringList m_listedModels; // what the server listed last
    QString m_listError; // why the latest list could not be read
    bool m_listing = false;
    quint64 m_listGeneration = 0; // a list asked for before the URL or key changed again is stale
    struct RemoteConnection;
    std::shared_ptr<RemoteConnection> m_remote; // read and written on the worker only
    QLineEdit *m_question = nullptr;
    QPushButton *m_ask = nullptr;
    QPushButton *m_stop = nullptr;
    QComboBox *m_modelBox = nullptr;
    QToolButton *m_browse = nullptr;
    QComboBox *m_kvBox = nullptr;
    QComboBox *m_deviceBox = nullptr;
    QComboBox *m_contextBox = nullptr;
    qint64 m_contextTokens = 0; // the last count the context box held (0: auto)
    QTextBrowser *m_answer = nullptr;
    QLabel *m_status = nullptr;
    QWidget *m_chipArea = nullptr;
    QVBoxLayout *m_chipLayout = nullptr;
    QList<QPushButton *> m_chips;
    std::vector<ChatCitation> m_citations;
    // The worker thread runs one question at a time in its event loop (the workbench's asking
    // thread); Stop reaches the question through its flag, the meter's polls the workbench.
    QThread *m_thread = nullptr;
    QObject *m_threadContext = nullptr; // lives in m_thread: questions are posted to it
    std::shared_ptr<std::atomic<bool>> m_stopFlag; // the running question's
    bool m_busy = false;
    QString m_streamed;
    // Streamed text is drawn at most every 50 ms: re-laying out the transcript for every piece
    // kept the GUI thread busy for hundreds of ms once decoding got fast.
    QTimer *m_renderTimer = nullptr;
    QString m_current; // the question being answered, "" when idle
    QString m_answerText; // the latest answer
    QStringList m_pastQuestions; // earlier turns of the session, shown above the latest
    QStringList m_pastAnswers;
    qint64 m_sessionId = 0;
    app::MemoryStats m_lastStats;
    ChatEngineFigures m_lastFigures;
    app::AskResult m_lastResult;
};

} // namespace nw::ui
