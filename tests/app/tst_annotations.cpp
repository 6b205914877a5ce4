// Annotation exports and imports: JSON and CSV round-trip every field (CSV with commas, quotes
// and newlines in the text), Markdown is for reading, and malformed or lenient-looking input
// (page 1.5, page 1e12, tags "x", created "yesterday", oversized fields, NUL bytes) is refused
// with the record and field that are wrong, in a message of printable text.
#include "app/annotation_service.h"

#include "common/error.h"
#include "store/library_store.h"

#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QTest>

using namespace nw::app;
using nw::store::Annotation;

namespace {

std::vector<Annotation> sample()
{
    Annotation a;
    a.documentSha256 = QString(64, QLatin1Char('e'));
    a.page = 12;
    a.rects = { QRectF(54, 90.5, 120, 11.5), QRectF(54, 102.5, 60.25, 11.5) };
    a.color = QStringLiteral("#a0c4ff");
    a.quote = QStringLiteral("the \"Standard Version\", as defined,\nhere");
    a.note = QStringLiteral("check with counsel, urgently");
    a.tags = { QStringLiteral("artistic"), QStringLiteral("definitions") };
    Annotation n;
    n.documentSha256 = QString(64, QLatin1Char('f'));
    n.page = 1;
    n.kind = QStringLiteral("note");
    n.note = QStringLiteral("plain");
    return { a, n };
}

void compare(const std::vector<Annotation> &got, const std::vector<Annotation> &expected)
{
    QCOMPARE(got.size(), expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        QCOMPARE(got[i].documentSha256, expected[i].documentSha256);
        QCOMPARE(got[i].page, expected[i].page);
        QCOMPARE(got[i].kind, expected[i].kind);
        QCOMPARE(got[i].rects, expected[i].rects);
        QCOMPARE(got[i].color, expected[i].color);
        QCOMPARE(got[i].quote, expected[i].quote);
        QCOMPARE(got[i].note, expected[i].note);
        QCOMPARE(got[i].tags, expected[i].tags);
    }
}

} // namespace

class TestAnnotations : public QObject {
    Q_OBJECT
private slots:
    void roundTrip_data();
    void roundTrip();
    void csvLayout();
    void placesNameDocumentsAndPages();
    void markdownIsForReading();
    void malformedInput_data();
    void malformedInput();
    void strictInput_data();
    void strictInput();
    void importNamesTheRecordAndField_data();
    void importNamesTheRecordAndField();
};

void TestAnnotations::roundTrip_data()
{
    QTest::addColumn<int>("format");
    QTest::addRow("json") << int(AnnotationFormat::Json);
    QTest::addRow("csv") << int(AnnotationFormat::Csv);
}

void TestAnnotations::roundTrip()
{
    QFETCH(int, format);
    const auto f = static_cast<AnnotationFormat>(format);
    compare(parseAnnotations(exportAnnotations(sample(), f), f), sample());
}

void TestAnnotations::csvLayout()
{
    // RFC 4180 by hand: the quote holds a comma, quotes and a newline, so it is quoted with "" inside.
    const QString csv = QString::fromUtf8(exportAnnotations(sample(), AnnotationFormat::Csv));
    // The place columns come last, empty without a library to look the document up in.
    const QString expectedFirst
        = QStringLiteral(
              "document_sha256,page,kind,rects,color,quote,note,tags,document_title,document_path,page_label\n")
        + QString(64, QLatin1Char('e'))
        + QStringLiteral(",12,highlight,54 90.5 120 11.5;54 102.5 60.25 11.5,#a0c4ff,"
                         "\"the \"\"Standard Version\"\", as defined,\nhere\",\"check with counsel, urgently\","
                         "artistic;definitions,,,\n");
    QVERIFY2(csv.startsWith(expectedFirst), qPrintable(csv));
}

