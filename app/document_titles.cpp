// Titles made distinct by the file name, then by the folder.
#include "app/document_titles.h"

#include <QDir>
#include <QFileInfo>

namespace nw::app {

QString plainTitle(const DocumentInfo &document)
{
    const QString title = document.title.simplified();
    return title.isEmpty() ? QFileInfo(document.path).fileName() : title;
}

QHash<std::int64_t, QString> distinctTitles(const std::vector<DocumentInfo> &documents)
{
    QHash<QString, int> uses;
    for (const DocumentInfo &d : documents)
        ++uses[plainTitle(d).toCaseFolded()];
    QHash<QString, int> namedUses; // title + file name, for the rare same name in two folders
    const auto withFile = [](const DocumentInfo &d) {
        const QString title = plainTitle(d);
        const QString file = QFileInfo(d.path).fileName();
        return title == file ? title : QStringLiteral("%1 (%2)").arg(title, file);
    };
    for (const DocumentInfo &d : documents)
        if (uses.value(plainTitle(d).toCaseFolded()) > 1)
            ++namedUses[withFile(d).toCaseFolded()];
    QHash<std::int64_t, QString> titles;
    for (const DocumentInfo &d : documents) {
        if (uses.value(plainTitle(d).toCaseFolded()) == 1) {
            titles.insert(d.id, plainTitle(d));
            continue;
        }
        const QString named = withFile(d);
        if (namedUses.value(named.toCaseFolded()) == 1) {
            titles.insert(d.id, named);
            continue;
        }
        const QFileInfo file(d.path);
        titles.insert(d.id,
            QStringLiteral("%1 (%2)").arg(
                plainTitle(d), QDir::toNativeSeparators(file.dir().dirName() + QLatin1Char('/') + file.fileName())));
    }
    return titles;
}

} // namespace nw::app
