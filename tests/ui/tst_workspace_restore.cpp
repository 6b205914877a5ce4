// Workspace autosave and restore (offscreen): a window is changed (page, panels and tabs, a
// question asked), destroyed, and a new window on the same database comes back the same; the
// autosave timer writes the state to disk on its own (what a killed process keeps); another
// database starts fresh; no --db reopens the last database; the chat's model, KV mode, context
// and device pickers come back (a model given on the command line wins, a model file that is gone
// is not brought back); the settings of versions that called this the "session" are read once.
#include "app/text_pdf.h"
#include "ingest/ingestor.h"
#include "store/library_store.h"
#include "store/session_store.h"
#include "ui/chat_dock.h"
#include "ui/kv_meter.h"
#include "ui/library_view.h"
#include "ui/main_window.h"
#include "ui/page_text_view.h"
#include "ui/workspace_state.h"

#include <QComboBox>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QFile>
#include <QLineEdit>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

namespace {

constexpr int kPages = 6;

// A PDF whose page n says "page n" and, on page 5 only, a fact to ask about.
QString makeLibrary(const QString &dir, const QString &name)
{
    QString text;
    for (int page = 1; page <= kPages; ++page) {
        if (page > 1)
            text += QLatin1Char('\f');
        for (int line = 0; line < 12; ++line)
            text += QStringLiteral("Page %1 line %2 ordinary wording about deliveries.\n").arg(page).arg(line);
        if (page == 5)
            text += QStringLiteral("The warehouse in Tromso keeps the spare turbines.\n");
    }
    const QString pdf = dir + QStringLiteral("/%1.pdf").arg(name);
    QFile file(pdf);
    if (!file.open(QIODevice::WriteOnly) || file.write(nw::app::renderTextPdf(name, text)) < 0)
        return {};
    file.close();
    const QString database = dir + QStringLiteral("/%1.sqlite").arg(name);
    nw::store::LibraryStore store(database);
    nw::ingest::Ingestor ingestor(store);
    if (ingestor.run({ pdf }).added != 1)
        return {};
    return database;
}

qint64 firstDocument(const QString &database)
{
    nw::store::LibraryStore store(database);
    const auto docs = store.documents();
    return docs.empty() ? 0 : docs.front().id;
}

} // namespace

class TestWorkspaceRestore : public QObject {
    Q_OBJECT
private slots:
    void init();
    void restoresPageDocksAndChat();
    void autosaveWritesWithoutClosing();
    void otherDatabaseStartsFresh();
    void noDatabaseOptionReopensTheLast();
    void restoresModelAndKvModePickers(); // and the context and device pickers
    void restoresTheEngineChoice();
    void readsTheOldSessionSettingsOnce();

private:
    std::unique_ptr<QTemporaryDir> m_dir;
};

void TestWorkspaceRestore::init()
{
    // Each test starts with empty settings in its own scratch folder, never the user's.
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    QCoreApplication::setOrganizationName(QStringLiteral("NeedleworkTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_workspace_restore"));
    QSettings::setDefaultFormat(QSettings::IniFormat);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, m_dir->filePath(QStringLiteral("settings")));
    QSettings().clear();
}

