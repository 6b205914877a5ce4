// A dashed drop frame around three buttons; the frame turns the highlight colour while files are
// dragged over it.
#include "ui/first_run_view.h"

#include <QDragEnterEvent>
#include <QDropEvent>
#include <QLabel>
#include <QMimeData>
#include <QPainter>
#include <QPushButton>
#include <QVBoxLayout>

namespace nw::ui {

FirstRunView::FirstRunView(QWidget *parent)
    : QWidget(parent)
{
    setObjectName(QStringLiteral("FirstRunView"));
    setAcceptDrops(true);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(32, 32, 32, 32);
    layout->addStretch(1);
    auto *title = new QLabel(tr("Start your library"), this);
    QFont big = title->font();
    big.setPointSizeF(big.pointSizeF() * 1.6);
    big.setBold(true);
    title->setFont(big);
    title->setAlignment(Qt::AlignCenter);
    layout->addWidget(title);
    auto *hint = new QLabel(tr("Drop PDFs, text or Markdown files — or whole folders — here, or:"), this);
    hint->setAlignment(Qt::AlignCenter);
    hint->setWordWrap(true);
    layout->addWidget(hint);
    layout->addSpacing(12);

    const auto button = [this, layout](const QString &text, const QString &name, const QString &tip) {
        auto *b = new QPushButton(text, this);
        b->setObjectName(name);
        b->setToolTip(tip);
        b->setMinimumWidth(260);
        auto *row = new QHBoxLayout;
        row->addStretch(1);
        row->addWidget(b);
        row->addStretch(1);
        layout->addLayout(row);
        return b;
    };
    m_addFiles = button(tr("Add Files…"), QStringLiteral("FirstRunAddFiles"), tr("Choose documents to add (Ctrl+O)"));
    m_addFolder = button(tr("Add a Folder…"), QStringLiteral("FirstRunAddFolder"),
        tr("Add every document in a folder and its subfolders"));
    m_sample = button(tr("Try the Sample Documents"), QStringLiteral("FirstRunSample"),
        tr("Seven licence texts (GPL, LGPL, Apache, MPL, …) added to this library in the collection “Sample”"));
    m_addFiles->setDefault(true);
    layout->addSpacing(12);
    m_message = new QLabel(this);
    m_message->setObjectName(QStringLiteral("FirstRunMessage"));
    m_message->setAlignment(Qt::AlignCenter);
    m_message->setWordWrap(true);
    layout->addWidget(m_message);
    layout->addStretch(2);
}

void FirstRunView::setBusy(bool busy, const QString &message)
{
    for (QPushButton *b : { m_addFiles, m_addFolder, m_sample })
        b->setEnabled(!busy);
    m_message->setText(message);
}

void FirstRunView::dragEnterEvent(QDragEnterEvent *event)
{
    if (!event->mimeData()->hasUrls())
        return;
    event->acceptProposedAction();
    m_dragging = true;
    update();
}

void FirstRunView::dragLeaveEvent(QDragLeaveEvent *)
{
    m_dragging = false;
    update();
}

void FirstRunView::dropEvent(QDropEvent *event)
{
    m_dragging = false;
    update();
    QStringList paths;
    for (const QUrl &url : event->mimeData()->urls())
        if (url.isLocalFile())
            paths << url.toLocalFile();
    if (paths.isEmpty())
        return;
    event->acceptProposedAction();
    emit dropped(paths);
}

void FirstRunView::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    QPen pen(m_dragging ? palette().color(QPalette::Highlight) : palette().color(QPalette::Mid), m_dragging ? 3 : 2,
        Qt::DashLine);
    p.setPen(pen);
    p.drawRoundedRect(QRectF(rect()).adjusted(12, 12, -12, -12), 12, 12);
}

} // namespace nw::ui
