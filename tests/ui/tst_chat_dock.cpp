// Chat dock (offscreen): ingest a generated PDF whose page kNeedlePage alone states a fact, ask
// about it with no model (extractive answer, worked out off the GUI thread), click the first
// citation chip → the page view shows that document and page with the cited passage highlighted.
// With the conformance set's stories260K (its GGUF says llama.context_length = 128): the window's
// default context gives it 1024 tokens, the model loads once, and the second question reuses the
// first one's cached prompt prefix; a new KV mode makes a new cache without reloading. The device
// picker reaches the engine: cuda on a machine without a GPU is refused with the reason, cpu runs.
#include "scratch_settings.h"
#include "ui/chat_dock.h"
#include "ui/main_window.h"
#include "ui/page_text_view.h"
#include "ui_fixtures.h"

#include <QAction>
#include <QComboBox>
#include <QDockWidget>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>

namespace {

constexpr int kPages = 8;
constexpr int kNeedlePage = 5;

// A generated contract whose page kNeedlePage alone states the fact, ingested into a new library
// in `dir`; returns the library's path, empty when the ingest did not add the contract.
QString contractLibrary(const QTemporaryDir &dir)
{
    const QString pdf = dir.filePath(QStringLiteral("contract.pdf"));
    nw::test::writeFillerPdf(pdf,
        { .pages = kPages,
            .linesPerPage = 20,
            .needlePage = kNeedlePage,
            .needle = QStringLiteral("The supplier owes indemnification for flood losses.") });
    const QString database = dir.filePath(QStringLiteral("library.sqlite"));
    return nw::test::ingestInto(database, { pdf }) == 1 ? database : QString();
}

} // namespace

class TestChatDock : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void askClickChipShowsCitedPage();
    void emptyQuestionIsNotAsked();
    void ctrlLFocusesTheQuestion();
    void modelStaysBetweenQuestions();
    void devicePickerReachesTheEngine();

private:
    QTemporaryDir m_settings;
};

void TestChatDock::initTestCase()
{
    QVERIFY(m_settings.isValid());
    nw::test::useScratchSettings(m_settings.path(), QStringLiteral("tst_chat_dock"));
}

void TestChatDock::askClickChipShowsCitedPage()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString database = contractLibrary(dir);
    QVERIFY(!database.isEmpty());

    nw::ui::MainWindow window({ .databasePath = database, .modelPath = {} });
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    nw::ui::ChatDock *chat = window.chat();
    QVERIFY(chat != nullptr);
    QVERIFY(window.assistantTabs()->indexOf(chat) >= 0);

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
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    nw::ui::ChatDock chat;
    chat.setWorkbench(std::make_shared<nw::app::Workbench>(dir.filePath(QStringLiteral("library.sqlite"))));
    chat.questionBox()->setText(QStringLiteral("   "));
    QVERIFY(!chat.ask());
    QVERIFY(!chat.isBusy());
    chat.questionBox()->setText(QStringLiteral("anything"));
    chat.setWorkbench(nullptr); // no library open
    QVERIFY(!chat.ask());
}

void TestChatDock::ctrlLFocusesTheQuestion()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    nw::ui::MainWindow window({ .databasePath = dir.filePath(QStringLiteral("library.sqlite")), .modelPath = {} });
    window.show();
    QVERIFY(QTest::qWaitForWindowActive(&window));
    auto *action = window.findChild<QAction *>(QStringLiteral("AskAction"));
    QVERIFY(action != nullptr);
    QCOMPARE(action->shortcut(), QKeySequence(Qt::CTRL | Qt::Key_L));
    QVERIFY(!window.chat()->questionBox()->hasFocus());
    QTest::keyClick(&window, Qt::Key_L, Qt::ControlModifier);
    QTRY_VERIFY(window.chat()->questionBox()->hasFocus());
}