void TestWorkspaceRestore::restoresPageDocksAndChat()
{
    const QString database = makeLibrary(m_dir->path(), QStringLiteral("warehouse"));
    QVERIFY(!database.isEmpty());
    const qint64 document = firstDocument(database);
    QVERIFY(document > 0);
    const QString question = QStringLiteral("Where are the spare turbines kept?");
    qint64 chatSession = 0;
    {
        nw::ui::MainWindow window({ .databasePath = database, .modelPath = {} });
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QVERIFY(window.pageView()->showPage(document, 4));
        window.libraryPanel()->hide();
        window.assistantTabs()->setCurrentWidget(window.kvMeter());
        QSignalSpy finished(window.chat(), &nw::ui::ChatDock::answerFinished);
        window.chat()->questionBox()->setText(question);
        QVERIFY(window.chat()->ask());
        QVERIFY(finished.wait(20000));
        QCOMPARE(finished.first().at(0).toBool(), true);
        chatSession = window.chat()->sessionId();
        QVERIFY(chatSession > 0);
    } // destroyed: the destructor saves

    // The turn is in the database (what the restore reads back).
    {
        nw::store::LibraryStore store(database);
        nw::store::SessionStore sessions(store.database());
        const auto turns = sessions.turns(chatSession);
        QCOMPARE(turns.size(), std::size_t(1));
        QCOMPARE(turns.front().question, question);
        QVERIFY2(turns.front().answer.contains(QStringLiteral("Tromso")), qPrintable(turns.front().answer));
    }

    nw::ui::MainWindow window({ .databasePath = database, .modelPath = {} });
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QCOMPARE(window.pageView()->documentId(), document);
    QCOMPARE(window.pageView()->pageNumber(), 4);
    QVERIFY(window.pageView()->pageText().contains(QStringLiteral("Page 4 line 0")));
    QVERIFY(window.libraryPanel()->isHidden());
    QVERIFY(window.assistantPanel()->isVisible());
    QCOMPARE(window.assistantTabs()->currentWidget(), window.kvMeter());
    QCOMPARE(window.chat()->sessionId(), chatSession);
    const QString transcript = window.chat()->transcriptText();
    QVERIFY2(transcript.contains(QStringLiteral("Q: ") + question), qPrintable(transcript));
    QVERIFY2(transcript.contains(QStringLiteral("Tromso")), qPrintable(transcript));
    QVERIFY2(window.chat()->answerText().contains(QStringLiteral("Tromso")), qPrintable(window.chat()->answerText()));

    // A second question goes into the same session.
    QSignalSpy finished(window.chat(), &nw::ui::ChatDock::answerFinished);
    window.chat()->questionBox()->setText(QStringLiteral("What is on page 2?"));
    QVERIFY(window.chat()->ask());
    QVERIFY(finished.wait(20000));
    QCOMPARE(window.chat()->sessionId(), chatSession);
    nw::store::LibraryStore store(database);
    QCOMPARE(nw::store::SessionStore(store.database()).turns(chatSession).size(), std::size_t(2));
}

void TestWorkspaceRestore::autosaveWritesWithoutClosing()
{
    const QString database = makeLibrary(m_dir->path(), QStringLiteral("autosave"));
    QVERIFY(!database.isEmpty());
    const qint64 document = firstDocument(database);
    nw::ui::MainWindow window({ .databasePath = database, .modelPath = {} });
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QVERIFY(window.autosave()->isRunning());
    QVERIFY(window.pageView()->showPage(document, 3));

    // Read the settings file itself, as the next process would after a kill: no QSettings cache.
    const QString file = m_dir->filePath(QStringLiteral("settings/NeedleworkTests/tst_workspace_restore.ini"));
    const auto savedPage = [&file]() {
        QFile f(file);
        if (!f.open(QIODevice::ReadOnly))
            return -1;
        const QByteArray ini = f.readAll();
        const qsizetype at = ini.indexOf("\npage=");
        return at < 0 ? -1 : ini.mid(at + 6, ini.indexOf('\n', at + 1) - at - 6).toInt();
    };
    QElapsedTimer clock;
    clock.start();
    QTRY_COMPARE_WITH_TIMEOUT(savedPage(), 3, 3 * nw::ui::WorkspaceAutosave::kIntervalMs);
    QVERIFY2(clock.elapsed() <= 2 * nw::ui::WorkspaceAutosave::kIntervalMs + 500,
        qPrintable(QString::number(clock.elapsed())));

    window.pageView()->nextPage();
    QTRY_COMPARE_WITH_TIMEOUT(savedPage(), 4, 3 * nw::ui::WorkspaceAutosave::kIntervalMs);
    // An unchanged window writes nothing more.
    const int saves = window.autosave()->saveCount();
    QTest::qWait(nw::ui::WorkspaceAutosave::kIntervalMs + 300);
    QCOMPARE(window.autosave()->saveCount(), saves);
}

