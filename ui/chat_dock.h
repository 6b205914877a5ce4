// The Chat dock: a question box (Ctrl+L focuses it), Ask and Stop, the answer, and the answer's
// citations as clickable chips (title + page) that ask the main window to show the cited passage.
// Each question runs on its own thread with its own LibraryStore connection (SQLite connections
// are per thread); without a model the answer is extractive.
#pragma once

#include <QString>
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
    void setModelPath(const QString &path); // "" : extractive answers

    bool isBusy() const { return m_thread != nullptr; }
    QString answerText() const;
    const std::vector<ChatCitation> &citations() const { return m_citations; }
    QLineEdit *questionBox() const { return m_question; }
    QPushButton *askButton() const { return m_ask; }
    QPushButton *stopButton() const { return m_stop; }
    // The chip widgets, in citation order.
    QList<QPushButton *> chips() const { return m_chips; }

public slots:
    void focusQuestion();
    bool ask(); // false when busy, the question is empty or no database is set
    void stop();

signals:
    void citationActivated(qint64 documentId, int page, int start, int length);
    void answerFinished(bool ok);

private:
    struct Shared;
    void appendText(const QString &text);
    void finish(const QString &answer, const std::vector<ChatCitation> &citations, const QString &error, bool stopped);
    void clearChips();

    QString m_databasePath;
    QString m_modelPath;
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
};

} // namespace nw::ui