void TestAnnotations::placesNameDocumentsAndPages()
{
    // What a library knows of each annotation's document: its title, path and the page's label.
    const AnnotationPlaces places = [](const Annotation &a) {
        AnnotationPlace p;
        if (a.documentSha256.startsWith(QLatin1Char('e'))) {
            p.inLibrary = true;
            p.title = QStringLiteral("Artistic License 2.0");
            p.path = QStringLiteral("/srv/licences/Artistic-2.0.pdf");
            p.pageLabel = QStringLiteral("x");
        }
        return p;
    };
    const QString md = QString::fromUtf8(exportAnnotations(sample(), AnnotationFormat::Markdown, places));
    QVERIFY2(md.contains(QStringLiteral(
                 "## Artistic License 2.0\n\n/srv/licences/Artistic-2.0.pdf\n\n- p. x (file page 12), highlight")),
        qPrintable(md));
    QVERIFY2(md.contains(QStringLiteral("## Document ffffffffffff (not in this library)")), qPrintable(md));
    const QString json = QString::fromUtf8(exportAnnotations(sample(), AnnotationFormat::Json, places));
    QVERIFY(json.contains(QStringLiteral("\"document_title\": \"Artistic License 2.0\"")));
    QVERIFY(json.contains(QStringLiteral("\"page_label\": \"x\"")));
    // Imports read both, with and without the place columns.
    for (const AnnotationFormat f : { AnnotationFormat::Json, AnnotationFormat::Csv })
        compare(parseAnnotations(exportAnnotations(sample(), f, places), f), sample());
    const QByteArray oldCsv = "document_sha256,page,kind,rects,color,quote,note,tags\n" + QByteArray(64, 'f')
        + ",1,note,,#ffd54f,,plain,\n";
    QCOMPARE(parseAnnotations(oldCsv, AnnotationFormat::Csv).size(), std::size_t(1));
}

void TestAnnotations::markdownIsForReading()
{
    const QString md = QString::fromUtf8(exportAnnotations(sample(), AnnotationFormat::Markdown));
    QVERIFY(md.contains(QStringLiteral("- p. 12, highlight: \u201Cthe \"Standard Version\", as defined, here\u201D — "
                                       "check with counsel, urgently (tags: artistic, definitions)")));
    QVERIFY_THROWS_EXCEPTION(nw::Error, parseAnnotations(md.toUtf8(), AnnotationFormat::Markdown));
    QCOMPARE(parseAnnotationFormat(QStringLiteral("md")), AnnotationFormat::Markdown);
    QVERIFY_THROWS_EXCEPTION(nw::Error, parseAnnotationFormat(QStringLiteral("xml")));
}

void TestAnnotations::malformedInput_data()
{
    QTest::addColumn<QByteArray>("data");
    QTest::addColumn<int>("format");
    QTest::addRow("json not an array") << QByteArray("{\"page\": 1}") << int(AnnotationFormat::Json);
    QTest::addRow("json missing page") << QByteArray("[{\"document_sha256\": \"x\"}]") << int(AnnotationFormat::Json);
    QTest::addRow("csv wrong header") << QByteArray("a,b\n1,2\n") << int(AnnotationFormat::Csv);
    QTest::addRow("csv bad rectangle") << QByteArray(
        "document_sha256,page,kind,rects,color,quote,note,tags\nx,1,highlight,1 2 3,#ffffff,,,\n")
                                       << int(AnnotationFormat::Csv);
    QTest::addRow("csv page not a number")
        << QByteArray("document_sha256,page,kind,rects,color,quote,note,tags\nx,one,note,,#ffffff,,,\n")
        << int(AnnotationFormat::Csv);
}

void TestAnnotations::malformedInput()
{
    QFETCH(QByteArray, data);
    QFETCH(int, format);
    QVERIFY_THROWS_EXCEPTION(nw::Error, parseAnnotations(data, static_cast<AnnotationFormat>(format)));
}

namespace {

const QByteArray kSha = QByteArray(64, 'e');
const QByteArray kCsvHeader = "document_sha256,page,kind,rects,color,quote,note,tags\n";

QByteArray jsonRecord(const QByteArray &fields)
{
    return "[{\"document_sha256\": \"" + kSha + "\", \"kind\": \"note\", " + fields + "}]";
}

} // namespace

