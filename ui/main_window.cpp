// The main window's frame: the two side panels and their tabs, the reader in the middle, the menus,
// the workspace kept between runs, and the rules that keep the window on the screen: every view
// scrolls inside its tab instead of asking the window for height, and the window is fitted to the
// screen's available area when it is shown and restored.
#include "ui/main_window.h"

#include "app/kv_plan.h"
#include "app/paths.h"
#include "app/sample_corpus.h"
#include "common/error.h"
#include "common/log.h"
#include "ui/annotations_panel.h"
#include "ui/chat_dock.h"
#include "ui/first_run_view.h"
#include "ui/kv_meter.h"
#include "ui/kv_planner.h"
#include "ui/library_view.h"
#include "ui/needle_view.h"
#include "ui/page_text_view.h"
#include "ui/page_viewer.h"
#include "ui/search_view.h"
#include "ui/theme.h"

#include <QActionGroup>
#include <QApplication>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPushButton>
#include <QScreen>
#include <QScrollArea>
#include <QStackedWidget>
#include <QStatusBar>
#include <QTabBar>
#include <QTabWidget>
#include <QTextBrowser>

#include <algorithm>

namespace nw::ui {
namespace {

// QMainWindow::saveState's version: layouts saved before the panels were tabbed (version 0, with
// one dock per view) are not restored into this one.
constexpr int kLayoutVersion = 2;
// The panels' share of the window's width by default: the page keeps just over half.
constexpr double kLibraryShare = 0.22;
constexpr double kAssistantShare = 0.25;
constexpr int kPanelMinimumWidth = 200;

QDockWidget *makePanel(QMainWindow *window, const QString &title, const QString &objectName, QTabWidget *tabs)
{
    auto *dock = new QDockWidget(title, window);
    dock->setObjectName(objectName);
    dock->setTitleBarWidget(new QWidget(dock)); // the tabs are the panel's title
    dock->setFeatures(QDockWidget::DockWidgetClosable | QDockWidget::DockWidgetMovable);
    dock->setAllowedAreas(Qt::LeftDockWidgetArea | Qt::RightDockWidgetArea);
    dock->setMinimumWidth(kPanelMinimumWidth);
    tabs->setDocumentMode(true);
    tabs->setUsesScrollButtons(true);
    dock->setWidget(tabs);
    return dock;
}

} // namespace

MainWindow::MainWindow(const MainWindowOptions &options, QWidget *parent)
    : QMainWindow(parent)
    , m_options(options)
{
    setObjectName(QStringLiteral("MainWindow"));
    setWindowTitle(tr("Needlework"));
    setAcceptDrops(true);
    setDockNestingEnabled(false);

    // The reader: the first-run view, the rendered pages, or the stored text (documents without
    // a PDF, and on request).
    m_firstRun = new FirstRunView(this);
    m_pageView = new PageTextView(this);
    m_pageViewer = new PageViewer(this);
    m_pages = new QStackedWidget(this);
    m_pages->setObjectName(QStringLiteral("Reader"));
    m_pages->addWidget(m_pageViewer);
    m_pages->addWidget(m_pageView);
    m_pages->addWidget(m_firstRun);
    m_centralTabs = new QTabWidget(this);
    m_centralTabs->setObjectName(QStringLiteral("CentralTabs"));
    m_centralTabs->setDocumentMode(true);
    m_centralTabs->setTabBarAutoHide(true); // a tab bar only once the Needle Lab is open
    m_centralTabs->setTabsClosable(true);
    m_centralTabs->addTab(m_pages, tr("Reader"));
    m_centralTabs->tabBar()->setTabButton(0, QTabBar::RightSide, nullptr);
    m_centralTabs->tabBar()->setTabButton(0, QTabBar::LeftSide, nullptr);
    connect(m_centralTabs, &QTabWidget::tabCloseRequested, this, [this](int index) {
        if (index > 0)
            m_centralTabs->removeTab(index);
    });
    setCentralWidget(m_centralTabs);

    createPanels();
    createMenus();
    applyTheme(savedTheme());

    const Workspace last = loadWorkspace();
    QString database = m_options.databasePath;
    if (database.isEmpty())
        database = !last.databasePath.isEmpty() && QFileInfo::exists(last.databasePath) ? last.databasePath
                                                                                        : app::defaultDatabasePath();
    m_statusLabel = new QLabel(tr("Library: %1").arg(database), this);
    m_statusLabel->setObjectName(QStringLiteral("LibraryPathLabel"));
    m_statusLabel->setMinimumWidth(0);
    m_statusLabel->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    statusBar()->addWidget(m_statusLabel, 1);
    m_modelLabel = new QLabel(this);
    m_modelLabel->setObjectName(QStringLiteral("ModelLabel"));
    statusBar()->addPermanentWidget(m_modelLabel);
    const auto showModel = [this](const QString &path) {
        m_modelLabel->setText(path.isEmpty() ? tr("No model") : QFileInfo(path).fileName());
        m_modelLabel->setToolTip(path);
        m_kvMeter->setModelName(path.isEmpty() ? QString() : QFileInfo(path).fileName());
    };
    connect(m_chat, &ChatDock::modelChanged, this, showModel);
    m_chat->setModelPath(m_options.modelPath);
    m_chat->setContextTokens(m_options.contextTokens);
    showModel(m_chat->modelPath());
    openDatabase(database);

    // A sensible first size: 1280 × 800 where the screen has room, less where it has not.
    if (const QScreen *s = screen()) {
        const QRect available = s->availableGeometry();
        resize(std::min(1280, available.width() * 9 / 10), std::min(800, available.height() * 9 / 10));
    } else {
        resize(1280, 800);
    }
    restoreModel(last);
    if (QFileInfo(last.databasePath) == QFileInfo(database))
        restoreWorkspace(last);
    updateReader();
    m_autosave = new WorkspaceAutosave([this] { return captureWorkspace(); }, this);
    m_autosave->start();
}

MainWindow::~MainWindow()
{
    m_autosave->saveNow(); // the panels are still alive here; a kill loses only the last interval
}

void MainWindow::createPanels()
{
    // Left: what is in the library, what matches, what was marked.
    m_libraryTabs = new QTabWidget(this);
    m_libraryTabs->setObjectName(QStringLiteral("LibraryTabs"));
    m_library = new LibraryView(m_libraryTabs);
    m_search = new SearchView(m_libraryTabs);
    m_annotations = new AnnotationsPanel(m_libraryTabs);
    m_libraryTabs->addTab(m_library, tr("Library"));
    m_libraryTabs->addTab(m_search, tr("Search"));
    m_libraryTabs->addTab(m_annotations, tr("Annotations"));
    m_libraryPanel = makePanel(this, tr("Library Panel"), QStringLiteral("LibraryPanel"), m_libraryTabs);
    addDockWidget(Qt::LeftDockWidgetArea, m_libraryPanel);

    // Right: asking, and what it costs.
    m_assistantTabs = new QTabWidget(this);
    m_assistantTabs->setObjectName(QStringLiteral("AssistantTabs"));
    m_chat = new ChatDock(m_assistantTabs);
    m_kvMeter = new KvMeter(m_assistantTabs);
    m_assistantTabs->addTab(m_chat, tr("Chat"));
    m_assistantTabs->addTab(m_kvMeter, tr("KV Meter"));
    m_assistantPanel = makePanel(this, tr("Assistant Panel"), QStringLiteral("AssistantPanel"), m_assistantTabs);
    addDockWidget(Qt::RightDockWidgetArea, m_assistantPanel);

    connect(m_search, &SearchView::pageRequested, this, &MainWindow::openPage);
    connect(m_library, &LibraryView::pageRequested, this, &MainWindow::openPage);
    connect(m_library->addFilesButton(), &QPushButton::clicked, this, &MainWindow::addFiles);
    connect(m_library->addFolderButton(), &QPushButton::clicked, this, &MainWindow::addFolder);
    connect(m_firstRun->addFilesButton(), &QPushButton::clicked, this, &MainWindow::addFiles);
    connect(m_firstRun->addFolderButton(), &QPushButton::clicked, this, &MainWindow::addFolder);
    connect(m_firstRun->sampleButton(), &QPushButton::clicked, this, &MainWindow::addSampleDocuments);
    connect(m_firstRun, &FirstRunView::dropped, this, [this](const QStringList &paths) { m_library->ingest(paths); });
    connect(m_library, &LibraryView::ingestFinished, this, [this] {
        // The open page stays open: an ingest adds documents, it does not close the one being read.
        m_firstRun->setBusy(false);
        m_search->setWorkbench(m_workbench); // earlier hits may name replaced documents
        const auto [documentId, page] = currentPage();
        if (documentId == 0 && m_workbench) {
            try {
                const std::vector<app::DocumentInfo> docs = m_workbench->documents();
                if (!docs.empty())
                    openPage(docs.front().id, 1, {});
            } catch (const Error &) {
                // the library view shows why it cannot be read
            }
        }
        updateReader();
    });

    connect(m_chat, &ChatDock::citationActivated, this, [this](qint64 documentId, int page, int start, int length) {
        m_pageView->showPassage(documentId, page, start, length);
        showPageWidget(m_pageViewer->showPassage(documentId, page, start, length));
        m_centralTabs->setCurrentIndex(0);
        syncAnnotations();
    });
    // The meter polls the answering model's snapshots while a question runs, then keeps the last.
    connect(m_chat, &ChatDock::questionStarted, this, [this] {
        if (!m_chat->modelPath().isEmpty() && !m_chat->isRemote())
            m_kvMeter->setStatsSource([chat = m_chat] { return chat->memoryStats(); });
    });
    connect(m_chat, &ChatDock::prefillProgress, m_kvMeter, &KvMeter::setPrefillProgress);
    connect(m_chat, &ChatDock::answerFinished, this, [this](bool ok) {
        // A remote engine's cache is the server's: the meter shows what its /metrics said after the
        // answer at once, not at the next poll.
        if (m_chat->isRemote()) {
            if (ok)
                m_kvMeter->showRemoteFigures(m_chat->remoteKvFigures());
            return;
        }
        if (!m_kvMeter->isPolling())
            return;
        m_kvMeter->setStatsSource([chat = m_chat] { return chat->memoryStats(); }); // one last poll
        m_kvMeter->clearStatsSource();
    });
    // Every figure of the meter is the loaded cache's: another model, KV mode, context or device
    // makes another cache, so the last one's bytes and speed go.
    connect(m_chat, &ChatDock::modelChanged, m_kvMeter, &KvMeter::reset);
    connect(m_chat, &ChatDock::kvModeChanged, m_kvMeter, &KvMeter::reset);
    connect(m_chat, &ChatDock::contextChanged, m_kvMeter, &KvMeter::reset);
    connect(m_chat, &ChatDock::deviceChanged, m_kvMeter, &KvMeter::reset);
    connect(m_chat, &ChatDock::engineChanged, m_kvMeter, [this](const QString &url) {
        m_kvMeter->reset();
        // A server's figures are polled from its /metrics while it is the engine, also while it answers.
        if (url.isEmpty())
            m_kvMeter->stopServerPolling();
        else
            m_kvMeter->pollServer(url, m_chat->apiKeyFile());
        const QString local = QFileInfo(m_chat->modelPath()).fileName();
        m_kvMeter->setModelName(url.isEmpty() ? local : url);
        m_modelLabel->setText(url.isEmpty() ? (local.isEmpty() ? tr("No model") : local) : tr("Server %1").arg(url));
        m_modelLabel->setToolTip(url.isEmpty() ? m_chat->modelPath() : url);
    });

    connect(m_annotations, &AnnotationsPanel::pageRequested, this,
        [this](qint64 documentId, int page, const QString &quote) {
            openPage(documentId, page, { quote.section(QLatin1Char('\n'), 0, 0) });
        });
    connect(m_pageViewer, &PageViewer::selectionChanged, m_annotations, &AnnotationsPanel::setWordSelection);
    connect(m_annotations, &AnnotationsPanel::annotationsChanged, m_pageViewer, &PageViewer::reloadAnnotations);
    connect(m_pageViewer, &PageViewer::pageChanged, this, &MainWindow::syncAnnotations);
    if (auto *text = m_pageView->findChild<QTextBrowser *>(QStringLiteral("PageText")))
        connect(text, &QTextBrowser::selectionChanged, this, [this, text] {
            const QTextCursor c = text->textCursor();
            m_annotations->setSelection(m_pageView->documentId(), m_pageView->pageNumber(), c.selectionStart(),
                c.selectionEnd() - c.selectionStart(), c.selectedText());
        });
}

void MainWindow::openPage(qint64 documentId, int page, const QStringList &terms)
{
    m_pageView->showPage(documentId, page, terms);
    showPageWidget(m_pageViewer->showPage(documentId, page, terms));
    m_centralTabs->setCurrentIndex(0);
    syncAnnotations();
}

void MainWindow::showTab(QWidget *tab)
{
    if (isReadingMode())
        setReadingMode(false);
    for (QTabWidget *tabs : { m_libraryTabs, m_assistantTabs }) {
        if (tabs->indexOf(tab) < 0)
            continue;
        QDockWidget *panel = tabs == m_libraryTabs ? m_libraryPanel : m_assistantPanel;
        panel->show();
        panel->raise();
        tabs->setCurrentWidget(tab);
    }
}

QWidget *MainWindow::readerArea() const
{
    return m_pages->currentWidget();
}

Workspace MainWindow::captureWorkspace() const
{
    Workspace w;
    w.databasePath = m_workbench ? m_workbench->databasePath() : QString();
    const auto [documentId, page] = currentPage();
    if (m_workbench && documentId > 0) {
        try {
            if (const auto doc = m_workbench->findDocument(documentId)) {
                w.documentSha256 = doc->sha256;
                w.page = page;
            }
        } catch (const std::exception &) {
            // the library went away: save the rest
        }
    }
    if (m_pageViewer->canvas()->zoomMode() == ZoomMode::Free)
        w.zoom = m_pageViewer->canvas()->zoom(); // 0 keeps the fit modes
    w.chatSessionId = m_chat->sessionId();
    w.modelPath = m_chat->modelPath();
    w.kvMode = m_chat->kvMode();
    w.contextTokens = m_chat->contextTokens();
    w.device = app::deviceName(m_chat->device());
    w.engineUrl = m_chat->engineUrl();
    w.engineKeyFile = w.engineUrl.isEmpty() ? QString() : m_chat->apiKeyFile();
    w.engineModel = w.engineUrl.isEmpty() ? QString() : m_chat->remoteModel();
    w.libraryTab = m_libraryTabs->currentWidget()->objectName();
    w.assistantTab = m_assistantTabs->currentWidget()->objectName();
    w.readingMode = isReadingMode();
    w.geometry = saveGeometry();
    w.dockState = saveState(kLayoutVersion);
    return w;
}

void MainWindow::restoreModel(const Workspace &workspace)
{
    // A model on the command line wins; the workspace's KV mode and context come back with the
    // workspace's model (another model may not take them). A model file that went away is not
    // brought back.
    const QString model = m_options.modelPath.isEmpty() ? workspace.modelPath : m_options.modelPath;
    if (m_options.modelPath.isEmpty() && !model.isEmpty() && QFileInfo::exists(model))
        m_chat->setModelPath(model);
    if (!model.isEmpty() && model == workspace.modelPath && m_chat->modelPath() == model) {
        m_chat->setKvMode(workspace.kvMode);
        if (m_options.contextTokens <= 0)
            m_chat->setContextTokens(workspace.contextTokens);
    }
    try {
        if (!workspace.device.isEmpty())
            m_chat->setDevice(app::parseDevice(workspace.device));
    } catch (const Error &) {
        // a device name this version does not know: the default stays
    }
    // A server, like the device, belongs to the machine, not to a model; its model list and
    // /metrics are read on pool threads and it answers with the next question, so an unreachable
    // one costs nothing at start.
    if (!workspace.engineUrl.isEmpty())
        m_chat->setRemoteEngine(workspace.engineUrl, workspace.engineKeyFile, workspace.engineModel);
}

void MainWindow::restoreWorkspace(const Workspace &workspace)
{
    if (!workspace.geometry.isEmpty())
        restoreGeometry(workspace.geometry);
    if (!workspace.dockState.isEmpty())
        m_restoredLayout = restoreState(workspace.dockState, kLayoutVersion);
    for (auto [tabs, name] :
        { std::pair { m_libraryTabs, workspace.libraryTab }, std::pair { m_assistantTabs, workspace.assistantTab } })
        if (QWidget *tab = tabs->findChild<QWidget *>(name, Qt::FindDirectChildrenOnly); tab && tabs->indexOf(tab) >= 0)
            tabs->setCurrentWidget(tab);
        else if (QWidget *nested = tabs->findChild<QWidget *>(name); nested && tabs->indexOf(nested) >= 0)
            tabs->setCurrentWidget(nested);
    if (workspace.readingMode && m_restoredLayout) {
        // The saved layout has both panels hidden already; leaving reading mode opens both.
        const QSignalBlocker block(m_readingModeAction);
        m_readingModeAction->setChecked(true);
        m_libraryWasOpen = m_assistantWasOpen = true;
    }
    if (workspace.chatSessionId > 0)
        m_chat->openSession(workspace.chatSessionId);
    if (!m_workbench || workspace.documentSha256.isEmpty())
        return;
    try {
        if (const auto doc = m_workbench->findDocumentBySha256(workspace.documentSha256)) {
            const int page = std::max(workspace.page, 1);
            m_pageView->showPage(doc->id, page);
            showPageWidget(m_pageViewer->showPage(doc->id, page));
            if (workspace.zoom > 0)
                m_pageViewer->canvas()->setZoom(workspace.zoom);
        }
    } catch (const std::exception &) {
        return; // an unreadable library opens on no page
    }
    syncAnnotations();
}

std::pair<qint64, int> MainWindow::currentPage() const
{
    if (m_pages->currentWidget() == m_pageViewer && m_pageViewer->documentId() > 0)
        return { m_pageViewer->documentId(), m_pageViewer->pageNumber() };
    return { m_pageView->documentId(), m_pageView->pageNumber() };
}

void MainWindow::syncAnnotations()
{
    const auto [documentId, page] = currentPage();
    m_annotations->setCurrentDocument(documentId);
    m_annotations->setCurrentPage(page);
}

void MainWindow::createMenus()
{
    QMenu *file = menuBar()->addMenu(tr("&File"));
    file->setObjectName(QStringLiteral("FileMenu"));
    QAction *addFilesAction = file->addAction(tr("&Add Files…"), QKeySequence::Open, this, &MainWindow::addFiles);
    addFilesAction->setObjectName(QStringLiteral("AddFilesAction"));
    file->addAction(tr("Add &Folder…"), this, &MainWindow::addFolder)->setObjectName(QStringLiteral("AddFolderAction"));
    file->addAction(tr("Add the &Sample Documents"), this, &MainWindow::addSampleDocuments)
        ->setObjectName(QStringLiteral("AddSampleAction"));
    file->addAction(tr("Open &Database…"), this, &MainWindow::chooseDatabase)
        ->setObjectName(QStringLiteral("OpenDatabaseAction"));
    file->addSeparator();
    QAction *quit = file->addAction(tr("&Quit"), QKeySequence::Quit, qApp, &QApplication::quit);
    quit->setObjectName(QStringLiteral("QuitAction"));

    QMenu *edit = menuBar()->addMenu(tr("&Edit"));
    edit->setObjectName(QStringLiteral("EditMenu"));
    QAction *find = edit->addAction(tr("&Search Library"), QKeySequence::Find, this, [this] {
        showTab(m_search);
        m_search->focusSearch();
    });
    find->setObjectName(QStringLiteral("SearchAction"));
    QAction *askAction = edit->addAction(tr("&Ask a Question"), QKeySequence(Qt::CTRL | Qt::Key_L), this, [this] {
        showTab(m_chat);
        m_chat->focusQuestion();
    });
    askAction->setObjectName(QStringLiteral("AskAction"));
    edit->addAction(tr("&Highlight Selection"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_H), m_annotations,
            &AnnotationsPanel::highlightFromSelection)
        ->setObjectName(QStringLiteral("HighlightAction"));
    edit->addAction(tr("&New Chat Session"), m_chat, &ChatDock::newSession)
        ->setObjectName(QStringLiteral("NewSessionAction"));

    QMenu *view = menuBar()->addMenu(tr("&View"));
    view->setObjectName(QStringLiteral("ViewMenu"));
    QAction *libraryToggle = m_libraryPanel->toggleViewAction();
    libraryToggle->setText(tr("&Library Panel"));
    libraryToggle->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_B));
    view->addAction(libraryToggle);
    QAction *assistantToggle = m_assistantPanel->toggleViewAction();
    assistantToggle->setText(tr("&Assistant Panel"));
    assistantToggle->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_J));
    view->addAction(assistantToggle);
    m_readingModeAction = view->addAction(tr("&Reading Mode"));
    m_readingModeAction->setObjectName(QStringLiteral("ReadingModeAction"));
    m_readingModeAction->setCheckable(true);
    m_readingModeAction->setShortcut(QKeySequence(Qt::Key_F9));
    m_readingModeAction->setToolTip(tr("Hide both side panels; the page takes the window (F9 again brings them back)"));
    connect(m_readingModeAction, &QAction::toggled, this, &MainWindow::setReadingMode);
    view->addAction(tr("Reset &Layout"), this, &MainWindow::resetLayout)
        ->setObjectName(QStringLiteral("ResetLayoutAction"));
    view->addSeparator();
    view->addActions(m_pageViewer->zoomActions());
    view->addAction(m_pageViewer->thumbnailsAction());
    m_pageTextAction = view->addAction(tr("Page &Text"), this, [this](bool on) {
        if (m_pages->currentWidget() == m_firstRun)
            return;
        m_pages->setCurrentWidget(
            on || m_pageViewer->pageCount() == 0 ? static_cast<QWidget *>(m_pageView) : m_pageViewer);
    });
    m_pageTextAction->setObjectName(QStringLiteral("PageTextAction"));
    m_pageTextAction->setCheckable(true);
    m_pageTextAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_T));
    view->addSeparator();
    QMenu *themes = view->addMenu(tr("T&heme"));
    themes->setObjectName(QStringLiteral("ThemeMenu"));
    auto *themeGroup = new QActionGroup(themes);
    const Theme saved = savedTheme();
    for (const auto &[theme, title] : { std::pair { Theme::System, tr("Follow &System") },
             std::pair { Theme::Light, tr("&Light") }, std::pair { Theme::Dark, tr("&Dark") } }) {
        const Theme choice = theme; // clang 14 captures no structured binding
        QAction *action = themes->addAction(title, this, [choice] { applyTheme(choice); });
        action->setObjectName(QStringLiteral("Theme_%1").arg(themeName(theme)));
        action->setCheckable(true);
        action->setChecked(theme == saved);
        themeGroup->addAction(action);
    }

    QMenu *go = menuBar()->addMenu(tr("&Go"));
    go->setObjectName(QStringLiteral("GoMenu"));
    const auto rendered = [this] { return m_pages->currentWidget() == m_pageViewer; };
    go->addAction(tr("&Go to Page…"), QKeySequence(Qt::CTRL | Qt::Key_G), this, [this, rendered] {
          rendered() ? m_pageViewer->askGoToPage() : m_pageView->askGoToPage();
      })->setObjectName(QStringLiteral("GoToPageAction"));
    go->addAction(tr("&Next Page"), QKeySequence(Qt::Key_PageDown), this,
        [this, rendered] { rendered() ? m_pageViewer->nextPage() : m_pageView->nextPage(); });
    go->addAction(tr("&Previous Page"), QKeySequence(Qt::Key_PageUp), this,
        [this, rendered] { rendered() ? m_pageViewer->previousPage() : m_pageView->previousPage(); });
    go->addSeparator();
    int key = Qt::Key_1;
    for (QWidget *tab :
        { static_cast<QWidget *>(m_library), static_cast<QWidget *>(m_search), static_cast<QWidget *>(m_annotations),
            static_cast<QWidget *>(m_chat), static_cast<QWidget *>(m_kvMeter) }) {
        QTabWidget *tabs = m_libraryTabs->indexOf(tab) >= 0 ? m_libraryTabs : m_assistantTabs;
        QAction *action = go->addAction(tabs->tabText(tabs->indexOf(tab)), this, [this, tab] { showTab(tab); });
        action->setShortcut(QKeySequence(Qt::ALT | static_cast<Qt::Key>(key++)));
        action->setObjectName(QStringLiteral("Show%1Action").arg(tab->objectName()));
    }

    QMenu *tools = menuBar()->addMenu(tr("&Tools"));
    tools->setObjectName(QStringLiteral("ToolsMenu"));
    QAction *planner = tools->addAction(tr("KV &Planner…"), this, &MainWindow::showKvPlanner);
    planner->setObjectName(QStringLiteral("KvPlannerAction"));
    planner->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_K));
    QAction *needle = tools->addAction(tr("&Needle Lab"), this, &MainWindow::showNeedleLab);
    needle->setObjectName(QStringLiteral("NeedleTestAction"));
    needle->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_N));

    QMenu *help = menuBar()->addMenu(tr("&Help"));
    help->setObjectName(QStringLiteral("HelpMenu"));
    help->addAction(tr("&About Needlework"), this, &MainWindow::showAbout);
}

