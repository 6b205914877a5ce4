// Annotations in SQLite; rectangles and tags are JSON text in their rows.
#include "store/annotation_store.h"

#include "common/error.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>

#include <cmath>

namespace nw::store {
namespace {

QString nowUtc()
{
    return QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
}

QString rectsToJson(const std::vector<QRectF> &rects)
{
    QJsonArray array;
    for (const QRectF &r : rects)
        array.append(QJsonArray{r.x(), r.y(), r.width(), r.height()});
    return QString::fromUtf8(QJsonDocument(array).toJson(QJsonDocument::Compact));
}

std::vector<QRectF> rectsFromJson(const QString &json)
{
    std::vector<QRectF> rects;
    for (const QJsonValue &v : QJsonDocument::fromJson(json.toUtf8()).array()) {
        const QJsonArray a = v.toArray();
        if (a.size() == 4)
            rects.emplace_back(a[0].toDouble(), a[1].toDouble(), a[2].toDouble(), a[3].toDouble());
    }
    return rects;
}

QString tagsToJson(const QStringList &tags)
{
    return QString::fromUtf8(QJsonDocument(QJsonArray::fromStringList(tags)).toJson(QJsonDocument::Compact));
}

QStringList tagsFromJson(const QString &json)
{
    QStringList tags;
    for (const QJsonValue &v : QJsonDocument::fromJson(json.toUtf8()).array())
        tags << v.toString();
    return tags;
}

void validate(const Annotation &a)
{
    static const QRegularExpression sha(QStringLiteral("^[0-9a-f]{64}$"));
    static const QRegularExpression color(QStringLiteral("^#[0-9a-fA-F]{6}$"));
    if (!sha.match(a.documentSha256).hasMatch())
        fail("annotation: document '{}' is not a sha256 (64 lower-case hex digits)", a.documentSha256.toStdString());
    if (a.page < 1)
        fail("annotation: page {} is not a page number (pages start at 1)", a.page);
    if (a.kind != QLatin1String("highlight") && a.kind != QLatin1String("note"))
        fail("annotation: kind '{}' is not 'highlight' or 'note'", a.kind.toStdString());
    if (!color.match(a.color).hasMatch())
        fail("annotation: colour '{}' is not #rrggbb", a.color.toStdString());
    if (a.kind == QLatin1String("highlight") && a.rects.empty())
        fail("annotation: a highlight needs at least one rectangle");
    for (const QRectF &r : a.rects)
        if (!std::isfinite(r.x()) || !std::isfinite(r.y()) || r.width() <= 0 || r.height() <= 0)
            fail("annotation: rectangle ({}, {}, {}, {}) is empty or not finite", r.x(), r.y(), r.width(), r.height());
}

Annotation read(const Statement &s)
{
    Annotation a;
    a.id = s.columnInt(0);
    a.documentSha256 = QString::fromStdString(s.columnText(1));
    a.page = static_cast<int>(s.columnInt(2));
    a.kind = QString::fromStdString(s.columnText(3));
    a.rects = rectsFromJson(QString::fromStdString(s.columnText(4)));
    a.color = QString::fromStdString(s.columnText(5));
    a.quote = QString::fromStdString(s.columnText(6));
    a.note = QString::fromStdString(s.columnText(7));
    a.tags = tagsFromJson(QString::fromStdString(s.columnText(8)));
    a.created = QString::fromStdString(s.columnText(9));
    a.updated = QString::fromStdString(s.columnText(10));
    return a;
}

constexpr const char *kColumns = "id, document_sha256, page, kind, rects, color, quote, note, tags, created, updated";

} // namespace

void createAnnotationTables(Database &db)
{
    db.exec(R"sql(
        CREATE TABLE IF NOT EXISTS annotations (
            id              INTEGER PRIMARY KEY,
            document_sha256 TEXT NOT NULL,            -- documents.sha256, deliberately not a foreign key:
                                                      -- annotations outlive removing and re-ingesting
            page            INTEGER NOT NULL,         -- 1-based
            kind            TEXT NOT NULL,            -- 'highlight' or 'note'
            rects           TEXT NOT NULL DEFAULT '[]', -- JSON [[x, y, w, h], ...] in points, top-left origin
            color           TEXT NOT NULL,            -- '#rrggbb'
            quote           TEXT NOT NULL DEFAULT '',
            note            TEXT NOT NULL DEFAULT '',
            tags            TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
            created         TEXT NOT NULL,
            updated         TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS annotations_document ON annotations(document_sha256, page);
    )sql");
}

AnnotationStore::AnnotationStore(Database &db) : m_db(db)
{
    createAnnotationTables(m_db);
}

std::int64_t AnnotationStore::add(const Annotation &a)
{
    validate(a);
    const QString now = nowUtc();
    Statement s(m_db, "INSERT INTO annotations(document_sha256, page, kind, rects, color, quote, note, tags, created, updated) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    s.bind(1, a.documentSha256.toStdString()).bind(2, static_cast<std::int64_t>(a.page)).bind(3, a.kind.toStdString());
    s.bind(4, rectsToJson(a.rects).toStdString()).bind(5, a.color.toLower().toStdString());
    s.bind(6, a.quote.toStdString()).bind(7, a.note.toStdString()).bind(8, tagsToJson(a.tags).toStdString());
    s.bind(9, (a.created.isEmpty() ? now : a.created).toStdString()).bind(10, (a.updated.isEmpty() ? now : a.updated).toStdString());
    s.run();
    return m_db.lastInsertId();
}

void AnnotationStore::update(const Annotation &a)
{
    validate(a);
    Statement s(m_db, "UPDATE annotations SET document_sha256 = ?2, page = ?3, kind = ?4, rects = ?5, color = ?6, "
                      "quote = ?7, note = ?8, tags = ?9, updated = ?10 WHERE id = ?1");
    s.bind(1, a.id).bind(2, a.documentSha256.toStdString()).bind(3, static_cast<std::int64_t>(a.page));
    s.bind(4, a.kind.toStdString()).bind(5, rectsToJson(a.rects).toStdString()).bind(6, a.color.toLower().toStdString());
    s.bind(7, a.quote.toStdString()).bind(8, a.note.toStdString()).bind(9, tagsToJson(a.tags).toStdString());
    s.bind(10, nowUtc().toStdString());
    s.run();
    if (m_db.changes() == 0)
        fail("annotation {} does not exist", a.id);
}

bool AnnotationStore::remove(std::int64_t id)
{
    Statement s(m_db, "DELETE FROM annotations WHERE id = ?1");
    s.bind(1, id).run();
    return m_db.changes() > 0;
}

std::optional<Annotation> AnnotationStore::find(std::int64_t id)
{
    Statement s(m_db, std::string("SELECT ") + kColumns + " FROM annotations WHERE id = ?1");
    s.bind(1, id);
    if (!s.step())
        return std::nullopt;
    return read(s);
}

std::vector<Annotation> AnnotationStore::list(const AnnotationFilter &filter)
{
    Statement s(m_db, std::string("SELECT ") + kColumns +
                          " FROM annotations WHERE (?1 = '' OR document_sha256 = ?1) AND (?2 = 0 OR page = ?2) "
                          "ORDER BY document_sha256, page, id");
    s.bind(1, filter.documentSha256.toStdString()).bind(2, static_cast<std::int64_t>(filter.page));
    std::vector<Annotation> out;
    while (s.step()) {
        Annotation a = read(s);
        if (filter.tag.isEmpty() || a.tags.contains(filter.tag))
            out.push_back(std::move(a));
    }
    return out;
}

int AnnotationStore::importAll(const std::vector<Annotation> &annotations)
{
    for (const Annotation &a : annotations)
        validate(a);
    Transaction transaction(m_db);
    int added = 0;
    for (const Annotation &a : annotations) {
        Statement same(m_db, "SELECT COUNT(*) FROM annotations WHERE document_sha256 = ?1 AND page = ?2 AND kind = ?3 "
                             "AND quote = ?4 AND note = ?5 AND rects = ?6");
        same.bind(1, a.documentSha256.toStdString()).bind(2, static_cast<std::int64_t>(a.page)).bind(3, a.kind.toStdString());
        same.bind(4, a.quote.toStdString()).bind(5, a.note.toStdString()).bind(6, rectsToJson(a.rects).toStdString());
        same.step();
        if (same.columnInt(0) > 0)
            continue;
        add(a);
        ++added;
    }
    transaction.commit();
    return added;
}

} // namespace nw::store
