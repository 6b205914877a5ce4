// The main window's frame: the Library dock (search, ingest), the page view, the Chat dock
// (citation chips open the cited passage in the page view), the KV Meter dock and the KV planner.
#include "ui/main_window.h"

#include "app/paths.h"
#include "common/error.h"
#include "common/log.h"
#include "ui/annotations_panel.h"
#include "ui/chat_dock.h"
#include "ui/kv_meter.h"
#include "ui/kv_planner.h"
#include "ui/library_view.h"
#include "ui/needle_view.h"
#include "ui/page_text_view.h"
#include "ui/page_viewer.h"
#include "ui/theme.h"

#include <QActionGroup>
#include <QFileDialog>
#include <QFileInfo>
#include <QTextBrowser>

#include <QApplication>
#include <QDockWidget>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QStackedWidget>
#include <QStatusBar>

#include <algorithm>

namespace nw::ui {

MainWindow::MainWindow(const MainWindowOptions &options, QWidget *parent)
    : QMainWindow(parent), m_options(options)
{
    setObjectName(QStringLiteral("MainWindow"));
    setWindowTitle(tr("Needlework"));
    resize(1280, 800);

    // The rendered pages, or the stored text for documents without a PDF (and on request).
    m_pageView = new PageTextView(this);
    m_pageViewer = new PageViewer(this);
    m_pages = new QStackedWidget(this);
    m_pages->addWidget(m_pageViewer);
    m_pages->addWidget(m_pageView);
    setCentralWidget(m_pages);

    m_libraryDock = createDock(tr("Library"), QStringLiteral("LibraryDock"), QString(), Qt::LeftDockWidgetArea);
    m_library = new LibraryView(m_libraryDock);
    m_libraryDock->setWidget(m_library);
    connect(m_library, &LibraryView::pageRequested, m_pageView,
            [this](qint64 documentId, int page, const QStringList &terms) {
                m_pageView->showPage(documentId, page, terms);
                showPageWidget(m_pageViewer->showPage(documentId, page, terms));
            });
    connect(m_library, &LibraryView::ingestFinished, this, [this] {
        m_pageView->setWorkbench(m_workbench);
        m_pageViewer->setWorkbench(m_workbench);
    });
    m_chatDock = createDock(tr("Chat"), QStringLiteral("ChatDock"), QString(), Qt::RightDockWidgetArea);
    m_chat = new ChatDock(m_chatDock);
    m_chat->setModelPath(m_options.modelPath, m_options.contextTokens);
    m_chatDock->setWidget(m_chat);
    connect(m_chat, &ChatDock::citationActivated, m_pageView,
            [this](qint64 documentId, int page, int start, int length) {
                m_pageView->showPassage(documentId, page, start, length);
                showPageWidget(m_pageViewer->showPassage(documentId, page, start, length));
            });
    m_kvMeterDock = createDock(tr("KV Meter"), QStringLiteral("KvMeterDock"), QString(), Qt::RightDockWidgetArea);
    m_kvMeter = new KvMeter(m_kvMeterDock);
    m_kvMeterDock->setWidget(m_kvMeter);
    // The meter polls the answering model's snapshots while a question runs, then keeps the last.
    connect(m_chat, &ChatDock::questionStarted, this, [this] {
        if (!m_chat->modelPath().isEmpty())
            m_kvMeter->setStatsSource([chat = m_chat] { return chat->memoryStats(); });
    });
    connect(m_chat, &ChatDock::prefillProgress, m_kvMeter, &KvMeter::setPrefillProgress);
    connect(m_chat, &ChatDock::answerFinished, this, [this] {
        if (!m_kvMeter->isPolling())
            return;
        m_kvMeter->setStatsSource([chat = m_chat] { return chat->memoryStats(); }); // one last poll
        m_kvMeter->clearStatsSource();
    });

    m_annotationsDock = createDock(tr("Annotations"), QStringLiteral("AnnotationsDock"), QString(), Qt::LeftDockWidgetArea);
    m_annotations = new AnnotationsPanel(m_annotationsDock);
    m_annotationsDock->setWidget(m_annotations);
    connect(m_annotations, &AnnotationsPanel::pageRequested, this,
            [this](qint64 documentId, int page, const QString &quote) {
                const QStringList terms{quote.section(QLatin1Char('\n'), 0, 0)};
                m_pageView->showPage(documentId, page, terms);
                showPageWidget(m_pageViewer->showPage(documentId, page, terms));
                syncAnnotations();
            });
    connect(m_pageViewer, &PageViewer::selectionChanged, m_annotations, &AnnotationsPanel::setWordSelection);
    connect(m_annotations, &AnnotationsPanel::annotationsChanged, m_pageViewer, &PageViewer::reloadAnnotations);
    connect(m_pageViewer, &PageViewer::pageChanged, this, &MainWindow::syncAnnotations);
    connect(m_library, &LibraryView::pageRequested, this, &MainWindow::syncAnnotations);
    connect(m_chat, &ChatDock::citationActivated, this, &MainWindow::syncAnnotations);
    if (auto *text = m_pageView->findChild<QTextBrowser *>(QStringLiteral("PageText")))
        connect(text, &QTextBrowser::selectionChanged, this, [this, text] {
            const QTextCursor c = text->textCursor();
            m_annotations->setSelection(m_pageView->documentId(), m_pageView->pageNumber(), c.selectionStart(),
                                        c.selectionEnd() - c.selectionStart(), c.selectedText());
        });
    createMenus();
    applyTheme(savedTheme());

    const WindowSession last = loadWindowSession();
    QString database = m_options.databasePath;
    if (database.isEmpty())
        database = !last.databasePath.isEmpty() && QFileInfo::exists(last.databasePath) ? last.databasePath
                                                                                      : app::defaultDatabasePath();
    m_statusLabel = new QLabel(tr("Library: %1").arg(database), this);
    statusBar()->addWidget(m_statusLabel, 1);
    openDatabase(database);
    m_modelLabel = new QLabel(this);
    statusBar()->addPermanentWidget(m_modelLabel);
    const auto showModel = [this](const QString &path) {
        m_modelLabel->setText(path.isEmpty() ? tr("No model") : path);
        m_kvMeter->setModelName(path);
    };
    showModel(m_chat->modelPath());
    connect(m_chat, &ChatDock::modelChanged, this, showModel);
    restoreModel(last);
    if (QFileInfo(last.databasePath) == QFileInfo(database))
        restoreSession(last);
    m_autosave = new SessionAutosave([this] { return captureSession(); }, this);
    m_autosave->start();
}

MainWindow::~MainWindow()
{
    m_autosave->saveNow(); // the docks are still alive here; a kill loses only the last interval
}

WindowSession MainWindow::captureSession() const
{
    WindowSession s;
    s.databasePath = m_workbench ? m_workbench->databasePath() : QString();
    const auto [documentId, page] = currentPage();
    if (m_workbench && documentId > 0) {
        try {
            if (const auto doc = m_workbench->findDocument(documentId)) {
                s.documentSha256 = doc->sha256;
                s.page = page;
            }
        } catch (const std::exception &) {
            // the library went away: save the rest
        }
    }
    if (m_pageViewer->canvas()->zoomMode() == ZoomMode::Free)
        s.zoom = m_pageViewer->canvas()->zoom(); // 0 keeps the fit modes
    s.chatSessionId = m_chat->sessionId();
    s.modelPath = m_chat->modelPath();
    s.kvMode = m_chat->kvMode();
    s.device = app::deviceName(m_chat->device());
    s.geometry = saveGeometry();
    s.dockState = saveState();
    return s;
}

void MainWindow::restoreModel(const WindowSession &session)
{
    // A model on the command line wins; the session's KV mode comes back with the session's model
    // (another model may not take it). A model file that went away is not brought back.
    const QString model = m_options.modelPath.isEmpty() ? session.modelPath : m_options.modelPath;
    if (m_options.modelPath.isEmpty() && !model.isEmpty() && QFileInfo::exists(model))
        m_chat->setModelPath(model, m_options.contextTokens);
    if (!model.isEmpty() && model == session.modelPath && m_chat->modelPath() == model)
        m_chat->setKvMode(session.kvMode);
    try {
        if (!session.device.isEmpty())
            m_chat->setDevice(app::parseDevice(session.device));
    } catch (const Error &) {
        // a device name this version does not know: the default stays
    }
}

void MainWindow::restoreSession(const WindowSession &session)
{
    if (!session.geometry.isEmpty())
        restoreGeometry(session.geometry);
    if (!session.dockState.isEmpty())
        restoreState(session.dockState);
    if (session.chatSessionId > 0)
        m_chat->openSession(session.chatSessionId);
    if (!m_workbench || session.documentSha256.isEmpty())
        return;
    try {
        if (const auto doc = m_workbench->findDocumentBySha256(session.documentSha256)) {
            const int page = std::max(session.page, 1);
            m_pageView->showPage(doc->id, page);
            showPageWidget(m_pageViewer->showPage(doc->id, page));
            if (session.zoom > 0)
                m_pageViewer->canvas()->setZoom(session.zoom);
        }
    } catch (const std::exception &) {
        return; // an unreadable library opens on no page
    }
    syncAnnotations();
}

std::pair<qint64, int> MainWindow::currentPage() const
{
    if (m_pages->currentWidget() == m_pageViewer && m_pageViewer->documentId() > 0)
        return {m_pageViewer->documentId(), m_pageViewer->pageNumber()};
    return {m_pageView->documentId(), m_pageView->pageNumber()};
}

void MainWindow::syncAnnotations()
{
    const auto [documentId, page] = currentPage();
    m_annotations->setCurrentDocument(documentId);
    m_annotations->setCurrentPage(page);
}

QDockWidget *MainWindow::createDock(const QString &title, const QString &objectName, const QString &placeholder,
                                    Qt::DockWidgetArea area)
{
    auto *dock = new QDockWidget(title, this);
    dock->setObjectName(objectName);
    auto *label = new QLabel(placeholder, dock);
    label->setWordWrap(true);
    label->setAlignment(Qt::AlignCenter);
    label->setMargin(12);
    dock->setWidget(label);
    addDockWidget(area, dock);
    return dock;
}

void MainWindow::createMenus()
{
    QMenu *file = menuBar()->addMenu(tr("&File"));
    file->setObjectName(QStringLiteral("FileMenu"));
    QAction *addFilesAction = file->addAction(tr("&Add Files…"), QKeySequence::Open, this, &MainWindow::addFiles);
    addFilesAction->setObjectName(QStringLiteral("AddFilesAction"));
    file->addAction(tr("Add &Folder…"), this, &MainWindow::addFolder)->setObjectName(QStringLiteral("AddFolderAction"));
    file->addAction(tr("Open &Database…"), this, &MainWindow::chooseDatabase)
        ->setObjectName(QStringLiteral("OpenDatabaseAction"));
    file->addSeparator();
    QAction *quit = file->addAction(tr("&Quit"), QKeySequence::Quit, qApp, &QApplication::quit);
    quit->setObjectName(QStringLiteral("QuitAction"));

    QMenu *edit = menuBar()->addMenu(tr("&Edit"));
    edit->setObjectName(QStringLiteral("EditMenu"));
    QAction *find = edit->addAction(tr("&Search Library"), QKeySequence::Find, m_library, &LibraryView::focusSearch);
    find->setObjectName(QStringLiteral("SearchAction"));
    QAction *askAction = edit->addAction(tr("&Ask a Question"), QKeySequence(Qt::CTRL | Qt::Key_L), this, [this] {
        m_chatDock->show();
        m_chatDock->raise();
        m_chat->focusQuestion();
    });
    askAction->setObjectName(QStringLiteral("AskAction"));
    edit->addAction(tr("&Highlight Selection"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_H), m_annotations,
                    &AnnotationsPanel::highlightFromSelection)
        ->setObjectName(QStringLiteral("HighlightAction"));
    edit->addAction(tr("&New Chat Session"), m_chat, &ChatDock::newSession)->setObjectName(QStringLiteral("NewSessionAction"));

    QMenu *view = menuBar()->addMenu(tr("&View"));
    view->setObjectName(QStringLiteral("ViewMenu"));
    for (QDockWidget *dock : {m_libraryDock, m_annotationsDock, m_chatDock, m_kvMeterDock})
        view->addAction(dock->toggleViewAction());
    view->addSeparator();
    view->addActions(m_pageViewer->zoomActions());
    m_pageTextAction = view->addAction(tr("Page &Text"), this, [this](bool on) {
        m_pages->setCurrentWidget(on || m_pageViewer->pageCount() == 0 ? static_cast<QWidget *>(m_pageView) : m_pageViewer);
    });
    m_pageTextAction->setObjectName(QStringLiteral("PageTextAction"));
    m_pageTextAction->setCheckable(true);
    m_pageTextAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_T));
    view->addSeparator();
    QMenu *themes = view->addMenu(tr("&Theme"));
    themes->setObjectName(QStringLiteral("ThemeMenu"));
    auto *themeGroup = new QActionGroup(themes);
    const Theme saved = savedTheme();
    for (const auto &[theme, title] : {std::pair{Theme::System, tr("Follow &System")}, std::pair{Theme::Light, tr("&Light")},
                                       std::pair{Theme::Dark, tr("&Dark")}}) {
        QAction *action = themes->addAction(title, this, [theme] { applyTheme(theme); });
        action->setObjectName(QStringLiteral("Theme_%1").arg(themeName(theme)));
        action->setCheckable(true);
        action->setChecked(theme == saved);
        themeGroup->addAction(action);
    }

    QMenu *go = menuBar()->addMenu(tr("&Go"));
    go->setObjectName(QStringLiteral("GoMenu"));
    const auto rendered = [this] { return m_pages->currentWidget() == m_pageViewer; };
    go->addAction(tr("&Go to Page…"), QKeySequence(Qt::CTRL | Qt::Key_G), this,
                  [this, rendered] { rendered() ? m_pageViewer->askGoToPage() : m_pageView->askGoToPage(); })
        ->setObjectName(QStringLiteral("GoToPageAction"));
    go->addAction(tr("&Next Page"), QKeySequence(Qt::Key_PageDown), this,
                  [this, rendered] { rendered() ? m_pageViewer->nextPage() : m_pageView->nextPage(); });
    go->addAction(tr("&Previous Page"), QKeySequence(Qt::Key_PageUp), this,
                  [this, rendered] { rendered() ? m_pageViewer->previousPage() : m_pageView->previousPage(); });

    QMenu *tools = menuBar()->addMenu(tr("&Tools"));
    tools->setObjectName(QStringLiteral("ToolsMenu"));
    QAction *planner = tools->addAction(tr("KV &Planner…"), this, &MainWindow::showKvPlanner);
    planner->setObjectName(QStringLiteral("KvPlannerAction"));
    planner->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_K));
    installNeedleView(*this, *tools, [this] { return m_chat->modelPath(); }, [this] { return m_workbench ? m_workbench->databasePath() : QString(); });

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
    m_pageView->setWorkbench(m_workbench);
    m_pageViewer->setWorkbench(m_workbench);
    m_chat->setWorkbench(m_workbench);
    m_annotations->setWorkbench(m_workbench);
    if (m_chat->sessionId() > 0)
        m_chat->newSession(); // its session lives in the previous database
    if (ok)
        m_statusLabel->setText(tr("Library: %1").arg(path));
    return ok;
}

void MainWindow::addFiles()
{
    const QStringList files = QFileDialog::getOpenFileNames(this, tr("Add Files to the Library"), QString(),
                                                            tr("Documents (*.pdf *.txt *.md *.markdown);;All files (*)"));
    if (!files.isEmpty())
        m_library->ingest(files);
}

void MainWindow::addFolder()
{
    const QString folder = QFileDialog::getExistingDirectory(this, tr("Add a Folder to the Library"));
    if (!folder.isEmpty())
        m_library->ingest({folder});
}

void MainWindow::chooseDatabase()
{
    const QString path = QFileDialog::getSaveFileName(this, tr("Open Database"), m_workbench ? m_workbench->databasePath() : QString(),
                                                      tr("Needlework library (*.sqlite *.db);;All files (*)"), nullptr,
                                                      QFileDialog::DontConfirmOverwrite);
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
    kvPlanner()->show();
    kvPlanner()->raise();
    kvPlanner()->activateWindow();
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