bool MainWindow::openDatabase(const QString &path)
{
    if (m_library->isIngesting())
        return false; // the ingest writes into the open library
    QString error;
    try {
        m_workbench = std::make_shared<app::Workbench>(path);
    } catch (const Error &e) {
        m_workbench.reset();
        error = tr("Cannot open %1: %2").arg(path, QString::fromUtf8(e.what()));
        log::get("ui")->error("cannot open library {}: {}", path.toStdString(), e.what());
    }
    const bool ok = m_workbench != nullptr;
    m_library->setWorkbench(m_workbench);
    if (!ok)
        m_library->showMessage(error);
    m_search->setWorkbench(m_workbench);
    m_pageView->setWorkbench(m_workbench);
    m_pageViewer->setWorkbench(m_workbench);
    m_chat->setWorkbench(m_workbench);
    m_annotations->setWorkbench(m_workbench);
    if (m_chat->sessionId() > 0)
        m_chat->newSession(); // its session lives in the previous database
    if (ok) {
        m_statusLabel->setText(tr("Library: %1").arg(path));
        m_statusLabel->setToolTip(path);
    }
    updateReader();
    return ok;
}

void MainWindow::updateReader()
{
    const bool empty = !m_workbench || m_library->documentCount() == 0;
    const bool open = m_pageViewer->documentId() > 0 || m_pageView->documentId() > 0;
    if (empty && !open) {
        m_pages->setCurrentWidget(m_firstRun);
    } else if (m_pages->currentWidget() == m_firstRun) {
        const bool text = m_pageTextAction && m_pageTextAction->isChecked();
        m_pages->setCurrentWidget(text || (m_pageViewer->documentId() == 0 && m_pageView->documentId() > 0)
                ? static_cast<QWidget *>(m_pageView)
                : m_pageViewer);
    }
}