void TestWorkspaceRestore::otherDatabaseStartsFresh()
{
    const QString first = makeLibrary(m_dir->path(), QStringLiteral("first"));
    const QString second = makeLibrary(m_dir->path(), QStringLiteral("second"));
    QVERIFY(!first.isEmpty() && !second.isEmpty());
    {
        nw::ui::MainWindow window({ .databasePath = first, .modelPath = {} });
        QVERIFY(window.pageView()->showPage(firstDocument(first), 2));
    }
    QCOMPARE(nw::ui::loadWorkspace().page, 2);
    nw::ui::MainWindow window({ .databasePath = second, .modelPath = {} });
    QCOMPARE(window.pageView()->documentId(), 0);
    QCOMPARE(window.chat()->sessionId(), 0);
}

void TestWorkspaceRestore::noDatabaseOptionReopensTheLast()
{
    const QString database = makeLibrary(m_dir->path(), QStringLiteral("last"));
    QVERIFY(!database.isEmpty());
    {
        nw::ui::MainWindow window({ .databasePath = database, .modelPath = {} });
        QVERIFY(window.pageView()->showPage(firstDocument(database), 6));
    }
    nw::ui::MainWindow window({ .databasePath = {}, .modelPath = {} });
    QCOMPARE(window.workbench()->databasePath(), database);
    QCOMPARE(window.pageView()->pageNumber(), 6);
}

void TestWorkspaceRestore::restoresModelAndKvModePickers()
{
    const QString database = makeLibrary(m_dir->path(), QStringLiteral("models"));
    QVERIFY(!database.isEmpty());
    // The pickers only name files; a model loads with a question, so any file stands in for one.
    const QString model = m_dir->filePath(QStringLiteral("picked.gguf"));
    const QString other = m_dir->filePath(QStringLiteral("other.gguf"));
    for (const QString &path : { model, other }) {
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
    }
    {
        nw::ui::MainWindow window({ .databasePath = database, .modelPath = model });
        QCOMPARE(window.chat()->device(), nw::app::DeviceChoice::Auto); // as on the command line
        window.chat()->setKvMode(QStringLiteral("latent:16+q8"));
        window.chat()->setContextTokens(8192);
        window.chat()->setDevice(nw::app::DeviceChoice::Cpu);
    }
    QCOMPARE(nw::ui::loadWorkspace().modelPath, model);
    QCOMPARE(nw::ui::loadWorkspace().kvMode, QStringLiteral("latent:16+q8"));
    QCOMPARE(nw::ui::loadWorkspace().device, QStringLiteral("cpu"));
    {
        nw::ui::MainWindow window({ .databasePath = database, .modelPath = {} });
        QCOMPARE(window.chat()->modelPath(), model);
        QCOMPARE(window.chat()->modelPicker()->currentData().toString(), model);
        QCOMPARE(window.chat()->kvMode(), QStringLiteral("latent:16+q8"));
        QCOMPARE(window.chat()->contextTokens(), 8192);
        QCOMPARE(window.chat()->contextPicker()->currentText(), QStringLiteral("8k"));
        QVERIFY(window.chat()->kvModePicker()->isEnabled());
        QCOMPARE(window.chat()->device(), nw::app::DeviceChoice::Cpu);
        QCOMPARE(window.chat()->devicePicker()->currentText(), QStringLiteral("cpu"));
        QCOMPARE(window.chat()->modelSettings().device, nw::app::DeviceChoice::Cpu);
    }
    {
        // Another model on the command line: it wins, and the saved mode (the other model's) stays out.
        nw::ui::MainWindow window({ .databasePath = database, .modelPath = other });
        QCOMPARE(window.chat()->modelPath(), other);
        QCOMPARE(window.chat()->kvMode(), QString());
        QCOMPARE(window.chat()->contextTokens(), 0);
        QCOMPARE(window.chat()->device(), nw::app::DeviceChoice::Cpu); // the device is the machine's, not the model's
    }
    QCOMPARE(nw::ui::loadWorkspace().modelPath, other);
    QVERIFY(QFile::remove(other));
    {
        nw::ui::MainWindow window({ .databasePath = database, .modelPath = {} });
        QCOMPARE(window.chat()->modelPath(), QString());
        QVERIFY(!window.chat()->kvModePicker()->isEnabled());
        window.chat()->setModelPath(model);
        window.chat()->setModelPath(QString()); // picked "none" last
    }
    nw::ui::MainWindow window({ .databasePath = database, .modelPath = {} });
    QCOMPARE(window.chat()->modelPath(), QString());
}

