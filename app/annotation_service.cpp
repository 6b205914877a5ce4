// Annotations made and changed through the store, and their export and import formats.
#include "app/annotation_service.h"

#include "app/document_titles.h"
#include "app/page_numbers.h"
#include "common/error.h"
#include "common/log.h"
#include "ingest/page_words.h"

#include <nlohmann/json.hpp>

#include <QHash>
#include <QRegularExpression>
#include <QStringList>

#include <algorithm>
#include <limits>
#include <memory>
#include <set>

namespace nw::app {
namespace {

// No CSV field may be longer: the longest an annotation holds is a note or quote of
// store::AnnotationLimits::kMaxTextBytes (64 KiB); rectangles and tags stay far below this.
constexpr qsizetype kMaxCsvFieldBytes = 1 << 20;

const QStringList kCsvColumns
    = { QStringLiteral("document_sha256"), QStringLiteral("page"), QStringLiteral("kind"), QStringLiteral("rects"),
          QStringLiteral("color"), QStringLiteral("quote"), QStringLiteral("note"), QStringLiteral("tags") };
// For people reading the file; an import matches by document_sha256 and page and ignores them.
const QStringList kCsvPlaceColumns
    = { QStringLiteral("document_title"), QStringLiteral("document_path"), QStringLiteral("page_label") };

QString rectsText(const std::vector<QRectF> &rects)
{
    QStringList parts;
    for (const QRectF &r : rects)
        parts << QStringLiteral("%1 %2 %3 %4").arg(r.x()).arg(r.y()).arg(r.width()).arg(r.height());
    return parts.join(QLatin1Char(';'));
}

std::vector<QRectF> rectsFromText(const QString &text, int line)
{
    std::vector<QRectF> rects;
    for (const QString &part : text.split(QLatin1Char(';'), Qt::SkipEmptyParts)) {
        const QStringList v = part.split(QLatin1Char(' '), Qt::SkipEmptyParts);
        bool ok = v.size() == 4;
        double n[4] = {};
        for (int i = 0; ok && i < 4; ++i)
            n[i] = v[i].toDouble(&ok);
        if (!ok)
            fail("annotations CSV line {}: field 'rects': rectangle '{}' is not 'x y width height'", line,
                store::excerptForMessage(part).toStdString());
        rects.emplace_back(n[0], n[1], n[2], n[3]);
    }
    return rects;
}

QString csvField(const QString &value)
{
    if (!value.contains(QLatin1Char(',')) && !value.contains(QLatin1Char('"')) && !value.contains(QLatin1Char('\n')))
        return value;
    QString escaped = value;
    escaped.replace(QLatin1String("\""), QLatin1String("\"\""));
    return QLatin1Char('"') + escaped + QLatin1Char('"');
}

struct CsvRecord {
    int line = 0; // where the record starts, from 1
    QStringList fields;
};

// RFC 4180 records: fields in double quotes may hold commas, quotes ("") and newlines. Read as
// bytes, so that a field's size is counted before it is kept: none may exceed kMaxCsvFieldBytes.
std::vector<CsvRecord> parseCsv(const QByteArray &text)
{
    std::vector<CsvRecord> records;
    CsvRecord record { 1, {} };
    QByteArray field;
    bool quoted = false;
    bool any = false;
    int line = 1;
    const auto endField = [&] {
        record.fields << QString::fromUtf8(field);
        field.clear();
    };
    for (qsizetype i = 0; i < text.size(); ++i) {
        const char c = text[i];
        any = true;
        if (c == '\n')
            ++line;
        if (quoted) {
            if (c == '"') {
                if (i + 1 < text.size() && text[i + 1] == '"') {
                    field += c;
                    ++i;
                } else {
                    quoted = false;
                }
            } else {
                field += c;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            endField();
        } else if (c == '\n' || c == '\r') {
            if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
                ++i;
                ++line;
            }
            endField();
            records.push_back(std::move(record));
            record = CsvRecord { line, {} };
            any = false;
        } else {
            field += c;
        }
        if (field.size() > kMaxCsvFieldBytes)
            fail("annotations CSV line {}: field {} is longer than {} bytes, the most a field may hold", record.line,
                record.fields.size() + 1, kMaxCsvFieldBytes);
    }
    if (any) {
        endField();
        records.push_back(std::move(record));
    }
    return records;
}

// A JSON record's fields, checked one by one, so that an error names the record and the field.
class JsonRecord {
public:
    JsonRecord(const nlohmann::json &value, std::size_t index)
        : m_value(value)
        , m_index(index)
    {
        if (!value.is_object())
            fail("annotations JSON: record {}: not an object but {}", m_index, excerpt(value));
        // document_title, document_path and page_label are for people reading an export; an
        // import matches by document_sha256 and page and ignores them.
        static const std::set<std::string> known = { "id", "document_sha256", "page", "kind", "rects", "color", "quote",
            "note", "tags", "created", "updated", "document_title", "document_path", "page_label" };
        for (const auto &item : value.items())
            if (!known.contains(item.key()))
                fail("annotations JSON: record {}: unknown field '{}'", m_index,
                    store::excerptForMessage(QString::fromStdString(item.key())).toStdString());
    }