void MainWindow::addFiles()
{
    const QStringList files = QFileDialog::getOpenFileNames(
        this, tr("Add Files to the Library"), QString(), tr("Documents (*.pdf *.txt *.md *.markdown);;All files (*)"));
    if (!files.isEmpty() && m_library->ingest(files))
        m_firstRun->setBusy(true, tr("Adding %n file(s)…", nullptr, int(files.size())));
}

void MainWindow::addFolder()
{
    const QString folder = QFileDialog::getExistingDirectory(this, tr("Add a Folder to the Library"));
    if (!folder.isEmpty() && m_library->ingest({ folder }))
        m_firstRun->setBusy(true, tr("Adding %1…").arg(folder));
}

void MainWindow::addSampleDocuments()
{
    QStringList pdfs;
    try {
        pdfs = app::writeSamplePdfs(app::defaultSampleDirectory());
    } catch (const Error &e) {
        m_library->showMessage(tr("Cannot write the sample documents: %1").arg(QString::fromUtf8(e.what())));
        return;
    }
    if (m_library->ingest(pdfs, QStringLiteral("Sample")))
        m_firstRun->setBusy(true, tr("Adding %n sample document(s)…", nullptr, int(pdfs.size())));
}

void MainWindow::chooseDatabase()
{
    const QString path
        = QFileDialog::getSaveFileName(this, tr("Open Database"), m_workbench ? m_workbench->databasePath() : QString(),
            tr("Needlework library (*.sqlite *.db);;All files (*)"), nullptr, QFileDialog::DontConfirmOverwrite);
    if (!path.isEmpty())
        openDatabase(path);
}

