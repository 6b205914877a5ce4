// `needlework annotations [list|add|export|import]`: highlights and notes on document pages,
// kept by the document's content hash; JSON, CSV and Markdown out, JSON and CSV in.
#include "app/commands/commands.h"

#include "app/annotation_service.h"
#include "app/citations.h"
#include "app/output_file.h"
#include "app/page_numbers.h"
#include "common/error.h"
#include "ingest/page_words.h"
#include "store/library_store.h"

#include <QFile>
#include <QRegularExpression>

#include <cmath>

namespace nw::app {
namespace {

QString shaOfDocument(store::LibraryStore &library, std::int64_t id)
{
    return library.requireDocument(id).sha256;
}

std::vector<QRectF> rectsFromOptions(const QStringList &values)
{
    std::vector<QRectF> rects;
    for (const QString &value : values) {
        const QStringList v = value.split(QRegularExpression(QStringLiteral("[ ,]+")), Qt::SkipEmptyParts);
        bool ok = v.size() == 4;
        double n[4] = {};
        for (int i = 0; ok && i < 4; ++i)
            n[i] = v[i].toDouble(&ok);
        if (!ok || !std::isfinite(n[0]) || !std::isfinite(n[1]) || !(n[2] > 0) || !(n[3] > 0) || !std::isfinite(n[2])
            || !std::isfinite(n[3]))
            throw UsageError("--rect '" + value.left(60).toStdString()
                + "': give \"x y width height\" in points (finite, width and height above 0)");
        rects.emplace_back(n[0], n[1], n[2], n[3]);
    }
    return rects;
}

int add(const QCommandLineParser &parser, store::LibraryStore &library, CommandIo &io)
{
    if (!parser.isSet(QStringLiteral("doc")) || !parser.isSet(QStringLiteral("page")))
        throw UsageError("annotations add needs --doc ID and --page N");
    store::Annotation a;
    const std::int64_t documentId = integerValue(parser, QStringLiteral("doc"), 0);
    a.documentSha256 = shaOfDocument(library, documentId);
    a.page = requirePageOf(library, documentId, parser.value(QStringLiteral("page"))); // a page it has, or an error
    a.kind = parser.value(QStringLiteral("kind"));
    a.color = parser.value(QStringLiteral("color"));
    a.quote = parser.value(QStringLiteral("quote"));
    a.note = parser.value(QStringLiteral("note"));
    a.tags = parser.values(QStringLiteral("tag"));
    a.rects = rectsFromOptions(parser.values(QStringLiteral("rect")));
    if (a.rects.empty() && !a.quote.isEmpty()) {
        // Highlight a quote by its words' boxes on the page.
        const store::PageRecord page = library.requirePage(documentId, a.page);
        const qsizetype at = page.text.indexOf(a.quote);
        if (at < 0)
            fail("the quote is not on {} of document {} (copy it exactly, or give --rect)",
                pageCitation(a.page, page.label).toStdString(), documentId);
        a.rects = boxesForSpan(ingest::pageWordBoxes(library, documentId, a.page),
            { static_cast<int>(at), static_cast<int>(a.quote.size()) });
    }
    store::AnnotationStore annotations(library.database());
    const std::int64_t id = annotations.add(a);
    const QString label = library.pageLabels(documentId).value(a.page - 1);
    io.out << "annotation " << id << " added to " << pageCitation(a.page, label) << " of document " << documentId
           << '\n';
    return ExitOk;
}

} // namespace

Command annotationsCommand()
{
    return {
        .name = QStringLiteral("annotations"),
        .summary = QStringLiteral("List, add, export and import highlights and notes."),
        .usage = QStringLiteral(
            "[list | add | export | import FILE] [--format json|csv|md] [--doc ID [--page PAGE]] [--db FILE]"),
        .description = QStringLiteral(
            "Annotations are highlights (rectangles in PDF points, a colour, the quoted text) and notes with tags, "
            "kept "
            "with the document's content hash so they survive moving or re-ingesting the file. 'add --doc ID --page "
            "PAGE' "
            "takes --rect \"x y w h\" (repeatable) or --quote TEXT (its words are found on the page), and --note, "
            "--tag, "
            "--color, --kind highlight|note. 'export' writes --format json (default), csv or md to stdout or --output; "
            "'import FILE' reads json or csv and skips annotations already present. Pages are named as the "
            "document prints them (--page vii, --page 7), or #N for the Nth page of the file; lists and exports "
            "name each document by title and path and each page by its label, with the file's page beside it "
            "where the two differ."),
        .configure =
            [](QCommandLineParser &parser) {
                addDatabaseOption(parser);
                addJsonOption(parser);
                parser.addOption(
                    { QStringLiteral("format"), QStringLiteral("json, csv or md."), QStringLiteral("FORMAT") });
                parser.addOption({ QStringLiteral("doc"), QStringLiteral("Document id."), QStringLiteral("ID") });
                parser.addOption({ QStringLiteral("page"),
                    QStringLiteral(
                        "The page as printed on it (7, vii), or #N for the Nth page of the file; needs --doc."),
                    QStringLiteral("PAGE") });
                parser.addOption({ QStringLiteral("kind"), QStringLiteral("highlight (default) or note."),
                    QStringLiteral("KIND"), QStringLiteral("highlight") });
                parser.addOption({ QStringLiteral("rect"), QStringLiteral("Rectangle \"x y width height\" in points."),
                    QStringLiteral("RECT") });
                parser.addOption(
                    { QStringLiteral("quote"), QStringLiteral("The highlighted text."), QStringLiteral("TEXT") });
                parser.addOption({ QStringLiteral("note"), QStringLiteral("A note."), QStringLiteral("TEXT") });
                parser.addOption(
                    { QStringLiteral("tag"), QStringLiteral("A tag (repeatable)."), QStringLiteral("TAG") });
                parser.addOption({ QStringLiteral("color"), QStringLiteral("Colour #rrggbb."), QStringLiteral("COLOR"),
                    QStringLiteral("#ffd54f") });
                parser.addOption({ QStringLiteral("output"), QStringLiteral("Write the export to this file."),
                    QStringLiteral("FILE") });
                parser.addPositionalArgument(
                    QStringLiteral("action"), QStringLiteral("list (default), add, export or import FILE."));
            },
        .numbers = { NumericOption::documentId() }, // --page is a printed label (app/page_numbers.h)
        .run =
            [](const QCommandLineParser &parser, CommandIo &io) {
                const QStringList args = parser.positionalArguments();
                const QString action = args.isEmpty() ? QStringLiteral("list") : args.front();
                const bool writes = action == QLatin1String("add") || action == QLatin1String("import");
                if (!writes && action != QLatin1String("list") && action != QLatin1String("export")) {
                    io.err << "needlework annotations: unknown action '" << action
                           << "' (use list, add, export or import)\n";
                    return static_cast<int>(ExitUsage);
                }
                const auto opened
                    = openLibrary(parser, writes ? store::LibraryAccess::ReadWrite : store::LibraryAccess::ReadOnly);
                store::LibraryStore &library = *opened;
                store::AnnotationStore annotations(library.database());
                store::AnnotationFilter filter;
                if (parser.isSet(QStringLiteral("doc")) && action != QLatin1String("add"))
                    filter.documentSha256 = shaOfDocument(library, integerValue(parser, QStringLiteral("doc"), 0));
                if (parser.isSet(QStringLiteral("page")) && action != QLatin1String("add")) {
                    if (!parser.isSet(QStringLiteral("doc")))
                        throw UsageError("--page needs --doc: pages are named as each document prints them");
                    filter.page = requirePageOf(
                        library, integerValue(parser, QStringLiteral("doc"), 0), parser.value(QStringLiteral("page")));
                }
                if (parser.isSet(QStringLiteral("tag")) && action != QLatin1String("add"))
                    filter.tag = parser.value(QStringLiteral("tag"));

                if (action == QLatin1String("add"))
                    return add(parser, library, io);
                if (action == QLatin1String("list") || action == QLatin1String("export")) {
                    const QString formatName = parser.isSet(QStringLiteral("format"))
                        ? parser.value(QStringLiteral("format"))
                        : parser.isSet(QStringLiteral("json")) || action == QLatin1String("export")
                        ? QStringLiteral("json")
                        : QStringLiteral("md");
                    const QByteArray data = AnnotationService(library).exportAnnotations(
                        annotations.list(filter), parseAnnotationFormat(formatName));
                    if (parser.isSet(QStringLiteral("output"))) {
                        writeOutputFile(parser.value(QStringLiteral("output")), data);
                    } else {
                        io.out << QString::fromUtf8(data);
                    }
                    return static_cast<int>(ExitOk);
                }
                // import
                if (args.size() < 2)
                    fail("annotations import needs a FILE");
                QFile file(args[1]);
                if (!file.open(QIODevice::ReadOnly))
                    fail("cannot read {}: {}", args[1].toStdString(), file.errorString().toStdString());
                const QString formatName = parser.isSet(QStringLiteral("format"))
                    ? parser.value(QStringLiteral("format"))
                    : args[1].endsWith(QLatin1String(".csv"), Qt::CaseInsensitive) ? QStringLiteral("csv")
                                                                                   : QStringLiteral("json");
                const int added
                    = annotations.importAll(parseAnnotations(file.readAll(), parseAnnotationFormat(formatName)));
                io.out << added << " annotations imported\n";
                return static_cast<int>(ExitOk);
            },
    };
}

} // namespace nw::app
