// What the window shows in place of a page while the library is empty: a drop area for files and
// folders, and one button each to add files, add a folder, or try the bundled sample documents
// (licence texts, added to the library in the collection "Sample"). The window wires the
// buttons; drops come out as dropped(paths).
#pragma once

#include <QStringList>
#include <QWidget>

class QLabel;
class QPushButton;

namespace nw::ui {

class FirstRunView : public QWidget {
    Q_OBJECT
public:
    explicit FirstRunView(QWidget *parent = nullptr);

    QPushButton *addFilesButton() const { return m_addFiles; }
    QPushButton *addFolderButton() const { return m_addFolder; }
    QPushButton *sampleButton() const { return m_sample; }
    void setBusy(bool busy, const QString &message = {}); // while an ingest runs: buttons off, the message shown

signals:
    void dropped(const QStringList &paths);

protected:
    void dragEnterEvent(QDragEnterEvent *event) override;
    void dragLeaveEvent(QDragLeaveEvent *event) override;
    void dropEvent(QDropEvent *event) override;
    void paintEvent(QPaintEvent *event) override;

private:
    QPushButton *m_addFiles = nullptr;
    QPushButton *m_addFolder = nullptr;
    QPushButton *m_sample = nullptr;
    QLabel *m_message = nullptr;
    bool m_dragging = false;
};

} // namespace nw::ui