KvPlanner *MainWindow::kvPlanner()
{
    if (!m_kvPlanner)
        m_kvPlanner = new KvPlanner(this);
    return m_kvPlanner;
}

void MainWindow::showKvPlanner()
{
    KvPlanner *planner = kvPlanner();
    const QString model = m_chat->modelPath();
    if (!model.isEmpty()) {
        try {
            planner->setLoadedModel(QFileInfo(model).fileName(), app::kvPlanModel(model));
            // The context the chat asks for, else the one the loaded model runs with.
            qint64 context = m_chat->contextTokens();
            if (context <= 0 && m_workbench && m_workbench->modelStatus().loaded)
                context = m_workbench->modelStatus().contextTokens;
            if (context > 0)
                planner->setContextTokens(context);
        } catch (const Error &e) {
            planner->setMessage(tr("Cannot read %1: %2").arg(QFileInfo(model).fileName(), QString::fromUtf8(e.what())));
        }
    }
    planner->show();
    planner->raise();
    planner->activateWindow();
}

NeedleView *MainWindow::needleView()
{
    if (!m_needleView) {
        auto *scroll = new QScrollArea(this);
        scroll->setObjectName(QStringLiteral("NeedleLab"));
        scroll->setWidgetResizable(true);
        scroll->setFrameShape(QFrame::NoFrame);
        m_needleView = new NeedleView(scroll);
        m_needleView->setModelPathSource([this] { return m_chat->modelPath(); });
        m_needleView->setDatabasePathSource([this] { return m_workbench ? m_workbench->databasePath() : QString(); });
        scroll->setWidget(m_needleView);
        m_needleTab = scroll;
    }
    return m_needleView;
}