    [[noreturn]] void refuse(const char *field, const std::string &why) const
    {
        fail("annotations JSON: record {}: field '{}': {}", m_index, field, why);
    }

    const nlohmann::json *find(const char *field) const
    {
        const auto it = m_value.find(field);
        return it == m_value.end() ? nullptr : &*it;
    }

    QString string(const char *field, const QString &fallback, bool required = false) const
    {
        const nlohmann::json *v = find(field);
        if (!v) {
            if (required)
                refuse(field, "missing");
            return fallback;
        }
        if (!v->is_string())
            refuse(field, "not a string but " + excerpt(*v));
        return QString::fromStdString(v->get<std::string>());
    }

    // A whole number in [1, INT_MAX]: 1.5 is not rounded, 1e12 is not wrapped around.
    int page() const
    {
        const nlohmann::json *v = find("page");
        if (!v)
            refuse("page", "missing");
        if (!v->is_number_integer())
            refuse("page", excerpt(*v) + " is not a whole number");
        constexpr auto kLast = static_cast<std::uint64_t>(std::numeric_limits<int>::max());
        if (v->is_number_unsigned()
                ? v->get<std::uint64_t>() < 1 || v->get<std::uint64_t>() > kLast
                : v->get<std::int64_t>() < 1 || v->get<std::int64_t>() > static_cast<std::int64_t>(kLast))
            refuse("page", excerpt(*v) + " is not a page number (1 to 2147483647)");
        return static_cast<int>(v->get<std::int64_t>());
    }

    std::vector<QRectF> rects() const
    {
        std::vector<QRectF> out;
        const nlohmann::json *v = find("rects");
        if (!v)
            return out;
        if (!v->is_array())
            refuse("rects", "not an array of [x, y, width, height] but " + excerpt(*v));
        for (const nlohmann::json &r : *v) {
            if (!r.is_array() || r.size() != 4
                || !std::all_of(r.begin(), r.end(), [](const nlohmann::json &n) { return n.is_number(); }))
                refuse("rects", excerpt(r) + " is not [x, y, width, height] in points");
            out.emplace_back(r[0].get<double>(), r[1].get<double>(), r[2].get<double>(), r[3].get<double>());
        }
        return out;
    }

    QStringList tags() const
    {
        QStringList out;
        const nlohmann::json *v = find("tags");
        if (!v)
            return out;
        if (!v->is_array())
            refuse("tags", "not an array of strings but " + excerpt(*v));
        for (const nlohmann::json &t : *v) {
            if (!t.is_string())
                refuse("tags", excerpt(t) + " is not a string");
            out << QString::fromStdString(t.get<std::string>());
        }
        return out;
    }

private:
    // A JSON value for a message: its text, without control characters, cut short.
    static std::string excerpt(const nlohmann::json &value)
    {
        return store::excerptForMessage(
            QString::fromStdString(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)))
            .toStdString();
    }

    const nlohmann::json &m_value;
    std::size_t m_index; // from 1
};

} // namespace

AnnotationService::AnnotationService(store::LibraryStore &library)
    : m_library(library)
    , m_annotations(library.database())
{
}

std::vector<Annotation> AnnotationService::list(const AnnotationFilter &filter)
{
    return m_annotations.list(filter);
}

std::optional<Annotation> AnnotationService::find(std::int64_t id)
{
    return m_annotations.find(id);
}

DocumentInfo AnnotationService::requireDocument(std::int64_t documentId)
{
    const std::optional<DocumentInfo> doc = m_library.findDocument(documentId);
    if (!doc)
        fail("document {} is no longer in the library", documentId);
    return *doc;
}

std::int64_t AnnotationService::highlight(
    const PageSelection &s, const QString &color, const QString &note, const QStringList &tags)
{
    if (s.length <= 0)
        fail("nothing is selected to highlight");
    Annotation a;
    a.documentSha256 = requireDocument(s.documentId).sha256;
    a.page = s.page;
    a.quote = s.text;
    a.note = note;
    a.tags = tags;
    a.color = color;
    a.rects = s.rects;
    if (a.rects.empty()) {
        try {
            // The words the selection touches, one rectangle each (what the rendered view draws).
            for (const WordBox &w : ingest::pageWordBoxes(m_library, s.documentId, s.page))
                if (static_cast<int>(w.offset) < s.start + s.length && static_cast<int>(w.offset + w.length) > s.start)
                    a.rects.push_back(w.box);
        } catch (const Error &e) {
            nw::log::get("app")->info("no word boxes for document {} page {}: {}", s.documentId, s.page, e.what());
        }
    }
    if (a.rects.empty())
        a.kind = QStringLiteral("note"); // a text document has no boxes: keep the quote as a note
    return m_annotations.add(a);
}

