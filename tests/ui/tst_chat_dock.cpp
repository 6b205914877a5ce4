// Chat dock (offscreen): ingest a generated PDF whose page kNeedlePage alone states a fact, ask
// about it with no model (extractive answer, worked out off the GUI thread), click the first
// citation chip → the page view shows that document and page with the cited passage highlighted.
#include "ingest/ingestor.h"
#include "store/library_store.h"
#include "ui/chat_dock.h"
#include "ui/main_window.h"
#include "ui/page_text_view.h"

#include <QAction>
#include <QDockWidget>
#include <QLineEdit>
#include <QPainter>
#include <QPdfWriter>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

namespace {

constexpr int kPages = 8;
constexpr int kNeedlePage = 5;

void writePdf(const QString &path)
{
    QPdfWriter writer(path);
    writer.setPageSize(QPageSize(QPageSize::A4));
    writer.setResolution(72);
    QPainter painter(&writer);
    QFont font(QStringLiteral("DejaVu Sans"));
    font.setPointSize(12);
    painter.setFont(font);
    for (int page = 1; page <= kPages; ++page) {
        if (page > 1)
            writer.newPage();
        for (int line = 0; line < 20; ++line)
            painter.drawText(40, 60 + line * 20,
                             QStringLiteral("Page %1 line %2 ordinary contract wording about delivery.").arg(page).arg(line));
        if (page == kNeedlePage)
            painter.drawText(40, 700, QStringLiteral("The supplier owes indemnification for flood losses."));
    }
}

} // namespace

class TestChatDock : public QObject {
    Q_OBJECT
private slots:
    void askClickChipShowsCitedPage();
    void emptyQuestionIsNotAsked();
    void ctrlLFocusesTheQuestion();
};

void TestChatDock::askClickChipShowsCitedPage()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString pdf = dir.filePath(QStringLiteral("contract.pdf"));
    writePdf(pdf);
    const QString database = dir.filePath(QStringLiteral("library.sqlite"));
    {
        nw::store::LibraryStore store(database);
        nw::ingest::Ingestor ingestor(store);
        const nw::ingest::IngestSummary summary = ingestor.run({pdf});
        QCOMPARE(summary.added, 1);
    }

    nw::ui::MainWindow window({.databasePath = database, .modelPath = {}});
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    nw::ui::ChatDock *chat = window.chat();
    QVERIFY(chat != nullptr);
    QCOMPARE(window.chatDock()->widget(), chat);

    QSignalSpy finished(chat, &nw::ui::ChatDock::answerFinished);
    chat->questionBox()->setText(QStringLiteral("Who owes indemnification for flood losses?"));
    QTest::mouseClick(chat->askButton(), Qt::LeftButton);
    QVERIFY(chat->isBusy()); // the work is on another thread: the click returned first
    QVERIFY(!chat->askButton()->isEnabled());
    QVERIFY(chat->stopButton()->isEnabled());
    QVERIFY(finished.wait(20000));
    QCOMPARE(finished.first().at(0).toBool(), true);
    QVERIFY(!chat->isBusy());
    QVERIFY2(chat->answerText().contains(QStringLiteral("indemnification")), qPrintable(chat->answerText()));

    QVERIFY(!chat->chips().isEmpty());
    QCOMPARE(chat->chips().size(), static_cast<qsizetype>(chat->citations().size()));
    const nw::ui::ChatCitation first = chat->citations().front();
    QCOMPARE(first.page, kNeedlePage);
    QVERIFY2(chat->chips().front()->text().contains(QStringLiteral("p. %1").arg(kNeedlePage)),
             qPrintable(chat->chips().front()->text()));

    QTest::mouseClick(chat->chips().front(), Qt::LeftButton);
    nw::ui::PageTextView *view = window.pageView();
    QCOMPARE(view->documentId(), first.documentId);
    QCOMPARE(view->pageNumber(), kNeedlePage);
    QCOMPARE(view->pageCount(), kPages);
    QCOMPARE(view->highlightCount(), 1);
    const QStringList marked = view->highlightedTexts();
    QCOMPARE(marked.size(), 1);
    QVERIFY2(marked.front().contains(QStringLiteral("indemnification")), qPrintable(marked.front()));
    QCOMPARE(marked.front(), view->pageText().mid(first.start, first.length));
}

void TestChatDock::emptyQuestionIsNotAsked()
{
    nw::ui::ChatDock chat;
    chat.setDatabasePath(QStringLiteral("/nonexistent/library.sqlite"));
    chat.questionBox()->setText(QStringLiteral("   "));
    QVERIFY(!chat.ask());
    QVERIFY(!chat.isBusy());
    chat.questionBox()->setText(QStringLiteral("anything"));
    chat.setDatabasePath(QString());
    QVERIFY(!chat.ask());
}

void TestChatDock::ctrlLFocusesTheQuestion()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    nw::ui::MainWindow window({.databasePath = dir.filePath(QStringLiteral("library.sqlite")), .modelPath = {}});
    window.show();
    QVERIFY(QTest::qWaitForWindowActive(&window));
    auto *action = window.findChild<QAction *>(QStringLiteral("AskAction"));
    QVERIFY(action != nullptr);
    QCOMPARE(action->shortcut(), QKeySequence(Qt::CTRL | Qt::Key_L));
    QVERIFY(!window.chat()->questionBox()->hasFocus());
    QTest::keyClick(&window, Qt::Key_L, Qt::ControlModifier);
    QTRY_VERIFY(window.chat()->questionBox()->hasFocus());
}

QTEST_MAIN(TestChatDock)
#include "tst_chat_dock.moc"