// The Chat tab's Engine picker: a server (its URL, key file and model, never a key) comes back
// with the next start, whatever the database; picking the in-process engine again is kept too.
// The URL below has no server: its model list fails (a line under the field) and the model
// restored stays.
void TestWorkspaceRestore::restoresTheEngineChoice()
{
    const QString database = makeLibrary(m_dir->path(), QStringLiteral("engine"));
    QVERIFY(!database.isEmpty());
    const QString url = QStringLiteral("http://127.0.0.1:9/v1");
    const QString keyFile = m_dir->filePath(QStringLiteral("server.key"));
    const QString model = QStringLiteral("deepseek-ai/DeepSeek-V3");
    {
        nw::ui::MainWindow window({ .databasePath = database, .modelPath = {} });
        QCOMPARE(window.chat()->enginePicker()->currentIndex(), 0);
        window.chat()->setRemoteEngine(url, keyFile, model);
    }
    QCOMPARE(nw::ui::loadWorkspace().engineUrl, url);
    QCOMPARE(nw::ui::loadWorkspace().engineKeyFile, keyFile);
    QCOMPARE(nw::ui::loadWorkspace().engineModel, model);
    {
        nw::ui::MainWindow window({ .databasePath = {}, .modelPath = {} });
        QCOMPARE(window.chat()->enginePicker()->currentIndex(), 1);
        QCOMPARE(window.chat()->engineUrl(), url);
        QCOMPARE(window.chat()->apiKeyFile(), keyFile);
        QCOMPARE(window.chat()->remoteModel(), model);
        QVERIFY(window.chat()->isRemote());
        QSignalSpy listed(window.chat(), &nw::ui::ChatDock::remoteModelsListed);
        QVERIFY(listed.wait(15000));
        QVERIFY(!listed.first().at(0).toBool());
        QCOMPARE(window.chat()->remoteModel(), model);
        window.chat()->enginePicker()->setCurrentIndex(0); // back to the in-process engine
    }
    QCOMPARE(nw::ui::loadWorkspace().engineUrl, QString());
    QCOMPARE(nw::ui::loadWorkspace().engineKeyFile, QString());
    QCOMPARE(nw::ui::loadWorkspace().engineModel, QString());
    nw::ui::MainWindow window({ .databasePath = database, .modelPath = {} });
    QVERIFY(!window.chat()->isRemote());
}

void TestWorkspaceRestore::readsTheOldSessionSettingsOnce()
{
    // What an earlier version saved, under the name it used.
    const QString database = makeLibrary(m_dir->path(), QStringLiteral("upgrade"));
    QVERIFY(!database.isEmpty());
    const qint64 document = firstDocument(database);
    QString sha;
    {
        nw::store::LibraryStore store(database);
        sha = store.requireDocument(document).sha256;
    }
    {
        QSettings settings;
        settings.beginGroup(QStringLiteral("session"));
        settings.setValue(QStringLiteral("database"), database);
        settings.setValue(QStringLiteral("document"), sha);
        settings.setValue(QStringLiteral("page"), 5);
        settings.setValue(QStringLiteral("kvMode"), QStringLiteral("full"));
    }
    QCOMPARE(nw::ui::loadWorkspace().page, 5);
    {
        nw::ui::MainWindow window({ .databasePath = {}, .modelPath = {} });
        QCOMPARE(window.workbench()->databasePath(), database);
        QCOMPARE(window.pageView()->pageNumber(), 5);
        window.autosave()->saveNow();
    }
    // Saved under the new name; the old group is gone, so it is read only that once.
    QSettings settings;
    QVERIFY(!settings.childGroups().contains(QStringLiteral("session")));
    QCOMPARE(settings.value(QStringLiteral("workspace/database")).toString(), database);
    QCOMPARE(settings.value(QStringLiteral("workspace/page")).toInt(), 5);
}

QTEST_MAIN(TestWorkspaceRestore)
#include "tst_workspace_restore.moc"