std::int64_t AnnotationService::addNote(std::int64_t documentId, int page, const QString &quote, const QString &note,
    const QStringList &tags, const QString &color)
{
    Annotation a;
    a.kind = QStringLiteral("note");
    a.documentSha256 = requireDocument(documentId).sha256;
    a.page = page;
    a.quote = quote;
    a.note = note;
    a.tags = tags;
    a.color = color;
    return m_annotations.add(a);
}

bool AnnotationService::update(std::int64_t id, const QString &note, const QStringList &tags, const QString &color)
{
    std::optional<Annotation> a = m_annotations.find(id);
    if (!a)
        return false;
    a->note = note;
    a->tags = tags;
    if (!color.isEmpty())
        a->color = color;
    m_annotations.update(*a);
    return true;
}

bool AnnotationService::remove(std::int64_t id)
{
    return m_annotations.remove(id);
}

AnnotationPlaces AnnotationService::places()
{
    struct Known {
        std::optional<DocumentInfo> document;
        QStringList labels;
    };
    auto known = std::make_shared<QHash<QString, Known>>();
    auto titles = std::make_shared<QHash<std::int64_t, QString>>(distinctTitles(m_library.documents()));
    return [this, known, titles](const Annotation &a) {
        auto it = known->find(a.documentSha256);
        if (it == known->end()) {
            Known k;
            k.document = m_library.findDocumentBySha256(a.documentSha256);
            if (k.document)
                k.labels = m_library.pageLabels(k.document->id);
            it = known->insert(a.documentSha256, k);
        }
        AnnotationPlace place;
        if (!it->document)
            return place;
        place.inLibrary = true;
        place.title = titles->value(it->document->id, plainTitle(*it->document));
        place.path = it->document->path;
        if (a.page >= 1 && a.page <= it->labels.size())
            place.pageLabel = it->labels[a.page - 1];
        return place;
    };
}

QByteArray AnnotationService::exportAnnotations(const std::vector<Annotation> &annotations, AnnotationFormat format)
{
    return app::exportAnnotations(annotations, format, places());
}

AnnotationFormat parseAnnotationFormat(const QString &name)
{
    if (name == QLatin1String("json"))
        return AnnotationFormat::Json;
    if (name == QLatin1String("csv"))
        return AnnotationFormat::Csv;
    if (name == QLatin1String("md") || name == QLatin1String("markdown"))
        return AnnotationFormat::Markdown;
    fail("unknown format '{}': use json, csv or md", name.toStdString());
}

QByteArray exportAnnotations(
    const std::vector<Annotation> &annotations, AnnotationFormat format, const AnnotationPlaces &places)
{
    const auto placeOf = [&places](const Annotation &a) { return places ? places(a) : AnnotationPlace {}; };
    switch (format) {
    case AnnotationFormat::Json: {
        nlohmann::json array = nlohmann::json::array();
        for (const store::Annotation &a : annotations) {
            nlohmann::json rects = nlohmann::json::array();
            for (const QRectF &r : a.rects)
                rects.push_back({ r.x(), r.y(), r.width(), r.height() });
            nlohmann::json tags = nlohmann::json::array();
            for (const QString &t : a.tags)
                tags.push_back(t.toStdString());
            nlohmann::json entry
                = { { "id", a.id }, { "document_sha256", a.documentSha256.toStdString() }, { "page", a.page },
                      { "kind", a.kind.toStdString() }, { "rects", rects }, { "color", a.color.toStdString() },
                      { "quote", a.quote.toStdString() }, { "note", a.note.toStdString() }, { "tags", tags },
                      { "created", a.created.toStdString() }, { "updated", a.updated.toStdString() } };
            if (const AnnotationPlace place = placeOf(a); place.inLibrary) {
                entry["document_title"] = place.title.toStdString();
                entry["document_path"] = place.path.toStdString();
                entry["page_label"] = place.pageLabel.toStdString();
            }
            array.push_back(std::move(entry));
        }
        return QByteArray::fromStdString(array.dump(2) + "\n");
    }
    case AnnotationFormat::Csv: {
        QString out = (kCsvColumns + kCsvPlaceColumns).join(QLatin1Char(',')) + QLatin1Char('\n');
        for (const store::Annotation &a : annotations) {
            const AnnotationPlace place = placeOf(a);
            const QStringList fields = { a.documentSha256, QString::number(a.page), a.kind, rectsText(a.rects), a.color,
                a.quote, a.note, a.tags.join(QLatin1Char(';')), place.title, place.path, place.pageLabel };
            QStringList escaped;
            for (const QString &f : fields)
                escaped << csvField(f);
            out += escaped.join(QLatin1Char(',')) + QLatin1Char('\n');
        }
        return out.toUtf8();
    }
    case AnnotationFormat::Markdown: {
        QString out = QStringLiteral("# Annotations\n");
        QString document;
        for (const store::Annotation &a : annotations) {
            const AnnotationPlace place = placeOf(a);
            if (a.documentSha256 != document) {
                document = a.documentSha256;
                if (place.inLibrary)
                    out += QStringLiteral("\n## %1\n\n%2\n\n").arg(place.title, place.path);
                else
                    out += QStringLiteral("\n## Document %1 (not in this library)\n\n").arg(document.left(12));
            }
            out += QStringLiteral("- %1, %2").arg(pageCitation(a.page, place.pageLabel), a.kind);
            if (!a.quote.isEmpty())
                out += QStringLiteral(": \u201C%1\u201D").arg(a.quote.simplified());
            if (!a.note.isEmpty())
                out += QStringLiteral(" — %1").arg(a.note.simplified());
            if (!a.tags.isEmpty())
                out += QStringLiteral(" (tags: %1)").arg(a.tags.join(QStringLiteral(", ")));
            out += QLatin1Char('\n');
        }
        return out.toUtf8();
    }
    }
    return {};
}

