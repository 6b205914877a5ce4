// FTS5 search with BM25 ranking and marked snippets.
#include "store/search_service.h"

#include <QDate>
#include <QFileInfo>
#include <QRegularExpression>
#include <QThread>

#include <algorithm>
#include <chrono>
#include <exception>
#include <thread>

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

struct RankedPage {
    std::int64_t pageId;
    double score; // nw_bm25: smaller is better
    bool operator<(const RankedPage &other) const
    {
        return score < other.score || (score == other.score && pageId < other.pageId);
    }
};

constexpr int kMaxShards = 4;

// "from:ann", "subject:\"lease renewal\"", "after:2024-01-01" taken out of a query.
struct MailFilter {
    QString field; // from, to, cc, subject, after, before
    QString value;
};

std::vector<MailFilter> takeMailFilters(QString &query)
{
    static const QRegularExpression filter(
        QStringLiteral("(?:^|(?<=\\s))(from|to|cc|subject|after|before):(?:\"([^\"]*)\"|(\\S+))"),
        QRegularExpression::CaseInsensitiveOption);
    std::vector<MailFilter> filters;
    QString rest;
    qsizetype at = 0;
    for (auto it = filter.globalMatch(query); it.hasNext();) {
        const QRegularExpressionMatch m = it.next();
        rest += query.mid(at, m.capturedStart() - at);
        at = m.capturedEnd();
        filters.push_back({ m.captured(1).toLower(), m.hasCaptured(2) ? m.captured(2) : m.captured(3) });
    }
    rest += query.mid(at);
    for (const MailFilter &f : filters) {
        if (f.value.trimmed().isEmpty())
            throw QueryError(fmt::format("the filter {}: has no value (write {}:word, or {}:\"several words\")",
                f.field.toStdString(), f.field.toStdString(), f.field.toStdString()));
        if ((f.field == u"after" || f.field == u"before") && !QDate::fromString(f.value, Qt::ISODate).isValid())
            throw QueryError(fmt::format(
                "{}:{} is not a date: write it as YYYY-MM-DD", f.field.toStdString(), f.value.toStdString()));
    }
    query = rest.trimmed();
    return filters;
}

// The ids of the emails the filters select, as SQL whose parameters start at `first`, and the
// values to bind, in order.
std::string mailFilterSql(const std::vector<MailFilter> &filters, int first, std::vector<std::string> &values)
{
    std::string sql = "SELECT m.document_id FROM messages m WHERE 1";
    const auto like = [](const QString &value) {
        QString escaped = value;
        escaped.replace(QLatin1Char('\\'), QStringLiteral("\\\\"))
            .replace(QLatin1Char('%'), QStringLiteral("\\%"))
            .replace(QLatin1Char('_'), QStringLiteral("\\_"));
        return (QLatin1Char('%') + escaped + QLatin1Char('%')).toStdString();
    };
    int n = first;
    for (const MailFilter &f : filters) {
        const std::string p = "?" + std::to_string(n++);
        if (f.field == u"from") {
            sql += " AND m.sender LIKE " + p + " ESCAPE '\\'";
        } else if (f.field == u"to") {
            sql += " AND (m.recipients LIKE " + p + " ESCAPE '\\' OR m.cc LIKE " + p + " ESCAPE '\\')";
        } else if (f.field == u"cc") {
            sql += " AND m.cc LIKE " + p + " ESCAPE '\\'";
        } else if (f.field == u"subject") {
            sql += " AND m.subject LIKE " + p + " ESCAPE '\\'";
        } else if (f.field == u"after") {
            sql += " AND m.date >= " + p;
        } else {
            sql += " AND m.date != '' AND m.date < " + p;
        }
        values.push_back(f.field == u"after" || f.field == u"before" ? f.value.toStdString() : like(f.value));
    }
    return sql;
}