void MainWindow::showNeedleLab()
{
    needleView();
    if (m_centralTabs->indexOf(m_needleTab) < 0)
        m_centralTabs->addTab(m_needleTab, tr("Needle Lab"));
    m_centralTabs->setCurrentWidget(m_needleTab);
    m_needleView->runButton()->setFocus(Qt::ShortcutFocusReason);
}

bool MainWindow::isReadingMode() const
{
    return m_readingModeAction && m_readingModeAction->isChecked();
}

void MainWindow::setReadingMode(bool on)
{
    if (m_readingModeAction->isChecked() != on) {
        m_readingModeAction->setChecked(on); // toggled() calls back here with the action in step
        return;
    }
    if (on) {
        m_libraryWasOpen = m_libraryPanel->isVisible();
        m_assistantWasOpen = m_assistantPanel->isVisible();
        m_libraryPanel->hide();
        m_assistantPanel->hide();
    } else {
        m_libraryPanel->setVisible(m_libraryWasOpen || !m_assistantWasOpen);
        m_assistantPanel->setVisible(m_assistantWasOpen || !m_libraryWasOpen);
    }
}

void MainWindow::resetLayout()
{
    if (isReadingMode())
        setReadingMode(false);
    for (QDockWidget *panel : { m_libraryPanel, m_assistantPanel }) {
        panel->setFloating(false);
        panel->show();
    }
    addDockWidget(Qt::LeftDockWidgetArea, m_libraryPanel);
    addDockWidget(Qt::RightDockWidgetArea, m_assistantPanel);
    m_libraryTabs->setCurrentIndex(0);
    m_assistantTabs->setCurrentIndex(0);
    m_pageViewer->thumbnailsAction()->setChecked(true);
    if (const QScreen *s = screen()) {
        const QRect available = s->availableGeometry();
        resize(std::min(1280, available.width() * 9 / 10), std::min(800, available.height() * 9 / 10));
    }
    const int w = width();
    resizeDocks({ m_libraryPanel, m_assistantPanel },
        { std::max(kPanelMinimumWidth, int(w * kLibraryShare)),
            std::max(kPanelMinimumWidth, int(w * kAssistantShare)) },
        Qt::Horizontal);
    m_laidOut = true;
    fitToScreen();
}

