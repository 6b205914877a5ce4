// Annotations round-trip by content hash, are validated, filtered, and survive the document's
// removal and re-ingest (they are keyed by sha256, not by row id).
#include "store/annotation_store.h"

#include "common/error.h"
#include "store/library_store.h"

#include <QTemporaryDir>
#include <QTest>

using namespace nw::store;

namespace {

Annotation highlight(const QString &sha, int page)
{
    Annotation a;
    a.documentSha256 = sha;
    a.page = page;
    a.rects = {QRectF(72, 100.5, 200, 12), QRectF(72, 112.5, 150.25, 12)};
    a.color = QStringLiteral("#FF8800");
    a.quote = QStringLiteral("You may convey a covered work");
    a.note = QStringLiteral("object code, §6");
    a.tags = {QStringLiteral("gpl"), QStringLiteral("conveying")};
    return a;
}

} // namespace

class TestAnnotationStore : public QObject {
    Q_OBJECT
private slots:
    void roundTrip();
    void validation_data();
    void validation();
    void filters();
    void survivesDocumentRemoval();
    void importSkipsDuplicates();
};

void TestAnnotationStore::roundTrip()
{
    QTemporaryDir dir;
    LibraryStore library(dir.filePath(QStringLiteral("l.sqlite")));
    AnnotationStore store(library.database());
    const QString sha(64, QLatin1Char('a'));
    const auto id = store.add(highlight(sha, 5));
    const auto back = store.find(id);
    QVERIFY(back.has_value());
    QCOMPARE(back->documentSha256, sha);
    QCOMPARE(back->page, 5);
    QCOMPARE(back->rects.size(), std::size_t(2));
    QCOMPARE(back->rects[1], QRectF(72, 112.5, 150.25, 12));
    QCOMPARE(back->color, QStringLiteral("#ff8800"));
    QCOMPARE(back->quote, QStringLiteral("You may convey a covered work"));
    QCOMPARE(back->tags, (QStringList{QStringLiteral("gpl"), QStringLiteral("conveying")}));
    QVERIFY(!back->created.isEmpty());

    Annotation changed = *back;
    changed.note = QStringLiteral("edited");
    store.update(changed);
    QCOMPARE(store.find(id)->note, QStringLiteral("edited"));
    QVERIFY(store.remove(id));
    QVERIFY(!store.find(id).has_value());
    QVERIFY_THROWS_EXCEPTION(nw::Error, store.update(changed));
}

void TestAnnotationStore::validation_data()
{
    QTest::addColumn<QString>("field");
    QTest::addRow("sha256 not hex") << "sha";
    QTest::addRow("page 0") << "page";
    QTest::addRow("unknown kind") << "kind";
    QTest::addRow("colour name") << "color";
    QTest::addRow("highlight without rectangles") << "rects";
    QTest::addRow("empty rectangle") << "empty";
}

void TestAnnotationStore::validation()
{
    QFETCH(QString, field);
    QTemporaryDir dir;
    LibraryStore library(dir.filePath(QStringLiteral("l.sqlite")));
    AnnotationStore store(library.database());
    Annotation a = highlight(QString(64, QLatin1Char('b')), 1);
    if (field == QLatin1String("sha"))
        a.documentSha256 = QStringLiteral("not-a-hash");
    else if (field == QLatin1String("page"))
        a.page = 0;
    else if (field == QLatin1String("kind"))
        a.kind = QStringLiteral("underline");
    else if (field == QLatin1String("color"))
        a.color = QStringLiteral("yellow");
    else if (field == QLatin1String("rects"))
        a.rects.clear();
    else
        a.rects = {QRectF(1, 1, 0, 5)};
    QVERIFY_THROWS_EXCEPTION(nw::Error, store.add(a));
    QVERIFY(store.list().empty());
}

void TestAnnotationStore::filters()
{
    QTemporaryDir dir;
    LibraryStore library(dir.filePath(QStringLiteral("l.sqlite")));
    AnnotationStore store(library.database());
    const QString a(64, QLatin1Char('a'));
    const QString b(64, QLatin1Char('b'));
    store.add(highlight(a, 1));
    store.add(highlight(a, 2));
    Annotation note = highlight(b, 1);
    note.kind = QStringLiteral("note");
    note.rects.clear();
    note.tags = {QStringLiteral("todo")};
    store.add(note);
    QCOMPARE(store.list().size(), std::size_t(3));
    QCOMPARE(store.list({.documentSha256 = a}).size(), std::size_t(2));
    QCOMPARE(store.list({.documentSha256 = a, .page = 2}).size(), std::size_t(1));
    QCOMPARE(store.list({.tag = QStringLiteral("todo")}).size(), std::size_t(1));
}

void TestAnnotationStore::survivesDocumentRemoval()
{
    QTemporaryDir dir;
    LibraryStore library(dir.filePath(QStringLiteral("l.sqlite")));
    NewDocument doc;
    doc.info.sha256 = QString(64, QLatin1Char('c'));
    doc.info.path = dir.filePath(QStringLiteral("a.txt"));
    doc.info.kind = QStringLiteral("text");
    doc.info.pageCount = 1;
    doc.pages.push_back({.number = 1, .text = QStringLiteral("hello")});
    const auto added = library.addDocument(doc);
    AnnotationStore store(library.database());
    store.add(highlight(doc.info.sha256, 1));
    QVERIFY(library.removeDocument(added.documentId));
    library.addDocument(doc); // re-ingested: a new row id, the same content hash
    QCOMPARE(store.list({.documentSha256 = doc.info.sha256}).size(), std::size_t(1));
}

void TestAnnotationStore::importSkipsDuplicates()
{
    QTemporaryDir dir;
    LibraryStore library(dir.filePath(QStringLiteral("l.sqlite")));
    AnnotationStore store(library.database());
    const QString sha(64, QLatin1Char('d'));
    store.add(highlight(sha, 3));
    QCOMPARE(store.importAll({highlight(sha, 3), highlight(sha, 4)}), 1);
    QCOMPARE(store.list().size(), std::size_t(2));
}

QTEST_GUILESS_MAIN(TestAnnotationStore)
#include "tst_annotation_store.moc"
