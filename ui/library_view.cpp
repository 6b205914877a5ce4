// The library view reads through the workbench on the GUI thread (short reads) and runs ingest
// on a thread of its own (the workbench opens a connection for it there).
#include "ui/library_view.h"

#include "common/error.h"
#include "common/log.h"

#include <QDragEnterEvent>
#include <QDropEvent>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QMimeData>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QSplitter>
#include <QThread>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace nw::ui {

namespace {
constexpr int kDocumentRole = Qt::UserRole + 1;
} // namespace

LibraryView::LibraryView(QWidget *parent)
    : QWidget(parent)
{
    setObjectName(QStringLiteral("LibraryView"));
    setAcceptDrops(true);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);

    auto *splitter = new QSplitter(Qt::Vertical, this);
    m_tree = new QTreeWidget(splitter);
    m_tree->setObjectName(QStringLiteral("DocumentTree"));
    m_tree->setHeaderLabels({ tr("Document"), tr("Pages") });
    m_tree->header()->setStretchLastSection(false);
    m_tree->header()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_tree->header()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
    m_tree->setTextElideMode(Qt::ElideMiddle); // "GNU Lesser … (LGPL-3.pdf)": both ends tell documents apart
    m_errors = new QListWidget(splitter);
    m_errors->setObjectName(QStringLiteral("IngestErrors"));
    m_errors->setToolTip(tr("Files that could not be ingested"));
    splitter->setStretchFactor(0, 4);
    splitter->setStretchFactor(1, 1);
    layout->addWidget(splitter, 1);

    auto *addRow = new QHBoxLayout;
    m_addFiles = new QPushButton(tr("Add Files…"), this);
    m_addFiles->setObjectName(QStringLiteral("LibraryAddFiles"));
    m_addFolder = new QPushButton(tr("Add Folder…"), this);
    m_addFolder->setObjectName(QStringLiteral("LibraryAddFolder"));
    addRow->addWidget(m_addFiles);
    addRow->addWidget(m_addFolder);
    addRow->addStretch(1);
    layout->addLayout(addRow);

    auto *jobRow = new QHBoxLayout;
    m_progress = new QProgressBar(this);
    m_progress->setObjectName(QStringLiteral("IngestProgress"));
    m_cancel = new QPushButton(tr("Cancel"), this);
    m_cancel->setObjectName(QStringLiteral("IngestCancel"));
    jobRow->addWidget(m_progress, 1);
    jobRow->addWidget(m_cancel);
    layout->addLayout(jobRow);
    m_status = new QLabel(this);
    m_status->setObjectName(QStringLiteral("LibraryStatus"));
    m_status->setWordWrap(true);
    layout->addWidget(m_status);
    m_progress->hide();
    m_cancel->hide();
    connect(m_cancel, &QPushButton::clicked, this, &LibraryView::cancelIngest);

    connect(m_tree, &QTreeWidget::itemActivated, this, [this](QTreeWidgetItem *item) {
        if (item && item->data(0, kDocumentRole).isValid())
            emit pageRequested(item->data(0, kDocumentRole).toLongLong(), 1, {});
    });
}

LibraryView::~LibraryView()
{
    if (m_thread) {
        cancelIngest();
        m_thread->wait();
    }
}

void LibraryView::setWorkbench(std::shared_ptr<app::Workbench> workbench)
{
    m_workbench = std::move(workbench);
    refresh();
    if (m_workbench)
        m_status->setText(tr("Library: %1").arg(m_workbench->databasePath()));
}

void LibraryView::showMessage(const QString &text)
{
    m_status->setText(text);
}

