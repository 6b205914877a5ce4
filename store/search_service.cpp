// FTS5 search with BM25 ranking and marked snippets.
#include "store/search_service.h"

#include <QFileInfo>
#include <QRegularExpression>

#include <algorithm>

namespace nw::store {
namespace {

// "database x: running '...' failed: fts5: syntax error near "-"" -> "syntax error near "-"".
QString sqliteReason(const Error &e)
{
    QString message = QString::fromUtf8(e.what());
    const qsizetype at = message.lastIndexOf(QStringLiteral("failed: "));
    if (at >= 0)
        message = message.mid(at + 8);
    if (message.startsWith(QStringLiteral("fts5: ")))
        message = message.mid(6);
    return message;
}

} // namespace

std::vector<SearchHit> SearchService::search(const QString &query, const SearchOptions &options)
{
    if (query.trimmed().isEmpty())
        throw QueryError("the search query is empty");
    // pages_fts drives the join and FTS5 consumes ORDER BY rank itself, so snippet() runs
    // only for the rows returned, not for every match.
    std::string sql =
        "SELECT p.document_id, d.title, d.path, p.number, p.label, "
        "snippet(pages_fts, 0, ?1, ?2, '…', ?3), bm25(pages_fts) "
        "FROM pages_fts JOIN pages p ON p.id = pages_fts.rowid JOIN documents d ON d.id = p.document_id "
        "WHERE pages_fts MATCH ?4";
    if (!options.collection.isEmpty())
        sql += " AND p.document_id IN (SELECT dc.document_id FROM document_collections dc "
               "JOIN collections c ON c.id = dc.collection_id WHERE c.name = ?6)";
    sql += " ORDER BY rank LIMIT ?5";

    std::vector<SearchHit> hits;
    try {
        Statement s(m_store.database(), sql);
        s.bind(1, options.markOpen.toStdString()).bind(2, options.markClose.toStdString());
        s.bind(3, static_cast<std::int64_t>(std::clamp(options.snippetTokens, 1, 64)));
        s.bind(4, query.toStdString()).bind(5, static_cast<std::int64_t>(std::max(options.limit, 0)));
        if (!options.collection.isEmpty())
            s.bind(6, options.collection.toStdString());
        while (s.step()) {
            SearchHit hit;
            hit.documentId = s.columnInt(0);
            hit.title = QString::fromStdString(s.columnText(1));
            hit.path = QString::fromStdString(s.columnText(2));
            if (hit.title.isEmpty())
                hit.title = QFileInfo(hit.path).fileName();
            hit.pageNumber = static_cast<int>(s.columnInt(3));
            hit.pageLabel = QString::fromStdString(s.columnText(4));
            hit.snippet = QString::fromStdString(s.columnText(5));
            hit.score = -s.columnDouble(6); // SQLite's bm25() is negated: smaller is better
            hits.push_back(std::move(hit));
        }
    } catch (const SqliteError &e) {
        // The SQL is fixed and prepared fine, so a generic error while stepping comes from the
        // MATCH text; busy, I/O and corruption errors pass through unchanged.
        if (!e.isGenericError())
            throw;
        const QString reason = sqliteReason(e);
        throw QueryError(QStringLiteral("the search query '%1' is not valid: %2. Use words, \"exact phrases\", "
                                        "AND, OR, NOT, NEAR(a b, 10), prefix* and parentheses; put words with "
                                        "punctuation (like e-mail or 4.2) in double quotes")
                             .arg(query, reason)
                             .toStdString());
    }
    return hits;
}

QString SearchService::literalQuery(const QString &text)
{
    static const QRegularExpression word(QStringLiteral("[\\w]+"), QRegularExpression::UseUnicodePropertiesOption);
    QStringList terms;
    QStringList seen;
    for (auto it = word.globalMatch(text); it.hasNext();) {
        const QString term = it.next().captured(0);
        if (seen.contains(term, Qt::CaseInsensitive))
            continue;
        seen << term;
        terms << QLatin1Char('"') + term + QLatin1Char('"');
    }
    return terms.join(QStringLiteral(" OR "));
}

} // namespace nw::store
