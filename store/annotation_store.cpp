// Annotations in SQLite; rectangles and tags are JSON text in their rows.
#include "store/annotation_store.h"

#include "common/error.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QSet>

#include <cmath>
#include <utility>

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
        fail("document '{}' is not a sha256 (64 lower-case hex digits)", excerptForMessage(a.documentSha256).toStdString());
    if (a.page < 1)
        fail("page {} is not a page number (pages start at 1)", a.page);
    if (a.kind != QLatin1String("highlight") && a.kind != QLatin1String("note"))
        fail("kind '{}' is not 'highlight' or 'note'", excerptForMessage(a.kind).toStdString());
    if (!color.match(a.color).hasMatch())
        fail("colour '{}' is not #rrggbb", excerptForMessage(a.color).toStdString());
    if (a.kind == QLatin1String("highlight") && a.rects.empty())
        fail("a highlight needs at least one rectangle");
    if (a.rects.size() > static_cast<std::size_t>(AnnotationLimits::kMaxRects))
        fail("{} rectangles, more than the {} an annotation may have", a.rects.size(), AnnotationLimits::kMaxRects);
    for (const QRectF &r : a.rects)
        if (!std::isfinite(r.x()) || !std::isfinite(r.y()) || !std::isfinite(r.width()) || !std::isfinite(r.height()) ||
            r.width() <= 0 || r.height() <= 0)
            fail("rectangle ({}, {}, {}, {}) is empty or not finite", r.x(), r.y(), r.width(), r.height());
    for (const auto &[name, text] : {std::pair{"quote", &a.quote}, std::pair{"note", &a.note}})
        if (const qsizetype bytes = text->toUtf8().size(); bytes > AnnotationLimits::kMaxTextBytes)
            fail("the {} is {} bytes long, more than the {} an annotation may hold", name, bytes, AnnotationLimits::kMaxTextBytes);
    if (a.tags.size() > AnnotationLimits::kMaxTags)
        fail("{} tags, more than the {} an annotation may have", a.tags.size(), AnnotationLimits::kMaxTags);
    for (const QString &tag : a.tags)
        if (tag.toUtf8().size() > AnnotationLimits::kMaxTagBytes)
            fail("tag '{}' is longer than {} bytes", excerptForMessage(tag).toStdString(), AnnotationLimits::kMaxTagBytes);
    for (const auto &[name, time] : {std::pair{"created", &a.created}, std::pair{"updated", &a.updated}})
        if (!time->isEmpty() && !QDateTime::fromString(*time, Qt::ISODateWithMs).isValid())
            fail("{} '{}' is not a date and time in ISO 8601 (2024-05-01T12:00:00Z)", name, excerptForMessage(*time).toStdString());
}

// What makes two annotations the same for importAll(): document, page, kind, quote, note and
// rectangles, hashed (each field length-prefixed, so that no two tuples share a byte string).
QByteArray identity(const QString &sha256, std::int64_t page, const QString &kind, const QString &quote, const QString &note,
                    const QString &rectsJson)
{
    QCryptographicHash hash(QCryptographicHash::Sha256);
    for (const QByteArray &field : {sha256.toUtf8(), QByteArray::number(page), kind.toUtf8(), quote.toUtf8(), note.toUtf8(),
                                    rectsJson.toUtf8()}) {
        hash.addData(QByteArray::number(field.size()) + ':');
        hash.addData(field);
    }
    return hash.result();
}

constexpr const char *kInsertSql =
    "INSERT INTO annotations(document_sha256, page, kind, rects, color, quote, note, tags, created, updated) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

void bindForInsert(Statement &s, const Annotation &a, const QString &rectsJson, const QString &now)
{
    s.bind(1, a.documentSha256.toStdString()).bind(2, static_cast<std::int64_t>(a.page)).bind(3, a.kind.toStdString());
    s.bind(4, rectsJson.toStdString()).bind(5, a.color.toLower().toStdString());
    s.bind(6, a.quote.toStdString()).bind(7, a.note.toStdString()).bind(8, tagsToJson(a.tags).toStdString());
    s.bind(9, (a.created.isEmpty() ? now : a.created).toStdString()).bind(10, (a.updated.isEmpty() ? now : a.updated).toStdString());
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

QString excerptForMessage(const QString &value, int maxChars)
{
    QString out;
    for (qsizetype i = 0; i < value.size(); ++i) {
        if (out.size() >= maxChars) {
            out += QStringLiteral("…");
            break;
        }
        const char16_t c = value[i].unicode();
        if (c < 0x20 || c == 0x7f)
            out += QStringLiteral("\\x%1").arg(static_cast<uint>(c), 2, 16, QLatin1Char('0'));
        else if ((c >= 0x80 && c < 0xa0) || c == 0x2028 || c == 0x2029)
            out += QStringLiteral("\\u%1").arg(static_cast<uint>(c), 4, 16, QLatin1Char('0'));
        else
            out += value[i];
    }
    return out;
}

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
    try {
        validate(a);
    } catch (const Error &e) {
        fail("annotation: {}", e.what());
    }
    Statement s(m_db, kInsertSql);
    bindForInsert(s, a, rectsToJson(a.rects), nowUtc());
    s.run();
    return m_db.lastInsertId();
}

void AnnotationStore::update(const Annotation &a)
{
    try {
        validate(a);
    } catch (const Error &e) {
        fail("annotation {}: {}", a.id, e.what());
    }
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
    for (std::size_t i = 0; i < annotations.size(); ++i) {
        try {
            validate(annotations[i]);
        } catch (const Error &e) {
            fail("annotation {} of {}: {}", i + 1, annotations.size(), e.what());
        }
    }
    Transaction transaction(m_db);
    // The identities of the annotations already on the documents imported to, read once: one
    // lookup per imported annotation scanned every annotation of its page, quadratic when many
    // share one (150,000 took 92 s against 6.7 s for 30,000, issue 25).
    QSet<QByteArray> present;
    QSet<QString> documents;
    Statement existing(m_db, "SELECT document_sha256, page, kind, quote, note, rects FROM annotations WHERE document_sha256 = ?1");
    for (const Annotation &a : annotations) {
        if (documents.contains(a.documentSha256))
            continue;
        documents.insert(a.documentSha256);
        existing.reset();
        existing.bind(1, a.documentSha256.toStdString());
        while (existing.step())
            present.insert(identity(QString::fromStdString(existing.columnText(0)), existing.columnInt(1),
                                    QString::fromStdString(existing.columnText(2)), QString::fromStdString(existing.columnText(3)),
                                    QString::fromStdString(existing.columnText(4)), QString::fromStdString(existing.columnText(5))));
    }
    const QString now = nowUtc();
    Statement insert(m_db, kInsertSql);
    int added = 0;
    for (const Annotation &a : annotations) {
        const QString rects = rectsToJson(a.rects);
        const QByteArray key = identity(a.documentSha256, a.page, a.kind, a.quote, a.note, rects);
        if (present.contains(key))
            continue;
        present.insert(key);
        insert.reset();
        bindForInsert(insert, a, rects, now);
        insert.run();
        ++added;
    }
    transaction.commit();
    return added;
}

} // namespace nw::store
