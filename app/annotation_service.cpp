// Annotations made and changed through the store, and their export and import formats.
#include "app/annotation_service.h"

#include "app/document_titles.h"
#include "app/page_numbers.h"
#include "common/error.h"
#include "common/log.h"
#include "ingest/page_words.h"

#include <nlohmann/json.hpp>

#include <QHash>
#include <QStringList>

#include <memory>

namespace nw::app {
namespace {

const QStringList kCsvColumns = {QStringLiteral("document_sha256"), QStringLiteral("page"), QStringLiteral("kind"),
                                 QStringLiteral("rects"), QStringLiteral("color"), QStringLiteral("quote"),
                                 QStringLiteral("note"), QStringLiteral("tags")};
// For people reading the file; an import matches by document_sha256 and page and ignores them.
const QStringList kCsvPlaceColumns = {QStringLiteral("document_title"), QStringLiteral("document_path"),
                                      QStringLiteral("page_label")};

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
            fail("annotations CSV line {}: rectangle '{}' is not 'x y width height'", line, part.toStdString());
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

// RFC 4180 records: fields in double quotes may hold commas, quotes ("") and newlines.
std::vector<QStringList> parseCsv(const QString &text)
{
    std::vector<QStringList> records;
    QStringList record;
    QString field;
    bool quoted = false;
    bool any = false;
    for (qsizetype i = 0; i < text.size(); ++i) {
        const QChar c = text[i];
        any = true;
        if (quoted) {
            if (c == QLatin1Char('"')) {
                if (i + 1 < text.size() && text[i + 1] == QLatin1Char('"')) {
                    field += c;
                    ++i;
                } else {
                    quoted = false;
                }
            } else {
                field += c;
            }
        } else if (c == QLatin1Char('"')) {
            quoted = true;
        } else if (c == QLatin1Char(',')) {
            record << field;
            field.clear();
        } else if (c == QLatin1Char('\n') || c == QLatin1Char('\r')) {
            if (c == QLatin1Char('\r') && i + 1 < text.size() && text[i + 1] == QLatin1Char('\n'))
                ++i;
            record << field;
            field.clear();
            records.push_back(record);
            record.clear();
            any = false;
        } else {
            field += c;
        }
    }
    if (any) {
        record << field;
        records.push_back(record);
    }
    return records;
}

} // namespace

AnnotationService::AnnotationService(store::LibraryStore &library) : m_library(library), m_annotations(library.database())
{
}

std::vector<Annotation> AnnotationService::list(const AnnotationFilter &filter) { return m_annotations.list(filter); }

std::optional<Annotation> AnnotationService::find(std::int64_t id) { return m_annotations.find(id); }

DocumentInfo AnnotationService::requireDocument(std::int64_t documentId)
{
    const std::optional<DocumentInfo> doc = m_library.findDocument(documentId);
    if (!doc)
        fail("document {} is no longer in the library", documentId);
    return *doc;
}

std::int64_t AnnotationService::highlight(const PageSelection &s, const QString &color, const QString &note,
                                          const QStringList &tags)
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

bool AnnotationService::remove(std::int64_t id) { return m_annotations.remove(id); }

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

QByteArray exportAnnotations(const std::vector<Annotation> &annotations, AnnotationFormat format, const AnnotationPlaces &places)
{
    const auto placeOf = [&places](const Annotation &a) { return places ? places(a) : AnnotationPlace{}; };
    switch (format) {
    case AnnotationFormat::Json: {
        nlohmann::json array = nlohmann::json::array();
        for (const store::Annotation &a : annotations) {
            nlohmann::json rects = nlohmann::json::array();
            for (const QRectF &r : a.rects)
                rects.push_back({r.x(), r.y(), r.width(), r.height()});
            nlohmann::json tags = nlohmann::json::array();
            for (const QString &t : a.tags)
                tags.push_back(t.toStdString());
            nlohmann::json entry = {{"id", a.id},
                                    {"document_sha256", a.documentSha256.toStdString()},
                                    {"page", a.page},
                                    {"kind", a.kind.toStdString()},
                                    {"rects", rects},
                                    {"color", a.color.toStdString()},
                                    {"quote", a.quote.toStdString()},
                                    {"note", a.note.toStdString()},
                                    {"tags", tags},
                                    {"created", a.created.toStdString()},
                                    {"updated", a.updated.toStdString()}};
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
            const QStringList fields = {a.documentSha256, QString::number(a.page), a.kind, rectsText(a.rects), a.color,
                                        a.quote, a.note, a.tags.join(QLatin1Char(';')), place.title, place.path,
                                        place.pageLabel};
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
        const nlohmann::json array = nlohmann::json::parse(data.toStdString(), nullptr, false);
        if (array.is_discarded() || !array.is_array())
            fail("annotations JSON: not a JSON array of annotations");
        for (std::size_t i = 0; i < array.size(); ++i) {
            const auto &j = array[i];
            try {
                store::Annotation a;
                a.documentSha256 = QString::fromStdString(j.at("document_sha256").get<std::string>());
                a.page = j.at("page").get<int>();
                a.kind = QString::fromStdString(j.value("kind", std::string("highlight")));
                for (const auto &r : j.value("rects", nlohmann::json::array()))
                    a.rects.emplace_back(r.at(0).get<double>(), r.at(1).get<double>(), r.at(2).get<double>(), r.at(3).get<double>());
                a.color = QString::fromStdString(j.value("color", std::string("#ffd54f")));
                a.quote = QString::fromStdString(j.value("quote", std::string()));
                a.note = QString::fromStdString(j.value("note", std::string()));
                for (const auto &t : j.value("tags", nlohmann::json::array()))
                    a.tags << QString::fromStdString(t.get<std::string>());
                a.created = QString::fromStdString(j.value("created", std::string()));
                a.updated = QString::fromStdString(j.value("updated", std::string()));
                out.push_back(std::move(a));
            } catch (const nlohmann::json::exception &e) {
                fail("annotations JSON: entry {}: {}", i, e.what());
            }
        }
        return out;
    }
    if (format == AnnotationFormat::Markdown)
        fail("annotations: Markdown is for reading; import JSON or CSV");
    const auto records = parseCsv(QString::fromUtf8(data));
    const bool withPlaces = !records.empty() && records.front() == kCsvColumns + kCsvPlaceColumns;
    if (records.empty() || (records.front() != kCsvColumns && !withPlaces))
        fail("annotations CSV: the first line must be the header {}", (kCsvColumns + kCsvPlaceColumns).join(QLatin1Char(',')).toStdString());
    const qsizetype columns = withPlaces ? kCsvColumns.size() + kCsvPlaceColumns.size() : kCsvColumns.size();
    for (std::size_t i = 1; i < records.size(); ++i) {
        const QStringList &f = records[i];
        const int line = static_cast<int>(i) + 1;
        if (f.size() == 1 && f.front().isEmpty())
            continue;
        if (f.size() != columns)
            fail("annotations CSV line {}: {} fields, expected {}", line, f.size(), columns);
        store::Annotation a;
        a.documentSha256 = f[0];
        bool ok = false;
        a.page = f[1].toInt(&ok);
        if (!ok)
            fail("annotations CSV line {}: page '{}' is not a number", line, f[1].toStdString());
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