// A query of filters alone: the first page of each email they select, newest first.
std::vector<SearchHit> listMessages(
    LibraryStore &store, const std::vector<MailFilter> &filters, const SearchOptions &options)
{
    std::vector<std::string> values;
    std::string sql = "SELECT d.id, d.title, d.path, p.number, p.label, substr(p.text, 1, 240) FROM documents d "
                      "JOIN messages m ON m.document_id = d.id JOIN pages p ON p.document_id = d.id AND p.number = 1 "
                      "WHERE d.id IN ("
        + mailFilterSql(filters, 3, values) + ")";
    if (!options.collection.isEmpty())
        sql += " AND d.id IN (SELECT dc.document_id FROM document_collections dc JOIN collections c ON c.id = "
               "dc.collection_id "
               "WHERE c.name = ?2)";
    sql += " ORDER BY m.date DESC, d.id LIMIT ?1";
    std::vector<SearchHit> hits;
    Statement s(store.database(), sql);
    s.bind(1, static_cast<std::int64_t>(std::max(options.limit, 0)));
    if (!options.collection.isEmpty())
        s.bind(2, options.collection.toStdString());
    for (std::size_t i = 0; i < values.size(); ++i)
        s.bind(3 + static_cast<int>(i), values[i]);
    while (s.step()) {
        SearchHit hit;
        hit.documentId = s.columnInt(0);
        hit.title = QString::fromStdString(s.columnText(1));
        hit.path = QString::fromStdString(s.columnText(2));
        hit.pageNumber = static_cast<int>(s.columnInt(3));
        hit.pageLabel = QString::fromStdString(s.columnText(4));
        hit.snippet = QString::fromStdString(s.columnText(5)).simplified() + QStringLiteral("…");
        hits.push_back(std::move(hit));
    }
    return hits;
}

} // namespace

int SearchService::countTerms(const QString &query)
{
    const auto isWordChar
        = [](QChar c) { return c.isLetterOrNumber() || c.isMark() || c.isSurrogate() || c == QLatin1Char('_'); };
    int nTerms = 0;
    bool inPhrase = false;
    for (qsizetype i = 0; i < query.size();) {
        if (query[i] == QLatin1Char('"')) {
            inPhrase = !inPhrase;
            ++i;
            continue;
        }
        if (!isWordChar(query[i])) {
            ++i;
            continue;
        }
        const qsizetype start = i;
        while (i < query.size() && isWordChar(query[i]))
            ++i;
        const QStringView word = QStringView(query).sliced(start, i - start);
        const bool isOperator = word == u"AND" || word == u"OR" || word == u"NOT" || word == u"NEAR";
        if (inPhrase || !isOperator)
            ++nTerms;
    }
    return nTerms;
}

