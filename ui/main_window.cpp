// The main window's frame. The docks hold placeholders until their views land (issue 8).
#include "ui/main_window.h"

#include "app/paths.h"

#include <QApplication>
#include <QDockWidget>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QStatusBar>

namespace nw::ui {

MainWindow::MainWindow(const MainWindowOptions &options, QWidget *parent)
    : QMainWindow(parent), m_options(options)
{
    setObjectName(QStringLiteral("MainWindow"));
    setWindowTitle(tr("Needlework"));
    resize(1280, 800);

    auto *viewer = new QLabel(tr("Open a document from the Library to read it here."), this);
    viewer->setObjectName(QStringLiteral("PageViewerPlaceholder"));
    viewer->setAlignment(Qt::AlignCenter);
    setCentralWidget(viewer);

    m_libraryDock = createDock(tr("Library"), QStringLiteral("LibraryDock"),
                               tr("Documents and collections will be listed here."), Qt::LeftDockWidgetArea);
    m_chatDock = createDock(tr("Chat"), QStringLiteral("ChatDock"),
                            tr("Ask questions about your documents here."), Qt::RightDockWidgetArea);
    m_kvMeterDock = createDock(tr("KV Meter"), QStringLiteral("KvMeterDock"),
                               tr("KV cache memory will be shown here while a model runs."), Qt::RightDockWidgetArea);
    createMenus();

    const QString database = m_options.databasePath.isEmpty() ? app::defaultDatabasePath() : m_options.databasePath;
    m_statusLabel = new QLabel(tr("Library: %1").arg(database), this);
    statusBar()->addWidget(m_statusLabel, 1);
    statusBar()->addPermanentWidget(new QLabel(m_options.modelPath.isEmpty() ? tr("No model") : m_options.modelPath, this));
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
    QAction *quit = file->addAction(tr("&Quit"), QKeySequence::Quit, qApp, &QApplication::quit);
    quit->setObjectName(QStringLiteral("QuitAction"));

    QMenu *view = menuBar()->addMenu(tr("&View"));
    view->setObjectName(QStringLiteral("ViewMenu"));
    for (QDockWidget *dock : {m_libraryDock, m_chatDock, m_kvMeterDock})
        view->addAction(dock->toggleViewAction());

    QMenu *help = menuBar()->addMenu(tr("&Help"));
    help->setObjectName(QStringLiteral("HelpMenu"));
    help->addAction(tr("&About Needlework"), this, &MainWindow::showAbout);
}

void MainWindow::showAbout()
{
    QMessageBox::about(this, tr("About Needlework"),
                       tr("<b>Needlework %1</b><p>Question long documents with a local language model "
                          "whose attention keeps a compressed KV cache.</p>")
                           .arg(QStringLiteral(NW_VERSION)));
}

} // namespace nw::ui