void MainWindow::fitToScreen()
{
    const QScreen *s = screen();
    if (!s)
        return;
    const QRect available = s->availableGeometry();
    const QSize frame = frameGeometry().size() - geometry().size(); // the window manager's decoration
    const QSize room = available.size() - frame;
    const QSize fitted = size().boundedTo(room);
    if (fitted != size())
        resize(fitted);
    QRect placed = frameGeometry();
    if (!available.contains(placed)) {
        placed.moveLeft(std::clamp(
            placed.left(), available.left(), std::max(available.left(), available.right() - placed.width() + 1)));
        placed.moveTop(std::clamp(
            placed.top(), available.top(), std::max(available.top(), available.bottom() - placed.height() + 1)));
        move(placed.topLeft());
    }
}

void MainWindow::showEvent(QShowEvent *event)
{
    QMainWindow::showEvent(event);
    if (!m_laidOut) {
        m_laidOut = true;
        if (!m_restoredLayout) {
            const int w = width();
            resizeDocks({ m_libraryPanel, m_assistantPanel },
                { std::max(kPanelMinimumWidth, int(w * kLibraryShare)),
                    std::max(kPanelMinimumWidth, int(w * kAssistantShare)) },
                Qt::Horizontal);
        }
    }
    fitToScreen();
}

void MainWindow::dragEnterEvent(QDragEnterEvent *event)
{
    if (event->mimeData()->hasUrls())
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent *event)
{
    QStringList paths;
    for (const QUrl &url : event->mimeData()->urls())
        if (url.isLocalFile())
            paths << url.toLocalFile();
    if (!paths.isEmpty() && m_library->ingest(paths)) {
        event->acceptProposedAction();
        m_firstRun->setBusy(true, tr("Adding %n item(s)…", nullptr, int(paths.size())));
    }
}

void MainWindow::showPageWidget(bool rendered)
{
    const bool text = !rendered || (m_pageTextAction && m_pageTextAction->isChecked());
    m_pages->setCurrentWidget(text ? static_cast<QWidget *>(m_pageView) : m_pageViewer);
}

void MainWindow::showAbout()
{
    QMessageBox::about(this, tr("About Needlework"),
        tr("<b>Needlework %1</b><p>Question long documents with a local language model "
           "whose attention keeps a compressed KV cache.</p>")
            .arg(QStringLiteral(NW_VERSION)));
}

} // namespace nw::ui