// Refused by the parser: the message names the record (or CSV line) and the field, and holds no
// control character even when the input did.
void TestAnnotations::strictInput_data()
{
    QTest::addColumn<QByteArray>("data");
    QTest::addColumn<int>("format");
    QTest::addColumn<QString>("expected");
    QTest::addRow("page 1.5") << jsonRecord("\"page\": 1.5") << int(AnnotationFormat::Json)
                              << "record 1: field 'page': 1.5 is not a whole number";
    QTest::addRow("page 1e12") << jsonRecord("\"page\": 1e12") << int(AnnotationFormat::Json)
                               << "record 1: field 'page'";
    QTest::addRow("page 3000000000") << jsonRecord("\"page\": 3000000000") << int(AnnotationFormat::Json)
                                     << "record 1: field 'page': 3000000000 is not a page number";
    QTest::addRow("page 0") << jsonRecord("\"page\": 0") << int(AnnotationFormat::Json) << "record 1: field 'page'";
    QTest::addRow("page as text") << jsonRecord("\"page\": \"2\"") << int(AnnotationFormat::Json) << "field 'page'";
    QTest::addRow("tags a string") << jsonRecord("\"page\": 1, \"tags\": \"x\"") << int(AnnotationFormat::Json)
                                   << "record 1: field 'tags': not an array of strings";
    QTest::addRow("tags with a number") << jsonRecord("\"page\": 1, \"tags\": [\"a\", 2]")
                                        << int(AnnotationFormat::Json) << "field 'tags'";
    QTest::addRow("note a number") << jsonRecord("\"page\": 1, \"note\": 5") << int(AnnotationFormat::Json)
                                   << "field 'note'";
    QTest::addRow("rect of three") << jsonRecord("\"page\": 1, \"rects\": [[1, 2, 3]]") << int(AnnotationFormat::Json)
                                   << "field 'rects'";
    QTest::addRow("unknown field") << jsonRecord("\"page\": 1, \"pgae\": 2") << int(AnnotationFormat::Json)
                                   << "unknown field 'pgae'";
    QTest::addRow("second record") << QByteArray("[" + jsonRecord("\"page\": 1").mid(1).chopped(1) + ", 7]")
                                   << int(AnnotationFormat::Json) << "record 2: not an object";
    QTest::addRow("csv page 1.5") << QByteArray(kCsvHeader + kSha + ",1.5,note,,#ffffff,,n,\n")
                                  << int(AnnotationFormat::Csv) << "line 2: field 'page': '1.5' is not a whole number";
    QTest::addRow("csv NUL in page") << QByteArray(kCsvHeader + kSha + QByteArray(",1\0\0x,note,,#ffffff,,n,\n", 24))
                                     << int(AnnotationFormat::Csv) << "'1\\x00\\x00x'";
    QTest::addRow("csv line after a quoted newline")
        << QByteArray(kCsvHeader + kSha + ",1,note,,#ffffff,\"a\nb\",n,\n" + kSha + ",x,note,,#ffffff,,n,\n")
        << int(AnnotationFormat::Csv) << "line 4: field 'page'";
    QTest::addRow("csv field over 1 MiB")
        << QByteArray(kCsvHeader + kSha + ",1,note,,#ffffff,," + QByteArray((1 << 20) + 1, 'n') + ",\n")
        << int(AnnotationFormat::Csv) << "line 2: field 7 is longer than 1048576 bytes";
}

void TestAnnotations::strictInput()
{
    QFETCH(QByteArray, data);
    QFETCH(int, format);
    QFETCH(QString, expected);
    try {
        parseAnnotations(data, static_cast<AnnotationFormat>(format));
        QFAIL("lenient input was accepted");
    } catch (const nw::Error &e) {
        const QString message = QString::fromUtf8(e.what());
        QVERIFY2(message.contains(expected), e.what());
        QVERIFY2(std::none_of(message.begin(), message.end(), [](QChar c) { return c.unicode() < 0x20; }), e.what());
    }
}

// Parsed fine, refused by the store on import, before anything is written: still the record
// and the field.
void TestAnnotations::importNamesTheRecordAndField_data()
{
    QTest::addColumn<QByteArray>("data");
    QTest::addColumn<QString>("expected");
    const QByteArray good = "{\"document_sha256\": \"" + kSha + "\", \"kind\": \"note\", \"page\": 1}, ";
    QTest::addRow("created yesterday") << QByteArray(
        "[" + good + jsonRecord("\"page\": 2, \"created\": \"yesterday\"").mid(1))
                                       << "annotation 2 of 2: created 'yesterday' is not a date";
    QTest::addRow("note over 64 KiB") << jsonRecord("\"page\": 1, \"note\": \"" + QByteArray((64 << 10) + 1, 'n')
        + "\"") << "annotation 1 of 1: the note is 65537 bytes long";
    QTest::addRow("NUL in the colour") << jsonRecord("\"page\": 1, \"color\": \"#ff\\u0000ff\"")
                                       << "colour '#ff\\x00ff'";
}

void TestAnnotations::importNamesTheRecordAndField()
{
    QFETCH(QByteArray, data);
    QFETCH(QString, expected);
    QTemporaryDir dir;
    nw::store::LibraryStore library(dir.filePath(QStringLiteral("l.sqlite")));
    nw::store::AnnotationStore store(library.database());
    try {
        store.importAll(parseAnnotations(data, AnnotationFormat::Json));
        QFAIL("an invalid annotation was imported");
    } catch (const nw::Error &e) {
        const QString message = QString::fromUtf8(e.what());
        QVERIFY2(message.contains(expected), e.what());
        QVERIFY2(std::none_of(message.begin(), message.end(), [](QChar c) { return c.unicode() < 0x20; }), e.what());
    }
    QCOMPARE(store.list().size(), std::size_t(0));
}

QTEST_GUILESS_MAIN(TestAnnotations)
#include "tst_annotations.moc"