std::vector<store::Annotation> parseAnnotations(const QByteArray &data, AnnotationFormat format)
{
    std::vector<store::Annotation> out;
    if (format == AnnotationFormat::Json) {
        const nlohmann::json array = nlohmann::json::parse(data.begin(), data.end(), nullptr, false);
        if (array.is_discarded() || !array.is_array())
            fail("annotations JSON: not a JSON array of annotations");
        out.reserve(array.size());
        for (std::size_t i = 0; i < array.size(); ++i) {
            const JsonRecord record(array[i], i + 1);
            store::Annotation a;
            a.documentSha256 = record.string("document_sha256", {}, /*required=*/true);
            a.page = record.page();
            a.kind = record.string("kind", QStringLiteral("highlight"));
            a.rects = record.rects();
            a.color = record.string("color", QStringLiteral("#ffd54f"));
            a.quote = record.string("quote", {});
            a.note = record.string("note", {});
            a.tags = record.tags();
            a.created = record.string("created", {});
            a.updated = record.string("updated", {});
            out.push_back(std::move(a));
        }
        return out;
    }
    if (format == AnnotationFormat::Markdown)
        fail("annotations: Markdown is for reading; import JSON or CSV");
    const std::vector<CsvRecord> records = parseCsv(data);
    const bool withPlaces = !records.empty() && records.front().fields == kCsvColumns + kCsvPlaceColumns;
    if (records.empty() || (records.front().fields != kCsvColumns && !withPlaces))
        fail("annotations CSV: the first line must be the header {}",
            (kCsvColumns + kCsvPlaceColumns).join(QLatin1Char(',')).toStdString());
    const qsizetype columns = withPlaces ? kCsvColumns.size() + kCsvPlaceColumns.size() : kCsvColumns.size();
    for (std::size_t i = 1; i < records.size(); ++i) {
        const QStringList &f = records[i].fields;
        const int line = records[i].line;
        if (f.size() == 1 && f.front().isEmpty())
            continue;
        if (f.size() != columns)
            fail("annotations CSV line {}: {} fields, expected {}", line, f.size(), columns);
        store::Annotation a;
        a.documentSha256 = f[0];
        // Digits only: toInt() alone reads "1", a NUL byte and "x" as 1 (it stops at the NUL).
        static const QRegularExpression digits(QStringLiteral("^[0-9]{1,10}$"));
        bool ok = digits.match(f[1]).hasMatch();
        const qlonglong page = ok ? f[1].toLongLong(&ok) : 0;
        if (!ok)
            fail("annotations CSV line {}: field 'page': '{}' is not a whole number", line,
                store::excerptForMessage(f[1]).toStdString());
        if (page < 1 || page > std::numeric_limits<int>::max())
            fail("annotations CSV line {}: field 'page': {} is not a page number (1 to 2147483647)", line, page);
        a.page = static_cast<int>(page);
        a.kind = f[2];
        a.rects = rectsFromText(f[3], line);
        a.color = f[4];
        a.quote = f[5];
        a.note = f[6];
        a.tags = f[7].split(QLatin1Char(';'), Qt::SkipEmptyParts);
        out.push_back(std::move(a));
    }
    return out;
}

} // namespace nw::app