std::vector<SearchHit> SearchService::search(const QString &fullQuery, const SearchOptions &options)
{
    if (fullQuery.trimmed().isEmpty())
        throw QueryError("the search query is empty");
    const qsizetype nBytes = fullQuery.toUtf8().size();
    if (nBytes > SearchBudget::kMaxBytes)
        throw QueryError(
            fmt::format("the search query is {} bytes long, more than the {} a search may have: use fewer words",
                nBytes, SearchBudget::kMaxBytes));
    QString query = fullQuery;
    const std::vector<MailFilter> filters = takeMailFilters(query);
    if (query.isEmpty())
        return listMessages(m_store, filters, options);
    if (const int nTerms = countTerms(query); nTerms > SearchBudget::kMaxTerms)
        throw QueryError(fmt::format("the search query has {} terms, more than the {} a search may have: use fewer "
                                     "words (AND, OR, NOT and NEAR do not count)",
            nTerms, SearchBudget::kMaxTerms));
    // One deadline for every statement of the search (a budget given the milliseconds left would
    // round them down and could stop a statement before the search's time is up).
    const auto deadline = std::chrono::steady_clock::now() + options.budget.time;
    // Two phases. Ranking scores every matching page, so it reads nothing but the index:
    // nw_bm25 (store/database.h) with the connection's copy of the page lengths, and an outer
    // ORDER BY ... LIMIT, which SQLite runs as a top-N heap (FTS5's own ORDER BY rank sorts all
    // matches). In a large library the page ids are split into ranges ranked in parallel, each on
    // its own connection, and the best of each range merged (the idf and average length are the
    // whole table's in every range, so scores are the same as one pass would give). Only the
    // pages kept are then joined to their documents and given a snippet.
    std::string rankSql = "SELECT rowid, nw_bm25(pages_fts, 'pages_fts') AS score FROM pages_fts "
                          "WHERE pages_fts MATCH ?1 AND rowid BETWEEN ?3 AND ?4";
    if (!options.collection.isEmpty())
        rankSql
            += " AND rowid IN (SELECT p.id FROM pages p JOIN document_collections dc ON dc.document_id = p.document_id "
               "JOIN collections c ON c.id = dc.collection_id WHERE c.name = ?5)";
    // Email filters select messages and their attachments.
    std::vector<std::string> filterValues;
    if (!filters.empty()) {
        const std::string selected = mailFilterSql(filters, 6, filterValues);
        rankSql += " AND rowid IN (SELECT p.id FROM pages p JOIN documents d ON d.id = p.document_id WHERE d.id IN ("
            + selected + ") OR d.parent_id IN (" + selected + "))";
    }
    rankSql += " ORDER BY score, rowid LIMIT ?2";
    static const std::string hitSql
        = "SELECT p.document_id, d.title, d.path, p.number, p.label, snippet(pages_fts, 0, ?1, ?2, '…', ?3) "
          "FROM pages_fts JOIN pages p ON p.id = pages_fts.rowid JOIN documents d ON d.id = p.document_id "
          "WHERE pages_fts MATCH ?4 AND pages_fts.rowid = ?5";

    std::vector<SearchHit> hits;
    try {
        const std::string match = query.toStdString();
        const std::int64_t limit = std::max(options.limit, 0);
        Database &db = m_store.database();
        std::int64_t firstId = 0, lastId = -1;
        {
            Statement range(db, "SELECT (SELECT min(id) FROM pages), (SELECT max(id) FROM pages)"); // each one seek
            if (range.step() && !range.isNull(0)) {
                firstId = range.columnInt(0);
                lastId = range.columnInt(1);
            }
        }
        // Other connections cannot see what this one has not committed: then one range, here.
        int nShards = 1;
        if (!db.inTransaction() && db.path() != ":memory:" && !db.path().empty())
            nShards = static_cast<int>(
                std::clamp<std::int64_t>((lastId - firstId + 1) / std::max<std::int64_t>(options.pagesPerThread, 1), 1,
                    std::min(kMaxShards, std::max(1, QThread::idealThreadCount()))));
        const std::int64_t span = (lastId - firstId + 1 + nShards - 1) / nShards;
        std::vector<std::vector<RankedPage>> shards(static_cast<std::size_t>(nShards));
        std::vector<std::exception_ptr> errors(static_cast<std::size_t>(nShards));
        auto rankShard = [&](int shard, Database &connection) {
            try {
                QueryBudget budget(connection, deadline, SearchBudget::kMaxValueBytes);
                Statement rank(connection, rankSql);
                rank.bind(1, match).bind(2, limit);
                rank.bind(3, firstId + shard * span)
                    .bind(4, shard == nShards - 1 ? lastId : firstId + (shard + 1) * span - 1);
                if (!options.collection.isEmpty())
                    rank.bind(5, options.collection.toStdString());
                for (std::size_t i = 0; i < filterValues.size(); ++i)
                    rank.bind(6 + static_cast<int>(i), filterValues[i]);
                while (rank.step())
                    shards[static_cast<std::size_t>(shard)].push_back({ rank.columnInt(0), rank.columnDouble(1) });
            } catch (...) {
                errors[static_cast<std::size_t>(shard)] = std::current_exception();
            }
        };
        {
            std::vector<std::jthread> workers;
            for (int shard = 1; shard < nShards; ++shard)
                workers.emplace_back(rankShard, shard, std::ref(m_store.reader(shard)));
            rankShard(0, db);
        }
        for (const std::exception_ptr &error : errors)
            if (error)
                std::rethrow_exception(error);
        std::vector<RankedPage> ranked;
        for (const std::vector<RankedPage> &shard : shards)
            ranked.insert(ranked.end(), shard.begin(), shard.end());
        std::sort(ranked.begin(), ranked.end());
        if (ranked.size() > static_cast<std::size_t>(limit))
            ranked.resize(static_cast<std::size_t>(limit));
        if (ranked.empty())
            return hits;
        QueryBudget budget(db, deadline, SearchBudget::kMaxValueBytes);
        Statement s(db, hitSql);
        s.bind(1, options.markOpen.toStdString()).bind(2, options.markClose.toStdString());
        s.bind(3, static_cast<std::int64_t>(std::clamp(options.snippetTokens, 1, 64)));
        s.bind(4, match);
        for (const RankedPage &page : ranked) {
            s.reset();
            s.bind(5, page.pageId);
            if (!s.step())
                continue; // the page went away between the two statements (another writer)
            SearchHit hit;
            hit.documentId = s.columnInt(0);
            hit.title = QString::fromStdString(s.columnText(1));
            hit.path = QString::fromStdString(s.columnText(2));
            if (hit.title.isEmpty())
                hit.title = QFileInfo(hit.path).fileName();
            hit.pageNumber = static_cast<int>(s.columnInt(3));
            hit.pageLabel = QString::fromStdString(s.columnText(4));
            hit.snippet = QString::fromStdString(s.columnText(5));
            hit.score = -page.score; // nw_bm25, like SQLite's bm25(), is negated: smaller is better
            hits.push_back(std::move(hit));
        }
    } catch (const SqliteError &e) {
        if (e.isOverBudget()) {
            if (e.isOutOfTime())
                throw QueryError(
                    fmt::format("the search was stopped after {} ms, the time a search may take: use fewer "
                                "or rarer words, or a phrase",
                        options.budget.time.count()));
            throw QueryError(
                fmt::format("the search was stopped: it needed a value larger than the {} MiB a search may "
                            "make",
                    SearchBudget::kMaxValueBytes >> 20));
        }
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
