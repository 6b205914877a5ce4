// `needlework search QUERY`: full-text search of the library, ranked by BM25, each hit with its
// document, page and a snippet whose matched terms are marked (bold on a terminal).
#include "app/commands/commands.h"

#include "app/document_titles.h"
#include "app/page_numbers.h"

#include "common/error.h"
#include "store/library_store.h"
#include "store/search_service.h"

#include <nlohmann/json.hpp>

namespace nw::app {
Command searchCommand()
{
    return {
        .name = QStringLiteral("search"),
        .summary = QStringLiteral("Search the library's pages (FTS5 syntax, BM25 ranking)."),
        .usage = QStringLiteral("QUERY [--db FILE] [--limit N] [--collection NAME] [--json]"),
        .description = QStringLiteral(
            "QUERY uses SQLite FTS5 syntax: words (all must match), \"exact phrases\", OR, NOT, "
            "NEAR(a b, 10), prefix* and parentheses. Accents are ignored (cafe finds café). Email is "
            "filtered by its headers: from:ann, to:ben (To or Cc), cc:, subject:\"lease renewal\", "
            "after:2024-01-01, before:2024-02-01, with or without words (filters alone list the "
            "messages, newest first); attachments go with their message. Results "
            "are ranked by BM25 and show the document, the page and a snippet with the matched "
            "terms marked. A query has at most 64 terms and 4,096 bytes, and is stopped after 2 s.\n\nExit status: 0 "
            "on "
            "success (also with no hits), 1 when the library cannot be read or the results cannot be written, 2 for a "
            "usage error or a malformed, too large or too slow query."),
        .configure =
            [](QCommandLineParser &parser) {
                addDatabaseOption(parser);
                parser.addOption({ QStringLiteral("limit"), QStringLiteral("At most N results (default 10)."),
                    QStringLiteral("N"), QStringLiteral("10") });
                parser.addOption({ QStringLiteral("collection"), QStringLiteral("Only documents in this collection."),
                    QStringLiteral("NAME") });
                addJsonOption(parser);
                parser.addPositionalArgument(QStringLiteral("QUERY"), QStringLiteral("What to look for."));
            },
        .numbers = { { QStringLiteral("limit"), NumberKind::Integer, 1, 10000 } },
        .run =
            [](const QCommandLineParser &parser, CommandIo &io) {
                const QString query = parser.positionalArguments().join(QLatin1Char(' '));
                if (query.trimmed().isEmpty()) {
                    io.err << "needlework search: no QUERY given (see 'needlework search --help')\n";
                    return static_cast<int>(ExitUsage);
                }
                const int limit = int(integerValue(parser, QStringLiteral("limit"), 10));
                const bool json = parser.isSet(QStringLiteral("json"));
                const auto library = openLibrary(parser, store::LibraryAccess::ReadOnly);
                store::SearchService service(*library);
                store::SearchOptions options;
                options.limit = limit;
                options.collection = parser.value(QStringLiteral("collection"));
                if (json) {
                    options.markOpen = QStringLiteral("<mark>");
                    options.markClose = QStringLiteral("</mark>");
                } else if (io.outIsTerminal) {
                    options.markOpen = QStringLiteral("\x1b[1m");
                    options.markClose = QStringLiteral("\x1b[0m");
                } else {
                    // Piped: the page's own text, unmarked — a mark such as ** would blend with
                    // asterisks in the text ("*der" became "***der**").
                    options.markOpen = options.markClose = QString();
                }
                std::vector<store::SearchHit> hits;
                try {
                    hits = service.search(query, options);
                } catch (const store::QueryError &e) {
                    io.err << "needlework search: " << e.what() << '\n';
                    return static_cast<int>(ExitUsage);
                }
                if (json) {
                    nlohmann::json results = nlohmann::json::array();
                    for (const store::SearchHit &hit : hits)
                        results.push_back({ { "document_id", hit.documentId }, { "title", hit.title.toStdString() },
                            { "path", hit.path.toStdString() }, { "page", hit.pageNumber },
                            { "page_label", hit.pageLabel.toStdString() }, { "snippet", hit.snippet.toStdString() },
                            { "score", hit.score } });
                    io.out << QString::fromStdString(
                        nlohmann::json { { "query", query.toStdString() }, { "results", results } }.dump(2))
                           << '\n';
                    return static_cast<int>(ExitOk);
                }
                if (hits.empty()) {
                    io.out << "No pages match " << query << '\n';
                    return static_cast<int>(ExitOk);
                }
                int rank = 0;
                const QHash<std::int64_t, QString> titles = distinctTitles(library->documents());
                for (const store::SearchHit &hit : hits) {
                    io.out << ++rank << ". " << titles.value(hit.documentId, hit.title) << " — "
                           << pageCitation(hit.pageNumber, hit.pageLabel) << "  [doc " << hit.documentId << "] "
                           << hit.path << '\n';
                    io.out << "   " << QString(hit.snippet).replace(QLatin1Char('\n'), QLatin1Char(' ')) << "\n";
                }
                return static_cast<int>(ExitOk);
            },
    };
}

} // namespace nw::app