void TestChatDock::modelStaysBetweenQuestions()
{
    const QString model = nw::test::findStories260K();
    if (model.isEmpty())
        QSKIP(qPrintable(QStringLiteral("no conformance model at %1").arg(nw::test::stories260KPath())));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString database = contractLibrary(dir);
    QVERIFY(!database.isEmpty());
    // As app/main.cpp opens it.
    nw::ui::MainWindow window({ .databasePath = database, .modelPath = model });
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    nw::ui::ChatDock *chat = window.chat();
    QCOMPARE(chat->modelPath(), model);
    QVERIFY(chat->kvModePicker()->isEnabled());
    QCOMPARE(chat->modelLoads(), 0); // it loads with the first question, on the worker

    QSignalSpy finished(chat, &nw::ui::ChatDock::answerFinished);
    const auto askAndWait = [&](const QString &question) {
        finished.clear();
        chat->questionBox()->setText(question);
        QTest::mouseClick(chat->askButton(), Qt::LeftButton);
        QVERIFY(chat->isBusy());
        QVERIFY(finished.wait(60000));
        QVERIFY2(finished.first().at(0).toBool(),
            qPrintable(chat->findChild<QLabel *>(QStringLiteral("ChatStatus"))->text()));
    };
    askAndWait(QStringLiteral("Who owes indemnification for flood losses?"));
    if (QTest::currentTestFailed())
        return;
    QCOMPARE(chat->modelLoads(), 1);
    const nw::ui::ChatEngineFigures first = chat->lastFigures();
    QCOMPARE(first.contextTokens, 1024); // app::contextTokensFor: max(min(4096, 128), 1024)
    QVERIFY(first.promptTokens > 0);
    QCOMPARE(first.reusedTokens, 0);
    // 5 layers × 4 KV heads × 8 values × (K and V) × 2 bytes (llama2.c's published stories260K shape).
    QCOMPARE(chat->memoryStats().bytesPerToken, std::uint64_t(640));

    askAndWait(QStringLiteral("Who owes indemnification for flood losses, and when?"));
    if (QTest::currentTestFailed())
        return;
    QCOMPARE(chat->modelLoads(), 1); // the same model, not loaded again
    const nw::ui::ChatEngineFigures second = chat->lastFigures();
    QVERIFY2(second.reusedTokens > 0 && second.reusedTokens < second.promptTokens,
        qPrintable(QStringLiteral("%1 of %2").arg(second.reusedTokens).arg(second.promptTokens)));

    // Another KV mode: a new cache (nothing to reuse), the same loaded model. latent:8 keeps a
    // rank-8 latent of K and of V in f16 per layer: 5 × (8 + 8) × 2 = 160 bytes a token.
    chat->setKvMode(QStringLiteral("latent:8"));
    QCOMPARE(chat->kvMode(), QStringLiteral("latent:8"));
    askAndWait(QStringLiteral("Who owes indemnification for flood losses?"));
    if (QTest::currentTestFailed())
        return;
    QCOMPARE(chat->modelLoads(), 1);
    QCOMPARE(chat->lastFigures().reusedTokens, 0);
    QCOMPARE(chat->memoryStats().bytesPerToken, std::uint64_t(160));

    // Another context, typed as the CLI takes it: a new cache of that size, the same weights.
    QVERIFY(chat->contextPicker()->isEnabled());
    chat->contextPicker()->setCurrentText(QStringLiteral("2k"));
    QCOMPARE(chat->contextTokens(), 2048);
    askAndWait(QStringLiteral("Who owes indemnification for flood losses?"));
    if (QTest::currentTestFailed())
        return;
    QCOMPARE(chat->lastFigures().contextTokens, 2048);
    QCOMPARE(chat->memoryStats().capacityTokens, std::int64_t(2048));
    QCOMPARE(chat->modelLoads(), 1);
    QVERIFY2(chat->statusText().contains(QStringLiteral("context 2048")), qPrintable(chat->statusText()));
    chat->contextPicker()->setCurrentText(QStringLiteral("lots")); // not a count: nothing changes
    QCOMPARE(chat->contextTokens(), 2048);
    chat->setContextTokens(0);
    QCOMPARE(chat->contextPicker()->currentText(), QStringLiteral("auto"));

    // No model: the worker drops it and answers by quoting.
    chat->setModelPath(QString());
    QVERIFY(!chat->kvModePicker()->isEnabled());
    askAndWait(QStringLiteral("Who owes indemnification for flood losses?"));
    if (QTest::currentTestFailed())
        return;
    QCOMPARE(chat->lastFigures().promptTokens, 0);
    QVERIFY(chat->answerText().contains(QStringLiteral("indemnification")));
}

void TestChatDock::devicePickerReachesTheEngine()
{
    const QString model = nw::test::findStories260K();
    if (model.isEmpty())
        QSKIP(qPrintable(QStringLiteral("no conformance model at %1").arg(nw::test::stories260KPath())));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString database = contractLibrary(dir);
    QVERIFY(!database.isEmpty());
    nw::ui::MainWindow window({ .databasePath = database, .modelPath = model });
    nw::ui::ChatDock *chat = window.chat();
    // The pickers offer what --device takes, auto first (the command line's default too).
    QComboBox *picker = chat->devicePicker();
    QCOMPARE(picker->count(), 3);
    QCOMPARE(chat->device(), nw::app::DeviceChoice::Auto);
    QCOMPARE(chat->modelSettings().device, nw::app::DeviceChoice::Auto);

    QSignalSpy finished(chat, &nw::ui::ChatDock::answerFinished);
    const auto askAndWait = [&] {
        finished.clear();
        chat->questionBox()->setText(QStringLiteral("Who owes indemnification for flood losses?"));
        QVERIFY(chat->ask());
        QVERIFY(finished.wait(60000));
    };
    chat->setDevice(nw::app::DeviceChoice::Cuda);
    QCOMPARE(picker->currentText(), QStringLiteral("cuda"));
    askAndWait();
    if (QTest::currentTestFailed())
        return;
    const QString afterCuda = chat->findChild<QLabel *>(QStringLiteral("ChatStatus"))->text();
    if (nw::app::deviceStatus().gpu) {
        QVERIFY2(finished.first().at(0).toBool(), qPrintable(afterCuda));
        QVERIFY2(window.workbench()->modelStatus().device.startsWith(QStringLiteral("cuda"), Qt::CaseInsensitive),
            qPrintable(window.workbench()->modelStatus().device));
    } else {
        // No GPU here: the engine refuses cuda and says why (the window used to run on the CPU
        // whatever was asked).
        QCOMPARE(finished.first().at(0).toBool(), false);
        QVERIFY2(afterCuda.contains(QStringLiteral("cuda"), Qt::CaseInsensitive), qPrintable(afterCuda));
        QVERIFY(!window.workbench()->modelStatus().loaded);
    }
    chat->setDevice(nw::app::DeviceChoice::Cpu);
    askAndWait();
    if (QTest::currentTestFailed())
        return;
    QVERIFY(finished.first().at(0).toBool());
    QVERIFY2(window.workbench()->modelStatus().device.startsWith(QStringLiteral("cpu")),
        qPrintable(window.workbench()->modelStatus().device));
}

QTEST_MAIN(TestChatDock)
#include "tst_chat_dock.moc"
