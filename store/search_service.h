// Full-text search over the library's pages: FTS5 query syntax, BM25 ranking, snippets with
// the matched terms marked, each hit naming its document and page (for citations).
#pragma once

#include "common/error.h"
#include "store/library_store.h"

#include <QString>

#include <vector>

namespace nw::store {

// The query itself is malformed (the user can fix it); other failures stay nw::Error.
class QueryError : public Error {
public:
    using Error::Error;
};

struct SearchOptions {
    int limit = 20;
    QString collection;                 // only documents in it, when not empty
    QString markOpen = QStringLiteral("[");  // around each matched term in the snippet
    QString markClose = QStringLiteral("]");
    int snippetTokens = 24;             // words of context in a snippet (FTS5 allows 1..64)
    // Ranking runs on up to min(cores, 4) threads, one per this many page ids (measured on 100k
    // pages, store/README.md); smaller libraries are ranked on the calling thread alone.
    std::int64_t pagesPerThread = 20'000;
};

struct SearchHit {
    std::int64_t documentId = 0;
    QString title;        // falls back to the file name when the document has none
    QString path;
    int pageNumber = 0;   // 1-based
    QString pageLabel;    // as printed, "" when the PDF has none
    QString snippet;      // with markOpen/markClose around matches and "…" where text is cut
    double score = 0;     // BM25 relevance, higher is better
};

class SearchService {
public:
    explicit SearchService(LibraryStore &store) : m_store(store) {}

    // `query` uses FTS5 syntax: words, "phrases", AND/OR/NOT, NEAR(a b, 10), prefix*, ( ).
    // Throws QueryError with a readable reason when the query is malformed.
    std::vector<SearchHit> search(const QString &query, const SearchOptions &options = {});

    // Free text (a question, a pasted sentence) as a query that cannot be malformed: each word
    // becomes a quoted term, joined with OR so BM25 ranks pages by how many they contain.
    static QString literalQuery(const QString &text);

private:
    LibraryStore &m_store;
};

} // namespace nw::store