void LibraryView::refresh()
{
    m_tree->clear();
    m_errors->clear();
    m_documentCount = 0;
    if (!m_workbench) {
        emit refreshed();
        return;
    }
    try {
        const QHash<std::int64_t, QString> titles = m_workbench->documentTitles();
        const auto addDocuments = [&](QTreeWidgetItem *parent, const std::vector<app::DocumentInfo> &docs) {
            for (const app::DocumentInfo &d : docs) {
                auto *item = new QTreeWidgetItem(parent);
                item->setText(0, titles.value(d.id, d.path.section(QLatin1Char('/'), -1)));
                // Where it is (a message of a mailbox, an attachment) and, for an email, who sent it when.
                QString where = QStringLiteral("%1\n%2").arg(item->text(0), d.path);
                if (!d.part.isEmpty())
                    where += QLatin1Char('\n') + d.part;
                if (d.message)
                    where += tr("\nFrom %1, %2").arg(d.message->from, d.message->date);
                item->setToolTip(0, where);
                item->setText(1, QString::number(d.pageCount));
                // A scan says so, with how sure the recognition was.
                if (d.ocrPages > 0) {
                    item->setText(1, tr("%1 · OCR %2%").arg(d.pageCount).arg(qRound(d.ocrConfidence)));
                    item->setToolTip(1,
                        tr("%1 of %2 pages recognised from their image (OCR), mean confidence %3%")
                            .arg(d.ocrPages)
                            .arg(d.pageCount)
                            .arg(qRound(d.ocrConfidence)));
                }
                item->setTextAlignment(1, Qt::AlignRight | Qt::AlignVCenter);
                item->setData(0, kDocumentRole, QVariant::fromValue<qint64>(d.id));
            }
        };
        auto *all = new QTreeWidgetItem(m_tree, { tr("All documents") });
        const std::vector<app::DocumentInfo> documents = m_workbench->documents();
        m_documentCount = static_cast<int>(documents.size());
        addDocuments(all, documents);
        all->setText(1, QString::number(all->childCount()));
        for (const app::CollectionInfo &c : m_workbench->collections()) {
            auto *item = new QTreeWidgetItem(m_tree, { c.name, QString::number(c.documentCount) });
            addDocuments(item, m_workbench->documents(c.name));
        }
        all->setExpanded(true);
        for (const app::IngestErrorRecord &e : m_workbench->ingestErrors())
            m_errors->addItem(tr("%1: %2 (%3)").arg(e.path.section(QLatin1Char('/'), -1), e.reason, e.kind));
        m_errors->setVisible(m_errors->count() > 0);
    } catch (const Error &e) {
        m_status->setText(tr("Cannot read the library: %1").arg(QString::fromUtf8(e.what())));
    }
    emit refreshed();
}

bool LibraryView::ingest(const QStringList &paths, const QString &collection)
{
    if (m_thread || !m_workbench || paths.isEmpty())
        return false;
    m_cancelFlag = std::make_shared<std::atomic<bool>>(false);
    m_progress->setRange(0, 0);
    m_progress->show();
    m_cancel->show();
    m_cancel->setEnabled(true);
    m_status->setText(tr("Ingesting %n item(s)…", nullptr, int(paths.size())));
    const auto cancelFlag = m_cancelFlag;
    QPointer<LibraryView> self(this);
    m_thread = QThread::create([workbench = m_workbench, paths, collection, cancelFlag, self] {
        int added = 0, failed = 0;
        bool cancelled = false;
        QString error;
        try {
            const auto progress = [self](const app::IngestProgress &p) {
                QMetaObject::invokeMethod(
                    self,
                    [self, p] {
                        if (self)
                            self->showIngestProgress(p.filesDone, p.filesTotal, p.pagesStored, p.currentFile);
                    },
                    Qt::QueuedConnection);
            };
            app::IngestOptions options;
            options.collection = collection;
            const app::IngestSummary summary = workbench->ingest(paths, progress, cancelFlag.get(), options);
            added = summary.added + summary.replaced;
            failed = summary.failed;
            cancelled = summary.cancelled;
        } catch (const std::exception &e) {
            error = QString::fromUtf8(e.what());
            log::get("ui")->error("ingest failed: {}", e.what());
        }
        QMetaObject::invokeMethod(
            self,
            [self, added, failed, cancelled, error] {
                if (self)
                    self->finishIngest(added, failed, cancelled, error);
            },
            Qt::QueuedConnection);
    });
    m_thread->start();
    return true;
}

void LibraryView::cancelIngest()
{
    if (m_cancelFlag)
        m_cancelFlag->store(true);
    m_cancel->setEnabled(false);
}

void LibraryView::showIngestProgress(int filesDone, int filesTotal, qint64 pages, const QString &file)
{
    m_progress->setRange(0, std::max(filesTotal, 1));
    m_progress->setValue(filesDone);
    m_progress->setFormat(tr("%1 / %2 files, %3 pages").arg(filesDone).arg(filesTotal).arg(pages));
    if (!file.isEmpty())
        m_status->setText(file.section(QLatin1Char('/'), -1));
}

void LibraryView::finishIngest(int added, int failed, bool cancelled, const QString &error)
{
    if (m_thread) {
        m_thread->wait();
        m_thread->deleteLater();
        m_thread = nullptr;
    }
    m_progress->hide();
    m_cancel->hide();
    refresh();
    if (!error.isEmpty())
        m_status->setText(tr("Ingest failed: %1").arg(error));
    else
        m_status->setText(cancelled ? tr("Ingest cancelled: %1 added, %2 failed.").arg(added).arg(failed)
                                    : tr("Ingested: %1 added, %2 failed.").arg(added).arg(failed));
    emit ingestFinished(added, failed, cancelled);
}

void LibraryView::dragEnterEvent(QDragEnterEvent *event)
{
    if (event->mimeData()->hasUrls())
        event->acceptProposedAction();
}

void LibraryView::dropEvent(QDropEvent *event)
{
    QStringList paths;
    for (const QUrl &url : event->mimeData()->urls())
        if (url.isLocalFile())
            paths << url.toLocalFile();
    if (ingest(paths))
        event->acceptProposedAction();
}

} // namespace nw::ui
