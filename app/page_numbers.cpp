// Page labels against physical pages, and the messages for pages that do not exist.
#include "app/page_numbers.h"

#include "common/error.h"
#include "store/library_store.h"

#include <QFileInfo>

#include <algorithm>

namespace nw::app {

QString pageName(int physicalPage, const QString &label)
{
    const QString number = QString::number(physicalPage);
    if (label.isEmpty() || label == number)
        return number;
    return QStringLiteral("%1 (file page %2)").arg(label, number);
}

QString pageCitation(int physicalPage, const QString &label)
{
    return QStringLiteral("p. ") + pageName(physicalPage, label);
}

int resolvePage(const QString &text, const QStringList &labels)
{
    const QString t = text.trimmed();
    if (t.isEmpty())
        return 0;
    const int count = static_cast<int>(labels.size());
    const bool physical = t.startsWith(QLatin1Char('#'));
    if (!physical) {
        const qsizetype at = labels.indexOf(t);
        if (at >= 0)
            return static_cast<int>(at) + 1;
        // A document that prints labels is read by them: a bare number that is not one of them
        // would land on a page printed otherwise ("4" on the page printed "2"), so it names none.
        if (std::any_of(labels.begin(), labels.end(), [](const QString &l) { return !l.isEmpty(); }))
            return 0;
    }
    bool ok = false;
    const int n = (physical ? t.mid(1) : t).toInt(&ok);
    return ok && n >= 1 && n <= count ? n : 0;
}

QString labelRanges(const QStringList &labels)
{
    if (labels.isEmpty())
        return QStringLiteral("none");
    // A page without a printed label goes by its number. Runs of labels that count up by one
    // (1, 2, 3 …) become "first–last"; so does a run of other labels (roman numerals, "A-1" …).
    QStringList shown;
    for (qsizetype i = 0; i < labels.size(); ++i)
        shown << (labels[i].isEmpty() ? QString::number(i + 1) : labels[i]);
    const auto number = [&](qsizetype i, bool *ok) { return shown[i].toInt(ok); };
    QStringList runs;
    qsizetype start = 0;
    for (qsizetype i = 1; i <= shown.size(); ++i) {
        bool continues = false;
        if (i < shown.size()) {
            bool previousNumeric = false, currentNumeric = false;
            const int previous = number(i - 1, &previousNumeric);
            const int current = number(i, &currentNumeric);
            continues = previousNumeric ? currentNumeric && current == previous + 1 : !currentNumeric;
        }
        if (continues)
            continue;
        runs << (i - 1 == start ? shown[start] : shown[start] + QChar(0x2013) + shown[i - 1]);
        start = i;
    }
    if (runs.size() > 6)
        runs = runs.mid(0, 3) << QStringLiteral("…") << runs.mid(runs.size() - 2);
    return runs.join(QStringLiteral(", "));
}

int requirePageOf(store::LibraryStore &library, std::int64_t documentId, const QString &text)
{
    const store::DocumentInfo document = library.requireDocument(documentId);
    const QStringList labels = library.pageLabels(documentId);
    const int page = resolvePage(text, labels);
    if (page > 0)
        return page;
    const QString title = document.title.isEmpty() ? QFileInfo(document.path).fileName() : document.title;
    QStringList numbered;
    for (qsizetype i = 0; i < labels.size(); ++i)
        numbered << QString::number(i + 1);
    const QString printed
        = labels == numbered || std::all_of(labels.begin(), labels.end(), [](const QString &l) { return l.isEmpty(); })
        ? QString()
        : QStringLiteral(", printed %1").arg(labelRanges(labels));
    fail("document {} (\"{}\") has no page '{}': it has {} pages{} (give a printed page label, or #N for the Nth page "
         "of the file)",
        documentId, title.toStdString(), text.trimmed().left(40).toStdString(), labels.size(), printed.toStdString());
}

} // namespace nw::app
